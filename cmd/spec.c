/* lightvm spec [--bundle DIR] [--rootless]: writes a starter config.json,
 * close to runc's (tab-indented, no trailing newline, never overwriting). */
#include "cmd.h"

#include <fcntl.h>
#include <string.h>

#include "../lib/cleanup.h"

#define SPEC_FILE "config.json"

/* runc's default spec with our hostname and OCI version.  The namespaces,
 * masked and read-only paths are kept so the file also runs under runc; the
 * VM supersedes them.  rt_spec_parse() must accept it (tests check). */
static const char default_spec[] =
	"{"
	"\"ociVersion\": \"" RT_OCI_VERSION "\","
	"\"process\": {"
	"  \"terminal\": true,"
	"  \"user\": {\"uid\": 0, \"gid\": 0},"
	"  \"args\": [\"sh\"],"
	"  \"env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\", \"TERM=xterm\"],"
	"  \"cwd\": \"/\","
	"  \"capabilities\": {"
	"    \"bounding\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],"
	"    \"effective\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],"
	"    \"permitted\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],"
	"    \"ambient\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"]"
	"  },"
	"  \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}],"
	"  \"noNewPrivileges\": true"
	"},"
	"\"root\": {\"path\": \"rootfs\", \"readonly\": true},"
	"\"hostname\": \"lightvm\","
	"\"mounts\": ["
	"  {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
	"  {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
	"   \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},"
	"  {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\","
	"   \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\"]},"
	"  {\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\","
	"   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},"
	"  {\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\","
	"   \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},"
	"  {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\","
	"   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]},"
	"  {\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\","
	"   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]}"
	"],"
	"\"linux\": {"
	"  \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},"
	"  \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\"}, {\"type\": \"ipc\"},"
	"                  {\"type\": \"uts\"}, {\"type\": \"mount\"}],"
	"  \"maskedPaths\": [\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\","
	"                   \"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\","
	"                   \"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\"],"
	"  \"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", \"/proc/sysrq-trigger\"]"
	"}"
	"}";

/* Go's encoder with a tab indent: jansson indents with spaces only, so
 * indent by one space and turn each line's leading spaces into tabs (JSON
 * text has no raw newlines inside strings, so every line start is
 * indentation). */
static char *dump_tab_indented(const json_t *j)
{
	cleanup_free char *s = json_dumps(j, JSON_INDENT(1));
	char *out, *o;
	const char *p;
	bool line_start = true;

	if (!s)
		return NULL;
	out = malloc(strlen(s) + 1);
	if (!out)
		return NULL;
	for (p = s, o = out; *p; p++) {
		if (line_start && *p == ' ') {
			*o++ = '\t';
			continue;
		}
		line_start = *p == '\n';
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

static int write_spec(const char *bundle, const char *text, struct lv_error **err)
{
	cleanup_close int dirfd = -1;
	cleanup_close int fd = -1;
	size_t len = strlen(text), off = 0;

	dirfd = open(bundle ? bundle : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return lv_err(err, errno, "bundle %s", bundle ? bundle : ".");
	/* O_EXCL: never overwrite, and no window between check and create. */
	fd = openat(dirfd, SPEC_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0 && errno == EEXIST)
		return lv_err_msg(err, EEXIST, "File %s exists. Remove it first", SPEC_FILE);
	if (fd < 0)
		return lv_err(err, errno, "create %s", SPEC_FILE);
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			unlinkat(dirfd, SPEC_FILE, 0);
			return lv_err(err, e, "write %s", SPEC_FILE);
		}
		off += (size_t)n;
	}
	if (close(lv_take_fd(&fd)) < 0)
		return lv_err(err, errno, "write %s", SPEC_FILE);
	return 0;
}

int cmd_spec(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	enum { OPT_ROOTLESS = 0x100 };
	static const struct option longopts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "rootless", no_argument, NULL, OPT_ROOTLESS },
		CMD_HELP_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	cleanup_free char *text = NULL;
	const char *bundle = NULL;
	json_error_t jerr;
	json_t *spec;
	int c;

	while ((c = cmd_getopt(call, argc, argv, "b:h", longopts, err)) != -1) {
		switch (c) {
		case 'b':
			bundle = optarg;
			break;
		case OPT_ROOTLESS:
			/* Accepted: a VM needs no user namespace or id mappings
			 * to run unprivileged, so the spec is the same. */
			break;
		case CMD_OPT_HELP:
			return 0;
		default:
			return c < 0 ? c : lv_err_msg(err, EINVAL, "spec: unexpected option");
		}
	}
	c = cmd_no_operands(call, argc, argv, err);
	if (c < 0)
		return c;
	spec = json_loads(default_spec, 0, &jerr);
	if (!spec)
		return lv_err_msg(err, EINVAL, "spec: built-in template: %s (line %d)", jerr.text, jerr.line);
	text = dump_tab_indented(spec);
	json_decref(spec);
	if (!text)
		return lv_err(err, ENOMEM, "spec");
	return write_spec(bundle, text, err);
}
