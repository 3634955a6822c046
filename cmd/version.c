/* lightvm version: runc's `--version` shape, which go-runc parses. */
#include "cmd.h"

void cmd_print_version(FILE *out)
{
	fprintf(out, "lightvm version %s\ncommit: %s\nspec: %s\n", LV_VERSION, LV_COMMIT, CMD_OCI_SPEC_VERSION);
}

int cmd_version(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	static const struct option longopts[] = { CMD_HELP_OPTION, { NULL, 0, NULL, 0 } };
	int c;

	while ((c = cmd_getopt(call, argc, argv, "h", longopts, err)) != -1)
		return c == CMD_OPT_HELP ? 0 : c < 0 ? c : lv_err_msg(err, EINVAL, "version: unexpected option");
	c = cmd_no_operands(call, argc, argv, err);
	if (c < 0)
		return c;
	cmd_print_version(stdout);
	return 0;
}
