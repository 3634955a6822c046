/* The relay loop: control frames in (stdin, signals, window size), process
 * output out, SIGCHLD through a signalfd.  When the process exits, every
 * other process is killed, its output drained to EOF and EXIT sent. */
#include "guest.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/cleanup.h"

#define DRAIN_TIMEOUT_MS 2000 /* per read, once every writer is dead */

static void close_fd(int *fd)
{
	lv_closep(fd);
	*fd = -1;
}

void guest_inq_close(struct guest_inq *q)
{
	close_fd(&q->fd);
	free(q->buf);
	q->buf = NULL;
	q->len = q->cap = 0;
	q->eof_pending = false;
}

void guest_inq_flush(struct guest_ctx *g, struct guest_inq *q)
{
	while (q->fd >= 0 && q->len > 0) {
		ssize_t n = write(q->fd, q->buf, q->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* poll tells us when the process reads */
		if (n < 0) {
			/* EPIPE / EIO: nobody reads the process's stdin
			 * any more; what is left cannot be delivered. */
			guest_log(g, "stdin: %s, dropping %zu bytes", strerror(errno), q->len);
			guest_inq_close(q);
			return;
		}
		memmove(q->buf, q->buf + n, q->len - (size_t)n);
		q->len -= (size_t)n;
	}
	if (q->len == 0 && q->eof_pending)
		guest_inq_close(q);
}

void guest_inq_queue(struct guest_ctx *g, struct guest_inq *q, const uint8_t *data, uint32_t len)
{
	if (q->fd < 0 || q->eof_pending || len == 0)
		return;
	if (q->cap - q->len < len) {
		size_t cap = q->len + len;
		uint8_t *b = realloc(q->buf, cap);
		if (!b) {
			guest_log(g, "stdin: out of memory, dropping %u bytes", len);
			return;
		}
		q->buf = b;
		q->cap = cap;
	}
	memcpy(q->buf + q->len, data, len);
	q->len += len;
	guest_inq_flush(g, q);
}

static void handle_frame(struct guest_ctx *g, uint16_t type, const uint8_t *payload, uint32_t len)
{
	bool terminal = g->proc.flags & NOXS_F_TERMINAL;

	switch (type) {
	case NOXS_MSG_STDIN:
		guest_inq_queue(g, &g->in, payload, len);
		break;
	case NOXS_MSG_STDIN_EOF:
		if (terminal || g->in.fd < 0)
			break;
		g->in.eof_pending = true;
		guest_inq_flush(g, &g->in);
		break;
	case NOXS_MSG_SIGNAL:
		guest_signal(g, payload, len);
		break;
	case NOXS_MSG_WINSIZE:
		if (len < 4)
			break;
		g->rows = noxs_get_u16(payload);
		g->cols = noxs_get_u16(payload + 2);
		if (terminal && g->in.fd >= 0)
			guest_set_winsize(g, g->in.fd);
		break;
	default:
		if (noxs_is_exec_msg(type)) {
			guest_exec_frame(g, type, payload, len);
			break;
		}
		guest_log(g, "ignoring frame type %#x (%u bytes)", type, len);
		break;
	}
}

/* Takes frames already buffered, as long as stdin has room for them. */
static int take_frames(struct guest_ctx *g, struct lv_error **err)
{
	while (g->in.len < GUEST_STDIN_HIGH_WATER && guest_exec_stdin_room(g)) {
		uint16_t type;
		const uint8_t *payload;
		uint32_t len;
		int r = noxs_rx_next(&g->rx, &type, &payload, &len, err);
		if (r <= 0)
			return r;
		handle_frame(g, type, payload, len);
	}
	return 0;
}

static int read_ctl(struct guest_ctx *g, struct lv_error **err)
{
	int r = noxs_rx_fill(&g->rx, g->ctl, err);

	if (r == -EAGAIN || r == -EINTR) {
		lv_error_free(err);
		return 0;
	}
	if (r == 0)
		return lv_err_msg(err, EPIPE, "control port closed by the host");
	if (r < 0)
		return lv_err_wrap(err, "control port");
	return take_frames(g, err);
}

/* Forwards one read of output; closes fd at EOF (EIO on a pty master: the
 * slave side is closed).  Returns 1 when data was sent. */
int guest_forward_output(struct guest_ctx *g, int *fd, uint16_t type, const uint32_t *id_prefix,
			 struct lv_error **err)
{
	uint8_t buf[NOXS_EXEC_ID_SIZE + NOXS_IO_CHUNK];
	size_t hdr = id_prefix ? NOXS_EXEC_ID_SIZE : 0;
	ssize_t n = read(*fd, buf + hdr, NOXS_IO_CHUNK);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		if (n < 0 && errno != EIO)
			guest_log(g, "output: %s", strerror(errno));
		close_fd(fd);
		return 0;
	}
	if (id_prefix)
		noxs_put_u32(buf, *id_prefix);
	int r = guest_send(g, type, buf, (uint32_t)(hdr + (size_t)n), err);
	return r < 0 ? r : 1;
}

