/* Unit tests for the shim's terminals (shim/console.c, TAP): the console
 * socket (short and over-long directories), the pty master received over
 * it, what is refused, the relay both ways, resize and hang-up.
 *
 * console.c belongs to the shim binary, not to liblightvm.a, so it is
 * compiled in here. */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "../../shim/console.c"
#include "tap.h"

static char tmp[] = "/tmp/test_shim_console.XXXXXX";

/* As lightvm does: connect to path and send fd (or no descriptor at all). */
static int send_fd(const char *path, int fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)"/dev/pts/x", .iov_len = 10 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int s, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		if (s >= 0)
			close(s);
		return r;
	}
	if (fd >= 0) {
		struct cmsghdr *c;

		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	r = sendmsg(s, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
	close(s);
	return r;
}

static void raw(int fd)
{
	struct termios t;

	tcgetattr(fd, &t);
	cfmakeraw(&t);
	tcsetattr(fd, TCSANOW, &t);
}

/* Pumps until fd has want (or 50 rounds); what was read, NUL-terminated. */
static const char *pump_read(struct shim_console *c, int fd, const char *want)
{
	static char buf[256];
	size_t got = 0;

	for (int i = 0; i < 50 && !strstr(buf, want); i++) {
		ssize_t k;

		shim_console_pump(c);
		k = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (k > 0)
			got += (size_t)k;
		buf[got] = 0;
		if (!strstr(buf, want))
			usleep(10000);
	}
	buf[got] = 0;
	return buf;
}

static bool exists(const char *dir, const char *prefix)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -q '^%s'", dir, prefix);
	return system(cmd) == 0;
}

