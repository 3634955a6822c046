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

/* What the child sends: 0 and the two fds, or an errno and its message. */
struct tmpl_reply {
	int32_t errnum;
	char msg[480];
};

void pd_template_init(struct pd_template *t)
{
	*t = (struct pd_template){ .mem_fd = -1, .state_fd = -1, .sock = -1 };
}

static void send_reply(int sock, int errnum, const char *msg, const int *fds)
{
	struct tmpl_reply rep = { .errnum = errnum };
	struct iovec iov = { .iov_base = &rep, .iov_len = sizeof(rep) };
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	snprintf(rep.msg, sizeof(rep.msg), "%s", msg ? msg : "");
	if (fds) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(2 * sizeof(int));
		memcpy(CMSG_DATA(c), fds, 2 * sizeof(int));
	}
	(void)!sendmsg(sock, &mh, MSG_NOSIGNAL);
}

/* The child: never returns. */
static void __attribute__((noreturn))
child(const struct rt_config *cfg, const struct pool_key *key, const char *initrd, const char *dir, int sock,
      pid_t parent)
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
		send_reply(sock, lv_err_errno(err), err->msg, NULL);
		_exit(1);
	}
	send_reply(sock, 0, NULL, fds);
	_exit(0);
}

int pd_template_start(const struct rt_config *cfg, const struct pool_key *key, const char *initrd,
		      const char *dir, struct pd_template *t, struct lv_error **err)
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
		child(cfg, key, initrd, dir, sv[1], parent);
	}
	close(sv[1]);
	t->pid = pid;
	t->sock = sv[0];
	return 0;
}

int pd_template_collect(struct pd_template *t, struct lv_error **err)
{
	struct tmpl_reply rep = { .errnum = EPIPE };
	struct iovec iov = { .iov_base = &rep, .iov_len = sizeof(rep) };
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	int fds[2] = { -1, -1 };
	ssize_t n = recvmsg(t->sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	struct cmsghdr *c;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return -EAGAIN;
	for (c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int got[2] = { -1, -1 };
		memcpy(got, CMSG_DATA(c), (k > 2 ? 2 : k) * sizeof(int));
		for (size_t i = 0; i < k && i < 2; i++) {
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = got[i];
		}
	}
	close(t->sock);
	t->sock = -1;
	t->pid = 0; /* it exits now; the daemon's reaper collects it */
	if (n != (ssize_t)sizeof(rep) || rep.errnum != 0 || fds[0] < 0 || fds[1] < 0 || (mh.msg_flags & MSG_CTRUNC)) {
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		rep.msg[sizeof(rep.msg) - 1] = '\0';
		if (n != (ssize_t)sizeof(rep))
			return lv_err_msg(err, EPIPE, "the template child died without a word");
		return lv_err_msg(err, rep.errnum > 0 ? rep.errnum : EIO, "%s", rep.msg[0] ? rep.msg : "failed");
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
	} else if (pd_template_start(&pd->ctx->config, &p->key, pd->initrd, dir, &p->tmpl, &err) == 0) {
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

