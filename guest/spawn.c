/* Starting the container's process: its stdio (pipes or a pty), then in the
 * child, in runc's order, rlimits, cwd, capabilities and credentials, umask,
 * signals and exec.  The child reports a failure through a close-on-exec
 * pipe, so the parent learns whether exec happened before it says STARTED. */
#include "guest.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/cleanup.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CAP_VERSION_3 0x20080522u /* _LINUX_CAPABILITY_VERSION_3 */
#define CAP_MAX_LAST 63u

struct cap_header {
	uint32_t version;
	int pid;
};

struct cap_data {
	uint32_t effective, permitted, inheritable;
};

/* What a failed child writes before it exits; nothing means exec worked. */
struct child_report {
	int32_t status;   /* wait status the child exits with */
	char msg[252];
};

/* Descriptors the child needs, prepared by the parent. */
struct child_io {
	const struct noxs_proc *proc; /* what to run */
	int report;             /* write end of the report pipe */
	int in, out, err;       /* pipe ends for 0, 1, 2 (no terminal) */
	char slave[64];         /* pty slave path (terminal) */
	unsigned last_cap;
};

static void child_fail(const struct child_io *io, int code, const char *fmt, ...) LV_PRINTF(3, 4)
	__attribute__((noreturn));

static void child_fail(const struct child_io *io, int code, const char *fmt, ...)
{
	struct child_report rep = {.status = code << 8};
	va_list ap;
	ssize_t n;

	va_start(ap, fmt);
	vsnprintf(rep.msg, sizeof(rep.msg), fmt, ap);
	va_end(ap);
	do
		n = write(io->report, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	_exit(code);
}

static void child_stdio(const struct guest_ctx *g, const struct child_io *io)
{
	if (!(io->proc->flags & NOXS_F_TERMINAL)) {
		if (dup2(io->in, 0) < 0 || dup2(io->out, 1) < 0 || dup2(io->err, 2) < 0)
			child_fail(io, 1, "dup2: %s", strerror(errno));
		return;
	}
	if (setsid() < 0)
		child_fail(io, 1, "setsid: %s", strerror(errno));
	int fd = open(io->slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		child_fail(io, 1, "open %s: %s", io->slave, strerror(errno));
	if (ioctl(fd, TIOCSCTTY, 0) < 0)
		child_fail(io, 1, "TIOCSCTTY: %s", strerror(errno));
	/* The process owns its terminal, as with runc; the group stays tty. */
	if (io->proc->uid != 0 && fchown(fd, io->proc->uid, (gid_t)-1) < 0)
		child_fail(io, 1, "chown %s: %s", io->slave, strerror(errno));
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		child_fail(io, 1, "dup2: %s", strerror(errno));
	close(fd);
}

static void child_caps_bounding(const struct guest_ctx *g, const struct child_io *io)
{
	for (unsigned cap = 0; cap <= io->last_cap; cap++) {
		if (io->proc->caps[0] & (1ull << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			child_fail(io, 1, "drop capability %u from the bounding set: %s", cap, strerror(errno));
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		child_fail(io, 1, "PR_SET_KEEPCAPS: %s", strerror(errno));
}

static void child_caps_set(const struct guest_ctx *g, const struct child_io *io)
{
	const uint64_t *c = io->proc->caps;
	struct cap_header hdr = {.version = CAP_VERSION_3, .pid = 0};
	struct cap_data data[2];

	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(c[1] >> (32 * i));
		data[i].inheritable = (uint32_t)(c[2] >> (32 * i));
		data[i].permitted = (uint32_t)(c[3] >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		child_fail(io, 1, "capset: %s", strerror(errno));
	/* As runc: an ambient capability the kernel refuses is not fatal. */
	for (unsigned cap = 0; cap <= io->last_cap; cap++)
		if (c[4] & (1ull << cap))
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
}

static void child_credentials(const struct guest_ctx *g, const struct child_io *io)
{
	const struct noxs_proc *p = io->proc;
	gid_t gids[NOXS_MAX_ITEMS];
	size_t n = p->ngids < NOXS_MAX_ITEMS ? p->ngids : NOXS_MAX_ITEMS;

	for (size_t i = 0; i < n; i++)
		gids[i] = p->gids[i];
	if (setgroups(n, gids) < 0)
		child_fail(io, 1, "setgroups: %s", strerror(errno));
	if (setgid(p->gid) < 0)
		child_fail(io, 1, "setgid %u: %s", p->gid, strerror(errno));
	if (setuid(p->uid) < 0)
		child_fail(io, 1, "setuid %u: %s", p->uid, strerror(errno));
}

static const char *env_path(const struct noxs_proc *p)
{
	for (uint32_t i = 0; i < p->nenv; i++)
		if (strncmp(p->env[i], "PATH=", 5) == 0)
			return p->env[i] + 5;
	return DEFAULT_PATH;
}

int guest_check_exec(struct guest_ctx *g, int *status, struct lv_error **err)
{
	const char *name = g->proc.args[0];
	char buf[4096];
	struct stat st;

	if (strchr(name, '/')) {
		if (name[0] != '/')
			return 0; /* relative to a cwd that may not exist yet: spawn decides */
		if (stat(name, &st) < 0) {
			*status = 127 << 8;
			return lv_err_msg(err, ENOENT, "exec: \"%s\": stat %s: no such file or directory", name, name);
		}
		if (!S_ISREG(st.st_mode) || access(name, X_OK) < 0) {
			*status = 126 << 8;
			return lv_err_msg(err, EACCES, "exec: \"%s\": permission denied", name);
		}
		return 0;
	}
	for (const char *dir = env_path(&g->proc), *end;; dir = end + 1) {
		end = strchrnul(dir, ':');
		if (dir[0] != '/')
			return 0; /* a relative PATH entry: only spawn can tell */
		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)(end - dir), dir, name) < (int)sizeof(buf) &&
		    stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return 0;
		if (*end == '\0')
			break;
	}
	*status = 127 << 8;
	return lv_err_msg(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", name);
}

static void __attribute__((noreturn)) child_exec(const struct guest_ctx *g, const struct child_io *io)
{
	const struct noxs_proc *p = io->proc;
	const char *name = p->args[0];
	char *const *argv = (char *const *)p->args;
	char *const *envp = (char *const *)p->env;
	char buf[4096];
	bool denied = false;

	if (strchr(name, '/')) {
		execve(name, argv, envp);
		if (errno == ENOENT)
			child_fail(io, 127, "exec: \"%s\": stat %s: no such file or directory", name, name);
		if (errno == EACCES)
			child_fail(io, 126, "exec: \"%s\": permission denied", name);
		child_fail(io, 126, "exec: \"%s\": %s", name, strerror(errno));
	}
	for (const char *dir = env_path(p), *end; name[0]; dir = end + 1) {
		end = strchrnul(dir, ':');
		size_t dlen = (size_t)(end - dir);
		if (dlen == 0)
			dir = ".", dlen = 1; /* an empty entry is the cwd */
		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)dlen, dir, name) < (int)sizeof(buf)) {
			execve(buf, argv, envp);
			if (errno == EACCES)
				denied = true;
			else if (errno != ENOENT && errno != ENOTDIR)
				child_fail(io, 126, "exec: \"%s\": %s", name, strerror(errno));
		}
		if (*end == '\0')
			break;
	}
	if (denied)
		child_fail(io, 126, "exec: \"%s\": permission denied", name);
	child_fail(io, 127, "exec: \"%s\": executable file not found in $PATH", name);
}

static void child_run(const struct guest_ctx *g, const struct child_io *io) __attribute__((noreturn));

static void child_run(const struct guest_ctx *g, const struct child_io *io)
{
	const struct noxs_proc *p = io->proc;
	sigset_t all;

	child_stdio(g, io);
	for (uint32_t i = 0; i < p->nrlimits; i++) {
		const struct noxs_rlimit *l = &p->rlimits[i];
		struct rlimit rl = {.rlim_cur = l->soft, .rlim_max = l->hard};
		if (l->resource >= RLIMIT_NLIMITS || setrlimit((int)l->resource, &rl) < 0)
			child_fail(io, 1, "setrlimit %u: %s", l->resource,
				   l->resource >= RLIMIT_NLIMITS ? "invalid resource" : strerror(errno));
	}
	if (chdir(p->cwd) < 0) {
		if (errno != ENOENT || guest_mkdir_p(p->cwd, 0755, NULL) < 0 || chdir(p->cwd) < 0)
			child_fail(io, 1, "chdir %s: %s", p->cwd, strerror(errno));
	}
	if (p->flags & NOXS_F_HAS_CAPS)
		child_caps_bounding(g, io);
	child_credentials(g, io);
	if (p->flags & NOXS_F_HAS_CAPS)
		child_caps_set(g, io);
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if ((p->flags & NOXS_F_NO_NEW_PRIVS) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(io, 1, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	umask(p->flags & NOXS_F_HAS_UMASK ? (mode_t)(p->umask & 0777) : 022);
	for (int sig = 1; sig < _NSIG; sig++)
		signal(sig, SIG_DFL); /* fails harmlessly for KILL, STOP, libc's own */
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	child_exec(g, io);
}

static unsigned read_last_cap(void)
{
	char buf[16] = {0};
	cleanup_close int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	unsigned long v;

	if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0) {
		v = strtoul(buf, NULL, 10);
		return v > CAP_MAX_LAST ? CAP_MAX_LAST : (unsigned)v;
	}
	/* No sysctl: ask the bounding set, which knows every valid cap. */
	unsigned cap = 0;
	while (cap < CAP_MAX_LAST && prctl(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0)
		cap++;
	return cap;
}

void guest_winsize(struct guest_ctx *g, int fd, uint16_t rows, uint16_t cols)
{
	struct winsize ws = {.ws_row = rows, .ws_col = cols};

	if (rows && cols && ioctl(fd, TIOCSWINSZ, &ws) < 0)
		guest_log(g, "TIOCSWINSZ: %s", strerror(errno));
}

void guest_set_winsize(struct guest_ctx *g, int fd)
{
	guest_winsize(g, fd, g->rows, g->cols);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

/* Parent ends in out, child ends in io. */
static int prepare_stdio(struct guest_ctx *g, uint16_t rows, uint16_t cols, struct guest_stdio *out,
			 struct child_io *io, struct lv_error **err)
{
	int p[3][2];

	if (io->proc->flags & NOXS_F_TERMINAL) {
		int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (m < 0)
			return lv_err(err, errno, "open /dev/ptmx");
		out->out_fd = m;
		if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, io->slave, sizeof(io->slave)) != 0)
			return lv_err(err, errno, "set up the pty");
		out->in_fd = fcntl(m, F_DUPFD_CLOEXEC, 3);
		if (out->in_fd < 0)
			return lv_err(err, errno, "dup the pty master");
		guest_winsize(g, m, rows, cols);
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		if (pipe2(p[i], O_CLOEXEC) < 0) {
			for (int j = 0; j < i; j++)
				close(p[j][0]), close(p[j][1]);
			return lv_err(err, errno, "pipe");
		}
	}
	io->in = p[0][0], out->in_fd = p[0][1];
	out->out_fd = p[1][0], io->out = p[1][1];
	out->err_fd = p[2][0], io->err = p[2][1];
	return 0;
}

static void close_child_ends(struct child_io *io)
{
	lv_closep(&io->in);
	lv_closep(&io->out);
	lv_closep(&io->err);
	lv_closep(&io->report);
	io->in = io->out = io->err = io->report = -1;
}

static void close_parent_ends(struct guest_stdio *out)
{
	lv_closep(&out->in_fd);
	lv_closep(&out->out_fd);
	lv_closep(&out->err_fd);
	out->in_fd = out->out_fd = out->err_fd = -1;
}

int guest_spawn_proc(struct guest_ctx *g, const struct noxs_proc *proc, uint16_t rows, uint16_t cols, pid_t *pid,
		     struct guest_stdio *out, int *status, struct lv_error **err)
{
	struct child_io io = {.proc = proc, .report = -1, .in = -1, .out = -1, .err = -1};
	struct child_report rep;
	cleanup_close int report_rd = -1;
	int fds[2], r, st;
	size_t got = 0;

	*status = 1 << 8;
	*pid = 0;
	out->in_fd = out->out_fd = out->err_fd = -1;
	if (!proc->args || proc->nargs == 0 || !proc->args[0])
		return lv_err_msg(err, EINVAL, "the page has no process arguments");
	r = prepare_stdio(g, rows, cols, out, &io, err);
	if (r < 0)
		goto fail;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		r = lv_err(err, errno, "pipe");
		goto fail;
	}
	report_rd = fds[0], io.report = fds[1];
	io.last_cap = read_last_cap();

	*pid = fork();
	if (*pid < 0) {
		*pid = 0;
		r = lv_err(err, errno, "fork");
		goto fail;
	}
	if (*pid == 0)
		child_run(g, &io);
	close_child_ends(&io);

	while (got < sizeof(rep)) {
		ssize_t n = read(report_rd, (char *)&rep + got, sizeof(rep) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got > 0) {
		/* Only this pid: a waitpid(-1) here would take an exit that
		 * the relay's reaper is owed. */
		while (waitpid(*pid, &st, 0) < 0 && errno == EINTR)
			;
		*pid = 0;
		rep.msg[sizeof(rep.msg) - 1] = '\0';
		*status = got == sizeof(rep) ? st : 1 << 8;
		close_parent_ends(out);
		return lv_err_msg(err, EIO, "%s", got == sizeof(rep) ? rep.msg : "the process failed to start");
	}
	guest_log(g, "started pid %d", (int)*pid);
	int *parent_fds[] = {&out->in_fd, &out->out_fd, &out->err_fd};
	for (size_t i = 0; i < LV_ARRAY_SIZE(parent_fds); i++)
		if (*parent_fds[i] >= 0 && set_nonblock(*parent_fds[i]) < 0)
			guest_log(g, "O_NONBLOCK: %s", strerror(errno));
	return 0;
fail:
	close_child_ends(&io);
	close_parent_ends(out);
	return r;
}

int guest_spawn(struct guest_ctx *g, int *status, struct lv_error **err)
{
	struct guest_stdio io;
	uint8_t pidbuf[4];
	int r = guest_spawn_proc(g, &g->proc, g->rows, g->cols, &g->pid, &io, status, err);

	if (r < 0)
		return r;
	g->in.fd = io.in_fd;
	g->out_fd = io.out_fd;
	g->err_fd = io.err_fd;
	noxs_put_u32(pidbuf, (uint32_t)g->pid);
	r = guest_send(g, NOXS_MSG_STARTED, pidbuf, sizeof(pidbuf), err);
	if (r < 0)
		return r;
	guest_deliver_pending(g);
	return 0;
}
