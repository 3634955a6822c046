/* rootfs + guest init → a cached initramfs.
 *
 * Why a metadata key is content-faithful: the key hashes, for every entry,
 * its path, type and mode, owner, size, inode, rdev, symlink target, mtime
 * and ctime (both to the nanosecond).  Any change to a file's data or
 * metadata sets its ctime to the current time, and unlike mtime, ctime cannot
 * be set back from user space (utimensat() itself bumps ctime); replacing a
 * file changes its inode and its directory's ctime.  So an unchanged key means
 * an unchanged tree, without reading a byte of file data.  The data is read
 * only to build the archive, and every regular file is checked again (inode,
 * size, ctime) before and after it is copied, so a file modified during the
 * build fails the build instead of poisoning the cache.  Residual risk: file
 * systems with coarse timestamps, where a write in the same clock tick as the
 * previous one leaves ctime unchanged.
 *
 * The walk never follows a symlink: directories are opened with O_NOFOLLOW
 * relative to their parent's fd, and files relative to the rootfs fd with
 * O_NOFOLLOW and an inode check against what the walk saw.
 */
#include "initramfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/sha256.h"
#include "cpio.h"

#define KEY_TAG "lightvm-initramfs-v1"
#define KEY_TAG_SHELL "lightvm-shell-v1"
#define KEY_TAG_ROOTFS "lightvm-rootfs-v1"
#define MIB (1024ull * 1024)

struct entry {
	char *path; /* relative, no leading '/' */
	char *link; /* symlink target, or NULL */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	dev_t dev, rdev;
	ino_t ino;
	uint64_t size;
	struct timespec mtime, ctime;
};

struct walk {
	const struct rt_initramfs_req *req;
	char init_name[PATH_MAX]; /* init_path without leading '/' */
	struct lv_sha256 sha;
	struct entry *v;
	size_t n, cap;
	uint64_t nentries;
	uint64_t total; /* bytes of regular file data in the rootfs */
	uint64_t limit; /* for the rootfs alone: max_bytes less the init */
	bool over;      /* total passed limit: only keep counting */
	char rel[PATH_MAX];
};

static void walk_release(struct walk *w)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		free(w->v[i].path);
		free(w->v[i].link);
	}
	free(w->v);
	w->v = NULL;
	w->n = w->cap = 0;
}

static void walk_freep(struct walk **w)
{
	if (*w)
		walk_release(*w);
	free(*w);
}

struct names {
	char **v;
	size_t n;
};

static void names_release(struct names *ns)
{
	while (ns->n)
		free(ns->v[--ns->n]);
	free(ns->v);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void hash_u64(struct lv_sha256 *s, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	lv_sha256_update(s, b, sizeof(b));
}

static void hash_str(struct lv_sha256 *s, const char *str)
{
	lv_sha256_update(s, str, strlen(str) + 1);
}

static void hash_entry(struct lv_sha256 *s, const char *path, const struct stat *st, const char *link)
{
	hash_str(s, path);
	hash_u64(s, st->st_mode);
	hash_u64(s, st->st_uid);
	hash_u64(s, st->st_gid);
	hash_u64(s, (uint64_t)st->st_size);
	hash_u64(s, (uint64_t)st->st_mtim.tv_sec);
	hash_u64(s, (uint64_t)st->st_mtim.tv_nsec);
	hash_u64(s, (uint64_t)st->st_ctim.tv_sec);
	hash_u64(s, (uint64_t)st->st_ctim.tv_nsec);
	hash_u64(s, st->st_ino);
	hash_u64(s, st->st_dev);
	hash_u64(s, st->st_rdev);
	hash_str(s, link ? link : "");
}

static int add_entry(struct walk *w, const struct stat *st, const char *link, struct lv_error **err)
{
	struct entry *e;

	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		struct entry *v = realloc(w->v, cap * sizeof(*v));
		if (!v)
			return lv_err(err, ENOMEM, "initramfs: recording rootfs entries");
		w->v = v;
		w->cap = cap;
	}
	e = &w->v[w->n];
	memset(e, 0, sizeof(*e));
	e->path = strdup(w->rel);
	e->link = link ? strdup(link) : NULL;
	if (!e->path || (link && !e->link)) {
		free(e->path);
		free(e->link);
		return lv_err(err, ENOMEM, "initramfs: recording rootfs entries");
	}
	e->mode = st->st_mode;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->dev = st->st_dev;
	e->rdev = st->st_rdev;
	e->ino = st->st_ino;
	e->size = (uint64_t)st->st_size;
	e->mtime = st->st_mtim;
	e->ctime = st->st_ctim;
	w->n++;
	hash_entry(&w->sha, w->rel, st, link);
	return 0;
}

