/* config.json "process" → struct rt_process. */
#define RT_SPEC_INTERNAL
#include "spec.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../lib/cleanup.h"

#define MAX_ID 4294967294LL /* (uid_t)-1 means "no change" to the kernel */

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_CPU", RLIMIT_CPU },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_STACK", RLIMIT_STACK },
	{ "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },
	{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
	{ "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

/* Indexed by capability number (linux/capability.h), which the guest uses. */
static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
	"CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

_Static_assert(LV_ARRAY_SIZE(cap_names) == 41, "CAP_CHECKPOINT_RESTORE is 40");

int rt_cap_number(const char *name)
{
	for (size_t c = 0; c < LV_ARRAY_SIZE(cap_names); c++)
		if (strcmp(cap_names[c], name) == 0)
			return (int)c;
	return -EINVAL;
}

static int parse_cap_set(const json_t *v, const char *path, uint64_t *mask, struct lv_error **err)
{
	int r = rt_js_array(v, path, err);

	if (r < 0 || !rt_js_present(v))
		return r;
	for (size_t i = 0; i < json_array_size(v); i++) {
		const char *name = NULL;
		char p[RT_JPATH_MAX];
		size_t c;

		rt_jpath(p, sizeof(p), "%s[%zu]", path, i);
		if (!json_is_string(json_array_get(v, i)))
			return rt_js_fail(err, p, "must be a string");
		r = rt_js_string_ref(json_array_get(v, i), p, &name, err);
		if (r < 0)
			return r;
		for (c = 0; c < LV_ARRAY_SIZE(cap_names); c++)
			if (strcmp(cap_names[c], name) == 0)
				break;
		if (c == LV_ARRAY_SIZE(cap_names))
			return rt_js_fail(err, p, "unknown capability \"%s\"", name);
		*mask |= UINT64_C(1) << c;
	}
	return 0;
}

static int parse_caps(const json_t *v, struct rt_caps *caps, struct lv_error **err)
{
	int r = rt_js_object(v, "process.capabilities", err);

	if (r < 0 || !rt_js_present(v))
		return r;
	caps->present = true;
	if ((r = parse_cap_set(json_object_get(v, "bounding"), "process.capabilities.bounding",
			       &caps->bounding, err)) < 0 ||
	    (r = parse_cap_set(json_object_get(v, "effective"), "process.capabilities.effective",
			       &caps->effective, err)) < 0 ||
	    (r = parse_cap_set(json_object_get(v, "inheritable"), "process.capabilities.inheritable",
			       &caps->inheritable, err)) < 0 ||
	    (r = parse_cap_set(json_object_get(v, "permitted"), "process.capabilities.permitted",
			       &caps->permitted, err)) < 0 ||
	    (r = parse_cap_set(json_object_get(v, "ambient"), "process.capabilities.ambient",
			       &caps->ambient, err)) < 0)
		return r;
	return 0;
}

static int parse_rlimit(const json_t *v, const char *path, struct rt_rlimit *rl, struct lv_error **err)
{
	const char *type = NULL;
	char p[RT_JPATH_MAX];
	size_t k;
	int r;

	if (!json_is_object(v))
		return rt_js_fail(err, path, "must be an object");
	rt_jpath(p, sizeof(p), "%s.type", path);
	if (!rt_js_present(json_object_get(v, "type")))
		return rt_js_fail(err, p, "is required");
	r = rt_js_string_ref(json_object_get(v, "type"), p, &type, err);
	if (r < 0)
		return r;
	for (k = 0; k < LV_ARRAY_SIZE(rlimit_names); k++)
		if (strcmp(rlimit_names[k].name, type) == 0)
			break;
	if (k == LV_ARRAY_SIZE(rlimit_names))
		return rt_js_fail(err, p, "unknown rlimit \"%s\"", type);
	rl->resource = rlimit_names[k].resource;
	rt_jpath(p, sizeof(p), "%s.hard", path);
	if (!rt_js_present(json_object_get(v, "hard")))
		return rt_js_fail(err, p, "is required");
	if ((r = rt_js_u64(json_object_get(v, "hard"), p, &rl->hard, err)) < 0)
		return r;
	rt_jpath(p, sizeof(p), "%s.soft", path);
	if (!rt_js_present(json_object_get(v, "soft")))
		return rt_js_fail(err, p, "is required");
	return rt_js_u64(json_object_get(v, "soft"), p, &rl->soft, err);
}

static int parse_rlimits(const json_t *v, struct rt_process *proc, struct lv_error **err)
{
	int r = rt_js_array(v, "process.rlimits", err);
	size_t n;

	if (r < 0 || !rt_js_present(v) || (n = json_array_size(v)) == 0)
		return r;
	proc->rlimits = calloc(n, sizeof(*proc->rlimits));
	if (!proc->rlimits)
		return lv_err(err, ENOMEM, "process.rlimits");
	for (size_t i = 0; i < n; i++) {
		struct rt_rlimit *rl = &proc->rlimits[i];
		char p[RT_JPATH_MAX];

		rt_jpath(p, sizeof(p), "process.rlimits[%zu]", i);
		r = parse_rlimit(json_array_get(v, i), p, rl, err);
		if (r < 0)
			return r;
		proc->nrlimits++;
		for (size_t j = 0; j < i; j++)
			if (proc->rlimits[j].resource == rl->resource)
				return rt_js_fail(err, p, "duplicate rlimit \"%s\" (also in process.rlimits[%zu])",
						  json_string_value(json_object_get(json_array_get(v, i), "type")), j);
	}
	return 0;
}

static int parse_user(const json_t *v, struct rt_process *proc, struct lv_error **err)
{
	const json_t *gids = json_object_get(v, "additionalGids");
	long long x;
	int r = rt_js_object(v, "process.user", err);

	if (r < 0 || !rt_js_present(v))
		return r;
	if ((r = rt_js_reject(v, "process.user", "username", "is only supported on Windows", err)) < 0)
		return r;
	x = 0;
	if ((r = rt_js_int(json_object_get(v, "uid"), "process.user.uid", 0, MAX_ID, &x, err)) < 0)
		return r;
	proc->uid = (uint32_t)x;
	x = 0;
	if ((r = rt_js_int(json_object_get(v, "gid"), "process.user.gid", 0, MAX_ID, &x, err)) < 0)
		return r;
	proc->gid = (uint32_t)x;
	x = -1;
	if ((r = rt_js_int(json_object_get(v, "umask"), "process.user.umask", 0, 0777, &x, err)) < 0)
		return r;
	proc->umask = (int)x;
	if ((r = rt_js_array(gids, "process.user.additionalGids", err)) < 0)
		return r;
	if (!rt_js_present(gids) || json_array_size(gids) == 0)
		return 0;
	proc->additional_gids = calloc(json_array_size(gids), sizeof(uint32_t));
	if (!proc->additional_gids)
		return lv_err(err, ENOMEM, "process.user.additionalGids");
	for (size_t i = 0; i < json_array_size(gids); i++) {
		char p[RT_JPATH_MAX];

		rt_jpath(p, sizeof(p), "process.user.additionalGids[%zu]", i);
		if (!rt_js_present(json_array_get(gids, i)))
			return rt_js_fail(err, p, "must be an integer");
		if ((r = rt_js_int(json_array_get(gids, i), p, 0, MAX_ID, &x, err)) < 0)
			return r;
		proc->additional_gids[proc->n_additional_gids++] = (uint32_t)x;
	}
	return 0;
}

static int parse_console_size(const json_t *v, struct rt_process *proc, struct lv_error **err)
{
	long long rows = 0, cols = 0;
	int r = rt_js_object(v, "process.consoleSize", err);

	if (r < 0 || !rt_js_present(v))
		return r;
	if ((r = rt_js_int(json_object_get(v, "height"), "process.consoleSize.height", 0, 65535, &rows,
			   err)) < 0 ||
	    (r = rt_js_int(json_object_get(v, "width"), "process.consoleSize.width", 0, 65535, &cols, err)) < 0)
		return r;
	proc->rows = (unsigned)rows;
	proc->cols = (unsigned)cols;
	return 0;
}

static int parse_args_env_cwd(const json_t *v, struct rt_process *proc, struct lv_error **err)
{
	const json_t *args = json_object_get(v, "args");
	const json_t *cwd = json_object_get(v, "cwd");
	int r;

	if (!rt_js_present(args) || !json_is_array(args) || json_array_size(args) == 0)
		return rt_js_fail(err, "process.args", "must be a non-empty array of strings");
	if ((r = rt_js_strv(args, "process.args", &proc->args, &proc->nargs, err)) < 0)
		return r;
	if ((r = rt_js_strv(json_object_get(v, "env"), "process.env", &proc->env, &proc->nenv, err)) < 0)
		return r;
	for (size_t i = 0; i < proc->nenv; i++) {
		if (!strchr(proc->env[i], '=')) {
			char p[RT_JPATH_MAX];

			rt_jpath(p, sizeof(p), "process.env[%zu]", i);
			return rt_js_fail(err, p, "\"%s\" is not of the form NAME=VALUE", proc->env[i]);
		}
	}
	if (!proc->env) {
		proc->env = calloc(1, sizeof(char *));
		if (!proc->env)
			return lv_err(err, ENOMEM, "process.env");
	}
	if (!rt_js_present(cwd))
		return rt_js_fail(err, "process.cwd", "is required (an absolute path)");
	if ((r = rt_js_string(cwd, "process.cwd", &proc->cwd, err)) < 0)
		return r;
	if (proc->cwd[0] != '/')
		return rt_js_fail(err, "process.cwd", "must be an absolute path, not \"%s\"", proc->cwd);
	return 0;
}

int rt_spec_parse_process(const json_t *v, struct rt_process *proc, struct lv_error **err)
{
	const char *ignored = NULL;
	long long oom = 0;
	int r;

	if ((r = rt_js_reject(v, "process", "ioPriority", "is not supported by lightvm", err)) < 0 ||
	    (r = rt_js_reject(v, "process", "scheduler", "is not supported by lightvm", err)) < 0 ||
	    (r = rt_js_reject(v, "process", "execCPUAffinity", "is not supported by lightvm", err)) < 0)
		return r;
	if ((r = rt_js_bool(json_object_get(v, "terminal"), "process.terminal", &proc->terminal, err)) < 0 ||
	    (r = parse_console_size(json_object_get(v, "consoleSize"), proc, err)) < 0 ||
	    (r = parse_user(json_object_get(v, "user"), proc, err)) < 0 ||
	    (r = parse_args_env_cwd(v, proc, err)) < 0 ||
	    (r = parse_caps(json_object_get(v, "capabilities"), &proc->caps, err)) < 0 ||
	    (r = parse_rlimits(json_object_get(v, "rlimits"), proc, err)) < 0 ||
	    (r = rt_js_bool(json_object_get(v, "noNewPrivileges"), "process.noNewPrivileges",
			    &proc->no_new_privileges, err)) < 0)
		return r;
	if (rt_js_present(json_object_get(v, "oomScoreAdj"))) {
		r = rt_js_int(json_object_get(v, "oomScoreAdj"), "process.oomScoreAdj", -1000, 1000, &oom, err);
		if (r < 0)
			return r;
		proc->has_oom_score_adj = true;
		proc->oom_score_adj = (int)oom;
	}
	/* Superseded by the VM boundary, but a wrong type is still a broken spec. */
	if ((r = rt_js_string_ref(json_object_get(v, "apparmorProfile"), "process.apparmorProfile", &ignored,
				  err)) < 0 ||
	    (r = rt_js_string_ref(json_object_get(v, "selinuxLabel"), "process.selinuxLabel", &ignored, err)) < 0)
		return r;
	return 0;
}

void rt_process_free(struct rt_process *proc)
{
	rt_strv_free(proc->args);
	rt_strv_free(proc->env);
	free(proc->cwd);
	free(proc->additional_gids);
	free(proc->rlimits);
	memset(proc, 0, sizeof(*proc));
	proc->umask = -1;
}

int rt_process_load(const char *path, struct rt_process *p, struct lv_error **err)
{
	json_error_t jerr;
	json_t *j;
	int r;

	memset(p, 0, sizeof(*p));
	p->umask = -1;
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return lv_err_msg(err, EINVAL, "%s: %s (line %d)", path, jerr.text, jerr.line);
	r = json_is_object(j) ? rt_spec_parse_process(j, p, err) : rt_js_fail(err, "process", "must be an object");
	json_decref(j);
	if (r < 0)
		rt_process_free(p);
	return r;
}

void rt_process_release(struct rt_process *p)
{
	rt_process_free(p);
}
