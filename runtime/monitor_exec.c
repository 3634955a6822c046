/* Exec sessions in the monitor: see monitor_exec.h. */
#include "monitor_exec.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"

/* A client message: frame header + body, at most an EXEC's page. */
#define CLIENT_MSG_MAX (NOXS_FRAME_HDR + NOXS_EXEC_PAGE_MAX)

int rt_mon_exec_init(struct rt_mon_exec *x, const struct rt_log *log, const char *cid, struct lv_error **err)
{
	memset(x, 0, sizeof(*x));
	x->log = log;
	x->cid = cid;
	x->next_id = 1;
	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS; i++)
		x->s[i].fd = -1;
	/* NOXS_EXEC_ID_SIZE in front: the id goes where the header ends. */
	x->buf = malloc(NOXS_EXEC_ID_SIZE + CLIENT_MSG_MAX);
	if (!x->buf)
		return lv_err(err, ENOMEM, "exec sessions");
	return 0;
}

void rt_mon_exec_free(struct rt_mon_exec *x)
{
	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS; i++)
		if (x->s[i].id && x->s[i].fd >= 0) /* a never initialised x is all zero */
			close(x->s[i].fd);
	free(x->buf);
	memset(x, 0, sizeof(*x));
}

static struct rt_exec_session *find(struct rt_mon_exec *x, uint32_t id)
{
	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS; i++)
		if (x->s[i].id && x->s[i].id == id)
			return &x->s[i];
	return NULL;
}

static void release(struct rt_exec_session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	*s = (struct rt_exec_session){ .fd = -1 };
}

void rt_mon_exec_accept(struct rt_mon_exec *x, int cfd)
{
	struct rt_exec_session *s = NULL;

	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS && !s; i++)
		if (!x->s[i].id)
			s = &x->s[i];
	if (!s) {
		rt_ctl_reply(cfd, EBUSY, "too many exec sessions in this container (at most 16 at once)");
		close(cfd);
		return;
	}
	s->fd = cfd;
	s->id = x->next_id++;
	if (x->next_id == 0)
		x->next_id = 1; /* 0 marks a free slot */
	s->page_sent = false;
	rt_ctl_reply(cfd, 0, NULL);
	rt_debug(x->log, "container %s: exec session %u opened", x->cid, s->id);
}

void rt_mon_exec_pollfds(const struct rt_mon_exec *x, struct pollfd *pfd)
{
	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS; i++)
		pfd[i] = (struct pollfd){ .fd = x->s[i].fd, .events = POLLIN };
}

static int guest_send(struct rt_mon_exec *x, int ctl_fd, uint16_t type, const uint8_t *p, uint32_t len)
{
	struct lv_error *err = NULL;
	int r = noxs_send(ctl_fd, type, p, len, &err);

	if (r < 0) {
		rt_debug(x->log, "container %s: exec: send to guest: %s", x->cid, err->msg);
		lv_error_free(&err);
	}
	return r;
}

/* The client went away (or broke the protocol): its process cannot be
 * waited on any more, so it ends; the slot stays until the guest's EXIT. */
static void client_gone(struct rt_mon_exec *x, struct rt_exec_session *s, int ctl_fd, const char *why)
{
	uint8_t p[NOXS_EXEC_ID_SIZE + 4];

	rt_debug(x->log, "container %s: exec session %u: %s", x->cid, s->id, why);
	close(s->fd);
	s->fd = -1;
	if (!s->page_sent) {
		release(s);
		return;
	}
	noxs_put_u32(p, s->id);
	noxs_put_u32(p + NOXS_EXEC_ID_SIZE, SIGKILL);
	guest_send(x, ctl_fd, NOXS_MSG_EXEC_SIGNAL, p, sizeof(p));
}

static bool client_type(uint16_t type)
{
	return type >= NOXS_MSG_EXEC && type <= NOXS_MSG_EXEC_WINSIZE;
}

