/* Shared directories for both backends: one virtiofsd per directory bind
 * mount, speaking vhost-user to a vhost-user-fs device (QEMU's
 * vhost-user-fs-device on microvm, or our VMM's vmm/virtio_fs.c) that the
 * guest mounts with -t virtiofs by its tag.
 *
 * No socket path: the monitor makes a listening socket bound to an
 * autobound abstract address, hands it to virtiofsd (--fd) and connects a
 * second socket to it for the VMM (QEMU's chardev fd=, or the kvm
 * backend's device).  The connection is queued
 * in the backlog before virtiofsd accepts it, so nobody waits for a file
 * to appear and nothing is left on disk.
 *
 * Read-only: this virtiofsd has no read-only option, so it runs in a
 * private mount namespace where its source is a read-only bind of the
 * directory (recursively, submounts included).  The guest cannot undo that
 * from its side: it is the host's mount. */
#include "virtiofsd.h"

#include <fcntl.h>
#include <sched.h>
#include <linux/mount.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/cleanup.h"

#define FS_LISTEN_FD 3

/* The directory at src, read-only in this (private) mount namespace. */
static int bind_readonly(const char *src)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

	if (mount(src, src, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	if (syscall(SYS_mount_setattr, AT_FDCWD, src, AT_RECURSIVE, &attr, sizeof(attr)) == 0)
		return 0;
	/* Kernels before 5.12: the top mount only. */
	return mount(NULL, src, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
}

/* Runs in the forked child: no allocation, _exit on any failure (the
 * parent sees virtiofsd's absence as the VMM's handshake failing). */
static void fs_child(const char *const argv[], const struct hv_share *s, int listen_fd, int logfd, pid_t parent)
{
	sigset_t none;
	int devnull;

	setsid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		dprintf(logfd, "virtiofsd %s: private mount namespace: %m\n", s->tag);
		_exit(127);
	}
	if (s->readonly && bind_readonly(s->source) < 0) {
		dprintf(logfd, "virtiofsd %s: read-only bind of %s: %m\n", s->tag, s->source);
		_exit(127);
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
	    dup2(listen_fd, FS_LISTEN_FD) < 0)
		_exit(127);
	syscall(SYS_close_range, FS_LISTEN_FD + 1, ~0u, 0);
	execv(argv[0], (char *const *)argv);
	dprintf(2, "virtiofsd %s: exec %s: %m\n", s->tag, argv[0]);
	_exit(127);
}

/* A listening unix socket at an autobound abstract address, and a socket
 * connected to it. */
static int socket_pair_listening(int *listen_fd, int *conn_fd, struct lv_error **err)
{
	cleanup_close int l = -1, c = -1;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(sa_family_t);

	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return lv_err(err, errno, "virtiofsd socket");
	/* An address of only the family: the kernel picks a unique abstract
	 * name (unix(7), "autobind"). */
	if (bind(l, (struct sockaddr *)&addr, len) < 0 || listen(l, 1) < 0)
		return lv_err(err, errno, "virtiofsd socket: bind");
	len = sizeof(addr);
	if (getsockname(l, (struct sockaddr *)&addr, &len) < 0)
		return lv_err(err, errno, "virtiofsd socket: getsockname");
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&addr, len) < 0)
		return lv_err(err, errno, "virtiofsd socket: connect");
	*listen_fd = lv_take_fd(&l);
	*conn_fd = lv_take_fd(&c);
	return 0;
}

static int start_one(const char *virtiofsd, const struct hv_share *s, int logfd, struct rt_virtiofsd *fs,
		     struct lv_error **err)
{
	cleanup_free char *source = NULL;
	cleanup_close int l = -1;
	pid_t parent = getpid(), pid;
	int r;

	if (asprintf(&source, "source=%s", s->source) < 0) {
		source = NULL;
		return lv_err(err, ENOMEM, "virtiofsd %s", s->tag);
	}
	r = socket_pair_listening(&l, &fs->conn_fd, err);
	if (r < 0)
		return r;
	{
		/* cache=auto: the guest revalidates, so host-side changes show
		 * within a second; sandbox=namespace: virtiofsd pivots into the
		 * shared directory in its own namespaces. */
		const char *const argv[] = { virtiofsd, "--fd=3", "-o", source, "-o", "cache=auto", "-o",
					     "sandbox=namespace", NULL };

		pid = fork();
		if (pid < 0)
			return lv_err(err, errno, "fork virtiofsd for %s", s->source);
		if (pid == 0)
			fs_child(argv, s, l, logfd, parent);
	}
	fs->pid = pid;
	return 0;
}

int rt_virtiofsd_start(const char *virtiofsd, const struct hv_vm_config *vc, int logfd, struct rt_virtiofsd *fs,
		  struct lv_error **err)
{
	size_t i;
	int r;

	for (i = 0; i < vc->nshares; i++)
		fs[i] = (struct rt_virtiofsd){ .pid = 0, .conn_fd = -1 };
	if (vc->nshares && access(virtiofsd, X_OK) < 0)
		return lv_err(err, errno, "virtiofsd \"%s\" (for directory bind mounts; set \"virtiofsd\" in the runtime config)",
			      virtiofsd);
	for (i = 0; i < vc->nshares; i++) {
		r = start_one(virtiofsd, &vc->shares[i], logfd, &fs[i], err);
		if (r < 0) {
			lv_err_wrap(err, "directory %s", vc->shares[i].source);
			rt_virtiofsd_stop(fs, i + 1);
			return r;
		}
	}
	return 0;
}

void rt_virtiofsd_reap(struct rt_virtiofsd *fs, size_t n)
{
	/* Our ends first: a virtiofsd ends when its last peer closes. */
	for (size_t i = 0; i < n; i++) {
		if (fs[i].conn_fd >= 0)
			close(fs[i].conn_fd);
		fs[i].conn_fd = -1;
	}
	for (int tries = 0; tries < 200; tries++) {
		bool left = false;

		for (size_t i = 0; i < n; i++) {
			if (fs[i].pid > 0 && waitpid(fs[i].pid, NULL, WNOHANG) != 0)
				fs[i].pid = 0; /* reaped, or not ours to wait for */
			left |= fs[i].pid > 0;
		}
		if (!left)
			break;
		usleep(10000);
	}
}

void rt_virtiofsd_stop(struct rt_virtiofsd *fs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fs[i].pid > 0) {
			kill(fs[i].pid, SIGKILL);
			while (waitpid(fs[i].pid, NULL, 0) < 0 && errno == EINTR)
				;
			fs[i].pid = 0;
		}
		if (fs[i].conn_fd >= 0)
			close(fs[i].conn_fd);
		fs[i].conn_fd = -1;
	}
}