static int forward_output(struct guest_ctx *g, int *fd, uint16_t type, struct lv_error **err)
{
	return guest_forward_output(g, fd, type, NULL, err);
}

static void reap(struct guest_ctx *g)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (guest_exec_reaped(g, p, st))
			continue;
		if (p == g->pid && !g->exited) {
			g->exited = true;
			g->status = st;
			guest_log(g, "pid %d exited, status %#x", (int)p, st);
		}
	}
}

static void read_sigfd(struct guest_ctx *g)
{
	struct signalfd_siginfo si[8];

	while (read(g->sigfd, si, sizeof(si)) > 0)
		;
	reap(g);
}

/* Every writer of fd is dead: read what is left until EOF. */
static int drain(struct guest_ctx *g, int *fd, uint16_t type, struct lv_error **err)
{
	while (*fd >= 0) {
		struct pollfd pfd = {.fd = *fd, .events = POLLIN};
		int n = poll(&pfd, 1, DRAIN_TIMEOUT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			guest_log(g, "output did not reach EOF, giving up on it");
			close_fd(fd);
			break;
		}
		int r = forward_output(g, fd, type, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int finish(struct guest_ctx *g, struct lv_error **err)
{
	uint8_t st[4];
	int r, ws;

	/* As when a container's init dies: nothing else survives it. */
	if (getpid() == 1) {
		for (;;) {
			kill(-1, SIGKILL);
			if (waitpid(-1, &ws, 0) < 0 && errno == ECHILD)
				break;
		}
	}
	guest_inq_close(&g->in);
	guest_exec_free_all(g); /* their processes died above; the host ends their sessions */
	r = drain(g, &g->out_fd, NOXS_MSG_STDOUT, err);
	if (r >= 0)
		r = drain(g, &g->err_fd, NOXS_MSG_STDERR, err);
	if (r < 0)
		return r;
	noxs_put_u32(st, (uint32_t)g->status);
	return guest_send(g, NOXS_MSG_EXIT, st, sizeof(st), err);
}

int guest_relay(struct guest_ctx *g, struct lv_error **err)
{
	enum { P_SIG, P_OUT, P_ERR, P_IN, P_CTL, P_N };
	struct pollfd pfd[P_N + GUEST_EXEC_POLLFDS];
	int r;

	if (g->proc.flags & NOXS_F_TERMINAL)
		g->in.eof_pending = false; /* in.fd is the pty master */
	guest_inq_flush(g, &g->in); /* an EOF that came before START */
	while (!g->exited) {
		bool room = g->in.len < GUEST_STDIN_HIGH_WATER && guest_exec_stdin_room(g);

		if (room) {
			r = take_frames(g, err);
			if (r < 0)
				return r;
		}
		pfd[P_SIG] = (struct pollfd){.fd = g->sigfd, .events = POLLIN};
		pfd[P_OUT] = (struct pollfd){.fd = g->out_fd, .events = POLLIN};
		pfd[P_ERR] = (struct pollfd){.fd = g->err_fd, .events = POLLIN};
		pfd[P_IN] = (struct pollfd){.fd = g->in.len > 0 ? g->in.fd : -1, .events = POLLOUT};
		pfd[P_CTL] = (struct pollfd){.fd = room ? g->ctl : -1, .events = POLLIN};
		guest_exec_pollfds(g, pfd + P_N);
		if (poll(pfd, LV_ARRAY_SIZE(pfd), -1) < 0) {
			if (errno == EINTR)
				continue;
			return lv_err(err, errno, "poll");
		}
		/* Output before SIGCHLD, so what was written before the exit
		 * goes out first (the drain in finish() gets the rest). */
		if (pfd[P_OUT].revents && (r = forward_output(g, &g->out_fd, NOXS_MSG_STDOUT, err)) < 0)
			return r;
		if (pfd[P_ERR].revents && (r = forward_output(g, &g->err_fd, NOXS_MSG_STDERR, err)) < 0)
			return r;
		if (pfd[P_IN].revents)
			guest_inq_flush(g, &g->in);
		if ((r = guest_exec_events(g, pfd + P_N, err)) < 0)
			return r;
		if (pfd[P_SIG].revents)
			read_sigfd(g);
		if ((r = guest_exec_finish(g, err)) < 0)
			return r;
		if (pfd[P_CTL].revents && (r = read_ctl(g, err)) < 0)
			return r;
	}
	return finish(g, err);
}
