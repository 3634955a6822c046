/* newc cpio writer.  Format (see the kernel's
 * Documentation/driver-api/early-userspace/buffer-format.rst): every entry
 * is a 110-byte ASCII header ("070701" and 13 eight-digit hex fields), the
 * NUL-terminated name, zeros up to a multiple of 4 counted from the start of
 * the header, the data, and zeros up to a multiple of 4 again.  The archive
 * ends with an entry named "TRAILER!!!". */
#include "cpio.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <zlib.h>

#define BUF_SIZE (64 * 1024)
#define HDR_LEN 110
#define TRAILER "TRAILER!!!"

struct rt_cpio {
	int fd;
	int level;       /* 0 = no compression */
	bool zinit;      /* z is initialised */
	bool finished;
	bool failed;     /* a write failed; the output is garbage */
	uint32_t next_ino;
	uint64_t offset; /* uncompressed bytes emitted */
	z_stream z;
	size_t outlen;
	uint8_t out[BUF_SIZE];
	uint8_t in[BUF_SIZE];
};

static int write_all(int fd, const uint8_t *p, size_t len, struct lv_error **err)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return lv_err(err, errno, "cpio: write");
		}
		if (n == 0)
			return lv_err_msg(err, EIO, "cpio: write made no progress");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int flush_out(struct rt_cpio *c, struct lv_error **err)
{
	int r = write_all(c->fd, c->out, c->outlen, err);

	c->outlen = 0;
	return r;
}

static int deflate_some(struct rt_cpio *c, int flush, struct lv_error **err)
{
	int zr;

	do {
		c->z.next_out = c->out + c->outlen;
		c->z.avail_out = (uInt)(sizeof(c->out) - c->outlen);
		zr = deflate(&c->z, flush);
		if (zr == Z_STREAM_ERROR)
			return lv_err_msg(err, EIO, "cpio: deflate failed");
		c->outlen = sizeof(c->out) - c->z.avail_out;
		if (c->outlen == sizeof(c->out) || (flush == Z_FINISH && c->outlen)) {
			int r = flush_out(c, err);
			if (r < 0)
				return r;
		}
	} while (flush == Z_FINISH ? zr != Z_STREAM_END : c->z.avail_in > 0);
	return 0;
}

static int emit_raw(struct rt_cpio *c, const void *data, size_t len, struct lv_error **err)
{
	const uint8_t *p = data;
	int r;

	c->offset += len;
	while (len) {
		/* zlib counts in uInt; hand it bounded chunks. */
		size_t n = len < BUF_SIZE ? len : BUF_SIZE;
		if (c->level) {
			c->z.next_in = (Bytef *)(uintptr_t)p;
			c->z.avail_in = (uInt)n;
			r = deflate_some(c, Z_NO_FLUSH, err);
		} else {
			if (n > sizeof(c->out) - c->outlen)
				n = sizeof(c->out) - c->outlen;
			memcpy(c->out + c->outlen, p, n);
			c->outlen += n;
			r = c->outlen == sizeof(c->out) ? flush_out(c, err) : 0;
		}
		if (r < 0)
			return r;
		p += n;
		len -= n;
	}
	return 0;
}

static int emit(struct rt_cpio *c, const void *data, size_t len, struct lv_error **err)
{
	int r = emit_raw(c, data, len, err);

	if (r < 0)
		c->failed = true;
	return r;
}

static int pad_to(struct rt_cpio *c, unsigned align, struct lv_error **err)
{
	static const uint8_t zeros[512];
	size_t n = (align - c->offset % align) % align;

	return n ? emit(c, zeros, n, err) : 0;
}

static int usable(const struct rt_cpio *c, struct lv_error **err)
{
	if (c->failed)
		return lv_err_msg(err, EIO, "cpio: the archive writer failed earlier");
	if (c->finished)
		return lv_err_msg(err, EINVAL, "cpio: the archive is already finished");
	return 0;
}

