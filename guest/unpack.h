/* A streaming unpacker of newc ("070701") cpio archives into a directory,
 * for the root file system the host sends over the control channel
 * (NOXS_MSG_ROOTFS frames) when the VM booted from the shared shell
 * initramfs.
 *
 * The archive is untrusted: every name is a clean relative path (no "..",
 * no ".", no empty component, not absolute, under PATH_MAX), every parent is
 * opened component by component with O_NOFOLLOW (a symlink in the archive
 * can never redirect a later entry outside the directory), nothing is
 * replaced (O_EXCL), and each entry's data is bounded by its header's size.
 * Supported: directories, regular files, symlinks, device nodes and fifos
 * (when nodes is set); sockets are skipped; hard links are unpacked as
 * separate files (our writer never makes them).  mtimes are not restored.
 *
 * Feed any split of the byte stream to guest_unpack_feed(); once it fails the
 * unpacker refuses further work.  guest_unpack_finish() fails unless the
 * TRAILER!!! entry was seen: a truncated archive is an error.
 */
#ifndef GUEST_UNPACK_H
#define GUEST_UNPACK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

#define GUEST_CPIO_HDR 110u

enum guest_unpack_state { GU_HDR, GU_NAME, GU_DATA, GU_DONE, GU_FAILED };

struct guest_unpack {
	int rootfd;       /* the directory unpacked into; not owned */
	bool owners;      /* apply each entry's uid/gid (needs CAP_CHOWN) */
	bool nodes;       /* create device nodes and fifos (else skip them) */

	enum guest_unpack_state state;
	uint32_t skip;    /* padding still to skip before the next field */
	uint8_t hdr[GUEST_CPIO_HDR];
	size_t have;      /* bytes of the current field collected */
	uint32_t mode, uid, gid, filesize, rmaj, rmin, namesize;
	char name[PATH_MAX];
	char link[PATH_MAX];
	int fd;           /* the regular file being written, or -1 */
	bool skipping;    /* the current entry is skipped (its data too) */

	/* The parent directory of the current entry, kept open: archives list
	 * a directory's entries together. */
	int dirfd;
	char dir[PATH_MAX];

	uint64_t entries; /* unpacked so far */
	uint64_t bytes;   /* file data written so far */
};

void guest_unpack_init(struct guest_unpack *u, int rootfd, bool owners, bool nodes);
int guest_unpack_feed(struct guest_unpack *u, const uint8_t *p, size_t len, struct lv_error **err);
int guest_unpack_finish(struct guest_unpack *u, struct lv_error **err);
/* Closes what the unpacker holds open (not rootfd). */
void guest_unpack_release(struct guest_unpack *u);

#endif