static int read_names(int dirfd, const char *root, const char *rel, struct names *ns, struct lv_error **err)
{
	int fd = dup(dirfd);
	size_t cap = 0;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fd < 0)
		return lv_err(err, errno, "initramfs: dup");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return lv_err(err, errno, "initramfs: reading directory \"%s/%s\"", root, rel);
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				r = lv_err(err, errno, "initramfs: reading directory \"%s/%s\"", root, rel);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (ns->n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			char **v = realloc(ns->v, ncap * sizeof(*v));
			if (!v) {
				r = lv_err(err, ENOMEM, "initramfs: reading directory");
				break;
			}
			ns->v = v;
			cap = ncap;
		}
		ns->v[ns->n] = strdup(de->d_name);
		if (!ns->v[ns->n]) {
			r = lv_err(err, ENOMEM, "initramfs: reading directory");
			break;
		}
		ns->n++;
	}
	closedir(d);
	if (r == 0 && ns->n)
		qsort(ns->v, ns->n, sizeof(*ns->v), cmp_names);
	return r;
}

static int walk_dir(struct walk *w, int dirfd, size_t rel_len, unsigned depth, struct lv_error **err)
{
	const char *root = w->req->rootfs;
	struct names ns __attribute__((cleanup(names_release))) = { 0 };
	char link[PATH_MAX];
	size_t i;
	int r;

	r = read_names(dirfd, root, w->rel, &ns, err);
	if (r < 0)
		return r;
	for (i = 0; i < ns.n; i++) {
		const char *name = ns.v[i];
		size_t len = rel_len + (rel_len ? 1 : 0) + strlen(name);
		struct stat st;
		bool is_link = false;

		if (len >= sizeof(w->rel))
			return lv_err_msg(err, ENAMETOOLONG, "initramfs: a path under \"%s/%s\" is longer than %d bytes",
					  root, w->rel, PATH_MAX - 1);
		snprintf(w->rel + rel_len, sizeof(w->rel) - rel_len, "%s%s", rel_len ? "/" : "", name);
		if (++w->nentries > RT_INITRAMFS_MAX_ENTRIES)
			return lv_err_msg(err, E2BIG, "initramfs: rootfs \"%s\" holds more than %u entries", root,
					  RT_INITRAMFS_MAX_ENTRIES);
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return lv_err(err, errno, "initramfs: stat \"%s/%s\"", root, w->rel);
		if (S_ISSOCK(st.st_mode))
			continue; /* sockets cannot be archived and mean nothing in a fresh guest */
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlinkat(dirfd, name, link, sizeof(link));
			if (n < 0)
				return lv_err(err, errno, "initramfs: readlink \"%s/%s\"", root, w->rel);
			if (n == 0 || (size_t)n >= sizeof(link))
				return lv_err_msg(err, ENAMETOOLONG, "initramfs: symlink \"%s/%s\" has a target of %zd bytes",
						  root, w->rel, n);
			link[n] = '\0';
			is_link = true;
		} else if (S_ISREG(st.st_mode)) {
			w->total += (uint64_t)st.st_size;
			if (w->total > w->limit)
				w->over = true;
			if ((uint64_t)st.st_size > RT_CPIO_MAX_FILE_SIZE)
				return lv_err_msg(err, EFBIG, "initramfs: \"%s/%s\" is 4 GiB or larger, which cpio cannot hold",
						  root, w->rel);
		}
		if (!w->over) {
			r = add_entry(w, &st, is_link ? link : NULL, err);
			if (r < 0)
				return r;
		}
		if (S_ISDIR(st.st_mode)) {
			cleanup_close int fd = -1;
			struct stat dst;

			if (depth + 1 > RT_INITRAMFS_MAX_DEPTH)
				return lv_err_msg(err, ELOOP, "initramfs: \"%s/%s\" is nested more than %d directories deep",
						  root, w->rel, RT_INITRAMFS_MAX_DEPTH);
			fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return lv_err(err, errno, "initramfs: cannot open directory \"%s/%s\"", root, w->rel);
			if (fstat(fd, &dst) < 0)
				return lv_err(err, errno, "initramfs: stat \"%s/%s\"", root, w->rel);
			if (dst.st_dev != st.st_dev || dst.st_ino != st.st_ino)
				return lv_err_msg(err, EAGAIN, "initramfs: \"%s/%s\" was replaced during the walk", root,
						  w->rel);
			r = walk_dir(w, fd, len, depth + 1, err);
			if (r < 0)
				return r;
		}
		w->rel[rel_len] = '\0';
	}
	return 0;
}

