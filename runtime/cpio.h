/* A streaming writer of newc ("070701") cpio archives, the format the Linux
 * kernel unpacks as an initramfs, optionally gzip-compressed on the fly.
 *
 * The writer owns no file: it writes to the fd it is given and never closes
 * it.  Names are stored without a leading '/'; each entry gets its own inode
 * number (so the kernel never mistakes two files for hard links).  newc size
 * fields are 32 bits wide: a file of 4 GiB or more is an error (EFBIG), and
 * mtimes outside 0..2^32-1 are clamped.  After any failure the writer refuses
 * further work; free it and discard the output.
 */
#ifndef RT_CPIO_H
#define RT_CPIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/error.h"

#define RT_CPIO_DEFAULT_LEVEL 6
#define RT_CPIO_MAX_FILE_SIZE 0xffffffffull

struct rt_cpio;

/* compress_level: 0 = plain cpio, 1..9 = gzip (zlib deflate, gzip header). */
int rt_cpio_open(struct rt_cpio **out, int fd, int compress_level, struct lv_error **err);

/* mode: permission bits (07777); the type bits may be given but must match. */
int rt_cpio_add_dir(struct rt_cpio *c, const char *path, mode_t mode, uid_t uid, gid_t gid,
		    int64_t mtime, struct lv_error **err);
int rt_cpio_add_file(struct rt_cpio *c, const char *path, mode_t mode, uid_t uid, gid_t gid,
		     int64_t mtime, const void *data, size_t len, struct lv_error **err);
/* Streams exactly len bytes read from fd (from its current offset); a file
 * that turns out shorter is an error (EIO). */
int rt_cpio_add_file_fd(struct rt_cpio *c, const char *path, mode_t mode, uid_t uid, gid_t gid,
			int64_t mtime, int fd, size_t len, struct lv_error **err);
/* Symlinks are stored with mode 0777. */
int rt_cpio_add_symlink(struct rt_cpio *c, const char *path, const char *target, uid_t uid,
			gid_t gid, int64_t mtime, struct lv_error **err);
/* mode must carry S_IFCHR, S_IFBLK or S_IFIFO; rdev is ignored for fifos. */
int rt_cpio_add_node(struct rt_cpio *c, const char *path, mode_t mode, dev_t rdev, uid_t uid,
		     gid_t gid, int64_t mtime, struct lv_error **err);

/* Writes the TRAILER!!! entry, pads the archive to 512 bytes and flushes the
 * gzip stream.  Does not fsync or close the fd. */
int rt_cpio_finish(struct rt_cpio *c, struct lv_error **err);

/* Uncompressed bytes emitted so far. */
uint64_t rt_cpio_bytes(const struct rt_cpio *c);

void rt_cpio_free(struct rt_cpio *c);

static inline void rt_cpio_freep(struct rt_cpio **c)
{
	rt_cpio_free(*c);
}
#define cleanup_cpio __attribute__((cleanup(rt_cpio_freep)))

#endif
