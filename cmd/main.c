/* lightvm: an OCI runtime with runc's command line that runs each container
 * in a lightweight VM.  main() parses the global options, builds the
 * context, dispatches a verb and is the only place that prints errors and
 * exits.
 *
 * Exit statuses (runc's): 0 success; 1 any error, including usage errors;
 * 3 unknown command or help topic; `run` without --detach exits with the
 * container's status (128+N when killed by signal N). */
#include "cmd.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/cleanup.h"

struct cmd_verb {
	const char *name;
	cmd_handler *run;
	bool needs_config; /* loads the runtime configuration first */
	const char *summary;
	const char *usage; /* after "lightvm " */
	const char *description;
	const char *options;
};

#define ID_TEXT "Where \"<container-id>\" is the name for the instance of the container.\n"

static const struct cmd_verb verbs[] = {
	{ "checkpoint", cmd_checkpoint, true, "checkpoint a running container (not supported yet)",
	  "checkpoint <container-id>", "Not supported yet: lightvm cannot save a VM's state.\n", NULL },
	{ "create", cmd_create, true, "create a container", "create [command options] <container-id>",
	  "Creates a container from a bundle (a directory with config.json and a root\n"
	  "file system): boots its VM and leaves the process ready to start.\n",
	  "   --bundle value, -b value  path to the root of the bundle directory, defaults to the current directory\n"
	  "   --console-socket value    path to an AF_UNIX socket which will receive a file descriptor referencing "
	  "the master end of the console's pseudoterminal\n"
	  "   --pid-file value          specify the file to write the process id to\n"
	  "   --no-pivot                accepted, no effect (the container has its own kernel)\n"
	  "   --no-new-keyring          accepted, no effect (the container has its own kernel)\n"
	  "   --preserve-fds value      pass N additional file descriptors to the container; only 0 is supported "
	  "(default: 0)\n" },
	{ "delete", cmd_delete, true, "delete any resources held by the container often used with detached container",
	  "delete [command options] <container-id>", ID_TEXT,
	  "   --force, -f  forcibly deletes the container if it is still running (uses SIGKILL); "
	  "no error if it does not exist\n" },
	{ "events", cmd_events, true,
	  "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
	  "events [command options] <container-id>",
	  ID_TEXT "Prints a JSON stats event every interval until the container stops.\n",
	  "   --interval value  set the stats collection interval (default: 5s)\n"
	  "   --stats           display the container's stats then exit\n" },
	{ "exec", cmd_exec, true, "execute new process inside the container",
	  "exec [command options] <container-id> <command> [command options]  || -p process.json <container-id>",
	  "Where \"<container-id>\" is the name for the instance of the container and\n"
	  "\"<command>\" is the command to be executed in the container's VM.  The\n"
	  "process runs in the guest; this command (or, with --detach, the process whose\n"
	  "pid goes to --pid-file) relays its stdio, forwards signals to it and exits\n"
	  "with its status (128+N for signal N).\n",
	  "   --console-socket value      path to an AF_UNIX socket which will receive a file descriptor "
	  "referencing the master end of the console's pseudoterminal\n"
	  "   --cwd value                 current working directory in the container\n"
	  "   --env value, -e value       set environment variables (repeatable)\n"
	  "   --tty, -t                   allocate a pseudo-TTY\n"
	  "   --user value, -u value      UID (format: <uid>[:<gid>])\n"
	  "   --additional-gids value, -g value  additional gids (repeatable)\n"
	  "   --process value, -p value   path to the process.json\n"
	  "   --detach, -d                detach from the container's process\n"
	  "   --pid-file value            specify the file to write the host-side process id to\n"
	  "   --process-label value, --apparmor value  accepted, no effect (no LSM in the guest)\n"
	  "   --no-new-privs              set the no new privileges value for the process\n"
	  "   --cap value, -c value       add a capability to the bounding set for the process (repeatable)\n"
	  "   --preserve-fds value        pass N additional file descriptors to the container; only 0 is "
	  "supported (default: 0)\n" },
	{ "kill", cmd_kill, true,
	  "kill sends the specified signal (default: SIGTERM) to the container's init process",
	  "kill [command options] <container-id> [signal]",
	  "Where \"<container-id>\" is the name for the instance of the container and\n"
	  "\"[signal]\" is a number or a name, with or without \"SIG\", in any case\n"
	  "(9, KILL, SIGKILL, kill, RTMIN+3).\n",
	  "   --all, -a  send the specified signal to all processes inside the container\n" },
	{ "list", cmd_list, true, "lists containers started by lightvm with the given root", "list [command options]",
	  "Where the given root is specified via the global option \"--root\"\n(default: \"" RT_DEFAULT_ROOT "\").\n",
	  "   --format value, -f value  select one of: table or json (default: \"table\")\n"
	  "   --quiet, -q               display only container IDs\n" },
	{ "pause", cmd_pause, true, "pause suspends all processes inside the container", "pause <container-id>",
	  ID_TEXT "Pauses the container's VM.\n", NULL },
	{ "pool", cmd_pool, true, "manage the pools of pre-booted VM shells (talks to lightvm poold)",
	  "pool [command options] status|fill|drain",
	  "status lists the pools; fill sets a pool's target (made if new); drain ends\n"
	  "a pool's ready shells and sets its target to 0.  The pool is the one of\n"
	  "the backend, the configured kernel and the given size.  A qemu pool keeps\n"
	  "booted QEMU processes; a kvm pool keeps one booted, snapshotted template\n"
	  "that every claim restores copy-on-write.\n",
	  "   --target value  fill: shells to keep ready (default: the config's pool target, or 1)\n"
	  "   --memory value  VM memory in MiB (default: the config's memory_mib)\n"
	  "   --vcpus value   vCPUs (default: the config's vcpus)\n"
	  "   --backend name  qemu or kvm (default: the config's backend, auto resolved)\n"
	  "   --all           drain: every pool\n" },
	{ "poold", cmd_poold, true, "run the shell-pool daemon (also run as lightvm-poold)", "poold",
	  "Keeps pools of pre-booted VM shells that create claims (runtime/POOL.md):\n"
	  "QEMU processes for the qemu backend, a snapshotted template for kvm;\n"
	  "listens on ROOT/poold.sock until SIGTERM or SIGINT, then ends its idle shells.\n",
	  NULL },
	{ "ps", cmd_ps, true, "ps displays the processes running inside a container",
	  "ps [command options] <container-id> [ps options]",
	  ID_TEXT "Lists the host processes that make up the container (its monitor and VMM);\n"
		  "the table comes from ps(1), \"-ef\" unless ps options are given.\n",
	  "   --format value, -f value  select one of: table or json (default: \"table\")\n" },
	{ "restore", cmd_restore, true, "restore a container from a previous checkpoint (not supported yet)",
	  "restore [command options] <container-id>", "Not supported yet: lightvm cannot restore a VM's state.\n",
	  NULL },
	{ "resume", cmd_resume, true, "resumes all processes that have been previously paused",
	  "resume <container-id>", ID_TEXT "Resumes the container's VM.\n", NULL },
	{ "run", cmd_run, true, "create and run a container", "run [command options] <container-id>",
	  "Creates and starts a container from a bundle.  Unless detached, waits for it\n"
	  "and exits with its exit status, then deletes it (unless --keep).\n",
	  "   --bundle value, -b value  path to the root of the bundle directory, defaults to the current directory\n"
	  "   --console-socket value    path to an AF_UNIX socket which will receive a file descriptor referencing "
	  "the master end of the console's pseudoterminal\n"
	  "   --detach, -d              detach from the container's process\n"
	  "   --keep                    do not delete the container after it exits\n"
	  "   --pid-file value          specify the file to write the process id to\n"
	  "   --no-subreaper            accepted, no effect\n"
	  "   --no-pivot                accepted, no effect (the container has its own kernel)\n"
	  "   --no-new-keyring          accepted, no effect (the container has its own kernel)\n"
	  "   --preserve-fds value      pass N additional file descriptors to the container; only 0 is supported "
	  "(default: 0)\n" },
	{ "spec", cmd_spec, false, "create a new specification file", "spec [command options]",
	  "Writes a starter config.json (running \"sh\" from ./rootfs) into the bundle;\n"
	  "an existing config.json is never overwritten.\n",
	  "   --bundle value, -b value  path to the root of the bundle directory\n"
	  "   --rootless                accepted: the same spec runs without privileges in a VM\n" },
	{ "start", cmd_start, true, "executes the user defined process in a created container",
	  "start <container-id>", ID_TEXT, NULL },
	{ "state", cmd_state, true, "output the state of a container", "state <container-id>",
	  ID_TEXT "Prints the OCI state as JSON.\n", NULL },
	{ "tinyx", cmd_tinyx, false, "make a minimal bundle from a host binary (Tinyx)",
	  "tinyx --app /path/to/PROG -o DIR [-- ARGS...]",
	  "Makes an OCI bundle in DIR holding PROG, the shared libraries ldd finds for it\n"
	  "and BusyBox; `lightvm run -b DIR ID` then runs PROG ARGS in a VM.\n",
	  "   --app value, -a value     absolute path of the host binary\n"
	  "   --output value, -o value  bundle directory to create (absent or empty)\n"
	  "   --busybox value           static BusyBox to include (default /bin/busybox)\n" },
	{ "update", cmd_update, true, "update container resource constraints (not supported yet)",
	  "update [command options] <container-id>", "Not supported yet.\n", NULL },
	{ "features", cmd_features, true, "show the enabled features", "features",
	  "Shows the enabled features as JSON, in the shape of the runtime-spec's\nfeatures document.\n", NULL },
	{ "version", cmd_version, false, "print the version", "version", NULL, NULL },
};

