/* lightvm exec [command options] <container-id> <command> [args...]
 * As runc's exec: --process FILE or inline args, -t, --console-socket,
 * --pid-file, -d, -e, --cwd, -u, -g, --no-new-privs, --cap.  Errors once
 * the command line is understood exit 255, as runc's exec does. */
#include "cmd.h"

#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"
#include "../runtime/exec.h"

#define EXEC_ERROR_STATUS 255

/* Growable string and gid lists for repeatable flags. */
static int push_str(char ***v, size_t *n, char *s, struct lv_error **err)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(**v));

	if (!nv)
		return lv_err(err, ENOMEM, "exec");
	*v = nv;
	nv[(*n)++] = s;
	nv[*n] = NULL;
	return 0;
}

static int parse_id32(const char *s, uint32_t *out)
{
	unsigned long v;

	if (cmd_parse_uint(s, &v) < 0 || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_user(struct cmd_call *call, const char *s, struct rt_exec_opts *o, struct lv_error **err)
{
	cleanup_free char *u = strdup(s);
	char *colon;

	if (!u)
		return lv_err(err, ENOMEM, "exec");
	colon = strchr(u, ':');
	if (colon)
		*colon = '\0';
	if (parse_id32(u, &o->uid) < 0 || (colon && parse_id32(colon + 1, &o->gid) < 0))
		return cmd_usage_err(call, err, "--user \"%s\": must be UID or UID:GID (numbers; names are not looked up)", s);
	o->has_user = true;
	o->has_gid = colon != NULL;
	return 0;
}

int cmd_exec(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	static const struct option longopts[] = {
		{ "process", required_argument, NULL, 'p' },
		{ "tty", no_argument, NULL, 't' },
		{ "console-socket", required_argument, NULL, 'C' },
		{ "pid-file", required_argument, NULL, 'P' },
		{ "detach", no_argument, NULL, 'd' },
		{ "env", required_argument, NULL, 'e' },
		{ "cwd", required_argument, NULL, 'w' },
		{ "user", required_argument, NULL, 'u' },
		{ "additional-gids", required_argument, NULL, 'g' },
		{ "no-new-privs", no_argument, NULL, 'N' },
		{ "cap", required_argument, NULL, 'c' },
		{ "preserve-fds", required_argument, NULL, 'F' },
		{ "process-label", required_argument, NULL, 'L' },
		{ "apparmor", required_argument, NULL, 'A' },
		CMD_HELP_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	struct rt_exec_opts o = { 0 };
	cleanup_free char **env = NULL, **caps = NULL;
	cleanup_free uint32_t *gids = NULL;
	cleanup_free char *console = NULL, *pid_file = NULL, *process = NULL;
	unsigned long n;
	int c, r, code = 0;

	while ((c = cmd_getopt(call, argc, argv, "+p:tdu:e:g:c:h", longopts, err)) != -1) {
		switch (c) {
		case 'p':
			free(process);
			if ((r = cmd_abs_path(optarg, &process, err)) < 0)
				return r;
			break;
		case 't':
			o.tty = true;
			break;
		case 'C':
			free(console);
			if ((r = cmd_abs_path(optarg, &console, err)) < 0)
				return r;
			break;
		case 'P':
			free(pid_file);
			if ((r = cmd_abs_path(optarg, &pid_file, err)) < 0)
				return r;
			break;
		case 'd':
			o.detach = true;
			break;
		case 'e':
			if (!strchr(optarg, '='))
				return cmd_usage_err(call, err, "--env \"%s\": must be KEY=VALUE", optarg);
			if ((r = push_str(&env, &o.nenv, optarg, err)) < 0)
				return r;
			break;
		case 'w':
			if (optarg[0] != '/')
				return cmd_usage_err(call, err, "--cwd \"%s\": must be an absolute path", optarg);
			o.cwd = optarg;
			break;
		case 'u':
			if ((r = parse_user(call, optarg, &o, err)) < 0)
				return r;
			break;
		case 'g': {
			uint32_t *ng = realloc(gids, (o.ngids + 1) * sizeof(*gids));
			if (!ng)
				return lv_err(err, ENOMEM, "exec");
			gids = ng;
			if (parse_id32(optarg, &gids[o.ngids]) < 0)
				return cmd_usage_err(call, err, "--additional-gids \"%s\": must be a number", optarg);
			o.ngids++;
			break;
		}
		case 'N':
			o.no_new_privs = true;
			break;
		case 'c':
			if ((r = push_str(&caps, &o.ncaps, optarg, err)) < 0)
				return r;
			break;
		case 'F':
			if (cmd_parse_uint(optarg, &n) < 0)
				return cmd_usage_err(call, err, "--preserve-fds \"%s\": must be a number", optarg);
			if (n > 0)
				return cmd_usage_err(call, err,
						     "--preserve-fds %lu: passing file descriptors into a VM is not supported (only 0)",
						     n);
			break;
		case 'L':
		case 'A':
			break; /* superseded: no LSM in the guest */
		case CMD_OPT_HELP:
			return 0;
		default:
			return c < 0 ? c : lv_err_msg(err, EINVAL, "exec: unexpected option");
		}
	}
	if (optind >= argc)
		return cmd_usage_err(call, err, "missing container id");
	o.id = argv[optind];
	if ((r = rt_id_check(o.id, err)) < 0)
		return r;
	if (process && optind + 1 < argc)
		return cmd_usage_err(call, err, "--process and a command cannot be given together");
	if (!process && optind + 1 >= argc)
		return cmd_usage_err(call, err, "missing command (give ARGS after the container id, or --process FILE)");
	o.process_file = process;
	o.args = argv + optind + 1;
	o.nargs = (size_t)(argc - optind - 1);
	o.console_socket = console;
	o.pid_file = pid_file;
	o.env = env;
	o.gids = gids;
	o.caps = caps;
	call->error_status = EXEC_ERROR_STATUS;
	r = rt_container_exec(call->ctx, &o, &code, err);
	return r < 0 ? r : code;
}
