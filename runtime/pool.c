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

/* A claimed shell's descriptors by role: a qemu shell's pidfd and
 * control socket, or a kvm template's RAM and state; -1 where absent. */
struct claimed_fds {
	int pidfd, ctl, mem, snapshot;
};

static void claimed_close(struct claimed_fds *c)
{
	int *all[] = { &c->pidfd, &c->ctl, &c->mem, &c->snapshot };

	for (size_t i = 0; i < LV_ARRAY_SIZE(all); i++) {
		if (*all[i] >= 0)
			close(*all[i]);
		*all[i] = -1;
	}
}

static void sort_roles(const struct pool_claimed *c, const int *fds, unsigned nfds, struct claimed_fds *out)
{
	*out = (struct claimed_fds){ -1, -1, -1, -1 };
	for (unsigned i = 0; i < nfds; i++) {
		int *slot = NULL;
		if (i < c->nfds) {
			switch (c->roles[i]) {
			case POOL_FD_PIDFD: slot = &out->pidfd; break;
			case POOL_FD_CTL: slot = &out->ctl; break;
			case POOL_FD_MEMFD: slot = &out->mem; break;
			case POOL_FD_SNAPSHOT: slot = &out->snapshot; break;
			default: break;
			}
		}
		if (slot && *slot < 0)
			*slot = fds[i];
		else
			close(fds[i]);
	}
}

/* 1 with the shell's fds, 0 for a cold start (the reason logged), never
 * an error: the pool is only ever a shortcut. */
static int claim(struct rt_context *ctx, const struct hv_vm_config *vc, const char *backend, struct claimed_fds *got)
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
	if (m.type != POOL_MSG_CLAIMED) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		rt_debug(&ctx->log, "pool: unexpected %s reply (%u fds): cold start", pool_type_name(m.type), nfds);
		return 0;
	}
	sort_roles(&m.claimed, fds, nfds, got);
	rt_debug(&ctx->log, "pool: claimed shell %llu", (unsigned long long)m.claimed.shell_id);
	return 1;
cold:
	r = lv_err_errno(err);
	rt_debug(&ctx->log, "pool: %s: cold start", err ? err->msg : strerror(r));
	lv_error_free(&err);
	return 0;
}

/* The claimed shell becomes vm: restored from a kvm template, or a qemu
 * shell adopted.  Consumes got. */
static int take_over(struct rt_context *ctx, const struct hv_ops *ops, const struct hv_vm_config *vc,
		     struct claimed_fds *got, struct hv_vm *vm, struct lv_error **err)
{
	int r;

	if (ops->restore && got->mem >= 0 && got->snapshot >= 0) {
		r = ops->restore(&ctx->config, vc, got->mem, got->snapshot, vm, err);
	} else if (ops->adopt && got->pidfd >= 0 && got->ctl >= 0) {
		r = ops->adopt(vm, got->pidfd, got->ctl, err);
		got->pidfd = got->ctl = -1; /* adopt consumes them */
	} else {
		r = lv_err_msg(err, EPROTO, "the shell's descriptors do not fit the %s backend", ops->name);
	}
	claimed_close(got);
	return r;
}

int rt_pool_launch(struct rt_context *ctx, const struct hv_ops *ops, const struct hv_vm_config *vc,
		   struct hv_vm *vm, bool *claimed, struct lv_error **err)
{
	struct claimed_fds got;

	*claimed = false;
	/* Only a guest that waits for its rootfs can become any container, and
	 * shells have no debug console, disk, NIC or shared directory. */
	if ((ops->adopt || ops->restore) && vc->rootfs_archive && !vc->disk && !vc->tap && !vc->nshares && !vc->debug &&
	    claim(ctx, vc, ops->name, &got) == 1) {
		if (take_over(ctx, ops, vc, &got, vm, err) == 0) {
			*claimed = true;
			return 0;
		}
		rt_debug(&ctx->log, "pool: taking over the shell: %s: cold start", (*err)->msg);
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
