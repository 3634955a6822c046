/* lightvm-poold: keeps pools of pre-booted VM shells and hands them to
 * claiming monitors (runtime/POOL.md, "Design of the pool").
 *
 * One thread, one epoll loop over: the listening socket, its clients (one
 * request, one reply, strictly alternating), a signalfd (SIGCHLD: reap our
 * QEMUs; SIGTERM/SIGINT: drain and exit) and, for every shell handed out,
 * a pidfd of the claiming monitor: when it dies, the daemon kills that
 * QEMU if it still runs.  The daemon stays the parent of every QEMU it
 * started, claimed or not, and so reaps them all.
 *
 * Each shell has ROOT/pool/<id>/ with QEMU's vmm.log and a record,
 * "shell": "qemu <pid> <start>\n" and, once claimed, "claimed <pid>
 * <start>\n" of its monitor.  On start the daemon reclaims what a previous
 * one left: it kills every recorded QEMU that was not handed out or whose
 * monitor is gone, and removes the records.
 *
 * A QEMU shell is ready once its guest init has said WAITING on the
 * control channel: the daemon then stops the QEMU (SIGSTOP) and the
 * adopting monitor continues it.  One that does not boot within the boot
 * timeout is ended.  Claims take the oldest ready shell.  A kvm pool keeps
 * a snapshotted template instead (poold_template.h).  The shells' side is
 * poold_shells.c, the templates' poold_template.c. */
#include "pool.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/clock.h"
#include "guest_blob.h"
#include "initramfs.h"
#include "poold_internal.h"
#include "state.h"
#include "state_internal.h"

int watch_add(struct poold *pd, struct watch *w, struct lv_error **err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };

	if (epoll_ctl(pd->ep, EPOLL_CTL_ADD, w->fd, &ev) < 0)
		return lv_err(err, errno, "epoll_ctl");
	return 0;
}

void watch_close(struct poold *pd, struct watch *w)
{
	if (w->fd < 0)
		return;
	epoll_ctl(pd->ep, EPOLL_CTL_DEL, w->fd, NULL);
	close(w->fd);
	w->fd = -1;
}

static bool key_equal(const struct pool_key *a, const struct pool_key *b)
{
	return a->mem_mib == b->mem_mib && a->vcpus == b->vcpus && strcmp(a->backend, b->backend) == 0 &&
	       strcmp(a->kernel, b->kernel) == 0;
}

static struct pd_pool *pool_find(struct poold *pd, const struct pool_key *key)
{
	for (unsigned i = 0; i < pd->npools; i++)
		if (key_equal(&pd->pools[i].key, key))
			return &pd->pools[i];
	return NULL;
}

static struct pd_pool *pool_add(struct poold *pd, const struct pool_key *key, unsigned cap)
{
	struct pd_pool *p = &pd->pools[pd->npools++];

	*p = (struct pd_pool){ .key = *key, .cap = cap, .kvm = strcmp(key->backend, "kvm") == 0 };
	pd_template_init(&p->tmpl);
	p->tw = (struct watch){ .kind = W_TEMPLATE, .fd = -1, .obj = p };
	return p;
}

/* Shells a claim can have now (booted; for kvm, the template's copies). */
static unsigned pool_ready(const struct poold *pd, unsigned pool)
{
	unsigned n = 0;

	if (pd->pools[pool].kvm) /* claims restore copies: never used up */
		return pd_template_ready(&pd->pools[pool].tmpl) ? pd->pools[pool].target : 0;

	for (const struct pd_shell *sh = pd->shells; sh; sh = sh->next)
		n += !sh->claimed && sh->booted && sh->pool == pool;
	return n;
}

/* Shells ready or on their way: what the refill counts. */
static unsigned pool_unclaimed(const struct poold *pd, unsigned pool)
{
	unsigned n = 0;

	for (const struct pd_shell *sh = pd->shells; sh; sh = sh->next)
		n += !sh->claimed && sh->pool == pool;
	return n;
}

