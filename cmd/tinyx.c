/* lightvm tinyx --app /usr/bin/PROG -o DIR [-- ARGS...]: a minimal bundle
 * (the app, its shared libraries, BusyBox) for an application outside OCI. */
#include "cmd.h"

#include "../runtime/tinyx.h"

int cmd_tinyx(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	static const struct option longopts[] = {
		{ "app", required_argument, NULL, 'a' },
		{ "output", required_argument, NULL, 'o' },
		{ "busybox", required_argument, NULL, 'B' },
		CMD_HELP_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	struct rt_tinyx_opts o = { 0 };
	int c;

	while ((c = cmd_getopt(call, argc, argv, "a:o:h", longopts, err)) != -1) {
		switch (c) {
		case 'a':
			o.app = optarg;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'B':
			o.busybox = optarg;
			break;
		case CMD_OPT_HELP:
			return 0;
		default:
			return c < 0 ? c : lv_err_msg(err, EINVAL, "tinyx: unexpected option");
		}
	}
	if (!o.app)
		return cmd_usage_err(call, err, "missing --app");
	if (!o.out)
		return cmd_usage_err(call, err, "missing -o DIR");
	o.args = optind < argc ? &argv[optind] : NULL;
	c = rt_tinyx_make(&o, err);
	return c < 0 ? c : 0;
}
