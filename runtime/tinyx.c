#include "tinyx.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "state.h"

#define TINYX_MAX_LIBS 256

static int mkdir_p(const char *path, mode_t mode, struct lv_error **err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return lv_err_msg(err, ENAMETOOLONG, "path too long: %s", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return lv_err(err, errno, "mkdir %s", buf);
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return lv_err(err, errno, "mkdir %s", buf);
	return 0;
}

/* Copies host file SRC (following symlinks: a library's soname link
 * becomes the file itself) to ROOTFS/DEST. */
static int copy_in(const char *rootfs, const char *src, const char *dest, struct lv_error **err)
{
	char path[PATH_MAX];
	cleanup_close int in = -1;
	cleanup_close int out = -1;
	struct stat st;
	char *slash;
	off_t off = 0;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s%s", rootfs, dest) >= sizeof(path))
		return lv_err_msg(err, ENAMETOOLONG, "path too long: %s", dest);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0)
		return lv_err(err, errno, "%s", src);
	if (!S_ISREG(st.st_mode))
		return lv_err_msg(err, EINVAL, "%s: not a regular file", src);
	slash = strrchr(path, '/');
	*slash = '\0';
	r = mkdir_p(path, 0755, err);
	if (r < 0)
		return r;
	*slash = '/';
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 0755);
	if (out < 0)
		return lv_err(err, errno, "create %s", path);
	while (off < st.st_size) {
		ssize_t n = sendfile(out, in, &off, (size_t)(st.st_size - off));
		if (n <= 0)
			return lv_err(err, n < 0 ? errno : EIO, "copy %s", src);
	}
	return 0;
}

/* The app's shared libraries and program interpreter, from ldd.  ldd is
 * the loader's own answer (search paths, hwcaps), which objdump's NEEDED
 * list would only approximate.  Not on any container's start path. */
static int find_libs(const char *app, char **libs, size_t *n, struct lv_error **err)
{
	int pfd[2];
	pid_t pid;
	FILE *f;
	char line[PATH_MAX + 128];
	int status;

	*n = 0;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return lv_err(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return lv_err(err, errno, "fork ldd");
	}
	if (pid == 0) {
		dup2(pfd[1], 1);
		execlp("ldd", "ldd", app, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	if (!f) {
		close(pfd[0]);
		waitpid(pid, NULL, 0);
		return lv_err(err, errno, "fdopen");
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "=> /");
		char *path = p ? p + 3 : NULL;
		char *end;

		if (!path) {
			/* "\t/lib64/ld-linux-x86-64.so.2 (0x...)" */
			path = line + strspn(line, " \t");
			if (*path != '/')
				continue;
		}
		end = strpbrk(path, " \t\n(");
		if (end)
			*end = '\0';
		if (*n < TINYX_MAX_LIBS && (libs[*n] = strdup(path)))
			(*n)++;
	}
	fclose(f);
	waitpid(pid, &status, 0);
	return 0;
}

static int write_text(const char *dir, const char *name, const char *text, struct lv_error **err)
{
	char path[PATH_MAX + 64];
	cleanup_close int fd = -1;
	size_t len = strlen(text);

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return lv_err(err, errno, "write %s", path);
	return 0;
}

static int add_busybox(const char *rootfs, const char *busybox, const char *app, struct lv_error **err)
{
	static const char *const applets[] = { "sh", "ls", "cat", "echo", "env", "id", "ps", "sleep", "mount",
					       "hostname", "kill", "true", "false", "pwd", "mkdir", "rm", NULL };
	char path[PATH_MAX + 64];
	int r = copy_in(rootfs, busybox, "/bin/busybox", err);

	if (r < 0)
		return r;
	for (const char *const *a = applets; *a; a++) {
		snprintf(path, sizeof(path), "%s/bin/%s", rootfs, *a);
		if (strcmp(path + strlen(rootfs), app) == 0)
			continue; /* the app itself lives there */
		if (symlink("busybox", path) < 0 && errno != EEXIST)
			return lv_err(err, errno, "symlink %s", path);
	}
	return 0;
}

static int write_config(const char *out, const char *app, char *const *args, struct lv_error **err)
{
	char path[PATH_MAX + 16];
	json_t *argv = json_array();
	json_t *cfg;
	int r = 0;

	json_array_append_new(argv, json_string(app));
	for (; args && *args; args++)
		json_array_append_new(argv, json_string(*args));
	cfg = json_pack("{s:s,s:{s:b,s:{s:i,s:i},s:o,s:[s],s:s},s:{s:s,s:b},s:s}",
			"ociVersion", RT_OCI_VERSION,
			"process", "terminal", 0, "user", "uid", 0, "gid", 0, "args", argv, "env",
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "cwd", "/",
			"root", "path", "rootfs", "readonly", 1, "hostname", "tinyx");
	snprintf(path, sizeof(path), "%s/config.json", out);
	if (!cfg || json_dump_file(cfg, path, JSON_INDENT(2)) < 0)
		r = lv_err_msg(err, EIO, "write %s", path);
	json_decref(cfg);
	return r;
}

int rt_tinyx_make(const struct rt_tinyx_opts *o, struct lv_error **err)
{
	char *libs[TINYX_MAX_LIBS];
	char rootfs[PATH_MAX];
	const char *busybox = o->busybox ? o->busybox : "/bin/busybox";
	struct stat st;
	size_t nlibs = 0, i;
	DIR *d;
	int r;

	if (!o->app || o->app[0] != '/')
		return lv_err_msg(err, EINVAL, "--app: must be an absolute path to a host binary");
	if (stat(o->app, &st) < 0 || !S_ISREG(st.st_mode) || access(o->app, X_OK) < 0)
		return lv_err_msg(err, EINVAL, "--app \"%s\": not an executable file", o->app);
	if (!o->out || !*o->out)
		return lv_err_msg(err, EINVAL, "-o: missing bundle directory");
	d = opendir(o->out);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				closedir(d);
				return lv_err_msg(err, EEXIST, "-o \"%s\": directory is not empty", o->out);
			}
		closedir(d);
	}
	if ((size_t)snprintf(rootfs, sizeof(rootfs), "%s/rootfs", o->out) >= sizeof(rootfs))
		return lv_err_msg(err, ENAMETOOLONG, "-o: path too long");
	r = mkdir_p(rootfs, 0755, err);
	if (r < 0)
		return r;
	r = find_libs(o->app, libs, &nlibs, err);
	if (r < 0)
		return r;
	r = copy_in(rootfs, o->app, o->app, err);
	for (i = 0; r == 0 && i < nlibs; i++)
		r = copy_in(rootfs, libs[i], libs[i], err);
	for (i = 0; i < nlibs; i++)
		free(libs[i]);
	if (r == 0)
		r = add_busybox(rootfs, busybox, o->app, err);
	if (r == 0) {
		char etc[PATH_MAX + 8];
		snprintf(etc, sizeof(etc), "%s/etc", rootfs);
		r = mkdir_p(etc, 0755, err);
		if (r == 0)
			r = write_text(etc, "passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", err);
		if (r == 0)
			r = write_text(etc, "group", "root:x:0:\nnogroup:x:65534:\n", err);
	}
	if (r == 0)
		r = write_config(o->out, o->app, o->args, err);
	return r < 0 ? lv_err_wrap(err, "tinyx") : 0;
}
