/* config.json → struct rt_spec.  This file: the top level, hooks,
 * annotations, loading from a bundle and resolving host paths.  process.* is
 * in spec_process.c, mounts in spec_mounts.c, linux.* in spec_linux.c, typed
 * JSON access in spec_json.c.
 *
 * What lightvm does with each config.json field (each container is a VM, so
 * the VM boundary supersedes several kernel isolation features):
 *
 *   field                                  treatment
 *   -------------------------------------  ------------------------------------------------
 *   ociVersion                             honoured: must be 1.x
 *   root.path, root.readonly               honoured (rootfs resolved against the bundle)
 *   hostname                               honoured
 *   domainname                             ignored (not yet)
 *   process.args, env, cwd, terminal,      honoured
 *     consoleSize
 *   process.user.uid, gid,                 honoured
 *     additionalGids, umask
 *   process.user.username                  rejected (Windows only)
 *   process.capabilities                   honoured (applied by the guest init)
 *   process.rlimits                        honoured (applied by the guest init)
 *   process.noNewPrivileges                honoured
 *   process.oomScoreAdj                    honoured on the host (monitor and VMM)
 *   process.apparmorProfile, selinuxLabel  superseded: no LSM in the guest; the VM is the boundary
 *   process.ioPriority, scheduler,         rejected: not supported
 *     execCPUAffinity
 *   mounts: tmpfs, proc, sysfs, devpts,    honoured: mounted by the guest init
 *     mqueue
 *   mounts: cgroup, cgroup2                superseded: skipped (the VM has its own kernel)
 *   mounts: bind of a regular file         honoured: copied into the guest (≤ 64 KiB)
 *   mounts: bind on /dev/shm               honoured as a guest tmpfs (mode=1777)
 *   mounts: bind of a directory            rejected for now (virtio-fs will bring volumes)
 *   mounts: other file system types        rejected
 *   mounts[].uidMappings, gidMappings      rejected (idmapped mounts)
 *   mount propagation options, tmpcopyup   superseded: accepted, no effect
 *   hooks.*                                honoured (run on the host, as runc does)
 *   annotations                            honoured (available to the runtime)
 *   linux.sysctl                           honoured (set in the guest)
 *   linux.resources.memory.limit           honoured: VM memory size (≥ 32 MiB)
 *   linux.resources.memory (other)         superseded
 *   linux.resources.cpu.quota/period/cpus  honoured: number of vCPUs (≤ 64)
 *   linux.resources.cpu (other)            superseded
 *   linux.resources.pids, blockIO,         superseded: the VM boundary caps the container
 *     hugepageLimits, devices, network,
 *     rdma, unified
 *   linux.namespaces                       superseded (the VM is one namespace of its own);
 *                                          the network namespace path is used for the tap device
 *   linux.uidMappings, gidMappings         rejected: user namespaces not supported
 *   linux.devices                          rejected: host devices not passed into the VM yet
 *   linux.netDevices                       rejected: not supported yet
 *   linux.seccomp, maskedPaths,            superseded: the VM is the isolation boundary
 *     readonlyPaths, cgroupsPath,
 *     rootfsPropagation, mountLabel,
 *     intelRdt, personality
 *   windows, solaris, zos                  rejected: not a Linux spec
 *   vm                                     rejected: lightvm chooses its own kernel
 *   anything else                          ignored
 */
#define RT_SPEC_INTERNAL
#include "spec.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/cleanup.h"

#define MAX_CONFIG_BYTES (4u << 20)

static void spec_freep(struct rt_spec **s)
{
	rt_spec_free(*s);
}

/* A digit that follows one of these is inside a token, not its start. */
static bool in_token(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
	       c == '+' || c == '-';
}

/* Copies json with every integer literal in (INT64_MAX, UINT64_MAX] turned
 * into a marker string (see spec_json.c).  Returns NULL on ENOMEM. */