static const struct entry *find_entry(const struct walk *w, const char *path)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strcmp(w->v[i].path, path) == 0)
			return &w->v[i];
	return NULL;
}

/* "12" for whole MiB, else one decimal rounded up, so N never prints as M. */
static void fmt_mib(uint64_t bytes, char buf[32])
{
	if (bytes % MIB == 0)
		snprintf(buf, 32, "%llu", (unsigned long long)(bytes / MIB));
	else
		snprintf(buf, 32, "%.1f", (double)((bytes * 10 + MIB - 1) / MIB) / 10.0);
}

static int check_req(const struct rt_initramfs_req *req, char name[PATH_MAX], struct lv_error **err)
{
	const char *p, *s;

	if (!req || !req->cache_dir || (!req->shell && !req->rootfs) ||
	    (!req->rootfs_only && (!req->init || !req->init_path)))
		return lv_err_msg(err, EINVAL, "initramfs: rootfs, cache_dir, init and init_path are required");
	if (req->shell && req->rootfs_only)
		return lv_err_msg(err, EINVAL, "initramfs: an archive cannot be both a shell and a rootfs only");
	if (req->compress_level < 0 || req->compress_level > 9)
		return lv_err_msg(err, EINVAL, "initramfs: compression level %d is not in 0..9", req->compress_level);
	if (req->rootfs_only) {
		name[0] = '\0';
		return 0;
	}
	if (req->init_len == 0 || req->init_len > RT_CPIO_MAX_FILE_SIZE)
		return lv_err_msg(err, EINVAL, "initramfs: the guest init is %zu bytes", req->init_len);
	for (p = req->init_path; *p == '/'; p++)
		;
	if (strlen(p) >= PATH_MAX)
		return lv_err_msg(err, ENAMETOOLONG, "initramfs: init_path is too long");
	for (s = p;; s++) {
		/* Each component must be non-empty and neither "." nor "..". */
		size_t n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return lv_err_msg(err, EINVAL, "initramfs: init_path \"%s\" is not a clean relative path",
					  req->init_path);
		s += n;
		if (!*s)
			break;
	}
	strcpy(name, p);
	return 0;
}

/* The init and the directories leading to it must not collide with the
 * rootfs: we never silently replace a file of the container's. */
static int check_init_path(const struct walk *w, struct lv_error **err)
{
	char prefix[PATH_MAX];
	const struct entry *e;
	const char *slash;

	e = find_entry(w, w->init_name);
	if (e)
		return lv_err_msg(err, EEXIST, "initramfs: rootfs \"%s\" already contains \"/%s\", where lightvm puts its guest init",
				  w->req->rootfs, w->init_name);
	for (slash = strchr(w->init_name, '/'); slash; slash = strchr(slash + 1, '/')) {
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(slash - w->init_name), w->init_name);
		e = find_entry(w, prefix);
		if (e && !S_ISDIR(e->mode))
			return lv_err_msg(err, EEXIST, "initramfs: rootfs \"%s\" has \"/%s\", which is not a directory, on the path of the guest init \"/%s\"",
					  w->req->rootfs, prefix, w->init_name);
	}
	return 0;
}