#define HELP_SUMMARY "Shows a list of commands or help for one command"

static const char global_options[] =
	"   --debug             enable debug logging\n"
	"   --log value         set the log file to write lightvm logs to (default is stderr)\n"
	"   --log-format value  set the log format ('text' (default), or 'json') (default: \"text\")\n"
	"   --root value        root directory for storage of container state (this should be located in tmpfs) "
	"(default: \"" RT_DEFAULT_ROOT "\")\n"
	"   --criu value        accepted for compatibility, unused\n"
	"   --systemd-cgroup    accepted for compatibility, no effect (a VM has no host cgroup path)\n"
	"   --rootless value    accepted for compatibility, no effect ('true', 'false', or 'auto')\n"
	"   --help, -h          show help\n"
	"   --version, -v       print the version\n";

static const struct cmd_verb *find_verb(const char *name)
{
	size_t i;

	for (i = 0; i < LV_ARRAY_SIZE(verbs); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

static bool is_help_verb(const char *name)
{
	return strcmp(name, "help") == 0 || strcmp(name, "h") == 0;
}

static void print_main_help(FILE *out)
{
	size_t i;

	fprintf(out, "NAME:\n   lightvm - OCI runtime that runs each container in a lightweight VM\n\n"
		     "lightvm is a command line client for running applications packaged according to\n"
		     "the Open Container Initiative (OCI) format, with the command line of runc. Each\n"
		     "container gets its own kernel in a small virtual machine.\n\n"
		     "To start a new instance of a container:\n\n"
		     "    # lightvm run [ -b bundle ] <container-id>\n\n"
		     "USAGE:\n   lightvm [global options] command [command options] [arguments...]\n\n"
		     "VERSION:\n   %s\ncommit: %s\nspec: %s\n\nCOMMANDS:\n",
		LV_VERSION, LV_COMMIT, CMD_OCI_SPEC_VERSION);
	for (i = 0; i < LV_ARRAY_SIZE(verbs); i++)
		fprintf(out, "   %-10s  %s\n", verbs[i].name, verbs[i].summary);
	fprintf(out, "   %-10s  %s\n", "help, h", HELP_SUMMARY);
	fprintf(out, "\nGLOBAL OPTIONS:\n%s\nEXIT STATUS:\n"
		     "   0 success, 1 error, 3 unknown command; run exits with the container's status.\n",
		global_options);
}

void cmd_print_verb_help(const char *verb, FILE *out)
{
	const struct cmd_verb *v = find_verb(verb);

	if (!v) {
		print_main_help(out);
		return;
	}
	fprintf(out, "NAME:\n   lightvm %s - %s\n\nUSAGE:\n   lightvm %s\n", v->name, v->summary, v->usage);
	if (v->description) {
		const char *p = v->description;

		fprintf(out, "\nDESCRIPTION:\n");
		while (*p) {
			size_t n = strcspn(p, "\n");
			fprintf(out, "   %.*s\n", (int)n, p);
			p += n + (p[n] == '\n');
		}
	}
	fprintf(out, "\nOPTIONS:\n%s   --help, -h  show help\n", v->options ? v->options : "");
}

const char *cmd_verb_usage(const char *verb)
{
	const struct cmd_verb *v = find_verb(verb);

	return v ? v->usage : verb;
}

/* lightvm help [VERB] */
static int help(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	if (argc < 2) {
		print_main_help(stdout);
		return 0;
	}
	if (is_help_verb(argv[1]) || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		printf("NAME:\n   lightvm help - %s\n\nUSAGE:\n   lightvm help [command]\n", HELP_SUMMARY);
		return 0;
	}
	if (!find_verb(argv[1])) {
		call->error_status = CMD_EXIT_UNKNOWN_COMMAND;
		return lv_err_msg(err, EINVAL, "No help topic for '%s'", argv[1]);
	}
	cmd_print_verb_help(argv[1], stdout);
	return 0;
}

/* Whether the log already goes to stderr (no --log, or --log naming the
 * same file), so an error is not printed twice. */
static bool log_is_stderr(const struct rt_log *log)
{
	struct stat a, b;

	if (log->fd < 0)
		return true;
	return fstat(log->fd, &a) == 0 && fstat(STDERR_FILENO, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* runc writes the error to its log (which containerd reads, in JSON) and
 * to stderr; with no --log the log is stderr, in logrus' format. */
static int report(const struct rt_log *log, struct lv_error *err, int r, bool usage, const char *verb)
{
	const char *msg = err && err->msg ? err->msg : strerror(-r);

	rt_log(log, RT_LOG_ERROR, "%s", msg);
	if (!log_is_stderr(log))
		fprintf(stderr, "lightvm: %s\n", msg);
	if (usage)
		fprintf(stderr, "Run 'lightvm %s%s--help' for usage.\n", verb ? verb : "", verb ? " " : "");
	return CMD_EXIT_FAILURE;
}

enum {
	OPT_ROOT = 0x100,
	OPT_LOG,
	OPT_LOG_FORMAT,
	OPT_DEBUG,
	OPT_SYSTEMD_CGROUP,
	OPT_ROOTLESS,
	OPT_CRIU,
};

struct global_opts {
	const char *root, *log, *log_format;
	bool debug, systemd_cgroup;
	bool help, version;
};

/* Go's flag package lets boolean flags be written --debug=false. */
static int bool_flag(const char *name, const char *value, bool *out, struct lv_error **err)
{
	if (!value) {
		*out = true;
		return 0;
	}
	if (cmd_parse_bool(value, out) < 0)
		return lv_err_msg(err, EINVAL, "invalid boolean value \"%s\" for flag --%s", value, name);
	return 0;
}

static int parse_globals(int argc, char **argv, struct global_opts *g, struct lv_error **err)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "debug", optional_argument, NULL, OPT_DEBUG },
		{ "systemd-cgroup", optional_argument, NULL, OPT_SYSTEMD_CGROUP },
		{ "rootless", required_argument, NULL, OPT_ROOTLESS },
		{ "criu", required_argument, NULL, OPT_CRIU },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r;

	opterr = 0;
	/* '+': global options end at the verb. */
	while ((c = getopt_long(argc, argv, "+:hv", longopts, NULL)) != -1) {
		r = 0;
		switch (c) {
		case OPT_ROOT:
			g->root = optarg;
			break;
		case OPT_LOG:
			g->log = optarg;
			break;
		case OPT_LOG_FORMAT:
			g->log_format = optarg;
			break;
		case OPT_DEBUG:
			r = bool_flag("debug", optarg, &g->debug, err);
			break;
		case OPT_SYSTEMD_CGROUP:
			r = bool_flag("systemd-cgroup", optarg, &g->systemd_cgroup, err);
			break;
		case OPT_ROOTLESS:
		case OPT_CRIU:
			break;
		case 'h':
			g->help = true;
			break;
		case 'v':
			g->version = true;
			break;
		case ':':
			return lv_err_msg(err, EINVAL, "flag needs an argument: %s", argv[optind - 1]);
		default:
			if (optopt && strncmp(argv[optind - 1], "--", 2) != 0)
				return lv_err_msg(err, EINVAL, "flag provided but not defined: -%c", optopt);
			return lv_err_msg(err, EINVAL, "flag provided but not defined: %s", argv[optind - 1]);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* runc resolves --root to an absolute path. */
static int root_path(const char *given, char **out, struct lv_error **err)
{
	int r = cmd_abs_path(given ? given : RT_DEFAULT_ROOT, out, err);

	return r < 0 ? lv_err_wrap(err, "--root") : 0;
}

int main(int argc, char **argv)
{
	struct global_opts g = { 0 };
	struct rt_context ctx = { .log = { .fd = -1 } };
	struct cmd_call call = { .ctx = &ctx, .error_status = CMD_EXIT_FAILURE };
	struct lv_error *err = NULL;
	cleanup_free char *root = NULL;
	const struct cmd_verb *verb = NULL;
	const char *verb_name;
	bool poold_name = false;
	int r, status;

	/* Run as lightvm-poold (a symlink): the poold verb. */
	{
		const char *base = strrchr(argv[0], '/');
		base = base ? base + 1 : argv[0];
		if (strcmp(base, "lightvm-poold") == 0)
			poold_name = true;
	}
	r = parse_globals(argc, argv, &g, &err);
	if (r < 0) {
		status = report(&ctx.log, err, r, true, NULL);
		goto out;
	}
	if (g.version) {
		cmd_print_version(stdout);
		status = 0;
		goto out;
	}
	if (g.help || (optind >= argc && !poold_name)) {
		print_main_help(stdout);
		status = 0;
		goto out;
	}
	/* The log first, so every later error reaches it (containerd reads
	 * the error from there). */
	r = rt_log_open(&ctx.log, g.log, g.log_format, g.debug, &err);
	if (r < 0) {
		status = report(&ctx.log, err, r, false, NULL);
		goto out;
	}
	verb_name = poold_name ? "poold" : argv[optind];
	call.verb = verb_name;
	if (!is_help_verb(verb_name)) {
		verb = find_verb(verb_name);
		if (!verb) {
			r = lv_err_msg(&err, EINVAL, "unknown command \"%s\"", verb_name);
			report(&ctx.log, err, r, true, NULL);
			status = CMD_EXIT_UNKNOWN_COMMAND;
			goto out;
		}
	}
	r = root_path(g.root, &root, &err);
	/* rt_config_load() may leave allocations behind on failure too:
	 * rt_config_free() at the end takes care of them. */
	if (r >= 0 && verb && verb->needs_config)
		r = rt_config_load(&ctx.config, &err);
	if (r < 0) {
		status = report(&ctx.log, err, r, false, NULL);
		goto out;
	}
	ctx.root = root;
	ctx.debug = g.debug;
	ctx.systemd_cgroup = g.systemd_cgroup;
	rt_debug(&ctx.log, "lightvm %s: root %s, config %s", verb_name, root,
		 ctx.config.path ? ctx.config.path : "(defaults)");

	/* The verb sees argv from its own name on, getopt reset for it. */
	if (poold_name) {
		/* The verb's own options start where the globals end. */
		argv[optind - 1] = (char *)"poold";
		optind--;
	}
	argc -= optind;
	argv += optind;
	optind = 0;
	r = verb ? verb->run(&call, argc, argv, &err) : help(&call, argc, argv, &err);
	if (r < 0) {
		report(&ctx.log, err, r, call.usage_error, verb_name);
		status = call.error_status;
	} else {
		status = r;
	}
out:
	rt_config_free(&ctx.config);
	rt_log_close(&ctx.log);
	lv_error_free(&err);
	return status;
}
