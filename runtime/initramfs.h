/* A container rootfs plus the static guest init, packed as the VM's
 * initramfs (LightVM's "Tinyx" approach), cached by a content key.
 *
 * rt_initramfs_get() walks the rootfs without ever following a symlink,
 * hashes its metadata into a key, and returns CACHE/<key>.cpio.gz (or
 * .cpio when compress_level is 0), building it first if it is missing.
 * Builds are atomic (temp file, fsync, rename), so concurrent callers are
 * safe: the last rename wins and every published archive is complete.
 */
#ifndef RT_INITRAMFS_H
#define RT_INITRAMFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

#define RT_INITRAMFS_MAX_DEPTH 256
#define RT_INITRAMFS_MAX_ENTRIES 1000000u
#define RT_INITRAMFS_DEFAULT_MAX_BYTES (1024ull << 20) /* when max_bytes is 0 */

struct rt_initramfs_req {
	const char *rootfs;         /* directory */
	const char *cache_dir;      /* e.g. /var/cache/lightvm/initramfs; created 0700 if missing */
	const void *init;           /* the static guest init binary */
	size_t init_len;
	const char *init_path;      /* where it goes in the guest, e.g. ".lightvm/init" */
	uint64_t max_bytes;         /* uncompressed size limit (file data); 0 = default */
	int compress_level;         /* 0 = none, 1..9 gzip */
	/* Channel delivery (runtime config "rootfs_delivery": "channel"):
	 * shell: the archive holds only the guest init and the directories and
	 *   nodes the kernel and init need, no rootfs (rootfs is ignored); one
	 *   per init blob, shared by every container (and a pool's VMs).
	 * rootfs_only: the archive holds the rootfs and the empty mount points
	 *   dev, proc, sys, tmp, but no init and no device nodes (init and
	 *   init_path are ignored); the guest unpacks it after boot.
	 * At most one of them. */
	bool shell;
	bool rootfs_only;
};

/* On success *path_out is a malloc'ed path to a complete archive. */
int rt_initramfs_get(const struct rt_initramfs_req *req, char **path_out, struct lv_error **err);

/* The cache key (64 hex digits) and the bytes of file data the archive would
 * hold (rootfs regular files plus the init), without writing anything.
 * Applies the same checks as rt_initramfs_get(). */
int rt_initramfs_key(const struct rt_initramfs_req *req, char hex[65], uint64_t *total_bytes,
		     struct lv_error **err);

#endif