static int walk_fail(struct walk *w, struct lv_error *werr, struct lv_error **err)
{
	char n[32], m[32];
	bool partial = werr != NULL;

	fmt_mib(w->total, n);
	fmt_mib(w->req->max_bytes ? w->req->max_bytes : RT_INITRAMFS_DEFAULT_MAX_BYTES, m);
	/* An error after the limit was passed only stopped the count. */
	lv_error_free(&werr);
	return lv_err_msg(err, EFBIG,
			  "rootfs \"%s\" holds %s%s MiB, more than the %s MiB an initramfs may hold (lightvm boots containers "
			  "from an initramfs; a block-image path for large root file systems is not available yet)",
			  w->req->rootfs, partial ? "at least " : "", n, m);
}

/* Validates, walks and hashes.  On success *rootfd_out is the rootfs fd the
 * walk used, for building the archive from the very same tree. */
static int plan(const struct rt_initramfs_req *req, struct walk *w, uint8_t key[LV_SHA256_LEN], int *rootfd_out,
		struct lv_error **err)
{
	cleanup_close int rootfd = -1;
	struct lv_error *werr = NULL;
	uint64_t max = req && req->max_bytes ? req->max_bytes : RT_INITRAMFS_DEFAULT_MAX_BYTES;
	int r;

	r = check_req(req, w->init_name, err);
	if (r < 0)
		return r;
	w->req = req;
	lv_sha256_init(&w->sha);
	if (req->rootfs_only) {
		w->limit = max;
		hash_str(&w->sha, KEY_TAG_ROOTFS);
	} else {
		w->limit = max > req->init_len ? max - req->init_len : 0;
		hash_str(&w->sha, req->shell ? KEY_TAG_SHELL : KEY_TAG);
		hash_u64(&w->sha, req->init_len);
		lv_sha256_update(&w->sha, req->init, req->init_len);
		hash_str(&w->sha, w->init_name);
	}
	hash_u64(&w->sha, (uint64_t)req->compress_level);
	if (req->shell) {
		/* Nothing of the container's: the key is the init alone. */
		lv_sha256_final(&w->sha, key);
		return 0;
	}

	rootfd = open(req->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return lv_err(err, errno, "initramfs: cannot open rootfs \"%s\"", req->rootfs);
	r = walk_dir(w, rootfd, 0, 0, &werr);
	if (w->over)
		return walk_fail(w, werr, err);
	if (r < 0) {
		if (err && !*err) {
			*err = werr;
		} else {
			lv_err_msg(err, lv_err_errno(werr), "%s", werr ? werr->msg : "walk failed");
			lv_error_free(&werr);
		}
		return r;
	}
	r = req->rootfs_only ? 0 : check_init_path(w, err);
	if (r < 0)
		return r;
	hash_u64(&w->sha, w->n);
	lv_sha256_final(&w->sha, key);
	if (rootfd_out)
		*rootfd_out = lv_take_fd(&rootfd);
	return 0;
}

int rt_initramfs_key(const struct rt_initramfs_req *req, char hex[65], uint64_t *total_bytes, struct lv_error **err)
{
	struct walk *w __attribute__((cleanup(walk_freep))) = calloc(1, sizeof(*w));
	uint8_t key[LV_SHA256_LEN];
	int r;

	if (!w)
		return lv_err(err, ENOMEM, "initramfs: allocating the walk");
	r = plan(req, w, key, NULL, err);
	if (r < 0)
		return r;
	lv_sha256_hex(key, hex);
	if (total_bytes)
		*total_bytes = w->total + (req->rootfs_only ? 0 : req->init_len);
	return 0;
}

static int add_rootfs_file(struct rt_cpio *c, const struct walk *w, int rootfd, const struct entry *e,
			   struct lv_error **err)
{
	const char *root = w->req->rootfs;
	cleanup_close int fd = -1;
	struct stat st;
	int r;