static void refill(struct poold *pd, int *timeout)
{
	uint64_t now = lv_now_ms();

	*timeout = -1;
	if (pd->stop)
		return;
	poold_shell_deadlines(pd, timeout);
	for (unsigned i = 0; i < pd->npools; i++) {
		struct pd_pool *p = &pd->pools[i];
		if (p->kvm) {
			if (!p->target || pd_template_ready(&p->tmpl) || p->tmpl.pid > 0)
				continue;
			if (now >= p->next_launch_ms)
				poold_template_launch(pd, i);
			else if (*timeout < 0 || p->next_launch_ms - now < (uint64_t)*timeout)
				*timeout = (int)(p->next_launch_ms - now);
			continue;
		}
		if (pool_unclaimed(pd, i) >= p->target || pool_unclaimed(pd, i) >= p->cap)
			continue;
		if (now >= p->next_launch_ms)
			poold_shell_launch(pd, i);
		if (pool_unclaimed(pd, i) < p->target) {
			int left = (int)(p->next_launch_ms > now ? p->next_launch_ms - now : 0);
			if (*timeout < 0 || left < *timeout)
				*timeout = left;
		}
	}
}

static void reply_error(int fd, int errnum, const char *fmt, ...) LV_PRINTF(3, 4);
static void reply_error(int fd, int errnum, const char *fmt, ...)
{
	struct pool_msg m = { .type = POOL_MSG_ERROR };
	struct lv_error *err = NULL;
	va_list ap;

	m.error.errnum = (uint32_t)errnum;
	m.error.min_version = POOL_PROTO_MIN_VERSION;
	m.error.max_version = POOL_PROTO_VERSION;
	va_start(ap, fmt);
	vsnprintf(m.error.text, sizeof(m.error.text), fmt, ap);
	va_end(ap);
	pool_send(fd, &m, NULL, 0, &err);
	lv_error_free(&err);
}

static int reply(int fd, uint16_t type)
{
	struct pool_msg m = { .type = type };
	struct lv_error *err = NULL;
	int r = pool_send(fd, &m, NULL, 0, &err);

	lv_error_free(&err);
	return r;
}

/* A kvm claim: the same two sealed fds for every claimant. */
static void claim_template(struct poold *pd, int fd, struct pd_pool *p)
{
	struct pool_msg m = { .type = POOL_MSG_CLAIMED };
	struct lv_error *err = NULL;
	struct ucred cred = { .pid = 0 };
	socklen_t len = sizeof(cred);

	if (!pd_template_ready(&p->tmpl) || !p->target) {
		reply(fd, POOL_MSG_NONE);
		return;
	}
	getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
	m.claimed.shell_id = pd->next_id++;
	m.claimed.nfds = 2;
	m.claimed.roles[0] = POOL_FD_MEMFD;
	m.claimed.roles[1] = POOL_FD_SNAPSHOT;
	if (pool_send(fd, &m, (int[]){ p->tmpl.mem_fd, p->tmpl.state_fd }, 2, &err) < 0) {
		rt_log(&pd->ctx->log, RT_LOG_WARN, "poold: handing out the kvm template: %s", err->msg);
		lv_error_free(&err);
		return;
	}
	rt_debug(&pd->ctx->log, "poold: shell %llu (kvm snapshot) claimed by monitor %d",
		 (unsigned long long)m.claimed.shell_id, (int)cred.pid);
}

static void handle_claim(struct poold *pd, int fd, const struct pool_claim *c)
{
	struct pd_pool *p = pool_find(pd, &c->key);
	struct pool_msg m = { .type = POOL_MSG_CLAIMED };
	struct lv_error *err = NULL;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct pd_shell *sh = NULL;
	unsigned long long mstart = 0;
	unsigned pool = p ? (unsigned)(p - pd->pools) : 0;

	if (p && p->kvm) {
		claim_template(pd, fd, p);
		return;
	}
	for (sh = p ? pd->shells : NULL; sh; sh = sh->next)
		if (!sh->claimed && sh->booted && sh->pool == pool)
			break;
	if (!sh || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		reply(fd, POOL_MSG_NONE);
		return;
	}
	m.claimed.shell_id = sh->id;
	m.claimed.nfds = 2;
	m.claimed.roles[0] = POOL_FD_PIDFD;
	m.claimed.roles[1] = POOL_FD_CTL;
	/* Recorded as claimed before it is sent: a daemon that dies right
	 * after the send must not leave a next one a record that says
	 * "unclaimed", for it would end a VM a container now holds.  (Dying
	 * before the send leaves a shell recorded to a live monitor that never
	 * got it: a later restart, finding that monitor gone, reclaims it.) */
	rt_proc_start_time(cred.pid, &mstart, NULL, NULL);
	poold_record_write(pd, sh, cred.pid, mstart);
	if (pool_send(fd, &m, (int[]){ sh->pidfd, sh->ctl }, 2, &err) < 0) {
		/* Maybe half-delivered: never hand it out again. */
		rt_log(&pd->ctx->log, RT_LOG_WARN, "poold: handing out shell %llu: %s", (unsigned long long)sh->id,
		       err->msg);
		lv_error_free(&err);
		poold_shell_kill(pd, sh);
		return;
	}
	close(sh->pidfd);
	close(sh->ctl);
	sh->pidfd = sh->ctl = -1;
	sh->claimed = true;
	sh->pool = POOL_MAX_POOLS;
	sh->mon.fd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
	rt_debug(&pd->ctx->log, "poold: shell %llu (qemu %d) claimed by monitor %d", (unsigned long long)sh->id,
		 (int)sh->pid, (int)cred.pid);
	if (sh->mon.fd < 0 || watch_add(pd, &sh->mon, &err) < 0) {
		lv_error_free(&err);
		poold_shell_kill(pd, sh); /* the monitor is already gone */
	}
}

