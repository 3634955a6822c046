/* The ttrpc server loop (see server.h). */
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "server.h"
#include "ttrpc.h"

#define CONNS_MAX 32
#define WAITERS_MAX 64
#define PFDS_MAX (CONNS_MAX + 2 + SHIM_PROCS_MAX * SHIM_CONSOLE_PFDS)
#define PENDING_POLL_MS 200 /* while an exit waits for its terminal's output */

struct conn {
	int fd;
	uint8_t *buf;
	size_t len, cap;
};

struct waiter {
	int fd; /* the connection's */
	uint32_t stream;
	char exec_id[SHIM_ID_MAX + 1];
};

struct server {
	struct shim_ctx *ctx;
	struct conn conns[CONNS_MAX];
	size_t nconns;
	struct waiter waiters[WAITERS_MAX];
	size_t nwaiters;
};

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t k = write(fd, p, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -errno;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

static void reply(int fd, uint32_t stream, int r, struct lv_error *err, const struct pb_buf *payload)
{
	struct lv_error *ferr = NULL;
	struct pb_buf frame = { 0 };
	enum ttrpc_code code = r < 0 ? ttrpc_code_from_errno(r) : TTRPC_OK;

	if (ttrpc_response_frame(stream, code, err && err->msg ? err->msg : "error", payload, &frame, &ferr) < 0 ||
	    write_all(fd, frame.data, frame.len) < 0)
		shim_log("reply on stream %u: %s", stream, ferr && ferr->msg ? ferr->msg : "write failed");
	lv_error_free(&ferr);
	pb_buf_free(&frame);
}

static void answer_waiters(struct server *s)
{
	for (size_t i = 0; i < s->nwaiters;) {
		struct waiter *w = &s->waiters[i];
		struct lv_error *err = NULL;
		struct shim_proc *p = shim_task_proc(s->ctx, s->ctx->id, w->exec_id, &err);
		struct pb_buf resp = { 0 };

		if (p && !p->exited) {
			i++;
			continue;
		}
		if (p)
			shim_enc_exit(&resp, SHIM_WAIT, (uint32_t)p->pid, p->exit_status, p->exited_at);
		reply(w->fd, w->stream, p ? 0 : -ENOENT, err, &resp);
		pb_buf_free(&resp);
		lv_error_free(&err);
		*w = s->waiters[--s->nwaiters];
	}
}

static int handle_wait(struct server *s, int fd, uint32_t stream, const struct shim_req *req,
		       struct lv_error **err)
{
	struct shim_proc *p = shim_task_proc(s->ctx, req->id, req->exec_id, err);
	struct waiter *w;

	if (!p)
		return -ENOENT;
	if (s->nwaiters >= WAITERS_MAX)
		return lv_err_msg(err, EAGAIN, "Wait: more than %d waiters", WAITERS_MAX);
	w = &s->waiters[s->nwaiters++];
	w->fd = fd;
	w->stream = stream;
	snprintf(w->exec_id, sizeof(w->exec_id), "%s", req->exec_id ? req->exec_id : "");
	answer_waiters(s); /* at once if it has already exited */
	return 0;
}

static void handle_request(struct server *s, int fd, const struct ttrpc_hdr *h, const uint8_t *body)
{
	struct ttrpc_request treq;
	struct shim_req req;
	struct lv_error *err = NULL;
	struct pb_buf resp = { 0 };
	enum shim_method m;
	int r;

	r = ttrpc_request_decode(body, h->len, &treq, &err);
	if (r < 0) {
		reply(fd, h->stream, r, err, NULL);
		goto out;
	}
	if (strcmp(treq.service, SHIM_SERVICE) != 0 || shim_method_lookup(treq.method, &m) < 0) {
		r = lv_err_msg(&err, ENOSYS, "%s/%s: no such method", treq.service, treq.method);
		reply(fd, h->stream, r, err, NULL);
		goto out_treq;
	}
	r = shim_req_decode(m, treq.payload, treq.payload_len, &req, &err);
	if (r >= 0) {
		if (m == SHIM_WAIT)
			r = handle_wait(s, fd, h->stream, &req, &err);
		else
			r = shim_task_call(s->ctx, m, &req, &resp, &err);
		if (r >= 0)
			r = pb_buf_check(&resp, &err);
		shim_req_free(&req);
	}
	if (r < 0)
		shim_log("%s: %s", treq.method, err && err->msg ? err->msg : "error");
	if (r < 0 || m != SHIM_WAIT)
		reply(fd, h->stream, r, err, &resp);
out_treq:
	ttrpc_request_free(&treq);
out:
	pb_buf_free(&resp);
	lv_error_free(&err);
}

static void conn_close(struct server *s, size_t i)
{
	int fd = s->conns[i].fd;

	for (size_t k = 0; k < s->nwaiters;) {
		if (s->waiters[k].fd == fd)
			s->waiters[k] = s->waiters[--s->nwaiters];
		else
			k++;
	}
	close(fd);
	free(s->conns[i].buf);
	s->conns[i] = s->conns[--s->nconns];
}

/* Reads what is there and handles every whole frame; false: close it. */
static bool conn_read(struct server *s, struct conn *c)
{
	struct ttrpc_hdr h;
	struct lv_error *err = NULL;
	size_t off = 0;
	ssize_t k;

	if (c->cap - c->len < 65536) {
		size_t cap = c->cap ? c->cap * 2 : 65536;
		uint8_t *n;

		if (cap > TTRPC_HDR_SIZE + TTRPC_MSG_MAX + 65536)
			cap = TTRPC_HDR_SIZE + TTRPC_MSG_MAX + 65536;
		if (cap <= c->len)
			return false;
		n = realloc(c->buf, cap);
		if (!n)
			return false;
		c->buf = n;
		c->cap = cap;
	}
	k = read(c->fd, c->buf + c->len, c->cap - c->len);
	if (k < 0 && errno == EINTR)
		return true;
	if (k <= 0)
		return false;
	c->len += (size_t)k;
	while (c->len - off >= TTRPC_HDR_SIZE) {
		if (ttrpc_hdr_decode(c->buf + off, &h, &err) < 0) {
			shim_log("connection dropped: %s", err->msg);
			lv_error_free(&err);
			return false;
		}
		if (c->len - off - TTRPC_HDR_SIZE < h.len)
			break;
		if (h.type == TTRPC_REQUEST)
			handle_request(s, c->fd, &h, c->buf + off + TTRPC_HDR_SIZE);
		off += TTRPC_HDR_SIZE + h.len;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	return true;
}

static int signal_fd(struct lv_error **err)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return lv_err(err, errno, "sigprocmask");
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return lv_err(err, errno, "signalfd");
	signal(SIGPIPE, SIG_IGN);
	return fd;
}

int shim_serve(struct shim_ctx *ctx, int listen_fd, struct lv_error **err)
{
	struct server *s = calloc(1, sizeof(*s));
	cleanup_close int sfd = -1;
	bool stop = false;
	int r = 0;

	if (!s)
		return lv_err(err, ENOMEM, "server");
	s->ctx = ctx;
	sfd = signal_fd(err);
	if (sfd < 0) {
		free(s);
		return sfd;
	}
	while (!stop && !ctx->shutdown) {
		struct pollfd pfd[PFDS_MAX];
		bool pending = shim_task_finish_exits(ctx);
		size_t n = 0;

		/* A finished exit may have a waiter (and a console less). */
		answer_waiters(s);
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = listen_fd, .events = s->nconns < CONNS_MAX ? POLLIN : 0 };
		for (size_t i = 0; i < s->nconns; i++)
			pfd[n++] = (struct pollfd){ .fd = s->conns[i].fd, .events = POLLIN };
		for (size_t i = 0; i < ctx->nprocs; i++) {
			if (ctx->procs[i].console)
				n += (size_t)shim_console_pollfds(ctx->procs[i].console, &pfd[n]);
		}
		if (poll(pfd, n, pending ? PENDING_POLL_MS : -1) < 0) {
			if (errno == EINTR)
				continue;
			r = lv_err(err, errno, "poll");
			break;
		}
		/* Terminals first: every relay moves what it can without
		 * blocking (cheaper than mapping revents back to procs). */
		for (size_t i = 0; i < ctx->nprocs; i++) {
			if (ctx->procs[i].console)
				shim_console_pump(ctx->procs[i].console);
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
					stop = true;
			}
			shim_task_reap(ctx);
			answer_waiters(s);
		}
		/* Connections from the back, as conn_close moves the last one. */
		for (size_t i = s->nconns; i-- > 0;) {
			if (pfd[2 + i].revents && !conn_read(s, &s->conns[i]))
				conn_close(s, i);
		}
		/* A method may have reaped (Delete of a created task). */
		answer_waiters(s);
		if (pfd[1].revents & POLLIN) {
			int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0)
				s->conns[s->nconns++] = (struct conn){ .fd = fd };
		}
	}
	while (s->nconns)
		conn_close(s, s->nconns - 1);
	free(s);
	return r;
}