static char *rewrite_big_ints(const char *in, size_t len, size_t *out_len)
{
	char *out = malloc(2 * len + 1); /* a rewrite adds 12 bytes to >= 19 */
	bool in_string = false;
	size_t o = 0, i = 0;

	if (!out)
		return NULL;
	while (i < len) {
		char c = in[i];
		bool overflow = false;
		uint64_t x = 0;
		size_t j;

		if (in_string) {
			out[o++] = in[i++];
			if (c == '\\' && i < len)
				out[o++] = in[i++];
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"')
			in_string = true;
		if (c < '0' || c > '9' || (i > 0 && in_token(in[i - 1]))) {
			out[o++] = in[i++];
			continue;
		}
		for (j = i; j < len && in[j] >= '0' && in[j] <= '9'; j++) {
			unsigned d = (unsigned)(in[j] - '0');

			if (x > (UINT64_MAX - d) / 10)
				overflow = true;
			x = x * 10 + d;
		}
		if (!overflow && x > INT64_MAX && (j == len || (in[j] != '.' && in[j] != 'e' && in[j] != 'E'))) {
			memcpy(out + o, "\"\\u0000u64:", 11);
			o += 11;
			memcpy(out + o, in + i, j - i);
			o += j - i;
			out[o++] = '"';
		} else {
			memcpy(out + o, in + i, j - i);
			o += j - i;
		}
		i = j;
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

static int load_json(const char *text, size_t len, json_t **out, struct lv_error **err)
{
	const size_t flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
	cleanup_free char *rewritten = NULL;
	json_error_t jerr;
	json_t *root;

	root = json_loadb(text, len, flags, &jerr);
	if (!root && json_error_code(&jerr) == json_error_numeric_overflow) {
		size_t rlen;

		rewritten = rewrite_big_ints(text, len, &rlen);
		if (!rewritten)
			return lv_err(err, ENOMEM, "config.json");
		root = json_loadb(rewritten, rlen, flags, &jerr);
	}
	if (!root)
		return lv_err_msg(err, EINVAL, "config.json: invalid JSON at line %d column %d: %s", jerr.line,
				  jerr.column, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return lv_err_msg(err, EINVAL, "config.json: must be a JSON object");
	}
	*out = root;
	return 0;
}

static int parse_hook(const json_t *v, const char *path, struct rt_hook *h, struct lv_error **err)
{
	char p[RT_JPATH_MAX];
	long long timeout = 0;
	int r;

	if (!json_is_object(v))
		return rt_js_fail(err, path, "must be an object");
	rt_jpath(p, sizeof(p), "%s.path", path);
	if (!rt_js_present(json_object_get(v, "path")))
		return rt_js_fail(err, p, "is required");
	r = rt_js_string(json_object_get(v, "path"), p, &h->path, err);
	if (r < 0)
		return r;
	if (h->path[0] != '/')
		return rt_js_fail(err, p, "must be an absolute path, not \"%s\"", h->path);
	rt_jpath(p, sizeof(p), "%s.args", path);
	r = rt_js_strv(json_object_get(v, "args"), p, &h->args, NULL, err);
	if (r < 0)
		return r;
	rt_jpath(p, sizeof(p), "%s.env", path);
	r = rt_js_strv(json_object_get(v, "env"), p, &h->env, NULL, err);
	if (r < 0)
		return r;
	rt_jpath(p, sizeof(p), "%s.timeout", path);
	if (rt_js_present(json_object_get(v, "timeout")) &&
	    (!json_is_integer(json_object_get(v, "timeout")) ||
	     json_integer_value(json_object_get(v, "timeout")) <= 0))
		return rt_js_fail(err, p, "must be a positive integer (seconds)");
	r = rt_js_int(json_object_get(v, "timeout"), p, 1, INT_MAX, &timeout, err);
	if (r < 0)
		return r;
	h->timeout = (int)timeout;
	return 0;
}

static int parse_hooks(const json_t *v, struct rt_hooks *hooks, struct lv_error **err)
{
	struct {
		const char *name;
		struct rt_hook **list;
		size_t *n;
	} kinds[] = {
		{ "prestart", &hooks->prestart, &hooks->n_prestart },
		{ "createRuntime", &hooks->create_runtime, &hooks->n_create_runtime },
		{ "createContainer", &hooks->create_container, &hooks->n_create_container },
		{ "startContainer", &hooks->start_container, &hooks->n_start_container },
		{ "poststart", &hooks->poststart, &hooks->n_poststart },
		{ "poststop", &hooks->poststop, &hooks->n_poststop },
	};
	int r = rt_js_object(v, "hooks", err);

	if (r < 0 || !rt_js_present(v))
		return r;
	for (size_t k = 0; k < LV_ARRAY_SIZE(kinds); k++) {
		const json_t *list = json_object_get(v, kinds[k].name);
		char p[RT_JPATH_MAX];
		size_t n;

		rt_jpath(p, sizeof(p), "hooks.%s", kinds[k].name);
		r = rt_js_array(list, p, err);
		if (r < 0)
			return r;
		n = rt_js_present(list) ? json_array_size(list) : 0;
		if (n == 0)
			continue;
		*kinds[k].list = calloc(n, sizeof(struct rt_hook));
		if (!*kinds[k].list)
			return lv_err(err, ENOMEM, "%s", p);
		/* Count as we go so rt_spec_free() frees a half-parsed list. */
		for (size_t i = 0; i < n; i++) {
			char hp[RT_JPATH_MAX];

			*kinds[k].n = i + 1;
			rt_jpath(hp, sizeof(hp), "hooks.%s[%zu]", kinds[k].name, i);
			r = parse_hook(json_array_get(list, i), hp, &(*kinds[k].list)[i], err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int parse_annotations(const json_t *v, struct rt_spec *spec, struct lv_error **err)
{
	const char *key;
	json_t *value;
	int r = rt_js_object(v, "annotations", err);

	if (r < 0 || !rt_js_present(v) || json_object_size(v) == 0)
		return r;
	spec->annotations = calloc(json_object_size(v), sizeof(*spec->annotations));
	if (!spec->annotations)
		return lv_err(err, ENOMEM, "annotations");
	json_object_foreach((json_t *)v, key, value) {
		struct rt_annotation *a = &spec->annotations[spec->nannotations];
		char p[RT_JPATH_MAX];

		rt_jpath(p, sizeof(p), "annotations[\"%s\"]", key);
		if (!json_is_string(value))
			return rt_js_fail(err, p, "must be a string");
		a->key = strdup(key);
		if (!a->key)
			return lv_err(err, ENOMEM, "%s", p);
		spec->nannotations++;
		r = rt_js_string(value, p, &a->value, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_root(const json_t *v, struct rt_spec *spec, struct lv_error **err)
{
	const json_t *path = json_object_get(v, "path");
	int r;

	if (!rt_js_present(v))
		return rt_js_fail(err, "root.path", "is required");
	r = rt_js_object(v, "root", err);
	if (r < 0)
		return r;
	if (!rt_js_present(path) || (json_is_string(path) && json_string_length(path) == 0))
		return rt_js_fail(err, "root.path", "must be a non-empty string");
	r = rt_js_string(path, "root.path", &spec->root_path, err);
	if (r < 0)
		return r;
	return rt_js_bool(json_object_get(v, "readonly"), "root.readonly", &spec->root_readonly, err);
}

static int parse_spec(const json_t *root, struct rt_spec *spec, struct lv_error **err)
{
	static const char not_linux[] = "this is not a Linux spec; lightvm runs Linux containers";
	const json_t *process = json_object_get(root, "process");
	int r;

	if ((r = rt_js_reject(root, "", "windows", not_linux, err)) < 0 ||
	    (r = rt_js_reject(root, "", "solaris", not_linux, err)) < 0 ||
	    (r = rt_js_reject(root, "", "zos", not_linux, err)) < 0 ||
	    (r = rt_js_reject(root, "", "vm",
			      "not supported: lightvm chooses its own kernel and hypervisor for every container",
			      err)) < 0)
		return r;

	r = rt_js_string(json_object_get(root, "ociVersion"), "ociVersion", &spec->oci_version, err);
	if (r < 0)
		return r;
	if (spec->oci_version && strncmp(spec->oci_version, "1.", 2) != 0)
		return rt_js_fail(err, "ociVersion", "\"%s\" is not supported (need 1.x)", spec->oci_version);
	if ((r = parse_root(json_object_get(root, "root"), spec, err)) < 0)
		return r;
	r = rt_js_string(json_object_get(root, "hostname"), "hostname", &spec->hostname, err);
	if (r < 0)
		return r;
	if ((r = rt_js_object(process, "process", err)) < 0)
		return r;
	if (rt_js_present(process)) {
		spec->has_process = true;
		if ((r = rt_spec_parse_process(process, &spec->process, err)) < 0)
			return r;
	}
	if ((r = rt_spec_parse_mounts(json_object_get(root, "mounts"), spec, err)) < 0)
		return r;
	if ((r = parse_hooks(json_object_get(root, "hooks"), &spec->hooks, err)) < 0)
		return r;
	if ((r = parse_annotations(json_object_get(root, "annotations"), spec, err)) < 0)
		return r;
	return rt_spec_parse_linux(json_object_get(root, "linux"), spec, err);
}

int rt_spec_parse(const char *json, size_t len, struct rt_spec **out, struct lv_error **err)
{
	__attribute__((cleanup(spec_freep))) struct rt_spec *spec = NULL;
	json_auto_t *root = NULL;
	int r;

	*out = NULL;
	r = load_json(json, len, &root, err);
	if (r < 0)
		return r;
	spec = calloc(1, sizeof(*spec));
	if (!spec)
		return lv_err(err, ENOMEM, "config.json");
	spec->process.umask = -1;
	r = parse_spec(root, spec, err);
	if (r < 0)
		return r;
	*out = lv_take_ptr(&spec);
	return 0;
}

static int read_config(const char *bundle, char **text, size_t *len, struct lv_error **err)
{
	cleanup_free char *path = NULL;
	cleanup_free char *buf = NULL;
	cleanup_close int fd = -1;
	struct stat st;
	size_t got = 0;

	if (asprintf(&path, "%s/config.json", bundle) < 0) {
		path = NULL;
		return lv_err(err, ENOMEM, "bundle \"%s\"", bundle);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0)
		return lv_err(err, errno, "bundle \"%s\": config.json", bundle);
	if (!S_ISREG(st.st_mode))
		return lv_err_msg(err, EINVAL, "bundle \"%s\": config.json is not a regular file", bundle);
	if (st.st_size > (off_t)MAX_CONFIG_BYTES)
		return lv_err_msg(err, EFBIG, "bundle \"%s\": config.json is %lld bytes, at most %u are accepted",
				  bundle, (long long)st.st_size, MAX_CONFIG_BYTES);
	/* Read up to the cap even if the file grew since fstat(). */
	buf = malloc(MAX_CONFIG_BYTES + 1);
	if (!buf)
		return lv_err(err, ENOMEM, "bundle \"%s\": config.json", bundle);
	for (;;) {
		ssize_t n = read(fd, buf + got, MAX_CONFIG_BYTES + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return lv_err(err, errno, "bundle \"%s\": config.json", bundle);
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > MAX_CONFIG_BYTES)
			return lv_err_msg(err, EFBIG, "bundle \"%s\": config.json is over %u bytes", bundle,
					  MAX_CONFIG_BYTES);
	}
	*text = lv_take_ptr(&buf);
	*len = got;
	return 0;
}

int rt_spec_load(const char *bundle, struct rt_spec **out, struct lv_error **err)
{
	__attribute__((cleanup(spec_freep))) struct rt_spec *spec = NULL;
	cleanup_free char *text = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	r = read_config(bundle, &text, &len, err);
	if (r < 0)
		return r;
	r = rt_spec_parse(text, len, &spec, err);
	if (r < 0)
		return r;
	r = rt_spec_resolve(spec, bundle, err);
	if (r < 0)
		return r;
	*out = lv_take_ptr(&spec);
	return 0;
}

int rt_spec_resolve(struct rt_spec *spec, const char *bundle, struct lv_error **err)
{
	cleanup_free char *joined = NULL;
	char *real;
	struct stat st;

	if (!bundle)
		bundle = ".";
	if (spec->root_path[0] != '/' && asprintf(&joined, "%s/%s", bundle, spec->root_path) < 0) {
		joined = NULL;
		return lv_err(err, ENOMEM, "root.path");
	}
	real = realpath(joined ? joined : spec->root_path, NULL);
	if (!real)
		return lv_err(err, errno, "root.path: \"%s\"", joined ? joined : spec->root_path);
	if (stat(real, &st) < 0) {
		int e = errno;
		free(real);
		return lv_err(err, e, "root.path: \"%s\"", spec->root_path);
	}
	if (!S_ISDIR(st.st_mode)) {
		free(real);
		return rt_js_fail(err, "root.path", "\"%s\" is not a directory", spec->root_path);
	}
	free(spec->rootfs);
	spec->rootfs = real;
	return rt_spec_resolve_mounts(spec, bundle, err);
}

const char *rt_spec_annotation(const struct rt_spec *spec, const char *key)
{
	if (!spec || !key)
		return NULL;
	for (size_t i = 0; i < spec->nannotations; i++)
		if (strcmp(spec->annotations[i].key, key) == 0)
			return spec->annotations[i].value;
	return NULL;
}

static void hooks_free(struct rt_hook *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].path);
		rt_strv_free(h[i].args);
		rt_strv_free(h[i].env);
	}
	free(h);
}

void rt_spec_free(struct rt_spec *spec)
{
	if (!spec)
		return;
	free(spec->oci_version);
	free(spec->root_path);
	free(spec->rootfs);
	free(spec->hostname);
	rt_process_free(&spec->process);
	rt_mounts_free(spec->mounts, spec->nmounts);
	for (size_t i = 0; i < spec->nsysctls; i++) {
		free(spec->sysctls[i].key);
		free(spec->sysctls[i].value);
	}
	free(spec->sysctls);
	for (size_t i = 0; i < spec->nannotations; i++) {
		free(spec->annotations[i].key);
		free(spec->annotations[i].value);
	}
	free(spec->annotations);
	hooks_free(spec->hooks.prestart, spec->hooks.n_prestart);
	hooks_free(spec->hooks.create_runtime, spec->hooks.n_create_runtime);
	hooks_free(spec->hooks.create_container, spec->hooks.n_create_container);
	hooks_free(spec->hooks.start_container, spec->hooks.n_start_container);
	hooks_free(spec->hooks.poststart, spec->hooks.n_poststart);
	hooks_free(spec->hooks.poststop, spec->hooks.n_poststop);
	free(spec->netns_path);
	free(spec);
}
