/* The container lifecycle: what each CLI verb calls.  One call per verb; the
 * CLI parses arguments, calls one of these and prints. */
#ifndef RT_CONTAINER_H
#define RT_CONTAINER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../lib/error.h"
#include "config.h"
#include "log.h"
#include "state.h"

/* Global options and everything a verb needs: no global state. */
struct rt_context {
	const char *root;       /* --root, default /run/lightvm */
	struct rt_log log;
	bool debug;
	bool systemd_cgroup;
	struct rt_config config;
};

#define RT_DEFAULT_ROOT "/run/lightvm"

struct rt_create_opts {
	const char *id;
	const char *bundle;         /* default "." made absolute by the CLI */
	const char *pid_file;       /* may be NULL */
	const char *console_socket; /* may be NULL */
	bool detach;                /* run -d */
	bool keep;                  /* run --keep: do not delete after exit */
};

int rt_container_create(struct rt_context *ctx, const struct rt_create_opts *opts, struct lv_error **err);
int rt_container_start(struct rt_context *ctx, const char *id, struct lv_error **err);
/* create + start; without detach, waits and sets *exit_code to the
 * container's exit status (128+N for signal N), forwarding signals. */
int rt_container_run(struct rt_context *ctx, const struct rt_create_opts *opts, int *exit_code, struct lv_error **err);
int rt_container_kill(struct rt_context *ctx, const char *id, int signo, bool all, struct lv_error **err);
int rt_container_delete(struct rt_context *ctx, const char *id, bool force, struct lv_error **err);
int rt_container_state(struct rt_context *ctx, const char *id, struct rt_state **out, struct lv_error **err);
int rt_container_pause(struct rt_context *ctx, const char *id, struct lv_error **err);
int rt_container_resume(struct rt_context *ctx, const char *id, struct lv_error **err);
/* Host processes that make up the container (monitor, VMM). */
int rt_container_pids(struct rt_context *ctx, const char *id, int **pids, size_t *n, struct lv_error **err);
/* runc events' "stats" data object for the container. */
int rt_container_stats(struct rt_context *ctx, const char *id, json_t **stats, struct lv_error **err);

#endif