	/* O_NONBLOCK: if the file was swapped for a fifo, don't hang on it. */
	fd = openat(rootfd, e->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return lv_err(err, errno, "initramfs: cannot read \"%s/%s\"", root, e->path);
	if (fstat(fd, &st) < 0)
		return lv_err(err, errno, "initramfs: stat \"%s/%s\"", root, e->path);
	if (st.st_dev != e->dev || st.st_ino != e->ino || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->size ||
	    st.st_ctim.tv_sec != e->ctime.tv_sec || st.st_ctim.tv_nsec != e->ctime.tv_nsec)
		goto changed;
	r = rt_cpio_add_file_fd(c, e->path, e->mode, e->uid, e->gid, e->mtime.tv_sec, fd, e->size, err);
	if (r < 0)
		return lv_err_wrap(err, "initramfs: archiving \"%s/%s\"", root, e->path);
	if (fstat(fd, &st) < 0)
		return lv_err(err, errno, "initramfs: stat \"%s/%s\"", root, e->path);
	if ((uint64_t)st.st_size != e->size || st.st_ctim.tv_sec != e->ctime.tv_sec ||
	    st.st_ctim.tv_nsec != e->ctime.tv_nsec)
		goto changed;
	return 0;
changed:
	return lv_err_msg(err, EAGAIN, "initramfs: \"%s/%s\" changed while the initramfs was being built", root,
			  e->path);
}

static int write_archive(const struct walk *w, int rootfd, int outfd, struct lv_error **err)
{
	static const struct {
		const char *path;
		mode_t mode;
		unsigned maj, min;
	} extras[] = {
		/* What the kernel and init expect; the kernel opens
		 * /dev/console for init's stdio before init runs. */
		{ "dev", S_IFDIR | 0755, 0, 0 },
		{ "proc", S_IFDIR | 0555, 0, 0 },
		{ "sys", S_IFDIR | 0555, 0, 0 },
		{ "tmp", S_IFDIR | 01777, 0, 0 },
		{ "dev/console", S_IFCHR | 0600, 5, 1 },
		{ "dev/null", S_IFCHR | 0666, 1, 3 },
	};
	const struct rt_initramfs_req *req = w->req;
	cleanup_cpio struct rt_cpio *c = NULL;
	char prefix[PATH_MAX];
	const char *slash;
	size_t i;
	int r;

	r = rt_cpio_open(&c, outfd, req->compress_level, err);
	if (r < 0)
		return r;
	for (i = 0; i < w->n && r >= 0; i++) {
		const struct entry *e = &w->v[i];

		if (S_ISDIR(e->mode))
			r = rt_cpio_add_dir(c, e->path, e->mode, e->uid, e->gid, e->mtime.tv_sec, err);
		else if (S_ISREG(e->mode))
			r = add_rootfs_file(c, w, rootfd, e, err);
		else if (S_ISLNK(e->mode))
			r = rt_cpio_add_symlink(c, e->path, e->link, e->uid, e->gid, e->mtime.tv_sec, err);
		else
			r = rt_cpio_add_node(c, e->path, e->mode, e->rdev, e->uid, e->gid, e->mtime.tv_sec, err);
	}
	for (i = 0; i < LV_ARRAY_SIZE(extras) && r >= 0; i++) {
		const struct entry *dev = find_entry(w, "dev");

		if (find_entry(w, extras[i].path))
			continue;
		if (S_ISDIR(extras[i].mode)) {
			r = rt_cpio_add_dir(c, extras[i].path, extras[i].mode, 0, 0, 0, err);
			continue;
		}
		if ((dev && !S_ISDIR(dev->mode)) || req->rootfs_only)
			continue; /* never create nodes through the rootfs's /dev symlink; the
				   * guest mounts devtmpfs over a received rootfs's /dev */
		r = rt_cpio_add_node(c, extras[i].path, extras[i].mode, makedev(extras[i].maj, extras[i].min), 0, 0, 0,
				     err);
	}
	if (req->rootfs_only) {
		if (r >= 0)
			r = rt_cpio_finish(c, err);
		return r;
	}
	for (slash = strchr(w->init_name, '/'); slash && r >= 0; slash = strchr(slash + 1, '/')) {
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(slash - w->init_name), w->init_name);
		if (!find_entry(w, prefix))
			r = rt_cpio_add_dir(c, prefix, 0755, 0, 0, 0, err);
	}
	if (r >= 0)
		r = rt_cpio_add_file(c, w->init_name, 0755, 0, 0, 0, req->init, req->init_len, err);
	if (r >= 0)
		r = rt_cpio_finish(c, err);
	return r;
}

static int mkdir_p(const char *path, struct lv_error **err)
{
	cleanup_free char *p = strdup(path);
	char *s;

	if (!p)
		return lv_err(err, ENOMEM, "initramfs: strdup");
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return lv_err(err, errno, "initramfs: cannot create cache directory \"%s\"", p);
		*s = c;
		if (!c)
			break;
	}
	return 0;
}