/* Strips leading '/', refuses names the kernel or cpio(1) would resolve
 * outside the archive root. */
static int check_name(const char *path, const char **name_out, struct lv_error **err)
{
	const char *name = path, *p;
	size_t len;

	while (*name == '/')
		name++;
	len = strlen(name);
	if (len == 0)
		return lv_err_msg(err, EINVAL, "cpio: empty entry name \"%s\"", path);
	if (len >= PATH_MAX)
		return lv_err_msg(err, ENAMETOOLONG, "cpio: entry name longer than %d bytes", PATH_MAX - 1);
	for (p = name; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
			return lv_err_msg(err, EINVAL, "cpio: entry name \"%s\" contains \"..\"", path);
	}
	*name_out = name;
	return 0;
}

static uint32_t clamp_time(int64_t t)
{
	if (t < 0)
		return 0;
	if (t > (int64_t)UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)t;
}

static int put_header(struct rt_cpio *c, const char *path, uint32_t ino, mode_t mode, uid_t uid,
		      gid_t gid, uint32_t nlink, int64_t mtime, uint64_t size, dev_t rdev,
		      struct lv_error **err)
{
	char hdr[HDR_LEN + 1];
	const char *name = path;
	size_t namesize;
	int r;

	r = usable(c, err);
	if (r < 0)
		return r;
	r = check_name(path, &name, err);
	if (r < 0)
		return r;
	if (size > RT_CPIO_MAX_FILE_SIZE)
		return lv_err_msg(err, EFBIG, "cpio: \"%s\" is %llu bytes; newc cannot hold 4 GiB or more",
				  name, (unsigned long long)size);
	namesize = strlen(name) + 1;
	snprintf(hdr, sizeof(hdr), "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		 ino, (unsigned)mode, (unsigned)uid, (unsigned)gid, nlink, clamp_time(mtime),
		 (unsigned)size, 0u, 0u, major(rdev), minor(rdev), (unsigned)namesize, 0u);
	r = emit(c, hdr, HDR_LEN, err);
	if (r >= 0)
		r = emit(c, name, namesize, err);
	if (r >= 0)
		r = pad_to(c, 4, err);
	return r;
}

static int type_mode(mode_t mode, mode_t type, const char *path, mode_t *out, struct lv_error **err)
{
	if ((mode & S_IFMT) && (mode & S_IFMT) != type)
		return lv_err_msg(err, EINVAL, "cpio: \"%s\": mode %o has the wrong file type", path,
				  (unsigned)mode);
	*out = type | (mode & 07777);
	return 0;
}