static void handle_fill(struct poold *pd, int fd, const struct pool_fill *f)
{
	struct pd_pool *p = pool_find(pd, &f->key);
	unsigned cap = p ? p->cap : pd->ctx->config.pool_cap;

	const struct hv_ops *ops = NULL;
	struct lv_error *err = NULL;

	if (!p && hv_select(&pd->ctx->config, f->key.backend, &ops, &err) < 0) {
		reply_error(fd, lv_err_errno(err), "%s", err->msg);
		lv_error_free(&err);
		return;
	}
	if (!p && ops != &hv_qemu_ops && !ops->make_template) {
		reply_error(fd, EOPNOTSUPP, "no pool for backend \"%s\" (qemu and kvm have shells)", f->key.backend);
		return;
	}
	if (f->target > cap) {
		reply_error(fd, ERANGE, "target %u is over the pool's cap %u (runtime config \"pool\": {\"cap\"})",
			    f->target, cap);
		return;
	}
	if (!p) {
		if (pd->npools == POOL_MAX_POOLS) {
			reply_error(fd, ENOSPC, "already %u pools", pd->npools);
			return;
		}
		p = pool_add(pd, &f->key, cap);
	}
	p->target = f->target;
	reply(fd, POOL_MSG_OK);
}

/* A drained pool keeps existing with target 0: otherwise the refill
 * would make its shells again at once. */
static void handle_drain(struct poold *pd, int fd, const struct pool_drain *d)
{
	struct pd_pool *p = (d->flags & POOL_DRAIN_ALL) ? NULL : pool_find(pd, &d->key);

	if (!(d->flags & POOL_DRAIN_ALL) && !p) {
		reply_error(fd, ENOENT, "no such pool");
		return;
	}
	for (unsigned i = 0; i < pd->npools; i++) {
		if (p && p != &pd->pools[i])
			continue;
		pd->pools[i].target = 0;
		poold_template_stop(pd, &pd->pools[i]);
		for (struct pd_shell *sh = pd->shells; sh; sh = sh->next)
			if (!sh->claimed && sh->pool == i)
				poold_shell_kill(pd, sh);
	}
	reply(fd, POOL_MSG_OK);
}

static void handle_status(struct poold *pd, int fd)
{
	struct pool_msg *m = calloc(1, sizeof(*m));
	struct lv_error *err = NULL;

	if (!m) {
		reply_error(fd, ENOMEM, "status");
		return;
	}
	m->type = POOL_MSG_STATUS_REPLY;
	m->status.count = (uint16_t)pd->npools;
	for (unsigned i = 0; i < pd->npools; i++) {
		struct pool_entry *e = &m->status.pools[i];
		e->key = pd->pools[i].key;
		e->ready = pool_ready(pd, i);
		e->target = pd->pools[i].target;
		e->cap = pd->pools[i].cap;
		if (e->ready > e->cap)
			e->ready = e->cap; /* a lowered cap: the extra shells go as they are claimed */
	}
	pool_send(fd, m, NULL, 0, &err);
	lv_error_free(&err);
	free(m);
}

