/* lightvm resume <container-id> */
#include "cmd.h"

int cmd_resume(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	return cmd_simple_id_verb(call, argc, argv, rt_container_resume, err);
}
