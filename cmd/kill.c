/* lightvm kill [--all] <container-id> [signal] */
#include "cmd.h"

int cmd_kill(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		CMD_HELP_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	const char *id;
	bool all = false;
	int signo = 0;
	int c, r;

	while ((c = cmd_getopt(call, argc, argv, "ah", longopts, err)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case CMD_OPT_HELP:
			return 0;
		default:
			return c < 0 ? c : lv_err_msg(err, EINVAL, "kill: unexpected option");
		}
	}
	r = cmd_operand_id(call, argc, argv, 2, &id, err);
	if (r < 0)
		return r;
	/* runc looks the container up first; we check the whole command line
	 * before touching any container. */
	r = cmd_parse_signal(optind + 1 < argc ? argv[optind + 1] : "SIGTERM", &signo, err);
	if (r < 0)
		return lv_err_wrap(err, "kill");
	r = rt_container_kill(call->ctx, id, signo, all, err);
	return r < 0 ? r : 0;
}
