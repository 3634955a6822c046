/* lightvm features: what this runtime supports, in the shape of
 * `runc features` (runtime-spec features.md), indented by four spaces. */
#include "cmd.h"

#include <string.h>

#include "../lib/cleanup.h"

static const char *const hooks[] = {
	"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

/* The mount options runtime/spec_mounts.c accepts, sorted as runc lists
 * them; propagation and tmpcopyup are accepted without effect.  Keep in step
 * with its table (it is not exported). */
static const char *const mount_options[] = {
	"async",      "atime",	      "bind",	  "defaults",	 "dev",		"diratime", "dirsync",
	"exec",	      "mand",	      "noatime",  "nodev",	 "nodiratime",	"noexec",   "nomand",
	"norelatime", "nostrictatime", "nosuid",  "private",	 "rbind",	"relatime", "remount",
	"ro",	      "rprivate",     "rshared",  "rslave",	 "runbindable", "rw",	    "shared",
	"slave",      "strictatime",  "suid",	  "sync",	 "tmpcopyup",	"unbindable",
};

/* The namespace types runtime/spec_linux.c accepts: the VM boundary
 * supersedes them.  "user" is refused (no uid mapping into a VM). */
static const char *const namespaces[] = {
	"cgroup", "ipc", "mount", "network", "pid", "time", "uts",
};

/* The capabilities the guest init knows, in CAP_* number order. */
static const char *const capabilities[] = {
	"CAP_CHOWN",	      "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",	"CAP_FSETID",
	"CAP_KILL",	      "CAP_SETGID",	    "CAP_SETUID",	   "CAP_SETPCAP",	"CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",	   "CAP_NET_RAW",	"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",      "CAP_SYS_MODULE",	    "CAP_SYS_RAWIO",	   "CAP_SYS_CHROOT",	"CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",      "CAP_SYS_ADMIN",	    "CAP_SYS_BOOT",	   "CAP_SYS_NICE",	"CAP_SYS_RESOURCE",
	"CAP_SYS_TIME",	      "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",	   "CAP_LEASE",		"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",  "CAP_SETFCAP",	    "CAP_MAC_OVERRIDE",	   "CAP_MAC_ADMIN",	"CAP_SYSLOG",
	"CAP_WAKE_ALARM",     "CAP_BLOCK_SUSPEND",  "CAP_AUDIT_READ",	   "CAP_PERFMON",	"CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

/* The hypervisor backends lightvm can drive (runtime config "backend"). */
#define FEATURES_BACKENDS "qemu,kvm,xen"

static json_t *strings(const char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < n; i++) {
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

#define STRINGS(v) strings((v), LV_ARRAY_SIZE(v))

int cmd_features(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	static const struct option longopts[] = { CMD_HELP_OPTION, { NULL, 0, NULL, 0 } };
	const struct rt_config *cfg = &call->ctx->config;
	json_t *f;
	int c;

	while ((c = cmd_getopt(call, argc, argv, "h", longopts, err)) != -1)
		return c == CMD_OPT_HELP ? 0 : c < 0 ? c : lv_err_msg(err, EINVAL, "features: unexpected option");
	c = cmd_no_operands(call, argc, argv, err);
	if (c < 0)
		return c;
	/* Annotation keys in sorted order, as Go prints a map. */
	f = json_pack("{s:s, s:s, s:o, s:o, s:{s:o, s:o, s:{s:b, s:b, s:b, s:b}, s:{s:b}, s:{s:b}, s:{s:b}},"
		      " s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}}",
		      "ociVersionMin", "1.0.0", "ociVersionMax", CMD_OCI_SPEC_VERSION,
		      "hooks", STRINGS(hooks), "mountOptions", STRINGS(mount_options),
		      "linux",
		      "namespaces", STRINGS(namespaces),
		      "capabilities", STRINGS(capabilities),
		      "cgroup", "v1", 0, "v2", 0, "systemd", 0, "systemdUser", 0,
		      "seccomp", "enabled", 0,
		      "apparmor", "enabled", 0,
		      "selinux", "enabled", 0,
		      "annotations",
		      "org.lightvm.accel", cfg->accel ? cfg->accel : "auto",
		      "org.lightvm.backend", cfg->backend ? cfg->backend : "auto",
		      "org.lightvm.backends", FEATURES_BACKENDS,
		      "org.lightvm.checkpoint.enabled", "false",
		      "org.lightvm.commit", LV_COMMIT,
		      "org.lightvm.hw_virt", rt_host_has_hw_virt() ? "true" : "false",
		      "org.lightvm.version", LV_VERSION);
	if (!f)
		return lv_err(err, ENOMEM, "features");
	c = cmd_print_json(f, JSON_INDENT(4), true, err);
	json_decref(f);
	return c;
}
