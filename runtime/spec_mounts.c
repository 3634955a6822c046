/* config.json "mounts" → struct rt_mount, and the host-side classification
 * of bind mounts (rt_spec_resolve_mounts). */
#define RT_SPEC_INTERNAL
#include "spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "../lib/cleanup.h"

/* The option names runc knows (libcontainer/specconv).  Propagation and
 * tmpcopyup are accepted with no effect: the guest has a single mount
 * namespace and the bind sources that survive resolve() are copied. */
static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_opts[] = {
	{ "defaults", false, 0 },
	{ "ro", false, MS_RDONLY },
	{ "rw", true, MS_RDONLY },
	{ "nosuid", false, MS_NOSUID },
	{ "suid", true, MS_NOSUID },
	{ "nodev", false, MS_NODEV },
	{ "dev", true, MS_NODEV },
	{ "noexec", false, MS_NOEXEC },
	{ "exec", true, MS_NOEXEC },
	{ "sync", false, MS_SYNCHRONOUS },
	{ "async", true, MS_SYNCHRONOUS },
	{ "dirsync", false, MS_DIRSYNC },
	{ "remount", false, MS_REMOUNT },
	{ "mand", false, MS_MANDLOCK },
	{ "nomand", true, MS_MANDLOCK },
	{ "atime", true, MS_NOATIME },
	{ "noatime", false, MS_NOATIME },
	{ "diratime", true, MS_NODIRATIME },
	{ "nodiratime", false, MS_NODIRATIME },
	{ "relatime", false, MS_RELATIME },
	{ "norelatime", true, MS_RELATIME },
	{ "strictatime", false, MS_STRICTATIME },
	{ "nostrictatime", true, MS_STRICTATIME },
	{ "bind", false, MS_BIND },
	{ "rbind", false, MS_BIND | MS_REC },
	{ "private", false, 0 },
	{ "rprivate", false, 0 },
	{ "shared", false, 0 },
	{ "rshared", false, 0 },
	{ "slave", false, 0 },
	{ "rslave", false, 0 },
	{ "unbindable", false, 0 },
	{ "runbindable", false, 0 },
	{ "tmpcopyup", false, 0 },
};

static const char *const guest_types[] = { "tmpfs", "proc", "sysfs", "devpts", "mqueue" };
static const char *const ignored_types[] = { "cgroup", "cgroup2" };

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

/* Appends opt to the ','-joined *data. */
static int data_append(char **data, const char *opt)
{
	char *joined;

	if (asprintf(&joined, "%s%s%s", *data ? *data : "", *data ? "," : "", opt) < 0)
		return -ENOMEM;
	free(*data);
	*data = joined;
	return 0;
}

static int parse_options(const json_t *v, const char *path, struct rt_mount *m, struct lv_error **err)
{
	int r = rt_js_array(v, path, err);

	if (r < 0 || !rt_js_present(v))
		return r;
	for (size_t i = 0; i < json_array_size(v); i++) {
		const char *opt = NULL;
		char p[RT_JPATH_MAX];
		size_t k;

		rt_jpath(p, sizeof(p), "%s[%zu]", path, i);
		if (!json_is_string(json_array_get(v, i)))
			return rt_js_fail(err, p, "must be a string");
		if ((r = rt_js_string_ref(json_array_get(v, i), p, &opt, err)) < 0)
			return r;
		for (k = 0; k < LV_ARRAY_SIZE(mount_opts); k++)
			if (strcmp(opt, mount_opts[k].name) == 0)
				break;
		if (k == LV_ARRAY_SIZE(mount_opts)) {
			if (opt[0] && data_append(&m->data, opt) < 0)
				return lv_err(err, ENOMEM, "%s", p);
			continue;
		}
		if (mount_opts[k].clear)
			m->flags &= ~mount_opts[k].flag;
		else
			m->flags |= mount_opts[k].flag;
		if (mount_opts[k].flag & MS_BIND)
			m->bind = true;
	}
	return 0;
}

