/* The kvm template of a pool (see poold_template.h). */
#include "poold_template.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/clock.h"
#include "guest_blob.h"
#include "hv.h"
#include "poold_internal.h"

void pd_template_init(struct pd_template *t)
{
	*t = (struct pd_template){ .mem_fd = -1, .state_fd = -1, .sock = -1 };
}

/* The child's one message, in the daemon protocol's words: CLAIMED with
 * the snapshot's two fds, or ERROR. */
static void send_reply(int sock, uint64_t id, const struct lv_error *e, const int *fds)
{
	struct pool_msg m = { .type = fds ? POOL_MSG_CLAIMED : POOL_MSG_ERROR };
	struct lv_error *err = NULL;

	if (fds) {
		m.claimed.shell_id = id;
		m.claimed.nfds = 2;
		m.claimed.roles[0] = POOL_FD_MEMFD;
		m.claimed.roles[1] = POOL_FD_SNAPSHOT;
	} else {
		m.error.errnum = (uint32_t)lv_err_errno(e);
		snprintf(m.error.text, sizeof(m.error.text), "%s", e->msg);
	}
	pool_send(sock, &m, fds, fds ? 2 : 0, &err);
	lv_error_free(&err);
}

/* The child: never returns. */
static void __attribute__((noreturn))
child(const struct rt_config *cfg, const struct pool_key *key, const char *initrd, const char *dir, uint64_t id,
      int sock, pid_t parent)
{
	struct hv_vm_config vc = {
		.kernel = cfg->kernel,
		.initrd = initrd,
		.init_path = RT_GUEST_INIT_PATH,
		.mem_mib = key->mem_mib,
		.vcpus = key->vcpus,
		.debug_log_fd = -1,
		.state_dir = dir,
	};
	struct lv_error *err = NULL;
	int fds[2];

	/* A dead daemon takes its half-made template with it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	/* None of the daemon's sockets, shells' fds or clients: only ours. */
	if (dup2(sock, 3) < 0 || syscall(SYS_close_range, 4, ~0U, 0) < 0)
		_exit(1);
	sock = 3;
	if (hv_kvm_ops.make_template(cfg, &vc, &fds[0], &fds[1], &err) < 0) {
		send_reply(sock, id, err, NULL);
		_exit(1);
	}
	send_reply(sock, id, NULL, fds);
	_exit(0);
}

int pd_template_start(const struct rt_config *cfg, const struct pool_key *key, const char *initrd,
		      const char *dir, uint64_t id, struct pd_template *t, struct lv_error **err)
{
	pid_t parent = getpid(), pid;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return lv_err(err, errno, "socketpair for the template");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return lv_err(err, errno, "fork for the template");
	}
	if (pid == 0) {
		close(sv[0]);
		child(cfg, key, initrd, dir, id, sv[1], parent);
	}
	close(sv[1]);
	t->pid = pid;
	t->sock = sv[0];
	return 0;
}

int pd_template_collect(struct pd_template *t, struct lv_error **err)
{
	struct pool_msg m;
	int fds[2] = { -1, -1 };
	unsigned nfds = 0;
	int r = pool_recv(t->sock, &m, fds, 2, &nfds, 0, err);

	if (r == -ETIMEDOUT) {
		lv_error_free(err);
		return -EAGAIN;
	}
	close(t->sock);
	t->sock = -1;
	t->pid = 0; /* it exits now; the daemon's reaper collects it */
	if (r == -ECONNRESET) {
		lv_error_free(err);
		return lv_err_msg(err, EPIPE, "the template child died without a word");
	}
	if (r < 0)
		return r;
	if (m.type == POOL_MSG_ERROR)
		return lv_err_msg(err, m.error.errnum ? (int)m.error.errnum : EIO, "%s", m.error.text);
	if (m.type != POOL_MSG_CLAIMED || nfds != 2 || m.claimed.roles[0] != POOL_FD_MEMFD ||
	    m.claimed.roles[1] != POOL_FD_SNAPSHOT) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		return lv_err_msg(err, EPROTO, "the template child sent %s", pool_type_name(m.type));
	}
	t->mem_fd = fds[0];
	t->state_fd = fds[1];
	return 0;
}

void pd_template_drop(struct pd_template *t)
{
	if (t->pid > 0)
		kill(t->pid, SIGKILL); /* our child: the reaper collects it */
	if (t->sock >= 0)
		close(t->sock);
	if (t->mem_fd >= 0)
		close(t->mem_fd);
	if (t->state_fd >= 0)
		close(t->state_fd);
	pd_template_init(t);
}

/* The daemon's side: one template per kvm pool. */
void poold_template_launch(struct poold *pd, unsigned pool)
{
	struct pd_pool *p = &pd->pools[pool];
	struct lv_error *err = NULL;
	char dir[PATH_MAX];
	uint64_t id = pd->next_id++;

	p->next_launch_ms = lv_now_ms() + POOLD_RETRY_MS; /* the next try, if this one fails */
	snprintf(dir, sizeof(dir), "%s/%llu", pd->dir, (unsigned long long)id);
	if (mkdir(dir, 0700) < 0) {
		lv_err(&err, errno, "mkdir %s", dir);
	} else if (pd_template_start(&pd->ctx->config, &p->key, pd->initrd, dir, id, &p->tmpl, &err) == 0) {
		p->tmpl_id = id;
		p->tmpl_t0 = lv_now_ms();
		p->tw = (struct watch){ .kind = W_TEMPLATE, .fd = p->tmpl.sock, .obj = p };
		if (watch_add(pd, &p->tw, &err) == 0) {
			rt_debug(&pd->ctx->log, "poold: making the kvm template of pool %u (child %d)", pool,
				 (int)p->tmpl.pid);
			return;
		}
		p->tw.fd = -1;
		pd_template_drop(&p->tmpl);
	}
	poold_record_remove(pd, id);
	rt_log(&pd->ctx->log, RT_LOG_ERROR, "poold: starting a kvm template: %s", err->msg);
	lv_error_free(&err);
}

/* Stops a template being made and forgets a made one. */
void poold_template_stop(struct poold *pd, struct pd_pool *p)
{
	if (p->tw.fd >= 0)
		epoll_ctl(pd->ep, EPOLL_CTL_DEL, p->tw.fd, NULL);
	p->tw.fd = -1; /* it was tmpl.sock: closed by the drop */
	if (p->tmpl.pid > 0 || p->tmpl.sock >= 0)
		poold_record_remove(pd, p->tmpl_id);
	pd_template_drop(&p->tmpl);
}

void poold_template_done(struct poold *pd, struct pd_pool *p)
{
	struct lv_error *err = NULL;
	int r = pd_template_collect(&p->tmpl, &err);

	if (r == -EAGAIN)
		return;
	p->tw.fd = -1; /* closed by the collect, which also took it off the epoll set */
	if (r == 0)
		rt_debug(&pd->ctx->log, "poold: kvm template of %u MiB, %u vCPUs ready in %llu ms", p->key.mem_mib,
			 p->key.vcpus, (unsigned long long)(lv_now_ms() - p->tmpl_t0));
	else
		rt_log(&pd->ctx->log, RT_LOG_ERROR, "poold: making a kvm template: %s", err->msg);
	lv_error_free(&err);
	poold_record_remove(pd, p->tmpl_id);
}

