/* Terminals: the console socket and the pty relay (see console.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "console.h"

#define ACCEPT_WAIT_MS 5000

struct relay_buf {
	size_t off, len;
	char data[SHIM_CONSOLE_BUF];
};

struct shim_console {
	int dirfd, listen_fd; /* until the master is here */
	char name[48];
	char path[PATH_MAX];
	int master, in_fd, out_fd;
	bool master_hup; /* read EIO or 0: every slave is closed */
	struct relay_buf to_master, to_out;
};

int shim_console_listen(const char *dir, unsigned seq, struct shim_console **out, struct lv_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct shim_console *c = calloc(1, sizeof(*c));
	int r;

	*out = NULL;
	if (!c)
		return lv_err(err, ENOMEM, "console socket");
	c->master = c->in_fd = c->out_fd = c->listen_fd = -1;
	snprintf(c->name, sizeof(c->name), "tty-%d-%u.sock", (int)getpid(), seq);
	c->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0) {
		r = lv_err(err, errno, "console socket: open %s", dir);
		goto fail;
	}
	/* Bound through our own descriptor: dir may be longer than sun_path. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", c->dirfd, c->name);
	if ((size_t)snprintf(c->path, sizeof(c->path), "%s/%s", dir, c->name) >= sizeof(sa.sun_path))
		snprintf(c->path, sizeof(c->path), "/proc/%d/fd/%d/%s", (int)getpid(), c->dirfd, c->name);
	unlinkat(c->dirfd, c->name, 0);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen_fd < 0) {
		r = lv_err(err, errno, "console socket");
		goto fail;
	}
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = lv_err(err, errno, "console socket: bind %s/%s", dir, c->name);
		goto fail;
	}
	if (fchmodat(c->dirfd, c->name, 0600, 0) < 0 || listen(c->listen_fd, 1) < 0) {
		r = lv_err(err, errno, "console socket %s/%s", dir, c->name);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	shim_console_free(c);
	return r;
}

const char *shim_console_path(const struct shim_console *c)
{
	return c->path;
}

static void close_listener(struct shim_console *c)
{
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		c->listen_fd = -1;
		unlinkat(c->dirfd, c->name, 0);
	}
	if (c->dirfd >= 0) {
		close(c->dirfd);
		c->dirfd = -1;
	}
}

void shim_console_free(struct shim_console *c)
{
	if (!c)
		return;
	close_listener(c);
	if (c->master >= 0)
		close(c->master);
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	free(c);
}

/* One connection, one message carrying exactly one descriptor: a pty. */
static int recv_master(int conn, struct lv_error **err)
{
	char data[256], cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct pollfd pfd = { .fd = conn, .events = POLLIN };
	struct termios tio;
	ssize_t n;
	int fd = -1;

	if (poll(&pfd, 1, ACCEPT_WAIT_MS) <= 0)
		return lv_err_msg(err, ETIMEDOUT, "console socket: no pty master from lightvm");
	do
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return lv_err(err, errno, "console socket: recvmsg");
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
		size_t k = h->cmsg_len > CMSG_LEN(0) ? (h->cmsg_len - CMSG_LEN(0)) / sizeof(int) : 0;

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < k; i++) { /* keep the first, close any others */
			int got;

			memcpy(&got, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = got;
			else
				close(got);
		}
	}
	if (fd < 0)
		return lv_err_msg(err, EPROTO, "console socket: the message carries no descriptor");
	if ((msg.msg_flags & MSG_CTRUNC) || tcgetattr(fd, &tio) < 0) {
		close(fd);
		return lv_err_msg(err, EPROTO, "console socket: the descriptor received is not a terminal");
	}
	return fd;
}

