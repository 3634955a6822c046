/* The newc writer, checked against GNU cpio(1): whatever we write, the
 * system's cpio must extract to the same tree. */
#include "../../lib/cleanup.h"
#include "../../lib/error.h"
#include "../../runtime/cpio.h"
#include "tap.h"
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[64];

static char *slurp(const char *path, size_t *len)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return NULL;
	if (read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		return NULL;
	}
	buf[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	return buf;
}

static bool file_is(const char *path, const void *data, size_t len)
{
	size_t got = 0;
	cleanup_free char *buf = slurp(path, &got);

	return buf && got == len && memcmp(buf, data, len) == 0;
}

/* Walks the headers of a plain newc archive checking magic, alignment and
 * the trailer, independently of cpio(1). */
static int parse_archive(const char *buf, size_t len, unsigned *entries)
{
	size_t off = 0;

	*entries = 0;
	for (;;) {
		char field[9] = { 0 };
		unsigned long namesize, filesize;

		if (off % 4 || off + 110 > len || memcmp(buf + off, "070701", 6) != 0)
			return -1;
		memcpy(field, buf + off + 6 + 6 * 8, 8);
		filesize = strtoul(field, NULL, 16);
		memcpy(field, buf + off + 6 + 11 * 8, 8);
		namesize = strtoul(field, NULL, 16);
		if (off + 110 + namesize > len || buf[off + 110 + namesize - 1] != '\0')
			return -1;
		if (strcmp(buf + off + 110, "TRAILER!!!") == 0)
			return len % 512 == 0 ? 0 : -2;
		(*entries)++;
		off = (off + 110 + namesize + 3) & ~(size_t)3;
		off = (off + filesize + 3) & ~(size_t)3;
	}
}

static const char content[] = "hello from the initramfs\n";