static int parse_mount(const json_t *v, const char *path, struct rt_mount *m, struct lv_error **err)
{
	const json_t *maps[] = { json_object_get(v, "uidMappings"), json_object_get(v, "gidMappings") };
	char p[RT_JPATH_MAX];
	int r;

	if (!json_is_object(v))
		return rt_js_fail(err, path, "must be an object");
	rt_jpath(p, sizeof(p), "%s.destination", path);
	if (!rt_js_present(json_object_get(v, "destination")))
		return rt_js_fail(err, p, "is required");
	if ((r = rt_js_string(json_object_get(v, "destination"), p, &m->destination, err)) < 0)
		return r;
	if (m->destination[0] != '/')
		return rt_js_fail(err, p, "must be an absolute path, not \"%s\"", m->destination);
	rt_jpath(p, sizeof(p), "%s.type", path);
	if ((r = rt_js_string(json_object_get(v, "type"), p, &m->type, err)) < 0)
		return r;
	rt_jpath(p, sizeof(p), "%s.source", path);
	if ((r = rt_js_string(json_object_get(v, "source"), p, &m->source, err)) < 0)
		return r;
	rt_jpath(p, sizeof(p), "%s.options", path);
	if ((r = parse_options(json_object_get(v, "options"), p, m, err)) < 0)
		return r;
	for (size_t i = 0; i < LV_ARRAY_SIZE(maps); i++) {
		if (rt_js_present(maps[i]) && (!json_is_array(maps[i]) || json_array_size(maps[i]) > 0))
			return rt_js_fail(err, path, "idmapped mounts are not supported");
	}
	if (m->type && strcmp(m->type, "bind") == 0)
		m->bind = true;
	if (m->bind) {
		m->kind = RT_MOUNT_GUEST; /* provisional: rt_spec_resolve() decides */
		return 0;
	}
	if (!m->type || !m->type[0])
		return rt_js_fail(err, path, "a mount that is not a bind mount needs a file system type");
	if (in_list(m->type, guest_types, LV_ARRAY_SIZE(guest_types)))
		m->kind = RT_MOUNT_GUEST;
	else if (in_list(m->type, ignored_types, LV_ARRAY_SIZE(ignored_types)))
		m->kind = RT_MOUNT_IGNORED;
	else
		return rt_js_fail(err, path, "file system type \"%s\" is not supported in a lightvm guest", m->type);
	return 0;
}

int rt_spec_parse_mounts(const json_t *v, struct rt_spec *spec, struct lv_error **err)
{
	int r = rt_js_array(v, "mounts", err);
	size_t n;

	if (r < 0 || !rt_js_present(v) || (n = json_array_size(v)) == 0)
		return r;
	spec->mounts = calloc(n, sizeof(*spec->mounts));
	if (!spec->mounts)
		return lv_err(err, ENOMEM, "mounts");
	for (size_t i = 0; i < n; i++) {
		char p[RT_JPATH_MAX];

		spec->nmounts = i + 1; /* so rt_spec_free() sees the partial entry */
		rt_jpath(p, sizeof(p), "mounts[%zu]", i);
		if ((r = parse_mount(json_array_get(v, i), p, &spec->mounts[i], err)) < 0)
			return r;
	}
	return 0;
}

static bool data_has_size_or_mode(const char *data)
{
	const char *p = data;

	while (p && *p) {
		if (strncmp(p, "size=", 5) == 0 || strncmp(p, "mode=", 5) == 0)
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

/* /dev/shm is bind-mounted from a host tmpfs by docker and podman, to share
 * it between containers of a pod; inside a VM a private tmpfs serves. */
static int make_shm_tmpfs(struct rt_mount *m, const char *path, struct lv_error **err)
{
	char *type = strdup("tmpfs");

	if (!type)
		return lv_err(err, ENOMEM, "%s", path);
	free(m->type);
	m->type = type;
	free(m->source);
	m->source = NULL;
	m->flags &= ~(unsigned long)(MS_BIND | MS_REC);
	m->bind = false;
	m->kind = RT_MOUNT_GUEST;
	if (!data_has_size_or_mode(m->data) && data_append(&m->data, "mode=1777") < 0)
		return lv_err(err, ENOMEM, "%s", path);
	return 0;
}

static int resolve_bind(struct rt_mount *m, const char *path, const char *bundle, struct lv_error **err)
{
	struct stat st;

	if (strcmp(m->destination, "/dev/shm") == 0)
		return make_shm_tmpfs(m, path, err);
	if (!m->source || !m->source[0])
		return rt_js_fail(err, path, "a bind mount needs a source");
	if (m->source[0] != '/') {
		/* runc resolves relative sources against the bundle. */
		char *abs;

		if (asprintf(&abs, "%s/%s", bundle, m->source) < 0)
			return lv_err(err, ENOMEM, "%s", path);
		free(m->source);
		m->source = abs;
	}
	if (stat(m->source, &st) < 0)
		return lv_err(err, errno, "%s: bind source \"%s\"", path, m->source);
	if (S_ISREG(st.st_mode)) {
		if (st.st_size > (off_t)RT_MAX_BIND_FILE_BYTES)
			return rt_js_fail(err, path, "bind-mounted file \"%s\" is %lld bytes, at most %u are copied into the guest",
					  m->source, (long long)st.st_size, RT_MAX_BIND_FILE_BYTES);
		m->kind = RT_MOUNT_FILE;
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		m->kind = RT_MOUNT_SHARED;
		return 0;
	}
	return rt_js_fail(err, path, "bind mount of special file \"%s\" on \"%s\" is not supported", m->source,
			  m->destination);
}

int rt_spec_resolve_mounts(struct rt_spec *spec, const char *bundle, struct lv_error **err)
{
	for (size_t i = 0; i < spec->nmounts; i++) {
		char p[RT_JPATH_MAX];
		int r;

		if (!spec->mounts[i].bind)
			continue;
		rt_jpath(p, sizeof(p), "mounts[%zu]", i);
		if ((r = resolve_bind(&spec->mounts[i], p, bundle, err)) < 0)
			return r;
	}
	return 0;
}

void rt_mounts_free(struct rt_mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].destination);
		free(m[i].type);
		free(m[i].source);
		free(m[i].data);
	}
	free(m);
}
