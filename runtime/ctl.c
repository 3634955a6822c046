#include "ctl.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lib/cleanup.h"

#define RT_CTL_TIMEOUT_MS 30000

static int ctl_addr(int dirfd, struct sockaddr_un *sa, struct lv_error **err)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if ((size_t)snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", dirfd, RT_CTL_SOCK) >=
	    sizeof(sa->sun_path))
		return lv_err_msg(err, ENAMETOOLONG, "control socket path");
	return 0;
}

int rt_ctl_listen(int dirfd, struct lv_error **err)
{
	struct sockaddr_un sa;
	cleanup_close int fd = -1;
	int r;

	r = ctl_addr(dirfd, &sa, err);
	if (r < 0)
		return r;
	unlinkat(dirfd, RT_CTL_SOCK, 0);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return lv_err(err, errno, "control socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return lv_err(err, errno, "bind control socket");
	if (fchmodat(dirfd, RT_CTL_SOCK, 0600, 0) < 0)
		return lv_err(err, errno, "chmod control socket");
	if (listen(fd, 16) < 0)
		return lv_err(err, errno, "listen on control socket");
	return lv_take_fd(&fd);
}

int rt_ctl_open(int dirfd, const char *request, int *conn, struct lv_error **err)
{
	struct sockaddr_un sa;
	cleanup_close int fd = -1;
	struct pollfd pfd;
	char buf[RT_CTL_MSG_MAX + 1];
	ssize_t n;
	int r, errnum, off = 0;

	r = ctl_addr(dirfd, &sa, err);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return lv_err(err, errno, "control socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return lv_err(err, errno, "connect to the container's monitor");
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0)
		return lv_err(err, errno, "send to the container's monitor");
	pfd.fd = fd;
	pfd.events = POLLIN;
	do
		r = poll(&pfd, 1, RT_CTL_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return lv_err_msg(err, ETIMEDOUT, "the container's monitor did not answer \"%s\" within %d s", request,
				  RT_CTL_TIMEOUT_MS / 1000);
	n = recv(fd, buf, RT_CTL_MSG_MAX, 0);
	if (n < 0)
		return lv_err(err, errno, "receive from the container's monitor");
	if (n == 0)
		return lv_err_msg(err, EPIPE, "the container's monitor closed the connection (the container ended)");
	buf[n] = '\0';
	if (strcmp(buf, "ok") == 0) {
		if (conn)
			*conn = lv_take_fd(&fd);
		return 0;
	}
	if (sscanf(buf, "err %d %n", &errnum, &off) == 1 && off > 0 && errnum > 0)
		return lv_err_msg(err, errnum, "%s", buf + off);
	return lv_err_msg(err, EPROTO, "unexpected reply from the container's monitor");
}

int rt_ctl_request(int dirfd, const char *request, struct lv_error **err)
{
	return rt_ctl_open(dirfd, request, NULL, err);
}

void rt_ctl_reply(int fd, int errnum, const char *msg)
{
	char buf[RT_CTL_MSG_MAX];
	int n;

	if (errnum == 0)
		n = snprintf(buf, sizeof(buf), "ok");
	else
		n = snprintf(buf, sizeof(buf), "err %d %s", errnum, msg ? msg : "error");
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	(void)send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}
