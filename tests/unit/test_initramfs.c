/* rootfs → cached initramfs.  Run with "bench" as the argument to time a
 * busybox rootfs instead (needs /bin/busybox). */
#include "../../lib/cleanup.h"
#include "../../lib/error.h"
#include "../../runtime/initramfs.h"
#include "tap.h"
#include "testutil.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmp[64];
static char rootfs[128], cache[128];
static const char init_blob[] = "#!fake-init\n\x7f" "ELF pretend this is a static binary";

static int put(const char *rel, const char *data)
{
	char p[256];
	int fd, r = 0;

	snprintf(p, sizeof(p), "%s/%s", rootfs, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		r = -1;
	close(fd);
	return r;
}

static struct rt_initramfs_req req_for(const char *root, int level)
{
	struct rt_initramfs_req req = {
		.rootfs = root,
		.cache_dir = cache,
		.init = init_blob,
		.init_len = sizeof(init_blob),
		.init_path = "/.lightvm/init",
		.max_bytes = 64 << 20,
		.compress_level = level,
	};
	return req;
}

static bool readlink_is(const char *p, const char *want)
{
	char buf[256];
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);

	if (n < 0)
		return false;
	buf[n] = '\0';
	return strcmp(buf, want) == 0;
}

static void check_extracted(const char *x)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/etc/hello", x);
	ok(sh("grep -qx 'hello world' %s", p) == 0, "etc/hello content survives");
	snprintf(p, sizeof(p), "%s/hostetc", x);
	ok(lstat(p, &st) == 0 && S_ISLNK(st.st_mode) && readlink_is(p, "/etc"),
	   "a symlink to /etc is archived as a symlink, not followed");
	snprintf(p, sizeof(p), "%s/etc/passwd", x);
	ok(lstat(p, &st) < 0, "nothing of the host's /etc was copied");
	snprintf(p, sizeof(p), "%s/.lightvm/init", x);
	ok(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0755 &&
		   st.st_size == (off_t)sizeof(init_blob),
	   "init at .lightvm/init, mode 0755");
	snprintf(p, sizeof(p), "%s/tmp", x);
	ok(lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 01777, "tmp is 1777");
	snprintf(p, sizeof(p), "%s/proc", x);
	ok(lstat(p, &st) == 0 && S_ISDIR(st.st_mode), "proc added");
	snprintf(p, sizeof(p), "%s/sys", x);
	ok(lstat(p, &st) == 0 && S_ISDIR(st.st_mode), "sys added");
	snprintf(p, sizeof(p), "%s/run/fifo", x);
	ok(lstat(p, &st) == 0 && S_ISFIFO(st.st_mode), "fifo archived");
	snprintf(p, sizeof(p), "%s/run/sock", x);
	ok(lstat(p, &st) < 0, "socket skipped");
	if (geteuid() != 0) {
		ok(1, "# SKIP device nodes and owners need root to extract");
		return;
	}
	snprintf(p, sizeof(p), "%s/dev/console", x);
	ok(lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(5, 1) &&
		   (st.st_mode & 07777) == 0600,
	   "dev/console is char 5:1 mode 0600");
	snprintf(p, sizeof(p), "%s/dev/null", x);
	ok(lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3), "dev/null is char 1:3");
	snprintf(p, sizeof(p), "%s/etc/secret", x);
	ok(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_uid == 1234 && st.st_gid == 5678 &&
		   st.st_mtime == 1500000000,
	   "mode, uid, gid and mtime preserved");
}

static int make_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return r;
}

