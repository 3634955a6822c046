/* config.json → a validated internal configuration.
 *
 * rt_spec_parse() is pure (no file system access) so it can be fuzzed; it
 * checks types, ranges and the fields lightvm cannot honour, and names the
 * offending field in its error ("process.args: must be a non-empty array of
 * strings").  rt_spec_resolve() then does what needs the host: resolving the
 * rootfs against the bundle, classifying bind mounts by stat()ing sources.
 */
#ifndef RT_SPEC_H
#define RT_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

#define RT_DEFAULT_MEM_MIB 128u
#define RT_DEFAULT_VCPUS 1u
#define RT_MIN_MEM_MIB 32u
#define RT_MAX_VCPUS 64u
/* Largest host file a bind mount may name: it is copied into the guest. */
#define RT_MAX_BIND_FILE_BYTES 65536u

struct rt_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
};

/* Capability sets as bit masks over CAP_* numbers (guest applies them). */
struct rt_caps {
	bool present; /* process.capabilities was given */
	uint64_t bounding, effective, inheritable, permitted, ambient;
};

enum rt_mount_kind {
	RT_MOUNT_GUEST,  /* a file system mounted by the guest init (tmpfs, proc, ...) */
	RT_MOUNT_FILE,   /* bind mount of a host regular file: copied into the guest at create */
	RT_MOUNT_SHARED, /* bind mount of a host directory: shared with the guest (virtio-fs) */
	RT_MOUNT_IGNORED /* meaningless inside a VM (cgroup): accepted, documented, skipped */
};

struct rt_mount {
	char *destination; /* absolute guest path */
	char *type;        /* "tmpfs", "proc", ...; "bind" for binds */
	char *source;      /* may be NULL */
	unsigned long flags; /* MS_* derived from options (MS_RDONLY, MS_NOSUID, ...) */
	char *data;        /* remaining fs-specific options joined with ',' (e.g. "size=64m,mode=755"), or NULL */
	bool bind;         /* type "bind" or a bind/rbind option */
	enum rt_mount_kind kind; /* set by parse for non-binds, by resolve for binds */
};

struct rt_hook {
	char *path;
	char **args; /* NULL-terminated, may be NULL */
	char **env;  /* NULL-terminated, may be NULL */
	int timeout; /* seconds, 0 = none */
};

struct rt_hooks {
	struct rt_hook *prestart, *create_runtime, *create_container, *start_container, *poststart, *poststop;
	size_t n_prestart, n_create_runtime, n_create_container, n_start_container, n_poststart, n_poststop;
};

struct rt_sysctl {
	char *key, *value;
};

struct rt_annotation {
	char *key, *value;
};

struct rt_process {
	bool terminal;
	unsigned rows, cols;  /* consoleSize, 0 if unset */
	char **args;          /* NULL-terminated, at least one */
	size_t nargs;
	char **env;           /* NULL-terminated, may be empty */
	size_t nenv;
	char *cwd;            /* absolute */
	uint32_t uid, gid;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	int umask;            /* -1 when unset */
	bool no_new_privileges;
	struct rt_rlimit *rlimits;
	size_t nrlimits;
	struct rt_caps caps;
	bool has_oom_score_adj;
	int oom_score_adj;    /* applied to the host-side monitor and VMM */
};

struct rt_spec {
	char *oci_version;
	char *root_path;      /* as written in config.json */
	char *rootfs;         /* absolute path, set by rt_spec_resolve() */
	bool root_readonly;
	char *hostname;       /* may be NULL */
	bool has_process;     /* false only for specs without "process" */
	struct rt_process process;
	struct rt_mount *mounts;
	size_t nmounts;
	struct rt_sysctl *sysctls;
	size_t nsysctls;
	struct rt_annotation *annotations;
	size_t nannotations;
	struct rt_hooks hooks;
	uint64_t mem_mib;     /* from linux.resources.memory.limit, 0 = default */
	unsigned vcpus;       /* from linux.resources.cpu (quota/period or cpus), 0 = default */
	char *netns_path;     /* linux.namespaces network path, NULL if none */
	bool has_netns;       /* linux.namespaces has a "network" entry (with or without a path) */
};

/* Parses and validates config.json text.  bundle is only recorded (may be
 * NULL in fuzzing).  On success *out is a new spec owned by the caller. */
int rt_spec_parse(const char *json, size_t len, struct rt_spec **out, struct lv_error **err);

/* Reads BUNDLE/config.json, parses it and resolves host paths. */
int rt_spec_load(const char *bundle, struct rt_spec **out, struct lv_error **err);

/* Resolves rootfs against bundle (must be an existing directory) and
 * classifies bind mounts: a regular-file source becomes RT_MOUNT_FILE, a
 * directory RT_MOUNT_SHARED, a /dev/shm destination a guest tmpfs; anything
 * else is an error naming the mount ("mounts[3]: bind mount of special file
 * ..."). */
int rt_spec_resolve(struct rt_spec *spec, const char *bundle, struct lv_error **err);

const char *rt_spec_annotation(const struct rt_spec *spec, const char *key);

void rt_spec_free(struct rt_spec *spec);

/* A runtime-spec process object in a file (exec --process): validated as
 * config.json's process is, errors naming the field.  *p is the caller's;
 * free it with rt_process_release(). */
int rt_process_load(const char *path, struct rt_process *p, struct lv_error **err);
void rt_process_release(struct rt_process *p);
/* CAP_* name ("CAP_KILL") to its number, -EINVAL when unknown. */
int rt_cap_number(const char *name);

#ifdef RT_SPEC_INTERNAL
/* Shared by runtime/spec*.c only; not part of the interface.  A json_t that
 * is NULL or JSON null counts as absent: the getters then return 0 and leave
 * *out untouched.  path is the JSON path used in error messages. */
#include <jansson.h>

#define RT_JPATH_MAX 512

void rt_jpath(char *buf, size_t size, const char *fmt, ...) LV_PRINTF(3, 4);
int rt_js_fail(struct lv_error **err, const char *path, const char *fmt, ...) LV_PRINTF(3, 4);
bool rt_js_present(const json_t *v);
int rt_js_object(const json_t *v, const char *path, struct lv_error **err);
int rt_js_array(const json_t *v, const char *path, struct lv_error **err);
int rt_js_string(const json_t *v, const char *path, char **out, struct lv_error **err);
int rt_js_string_ref(const json_t *v, const char *path, const char **out, struct lv_error **err);
int rt_js_bool(const json_t *v, const char *path, bool *out, struct lv_error **err);
int rt_js_int(const json_t *v, const char *path, long long min, long long max, long long *out,
	      struct lv_error **err);
int rt_js_u64(const json_t *v, const char *path, uint64_t *out, struct lv_error **err);
int rt_js_strv(const json_t *v, const char *path, char ***out, size_t *n, struct lv_error **err);
int rt_js_reject(const json_t *obj, const char *parent, const char *key, const char *why,
		 struct lv_error **err);
void rt_strv_free(char **v);

int rt_spec_parse_process(const json_t *v, struct rt_process *p, struct lv_error **err);
void rt_process_free(struct rt_process *p);
int rt_spec_parse_mounts(const json_t *v, struct rt_spec *spec, struct lv_error **err);
int rt_spec_resolve_mounts(struct rt_spec *spec, const char *bundle, struct lv_error **err);
void rt_mounts_free(struct rt_mount *m, size_t n);
int rt_spec_parse_linux(const json_t *v, struct rt_spec *spec, struct lv_error **err);
#endif

#endif
