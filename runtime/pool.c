/* The runtime's side of the shell pool: keys, the monitor's claim and the
 * requests of `lightvm pool`.  See runtime/POOL.md. */
#include "pool.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/sha256.h"

int rt_pool_key(const struct rt_config *cfg, const char *backend, unsigned mem_mib, unsigned vcpus,
		struct pool_key *key, struct lv_error **err)
{
	struct stat st;
	struct lv_sha256 h;
	uint8_t d[LV_SHA256_LEN];
	char meta[96];

	memset(key, 0, sizeof(*key));
	if (strlen(backend) > POOL_BACKEND_MAX)
		return lv_err_msg(err, EINVAL, "pool key: backend \"%s\" is too long", backend);
	if (mem_mib < 1 || vcpus < 1 || vcpus > POOL_MAX_VCPUS)
		return lv_err_msg(err, EINVAL, "pool key: %u MiB, %u vCPUs is out of range", mem_mib, vcpus);
	if (stat(cfg->kernel, &st) < 0)
		return lv_err(err, errno, "pool key: guest kernel %s", cfg->kernel);
	snprintf(meta, sizeof(meta), "\n%lld\n%lld.%09ld", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
		 st.st_mtim.tv_nsec);
	lv_sha256_init(&h);
	lv_sha256_update(&h, cfg->kernel, strlen(cfg->kernel));
	lv_sha256_update(&h, meta, strlen(meta));
	lv_sha256_final(&h, d);
	lv_sha256_hex(d, key->kernel);
	strcpy(key->backend, backend);
	key->mem_mib = mem_mib;
	key->vcpus = vcpus;
	return 0;
}

int rt_pool_sock_path(const char *root, char **out, struct lv_error **err)
{
	if (asprintf(out, "%s/%s", root, RT_POOL_SOCK) < 0) {
		*out = NULL;
		return lv_err(err, ENOMEM, "pool socket path");
	}
	return 0;
}

static bool has_roles(const struct pool_claimed *c, const int *fds, int *pidfd, int *ctl)
{
	*pidfd = *ctl = -1;
	if (c->nfds != 2)
		return false;
	for (unsigned i = 0; i < 2; i++) {
		if (c->roles[i] == POOL_FD_PIDFD)
			*pidfd = fds[i];
		else if (c->roles[i] == POOL_FD_CTL)
			*ctl = fds[i];
	}
	return *pidfd >= 0 && *ctl >= 0;
}

/* 1 with the shell's fds, 0 for a cold start (the reason logged), never
 * an error: the pool is only ever a shortcut. */
static int claim(struct rt_context *ctx, const struct hv_vm_config *vc, const char *backend, int *pidfd, int *ctl)
{
	cleanup_free char *path = NULL;
	cleanup_close int sock = -1;
	struct lv_error *err = NULL;
	struct pool_msg m = { .type = POOL_MSG_CLAIM };
	int fds[POOL_MAX_FDS];
	unsigned nfds = 0;
	int r;

	if (rt_pool_sock_path(ctx->root, &path, &err) < 0)
		goto cold;
	if (access(path, F_OK) != 0) {
		rt_debug(&ctx->log, "pool: no daemon socket %s: cold start", path);
		return 0;
	}
	if (rt_pool_key(&ctx->config, backend, vc->mem_mib, vc->vcpus, &m.claim.key, &err) < 0)
		goto cold;
	m.claim.pid = (uint32_t)getpid();
	sock = pool_connect(path, RT_POOL_CONNECT_MS, &err);
	if (sock < 0 || pool_send(sock, &m, NULL, 0, &err) < 0 ||
	    pool_recv(sock, &m, fds, POOL_MAX_FDS, &nfds, RT_POOL_CLAIM_MS, &err) < 0)
		goto cold;
	if (m.type == POOL_MSG_NONE) {
		rt_debug(&ctx->log, "pool: no ready shell for %u MiB, %u vCPUs: cold start", vc->mem_mib, vc->vcpus);
		return 0;
	}
	if (m.type == POOL_MSG_ERROR) {
		rt_debug(&ctx->log, "pool: the daemon says: %s (errno %u): cold start", m.error.text, m.error.errnum);
		return 0;
	}
	if (m.type != POOL_MSG_CLAIMED || !has_roles(&m.claimed, fds, pidfd, ctl)) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		rt_debug(&ctx->log, "pool: unexpected %s reply (%u fds): cold start", pool_type_name(m.type), nfds);
		return 0;
	}
	rt_debug(&ctx->log, "pool: claimed shell %llu", (unsigned long long)m.claimed.shell_id);
	return 1;
cold:
	r = lv_err_errno(err);
	rt_debug(&ctx->log, "pool: %s: cold start", err ? err->msg : strerror(r));
	lv_error_free(&err);
	return 0;
}

int rt_pool_launch(struct rt_context *ctx, const struct hv_ops *ops, const struct hv_vm_config *vc,
		   struct hv_vm *vm, bool *claimed, struct lv_error **err)
{
	int pidfd, ctl, r;

	*claimed = false;
	/* Only the qemu backend has shells so far, and only a guest that
	 * waits for its rootfs can become any container. */
	if (ops->adopt && vc->rootfs_archive && !vc->disk && !vc->tap && !vc->debug &&
	    claim(ctx, vc, ops->name, &pidfd, &ctl) == 1) {
		r = ops->adopt(vm, pidfd, ctl, err);
		if (r == 0) {
			*claimed = true;
			return 0;
		}
		rt_debug(&ctx->log, "pool: adopting the shell: %s: cold start", (*err)->msg);
		lv_error_free(err);
	}
	return ops->launch(&ctx->config, vc, vm, err);
}

int rt_pool_request(struct rt_context *ctx, const struct pool_msg *req, struct pool_msg *reply,
		    struct lv_error **err)
{
	cleanup_free char *path = NULL;
	cleanup_close int sock = -1;
	unsigned nfds = 0;
	int fd, r;

	r = rt_pool_sock_path(ctx->root, &path, err);
	if (r < 0)
		return r;
	sock = pool_connect(path, 1000, err);
	if (sock < 0)
		return lv_err_wrap(err, "no pool daemon at %s (start one with `lightvm --root %s poold`)", path,
				   ctx->root);
	r = pool_send(sock, req, NULL, 0, err);
	if (r < 0)
		return lv_err_wrap(err, "pool daemon at %s", path);
	r = pool_recv(sock, reply, &fd, 0, &nfds, 30000, err);
	if (r < 0)
		return lv_err_wrap(err, "pool daemon at %s", path);
	if (reply->type == POOL_MSG_ERROR)
		return lv_err_msg(err, reply->error.errnum, "pool daemon: %s", reply->error.text);
	return 0;
}