static void test_basic(void)
{
	struct rt_initramfs_req req = req_for(rootfs, 6);
	struct lv_error *err = NULL;
	cleanup_free char *p1 = NULL;
	cleanup_free char *p2 = NULL;
	cleanup_free char *p3 = NULL;
	char hex[65], hex2[65], hex3[65], x[160], sock[160], secret[160];
	struct stat st1, st2;
	struct timespec ts[2];
	uint64_t total = 0;
	bool root = geteuid() == 0;
	int r;

	snprintf(sock, sizeof(sock), "%s/run/sock", rootfs);
	snprintf(secret, sizeof(secret), "%s/etc/secret", rootfs);
	ok(sh("mkdir -p %s/etc %s/run %s/bin && ln -s /etc %s/hostetc && mkfifo %s/run/fifo", rootfs, rootfs,
	      rootfs, rootfs, rootfs) == 0 &&
		   put("etc/hello", "hello world\n") == 0 && put("etc/secret", "s3cret\n") == 0 &&
		   make_socket(sock) == 0 && chmod(secret, 0600) == 0 &&
		   (!root || lchown(secret, 1234, 5678) == 0) &&
		   sh("touch -d @1500000000 %s", secret) == 0,
	   "built a rootfs");

	r = rt_initramfs_get(&req, &p1, &err);
	ok(r == 0 && p1, "get: %s", err ? err->msg : p1);
	lv_error_free(&err);
	if (r < 0)
		return;
	ok(stat(p1, &st1) == 0 && S_ISREG(st1.st_mode), "archive exists");
	ok(stat(cache, &st2) == 0 && (st2.st_mode & 07777) == 0700, "missing cache dir created 0700");
	ok(strlen(p1) > 8 && strcmp(p1 + strlen(p1) - 8, ".cpio.gz") == 0, "named .cpio.gz");
	ok(rt_initramfs_key(&req, hex, &total, &err) == 0 && strstr(p1, hex) != NULL,
	   "rt_initramfs_key agrees with the file name");
	lv_error_free(&err);
	ok(total == strlen("hello world\n") + strlen("s3cret\n") + sizeof(init_blob), "total_bytes = %llu",
	   (unsigned long long)total);

	snprintf(x, sizeof(x), "%s/x1", tmp);
	/* Without root, cpio(1) extracts all but the device nodes and fails. */
	ok(sh("mkdir %s && cd %s && gzip -dc %s | cpio -idmu --quiet --no-absolute-filenames%s", x, x, p1,
	      root ? "" : " 2>/dev/null; true") == 0,
	   "cpio(1) extracts it");
	check_extracted(x);

	sleep(0); /* a rewrite would show as a new inode even within one tick */
	r = rt_initramfs_get(&req, &p2, &err);
	ok(r == 0 && p2 && strcmp(p1, p2) == 0, "second get returns the same path");
	lv_error_free(&err);
	ok(stat(p1, &st2) == 0 && st1.st_ino == st2.st_ino && st1.st_mtim.tv_sec == st2.st_mtim.tv_sec &&
		   st1.st_mtim.tv_nsec == st2.st_mtim.tv_nsec,
	   "and did not rewrite it (same inode and mtime)");

	/* Same size, same mtime afterwards: only ctime tells. */
	ok(lstat(secret, &st1) == 0 && put("etc/secret", "S3CRET\n") == 0, "rewrote a file in place");
	ts[0] = st1.st_atim;
	ts[1] = st1.st_mtim;
	ok(utimensat(AT_FDCWD, secret, ts, AT_SYMLINK_NOFOLLOW) == 0 && lstat(secret, &st2) == 0 &&
		   st2.st_mtim.tv_sec == st1.st_mtim.tv_sec && st2.st_size == st1.st_size,
	   "and reset its mtime");
	ok(rt_initramfs_key(&req, hex2, NULL, &err) == 0 && strcmp(hex, hex2) != 0, "the key changed");
	lv_error_free(&err);
	r = rt_initramfs_get(&req, &p3, &err);
	ok(r == 0 && p3 && strcmp(p1, p3) != 0 && strstr(p3, hex2), "get builds a new archive");
	lv_error_free(&err);

	req.compress_level = 9;
	ok(rt_initramfs_key(&req, hex3, NULL, &err) == 0 && strcmp(hex3, hex2) != 0,
	   "the compression level is part of the key");
	lv_error_free(&err);
	req.init_path = "sbin/lightvm-init";
	ok(rt_initramfs_key(&req, hex3, NULL, &err) == 0 && strcmp(hex3, hex2) != 0, "init_path is part of the key");
	lv_error_free(&err);
}

