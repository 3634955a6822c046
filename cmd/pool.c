/* lightvm poold: the shell-pool daemon; lightvm pool status|fill|drain:
 * its client (runtime/POOL.md). */
#include "cmd.h"

#include <stdlib.h>
#include <string.h>

#include "../runtime/pool.h"

int cmd_poold(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	static const struct option longopts[] = { CMD_HELP_OPTION, { NULL, 0, NULL, 0 } };
	int c, r;

	while ((c = cmd_getopt(call, argc, argv, "h", longopts, err)) != -1)
		return c == CMD_OPT_HELP ? 0 : c < 0 ? c : lv_err_msg(err, EINVAL, "poold: unexpected option");
	r = cmd_no_operands(call, argc, argv, err);
	if (r < 0)
		return r;
	r = rt_poold_run(call->ctx, err);
	return r < 0 ? r : 0;
}

static int print_status(const struct pool_status_reply *s)
{
	printf("%-8s %8s %6s %6s %6s %6s  %s\n", "BACKEND", "MEMORY", "VCPUS", "READY", "TARGET", "CAP", "KERNEL");
	for (unsigned i = 0; i < s->count; i++) {
		const struct pool_entry *e = &s->pools[i];
		printf("%-8s %6uMi %6u %6u %6u %6u  %.12s\n", e->key.backend, e->key.mem_mib, e->key.vcpus, e->ready,
		       e->target, e->cap, e->key.kernel);
	}
	return fflush(stdout) == 0 ? 0 : -EIO;
}

int cmd_pool(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "memory", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "backend", required_argument, NULL, 'b' },
		{ "all", no_argument, NULL, 'a' },
		CMD_HELP_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	struct rt_config *cfg = &call->ctx->config;
	unsigned long target = cfg->pool_target ? cfg->pool_target : 1, mem = cfg->default_mem_mib,
		      vcpus = cfg->default_vcpus;
	struct pool_msg *req = NULL, *reply = NULL;
	const char *sub, *backend = cfg->backend;
	const struct hv_ops *ops;
	bool all = false;
	int c, r;

	while ((c = cmd_getopt(call, argc, argv, "h", longopts, err)) != -1) {
		unsigned long *dst = c == 't' ? &target : c == 'm' ? &mem : c == 'c' ? &vcpus : NULL;
		if (c == CMD_OPT_HELP)
			return 0;
		if (c < 0)
			return c;
		if (c == 'a') {
			all = true;
			continue;
		}
		if (c == 'b') {
			backend = optarg;
			continue;
		}
		if (!dst)
			return lv_err_msg(err, EINVAL, "pool: unexpected option");
		if (cmd_parse_uint(optarg, dst) < 0 || *dst > POOL_TARGET_MAX * 1024ul)
			return cmd_usage_err(call, err, "invalid value \"%s\"", optarg);
	}
	if (optind + 1 != argc)
		return cmd_usage_err(call, err, "expects one of status, fill, drain");
	sub = argv[optind];
	req = calloc(1, sizeof(*req));
	reply = calloc(1, sizeof(*reply));
	if (!req || !reply) {
		r = lv_err(err, ENOMEM, "pool");
		goto out;
	}
	if (strcmp(sub, "status") == 0) {
		req->type = POOL_MSG_STATUS;
	} else if (strcmp(sub, "fill") == 0 || strcmp(sub, "drain") == 0) {
		struct pool_key *key = sub[0] == 'f' ? &req->fill.key : &req->drain.key;
		req->type = sub[0] == 'f' ? POOL_MSG_FILL : POOL_MSG_DRAIN;
		if (sub[0] == 'f')
			req->fill.target = (uint32_t)target;
		if (sub[0] == 'd' && all) {
			req->drain.flags = POOL_DRAIN_ALL;
		} else {
			/* The pool of the backend a container would get ("auto" resolved). */
			r = hv_select(cfg, backend, &ops, err);
			if (r == 0)
				r = rt_pool_key(cfg, ops->name, (unsigned)mem, (unsigned)vcpus, key, err);
			if (r < 0) {
				lv_err_wrap(err, "--backend");
				goto out;
			}
		}
	} else {
		r = cmd_usage_err(call, err, "unknown subcommand \"%s\" (status, fill, drain)", sub);
		goto out;
	}
	r = rt_pool_request(call->ctx, req, reply, err);
	if (r == 0 && reply->type == POOL_MSG_STATUS_REPLY)
		r = print_status(&reply->status);
	if (r == -EIO && !*err)
		r = lv_err(err, EIO, "stdout");
out:
	free(req);
	free(reply);
	return r < 0 ? r : 0;
}
