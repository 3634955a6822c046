/* The guest's streaming cpio unpacker (guest/unpack.c, built here with the
 * host compiler): archives from our own writer round-trip whatever way the
 * stream is split, and hostile archives are refused without touching
 * anything outside the target directory. */
#include "../../guest/unpack.c"

#include "../../lib/cleanup.h"
#include "../../runtime/cpio.h"
#include "../../runtime/initramfs.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char base[64];

/* A fresh empty directory under base; returns its fd. */
static int fresh_dir(const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", base, name);
	if (mkdir(path, 0755) < 0)
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Unpacks buf into a fresh directory, fed in chunks of step bytes (0: all
 * at once).  Returns the first error (negative) or 0; *msg gets its text. */
static int unpack(const char *name, const uint8_t *buf, size_t len, size_t step, char *path, size_t psize,
		  char *msg, size_t msize)
{
	struct lv_error *err = NULL;
	struct guest_unpack u;
	cleanup_close int fd = fresh_dir(name, path, psize);
	int r = 0;

	msg[0] = '\0';
	if (fd < 0)
		return -EIO;
	guest_unpack_init(&u, fd, geteuid() == 0, geteuid() == 0);
	for (size_t off = 0; off < len && r >= 0;) {
		size_t n = step && len - off > step ? step : len - off;
		r = guest_unpack_feed(&u, buf + off, n, &err);
		off += n;
	}
	if (r >= 0)
		r = guest_unpack_finish(&u, &err);
	guest_unpack_release(&u);
	if (err)
		snprintf(msg, msize, "%s", err->msg);
	lv_error_free(&err);
	return r;
}

/* A raw newc entry, for archives our writer would never produce. */
static size_t raw_entry(uint8_t *out, const char *name, uint32_t mode, uint32_t filesize, const void *data,
			size_t data_len, uint32_t namesize)
{
	size_t n = (size_t)sprintf((char *)out, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 1u, mode,
				   0u, 0u, 1u, 0u, filesize, 0u, 0u, 0u, 0u, namesize ? namesize : (uint32_t)strlen(name) + 1,
				   0u);
	memcpy(out + n, name, strlen(name) + 1);
	n += strlen(name) + 1;
	while (n % 4)
		out[n++] = 0;
	if (data_len)
		memcpy(out + n, data, data_len);
	n += data_len;
	while (n % 4)
		out[n++] = 0;
	return n;
}

static size_t trailer(uint8_t *out)
{
	return raw_entry(out, "TRAILER!!!", 0, 0, NULL, 0, 0);
}

static bool file_is(const char *path, const char *want)
{
	char buf[256];
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));

	return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

