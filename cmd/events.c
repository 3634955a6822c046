/* lightvm events [--interval DURATION] [--stats] <container-id>: JSON lines
 * {"type":"stats","id":ID,"data":{...}} as runc prints them.  With --stats
 * one event, else one per interval until the container stops. */
#include "cmd.h"

#include <string.h>
#include <time.h>

#define EVENTS_DEFAULT_INTERVAL_NS (5LL * 1000000000LL)

/* Whether the container still runs: -ENOENT once it has been deleted. */
static int container_status(struct rt_context *ctx, const char *id, enum rt_status *status,
			    struct lv_error **err)
{
	struct rt_state *st = NULL;
	int r = rt_container_state(ctx, id, &st, err);

	if (r < 0)
		return r;
	*status = rt_state_live_status(st);
	rt_state_free(st);
	return 0;
}

/* Prints the event for stats, which it takes over. */
static int print_stats_event(const char *id, json_t *stats, struct lv_error **err)
{
	json_t *ev;
	int r;

	ev = json_pack("{s:s, s:s, s:o}", "type", "stats", "id", id, "data", stats);
	if (!ev)
		return lv_err(err, ENOMEM, "stats event");
	r = cmd_print_json(ev, JSON_COMPACT, true, err);
	json_decref(ev);
	return r;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cmd_events(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	enum { OPT_INTERVAL = 0x100, OPT_STATS };
	static const struct option longopts[] = {
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "stats", no_argument, NULL, OPT_STATS },
		CMD_HELP_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	int64_t interval = EVENTS_DEFAULT_INTERVAL_NS;
	enum rt_status status;
	json_t *stats = NULL;
	bool once = false;
	const char *id;
	int c, r;

	while ((c = cmd_getopt(call, argc, argv, "h", longopts, err)) != -1) {
		switch (c) {
		case OPT_INTERVAL:
			r = cmd_parse_duration(optarg, &interval, err);
			if (r < 0) {
				call->usage_error = true;
				return lv_err_wrap(err, "events: invalid value \"%s\" for flag --interval", optarg);
			}
			break;
		case OPT_STATS:
			once = true;
			break;
		case CMD_OPT_HELP:
			return 0;
		default:
			return c < 0 ? c : lv_err_msg(err, EINVAL, "events: unexpected option");
		}
	}
	r = cmd_operand_id(call, argc, argv, 1, &id, err);
	if (r < 0)
		return r;
	if (interval <= 0)
		return cmd_usage_err(call, err, "duration interval must be greater than 0");
	r = container_status(call->ctx, id, &status, err);
	if (r < 0)
		return r;
	if (status == RT_STATUS_STOPPED)
		return lv_err_msg(err, EINVAL, "container with id %s is not running", id);
	if (once) {
		r = rt_container_stats(call->ctx, id, &stats, err);
		return r < 0 ? r : print_stats_event(id, stats, err);
	}
	for (;;) {
		struct lv_error *e = NULL;

		sleep_ns(interval);
		r = container_status(call->ctx, id, &status, err);
		if (r == -ENOENT) {
			lv_error_free(err);
			return 0;
		}
		if (r < 0)
			return r;
		if (status == RT_STATUS_STOPPED)
			return 0;
		/* As runc: a failed sample is logged and the stream goes on. */
		r = rt_container_stats(call->ctx, id, &stats, &e);
		if (r < 0) {
			rt_log(&call->ctx->log, RT_LOG_ERROR, "%s", e && e->msg ? e->msg : "stats failed");
			lv_error_free(&e);
			continue;
		}
		r = print_stats_event(id, stats, err);
		if (r < 0)
			return r;
	}
}