static int open_out(const char *path)
{
	if (strncmp(path, "file://", 7) == 0) /* ctr --log-uri file:///PATH */
		return open(path + 7, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (strstr(path, "://")) {
		errno = EOPNOTSUPP; /* binary:// loggers */
		return -1;
	}
	/* Read-write: never blocks on containerd's side, never EPIPE. */
	return open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
}

int shim_console_accept(struct shim_console *c, const char *in_path, const char *out_path, struct lv_error **err)
{
	struct pollfd pfd = { .fd = c->listen_fd, .events = POLLIN };
	cleanup_close int conn = -1;
	int r;

	if (poll(&pfd, 1, ACCEPT_WAIT_MS) <= 0)
		return lv_err_msg(err, ETIMEDOUT, "console socket: lightvm did not connect");
	conn = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return lv_err(err, errno, "console socket: accept");
	close_listener(c);
	r = recv_master(conn, err);
	if (r < 0)
		return r;
	c->master = r;
	if (fcntl(c->master, F_SETFL, fcntl(c->master, F_GETFL) | O_NONBLOCK) < 0)
		return lv_err(err, errno, "pty master: O_NONBLOCK");
	if (in_path && *in_path) {
		c->in_fd = open(in_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (c->in_fd < 0)
			return lv_err(err, errno, "open %s", in_path);
	}
	if (out_path && *out_path) {
		c->out_fd = open_out(out_path);
		if (c->out_fd < 0)
			return lv_err(err, errno, "open %s", out_path);
	}
	return 0;
}

static bool buf_full(const struct relay_buf *b)
{
	return b->len == sizeof(b->data);
}

int shim_console_pollfds(const struct shim_console *c, struct pollfd *pfd)
{
	int n = 0;
	short mev = 0;

	/* A source whose buffer is full stays out of the set: a hung-up
	 * master or fifo would otherwise report POLLHUP on every round. */
	if (c->master >= 0 && !c->master_hup) {
		if (!buf_full(&c->to_out))
			mev |= POLLIN;
		if (c->to_master.len)
			mev |= POLLOUT;
		if (mev)
			pfd[n++] = (struct pollfd){ .fd = c->master, .events = mev };
	}
	if (c->in_fd >= 0 && !buf_full(&c->to_master))
		pfd[n++] = (struct pollfd){ .fd = c->in_fd, .events = POLLIN };
	if (c->out_fd >= 0 && c->to_out.len)
		pfd[n++] = (struct pollfd){ .fd = c->out_fd, .events = POLLOUT };
	return n;
}

/* Reads into the free tail of b: >0 bytes, 0 would block, <0 EOF/error. */
static int buf_fill(struct relay_buf *b, int fd)
{
	ssize_t k;

	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->off && b->len == sizeof(b->data)) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (buf_full(b))
		return 0;
	do
		k = read(fd, b->data + b->len, sizeof(b->data) - b->len);
	while (k < 0 && errno == EINTR);
	if (k < 0 && errno == EAGAIN)
		return 0;
	if (k <= 0)
		return -1;
	b->len += (size_t)k;
	return 1;
}

/* Writes what b holds: 0 done or would block, <0 the writer is gone. */
static int buf_flush(struct relay_buf *b, int fd)
{
	while (b->off < b->len) {
		ssize_t k = write(fd, b->data + b->off, b->len - b->off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return 0;
		if (k <= 0)
			return -1;
		b->off += (size_t)k;
	}
	b->off = b->len = 0;
	return 0;
}

void shim_console_pump(struct shim_console *c)
{
	if (c->master < 0)
		return;
	/* Each loop moves at most a buffer per direction per round. */
	if (c->in_fd >= 0 && buf_fill(&c->to_master, c->in_fd) < 0) {
		close(c->in_fd); /* EOF: CloseIO happened and containerd closed its end */
		c->in_fd = -1;
	}
	if (c->to_master.len > c->to_master.off && !c->master_hup && buf_flush(&c->to_master, c->master) < 0)
		c->to_master.off = c->to_master.len = 0;
	if (!c->master_hup && buf_fill(&c->to_out, c->master) < 0)
		c->master_hup = true; /* EIO: the process and every slave are gone */
	if (c->master_hup)
		c->to_master.off = c->to_master.len = 0;
	if (c->to_out.len > c->to_out.off) {
		if (c->out_fd < 0 || buf_flush(&c->to_out, c->out_fd) < 0)
			c->to_out.off = c->to_out.len = 0; /* nowhere to go: dropped */
	}
}

bool shim_console_done(const struct shim_console *c)
{
	return c->master < 0 || (c->master_hup && c->to_out.len == c->to_out.off);
}

int shim_console_resize(struct shim_console *c, unsigned width, unsigned height, struct lv_error **err)
{
	struct winsize ws = { .ws_row = (unsigned short)height, .ws_col = (unsigned short)width };

	if (width > USHRT_MAX || height > USHRT_MAX)
		return lv_err_msg(err, EINVAL, "ResizePty: %ux%u is out of range (at most %u)", width, height,
				  USHRT_MAX);
	if (c->master < 0 || c->master_hup)
		return 0; /* the process has ended: nothing left to resize */
	if (ioctl(c->master, TIOCSWINSZ, &ws) < 0)
		return lv_err(err, errno, "ResizePty: TIOCSWINSZ");
	return 0;
}