static void test_plain(void)
{
	struct rt_initramfs_req req = req_for(rootfs, 0);
	struct lv_error *err = NULL;
	cleanup_free char *p = NULL;
	char x[160];
	int r;

	r = rt_initramfs_get(&req, &p, &err);
	ok(r == 0 && p && strcmp(p + strlen(p) - 5, ".cpio") == 0, "level 0 gives a plain .cpio: %s",
	   err ? err->msg : p);
	lv_error_free(&err);
	if (r < 0)
		return;
	snprintf(x, sizeof(x), "%s/x0", tmp);
	ok(sh("mkdir %s && cd %s && { cpio -idmu --quiet --no-absolute-filenames < %s%s; } && test -x .lightvm/init",
	      x, x, p, geteuid() == 0 ? "" : " 2>/dev/null; true") == 0,
	   "cpio(1) extracts the plain archive");
}

static void test_limits(void)
{
	struct rt_initramfs_req req;
	struct lv_error *err = NULL;
	cleanup_free char *p = NULL;
	char big[160], msg[512], want[512];
	char hex[65];
	int r;

	snprintf(big, sizeof(big), "%s/big", tmp);
	ok(sh("mkdir -p %s/a && head -c 3145728 /dev/zero > %s/a/blob && head -c 1000 /dev/zero > %s/b", big, big,
	      big) == 0,
	   "made a 3 MiB rootfs");
	req = req_for(big, 6);
	req.max_bytes = 1 << 20;
	snprintf(cache, sizeof(cache), "%s/cache-limit", tmp);
	r = rt_initramfs_get(&req, &p, &err);
	snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
	snprintf(want, sizeof(want),
		 "rootfs \"%s\" holds 3.1 MiB, more than the 1 MiB an initramfs may hold (lightvm boots containers "
		 "from an initramfs; a block-image path for large root file systems is not available yet)",
		 big);
	ok(r == -EFBIG, "over max_bytes: EFBIG");
	is_str(msg, want, "the message explains the limit");
	ok(access(cache, F_OK) < 0, "and nothing was written, not even the cache dir");
	lv_error_free(&err);

	/* Depth bound. */
	ok(sh("mkdir -p %s/deep && cd %s/deep && for i in $(seq 260); do mkdir d && cd d || exit 1; done", tmp, tmp) == 0,
	   "made a 260-deep tree");
	snprintf(big, sizeof(big), "%s/deep", tmp);
	req = req_for(big, 6);
	r = rt_initramfs_key(&req, hex, NULL, &err);
	ok(r == -ELOOP && err && strstr(err->msg, "nested more than 256"), "depth bound: %s", err ? err->msg : "");
	lv_error_free(&err);

	req = req_for(rootfs, 6);
	req.init_path = "a/../../x";
	ok(rt_initramfs_key(&req, hex, NULL, &err) == -EINVAL, "init_path with \"..\" refused");
	lv_error_free(&err);
	req.compress_level = 10;
	req.init_path = ".lightvm/init";
	ok(rt_initramfs_key(&req, hex, NULL, &err) == -EINVAL, "level 10 refused");
	lv_error_free(&err);
	req = req_for("/nonexistent-rootfs", 6);
	ok(rt_initramfs_key(&req, hex, NULL, &err) == -ENOENT && err && strstr(err->msg, "/nonexistent-rootfs"),
	   "missing rootfs named: %s", err ? err->msg : "");
	lv_error_free(&err);
}

static void test_collisions(void)
{
	struct rt_initramfs_req req = req_for(rootfs, 6);
	struct lv_error *err = NULL;
	char path[160], hex[65];
	int r;

	snprintf(path, sizeof(path), "%s/.lightvm", rootfs);
	ok(mkdir(path, 0755) == 0 && put(".lightvm/init", "impostor") == 0, "rootfs gets its own .lightvm/init");
	r = rt_initramfs_key(&req, hex, NULL, &err);
	ok(r == -EEXIST && err && strstr(err->msg, "already contains \"/.lightvm/init\""), "collision refused: %s",
	   err ? err->msg : "");
	lv_error_free(&err);
	ok(sh("rm -rf %s && touch %s", path, path) == 0, ".lightvm is now a file");
	r = rt_initramfs_key(&req, hex, NULL, &err);
	ok(r == -EEXIST && err && strstr(err->msg, "not a directory"), "a file on the init path refused: %s",
	   err ? err->msg : "");
	lv_error_free(&err);
	ok(sh("rm -f %s && ln -s /tmp %s", path, path) == 0, ".lightvm is now a symlink to /tmp");
	r = rt_initramfs_key(&req, hex, NULL, &err);
	ok(r == -EEXIST, "a symlink on the init path refused (never written through)");
	lv_error_free(&err);
	unlink(path);
}