static void test_relay(void)
{
	char in[300], out[300];
	struct shim_console *c = NULL;
	struct lv_error *err = NULL;
	struct winsize ws = { 0 };
	struct pollfd pfd[SHIM_CONSOLE_PFDS];
	struct stat st;
	int master, slave, inw, outr, r;

	snprintf(in, sizeof(in), "%s/in", tmp);
	snprintf(out, sizeof(out), "%s/out", tmp);
	mkfifo(in, 0600);
	mkfifo(out, 0600);
	r = shim_console_listen(tmp, 1, &c, &err);
	ok(r == 0 && c, "listen in a short directory");
	if (!c)
		return;
	char want[400];
	snprintf(want, sizeof(want), "%s/tty-%d-1.sock", tmp, (int)getpid());
	is_str(shim_console_path(c), want, "the socket is DIR/tty-PID-SEQ.sock");
	ok(stat(want, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600, "a socket, mode 0600");
	openpty(&master, &slave, NULL, NULL, NULL);
	raw(slave);
	ok(send_fd(shim_console_path(c), master) == 0, "lightvm's side sends the master");
	close(master);
	r = shim_console_accept(c, in, out, &err);
	ok(r == 0, "the master is received (%s)", err ? err->msg : "");
	ok(!exists(tmp, "tty-"), "the socket file is gone once the master is here");
	inw = open(in, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	outr = open(out, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	fcntl(slave, F_SETFL, O_NONBLOCK);
	ok(shim_console_pollfds(c, pfd) == 2, "idle: polls the master and stdin");
	ok(write(inw, "typed\n", 6) == 6, "containerd writes stdin");
	ok(strstr(pump_read(c, slave, "typed"), "typed") != NULL, "stdin reaches the pty");
	ok(write(slave, "said\n", 5) == 5, "the process writes");
	ok(strstr(pump_read(c, outr, "said"), "said") != NULL, "its output reaches the stdout fifo");
	ok(shim_console_resize(c, 120, 40, &err) == 0 && ioctl(slave, TIOCGWINSZ, &ws) == 0 && ws.ws_col == 120 &&
		   ws.ws_row == 40,
	   "ResizePty sets the pty's size (%ux%u)", ws.ws_col, ws.ws_row);
	r = shim_console_resize(c, 70000, 40, &err);
	ok(r == -EINVAL && err && strstr(err->msg, "out of range"), "a size over 65535 is refused: %s",
	   err ? err->msg : "");
	lv_error_free(&err);
	ok(!shim_console_done(c), "not done while the process has the pty");
	ok(write(slave, "last words", 10) == 10, "the process writes, then ends");
	close(slave);
	ok(strstr(pump_read(c, outr, "last words"), "last words") != NULL, "what it said last is relayed");
	shim_console_pump(c);
	ok(shim_console_done(c), "done once the pty hung up and all is written");
	ok(shim_console_pollfds(c, pfd) == 1 && pfd[0].fd != c->master, "a hung-up master is polled no more");
	ok(shim_console_resize(c, 80, 24, &err) == 0, "a resize after the end is a no-op");
	close(inw);
	ok(shim_console_pollfds(c, pfd) == 1, "stdin still polled (its EOF is read next)");
	shim_console_pump(c);
	ok(c->in_fd < 0, "stdin EOF (containerd closed it): closed");
	shim_console_free(c);
	close(outr);
	unlink(in);
	unlink(out);
}

static void test_long_dir(void)
{
	char dir[400];
	struct shim_console *c = NULL;
	struct lv_error *err = NULL;
	int master, slave, r;

	snprintf(dir, sizeof(dir), "%s/%0100d", tmp, 0);
	mkdir(dir, 0700);
	r = shim_console_listen(dir, 2, &c, &err);
	ok(r == 0, "listen in a directory longer than sun_path (%s)", err ? err->msg : "");
	if (!c)
		return;
	ok(strncmp(shim_console_path(c), "/proc/", 6) == 0 && strlen(shim_console_path(c)) < 108,
	   "lightvm gets a /proc/PID/fd path: %s", shim_console_path(c));
	ok(exists(dir, "tty-"), "the socket file is in the directory");
	openpty(&master, &slave, NULL, NULL, NULL);
	ok(send_fd(shim_console_path(c), master) == 0, "connecting through that path works");
	r = shim_console_accept(c, "", "", &err);
	ok(r == 0, "received without stdin or stdout (%s)", err ? err->msg : "");
	ok(!exists(dir, "tty-"), "and the socket file is gone");
	ok(write(slave, "dropped", 7) == 7, "output with no stdout fifo");
	close(slave);
	close(master);
	for (int i = 0; i < 50 && !shim_console_done(c); i++) {
		shim_console_pump(c);
		usleep(10000);
	}
	ok(shim_console_done(c), "is dropped, and the console ends with the pty");
	shim_console_free(c);
	rmdir(dir);
}

static void test_refused(void)
{
	struct shim_console *c = NULL;
	struct lv_error *err = NULL;
	int p[2], r;

	shim_console_listen(tmp, 3, &c, &err);
	if (pipe2(p, O_CLOEXEC) < 0 || !c)
		return;
	send_fd(shim_console_path(c), p[0]);
	r = shim_console_accept(c, "", "", &err);
	ok(r == -EPROTO && err && strstr(err->msg, "not a terminal"), "a pipe instead of a pty: %s",
	   err ? err->msg : "");
	lv_error_free(&err);
	shim_console_free(c);
	close(p[0]);
	close(p[1]);

	shim_console_listen(tmp, 4, &c, &err);
	send_fd(shim_console_path(c), -1);
	r = shim_console_accept(c, "", "", &err);
	ok(r == -EPROTO && err && strstr(err->msg, "no descriptor"), "a message without a descriptor: %s",
	   err ? err->msg : "");
	lv_error_free(&err);
	shim_console_free(c);

	shim_console_listen(tmp, 5, &c, &err);
	ok(exists(tmp, "tty-"), "a socket waiting");
	shim_console_free(c);
	ok(!exists(tmp, "tty-"), "freed before lightvm connected: the socket file is removed");

	r = shim_console_listen("/nonexistent/dir", 6, &c, &err);
	ok(r == -ENOENT && !c && err && strstr(err->msg, "/nonexistent/dir"), "a missing directory: %s",
	   err ? err->msg : "");
	lv_error_free(&err);
}

int main(void)
{
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	test_relay();
	test_long_dir();
	test_refused();
	ok(rmdir(tmp) == 0, "nothing left in the test directory");
	return tap_done();
}
