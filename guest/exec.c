/* Exec sessions: processes the host starts in the running container
 * (lightvm exec), each with its own stdio or pty, signals, window size and
 * exit status, multiplexed on the control channel by a session id the host
 * chose (noxs/README.md).  They run as the container's process does (same
 * root, mounts and guest), with the credentials, capabilities, rlimits and
 * cwd of their own page.  They end with the container's process: finish()
 * in relay.c kills every process and the host ends the sessions. */
#include "guest.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/cleanup.h"

struct guest_exec {
	uint32_t id;
	pid_t pid;
	bool terminal;
	struct guest_inq in;
	int out_fd, err_fd;
	uint8_t *page_buf;       /* owns the bytes proc points into */
	struct noxs_proc proc;
	bool exited;
	int status;
};

static struct guest_exec *find(struct guest_ctx *g, uint32_t id)
{
	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS; i++)
		if (g->exec[i] && g->exec[i]->id == id)
			return g->exec[i];
	return NULL;
}

static void exec_free(struct guest_exec *x)
{
	if (!x)
		return;
	guest_inq_close(&x->in);
	lv_closep(&x->out_fd);
	lv_closep(&x->err_fd);
	noxs_proc_free(&x->proc);
	free(x->page_buf);
	free(x);
}

static void send_id(struct guest_ctx *g, uint16_t type, uint32_t id, const void *body, uint32_t len)
{
	struct lv_error *err = NULL;
	uint8_t buf[NOXS_EXEC_ID_SIZE + NOXS_EXEC_ERROR_MAX];

	if (len > NOXS_EXEC_ERROR_MAX)
		len = NOXS_EXEC_ERROR_MAX;
	noxs_put_u32(buf, id);
	if (len)
		memcpy(buf + NOXS_EXEC_ID_SIZE, body, len);
	if (guest_send(g, type, buf, NOXS_EXEC_ID_SIZE + len, &err) < 0) {
		guest_log(g, "exec %u: %s", id, err->msg);
		lv_error_free(&err);
	}
}

static void refuse(struct guest_ctx *g, uint32_t id, const char *msg, int status)
{
	uint8_t st[4];

	guest_log(g, "exec %u: %s", id, msg);
	send_id(g, NOXS_MSG_EXEC_ERROR, id, msg, (uint32_t)strlen(msg));
	noxs_put_u32(st, (uint32_t)status);
	send_id(g, NOXS_MSG_EXEC_EXIT, id, st, sizeof(st));
}

static void start(struct guest_ctx *g, uint32_t id, const uint8_t *page, uint32_t len)
{
	struct lv_error *err = NULL;
	struct guest_exec *x;
	struct guest_stdio io;
	uint8_t pidbuf[4];
	size_t slot;
	int status = 1 << 8;

	if (g->pid <= 0 || g->exited)
		return refuse(g, id, "the container's process is not running", 1 << 8);
	if (find(g, id))
		return refuse(g, id, "exec session id already in use", 1 << 8);
	for (slot = 0; slot < NOXS_EXEC_MAX_SESSIONS && g->exec[slot]; slot++)
		;
	if (slot == NOXS_EXEC_MAX_SESSIONS)
		return refuse(g, id, "too many exec sessions", 1 << 8);
	x = calloc(1, sizeof(*x));
	if (!x)
		return refuse(g, id, "out of memory", 1 << 8);
	x->id = id;
	x->in.fd = x->out_fd = x->err_fd = -1;
	x->page_buf = malloc(len);
	if (!x->page_buf) {
		exec_free(x);
		return refuse(g, id, "out of memory", 1 << 8);
	}
	memcpy(x->page_buf, page, len);
	if (noxs_page_decode(x->page_buf, len, &x->proc, &err) < 0 ||
	    guest_spawn_proc(g, &x->proc, x->proc.rows, x->proc.cols, &x->pid, &io, &status, &err) < 0) {
		refuse(g, id, err->msg, status);
		lv_error_free(&err);
		exec_free(x);
		return;
	}
	x->terminal = x->proc.flags & NOXS_F_TERMINAL;
	x->in.fd = io.in_fd;
	x->out_fd = io.out_fd;
	x->err_fd = io.err_fd;
	g->exec[slot] = x;
	noxs_put_u32(pidbuf, (uint32_t)x->pid);
	send_id(g, NOXS_MSG_EXEC_STARTED, id, pidbuf, sizeof(pidbuf));
}

