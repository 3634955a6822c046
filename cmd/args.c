/* Argument helpers shared by the verbs. */
#include "cmd.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/cleanup.h"

int cmd_usage_err(struct cmd_call *call, struct lv_error **err, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		msg = NULL;
	call->usage_error = true;
	return lv_err_msg(err, EINVAL, "%s: %s", call->verb, msg ? msg : "invalid usage");
}

int cmd_getopt(struct cmd_call *call, int argc, char **argv, const char *shortopts, const struct option *longopts,
	       struct lv_error **err)
{
	cleanup_free char *spec = NULL;
	const char *bad;
	int c;

	/* A leading ':' makes getopt report a missing value as ':' rather
	 * than '?', and opterr = 0 keeps it quiet: main prints errors. */
	if (shortopts[0] == '+') {
		if (asprintf(&spec, "+:%s", shortopts + 1) < 0)
			spec = NULL;
	} else if (asprintf(&spec, ":%s", shortopts) < 0) {
		spec = NULL;
	}
	if (!spec)
		return lv_err(err, ENOMEM, "%s: parsing options", call->verb);
	opterr = 0;
	c = getopt_long(argc, argv, spec, longopts, NULL);
	switch (c) {
	case 'h':
		cmd_print_verb_help(call->verb, stdout);
		return CMD_OPT_HELP;
	case '?':
		bad = argv[optind - 1];
		if (optopt && (!bad || strncmp(bad, "--", 2) != 0))
			return cmd_usage_err(call, err, "unknown option -%c", optopt);
		return cmd_usage_err(call, err, "unknown option %s", bad ? bad : "?");
	case ':':
		bad = argv[optind - 1];
		if (optopt && (!bad || strncmp(bad, "--", 2) != 0))
			return cmd_usage_err(call, err, "option -%c requires a value", optopt);
		return cmd_usage_err(call, err, "option %s requires a value", bad ? bad : "?");
	default:
		return c;
	}
}

int cmd_operand_id(struct cmd_call *call, int argc, char **argv, int max_operands, const char **id,
		   struct lv_error **err)
{
	int n = argc - optind;

	if (n < 1)
		return cmd_usage_err(call, err, "missing container id");
	if (n > max_operands)
		return cmd_usage_err(call, err, "too many arguments (usage: lightvm %s)", cmd_verb_usage(call->verb));
	*id = argv[optind];
	return rt_id_check(*id, err);
}

int cmd_no_operands(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	if (optind < argc)
		return cmd_usage_err(call, err, "unexpected argument \"%s\" (usage: lightvm %s)", argv[optind],
				     cmd_verb_usage(call->verb));
	return 0;
}

int cmd_simple_id_verb(struct cmd_call *call, int argc, char **argv, cmd_id_fn *fn, struct lv_error **err)
{
	static const struct option longopts[] = { CMD_HELP_OPTION, { NULL, 0, NULL, 0 } };
	const char *id;
	int c, r;

	while ((c = cmd_getopt(call, argc, argv, "h", longopts, err)) != -1) {
		if (c == CMD_OPT_HELP)
			return 0;
		return c < 0 ? c : lv_err_msg(err, EINVAL, "%s: unexpected option", call->verb);
	}
	r = cmd_operand_id(call, argc, argv, 1, &id, err);
	if (r < 0)
		return r;
	r = fn(call->ctx, id, err);
	return r < 0 ? r : 0;
}

int cmd_not_supported(struct cmd_call *call, int argc, char **argv, const char *why, struct lv_error **err)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cmd_print_verb_help(call->verb, stdout);
		return 0;
	}
	return lv_err_msg(err, ENOTSUP, "%s is not supported yet%s", call->verb, why ? why : "");
}

int cmd_abs_path(const char *path, char **out, struct lv_error **err)
{
	cleanup_free char *cwd = NULL;

	*out = NULL;
	if (!path || !*path)
		return lv_err_msg(err, EINVAL, "empty path");
	if (path[0] == '/') {
		*out = strdup(path);
		return *out ? 0 : lv_err(err, ENOMEM, "%s", path);
	}
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return lv_err(err, errno, "getcwd");
	if (strncmp(path, "./", 2) == 0)
		path += 2;
	if (strcmp(path, ".") == 0)
		path = "";
	if (asprintf(out, "%s%s%s", cwd, strcmp(cwd, "/") == 0 || !*path ? "" : "/", path) < 0) {
		*out = NULL;
		return lv_err(err, ENOMEM, "%s", path);
	}
	return 0;
}

int cmd_print_json(const json_t *j, size_t flags, bool newline, struct lv_error **err)
{
	cleanup_free char *s = json_dumps(j, flags);

	if (!s)
		return lv_err(err, ENOMEM, "formatting JSON");
	fputs(s, stdout);
	if (newline)
		fputc('\n', stdout);
	if (fflush(stdout) != 0 || ferror(stdout))
		return lv_err(err, errno ? errno : EIO, "writing to stdout");
	return 0;
}

int cmd_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
	size_t i;

	for (i = 0; i < LV_ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int cmd_parse_uint(const char *s, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}
