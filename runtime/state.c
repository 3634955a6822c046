#include "state.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "state_internal.h"

/* state.json is small; anything larger is not ours. */
#define STATE_MAX_BYTES (16u << 20)

static const char *const status_names[] = {
	[RT_STATUS_CREATING] = "creating",
	[RT_STATUS_CREATED] = "created",
	[RT_STATUS_RUNNING] = "running",
	[RT_STATUS_PAUSED] = "paused",
	[RT_STATUS_STOPPED] = "stopped",
};

#define cleanup_json __attribute__((cleanup(json_decrefp))) /* from jansson.h */

const char *rt_status_name(enum rt_status status)
{
	if ((unsigned)status < LV_ARRAY_SIZE(status_names))
		return status_names[status];
	return "unknown";
}

int rt_status_parse(const char *name, enum rt_status *out)
{
	for (size_t i = 0; i < LV_ARRAY_SIZE(status_names); i++) {
		if (name && strcmp(name, status_names[i]) == 0) {
			*out = (enum rt_status)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool rt_id_valid(const char *id)
{
	size_t len;

	if (!id)
		return false;
	len = strlen(id);
	if (len == 0 || len > RT_ID_MAX || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return false;
	for (const char *p = id; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '+' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* A bounded, printable rendering of an untrusted id for messages. */
static void quote_id(const char *id, char *buf, size_t size)
{
	size_t o = 0;
	const size_t max_in = 64;
	size_t i;

	for (i = 0; id[i] && i < max_in && o + 5 < size; i++) {
		unsigned char c = (unsigned char)id[i];
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	if (id[i] && o + 4 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

int rt_id_check(const char *id, struct lv_error **err)
{
	char q[300];

	if (rt_id_valid(id))
		return 0;
	if (!id)
		return lv_err_msg(err, EINVAL, "invalid container id: missing");
	quote_id(id, q, sizeof(q));
	if (!*id)
		return lv_err_msg(err, EINVAL, "invalid container id \"\": must not be empty");
	if (strlen(id) > RT_ID_MAX)
		return lv_err_msg(err, EINVAL, "invalid container id \"%s\": longer than %d characters", q,
				  RT_ID_MAX);
	if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return lv_err_msg(err, EINVAL, "invalid container id \"%s\": must not be \".\" or \"..\"", q);
	return lv_err_msg(err, EINVAL,
			  "invalid container id \"%s\": only letters, digits, '_', '+', '-' and '.' are allowed",
			  q);
}

int rt_state_path(const char *root, const char *id, char **dir_out, struct lv_error **err)
{
	int r = rt_id_check(id, err);

	if (r < 0)
		return r;
	if (!root || !*root)
		return lv_err_msg(err, EINVAL, "state root directory must not be empty");
	if (asprintf(dir_out, "%s/%s", root, id) < 0) {
		*dir_out = NULL;
		return lv_err(err, ENOMEM, "state path of \"%s\"", id);
	}
	return 0;
}

/* mkdir -p with 0700 for every directory created; returns an fd of ROOT. */
int rt_state_root_open(const char *root, bool create, struct lv_error **err)
{
	int fd;

	if (!root || !*root)
		return lv_err_msg(err, EINVAL, "state root directory must not be empty");
	if (create) {
		cleanup_free char *p = strdup(root);
		if (!p)
			return lv_err(err, ENOMEM, "state root %s", root);
		for (char *s = p + 1;; s++) {
			if (*s != '/' && *s != '\0')
				continue;
			char saved = *s;
			*s = '\0';
			if (mkdir(p, 0700) < 0 && errno != EEXIST)
				return lv_err(err, errno, "create state root %s", p);
			*s = saved;
			if (!saved)
				break;
		}
	}
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lv_err(err, errno, "open state root %s", root);
	return fd;
}

int rt_state_flock(int fd, int op)
{
	int r;

	do
		r = flock(fd, op);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

int rt_state_create(const char *root, const char *id, struct lv_error **err)
{
	cleanup_close int rootfd = -1;
	cleanup_close int fd = -1;
	int r;

	if (!root || !id)
		return lv_err_msg(err, EINVAL, "state: missing root or container id");
	r = rt_id_check(id, err);
	if (r < 0)
		return r;
	rootfd = rt_state_root_open(root, true, err);
	if (rootfd < 0)
		return rootfd;
	if (mkdirat(rootfd, id, 0700) < 0) {
		if (errno == EEXIST)
			return lv_err_msg(err, EEXIST, "container \"%s\" already exists", id);
		return lv_err(err, errno, "create %s/%s", root, id);
	}
	fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = lv_err(err, errno, "open %s/%s", root, id);
		unlinkat(rootfd, id, AT_REMOVEDIR);
		return r;
	}
	r = rt_state_flock(fd, LOCK_EX);
	if (r < 0) {
		r = lv_err(err, -r, "lock %s/%s", root, id);
		unlinkat(rootfd, id, AT_REMOVEDIR);
		return r;
	}
	return lv_take_fd(&fd);
}

static int state_lock(const char *root, const char *id, int op, struct lv_error **err)
{
	cleanup_close int rootfd = -1;
	cleanup_close int fd = -1;
	struct stat sb;
	int r;

	r = rt_id_check(id, err);
	if (r < 0)
		return r;
	rootfd = open(root ? root : "", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		if (errno == ENOENT)
			return lv_err_msg(err, ENOENT, "container \"%s\" does not exist", id);
		return lv_err(err, errno, "open state root %s", root ? root : "");
	}
	fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return lv_err_msg(err, ENOENT, "container \"%s\" does not exist", id);
		return lv_err(err, errno, "open %s/%s", root, id);
	}
	r = rt_state_flock(fd, op);
	if (r < 0)
		return lv_err(err, -r, "lock %s/%s", root, id);
	/* The holder we waited for may have deleted the container. */
	if (fstat(fd, &sb) < 0)
		return lv_err(err, errno, "stat %s/%s", root, id);
	if (sb.st_nlink == 0)
		return lv_err_msg(err, ENOENT, "container \"%s\" does not exist", id);
	return lv_take_fd(&fd);
}

int rt_state_lock(const char *root, const char *id, struct lv_error **err)
{
	return state_lock(root, id, LOCK_EX, err);
}

int rt_state_lock_shared(const char *root, const char *id, struct lv_error **err)
{
	return state_lock(root, id, LOCK_SH, err);
}

/* The path of dirfd's state.json for messages; falls back to the bare name. */
static char *state_file_name(int dirfd)
{
	char link[64], target[PATH_MAX];
	char *s = NULL;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		if (asprintf(&s, "%s/%s", target, RT_STATE_FILE) < 0)
			s = NULL;
	}
	return s ? s : strdup(RT_STATE_FILE);
}

static json_t *annotations_to_json(const struct rt_state *st)
{
	json_t *ann = json_object();

	if (!ann)
		return NULL;
	for (size_t i = 0; i < st->nannotations; i++) {
		const struct rt_annotation *a = &st->annotations[i];
		if (!a->key || json_object_set_new(ann, a->key, json_string(a->value ? a->value : "")) < 0) {
			json_decref(ann);
			return NULL;
		}
	}
	return ann;
}

static json_t *state_to_json(const struct rt_state *st)
{
	json_t *ann = annotations_to_json(st);

	if (!ann)
		return NULL;
	/* "o" steals ann even when packing fails. */
	return json_pack("{s:i, s:s, s:i, s:I, s:i, s:I, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:o}",
		      "version", 1,
		      "id", st->id,
		      "pid", st->pid,
		      "pidStart", (json_int_t)st->pid_start,
		      "vmmPid", st->vmm_pid,
		      "vmmStart", (json_int_t)st->vmm_start,
		      "status", rt_status_name(st->status),
		      "exitStatus", st->exit_status,
		      "bundle", st->bundle ? st->bundle : "",
		      "rootfs", st->rootfs ? st->rootfs : "",
		      "created", st->created ? st->created : "",
		      "owner", st->owner ? st->owner : "",
		      "backend", st->backend ? st->backend : "",
		      "annotations", ann);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int rt_state_write(int dirfd, const struct rt_state *st, struct lv_error **err)
{
	cleanup_json json_t *j = NULL;
	cleanup_free char *text = NULL;
	cleanup_free char *name = NULL;
	cleanup_close int fd = -1;
	char tmp[64];
	int r;

	if (!st || !rt_id_valid(st->id))
		return lv_err_msg(err, EINVAL, "write state: invalid container id");
	if ((unsigned)st->status >= LV_ARRAY_SIZE(status_names))
		return lv_err_msg(err, EINVAL, "write state of \"%s\": invalid status %d", st->id, (int)st->status);
	if (st->pid < 0 || st->vmm_pid < 0 || st->pid_start > INT64_MAX || st->vmm_start > INT64_MAX)
		return lv_err_msg(err, EINVAL, "write state of \"%s\": invalid pid", st->id);
	j = state_to_json(st);
	if (!j)
		return lv_err(err, ENOMEM, "write state of \"%s\"", st->id);
	text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return lv_err(err, ENOMEM, "write state of \"%s\"", st->id);
	name = state_file_name(dirfd);
	if (!name)
		return lv_err(err, ENOMEM, "write state of \"%s\"", st->id);

	/* Writers hold the exclusive lock, so the pid only guards against a
	 * caller that forgot it; O_EXCL refuses to follow a planted link. */
	snprintf(tmp, sizeof(tmp), ".%s.tmp.%d", RT_STATE_FILE, (int)getpid());
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && unlinkat(dirfd, tmp, 0) == 0)
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return lv_err(err, errno, "write %s: create temporary file", name);
	r = write_all(fd, text, strlen(text));
	if (r == 0)
		r = write_all(fd, "\n", 1);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && close(lv_take_fd(&fd)) < 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, RT_STATE_FILE) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return lv_err(err, -r, "write %s", name);
	}
	if (fsync(dirfd) < 0)
		return lv_err(err, errno, "write %s: sync directory", name);
	return 0;
}

static int read_file_at(int dirfd, const char *file, char **buf_out, size_t *len_out)
{
	cleanup_close int fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		if (len == cap) {
			if (cap >= STATE_MAX_BYTES)
				return -EFBIG;
			cap = cap ? cap * 2 : 4096;
			char *nb = realloc(buf, cap);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*buf_out = lv_take_ptr(&buf);
	*len_out = len;
	return 0;
}

/* Field getters that name the file and the field in their errors. */
static int get_str(json_t *o, const char *key, bool required, char **out, const char *file,
		   struct lv_error **err)
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		if (required)
			return lv_err_msg(err, EINVAL, "%s: missing \"%s\"", file, key);
		*out = strdup("");
	} else if (!json_is_string(v)) {
		return lv_err_msg(err, EINVAL, "%s: \"%s\" must be a string", file, key);
	} else {
		*out = strdup(json_string_value(v));
	}
	if (!*out)
		return lv_err(err, ENOMEM, "%s", file);
	return 0;
}

static int get_int(json_t *o, const char *key, bool required, long long min, long long max, long long *out,
		   const char *file, struct lv_error **err)
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		if (required)
			return lv_err_msg(err, EINVAL, "%s: missing \"%s\"", file, key);
		return 0; /* *out keeps its default */
	}
	if (!json_is_integer(v))
		return lv_err_msg(err, EINVAL, "%s: \"%s\" must be an integer", file, key);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return lv_err_msg(err, EINVAL, "%s: \"%s\" is out of range", file, key);
	*out = json_integer_value(v);
	return 0;
}

static int state_from_json(json_t *j, struct rt_state *st, const char *file, struct lv_error **err)
{
	cleanup_free char *status = NULL;
	long long version = 1, pid = 0, pid_start = 0, vmm_pid = 0, vmm_start = 0, exit_status = -1;
	json_t *ann, *v;
	const char *key;
	int r;

	if (!json_is_object(j))
		return lv_err_msg(err, EINVAL, "%s: not a JSON object", file);
	r = get_int(j, "version", false, 1, 1, &version, file, err);
	if (r < 0)
		return r;
	if ((r = get_str(j, "id", true, &st->id, file, err)) < 0 ||
	    (r = get_str(j, "status", true, &status, file, err)) < 0 ||
	    (r = get_str(j, "bundle", true, &st->bundle, file, err)) < 0 ||
	    (r = get_str(j, "rootfs", false, &st->rootfs, file, err)) < 0 ||
	    (r = get_str(j, "created", false, &st->created, file, err)) < 0 ||
	    (r = get_str(j, "owner", false, &st->owner, file, err)) < 0 ||
	    (r = get_str(j, "backend", false, &st->backend, file, err)) < 0 ||
	    (r = get_int(j, "pid", true, 0, INT_MAX, &pid, file, err)) < 0 ||
	    (r = get_int(j, "pidStart", false, 0, INT64_MAX, &pid_start, file, err)) < 0 ||
	    (r = get_int(j, "vmmPid", false, 0, INT_MAX, &vmm_pid, file, err)) < 0 ||
	    (r = get_int(j, "vmmStart", false, 0, INT64_MAX, &vmm_start, file, err)) < 0 ||
	    (r = get_int(j, "exitStatus", false, -1, INT_MAX, &exit_status, file, err)) < 0)
		return r;
	if (!rt_id_valid(st->id))
		return lv_err_msg(err, EINVAL, "%s: invalid \"id\"", file);
	if (rt_status_parse(status, &st->status) < 0)
		return lv_err_msg(err, EINVAL, "%s: unknown \"status\"", file);
	st->pid = (int)pid;
	st->pid_start = (unsigned long long)pid_start;
	st->vmm_pid = (int)vmm_pid;
	st->vmm_start = (unsigned long long)vmm_start;
	st->exit_status = (int)exit_status;

	ann = json_object_get(j, "annotations");
	if (!ann || json_is_null(ann))
		return 0;
	if (!json_is_object(ann))
		return lv_err_msg(err, EINVAL, "%s: \"annotations\" must be an object", file);
	st->annotations = calloc(json_object_size(ann) + 1, sizeof(*st->annotations));
	if (!st->annotations)
		return lv_err(err, ENOMEM, "%s", file);
	json_object_foreach(ann, key, v) {
		struct rt_annotation *a = &st->annotations[st->nannotations];
		if (!json_is_string(v))
			return lv_err_msg(err, EINVAL, "%s: annotation \"%s\" must be a string", file, key);
		a->key = strdup(key);
		a->value = strdup(json_string_value(v));
		st->nannotations++;
		if (!a->key || !a->value)
			return lv_err(err, ENOMEM, "%s", file);
	}
	return 0;
}

int rt_state_read(int dirfd, struct rt_state **out, struct lv_error **err)
{
	cleanup_free char *name = state_file_name(dirfd);
	cleanup_free char *buf = NULL;
	cleanup_json json_t *j = NULL;
	struct rt_state *st;
	json_error_t jerr;
	size_t len = 0;
	int r;

	if (!name)
		return lv_err(err, ENOMEM, "read %s", RT_STATE_FILE);
	r = read_file_at(dirfd, RT_STATE_FILE, &buf, &len);
	if (r == -ENOENT)
		return lv_err_msg(err, ENOENT, "read %s: no state (container still being created?)", name);
	if (r < 0)
		return lv_err(err, -r, "read %s", name);
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return lv_err_msg(err, EINVAL, "%s: corrupt state: %s (line %d, column %d)", name, jerr.text,
				  jerr.line, jerr.column);
	st = calloc(1, sizeof(*st));
	if (!st)
		return lv_err(err, ENOMEM, "read %s", name);
	r = state_from_json(j, st, name, err);
	if (r < 0) {
		rt_state_free(st);
		return r;
	}
	*out = st;
	return 0;
}

int rt_proc_start_time(int pid, unsigned long long *start, bool *zombie, struct lv_error **err)
{
	char path[64], buf[1024];
	cleanup_close int fd = -1;
	const char *p;
	char state;
	ssize_t n;

	if (pid <= 0)
		return lv_err_msg(err, EINVAL, "invalid pid %d", pid);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ESRCH)
			return lv_err_msg(err, ESRCH, "process %d does not exist", pid);
		return lv_err(err, errno, "open %s", path);
	}
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == ESRCH)
			return lv_err_msg(err, ESRCH, "process %d does not exist", pid);
		return lv_err(err, errno, "read %s", path);
	}
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c", &state) != 1)
		return lv_err_msg(err, EINVAL, "%s: unexpected format", path);
	p += 2; /* ") " */
	/* Field 3 is the state; skip it and the 18 fields up to field 22. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return lv_err_msg(err, EINVAL, "%s: unexpected format", path);
		p++;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || end == p || (*end != ' ' && *end != '\n' && *end != '\0'))
		return lv_err_msg(err, EINVAL, "%s: unexpected start time", path);
	*start = v;
	if (zombie)
		*zombie = state == 'Z';
	return 0;
}

enum rt_status rt_state_live_status(const struct rt_state *st)
{
	unsigned long long start;
	bool zombie;

	if (!st || st->pid <= 0)
		return RT_STATUS_STOPPED;
	if (rt_proc_start_time(st->pid, &start, &zombie, NULL) < 0)
		return RT_STATUS_STOPPED;
	if (zombie || start != st->pid_start)
		return RT_STATUS_STOPPED;
	return st->status;
}

json_t *rt_state_to_oci_json(const struct rt_state *st)
{
	enum rt_status live = rt_state_live_status(st);
	json_t *ann = annotations_to_json(st);

	if (!ann)
		return NULL;
	return json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:o}",
			 "ociVersion", RT_OCI_VERSION,
			 "id", st->id ? st->id : "",
			 "pid", live == RT_STATUS_STOPPED ? 0 : st->pid,
			 "status", rt_status_name(live),
			 "bundle", st->bundle ? st->bundle : "",
			 "rootfs", st->rootfs ? st->rootfs : "",
			 "created", st->created ? st->created : "",
			 "owner", st->owner ? st->owner : "",
			 "annotations", ann);
}

/* A container directory: has state.json, or somebody holds its lock because
 * it is being created.  Other directories under ROOT are not containers. */
void rt_state_free(struct rt_state *st)
{
	if (!st)
		return;
	free(st->id);
	free(st->bundle);
	free(st->rootfs);
	free(st->created);
	free(st->owner);
	free(st->backend);
	for (size_t i = 0; i < st->nannotations; i++) {
		free(st->annotations[i].key);
		free(st->annotations[i].value);
	}
	free(st->annotations);
	free(st);
}

char *rt_now_rfc3339(void)
{
	struct timespec ts;
	struct tm tm;
	char date[32];
	char *s;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !gmtime_r(&ts.tv_sec, &tm))
		return NULL;
	if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return NULL;
	if (asprintf(&s, "%s.%09ldZ", date, (long)ts.tv_nsec) < 0)
		return NULL;
	return s;
}