void guest_exec_frame(struct guest_ctx *g, uint16_t type, const uint8_t *payload, uint32_t len)
{
	struct lv_error *err = NULL;
	const uint8_t *body;
	uint32_t id, n, signo;
	struct guest_exec *x;

	if (noxs_exec_split(type, payload, len, &id, &body, &n, &err) < 0) {
		guest_log(g, "%s", err->msg);
		lv_error_free(&err);
		return;
	}
	if (type == NOXS_MSG_EXEC) {
		start(g, id, body, n);
		return;
	}
	x = find(g, id);
	if (!x || x->exited) {
		guest_log(g, "exec frame %#x for session %u, which is not running", type, id);
		return;
	}
	switch (type) {
	case NOXS_MSG_EXEC_STDIN:
		guest_inq_queue(g, &x->in, body, n);
		break;
	case NOXS_MSG_EXEC_STDIN_EOF:
		if (x->terminal || x->in.fd < 0)
			break;
		x->in.eof_pending = true;
		guest_inq_flush(g, &x->in);
		break;
	case NOXS_MSG_EXEC_SIGNAL:
		signo = noxs_get_u32(body);
		if (signo < 1 || signo > 64)
			guest_log(g, "exec %u: ignoring signal %u", id, signo);
		else if (kill(x->pid, (int)signo) < 0)
			guest_log(g, "exec %u: kill: %s", id, strerror(errno));
		break;
	case NOXS_MSG_EXEC_WINSIZE:
		if (x->terminal && x->in.fd >= 0)
			guest_winsize(g, x->in.fd, noxs_get_u16(body), noxs_get_u16(body + 2));
		break;
	default:
		guest_log(g, "exec %u: ignoring frame type %#x", id, type);
		break;
	}
}

void guest_exec_pollfds(struct guest_ctx *g, struct pollfd *pfd)
{
	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS; i++) {
		struct guest_exec *x = g->exec[i];
		struct pollfd *p = pfd + 3 * i;

		p[0] = (struct pollfd){ .fd = x ? x->out_fd : -1, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = x ? x->err_fd : -1, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = x && x->in.len ? x->in.fd : -1, .events = POLLOUT };
	}
}

int guest_exec_events(struct guest_ctx *g, const struct pollfd *pfd, struct lv_error **err)
{
	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS; i++) {
		struct guest_exec *x = g->exec[i];
		const struct pollfd *p = pfd + 3 * i;
		int r;

		if (!x)
			continue;
		if (p[0].revents && x->out_fd == p[0].fd &&
		    (r = guest_forward_output(g, &x->out_fd, NOXS_MSG_EXEC_STDOUT, &x->id, err)) < 0)
			return r;
		if (p[1].revents && x->err_fd == p[1].fd &&
		    (r = guest_forward_output(g, &x->err_fd, NOXS_MSG_EXEC_STDERR, &x->id, err)) < 0)
			return r;
		if (p[2].revents && x->in.fd == p[2].fd)
			guest_inq_flush(g, &x->in);
	}
	return 0;
}

bool guest_exec_reaped(struct guest_ctx *g, pid_t pid, int status)
{
	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS; i++) {
		struct guest_exec *x = g->exec[i];

		if (x && x->pid == pid && !x->exited) {
			x->exited = true;
			x->status = status;
			guest_log(g, "exec %u: pid %d exited, status %#x", x->id, (int)pid, status);
			return true;
		}
	}
	return false;
}

/* What the process wrote before it exited is in the pipe or pty now: read
 * until it would block (a child it left behind may hold the write end). */
static int drain_now(struct guest_ctx *g, struct guest_exec *x, int *fd, uint16_t type, struct lv_error **err)
{
	int r = 0;

	while (*fd >= 0 && (r = guest_forward_output(g, fd, type, &x->id, err)) > 0)
		;
	if (*fd >= 0 && r == 0)
		lv_closep(fd), *fd = -1;
	return r < 0 ? r : 0;
}

int guest_exec_finish(struct guest_ctx *g, struct lv_error **err)
{
	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS; i++) {
		struct guest_exec *x = g->exec[i];
		uint8_t st[4];
		int r;

		if (!x || !x->exited)
			continue;
		if ((r = drain_now(g, x, &x->out_fd, NOXS_MSG_EXEC_STDOUT, err)) < 0 ||
		    (r = drain_now(g, x, &x->err_fd, NOXS_MSG_EXEC_STDERR, err)) < 0)
			return r;
		noxs_put_u32(st, (uint32_t)x->status);
		send_id(g, NOXS_MSG_EXEC_EXIT, x->id, st, sizeof(st));
		exec_free(x);
		g->exec[i] = NULL;
	}
	return 0;
}

bool guest_exec_stdin_room(const struct guest_ctx *g)
{
	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS; i++)
		if (g->exec[i] && g->exec[i]->in.len >= GUEST_STDIN_HIGH_WATER)
			return false;
	return true;
}

void guest_exec_free_all(struct guest_ctx *g)
{
	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS; i++) {
		exec_free(g->exec[i]);
		g->exec[i] = NULL;
	}
}
