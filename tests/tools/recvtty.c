/* recvtty: the receiving end of an OCI runtime's --console-socket, for tests
 * (after runc's contrib/cmd/recvtty).
 *
 *   recvtty [-o FILE] [-i] SOCKET
 *
 * Listens on the unix socket SOCKET, accepts one connection, receives the
 * pseudoterminal master over SCM_RIGHTS, and copies everything the container
 * writes to FILE (default stdout) until the pty hangs up (EIO or EOF).  With
 * -i, stdin is copied to the master as well, so a test can type.  Exits 0
 * after a hang-up, 1 on errors.  The socket file is removed on exit. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *sock_path;

static void die(const char *what)
{
	fprintf(stderr, "recvtty: %s: %s\n", what, strerror(errno));
	if (sock_path)
		unlink(sock_path);
	exit(1);
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

static int recv_fd(int conn)
{
	char data[256];
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	ssize_t n;

	do
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		die("recvmsg");
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int))) {
			int fd;
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
			return fd;
		}
	}
	errno = EPROTO;
	die("no file descriptor in the message");
	return -1;
}

int main(int argc, char **argv)
{
	const char *out_path = NULL;
	int copy_stdin = 0, opt;

	while ((opt = getopt(argc, argv, "o:i")) != -1) {
		switch (opt) {
		case 'o': out_path = optarg; break;
		case 'i': copy_stdin = 1; break;
		default:
			fprintf(stderr, "usage: recvtty [-o FILE] [-i] SOCKET\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: recvtty [-o FILE] [-i] SOCKET\n");
		return 2;
	}
	sock_path = argv[optind];
	signal(SIGPIPE, SIG_IGN);

	int out = STDOUT_FILENO;
	if (out_path) {
		out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out < 0)
			die(out_path);
	}

	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(sock_path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		die(sock_path);
	}
	strcpy(addr.sun_path, sock_path);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	unlink(sock_path);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("bind");
	if (listen(lfd, 1) < 0)
		die("listen");

	int conn;
	do
		conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (conn < 0 && errno == EINTR);
	if (conn < 0)
		die("accept");
	int master = recv_fd(conn);
	close(conn);
	close(lfd);
	unlink(sock_path);
	sock_path = NULL;

	struct pollfd pfd[2] = {
		{ .fd = master, .events = POLLIN },
		{ .fd = copy_stdin ? STDIN_FILENO : -1, .events = POLLIN },
	};
	char buf[4096];
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(master, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) /* EIO: every slave fd closed, the pty hung up */
				break;
			if (write_all(out, buf, (size_t)n) < 0)
				die("write");
		}
		if (pfd[1].fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				pfd[1].fd = -1; /* keep reading the pty */
			else if (write_all(master, buf, (size_t)n) < 0)
				die("write to the pty");
		}
	}
	return 0;
}
