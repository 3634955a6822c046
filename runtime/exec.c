/* lightvm exec, the host side: see exec.h.  Builds the process's page,
 * opens an exec session with the container's monitor, and relays until the
 * process exits (exec_relay.c). */
#include "exec.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "console.h"
#include "page_build.h"
#include "../noxs/chan.h"
#include "../noxs/page.h"
#include "container_internal.h"
#include "ctl.h"
#include "exec_internal.h"
#include "monitor.h"
#include "spec.h"

/* The base process: --process FILE, or the container's own with new args. */
static int base_process(const struct rt_exec_opts *o, const struct rt_state *st, struct rt_process *p,
			struct lv_error **err)
{
	struct rt_spec *spec = NULL;
	int r;

	memset(p, 0, sizeof(*p));
	p->umask = -1;
	if (o->process_file) {
		r = rt_process_load(o->process_file, p, err);
		return r < 0 ? lv_err_wrap(err, "--process") : 0;
	}
	r = rt_spec_load(st->bundle, &spec, err);
	if (r < 0)
		return lv_err_wrap(err, "the container's config.json (for the process to exec)");
	*p = spec->process;
	memset(&spec->process, 0, sizeof(spec->process));
	spec->process.umask = -1;
	rt_spec_free(spec);
	p->terminal = false; /* -t decides for inline args, as with runc */
	p->rows = p->cols = 0;
	return 0;
}

static bool env_same_name(const char *a, const char *b)
{
	const char *ea = strchr(a, '='), *eb = strchr(b, '=');
	size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);

	return la == lb && memcmp(a, b, la) == 0;
}

/* The process the guest runs: the base with the command line's overrides,
 * encoded as a page with only the process in it.  Strings are borrowed from
 * p and o; *env and *gids are arrays owned by the caller. */
static int build_page(const struct rt_exec_opts *o, struct rt_process *p, uint8_t **page, size_t *len,
		      struct lv_error **err)
{
	cleanup_free const char **env = NULL;
	cleanup_free uint32_t *gids = NULL;
	struct noxs_proc np;
	size_t nenv = 0, ngids = 0;
	int r;

	memset(&np, 0, sizeof(np));
	if (!o->process_file) {
		if (o->nargs == 0)
			return lv_err_msg(err, EINVAL, "exec: no command: give ARGS after the container id, or --process");
		np.args = (const char **)o->args;
		np.nargs = (uint32_t)o->nargs;
	} else {
		np.args = (const char **)p->args;
		np.nargs = (uint32_t)p->nargs;
	}
	env = calloc(p->nenv + o->nenv + 1, sizeof(*env));
	gids = calloc(p->n_additional_gids + o->ngids + 1, sizeof(*gids));
	if (!env || !gids)
		return lv_err(err, ENOMEM, "exec");
	for (size_t i = 0; i < p->nenv; i++)
		env[nenv++] = p->env[i];
	for (size_t i = 0; i < o->nenv; i++) {
		size_t k;
		if (!strchr(o->env[i], '='))
			return lv_err_msg(err, EINVAL, "--env \"%s\": must be KEY=VALUE", o->env[i]);
		for (k = 0; k < nenv && !env_same_name(env[k], o->env[i]); k++)
			;
		env[k] = o->env[i];
		if (k == nenv)
			nenv++;
	}
	np.env = env;
	np.nenv = (uint32_t)nenv;
	for (size_t i = 0; i < p->n_additional_gids; i++)
		gids[ngids++] = p->additional_gids[i];
	for (size_t i = 0; i < o->ngids; i++)
		gids[ngids++] = o->gids[i];
	np.gids = gids;
	np.ngids = (uint32_t)ngids;
	np.cwd = o->cwd ? o->cwd : p->cwd ? p->cwd : "/";
	if (np.cwd[0] != '/')
		return lv_err_msg(err, EINVAL, "--cwd \"%s\": must be an absolute path", np.cwd);
	np.uid = o->has_user ? o->uid : p->uid;
	np.gid = o->has_user ? (o->has_gid ? o->gid : 0) : p->gid;
	for (size_t i = 0; i < o->ncaps; i++) {
		int c = rt_cap_number(o->caps[i]);
		if (c < 0)
			return lv_err_msg(err, EINVAL, "--cap \"%s\": unknown capability", o->caps[i]);
		p->caps.present = true;
		p->caps.bounding |= UINT64_C(1) << c;
		p->caps.effective |= UINT64_C(1) << c;
		p->caps.permitted |= UINT64_C(1) << c;
		if (p->caps.inheritable)
			p->caps.ambient |= UINT64_C(1) << c;
	}
	np.flags = (o->tty || (o->process_file && p->terminal) ? NOXS_F_TERMINAL : 0) |
		   (o->no_new_privs || p->no_new_privileges ? NOXS_F_NO_NEW_PRIVS : 0) |
		   (p->caps.present ? NOXS_F_HAS_CAPS : 0) | (p->umask >= 0 ? NOXS_F_HAS_UMASK : 0);
	np.hostname = "";
	r = rt_page_fill_process(&np, p, err);
	if (r < 0)
		return lv_err_wrap(err, "exec");
	r = noxs_page_encode(&np, page, len, err);
	free(np.rlimits);
	if (r < 0)
		return lv_err_wrap(err, "exec: the process");
	if (*len > NOXS_EXEC_PAGE_MAX) {
		free(*page);
		*page = NULL;
		return lv_err_msg(err, E2BIG, "exec: the process (args and env) takes %zu bytes, over the %u-byte limit",
				  *len, NOXS_EXEC_PAGE_MAX);
	}
	return 0;
}

