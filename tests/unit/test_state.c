/* Unit tests for the container state store (runtime/state.c). */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/cleanup.h"
#include "../../runtime/state.h"
#include "tap.h"

static char tmpdir[] = "/tmp/lv-test-state-XXXXXX";
static char root[PATH_MAX];

static char *path_in(const char *a, const char *b)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", a, b) < 0)
		abort();
	return p;
}

static bool exists(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool msg_has(const struct lv_error *err, const char *needle)
{
	return err && err->msg && strstr(err->msg, needle);
}

static void fill_state(struct rt_state *st, const char *id)
{
	static struct rt_annotation ann[] = {
		{ (char *)"org.opencontainers.image.title", (char *)"demo" },
		{ (char *)"io.lightvm.mem", (char *)"256" },
	};
	memset(st, 0, sizeof(*st));
	st->id = (char *)id;
	st->pid = 4242;
	st->pid_start = 123456789012ULL;
	st->vmm_pid = 4243;
	st->vmm_start = 123456789013ULL;
	st->status = RT_STATUS_CREATED;
	st->exit_status = -1;
	st->bundle = (char *)"/srv/bundle with space";
	st->rootfs = (char *)"/srv/bundle with space/rootfs";
	st->created = (char *)"2026-11-22T04:23:42.123456789Z";
	st->owner = (char *)"";
	st->backend = (char *)"qemu";
	st->annotations = ann;
	st->nannotations = LV_ARRAY_SIZE(ann);
}

/* Creates a container with a state.json and returns nothing; fails the test loudly. */
static void make_container(const char *id)
{
	struct lv_error *err = NULL;
	struct rt_state st;
	cleanup_close int fd = rt_state_create(root, id, &err);

	fill_state(&st, id);
	if (fd < 0 || rt_state_write(fd, &st, &err) < 0)
		printf("# make_container %s: %s\n", id, err ? err->msg : "?");
	lv_error_free(&err);
}

static void test_ids(void)
{
	static const char *valid[] = { "a", "abc-123_x.y+z",
				       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				       "...", "A.b" };
	static const char *invalid[] = { "", ".", "..", "a/b", "a b", "\xc3\xa4", "a\nb", "/", "a\\b" };
	char *long_id = malloc(RT_ID_MAX + 2);
	struct lv_error *err = NULL;

	for (size_t i = 0; i < LV_ARRAY_SIZE(valid); i++)
		ok(rt_id_valid(valid[i]) && rt_id_check(valid[i], NULL) == 0, "id \"%s\" is valid", valid[i]);
	for (size_t i = 0; i < LV_ARRAY_SIZE(invalid); i++)
		ok(!rt_id_valid(invalid[i]), "id #%zu is invalid", i);
	ok(!rt_id_valid(NULL), "NULL id is invalid");

	memset(long_id, 'a', RT_ID_MAX);
	long_id[RT_ID_MAX] = '\0';
	ok(rt_id_valid(long_id), "id of %d characters is valid", RT_ID_MAX);
	long_id[RT_ID_MAX] = 'a';
	long_id[RT_ID_MAX + 1] = '\0';
	ok(!rt_id_valid(long_id), "id of %d characters is invalid", RT_ID_MAX + 1);
	ok(rt_id_check(long_id, &err) == -EINVAL && msg_has(err, "longer than") && strlen(err->msg) < 300,
	   "long id error is bounded: %s", err ? err->msg : "");
	lv_error_free(&err);
	free(long_id);

	ok(rt_id_check("a/b", &err) == -EINVAL && msg_has(err, "invalid container id \"a/b\""),
	   "clear message: %s", err ? err->msg : "");
	lv_error_free(&err);

	char *dir = NULL;
	ok(rt_state_path("/run/lv", "x1", &dir, &err) == 0 && dir && strcmp(dir, "/run/lv/x1") == 0,
	   "rt_state_path joins root and id");
	free(dir);
	dir = NULL;
	ok(rt_state_path("/run/lv", "../x", &dir, &err) == -EINVAL && !dir, "rt_state_path rejects bad id");
	lv_error_free(&err);
}

static void test_create(void)
{
	struct lv_error *err = NULL;
	struct stat sb;
	int fd, fd2;

	fd = rt_state_create(root, "c1", &err);
	ok(fd >= 0, "create c1 (root with parents): %s", err ? err->msg : "ok");
	ok(stat(root, &sb) == 0 && (sb.st_mode & 0777) == 0700, "root is 0700");
	cleanup_free char *dir = path_in(root, "c1");
	ok(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700, "container dir is 0700");

	fd2 = rt_state_create(root, "c1", &err);
	ok(fd2 == -EEXIST, "second create is -EEXIST");
	is_str(err ? err->msg : NULL, "container \"c1\" already exists", "EEXIST message");
	lv_error_free(&err);

	ok(rt_state_create(root, "a/b", &err) == -EINVAL && msg_has(err, "invalid container id"),
	   "create rejects invalid id");
	lv_error_free(&err);

	ok(rt_state_lock(root, "nope", &err) == -ENOENT, "lock of missing container is -ENOENT");
	is_str(err ? err->msg : NULL, "container \"nope\" does not exist", "ENOENT message");
	lv_error_free(&err);

	struct rt_state *st = NULL;
	ok(rt_state_read(fd, &st, &err) == -ENOENT && !st, "read before first write is -ENOENT");
	lv_error_free(&err);
	if (fd >= 0)
		close(fd);
	ok(rt_state_remove(root, "c1", &err) == 0, "remove c1");
	lv_error_free(&err);
}

static void test_roundtrip(void)
{
	struct lv_error *err = NULL;
	struct rt_state in, *out = NULL;
	cleanup_close int fd = rt_state_create(root, "rt", &err);

	fill_state(&in, "rt");
	ok(fd >= 0 && rt_state_write(fd, &in, &err) == 0, "write: %s", err ? err->msg : "ok");
	in.status = RT_STATUS_PAUSED;
	in.exit_status = 137;
	in.owner = (char *)"alice";
	ok(rt_state_write(fd, &in, &err) == 0, "overwrite: %s", err ? err->msg : "ok");
	ok(rt_state_read(fd, &out, &err) == 0 && out, "read: %s", err ? err->msg : "ok");
	lv_error_free(&err);
	if (!out)
		return;
	is_str(out->id, "rt", "id");
	ok(out->pid == 4242 && out->pid_start == 123456789012ULL, "pid and start");
	ok(out->vmm_pid == 4243 && out->vmm_start == 123456789013ULL, "vmm pid and start");
	ok(out->status == RT_STATUS_PAUSED, "status");
	ok(out->exit_status == 137, "exit status");
	is_str(out->bundle, in.bundle, "bundle");
	is_str(out->rootfs, in.rootfs, "rootfs");
	is_str(out->created, in.created, "created");
	is_str(out->owner, "alice", "owner");
	is_str(out->backend, "qemu", "backend");
	ok(out->nannotations == 2, "two annotations");
	bool found_all = out->nannotations == 2;
	for (size_t i = 0; i < in.nannotations && found_all; i++) {
		bool found = false;
		for (size_t k = 0; k < out->nannotations; k++)
			found |= strcmp(out->annotations[k].key, in.annotations[i].key) == 0 &&
				 strcmp(out->annotations[k].value, in.annotations[i].value) == 0;
		found_all &= found;
	}
	ok(found_all, "annotations round trip");
	rt_state_free(out);

	/* Atomicity: nothing but state.json left in the directory. */
	cleanup_free char *dir = path_in(root, "rt");
	DIR *d = opendir(dir);
	int others = 0, states = 0;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!strcmp(de->d_name, "state.json"))
			states++;
		else
			others++;
	}
	if (d)
		closedir(d);
	ok(states == 1 && others == 0, "no temporary files left after write");

	struct stat sb;
	cleanup_free char *file = path_in(dir, "state.json");
	ok(stat(file, &sb) == 0 && (sb.st_mode & 0777) == 0600, "state.json is 0600");

	struct rt_state bad;
	fill_state(&bad, "x/y");
	ok(rt_state_write(fd, &bad, &err) == -EINVAL, "write refuses an invalid id");
	lv_error_free(&err);
	ok(rt_state_remove(root, "rt", &err) == 0, "remove rt");
	lv_error_free(&err);
}