static int open_cache(const char *dir, struct lv_error **err)
{
	cleanup_close int fd = -1;
	struct stat st;
	int r;

	if (!*dir)
		return lv_err_msg(err, EINVAL, "initramfs: empty cache_dir");
	r = mkdir_p(dir, err);
	if (r < 0)
		return r;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lv_err(err, errno, "initramfs: cannot open cache directory \"%s\"", dir);
	if (fstat(fd, &st) < 0)
		return lv_err(err, errno, "initramfs: stat \"%s\"", dir);
	/* Whoever can write here can plant an archive that our VMs boot. */
	if (st.st_uid != geteuid() || (st.st_mode & 022))
		return lv_err_msg(err, EPERM, "initramfs: cache directory \"%s\" must be owned by uid %u and not writable by group or others",
				  dir, (unsigned)geteuid());
	return lv_take_fd(&fd);
}

int rt_initramfs_get(const struct rt_initramfs_req *req, char **path_out, struct lv_error **err)
{
	struct walk *w __attribute__((cleanup(walk_freep))) = calloc(1, sizeof(*w));
	cleanup_close int rootfd = -1;
	cleanup_close int cachefd = -1;
	cleanup_close int tmpfd = -1;
	cleanup_free char *tmp = NULL;
	cleanup_free char *final = NULL;
	uint8_t key[LV_SHA256_LEN];
	char hex[LV_SHA256_HEX_LEN + 1];
	char name[LV_SHA256_HEX_LEN + 16];
	struct stat st;
	int r;

	if (!w)
		return lv_err(err, ENOMEM, "initramfs: allocating the walk");
	r = plan(req, w, key, &rootfd, err);
	if (r < 0)
		return r;
	lv_sha256_hex(key, hex);
	snprintf(name, sizeof(name), "%s%s", hex, req->compress_level ? ".cpio.gz" : ".cpio");
	cachefd = open_cache(req->cache_dir, err);
	if (cachefd < 0)
		return cachefd;
	if (asprintf(&final, "%s/%s", req->cache_dir, name) < 0) {
		final = NULL;
		return lv_err(err, ENOMEM, "initramfs: asprintf");
	}
	if (fstatat(cachefd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		*path_out = lv_take_ptr(&final);
		return 0;
	}

	if (asprintf(&tmp, "%s/.tmp-%s.XXXXXX", req->cache_dir, hex) < 0) {
		tmp = NULL;
		return lv_err(err, ENOMEM, "initramfs: asprintf");
	}
	tmpfd = mkostemp(tmp, O_CLOEXEC);
	if (tmpfd < 0)
		return lv_err(err, errno, "initramfs: cannot create a temporary file in \"%s\"", req->cache_dir);
	r = write_archive(w, rootfd, tmpfd, err);
	if (r >= 0 && fsync(tmpfd) < 0)
		r = lv_err(err, errno, "initramfs: fsync \"%s\"", tmp);
	/* Concurrent builders of the same key each rename a complete archive
	 * over the other's: the last one wins and readers see either. */
	if (r >= 0 && rename(tmp, final) < 0)
		r = lv_err(err, errno, "initramfs: rename to \"%s\"", final);
	if (r < 0) {
		unlink(tmp);
		return lv_err_wrap(err, "building the initramfs of \"%s\"", req->rootfs);
	}
	if (fsync(cachefd) < 0)
		return lv_err(err, errno, "initramfs: fsync \"%s\"", req->cache_dir);
	*path_out = lv_take_ptr(&final);
	return 0;
}