/* A host pty for -t with --console-socket: the master goes to the socket
 * (as with create -t), the slave becomes the relay's stdio, raw: the guest's
 * pty does the line discipline. */
static int console_pty(const char *sock_path, const struct rt_process *p, int *slave, struct lv_error **err)
{
	char name[128];
	cleanup_close int master = -1, sock = -1, fd = -1;
	struct winsize ws = { .ws_row = (unsigned short)p->rows, .ws_col = (unsigned short)p->cols };
	struct termios tio;
	int r;

	sock = rt_console_connect(sock_path, err);
	if (sock < 0)
		return sock;
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
		return lv_err(err, errno, "allocate a pty");
	if (ws.ws_row || ws.ws_col)
		ioctl(master, TIOCSWINSZ, &ws);
	fd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return lv_err(err, errno, "open %s", name);
	if (tcgetattr(fd, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(fd, TCSANOW, &tio);
	}
	r = rt_console_send(sock, master, name, err);
	if (r < 0)
		return r;
	*slave = lv_take_fd(&fd);
	return 0;
}

/* Waits for the guest's answer to EXEC: STARTED, or ERROR (and EXIT).
 * Later frames stay queued on the socket for the relay. */
static int wait_started(int sock, struct lv_error **err)
{
	uint8_t msg[NOXS_FRAME_HDR + NOXS_EXEC_ERROR_MAX + 1];
	char text[NOXS_EXEC_ERROR_MAX + 1] = "";
	int status = -1;

	for (;;) {
		uint16_t type;
		uint32_t len;
		ssize_t n = recv(sock, msg, sizeof(msg), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return lv_err(err, errno, "exec: receive from the container's monitor");
		if (n == 0)
			return lv_err_msg(err, EPIPE, "exec: %s", text[0] ? text : "the container ended before the process started");
		if ((size_t)n < NOXS_FRAME_HDR || (size_t)n > NOXS_FRAME_HDR + NOXS_EXEC_ERROR_MAX)
			return lv_err_msg(err, EPROTO, "exec: a bad message from the container's monitor");
		type = noxs_get_u16(msg);
		len = (uint32_t)n - NOXS_FRAME_HDR;
		if (type == NOXS_MSG_EXEC_STARTED)
			return 0;
		if (type == NOXS_MSG_EXEC_ERROR) {
			memcpy(text, msg + NOXS_FRAME_HDR, len);
			text[len] = '\0';
		} else if (type == NOXS_MSG_EXEC_EXIT && len == 4) {
			status = (int)noxs_get_u32(msg + NOXS_FRAME_HDR);
			return lv_err_msg(err, EIO, "exec failed: %s",
					  text[0] ? text : (snprintf(text, sizeof(text), "exit status %#x", status), text));
		}
	}
}

static int write_pid_file(const char *path, pid_t pid, struct lv_error **err)
{
	cleanup_free char *tmp = NULL;
	cleanup_close int fd = -1;
	char buf[32];
	int n;

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return lv_err(err, ENOMEM, "--pid-file");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return lv_err(err, errno, "--pid-file %s", path);
	n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (write(fd, buf, (size_t)n) != n || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return lv_err(err, e, "--pid-file %s", path);
	}
	return 0;
}

int rt_container_exec(struct rt_context *ctx, const struct rt_exec_opts *o, int *exit_code, struct lv_error **err)
{
	struct rt_state *st = NULL;
	struct rt_process p;
	struct rt_exec_relay rl = { .ctx = ctx, .sock = -1, .in_fd = 0, .out_fd = 1, .err_fd = 2 };
	cleanup_close int dirfd = -1, slave = -1, sock = -1;
	cleanup_free uint8_t *page = NULL;
	sigset_t fwd, old;
	bool masked = false;
	size_t len = 0;
	pid_t child;
	int r;

	*exit_code = 0;
	memset(&p, 0, sizeof(p));
	p.umask = -1;
	r = rt_container_open(ctx, o->id, &dirfd, &st, err);
	if (r < 0)
		return r;
	switch (rt_state_live_status(st)) {
	case RT_STATUS_RUNNING:
		break;
	case RT_STATUS_PAUSED:
		r = lv_err_msg(err, EINVAL, "cannot exec in a paused container");
		goto out;
	default:
		r = lv_err_msg(err, EINVAL, "cannot exec in a container that is not running");
		goto out;
	}
	r = base_process(o, st, &p, err);
	if (r < 0)
		goto out;
	rl.terminal = o->tty || (o->process_file && p.terminal);
	if (rl.terminal && !o->console_socket) {
		/* Our terminal's size from the start: a WINSIZE after STARTED
		 * would race with the process's first look at it. */
		struct winsize ws;
		if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
			p.rows = ws.ws_row, p.cols = ws.ws_col;
	}
	r = build_page(o, &p, &page, &len, err);
	if (r < 0)
		goto out;
	if (rl.terminal && o->detach && !o->console_socket) {
		r = lv_err_msg(err, EINVAL, "cannot allocate tty if lightvm will detach without setting console socket");
		goto out;
	}
	if (o->console_socket && !rl.terminal) {
		r = lv_err_msg(err, EINVAL, "cannot use console socket if lightvm will not allocate tty");
		goto out;
	}
	if (o->console_socket) {
		r = console_pty(o->console_socket, &p, &slave, err);
		if (r < 0)
			goto out;
		rl.in_fd = rl.out_fd = rl.err_fd = slave;
		rl.ctty = true;
	}
	r = rt_ctl_open(dirfd, "exec", &sock, err);
	if (r < 0) {
		lv_err_wrap(err, "exec");
		goto out;
	}
	r = noxs_send(sock, NOXS_MSG_EXEC, page, (uint32_t)len, err);
	if (r < 0)
		goto out;
	/* From here on a signal for the exec's pid is for the process: held
	 * until the relay's signalfd takes it (a detached child inherits the
	 * mask). */
	rt_forwardable_signals(&fwd);
	sigdelset(&fwd, SIGCHLD);
	sigdelset(&fwd, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &fwd, &old) < 0) {
		r = lv_err(err, errno, "sigprocmask");
		goto out;
	}
	masked = true;
	r = wait_started(sock, err);
	if (r < 0)
		goto out;
	rl.sock = sock;
	if (o->detach) {
		child = fork();
		if (child < 0) {
			r = lv_err(err, errno, "fork");
			goto out;
		}
		if (child == 0) {
			setsid(); /* off the caller's terminal and process group */
			/* The host-side pid: returns through main with the
			 * process's status. */
			*exit_code = rt_exec_relay(&rl, &fwd);
			r = 0;
			goto out;
		}
		if (o->pid_file && (r = write_pid_file(o->pid_file, child, err)) < 0) {
			kill(child, SIGKILL); /* nobody could wait on it */
			goto out;
		}
		goto out;
	}
	if (o->pid_file && (r = write_pid_file(o->pid_file, getpid(), err)) < 0)
		goto out;
	if (rl.ctty && setsid() < 0)
		rl.ctty = false; /* a process group leader already: no SIGWINCH from the pty */
	*exit_code = rt_exec_relay(&rl, &fwd);
out:
	if (masked)
		sigprocmask(SIG_SETMASK, &old, NULL);
	rt_process_release(&p);
	rt_state_free(st);
	return r;
}
