/* Verbs runc has and lightvm does not implement yet.  They share one path
 * (cmd_not_supported) so the message and exit status stay the same. */
#include "cmd.h"

int cmd_update(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	return cmd_not_supported(call, argc, argv, NULL, err);
}

int cmd_checkpoint(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	return cmd_not_supported(call, argc, argv, NULL, err);
}

int cmd_restore(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	return cmd_not_supported(call, argc, argv, NULL, err);
}
