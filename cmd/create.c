/* lightvm create [options] <container-id> (and the flags run shares). */
#include "cmd.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"

enum {
	OPT_CONSOLE_SOCKET = 0x100,
	OPT_PID_FILE,
	OPT_NO_PIVOT,
	OPT_NO_NEW_KEYRING,
	OPT_NO_SUBREAPER,
	OPT_PRESERVE_FDS,
	OPT_KEEP,
};

static const struct option create_options[] = {
	{ "bundle", required_argument, NULL, 'b' },
	{ "console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET },
	{ "pid-file", required_argument, NULL, OPT_PID_FILE },
	{ "no-pivot", no_argument, NULL, OPT_NO_PIVOT },
	{ "no-new-keyring", no_argument, NULL, OPT_NO_NEW_KEYRING },
	{ "preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS },
	CMD_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const struct option run_options[] = {
	{ "bundle", required_argument, NULL, 'b' },
	{ "console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET },
	{ "detach", no_argument, NULL, 'd' },
	{ "keep", no_argument, NULL, OPT_KEEP },
	{ "pid-file", required_argument, NULL, OPT_PID_FILE },
	{ "no-subreaper", no_argument, NULL, OPT_NO_SUBREAPER },
	{ "no-pivot", no_argument, NULL, OPT_NO_PIVOT },
	{ "no-new-keyring", no_argument, NULL, OPT_NO_NEW_KEYRING },
	{ "preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS },
	CMD_HELP_OPTION,
	{ NULL, 0, NULL, 0 },
};

void cmd_create_args_free(struct cmd_create_args *a)
{
	free(a->bundle);
	free(a->pid_file);
	free(a->console_socket);
	memset(a, 0, sizeof(*a));
}

/* runc chdirs into the bundle and records the working directory, so the
 * bundle must exist and comes out with symlinks resolved. */
static int resolve_bundle(const char *given, char **out, struct lv_error **err)
{
	*out = realpath(given ? given : ".", NULL);
	if (!*out)
		return lv_err(err, errno, "bundle %s", given ? given : ".");
	return 0;
}

int cmd_parse_create(struct cmd_call *call, int argc, char **argv, bool run, struct cmd_create_args *a,
		     struct lv_error **err)
{
	const char *bundle = NULL, *pid_file = NULL, *console_socket = NULL;
	unsigned long nfds;
	int c, r;

	memset(a, 0, sizeof(*a));
	while ((c = cmd_getopt(call, argc, argv, run ? "b:dh" : "b:h", run ? run_options : create_options, err)) !=
	       -1) {
		switch (c) {
		case CMD_OPT_HELP:
			return CMD_OPT_HELP;
		case 'b':
			bundle = optarg;
			break;
		case 'd':
			a->opts.detach = true;
			break;
		case OPT_KEEP:
			a->opts.keep = true;
			break;
		case OPT_CONSOLE_SOCKET:
			console_socket = optarg;
			break;
		case OPT_PID_FILE:
			pid_file = optarg;
			break;
		case OPT_NO_PIVOT:
		case OPT_NO_NEW_KEYRING:
		case OPT_NO_SUBREAPER:
			/* Accepted for compatibility: the container runs in its
			 * own kernel, with its own root, keyrings and reaper. */
			break;
		case OPT_PRESERVE_FDS:
			if (cmd_parse_uint(optarg, &nfds) < 0)
				return cmd_usage_err(call, err, "invalid value \"%s\" for flag --preserve-fds", optarg);
			if (nfds != 0)
				return lv_err_msg(err, ENOTSUP,
						  "%s: --preserve-fds %lu: passing extra file descriptors into the VM is "
						  "not supported (only 0)",
						  call->verb, nfds);
			break;
		default:
			return c < 0 ? c : lv_err_msg(err, EINVAL, "%s: unexpected option", call->verb);
		}
	}
	r = cmd_operand_id(call, argc, argv, 1, &a->opts.id, err);
	if (r < 0)
		return r;
	r = resolve_bundle(bundle, &a->bundle, err);
	if (r < 0)
		return r;
	a->opts.bundle = a->bundle;
	/* Absolute like runc's: the runtime may work from another directory. */
	if (pid_file) {
		r = cmd_abs_path(pid_file, &a->pid_file, err);
		if (r < 0)
			return lv_err_wrap(err, "--pid-file");
		a->opts.pid_file = a->pid_file;
	}
	if (console_socket) {
		r = cmd_abs_path(console_socket, &a->console_socket, err);
		if (r < 0)
			return lv_err_wrap(err, "--console-socket");
		a->opts.console_socket = a->console_socket;
	}
	return 0;
}

int cmd_create(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	struct cmd_create_args a;
	int r;

	r = cmd_parse_create(call, argc, argv, false, &a, err);
	if (r == 0)
		r = rt_container_create(call->ctx, &a.opts, err);
	cmd_create_args_free(&a);
	return r < 0 ? r : 0;
}