static int write_sample(const char *path, int level, struct lv_error **err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cleanup_close int src = -1;
	cleanup_cpio struct rt_cpio *c = NULL;
	char name[32], data[8];
	char srcpath[128];
	int r, i, j;

	if (fd < 0)
		return lv_err(err, errno, "open %s", path);
	r = rt_cpio_open(&c, fd, level, err);
	if (r < 0)
		return r;
	r = rt_cpio_add_dir(c, "/etc", 0750, 0, 0, 1000000000, err);
	if (r >= 0)
		r = rt_cpio_add_file(c, "etc/motd", 0640, 0, 0, 1000000001, content, strlen(content), err);
	if (r >= 0)
		r = rt_cpio_add_symlink(c, "etc/link", "/etc/motd", 0, 0, 1000000002, err);
	if (r >= 0)
		r = rt_cpio_add_dir(c, "dev", 0755, 0, 0, 1000000000, err);
	if (r >= 0)
		r = rt_cpio_add_node(c, "dev/null", S_IFCHR | 0666, makedev(1, 3), 0, 0, 1000000000, err);
	if (r >= 0)
		r = rt_cpio_add_node(c, "dev/fifo", S_IFIFO | 0600, 0, 0, 0, 1000000000, err);
	if (r >= 0)
		r = rt_cpio_add_dir(c, "pad", 0755, 0, 0, 1000000000, err);
	/* Names "pad/a".."pad/aaaa" (lengths 5..8 + NUL) times sizes 0..7:
	 * every residue mod 4 of both. */
	for (i = 1; r >= 0 && i <= 4; i++) {
		for (j = 0; r >= 0 && j < 8; j++) {
			snprintf(name, sizeof(name), "pad/%.*s%d", i, "aaaa", j);
			memset(data, 'A' + j, sizeof(data));
			r = rt_cpio_add_file(c, name, 0644, 0, 0, 1000000000, data, (size_t)j, err);
		}
	}
	/* The same content, streamed from an fd. */
	snprintf(srcpath, sizeof(srcpath), "%s/src", tmp);
	if (r >= 0 && ((src = open(srcpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
		       write(src, content, strlen(content)) != (ssize_t)strlen(content) ||
		       lseek(src, 0, SEEK_SET) != 0))
		r = lv_err(err, errno, "making %s", srcpath);
	if (r >= 0)
		r = rt_cpio_add_file_fd(c, "etc/streamed", 0600, 0, 0, 1000000003, src, strlen(content), err);
	if (r >= 0)
		r = rt_cpio_finish(c, err);
	return r;
}

static void check_tree(const char *dir, const char *what)
{
	char p[256], target[64];
	struct stat st;
	ssize_t n;
	int i, j;
	bool pads = true;

	snprintf(p, sizeof(p), "%s/etc", dir);
	ok(stat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750,
	   "%s: etc is a dir with mode 0750", what);
	snprintf(p, sizeof(p), "%s/etc/motd", dir);
	ok(file_is(p, content, strlen(content)), "%s: etc/motd content", what);
	ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 0640 && st.st_mtime == 1000000001,
	   "%s: etc/motd mode 0640, mtime kept", what);
	snprintf(p, sizeof(p), "%s/etc/streamed", dir);
	ok(file_is(p, content, strlen(content)) && stat(p, &st) == 0 && (st.st_mode & 07777) == 0600,
	   "%s: etc/streamed (from an fd) content and mode", what);
	snprintf(p, sizeof(p), "%s/etc/link", dir);
	n = readlink(p, target, sizeof(target) - 1);
	if (n >= 0)
		target[n] = '\0';
	ok(lstat(p, &st) == 0 && S_ISLNK(st.st_mode) && n > 0, "%s: etc/link is a symlink", what);
	is_str(n > 0 ? target : "", "/etc/motd", "%s: symlink target", what);
	snprintf(p, sizeof(p), "%s/dev/fifo", dir);
	ok(lstat(p, &st) == 0 && S_ISFIFO(st.st_mode), "%s: dev/fifo is a fifo", what);
	snprintf(p, sizeof(p), "%s/dev/null", dir);
	if (geteuid() == 0)
		ok(lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
			   minor(st.st_rdev) == 3 && (st.st_mode & 07777) == 0666,
		   "%s: dev/null is char 1:3 mode 0666", what);
	else
		ok(1, "# SKIP %s: mknod needs root", what);
	for (i = 1; i <= 4; i++) {
		for (j = 0; j < 8; j++) {
			char data[8];
			snprintf(p, sizeof(p), "%s/pad/%.*s%d", dir, i, "aaaa", j);
			memset(data, 'A' + j, sizeof(data));
			if (!file_is(p, data, (size_t)j)) {
				printf("# %s differs\n", p);
				pads = false;
			}
		}
	}
	ok(pads, "%s: 32 files with name and size lengths 0..3 mod 4 extract intact", what);
}

static void test_errors(void)
{
	struct lv_error *err = NULL;
	cleanup_cpio struct rt_cpio *c = NULL;
	cleanup_free char *longname = malloc(PATH_MAX + 1);
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int r;

	ok(rt_cpio_open(&c, fd, 10, &err) == -EINVAL && err, "level 10 refused");
	lv_error_free(&err);
	ok(rt_cpio_open(&c, -1, 0, &err) == -EBADF, "bad fd refused");
	lv_error_free(&err);
	r = rt_cpio_open(&c, fd, 0, &err);
	ok(r == 0, "open on /dev/null");
	if (r < 0)
		return;
	r = rt_cpio_add_file_fd(c, "big", 0644, 0, 0, 0, fd, (size_t)1 << 32, &err);
	ok(r == -EFBIG && err && strstr(err->msg, "4 GiB"), "a 4 GiB file is refused: %s",
	   err ? err->msg : "");
	lv_error_free(&err);
	ok(rt_cpio_add_dir(c, "a/../../etc", 0755, 0, 0, 0, &err) == -EINVAL, "\"..\" refused");
	lv_error_free(&err);
	ok(rt_cpio_add_dir(c, "/", 0755, 0, 0, 0, &err) == -EINVAL, "empty name refused");
	lv_error_free(&err);
	memset(longname, 'x', PATH_MAX);
	longname[PATH_MAX] = '\0';
	ok(rt_cpio_add_dir(c, longname, 0755, 0, 0, 0, &err) == -ENAMETOOLONG, "PATH_MAX name refused");
	lv_error_free(&err);
	ok(rt_cpio_add_node(c, "sock", S_IFSOCK | 0600, 0, 0, 0, 0, &err) == -EINVAL, "socket node refused");
	lv_error_free(&err);
	ok(rt_cpio_add_dir(c, "d", S_IFREG | 0755, 0, 0, 0, &err) == -EINVAL, "dir with file type refused");
	lv_error_free(&err);
	ok(rt_cpio_add_dir(c, "..foo", 0755, 0, 0, 0, &err) == 0, "\"..foo\" is a fine name");
	ok(rt_cpio_finish(c, &err) == 0, "finish after refused entries");
	ok(rt_cpio_add_dir(c, "late", 0755, 0, 0, 0, &err) == -EINVAL && err, "adding after finish refused");
	lv_error_free(&err);
	close(fd);
}

int main(void)
{
	struct lv_error *err = NULL;
	char path[128], gz[128], out[128];
	cleanup_free char *buf = NULL;
	size_t len = 0;
	unsigned entries = 0;
	int r;

	snprintf(tmp, sizeof(tmp), "/tmp/test_cpio.XXXXXX");
	if (!mkdtemp(tmp)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}

	snprintf(path, sizeof(path), "%s/plain.cpio", tmp);
	r = write_sample(path, 0, &err);
	ok(r == 0, "wrote a plain archive%s%s", err ? ": " : "", err ? err->msg : "");
	lv_error_free(&err);
	buf = slurp(path, &len);
	ok(buf && parse_archive(buf, len, &entries) == 0 && entries == 8 + 32,
	   "headers 4-byte aligned, trailer present, padded to 512 (%u entries, %zu bytes)", entries, len);
	snprintf(out, sizeof(out), "%s/x-plain", tmp);
	/* Without root, cpio(1) extracts all but the device node and fails. */
	ok(sh("mkdir %s && cd %s && { cpio -idmu --quiet --no-absolute-filenames < %s%s; }", out, out, path,
	      geteuid() == 0 ? "" : " 2>/dev/null; true") == 0,
	   "cpio(1) extracts the plain archive");
	check_tree(out, "plain");

	snprintf(gz, sizeof(gz), "%s/a.cpio.gz", tmp);
	r = write_sample(gz, 6, &err);
	ok(r == 0, "wrote a gzip archive%s%s", err ? ": " : "", err ? err->msg : "");
	lv_error_free(&err);
	ok(sh("gzip -t %s", gz) == 0, "gzip -t accepts it");
	ok(sh("gzip -dc %s | cmp -s - %s", gz, path) == 0, "it decompresses to the plain archive");
	snprintf(out, sizeof(out), "%s/x-gz", tmp);
	ok(sh("mkdir %s && cd %s && { gzip -dc %s | cpio -idmu --quiet --no-absolute-filenames%s; }", out, out, gz,
	      geteuid() == 0 ? "" : " 2>/dev/null; true") == 0,
	   "cpio(1) extracts the gzip archive");
	check_tree(out, "gzip");

	test_errors();
	sh("rm -rf %s", tmp);
	return tap_done();
}