int rt_cpio_open(struct rt_cpio **out, int fd, int compress_level, struct lv_error **err)
{
	struct rt_cpio *c;

	if (fd < 0)
		return lv_err_msg(err, EBADF, "cpio: invalid output fd");
	if (compress_level < 0 || compress_level > 9)
		return lv_err_msg(err, EINVAL, "cpio: compression level %d is not in 0..9", compress_level);
	c = calloc(1, sizeof(*c));
	if (!c)
		return lv_err(err, ENOMEM, "cpio: allocating the writer");
	c->fd = fd;
	c->level = compress_level;
	c->next_ino = 1;
	if (c->level) {
		/* windowBits 15 + 16: a gzip header and trailer, as the kernel's
		 * initramfs decompressor expects. */
		if (deflateInit2(&c->z, c->level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			free(c);
			return lv_err_msg(err, ENOMEM, "cpio: deflateInit2 failed");
		}
		c->zinit = true;
	}
	*out = c;
	return 0;
}

int rt_cpio_add_dir(struct rt_cpio *c, const char *path, mode_t mode, uid_t uid, gid_t gid,
		    int64_t mtime, struct lv_error **err)
{
	int r = type_mode(mode, S_IFDIR, path, &mode, err);

	if (r < 0)
		return r;
	return put_header(c, path, c->next_ino++, mode, uid, gid, 2, mtime, 0, 0, err);
}

int rt_cpio_add_file(struct rt_cpio *c, const char *path, mode_t mode, uid_t uid, gid_t gid,
		     int64_t mtime, const void *data, size_t len, struct lv_error **err)
{
	int r = type_mode(mode, S_IFREG, path, &mode, err);

	if (r >= 0)
		r = put_header(c, path, c->next_ino++, mode, uid, gid, 1, mtime, len, 0, err);
	if (r >= 0)
		r = emit(c, data, len, err);
	if (r >= 0)
		r = pad_to(c, 4, err);
	return r;
}

int rt_cpio_add_file_fd(struct rt_cpio *c, const char *path, mode_t mode, uid_t uid, gid_t gid,
			int64_t mtime, int fd, size_t len, struct lv_error **err)
{
	size_t left = len;
	int r = type_mode(mode, S_IFREG, path, &mode, err);

	if (r >= 0)
		r = put_header(c, path, c->next_ino++, mode, uid, gid, 1, mtime, len, 0, err);
	while (r >= 0 && left) {
		ssize_t n = read(fd, c->in, left < sizeof(c->in) ? left : sizeof(c->in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The header already promised len bytes: the archive
			 * cannot be repaired. */
			c->failed = true;
			if (n < 0)
				return lv_err(err, errno, "cpio: reading \"%s\"", path);
			return lv_err_msg(err, EIO, "cpio: \"%s\" shrank to %zu of %zu bytes while being archived",
					  path, len - left, len);
		}
		r = emit(c, c->in, (size_t)n, err);
		left -= (size_t)n;
	}
	if (r >= 0)
		r = pad_to(c, 4, err);
	return r;
}

int rt_cpio_add_symlink(struct rt_cpio *c, const char *path, const char *target, uid_t uid,
			gid_t gid, int64_t mtime, struct lv_error **err)
{
	size_t len = strlen(target);
	int r;

	if (len == 0 || len >= PATH_MAX)
		return lv_err_msg(err, EINVAL, "cpio: \"%s\": symlink target length %zu is not in 1..%d",
				  path, len, PATH_MAX - 1);
	r = put_header(c, path, c->next_ino++, S_IFLNK | 0777, uid, gid, 1, mtime, len, 0, err);
	if (r >= 0)
		r = emit(c, target, len, err);
	if (r >= 0)
		r = pad_to(c, 4, err);
	return r;
}

int rt_cpio_add_node(struct rt_cpio *c, const char *path, mode_t mode, dev_t rdev, uid_t uid,
		     gid_t gid, int64_t mtime, struct lv_error **err)
{
	mode_t type = mode & S_IFMT;

	if (type != S_IFCHR && type != S_IFBLK && type != S_IFIFO)
		return lv_err_msg(err, EINVAL, "cpio: \"%s\": mode %o is not a device or fifo", path,
				  (unsigned)mode);
	if (type == S_IFIFO)
		rdev = 0;
	return put_header(c, path, c->next_ino++, type | (mode & 07777), uid, gid, 1, mtime, 0, rdev, err);
}

int rt_cpio_finish(struct rt_cpio *c, struct lv_error **err)
{
	int r = put_header(c, TRAILER, 0, 0, 0, 0, 1, 0, 0, 0, err);

	if (r >= 0)
		r = pad_to(c, 512, err);
	if (r >= 0)
		r = c->level ? deflate_some(c, Z_FINISH, err) : flush_out(c, err);
	if (r < 0) {
		c->failed = true;
		return r;
	}
	c->finished = true;
	return 0;
}

uint64_t rt_cpio_bytes(const struct rt_cpio *c)
{
	return c->offset;
}

void rt_cpio_free(struct rt_cpio *c)
{
	if (!c)
		return;
	if (c->zinit)
		deflateEnd(&c->z);
	free(c);
}
