/* The lightvm command line: one handler per verb, each parses its own
 * arguments and makes one runtime/ call.  Only main() prints errors and
 * exits; it behaves towards its callers as runc does. */
#ifndef CMD_H
#define CMD_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../lib/error.h"
#include "../runtime/container.h"

/* Exit statuses (runc's): `run` in the foreground exits with the
 * container's status instead. */
#define CMD_EXIT_OK 0
#define CMD_EXIT_FAILURE 1
#define CMD_EXIT_UNKNOWN_COMMAND 3

/* Runtime-spec version this runtime implements (`version`, `features`). */
#define CMD_OCI_SPEC_VERSION RT_OCI_VERSION

/* One invocation of a verb. */
struct cmd_call {
	struct rt_context *ctx;
	const char *verb;
	bool usage_error; /* the error is about the command line: main adds a hint */
	int error_status; /* exit status if the handler fails; CMD_EXIT_FAILURE by default */
};

/* A verb handler: argv[0] is the verb.  Returns the exit status (>= 0) or a
 * negative errno with *err set. */
typedef int cmd_handler(struct cmd_call *call, int argc, char **argv, struct lv_error **err);

cmd_handler cmd_checkpoint, cmd_create, cmd_delete, cmd_events, cmd_exec, cmd_features, cmd_kill, cmd_list,
	cmd_pause, cmd_pool, cmd_poold, cmd_ps, cmd_restore, cmd_resume, cmd_run, cmd_spec, cmd_start, cmd_state, cmd_tinyx, cmd_update,
	cmd_version;

/* main.c: the verb's help page (NAME, USAGE, OPTIONS), and its usage line. */
void cmd_print_verb_help(const char *verb, FILE *out);
const char *cmd_verb_usage(const char *verb);
void cmd_print_version(FILE *out);

/* args.c --------------------------------------------------------------- */

/* Returned by cmd_getopt() after it printed the verb's help: the handler
 * returns 0. */
#define CMD_OPT_HELP 0x10000
#define CMD_HELP_OPTION { "help", no_argument, NULL, 'h' }

/* getopt_long() for a verb.  shortopts must contain "h" and longopts
 * CMD_HELP_OPTION; a leading '+' stops at the first operand (as runc's ps
 * and exec do).  Unknown options and missing values become usage errors
 * naming the verb.  Returns the option, -1 after the last one (optind then
 * indexes the operands), CMD_OPT_HELP, or a negative errno. */
int cmd_getopt(struct cmd_call *call, int argc, char **argv, const char *shortopts, const struct option *longopts,
	       struct lv_error **err);

/* Records a usage error "VERB: message" (EINVAL) and flags it for main. */
int cmd_usage_err(struct cmd_call *call, struct lv_error **err, const char *fmt, ...) LV_PRINTF(3, 4);

/* The operands after the options: requires the container id first, at most
 * max_operands in all, and a valid id.  *id points into argv. */
int cmd_operand_id(struct cmd_call *call, int argc, char **argv, int max_operands, const char **id,
		   struct lv_error **err);

/* Requires that no operands follow the options. */
int cmd_no_operands(struct cmd_call *call, int argc, char **argv, struct lv_error **err);

/* For verbs that are only "VERB <container-id>" and one library call. */
typedef int cmd_id_fn(struct rt_context *ctx, const char *id, struct lv_error **err);
int cmd_simple_id_verb(struct cmd_call *call, int argc, char **argv, cmd_id_fn *fn, struct lv_error **err);

/* The one path for verbs lightvm does not implement yet: `VERB is not
 * supported yet<why>`, exit status 1.  Only --help is understood. */
int cmd_not_supported(struct cmd_call *call, int argc, char **argv, const char *why, struct lv_error **err);

/* path made absolute against the working directory, without resolving
 * symlinks or requiring it to exist (Go's filepath.Abs, minus Clean). */
int cmd_abs_path(const char *path, char **out, struct lv_error **err);

/* Writes the JSON to stdout with jansson flags, with or without a trailing
 * newline; -EIO when stdout fails. */
int cmd_print_json(const json_t *j, size_t flags, bool newline, struct lv_error **err);

/* Go's strconv.ParseBool: 1 t T TRUE true True 0 f F FALSE false False. */
int cmd_parse_bool(const char *s, bool *out);

/* A non-negative decimal integer that fits in *out; -EINVAL otherwise. */
int cmd_parse_uint(const char *s, unsigned long *out);

/* create.c: the flags create and run share. ----------------------------- */
struct cmd_create_args {
	struct rt_create_opts opts;
	char *bundle;          /* owned copies behind opts' pointers */
	char *pid_file;
	char *console_socket;
};

/* Returns 0, CMD_OPT_HELP or a negative errno.  run adds -d and --keep. */
int cmd_parse_create(struct cmd_call *call, int argc, char **argv, bool run, struct cmd_create_args *a,
		     struct lv_error **err);
void cmd_create_args_free(struct cmd_create_args *a);

/* signals.c: runc's kill signal syntax: a number, or a name with or without
 * "SIG" in any case ("9", "KILL", "sigkill", "RTMIN+3").  -EINVAL with
 * `unknown signal "FOO"`. */
int cmd_parse_signal(const char *s, int *signo, struct lv_error **err);

/* duration.c: Go's time.ParseDuration ("5s", "1m30s", "500ms", "1.5h") in
 * nanoseconds.  -EINVAL with `time: invalid duration "x"` as Go says. */
int cmd_parse_duration(const char *s, int64_t *ns, struct lv_error **err);

#endif
