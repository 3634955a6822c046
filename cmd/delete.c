/* lightvm delete [--force] <container-id> */
#include "cmd.h"

int cmd_delete(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		CMD_HELP_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	const char *id;
	bool force = false;
	int c, r;

	while ((c = cmd_getopt(call, argc, argv, "fh", longopts, err)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case CMD_OPT_HELP:
			return 0;
		default:
			return c < 0 ? c : lv_err_msg(err, EINVAL, "delete: unexpected option");
		}
	}
	r = cmd_operand_id(call, argc, argv, 1, &id, err);
	if (r < 0)
		return r;
	r = rt_container_delete(call->ctx, id, force, err);
	/* runc: deleting a container that does not exist is an error, unless
	 * --force, when it quietly succeeds (shims delete -f to clean up). */
	if (r == -ENOENT && force) {
		lv_error_free(err);
		return 0;
	}
	return r < 0 ? r : 0;
}
