/* The state root as a directory of containers: listing and removal. */
#include "state.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "state_internal.h"

/* Container directories hold files and maybe a level of subdirectories. */
#define REMOVE_MAX_DEPTH 32

static bool is_container_dir(int rootfd, const char *name)
{
	cleanup_close int fd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (faccessat(fd, RT_STATE_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return true;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		return errno == EWOULDBLOCK;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int rt_state_list(const char *root, char ***ids_out, size_t *n_out, struct lv_error **err)
{
	cleanup_dir DIR *d = NULL;
	char **ids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd;

	if (!root || !*root)
		return lv_err_msg(err, EINVAL, "state root directory must not be empty");
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return lv_err(err, errno, "open state root %s", root);
	if (fd >= 0) {
		d = fdopendir(fd);
		if (!d) {
			int e = errno;
			close(fd);
			return lv_err(err, e, "open state root %s", root);
		}
	}
	ids = calloc(1, sizeof(*ids));
	if (!ids)
		return lv_err(err, ENOMEM, "list %s", root);
	cap = 1;
	while (d) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				rt_strv_free(ids);
				return lv_err(err, errno, "list %s", root);
			}
			break;
		}
		if (!rt_id_valid(de->d_name))
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (!is_container_dir(dirfd(d), de->d_name))
			continue;
		if (n + 1 >= cap) {
			char **nids = realloc(ids, cap * 2 * sizeof(*ids));
			if (!nids) {
				rt_strv_free(ids);
				return lv_err(err, ENOMEM, "list %s", root);
			}
			ids = nids;
			cap *= 2;
		}
		ids[n] = strdup(de->d_name);
		if (!ids[n]) {
			rt_strv_free(ids);
			return lv_err(err, ENOMEM, "list %s", root);
		}
		ids[++n] = NULL;
	}
	qsort(ids, n, sizeof(*ids), cmp_str);
	*ids_out = ids;
	*n_out = n;
	return 0;
}

/* Empties the directory dirfd (consumed); never follows symlinks. */
static int remove_contents(int fd, int depth)
{
	cleanup_dir DIR *d = fdopendir(fd);
	struct dirent *de;
	int first = 0;

	if (!d) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (depth > REMOVE_MAX_DEPTH)
		return -ELOOP;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno && !first)
				first = -errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR) {
			if (!first)
				first = -errno;
			continue;
		}
		int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int r = sub < 0 ? -errno : remove_contents(sub, depth + 1);
		if (r == 0 && unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			r = -errno;
		if (r < 0 && !first)
			first = r;
	}
	return first;
}

int rt_state_remove(const char *root, const char *id, struct lv_error **err)
{
	cleanup_close int rootfd = -1;
	int fd, r;

	r = rt_id_check(id, err);
	if (r < 0)
		return r;
	rootfd = open(root ? root : "", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 && errno == ENOENT)
		return lv_err_msg(err, ENOENT, "container \"%s\" does not exist", id);
	if (rootfd < 0)
		return lv_err(err, errno, "open state root %s", root ? root : "");
	fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return lv_err_msg(err, ENOENT, "container \"%s\" does not exist", id);
		return lv_err(err, errno, "remove %s/%s", root, id);
	}
	r = remove_contents(fd, 0);
	if (r == 0 && unlinkat(rootfd, id, AT_REMOVEDIR) < 0)
		r = -errno;
	if (r < 0)
		return lv_err(err, -r, "remove %s/%s", root, id);
	return 0;
}