static uint8_t *writer_archive(size_t *len)
{
	char path[128];
	cleanup_close int fd = -1;
	cleanup_cpio struct rt_cpio *c = NULL;
	struct lv_error *err = NULL;
	static char big[300000];
	struct stat st;
	uint8_t *buf;
	int r;

	memset(big, 'x', sizeof(big));
	snprintf(path, sizeof(path), "%s/archive.cpio", base);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	r = fd < 0 ? -1 : rt_cpio_open(&c, fd, 0, &err);
	if (r >= 0)
		r = rt_cpio_add_dir(c, "etc", 0755, 0, 0, 0, &err);
	if (r >= 0)
		r = rt_cpio_add_file(c, "etc/hostname", 0640, 12, 34, 0, "guest\n", 6, &err);
	if (r >= 0)
		r = rt_cpio_add_file(c, "etc/empty", 0600, 0, 0, 0, NULL, 0, &err);
	if (r >= 0)
		r = rt_cpio_add_file(c, "big", 0644, 0, 0, 0, big, sizeof(big), &err);
	if (r >= 0)
		r = rt_cpio_add_symlink(c, "etc/link", "hostname", 0, 0, 0, &err);
	if (r >= 0)
		r = rt_cpio_add_dir(c, "ro", 0555, 0, 0, 0, &err);
	if (r >= 0)
		r = rt_cpio_add_node(c, "fifo", S_IFIFO | 0600, 0, 0, 0, 0, &err);
	if (r >= 0)
		r = rt_cpio_finish(c, &err);
	lv_error_free(&err);
	if (r < 0 || fstat(fd, &st) < 0 || !(buf = malloc((size_t)st.st_size)) ||
	    pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		return NULL;
	*len = (size_t)st.st_size;
	return buf;
}

static void test_round_trip(void)
{
	size_t len = 0;
	cleanup_free uint8_t *a = writer_archive(&len);
	static const size_t steps[] = { 0, 1, 7, 110, 4096, 65536 };
	char path[128], msg[256], p[256], link[64];
	struct stat st;

	ok(a != NULL, "the writer made an archive (%zu bytes)", len);
	if (!a)
		return;
	for (size_t i = 0; i < LV_ARRAY_SIZE(steps); i++) {
		char name[32];
		bool good;
		ssize_t n;
		int r;

		snprintf(name, sizeof(name), "rt%zu", steps[i]);
		r = unpack(name, a, len, steps[i], path, sizeof(path), msg, sizeof(msg));
		ok(r == 0, "round trip in chunks of %zu: %s", steps[i], msg);
		snprintf(p, sizeof(p), "%s/etc/hostname", path);
		good = file_is(p, "guest\n") && stat(p, &st) == 0 && (st.st_mode & 07777) == 0640 &&
		       (geteuid() != 0 || (st.st_uid == 12 && st.st_gid == 34));
		snprintf(p, sizeof(p), "%s/big", path);
		good = good && stat(p, &st) == 0 && st.st_size == 300000;
		snprintf(p, sizeof(p), "%s/etc/empty", path);
		good = good && stat(p, &st) == 0 && st.st_size == 0 && (st.st_mode & 07777) == 0600;
		snprintf(p, sizeof(p), "%s/etc/link", path);
		n = readlink(p, link, sizeof(link) - 1);
		good = good && n == 8 && memcmp(link, "hostname", 8) == 0;
		snprintf(p, sizeof(p), "%s/ro", path);
		good = good && stat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0555;
		snprintf(p, sizeof(p), "%s/fifo", path);
		good = good && (geteuid() != 0 || (lstat(p, &st) == 0 && S_ISFIFO(st.st_mode)));
		ok(good, "chunks of %zu: contents, modes, owners, symlink, directory, fifo", steps[i]);
	}
}

struct hostile {
	const char *what;
	int want; /* errno */
	size_t (*build)(uint8_t *out);
};

static size_t dotdot(uint8_t *o)
{
	size_t n = raw_entry(o, "../escape", S_IFREG | 0644, 2, "x\n", 2, 0);
	return n + trailer(o + n);
}
static size_t dotdot_inner(uint8_t *o)
{
	size_t n = raw_entry(o, "a", S_IFDIR | 0755, 0, NULL, 0, 0);
	n += raw_entry(o + n, "a/../../escape", S_IFREG | 0644, 2, "x\n", 2, 0);
	return n + trailer(o + n);
}
static size_t absolute(uint8_t *o)
{
	size_t n = raw_entry(o, "/escape", S_IFREG | 0644, 2, "x\n", 2, 0);
	return n + trailer(o + n);
}
static size_t empty_component(uint8_t *o)
{
	size_t n = raw_entry(o, "a//b", S_IFREG | 0644, 0, NULL, 0, 0);
	return n + trailer(o + n);
}
static size_t through_symlink(uint8_t *o)
{
	/* d -> .. then d/escape: must not land in the parent directory. */
	size_t n = raw_entry(o, "d", S_IFLNK | 0777, 2, "..", 2, 0);
	n += raw_entry(o + n, "d/escape", S_IFREG | 0644, 2, "x\n", 2, 0);
	return n + trailer(o + n);
}
static size_t truncated_data(uint8_t *o)
{
	/* Claims 4 GiB - 1 of data, sends 2 bytes and no trailer. */
	return raw_entry(o, "huge", S_IFREG | 0644, 0xffffffffu, "x\n", 2, 0);
}
static size_t huge_name(uint8_t *o)
{
	return raw_entry(o, "n", S_IFREG | 0644, 0, NULL, 0, 0x7fffffffu);
}
static size_t long_symlink(uint8_t *o)
{
	size_t n = raw_entry(o, "l", S_IFLNK | 0777, PATH_MAX, NULL, 0, 0);
	return n;
}
static size_t bad_magic(uint8_t *o)
{
	size_t n = raw_entry(o, "f", S_IFREG | 0644, 0, NULL, 0, 0);
	o[5] = '7'; /* 070707: odc, not newc */
	return n;
}
static size_t bad_hex(uint8_t *o)
{
	size_t n = raw_entry(o, "f", S_IFREG | 0644, 0, NULL, 0, 0);
	o[6 + 8 * 6] = 'g';
	return n;
}
static size_t duplicate(uint8_t *o)
{
	size_t n = raw_entry(o, "f", S_IFREG | 0644, 1, "1", 1, 0);
	n += raw_entry(o + n, "f", S_IFREG | 0644, 1, "2", 1, 0);
	return n + trailer(o + n);
}
static size_t dir_with_data(uint8_t *o)
{
	size_t n = raw_entry(o, "d", S_IFDIR | 0755, 4, "abcd", 4, 0);
	return n + trailer(o + n);
}
static size_t unterminated_name(uint8_t *o)
{
	/* namesize says 2 but the name is "ab": no NUL where it must be. */
	size_t n = raw_entry(o, "ab", S_IFREG | 0644, 0, NULL, 0, 2);
	return n;
}
static size_t after_trailer(uint8_t *o)
{
	size_t n = trailer(o);
	n += raw_entry(o + n, "late", S_IFREG | 0644, 0, NULL, 0, 0);
	return n;
}
static size_t no_trailer(uint8_t *o)
{
	return raw_entry(o, "f", S_IFREG | 0644, 1, "1", 1, 0);
}

static void test_hostile(void)
{
	static const struct hostile cases[] = {
		{ "a \"..\" name", EINVAL, dotdot },
		{ "a \"..\" inside a name", EINVAL, dotdot_inner },
		{ "an absolute name", EINVAL, absolute },
		{ "an empty component", EINVAL, empty_component },
		{ "a file through a symlinked directory", ENOTDIR, through_symlink },
		{ "a huge size, truncated", EIO, truncated_data },
		{ "a huge name size", ENAMETOOLONG, huge_name },
		{ "a symlink target of PATH_MAX bytes", ENAMETOOLONG, long_symlink },
		{ "odc magic", EINVAL, bad_magic },
		{ "a non-hex header field", EINVAL, bad_hex },
		{ "a duplicate file", EEXIST, duplicate },
		{ "a directory with data", EINVAL, dir_with_data },
		{ "an unterminated name", EINVAL, unterminated_name },
		{ "an entry after the trailer", EINVAL, after_trailer },
		{ "no trailer", EIO, no_trailer },
	};
	static uint8_t buf[8192];
	char path[128], msg[256], name[32], p[256];

	for (size_t i = 0; i < LV_ARRAY_SIZE(cases); i++) {
		size_t len;
		int r;

		memset(buf, 0, sizeof(buf));
		len = cases[i].build(buf);
		snprintf(name, sizeof(name), "h%zu", i);
		r = unpack(name, buf, len, 0, path, sizeof(path), msg, sizeof(msg));
		ok(r == -cases[i].want, "refuses %s (%d, want %d): %s", cases[i].what, r, -cases[i].want, msg);
		/* Split byte by byte, the verdict is the same. */
		snprintf(name, sizeof(name), "h%zub", i);
		r = unpack(name, buf, len, 1, path, sizeof(path), msg, sizeof(msg));
		ok(r == -cases[i].want, "refuses %s, fed byte by byte", cases[i].what);
	}
	snprintf(p, sizeof(p), "%s/escape", base);
	ok(access(p, F_OK) < 0, "nothing escaped into the parent directory");
}

static void test_refuses_after_failure(void)
{
	uint8_t buf[1024];
	struct lv_error *err = NULL;
	struct guest_unpack u;
	char path[128];
	cleanup_close int fd = fresh_dir("again", path, sizeof(path));
	size_t len = dotdot(buf);
	int r1, r2;

	guest_unpack_init(&u, fd, false, false);
	r1 = guest_unpack_feed(&u, buf, len, &err);
	lv_error_free(&err);
	r2 = guest_unpack_feed(&u, buf, 4, &err);
	lv_error_free(&err);
	ok(r1 < 0 && r2 < 0 && guest_unpack_finish(&u, &err) < 0, "after a failure the unpacker refuses more");
	lv_error_free(&err);
	guest_unpack_release(&u);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;

	if (fd < 0 || fstat(fd, &st) < 0 || !(buf = malloc((size_t)st.st_size + 1)))
		return NULL;
	if (read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		return NULL;
	}
	*len = (size_t)st.st_size;
	return buf;
}

/* The runtime's two channel-delivery archives: rootfs_only unpacks to the
 * rootfs (plus empty mount points, without the init), shell to the init
 * alone. */
static void test_initramfs_modes(void)
{
	static const char init[] = "\x7f" "ELF not really";
	char rootfs[128], cache[128], p[256], path[128], msg[256];
	struct rt_initramfs_req req = {
		.rootfs = rootfs, .cache_dir = cache, .init = init, .init_len = sizeof(init),
		.init_path = ".lightvm/init", .compress_level = 0,
	};
	struct lv_error *err = NULL;
	cleanup_free char *rootfs_cpio = NULL;
	cleanup_free char *shell_cpio = NULL;
	cleanup_free uint8_t *a = NULL;
	size_t len = 0;
	int r1, r2, fd;

	snprintf(rootfs, sizeof(rootfs), "%s/srcroot", base);
	snprintf(cache, sizeof(cache), "%s/cache", base);
	mkdir(rootfs, 0755);
	snprintf(p, sizeof(p), "%s/etc", rootfs);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/etc/motd", rootfs);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		(void)!write(fd, "hi\n", 3);
		close(fd);
	}
	snprintf(p, sizeof(p), "%s/motd", rootfs);
	(void)!symlink("etc/motd", p);

	req.rootfs_only = true;
	r1 = rt_initramfs_get(&req, &rootfs_cpio, &err);
	lv_error_free(&err);
	req.rootfs_only = false;
	req.shell = true;
	r2 = rt_initramfs_get(&req, &shell_cpio, &err);
	lv_error_free(&err);
	ok(r1 == 0 && r2 == 0 && strcmp(rootfs_cpio, shell_cpio) != 0, "rootfs_only and shell archives built, apart");
	if (r1 < 0 || r2 < 0)
		return;
	a = slurp(rootfs_cpio, &len);
	ok(a && unpack("fromrt", a, len, 4096, path, sizeof(path), msg, sizeof(msg)) == 0, "rootfs archive unpacks: %s",
	   msg);
	snprintf(p, sizeof(p), "%s/motd", path);
	ok(file_is(p, "hi\n"), "its files and symlinks arrive");
	snprintf(p, sizeof(p), "%s/.lightvm", path);
	ok(access(p, F_OK) < 0, "without the init");
	snprintf(p, sizeof(p), "%s/proc", path);
	ok(access(p, F_OK) == 0, "with the mount point /proc");
	snprintf(p, sizeof(p), "%s/dev/console", path);
	ok(access(p, F_OK) < 0, "without device nodes");
	free(a);
	a = slurp(shell_cpio, &len);
	ok(a && unpack("fromshell", a, len, 0, path, sizeof(path), msg, sizeof(msg)) == 0, "shell archive unpacks: %s",
	   msg);
	snprintf(p, sizeof(p), "%s/.lightvm/init", path);
	ok(access(p, F_OK) == 0, "the shell holds the init");
	snprintf(p, sizeof(p), "%s/etc", path);
	ok(access(p, F_OK) < 0, "and nothing of the rootfs");
}

int main(void)
{
	int r;

	snprintf(base, sizeof(base), "/tmp/lvunpack.XXXXXX");
	if (!mkdtemp(base)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_round_trip();
	test_hostile();
	test_refuses_after_failure();
	test_initramfs_modes();
	r = tap_done();
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", base);
	}
	return r;
}