static void client_message(struct rt_mon_exec *x, struct rt_exec_session *s, int ctl_fd)
{
	struct lv_error *err = NULL;
	uint8_t *msg = x->buf + NOXS_EXEC_ID_SIZE;
	const uint8_t *body;
	uint32_t len, id, blen;
	uint16_t type;
	ssize_t n;

	n = recv(s->fd, msg, CLIENT_MSG_MAX, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		return client_gone(x, s, ctl_fd, n < 0 ? "receive failed" : "the client closed the connection");
	if ((size_t)n > CLIENT_MSG_MAX || n < (ssize_t)NOXS_FRAME_HDR)
		return client_gone(x, s, ctl_fd, "message of a bad size");
	type = noxs_get_u16(msg);
	len = noxs_get_u32(msg + 4);
	if (!client_type(type) || noxs_get_u16(msg + 2) != 0 || len != (uint32_t)n - NOXS_FRAME_HDR)
		return client_gone(x, s, ctl_fd, "malformed frame");
	/* The id overwrites the header's length field, just before the body. */
	noxs_put_u32(msg + NOXS_FRAME_HDR - NOXS_EXEC_ID_SIZE, s->id);
	if (noxs_exec_split(type, msg + NOXS_FRAME_HDR - NOXS_EXEC_ID_SIZE, len + NOXS_EXEC_ID_SIZE, &id, &body, &blen,
			    &err) < 0) {
		rt_debug(x->log, "container %s: exec client: %s", x->cid, err->msg);
		lv_error_free(&err);
		return client_gone(x, s, ctl_fd, "frame out of bounds");
	}
	if ((type == NOXS_MSG_EXEC) == s->page_sent)
		return client_gone(x, s, ctl_fd, s->page_sent ? "a second EXEC" : "a frame before EXEC");
	if (guest_send(x, ctl_fd, type, msg + NOXS_FRAME_HDR - NOXS_EXEC_ID_SIZE, len + NOXS_EXEC_ID_SIZE) < 0) {
		/* The guest is gone: the monitor's loop ends, and the session with it. */
		return;
	}
	if (type == NOXS_MSG_EXEC)
		s->page_sent = true;
}

void rt_mon_exec_events(struct rt_mon_exec *x, const struct pollfd *pfd, int ctl_fd)
{
	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS; i++)
		if (x->s[i].fd >= 0 && pfd[i].fd == x->s[i].fd && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			client_message(x, &x->s[i], ctl_fd);
}

static void to_client(struct rt_mon_exec *x, struct rt_exec_session *s, uint16_t type, const void *p, uint32_t len)
{
	struct lv_error *err = NULL;

	if (s->fd < 0)
		return;
	if (noxs_send(s->fd, type, p, len, &err) < 0) {
		rt_debug(x->log, "container %s: exec session %u: %s", x->cid, s->id, err->msg);
		lv_error_free(&err);
		close(s->fd);
		s->fd = -1; /* no SIGKILL here: the guest's EXIT or the client's own end follows */
	}
}

void rt_mon_exec_guest_frame(struct rt_mon_exec *x, uint16_t type, const uint8_t *p, uint32_t len)
{
	struct lv_error *err = NULL;
	struct rt_exec_session *s;
	char text[NOXS_EXEC_ERROR_MAX];
	const uint8_t *body;
	uint32_t id, n;

	if (noxs_exec_split(type, p, len, &id, &body, &n, &err) < 0) {
		rt_debug(x->log, "container %s: guest: %s", x->cid, err->msg);
		lv_error_free(&err);
		return;
	}
	s = id ? find(x, id) : NULL;
	if (!s || !s->page_sent || type < NOXS_MSG_EXEC_STARTED) {
		rt_debug(x->log, "container %s: dropping guest exec frame 0x%x for session %u", x->cid, type, id);
		return;
	}
	switch (type) {
	case NOXS_MSG_EXEC_ERROR:
		for (uint32_t i = 0; i < n; i++) /* guest text: keep it printable */
			text[i] = (body[i] >= 0x20 && body[i] < 0x7f) ? (char)body[i] : '?';
		to_client(x, s, type, text, n);
		break;
	case NOXS_MSG_EXEC_EXIT:
		to_client(x, s, type, body, n);
		rt_debug(x->log, "container %s: exec session %u ended, status %#x", x->cid, id, noxs_get_u32(body));
		release(s);
		break;
	default: /* STARTED, STDOUT, STDERR */
		to_client(x, s, type, body, n);
		break;
	}
}

void rt_mon_exec_end_all(struct rt_mon_exec *x, const char *why, int wstatus)
{
	uint8_t st[4];

	noxs_put_u32(st, (uint32_t)wstatus);
	for (size_t i = 0; i < NOXS_EXEC_MAX_SESSIONS; i++) {
		struct rt_exec_session *s = &x->s[i];

		if (!s->id)
			continue;
		to_client(x, s, NOXS_MSG_EXEC_ERROR, why, (uint32_t)strlen(why));
		to_client(x, s, NOXS_MSG_EXEC_EXIT, st, sizeof(st));
		release(s);
	}
}
