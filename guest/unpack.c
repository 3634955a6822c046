/* newc cpio → a directory, from an untrusted stream.  See unpack.h. */
#include "unpack.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define TRAILER "TRAILER!!!"

static uint32_t pad4(uint64_t n)
{
	return (uint32_t)((4 - (n & 3)) & 3);
}

static int fail(struct guest_unpack *u, struct lv_error **err, int errnum, bool with_errno, const char *what)
{
	u->state = GU_FAILED;
	if (with_errno)
		return lv_err(err, errnum, "rootfs archive: %s \"%s\"", what, u->name);
	return lv_err_msg(err, errnum, "rootfs archive: %s \"%s\"", what, u->name);
}

static int parse_hex(const uint8_t *p, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		uint8_t c = p[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

static int parse_header(struct guest_unpack *u, struct lv_error **err)
{
	/* Field order after the magic: ino mode uid gid nlink mtime filesize
	 * devmajor devminor rdevmajor rdevminor namesize check. */
	uint32_t f[13];

	if (memcmp(u->hdr, "070701", 6) != 0) {
		u->state = GU_FAILED;
		return lv_err_msg(err, EINVAL, "rootfs archive: bad magic after %llu entries (not a newc cpio archive)",
				  (unsigned long long)u->entries);
	}
	for (int i = 0; i < 13; i++)
		if (parse_hex(u->hdr + 6 + 8 * i, &f[i]) < 0) {
			u->state = GU_FAILED;
			return lv_err_msg(err, EINVAL, "rootfs archive: header field %d is not hex", i);
		}
	u->mode = f[1];
	u->uid = f[2];
	u->gid = f[3];
	u->filesize = f[6];
	u->rmaj = f[9];
	u->rmin = f[10];
	u->namesize = f[11];
	if (u->namesize < 2 || u->namesize > sizeof(u->name)) {
		u->state = GU_FAILED;
		return lv_err_msg(err, ENAMETOOLONG, "rootfs archive: a name of %u bytes (limit %zu)", u->namesize,
				  sizeof(u->name));
	}
	return 0;
}

/* A clean relative path: components non-empty, not "." or "..". */
static bool clean_name(const char *name)
{
	const char *s = name;

	if (*s == '/' || *s == '\0')
		return false;
	for (;;) {
		size_t n = strcspn(s, "/");
		if (n == 0 || n > NAME_MAX || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
		if (!*s)
			return true;
		s++;
	}
}

/* Opens the entry's parent directory, one component at a time, never
 * following a symlink; reuses the last one when it is the same. */
static int open_parent(struct guest_unpack *u, const char **leaf, struct lv_error **err)
{
	const char *slash = strrchr(u->name, '/');
	size_t dlen = slash ? (size_t)(slash - u->name) : 0;
	char path[PATH_MAX];
	int fd;

	*leaf = slash ? slash + 1 : u->name;
	if (u->dirfd >= 0 && strlen(u->dir) == dlen && strncmp(u->dir, u->name, dlen) == 0)
		return 0;
	if (u->dirfd >= 0)
		close(u->dirfd);
	u->dirfd = -1;
	fd = dup(u->rootfd);
	if (fd < 0)
		return fail(u, err, errno, true, "cannot open the parent of");
	memcpy(path, u->name, dlen);
	path[dlen] = '\0';
	for (char *s = path, *e; dlen && s; s = e) {
		int next;
		e = strchr(s, '/');
		if (e)
			*e++ = '\0';
		next = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (next < 0)
			return fail(u, err, errno == ELOOP ? ENOTDIR : errno, true, "cannot open the parent of");
		fd = next;
	}
	u->dirfd = fd;
	memcpy(u->dir, u->name, dlen);
	u->dir[dlen] = '\0';
	return 0;
}

static int set_owner_mode(struct guest_unpack *u, int fd, struct lv_error **err)
{
	if (u->owners && fchown(fd, u->uid, u->gid) < 0)
		return fail(u, err, errno, true, "chown");
	/* After chown, which clears set-id bits. */
	if (fchmod(fd, u->mode & 07777) < 0)
		return fail(u, err, errno, true, "chmod");
	return 0;
}

/* The header and name are in; create what needs no data. */
static int begin_entry(struct guest_unpack *u, struct lv_error **err)
{
	mode_t type = u->mode & S_IFMT;
	const char *leaf;
	int r, fd;

	u->skipping = false;
	if (strcmp(u->name, ".") == 0 || type == S_IFSOCK || ((type == S_IFCHR || type == S_IFBLK || type == S_IFIFO) && !u->nodes)) {
		u->skipping = true; /* the root itself; what we do not create */
		if (u->filesize)
			return fail(u, err, EINVAL, false, "unexpected data for");
		return 0;
	}
	if (!clean_name(u->name))
		return fail(u, err, EINVAL, false, "refusing the name");
	if (type != S_IFREG && type != S_IFLNK && u->filesize)
		return fail(u, err, EINVAL, false, "unexpected data for");
	r = open_parent(u, &leaf, err);
	if (r < 0)
		return r;
	switch (type) {
	case S_IFDIR:
		if (mkdirat(u->dirfd, leaf, 0700) < 0 && errno != EEXIST)
			return fail(u, err, errno, true, "mkdir");
		fd = openat(u->dirfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return fail(u, err, errno == ELOOP ? ENOTDIR : errno, true, "open directory");
		r = set_owner_mode(u, fd, err);
		close(fd);
		return r;
	case S_IFREG:
		u->fd = openat(u->dirfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (u->fd < 0)
			return fail(u, err, errno, true, "create");
		return 0;
	case S_IFLNK:
		if (u->filesize == 0 || u->filesize >= sizeof(u->link))
			return fail(u, err, ENAMETOOLONG, false, "bad symlink target length for");
		return 0;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
		if (mknodat(u->dirfd, leaf, type | 0600, makedev(u->rmaj, u->rmin)) < 0)
			return fail(u, err, errno, true, "mknod");
		/* Just made by us in a directory only we write to: by name is safe. */
		if (u->owners && fchownat(u->dirfd, leaf, u->uid, u->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return fail(u, err, errno, true, "chown");
		if (fchmodat(u->dirfd, leaf, u->mode & 07777, 0) < 0)
			return fail(u, err, errno, true, "chmod");
		return 0;
	default:
		return fail(u, err, EINVAL, false, "unknown file type for");
	}
}

static int end_entry(struct guest_unpack *u, struct lv_error **err)
{
	mode_t type = u->mode & S_IFMT;
	const char *leaf;
	int r = 0;

	if (!u->skipping && type == S_IFREG) {
		r = set_owner_mode(u, u->fd, err);
		close(u->fd);
		u->fd = -1;
	} else if (!u->skipping && type == S_IFLNK) {
		u->link[u->filesize] = '\0';
		if (strlen(u->link) != u->filesize)
			return fail(u, err, EINVAL, false, "a NUL in the symlink target of");
		leaf = strrchr(u->name, '/');
		leaf = leaf ? leaf + 1 : u->name;
		if (symlinkat(u->link, u->dirfd, leaf) < 0)
			return fail(u, err, errno, true, "symlink");
		if (u->owners && fchownat(u->dirfd, leaf, u->uid, u->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return fail(u, err, errno, true, "chown");
	}
	if (r < 0)
		return r;
	if (!u->skipping)
		u->entries++;
	u->skip = pad4(u->filesize);
	u->have = 0;
	u->state = GU_HDR;
	return 0;
}

static int take_data(struct guest_unpack *u, const uint8_t *p, size_t n, struct lv_error **err)
{
	mode_t type = u->mode & S_IFMT;

	if (u->skipping)
		return 0;
	if (type == S_IFLNK) {
		memcpy(u->link + u->have, p, n);
		return 0;
	}
	while (n > 0) {
		ssize_t w = write(u->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail(u, err, w < 0 ? errno : EIO, true, "write");
		p += w;
		n -= (size_t)w;
		u->bytes += (uint64_t)w;
	}
	return 0;
}

void guest_unpack_init(struct guest_unpack *u, int rootfd, bool owners, bool nodes)
{
	memset(u, 0, sizeof(*u));
	u->rootfd = rootfd;
	u->owners = owners;
	u->nodes = nodes;
	u->fd = -1;
	u->dirfd = -1;
	u->state = GU_HDR;
}

int guest_unpack_feed(struct guest_unpack *u, const uint8_t *p, size_t len, struct lv_error **err)
{
	int r;

	while (len > 0) {
		size_t n;

		if (u->state == GU_FAILED)
			return lv_err_msg(err, EINVAL, "rootfs archive: the unpacker already failed");
		if (u->state == GU_DONE) {
			/* Only the zero padding to a 512-byte block may follow. */
			for (size_t i = 0; i < len; i++)
				if (p[i]) {
					u->state = GU_FAILED;
					return lv_err_msg(err, EINVAL, "rootfs archive: data after the trailer");
				}
			return 0;
		}
		if (u->skip) {
			n = len < u->skip ? len : u->skip;
			u->skip -= (uint32_t)n;
			p += n;
			len -= n;
			continue;
		}
		switch (u->state) {
		case GU_HDR:
			n = GUEST_CPIO_HDR - u->have;
			n = len < n ? len : n;
			memcpy(u->hdr + u->have, p, n);
			u->have += n;
			if (u->have == GUEST_CPIO_HDR) {
				r = parse_header(u, err);
				if (r < 0)
					return r;
				u->have = 0;
				u->state = GU_NAME;
			}
			break;
		case GU_NAME:
			n = u->namesize - u->have;
			n = len < n ? len : n;
			memcpy(u->name + u->have, p, n);
			u->have += n;
			if (u->have == u->namesize) {
				if (u->name[u->namesize - 1] != '\0' || strlen(u->name) != u->namesize - 1) {
					u->name[u->namesize - 1] = '\0';
					return fail(u, err, EINVAL, false, "a badly terminated name near");
				}
				u->skip = pad4(GUEST_CPIO_HDR + (uint64_t)u->namesize);
				u->have = 0;
				if (strcmp(u->name, TRAILER) == 0) {
					u->state = GU_DONE;
					break;
				}
				r = begin_entry(u, err);
				if (r < 0)
					return r;
				u->state = GU_DATA;
				if (u->filesize == 0) {
					/* The name's padding first: end_entry() adds none. */
					uint32_t s = u->skip;
					r = end_entry(u, err);
					if (r < 0)
						return r;
					u->skip = s;
				}
			}
			break;
		case GU_DATA:
			n = u->filesize - u->have;
			n = len < n ? len : n;
			r = take_data(u, p, n, err);
			if (r < 0)
				return r;
			u->have += n;
			if (u->have == u->filesize) {
				r = end_entry(u, err);
				if (r < 0)
					return r;
			}
			break;
		default:
			return lv_err_msg(err, EINVAL, "rootfs archive: bad unpacker state");
		}
		p += n;
		len -= n;
	}
	return 0;
}

int guest_unpack_finish(struct guest_unpack *u, struct lv_error **err)
{
	if (u->state == GU_DONE)
		return 0;
	if (u->state == GU_FAILED)
		return lv_err_msg(err, EINVAL, "rootfs archive: the unpacker already failed");
	u->state = GU_FAILED;
	return lv_err_msg(err, EIO, "rootfs archive: truncated after %llu entries%s%s%s", (unsigned long long)u->entries,
			  u->name[0] ? " (in or after \"" : "", u->name, u->name[0] ? "\")" : "");
}

void guest_unpack_release(struct guest_unpack *u)
{
	if (u->fd >= 0)
		close(u->fd);
	if (u->dirfd >= 0)
		close(u->dirfd);
	u->fd = u->dirfd = -1;
}
