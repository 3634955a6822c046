#include "tty_proxy.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static bool copy_once(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));
	char *p = buf;

	if (n <= 0)
		return n < 0 && (errno == EINTR || errno == EAGAIN);
	while (n > 0) {
		ssize_t w = write(to, p, (size_t)n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= w;
	}
	return true;
}

int rt_tty_proxy_start(struct rt_tty_proxy *t, int sock, struct lv_error **err)
{
	char name[128], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = name, .iov_len = sizeof(name) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	struct termios raw;

	t->master = -1;
	t->in_open = true;
	t->raw = false;
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0)
		return lv_err(err, errno, "receive the container's pty");
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return lv_err_msg(err, EPROTO, "the monitor sent no pty");
	memcpy(&t->master, CMSG_DATA(c), sizeof(int));
	if (isatty(0) && tcgetattr(0, &t->saved) == 0) {
		raw = t->saved;
		cfmakeraw(&raw);
		if (tcsetattr(0, TCSANOW, &raw) == 0)
			t->raw = true;
		rt_tty_proxy_resize(t);
	}
	return 0;
}

void rt_tty_proxy_pump(struct rt_tty_proxy *t, bool stdin_ready, bool master_ready)
{
	if (t->master < 0)
		return;
	if (stdin_ready && t->in_open && !copy_once(0, t->master))
		t->in_open = false;
	if (master_ready)
		copy_once(t->master, 1);
}

void rt_tty_proxy_resize(struct rt_tty_proxy *t)
{
	struct winsize ws;

	if (t->master >= 0 && ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(t->master, TIOCSWINSZ, &ws);
}

void rt_tty_proxy_end(struct rt_tty_proxy *t)
{
	if (t->master >= 0) {
		struct pollfd p = { .fd = t->master, .events = POLLIN };
		while (poll(&p, 1, 0) > 0 && (p.revents & POLLIN) && copy_once(t->master, 1))
			;
		close(t->master);
		t->master = -1;
	}
	if (t->raw)
		tcsetattr(0, TCSANOW, &t->saved);
	t->raw = false;
}
