/* lightvm run [options] <container-id>: create + start; in the foreground
 * it exits with the container's exit status, as runc does. */
#include "cmd.h"

int cmd_run(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	struct cmd_create_args a;
	int exit_code = 0;
	int r;

	r = cmd_parse_create(call, argc, argv, true, &a, err);
	if (r == 0)
		r = rt_container_run(call->ctx, &a.opts, &exit_code, err);
	if (r == 0 && !a.opts.detach)
		r = exit_code < 0 ? 255 : exit_code > 255 ? 255 : exit_code;
	else if (r == CMD_OPT_HELP)
		r = 0;
	cmd_create_args_free(&a);
	return r;
}