static void test_lock_blocks(void)
{
	struct lv_error *err = NULL;
	int pfd[2];
	char c;
	pid_t child;

	make_container("lk");
	if (pipe(pfd) < 0)
		abort();
	child = fork();
	if (child == 0) {
		struct lv_error *cerr = NULL;
		close(pfd[0]);
		int fd = rt_state_lock(root, "lk", &cerr);
		if (write(pfd[1], fd >= 0 ? "L" : "E", 1) != 1)
			_exit(2);
		usleep(200 * 1000);
		close(fd);
		_exit(0);
	}
	close(pfd[1]);
	ok(read(pfd[0], &c, 1) == 1 && c == 'L', "child holds the lock");
	close(pfd[0]);

	double t0 = now_ms();
	int fd = rt_state_lock(root, "lk", &err);
	double waited = now_ms() - t0;
	struct rt_state st;
	fill_state(&st, "lk");
	st.status = RT_STATUS_RUNNING;
	ok(fd >= 0 && rt_state_write(fd, &st, &err) == 0, "write after lock: %s", err ? err->msg : "ok");
	ok(waited >= 150, "lock waited for the holder (%.0f ms)", waited);
	if (fd >= 0)
		close(fd);
	int status = 0;
	waitpid(child, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exited cleanly");

	/* Shared locks coexist. */
	int s1 = rt_state_lock_shared(root, "lk", &err);
	int s2 = rt_state_lock_shared(root, "lk", &err);
	ok(s1 >= 0 && s2 >= 0, "two shared locks coexist");
	if (s1 >= 0)
		close(s1);
	if (s2 >= 0)
		close(s2);

	/* A waiter on a container deleted by the lock holder sees -ENOENT. */
	if (pipe(pfd) < 0)
		abort();
	child = fork();
	if (child == 0) {
		struct lv_error *cerr = NULL;
		close(pfd[0]);
		int cfd = rt_state_lock(root, "lk", &cerr);
		if (write(pfd[1], "L", 1) != 1)
			_exit(2);
		usleep(100 * 1000);
		int r = rt_state_remove(root, "lk", &cerr);
		close(cfd);
		_exit(r == 0 ? 0 : 1);
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1)
		c = 0;
	close(pfd[0]);
	fd = rt_state_lock(root, "lk", &err);
	ok(fd == -ENOENT && msg_has(err, "does not exist"), "waiter sees the container removed");
	lv_error_free(&err);
	if (fd >= 0)
		close(fd);
	waitpid(child, &status, 0);
}

static void test_live_status(void)
{
	struct lv_error *err = NULL;
	struct rt_state st;
	unsigned long long start = 0;
	bool zombie = true;

	fill_state(&st, "live");
	ok(rt_proc_start_time(getpid(), &start, &zombie, &err) == 0 && start > 0 && !zombie,
	   "own start time %llu", start);
	st.pid = getpid();
	st.pid_start = start;
	st.status = RT_STATUS_RUNNING;
	ok(rt_state_live_status(&st) == RT_STATUS_RUNNING, "own pid with right start time: stored status");
	st.status = RT_STATUS_PAUSED;
	ok(rt_state_live_status(&st) == RT_STATUS_PAUSED, "stored paused is returned");
	st.status = RT_STATUS_RUNNING;

	st.pid_start = start + 1;
	ok(rt_state_live_status(&st) == RT_STATUS_STOPPED, "pid reuse (wrong start time): stopped");
	st.pid_start = start;

	st.pid = 0;
	ok(rt_state_live_status(&st) == RT_STATUS_STOPPED, "pid 0: stopped");

	pid_t dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	st.pid = dead;
	ok(rt_state_live_status(&st) == RT_STATUS_STOPPED, "dead pid: stopped");
	ok(rt_proc_start_time(dead, &start, NULL, &err) == -ESRCH, "start time of dead pid is -ESRCH");
	lv_error_free(&err);

	pid_t z = fork();
	if (z == 0)
		_exit(3);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	/* Wait for the exit without reaping: the child stays a zombie. */
	waitid(P_PID, (id_t)z, &si, WEXITED | WNOWAIT);
	zombie = false;
	ok(rt_proc_start_time(z, &start, &zombie, &err) == 0 && zombie, "zombie is reported");
	lv_error_free(&err);
	st.pid = z;
	st.pid_start = start;
	ok(rt_state_live_status(&st) == RT_STATUS_STOPPED, "zombie: stopped");
	waitpid(z, NULL, 0);

	ok(rt_proc_start_time(-1, &start, NULL, &err) == -EINVAL, "negative pid is -EINVAL");
	lv_error_free(&err);
}

static void test_oci_json(void)
{
	struct rt_state st;
	unsigned long long start = 0;
	static const char *keys[] = { "ociVersion", "id", "pid", "status", "bundle",
				      "rootfs", "created", "owner", "annotations" };

	fill_state(&st, "oci");
	rt_proc_start_time(getpid(), &start, NULL, NULL);
	st.pid = getpid();
	st.pid_start = start;
	st.status = RT_STATUS_RUNNING;
	json_t *j = rt_state_to_oci_json(&st);
	ok(j && json_is_object(j), "oci json is an object");
	bool all = true;
	for (size_t i = 0; j && i < LV_ARRAY_SIZE(keys); i++)
		all &= json_object_get(j, keys[i]) != NULL;
	ok(all && json_object_size(j) == LV_ARRAY_SIZE(keys), "exactly the runc keys");
	is_str(json_string_value(json_object_get(j, "status")), "running", "status running");
	ok(json_integer_value(json_object_get(j, "pid")) == getpid(), "pid of a live container");
	is_str(json_string_value(json_object_get(j, "id")), "oci", "id");
	is_str(json_string_value(json_object_get(j, "bundle")), st.bundle, "bundle");
	is_str(json_string_value(json_object_get(j, "created")), st.created, "created");
	is_str(json_string_value(json_object_get(j, "owner")), "", "owner");
	is_str(json_string_value(json_object_get(json_object_get(j, "annotations"), "io.lightvm.mem")), "256",
	       "annotations object");
	json_decref(j);

	st.pid_start = start + 7;
	j = rt_state_to_oci_json(&st);
	is_str(json_string_value(json_object_get(j, "status")), "stopped", "status is the live status");
	ok(json_is_integer(json_object_get(j, "pid")) && json_integer_value(json_object_get(j, "pid")) == 0,
	   "pid 0 when stopped");
	json_decref(j);
}

static void test_list_remove(void)
{
	struct lv_error *err = NULL;
	char **ids = NULL;
	size_t n = 99;
	cleanup_free char *missing = path_in(tmpdir, "no-such-root");

	ok(rt_state_list(missing, &ids, &n, &err) == 0 && n == 0 && ids && !ids[0], "missing root: empty list");
	rt_strv_free(ids);

	make_container("c");
	make_container("a");
	make_container("b");
	cleanup_close int creating = rt_state_create(root, "d-creating", &err);
	ok(creating >= 0, "d-creating is being created (locked, no state.json)");
	/* Not containers: a leftover directory without state or lock, a file, a hidden dir. */
	cleanup_free char *stray = path_in(root, "stray");
	cleanup_free char *file = path_in(root, "file");
	cleanup_free char *hidden = path_in(root, ".pool");
	mkdir(stray, 0700);
	close(open(file, O_CREAT | O_WRONLY, 0600));
	mkdir(hidden, 0700);

	ok(rt_state_list(root, &ids, &n, &err) == 0, "list: %s", err ? err->msg : "ok");
	ok(n == 4 && ids && ids[0] && !strcmp(ids[0], "a") && !strcmp(ids[1], "b") && !strcmp(ids[2], "c") &&
		   !strcmp(ids[3], "d-creating") && !ids[4],
	   "list is sorted and holds only containers (%zu)", n);
	for (size_t i = 0; ids && n != 4 && i < n; i++)
		printf("#   listed %s\n", ids[i]);
	rt_strv_free(ids);
	ids = NULL;

	/* Remove a directory with every kind of entry; a symlink's target survives. */
	cleanup_free char *dir = path_in(root, "a");
	cleanup_free char *sub = path_in(dir, "sub");
	cleanup_free char *subsub = path_in(sub, "deeper");
	cleanup_free char *subfile = path_in(subsub, "f");
	cleanup_free char *fifo = path_in(dir, "fifo");
	cleanup_free char *sock = path_in(dir, "sock");
	cleanup_free char *link = path_in(dir, "link");
	cleanup_free char *dlink = path_in(dir, "dlink");
	cleanup_free char *target = path_in(tmpdir, "target");
	cleanup_free char *target_dir = path_in(tmpdir, "target-dir");
	cleanup_free char *target_in = path_in(target_dir, "keep");
	mkdir(sub, 0700);
	mkdir(subsub, 0700);
	close(open(subfile, O_CREAT | O_WRONLY, 0600));
	mkfifo(fifo, 0600);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	bool bound = s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (s >= 0)
		close(s);
	close(open(target, O_CREAT | O_WRONLY, 0600));
	mkdir(target_dir, 0700);
	close(open(target_in, O_CREAT | O_WRONLY, 0600));
	ok(symlink(target, link) == 0 && symlink(target_dir, dlink) == 0 && bound && exists(fifo),
	   "set up files, fifo, socket, symlinks");

	ok(rt_state_remove(root, "a", &err) == 0, "remove a: %s", err ? err->msg : "ok");
	ok(!exists(dir), "container directory is gone");
	ok(exists(target) && exists(target_in), "symlink targets survive");
	ok(rt_state_remove(root, "a", &err) == -ENOENT && msg_has(err, "does not exist"), "remove twice: -ENOENT");
	lv_error_free(&err);
	ok(rt_state_remove(root, "..", &err) == -EINVAL, "remove refuses \"..\"");
	lv_error_free(&err);

	ok(rt_state_list(root, &ids, &n, &err) == 0 && n == 3 && !strcmp(ids[0], "b"), "a is no longer listed");
	rt_strv_free(ids);
	lv_error_free(&err);
}

static void write_raw(const char *id, const char *text)
{
	cleanup_free char *dir = path_in(root, id);
	cleanup_free char *file = path_in(dir, "state.json");
	int fd = open(file, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		printf("# write_raw %s failed\n", file);
	if (fd >= 0)
		close(fd);
}

static void test_corrupt(void)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{ "", "corrupt state" },
		{ "{\"id\": \"bad\", \"pid\"", "corrupt state" },
		{ "[1, 2]", "not a JSON object" },
		{ "{\"id\": 5, \"status\": \"running\", \"bundle\": \"/b\", \"pid\": 1}", "\"id\" must be a string" },
		{ "{\"id\": \"bad\", \"status\": \"running\", \"bundle\": \"/b\"}", "missing \"pid\"" },
		{ "{\"id\": \"bad\", \"status\": \"zzz\", \"bundle\": \"/b\", \"pid\": 1}", "unknown \"status\"" },
		{ "{\"id\": \"bad\", \"status\": \"running\", \"bundle\": \"/b\", \"pid\": -4}", "\"pid\" is out of range" },
		{ "{\"id\": \"../x\", \"status\": \"running\", \"bundle\": \"/b\", \"pid\": 1}", "invalid \"id\"" },
		{ "{\"id\": \"bad\", \"status\": \"running\", \"bundle\": \"/b\", \"pid\": 1, \"annotations\": {\"k\": 1}}",
		  "annotation \"k\"" },
		{ "{\"id\": \"bad\", \"status\": \"running\", \"bundle\": \"/b\", \"pid\": 1, \"version\": 9}",
		  "\"version\"" },
	};
	struct lv_error *err = NULL;
	cleanup_close int fd = rt_state_create(root, "bad", &err);

	for (size_t i = 0; i < LV_ARRAY_SIZE(cases); i++) {
		struct rt_state *st = NULL;
		write_raw("bad", cases[i].text);
		int r = rt_state_read(fd, &st, &err);
		ok(r == -EINVAL && !st && msg_has(err, "bad/state.json") && msg_has(err, cases[i].needle),
		   "corrupt #%zu: %s", i, err ? err->msg : "(no error)");
		lv_error_free(&err);
		rt_state_free(st);
	}
	struct rt_state *st = NULL;
	write_raw("bad", "{\"id\": \"bad\", \"status\": \"stopped\", \"bundle\": \"/b\", \"pid\": 0}");
	ok(rt_state_read(fd, &st, &err) == 0 && st && st->exit_status == -1 && st->owner && !*st->owner &&
		   st->nannotations == 0,
	   "minimal state reads with defaults");
	rt_state_free(st);
	lv_error_free(&err);
}

static void test_misc(void)
{
	char *t = rt_now_rfc3339();
	ok(t && strlen(t) == 30 && t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[29] == 'Z',
	   "rt_now_rfc3339: %s", t ? t : "(null)");
	free(t);
	is_str(rt_status_name(RT_STATUS_CREATING), "creating", "status name creating");
	is_str(rt_status_name(RT_STATUS_STOPPED), "stopped", "status name stopped");
	enum rt_status s;
	ok(rt_status_parse("paused", &s) == 0 && s == RT_STATUS_PAUSED && rt_status_parse("x", &s) == -EINVAL,
	   "status parse");
	rt_strv_free(NULL);
	rt_state_free(NULL);
}

static void rm_rf(const char *path)
{
	char *cmd = NULL;
	if (asprintf(&cmd, "rm -rf '%s'", path) >= 0 && system(cmd) != 0)
		printf("# could not remove %s\n", path);
	free(cmd);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(root, sizeof(root), "%s/run/lightvm", tmpdir);

	test_ids();
	test_create();
	test_roundtrip();
	test_lock_blocks();
	test_live_status();
	test_oci_json();
	test_list_remove();
	test_corrupt();
	test_misc();

	rm_rf(tmpdir);
	return tap_done();
}
