/* lightvm state <container-id>: the OCI state, indented by two spaces and
 * without a trailing newline, exactly as runc prints it. */
#include "cmd.h"

int cmd_state(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	static const struct option longopts[] = { CMD_HELP_OPTION, { NULL, 0, NULL, 0 } };
	struct rt_state *st = NULL;
	const char *id;
	json_t *j;
	int c, r;

	while ((c = cmd_getopt(call, argc, argv, "h", longopts, err)) != -1)
		return c == CMD_OPT_HELP ? 0 : c < 0 ? c : lv_err_msg(err, EINVAL, "state: unexpected option");
	r = cmd_operand_id(call, argc, argv, 1, &id, err);
	if (r < 0)
		return r;
	r = rt_container_state(call->ctx, id, &st, err);
	if (r < 0)
		return r;
	j = rt_state_to_oci_json(st);
	rt_state_free(st);
	if (!j)
		return lv_err(err, ENOMEM, "state of container \"%s\"", id);
	r = cmd_print_json(j, JSON_INDENT(2), false, err);
	json_decref(j);
	return r;
}
