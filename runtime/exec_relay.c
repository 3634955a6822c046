/* The exec's host-side process: stdio (or the pty) to and from the exec
 * session, signals to the process in the guest, and its exit status as our
 * own.  See exec.h. */
#include "exec_internal.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/io.h"
#include "../noxs/chan.h"

/* The largest message the monitor sends: stdio chunks. */
#define RELAY_MSG_MAX (NOXS_FRAME_HDR + NOXS_IO_CHUNK)

struct relay {
	struct rt_exec_relay *rl;
	bool in_open, out_ok, err_ok;
	bool raw;               /* our own terminal was put in raw mode */
	struct termios saved;
	bool have_exit;
	int wstatus;
	char msg[NOXS_EXEC_ERROR_MAX + 1];
};

static int send_frame(struct relay *x, uint16_t type, const void *p, uint32_t len)
{
	struct lv_error *err = NULL;
	int r = noxs_send(x->rl->sock, type, p, len, &err);

	if (r < 0) {
		rt_debug(&x->rl->ctx->log, "exec: %s", err->msg);
		lv_error_free(&err);
	}
	return r;
}

static void send_winsize(struct relay *x)
{
	struct winsize ws;
	uint8_t p[4];

	if (!x->rl->terminal || ioctl(x->rl->in_fd, TIOCGWINSZ, &ws) < 0 || (!ws.ws_row && !ws.ws_col))
		return;
	noxs_put_u16(p, ws.ws_row);
	noxs_put_u16(p + 2, ws.ws_col);
	send_frame(x, NOXS_MSG_EXEC_WINSIZE, p, sizeof(p));
}

static void forward_stdin(struct relay *x)
{
	uint8_t buf[NOXS_IO_CHUNK];
	ssize_t n = read(x->rl->in_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		x->in_open = false;
		if (!x->rl->terminal)
			send_frame(x, NOXS_MSG_EXEC_STDIN_EOF, NULL, 0);
		return;
	}
	send_frame(x, NOXS_MSG_EXEC_STDIN, buf, (uint32_t)n);
}

/* One message from the monitor; false when the session is over. */
static bool from_monitor(struct relay *x)
{
	uint8_t msg[RELAY_MSG_MAX];
	ssize_t n = recv(x->rl->sock, msg, sizeof(msg), MSG_DONTWAIT);
	uint32_t len;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0 || (size_t)n < NOXS_FRAME_HDR)
		return false;
	len = (uint32_t)n - NOXS_FRAME_HDR;
	switch (noxs_get_u16(msg)) {
	case NOXS_MSG_EXEC_STDOUT:
		if (x->out_ok && !lv_write_all(x->rl->out_fd, msg + NOXS_FRAME_HDR, len))
			x->out_ok = false;
		break;
	case NOXS_MSG_EXEC_STDERR:
		if (x->err_ok && !lv_write_all(x->rl->err_fd, msg + NOXS_FRAME_HDR, len))
			x->err_ok = false;
		break;
	case NOXS_MSG_EXEC_ERROR:
		if (len > NOXS_EXEC_ERROR_MAX)
			len = NOXS_EXEC_ERROR_MAX;
		memcpy(x->msg, msg + NOXS_FRAME_HDR, len);
		x->msg[len] = '\0';
		break;
	case NOXS_MSG_EXEC_EXIT:
		if (len != 4)
			return false;
		x->have_exit = true;
		x->wstatus = (int)noxs_get_u32(msg + NOXS_FRAME_HDR);
		return false;
	default:
		break;
	}
	return true;
}

static void setup_terminal(struct relay *x)
{
	struct termios raw;

	if (x->rl->ctty) {
		if (ioctl(x->rl->in_fd, TIOCSCTTY, 0) < 0)
			rt_debug(&x->rl->ctx->log, "exec: no controlling terminal, so no resize: %s", strerror(errno));
		return;
	}
	/* -t on our own stdio: our terminal in raw mode, as `run` does. */
	if (x->rl->terminal && isatty(x->rl->in_fd) && tcgetattr(x->rl->in_fd, &x->saved) == 0) {
		raw = x->saved;
		cfmakeraw(&raw);
		x->raw = tcsetattr(x->rl->in_fd, TCSANOW, &raw) == 0;
	}
}

int rt_exec_relay(struct rt_exec_relay *rl, const sigset_t *fwd)
{
	struct relay x = { .rl = rl, .in_open = true, .out_ok = true, .err_ok = true };
	cleanup_close int sigfd = -1;
	bool open = true;
	int code;

	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, fwd, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		rt_log(&rl->ctx->log, RT_LOG_ERROR, "exec: signalfd: %s: signals are not forwarded", strerror(errno));
	setup_terminal(&x);
	send_winsize(&x);
	while (open) {
		struct pollfd pfd[3] = {
			{ .fd = rl->sock, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = x.in_open ? rl->in_fd : -1, .events = POLLIN },
		};

		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
				uint8_t p[4];
				if (si.ssi_signo == SIGWINCH && rl->terminal) {
					send_winsize(&x);
					continue;
				}
				noxs_put_u32(p, si.ssi_signo);
				send_frame(&x, NOXS_MSG_EXEC_SIGNAL, p, sizeof(p));
			}
		}
		if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))
			forward_stdin(&x);
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			while ((open = from_monitor(&x))) {
				struct pollfd s = { .fd = rl->sock, .events = POLLIN };
				if (poll(&s, 1, 0) <= 0)
					break;
			}
	}
	if (x.raw)
		tcsetattr(rl->in_fd, TCSANOW, &x.saved);
	if (!x.have_exit) {
		rt_log(&rl->ctx->log, RT_LOG_ERROR, "exec: the container's monitor went away before the process's exit status%s%s",
		       x.msg[0] ? ": " : "", x.msg);
		return 255;
	}
	if (x.msg[0])
		rt_log(&rl->ctx->log, RT_LOG_ERROR, "exec: %s", x.msg);
	if (WIFEXITED(x.wstatus))
		code = WEXITSTATUS(x.wstatus);
	else if (WIFSIGNALED(x.wstatus))
		code = 128 + WTERMSIG(x.wstatus);
	else
		code = 255;
	return code;
}