static void test_unreadable(void)
{
	struct rt_initramfs_req req = req_for(rootfs, 6);
	struct lv_error *err = NULL;
	cleanup_free char *p = NULL;
	char path[160];
	int r;

	if (geteuid() == 0) {
		ok(1, "# SKIP unreadable files: root reads everything");
		return;
	}
	snprintf(path, sizeof(path), "%s/etc/hello", rootfs);
	chmod(path, 0);
	r = rt_initramfs_get(&req, &p, &err);
	ok(r == -EACCES && err && strstr(err->msg, path), "unreadable file named: %s", err ? err->msg : "");
	lv_error_free(&err);
	chmod(path, 0644);
}

static void test_concurrent(void)
{
	struct rt_initramfs_req req = req_for(rootfs, 6);
	pid_t pids[4];
	int i, good = 0;

	snprintf(cache, sizeof(cache), "%s/cache-race", tmp);
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct lv_error *err = NULL;
			char *p = NULL;
			int r = rt_initramfs_get(&req, &p, &err);
			if (r == 0)
				r = sh("gzip -t %s", p);
			free(p);
			lv_error_free(&err);
			_exit(r == 0 ? 0 : 1);
		}
	}
	for (i = 0; i < 4; i++) {
		int st;
		if (pids[i] > 0 && waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			good++;
	}
	ok(good == 4, "4 concurrent builders all get a valid archive");
	ok(sh("test $(ls -A %s | wc -l) -eq 1", cache) == 0, "one archive, no temp files left behind");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench(void)
{
	static uint8_t init[100 * 1024];
	int levels[] = { 1, 6, 9 }, r;
	size_t i;

	/* Random bytes do not compress: the worst case for the init. */
	for (i = 0; i < sizeof(init); i++)
		init[i] = (uint8_t)(rand() >> 7);
	if (sh("mkdir -p %s/bin && cp /bin/busybox %s/bin/ && cd %s/bin && for a in $(./busybox --list); do "
	       "[ $a = busybox ] || ln -s busybox $a; done",
	       rootfs, rootfs, rootfs) != 0)
		return 1;
	sh("echo \"# rootfs: $(find %s | wc -l) entries, $(du -sh --apparent-size %s | cut -f1)\"", rootfs, rootfs);
	for (i = 0; i < LV_ARRAY_SIZE(levels); i++) {
		struct rt_initramfs_req req = req_for(rootfs, levels[i]);
		struct lv_error *err = NULL;
		char *p = NULL;
		struct stat st;
		double t0, t1, t2;

		req.init = init;
		req.init_len = sizeof(init);
		snprintf(cache, sizeof(cache), "%s/cache-bench-%d", tmp, levels[i]);
		t0 = now();
		r = rt_initramfs_get(&req, &p, &err);
		t1 = now();
		free(p);
		p = NULL;
		if (r == 0)
			r = rt_initramfs_get(&req, &p, &err);
		t2 = now();
		if (r < 0) {
			printf("# bench failed: %s\n", err->msg);
			lv_error_free(&err);
			return 1;
		}
		stat(p, &st);
		printf("# level %d: cold %.1f ms, cached %.2f ms, %lld bytes (%.2f MB)\n", levels[i], (t1 - t0) * 1e3,
		       (t2 - t1) * 1e3, (long long)st.st_size, (double)st.st_size / 1e6);
		free(p);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int r;

	snprintf(tmp, sizeof(tmp), "/tmp/test_initramfs.XXXXXX");
	if (!mkdtemp(tmp)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmp);
	snprintf(cache, sizeof(cache), "%s/var/cache/initramfs", tmp);
	if (argc > 1 && strcmp(argv[1], "bench") == 0) {
		r = bench();
		sh("rm -rf %s", tmp);
		return r;
	}
	test_basic();
	test_plain();
	test_collisions();
	test_unreadable();
	test_concurrent();
	test_limits();
	sh("rm -rf %s", tmp);
	return tap_done();
}