/* false: close the connection. */
static bool handle_client(struct poold *pd, int fd)
{
	struct pool_msg *m = calloc(1, sizeof(*m));
	struct lv_error *err = NULL;
	unsigned nfds = 0;
	int dummy, r;
	bool keep = true;

	if (!m)
		return false;
	r = pool_recv(fd, m, &dummy, 0, &nfds, 0, &err);
	if (r == -EPROTONOSUPPORT) {
		reply_error(fd, EPROTONOSUPPORT, "version %u is not spoken here", m->version);
		keep = false;
	} else if (r < 0) {
		if (r != -ECONNRESET && r != -ETIMEDOUT)
			rt_debug(&pd->ctx->log, "poold: client: %s", err->msg);
		keep = r == -ETIMEDOUT;
	} else {
		switch (m->type) {
		case POOL_MSG_HELLO: {
			struct pool_msg ok = { .type = POOL_MSG_HELLO_OK, .hello_ok.version = POOL_PROTO_VERSION };
			if (m->hello.min_version > POOL_PROTO_VERSION) {
				reply_error(fd, EPROTONOSUPPORT, "versions %u..%u are not spoken here",
					    m->hello.min_version, m->hello.max_version);
				keep = false;
			} else {
				pool_send(fd, &ok, NULL, 0, &err);
			}
			break;
		}
		case POOL_MSG_CLAIM:
			handle_claim(pd, fd, &m->claim);
			break;
		case POOL_MSG_STATUS:
			handle_status(pd, fd);
			break;
		case POOL_MSG_FILL:
			handle_fill(pd, fd, &m->fill);
			break;
		case POOL_MSG_DRAIN:
			handle_drain(pd, fd, &m->drain);
			break;
		default:
			reply_error(fd, EPROTO, "%s is not a request", pool_type_name(m->type));
			keep = false;
		}
	}
	lv_error_free(&err);
	free(m);
	return keep;
}

static void accept_clients(struct poold *pd)
{
	int fd;

	while ((fd = accept4(pd->lw.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		struct lv_error *err = NULL;
		struct watch *w = malloc(sizeof(*w));
		if (!w) {
			close(fd);
			continue;
		}
		*w = (struct watch){ .kind = W_CLIENT, .fd = fd, .obj = w };
		if (watch_add(pd, w, &err) < 0) {
			lv_error_free(&err);
			close(fd);
			free(w);
		}
	}
}

static void handle_signals(struct poold *pd)
{
	struct signalfd_siginfo si;

	while (read(pd->sw.fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			pd->stop = true;
	}
}

/* Whether pid is the process that started at start, alive. */
static int setup(struct poold *pd, struct lv_error **err)
{
	struct rt_config *cfg = &pd->ctx->config;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	sigset_t set;
	int r;

	struct rt_initramfs_req req = {
		.cache_dir = cfg->cache_dir,
		.init = rt_guest_init_start,
		.init_len = (size_t)(rt_guest_init_end - rt_guest_init_start),
		.init_path = RT_GUEST_INIT_PATH,
		.max_bytes = cfg->initramfs_max_mib << 20,
		.compress_level = cfg->initramfs_compress,
		.shell = true,
	};
	r = rt_initramfs_get(&req, &pd->initrd, err);
	if (r < 0)
		return lv_err_wrap(err, "the shell initramfs");
	if ((mkdir(pd->ctx->root, 0700) < 0 && errno != EEXIST) || (mkdir(pd->dir, 0700) < 0 && errno != EEXIST))
		return lv_err(err, errno, "mkdir %s", pd->dir);
	if (strlen(pd->sock_path) >= sizeof(sa.sun_path))
		return lv_err_msg(err, ENAMETOOLONG, "socket path %s is too long", pd->sock_path);
	strcpy(sa.sun_path, pd->sock_path);
	{
		struct lv_error *cerr = NULL;
		int c = pool_connect(pd->sock_path, 100, &cerr);
		lv_error_free(&cerr);
		if (c >= 0) {
			close(c);
			return lv_err_msg(err, EADDRINUSE, "a pool daemon already listens on %s", pd->sock_path);
		}
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return lv_err(err, errno, "sigprocmask");
	pd->sw = (struct watch){ .kind = W_SIGNAL, .fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK) };
	pd->ep = epoll_create1(EPOLL_CLOEXEC);
	if (pd->sw.fd < 0 || pd->ep < 0)
		return lv_err(err, errno, "signalfd/epoll");
	poold_reclaim(pd);
	unlink(pd->sock_path); /* stale: nobody answered on it */
	pd->lw = (struct watch){ .kind = W_LISTEN, .fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0) };
	if (pd->lw.fd < 0)
		return lv_err(err, errno, "socket");
	mode_t old = umask(0177);
	r = bind(pd->lw.fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return lv_err(err, errno, "bind %s", pd->sock_path);
	if (chmod(pd->sock_path, 0600) < 0 || listen(pd->lw.fd, 128) < 0)
		return lv_err(err, errno, "listen on %s", pd->sock_path);
	if ((r = watch_add(pd, &pd->lw, err)) < 0 || (r = watch_add(pd, &pd->sw, err)) < 0)
		return r;
	if (cfg->pool_target > 0) {
		/* The pool of the configured backend ("auto" resolved). */
		const struct hv_ops *ops;
		struct pool_key key;

		r = hv_select(cfg, cfg->backend, &ops, err);
		if (r == 0)
			r = rt_pool_key(cfg, ops->name, cfg->default_mem_mib, cfg->default_vcpus, &key, err);
		if (r < 0)
			return lv_err_wrap(err, "the configured pool");
		pool_add(pd, &key, cfg->pool_cap)->target = cfg->pool_target;
	}
	return 0;
}

/* Unclaimed shells go; claimed ones whose monitor is gone too; the rest
 * keep running for their containers, recorded for the next daemon. */
static void teardown(struct poold *pd)
{
	struct pd_shell *sh, *next;

	if (pd->lw.fd >= 0) {
		watch_close(pd, &pd->lw);
		unlink(pd->sock_path);
	}
	for (sh = pd->shells; sh; sh = next) {
		next = sh->next;
		struct pollfd pfd = { .fd = sh->mon.fd, .events = POLLIN };
		bool mon_alive = sh->mon.fd >= 0 && poll(&pfd, 1, 0) == 0;
		if (!sh->claimed || !mon_alive) {
			poold_shell_kill(pd, sh);
			while (waitpid(sh->pid, NULL, 0) < 0 && errno == EINTR)
				;
			poold_record_remove(pd, sh->id);
		}
		watch_close(pd, &sh->mon);
		if (sh->pidfd >= 0)
			close(sh->pidfd);
		if (sh->ctl >= 0)
			close(sh->ctl);
		free(sh);
	}
	pd->shells = NULL;
	for (unsigned i = 0; i < pd->npools; i++)
		poold_template_stop(pd, &pd->pools[i]);
	rmdir(pd->dir); /* fails while a container still runs on a shell */
	if (pd->sw.fd >= 0)
		close(pd->sw.fd);
	if (pd->ep >= 0)
		close(pd->ep);
	free(pd->initrd);
	free(pd->sock_path);
	free(pd->dir);
}

int rt_poold_run(struct rt_context *ctx, struct lv_error **err)
{
	struct poold pd = { .ctx = ctx, .ep = -1, .lw.fd = -1, .sw.fd = -1, .next_id = 1 };
	int r, timeout;

	if (asprintf(&pd.dir, "%s/%s", ctx->root, RT_POOL_DIR) < 0) {
		pd.dir = NULL;
		return lv_err(err, ENOMEM, "poold");
	}
	r = rt_pool_sock_path(ctx->root, &pd.sock_path, err);
	if (r == 0)
		r = setup(&pd, err);
	if (r < 0)
		goto out;
	rt_log(&ctx->log, RT_LOG_INFO, "poold: listening on %s", pd.sock_path);
	refill(&pd, &timeout);
	while (!pd.stop) {
		struct epoll_event ev[16];
		int n = epoll_wait(pd.ep, ev, 16, timeout);

		if (n < 0 && errno != EINTR) {
			r = lv_err(err, errno, "epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			struct watch *w = ev[i].data.ptr;
			switch (w->kind) {
			case W_LISTEN:
				accept_clients(&pd);
				break;
			case W_SIGNAL:
				handle_signals(&pd);
				break;
			case W_CLIENT:
				if (!handle_client(&pd, w->fd)) {
					watch_close(&pd, w);
					free(w);
				}
				break;
			case W_BOOT:
				poold_shell_boot(&pd, w->obj);
				break;
			case W_TEMPLATE:
				poold_template_done(&pd, w->obj);
				break;
			case W_MONITOR: {
				struct pd_shell *sh = w->obj;
				rt_debug(&ctx->log, "poold: the monitor of shell %llu is gone: ending qemu %d",
					 (unsigned long long)sh->id, (int)sh->pid);
				watch_close(&pd, w);
				kill(sh->pid, SIGKILL); /* our child until reaped, and the reaper frees sh */
				break;
			}
			}
		}
		/* After the batch: a shell freed here may have had an event in it. */
		poold_reap(&pd);
		refill(&pd, &timeout);
	}
	rt_log(&ctx->log, RT_LOG_INFO, "poold: stopping");
out:
	teardown(&pd);
	return r;
}
