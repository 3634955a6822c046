/* The monitor process: see monitor.h.  One poll loop over the guest's
 * control channel, the VM's exit, the control socket, signals and stdin. */
#include "monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/io.h"
#include "console.h"
#include "../lib/clock.h"
#include "../noxs/chan.h"
#include "../noxs/page.h"
#include "ctl.h"
#include "monitor_exec.h"
#include "page_build.h"
#include "pool.h"
#include "rootfs_stream.h"
#include "sandbox.h"
#include "state.h"

enum mon_phase { MON_BOOTING, MON_CREATED, MON_STARTING, MON_RUNNING, MON_EXITED };

struct monitor {
	const struct rt_monitor_args *a;
	struct rt_context *ctx;
	struct hv_vm vm;
	bool vm_up;
	bool claimed;    /* the VM is a shell claimed from lightvm-poold */
	enum mon_phase phase;
	bool paused;
	int dirfd;
	int sigfd;
	int listen_fd;
	int start_client;
	int sync_fd;
	int in_fd, out_fd, err_fd; /* the container's stdio on the host side */
	bool in_open, out_ok, err_ok;
	bool terminal;
	struct noxs_rx rx;
	struct rt_mon_exec exec; /* lightvm exec sessions */
	bool have_exit;
	bool ctl_open;   /* the guest's end of the channel is still there */
	bool end_now;    /* tear the VM down without waiting for it to power off */
	int wstatus;
	/* CLOCK_MONOTONIC ns of the VM's milestones, written to ROOT/ID/timings
	 * when it ends (for the benchmarks; 0: did not happen). */
	uint64_t t_launch, t_waiting, t_ready, t_exit, t_end;
	int timings_fd;  /* opened before the sandbox, which forbids creating files */
	int rootfs_fd;   /* vm_config.rootfs_archive, opened before the sandbox, or -1 */
	struct hv_vm_config vc; /* a->vm_config, with the NIC net.c built */
	struct rt_net net;
	uint8_t *page;   /* a->page, or the one rebuilt with the NIC (net_page) */
	size_t page_len;
	bool sandbox;
	struct rt_sandbox_policy sp;
	char errmsg[1024];
	struct rt_state st;
};

static void write_timings(const struct monitor *m)
{
	if (m->timings_fd >= 0)
		dprintf(m->timings_fd, "launch %llu\nwaiting %llu\nready %llu\nexit %llu\nend %llu\n",
			(unsigned long long)m->t_launch, (unsigned long long)m->t_waiting, (unsigned long long)m->t_ready, (unsigned long long)m->t_exit, (unsigned long long)m->t_end);
}

static void sync_report(struct monitor *m, int errnum, const char *msg)
{
	char buf[2048];
	int n;

	if (m->sync_fd < 0)
		return;
	n = errnum ? snprintf(buf, sizeof(buf), "err %d %s", errnum, msg) : snprintf(buf, sizeof(buf), "ok");
	if (n > 0)
		(void)!write(m->sync_fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	close(m->sync_fd);
	m->sync_fd = -1;
}

static int save_state(struct monitor *m, enum rt_status status)
{
	struct lv_error *err = NULL;
	int fd, r;

	m->st.status = status;
	/* Until we report, the creating process holds the lock on our behalf. */
	if (m->sync_fd >= 0) {
		r = rt_state_write(m->dirfd, &m->st, &err);
	} else {
		fd = rt_state_lock(m->ctx->root, m->a->id, &err);
		if (fd < 0) {
			lv_error_free(&err); /* deleted under us (delete --force): nothing to record */
			return 0;
		}
		r = rt_state_write(fd, &m->st, &err);
		close(fd);
	}
	if (r < 0) {
		rt_log(&m->ctx->log, RT_LOG_ERROR, "container %s: %s", m->a->id, err->msg);
		lv_error_free(&err);
	}
	return r;
}

static int send_frame(struct monitor *m, uint16_t type, const void *p, uint32_t len)
{
	struct lv_error *err = NULL;
	int r = noxs_send(m->vm.ctl_fd, type, p, len, &err);

	if (r < 0) {
		rt_debug(&m->ctx->log, "container %s: send to guest: %s", m->a->id, err->msg);
		lv_error_free(&err);
	}
	return r;
}

static void send_signal(struct monitor *m, int signo, bool all)
{
	uint8_t p[8];

	noxs_put_u32(p, (uint32_t)signo);
	noxs_put_u32(p + 4, all ? NOXS_SIGNAL_ALL : 0);
	send_frame(m, NOXS_MSG_SIGNAL, p, sizeof(p));
}

static void send_winsize(struct monitor *m)
{
	struct winsize ws;
	uint8_t p[4];

	if (!m->terminal || ioctl(m->in_fd, TIOCGWINSZ, &ws) < 0)
		return;
	noxs_put_u16(p, ws.ws_row);
	noxs_put_u16(p + 2, ws.ws_col);
	send_frame(m, NOXS_MSG_WINSIZE, p, sizeof(p));
}

static bool default_terminates(int signo)
{
	return signo != SIGCHLD && signo != SIGCONT && signo != SIGURG && signo != SIGWINCH;
}

/* A signal for a container that has not started: like runc's init waiting
 * on its fifo, the container ends with it. */
static void end_unstarted(struct monitor *m, int signo)
{
	m->have_exit = true;
	m->wstatus = signo & 0x7f; /* as waitpid reports "killed by signo" */
	m->phase = MON_EXITED;
	m->end_now = true;
}

static void handle_signal(struct monitor *m, int signo)
{
	if (signo == SIGWINCH && m->terminal) {
		send_winsize(m);
		return;
	}
	if (m->phase == MON_RUNNING || m->phase == MON_STARTING)
		send_signal(m, signo, false);
	else if ((m->phase == MON_CREATED || m->phase == MON_BOOTING) && default_terminates(signo))
		end_unstarted(m, signo);
}

static void handle_request(struct monitor *m, int cfd, char *req)
{
	struct lv_error *err = NULL;
	int signo, all;

	if (strcmp(req, "start") == 0) {
		if (m->phase != MON_CREATED || m->start_client >= 0) {
			rt_ctl_reply(cfd, EINVAL, m->phase == MON_BOOTING ? "container is still being created"
								      : "cannot start a container that is not in the created state");
			close(cfd);
			return;
		}
		if (send_frame(m, NOXS_MSG_START, NULL, 0) < 0) {
			rt_ctl_reply(cfd, EIO, "cannot reach the guest");
			close(cfd);
			return;
		}
		m->phase = MON_STARTING;
		m->start_client = cfd; /* answered when the guest says STARTED */
		return;
	}
	if (sscanf(req, "kill %d %d", &signo, &all) == 2 && signo > 0 && signo < 65) {
		if (m->phase == MON_RUNNING || m->phase == MON_STARTING)
			send_signal(m, signo, all != 0);
		else if (default_terminates(signo))
			end_unstarted(m, signo);
		rt_ctl_reply(cfd, 0, NULL);
	} else if (strcmp(req, "exec") == 0) {
		if (m->phase != MON_RUNNING || m->paused) {
			rt_ctl_reply(cfd, EINVAL, m->paused ? "cannot exec in a paused container"
							    : "cannot exec in a container that is not running");
		} else {
			rt_mon_exec_accept(&m->exec, cfd); /* keeps or closes cfd */
			return;
		}
	} else if (strcmp(req, "pause") == 0 || strcmp(req, "resume") == 0) {
		bool pause = req[0] == 'p';
		if (m->phase != MON_RUNNING || m->paused == pause) {
			rt_ctl_reply(cfd, EINVAL, pause ? "container not running" : "container not paused");
		} else if ((pause ? m->vm.ops->pause(&m->vm, &err) : m->vm.ops->resume(&m->vm, &err)) < 0) {
			rt_ctl_reply(cfd, lv_err_errno(err), err->msg);
			lv_error_free(&err);
		} else {
			m->paused = pause;
			save_state(m, pause ? RT_STATUS_PAUSED : RT_STATUS_RUNNING);
			rt_ctl_reply(cfd, 0, NULL);
		}
	} else {
		rt_ctl_reply(cfd, EINVAL, "unknown request");
	}
	close(cfd);
}

static void handle_client(struct monitor *m)
{
	char req[RT_CTL_MSG_MAX + 1];
	struct pollfd pfd;
	ssize_t n;
	int cfd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (cfd < 0)
		return;
	pfd.fd = cfd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 2000) <= 0 || (n = recv(cfd, req, RT_CTL_MSG_MAX, 0)) <= 0) {
		close(cfd);
		return;
	}
	req[n] = '\0';
	handle_request(m, cfd, req);
}

static void guest_error(struct monitor *m, const uint8_t *p, uint32_t len)
{
	size_t have = strlen(m->errmsg);
	size_t room = sizeof(m->errmsg) - have - 1;
	size_t n = len < room ? len : room;

	if (have && room > 2) {
		strcat(m->errmsg, "; ");
		have += 2;
		room -= 2;
		n = len < room ? len : room;
	}
	for (size_t i = 0; i < n; i++) /* guest text: keep it printable */
		m->errmsg[have + i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	m->errmsg[have + n] = '\0';
	rt_debug(&m->ctx->log, "container %s: guest: %s", m->a->id, m->errmsg + have);
}

static void guest_frame(struct monitor *m, uint16_t type, const uint8_t *p, uint32_t len)
{
	switch (type) {
	case NOXS_MSG_WAITING: /* the guest init is up (a claimed shell's was up before the claim) */
		if (!m->t_waiting)
			m->t_waiting = lv_now_ns();
		break;
	case NOXS_MSG_READY:
		if (m->phase != MON_BOOTING)
			break;
		m->t_ready = lv_now_ns();
		if (m->a->autostart) {
			m->phase = MON_STARTING;
			if (send_frame(m, NOXS_MSG_START, NULL, 0) < 0)
				end_unstarted(m, SIGKILL);
			break;
		}
		if (save_state(m, RT_STATUS_CREATED) < 0) {
			sync_report(m, EIO, "cannot write the container state");
			end_unstarted(m, SIGKILL);
			break;
		}
		m->phase = MON_CREATED;
		sync_report(m, 0, NULL);
		break;
	case NOXS_MSG_STARTED:
		if (m->phase != MON_STARTING)
			break;
		m->phase = MON_RUNNING;
		save_state(m, RT_STATUS_RUNNING);
		sync_report(m, 0, NULL); /* autostart: created and started in one */
		if (m->start_client >= 0) {
			rt_ctl_reply(m->start_client, 0, NULL);
			close(m->start_client);
			m->start_client = -1;
		}
		break;
	case NOXS_MSG_STDOUT:
		if (m->out_ok && !lv_write_all(m->out_fd, p, len))
			m->out_ok = false;
		break;
	case NOXS_MSG_STDERR:
		if (m->err_ok && !lv_write_all(m->err_fd, p, len))
			m->err_ok = false;
		break;
	case NOXS_MSG_ERROR:
		guest_error(m, p, len);
		break;
	case NOXS_MSG_EXIT:
		if (len < 4)
			break;
		m->have_exit = true;
		m->wstatus = (int)noxs_get_u32(p);
		m->phase = MON_EXITED;
		m->t_exit = lv_now_ns();
		break;
	default:
		if (noxs_is_exec_msg(type))
			rt_mon_exec_guest_frame(&m->exec, type, p, len);
		else
			rt_debug(&m->ctx->log, "container %s: ignoring guest frame type %u", m->a->id, type);
	}
}

/* Drains the control channel; false when the guest side is gone. */
static bool read_guest(struct monitor *m)
{
	struct lv_error *err = NULL;
	const uint8_t *p;
	uint16_t type;
	uint32_t len;
	int r = noxs_rx_fill(&m->rx, m->vm.ctl_fd, &err);

	if (r == -EAGAIN)
		return true;
	if (r <= 0) {
		lv_error_free(&err);
		return false;
	}
	while ((r = noxs_rx_next(&m->rx, &type, &p, &len, &err)) == 1)
		guest_frame(m, type, p, len);
	if (r < 0) {
		rt_log(&m->ctx->log, RT_LOG_ERROR, "container %s: %s", m->a->id, err->msg);
		lv_error_free(&err);
		return false;
	}
	return true;
}

static void forward_stdin(struct monitor *m)
{
	uint8_t buf[NOXS_IO_CHUNK];
	ssize_t n = read(m->in_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		m->in_open = false;
		if (!m->terminal)
			send_frame(m, NOXS_MSG_STDIN_EOF, NULL, 0);
		return;
	}
	send_frame(m, NOXS_MSG_STDIN, buf, (uint32_t)n);
}

void rt_forwardable_signals(sigset_t *set)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS };

	sigfillset(set);
	for (size_t i = 0; i < LV_ARRAY_SIZE(faults); i++)
		sigdelset(set, faults[i]);
}

static int setup_signals(struct monitor *m, struct lv_error **err)
{
	sigset_t set;

	/* SIGCHLD is the VMM's business (we watch it through a pidfd);
	 * SIGPIPE comes from our own writes to a caller that went away. */
	rt_forwardable_signals(&set);
	sigdelset(&set, SIGCHLD);
	sigdelset(&set, SIGPIPE);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_SETMASK, &set, NULL) < 0)
		return lv_err(err, errno, "sigprocmask");
	m->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m->sigfd < 0)
		return lv_err(err, errno, "signalfd");
	return 0;
}

/* The caller gets the master of a host pty, as with runc; we keep the slave
 * as our controlling terminal (so a resize reaches us as SIGWINCH) in raw
 * mode: the guest's own pty does the line discipline. */
static int setup_terminal(struct monitor *m, struct lv_error **err)
{
	const struct rt_process *p = &m->a->spec->process;
	cleanup_close int master = -1;
	struct winsize ws = { .ws_row = (unsigned short)p->rows, .ws_col = (unsigned short)p->cols };
	struct termios tio;
	char name[128];
	int slave, r;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
		return lv_err(err, errno, "allocate a pty");
	if (ws.ws_row || ws.ws_col)
		ioctl(master, TIOCSWINSZ, &ws);
	slave = open(name, O_RDWR | O_CLOEXEC);
	if (slave < 0)
		return lv_err(err, errno, "open %s", name);
	ioctl(slave, TIOCSCTTY, 0);
	if (tcgetattr(slave, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(slave, TCSANOW, &tio);
	}
	m->in_fd = m->out_fd = m->err_fd = slave;
	r = rt_console_send(m->a->console_fd, master, name, err);
	if (r < 0)
		return r;
	return 0;
}

static int init_state(struct monitor *m, struct lv_error **err)
{
	const struct rt_spec *spec = m->a->spec;

	m->st.id = (char *)m->a->id;
	m->st.pid = getpid();
	rt_proc_start_time(m->st.pid, &m->st.pid_start, NULL, NULL);
	m->st.vmm_pid = m->vm.vmm_pid;
	m->st.vmm_start = m->vm.vmm_start;
	m->st.exit_status = -1;
	m->st.bundle = (char *)m->a->bundle;
	m->st.rootfs = spec->rootfs;
	m->st.created = rt_now_rfc3339();
	m->st.owner = (char *)"";
	m->st.backend = (char *)m->a->ops->name;
	m->st.annotations = spec->annotations;
	m->st.nannotations = spec->nannotations;
	if (!m->st.created)
		return lv_err(err, ENOMEM, "state");
	return 0;
}

/* Once the VM is built, and before any thread of its runs: no capability,
 * no_new_privs, file writes only beneath the state directory (Landlock);
 * the VMM's threads, started next, inherit that.  The seccomp filter comes
 * last, in monitor_setup(), when the monitor has done all its setup.  See
 * runtime/SANDBOX.md. */
static int confine(struct monitor *m, struct lv_error **err)
{
	const char *mode = m->ctx->config.sandbox;
	int r;

	rt_sandbox_policy_init(&m->sp);
	m->sandbox = strcmp(mode, "off") != 0;
	if (m->sandbox) {
		m->sp.log_only = strcmp(mode, "log") == 0;
		m->sp.state_files = true;
		m->sp.terminal = m->terminal;
		m->sp.kvm = m->a->ops->start != NULL;
		m->sp.block_image = m->vc.disk != NULL;
		m->sp.child_pid = m->vm.vmm_pid;
		m->sp.child_pidfd = m->claimed && m->vm.vmm_pid > 0 && m->vm.exit_fd > 0 ? m->vm.exit_fd : 0;
		m->sp.write_dirfd = rt_sandbox_landlock_abi() > 0 ? m->dirfd : -1;
		r = rt_sandbox_restrict_thread(&m->sp, err);
		if (r < 0)
			return lv_err_wrap(err, "sandbox the monitor");
	}
	if (m->a->ops->start) {
		r = m->a->ops->start(&m->vm, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The engine's interface behind a tap, and the page rebuilt with the NIC. */
static int net_page(struct monitor *m, struct lv_error **err)
{
	int r;

	if (m->a->net_mode != RT_NET_NEW && m->a->net_mode != RT_NET_PATH)
		return 0;
	r = rt_net_prepare_vm(m->a->spec, &m->net, &m->vc, &m->page, &m->page_len, err);
	if (r == 0 && m->net.has_nic)
		rt_debug(&m->ctx->log, "container %s: %s (mtu %u, %u addresses, %u routes%s) behind %s", m->a->id,
			 m->net.name, m->net.mtu, m->net.naddrs, m->net.nroutes,
			 m->net.skipped_v6 ? ", IPv6 left out" : "", m->net.tap);
	return r;
}

/* Everything before the poll loop, unwound by the caller. */
static int monitor_setup(struct monitor *m, struct lv_error **err)
{
	const struct rt_monitor_args *a = m->a;
	cleanup_free char *dir = NULL;
	int r;

	r = rt_net_enter(a->spec, a->net_mode, a->hooks_fd, err);
	if (r < 0)
		return r;
	r = setup_signals(m, err);
	if (r < 0)
		return r;
	r = rt_state_path(m->ctx->root, a->id, &dir, err);
	if (r < 0)
		return r;
	m->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->dirfd < 0)
		return lv_err(err, errno, "open %s", dir);
	m->listen_fd = rt_ctl_listen(m->dirfd, err);
	if (m->listen_fd < 0)
		return m->listen_fd;
	if (m->terminal) {
		r = setup_terminal(m, err);
		if (r < 0)
			return r;
	}
	if (a->spec->process.has_oom_score_adj) {
		cleanup_close int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || dprintf(fd, "%d", a->spec->process.oom_score_adj) < 0)
			return lv_err(err, errno, "process.oomScoreAdj: cannot apply %d", a->spec->process.oom_score_adj);
	}
	r = noxs_rx_init(&m->rx, err);
	if (r < 0)
		return r;
	r = rt_mon_exec_init(&m->exec, &m->ctx->log, a->id, err);
	if (r < 0)
		return r;
	m->timings_fd = openat(m->dirfd, "timings", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (a->vm_config.rootfs_archive) {
		m->rootfs_fd = open(a->vm_config.rootfs_archive, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (m->rootfs_fd < 0)
			return lv_err(err, errno, "open the rootfs archive %s", a->vm_config.rootfs_archive);
	}
	r = net_page(m, err);
	if (r < 0)
		return r;
	m->t_launch = lv_now_ns();
	r = rt_pool_launch(m->ctx, a->ops, &m->vc, &m->vm, &m->claimed, err);
	rt_net_release_tap(&m->net); /* the VMM has its own */
	if (r < 0)
		return r;
	m->vm_up = true;
	r = confine(m, err);
	if (r < 0)
		return r;
	r = init_state(m, err);
	if (r < 0)
		return r;
	if (m->rootfs_fd >= 0) {
		struct lv_error *serr = NULL;
		uint64_t bytes = 0;

		r = rt_rootfs_stream(m->vm.ctl_fd, m->rootfs_fd, lv_now_ms() + m->ctx->config.boot_timeout_ms, &bytes,
				     &serr, err);
		close(m->rootfs_fd);
		m->rootfs_fd = -1;
		if (r < 0)
			return lv_err_wrap(err, "rootfs archive %s", a->vm_config.rootfs_archive);
		if (serr) {
			/* The guest went away or stopped reading: the loop learns
			 * why from the guest or from the VM's end. */
			rt_debug(&m->ctx->log, "container %s: sending the rootfs: %s", a->id, serr->msg);
			lv_error_free(&serr);
			goto sandbox;
		}
		rt_debug(&m->ctx->log, "container %s: the guest took the rootfs (%llu bytes) %llu us after launch", a->id,
			 (unsigned long long)bytes, (unsigned long long)((lv_now_ns() - m->t_launch) / 1000));
	}
	/* The page was built before the VM (and the rootfs stream): its clock
	 * reading is refreshed now, and its seed does not outlive the send. */
	rt_page_restamp(m->page, m->page_len);
	r = noxs_send(m->vm.ctl_fd, NOXS_MSG_PAGE, m->page, (uint32_t)m->page_len, err);
	noxs_page_wipe_seed(m->page, m->page_len);
	if (r < 0)
		return lv_err_wrap(err, "hand the device page to the guest");
sandbox:
	if (m->sandbox) {
		r = rt_sandbox_apply(&m->sp, err);
		if (r < 0)
			return lv_err_wrap(err, "sandbox the monitor");
	}
	return 0;
}

/* The tail of the VMM's log says why a VM died before its guest spoke. */
static void vmm_log_tail(struct monitor *m, char *buf, size_t size)
{
	cleanup_close int fd = openat(m->dirfd, "vmm.log", O_RDONLY | O_CLOEXEC);
	off_t end;
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0 || (end = lseek(fd, 0, SEEK_END)) <= 0)
		return;
	lseek(fd, end > (off_t)size - 1 ? end - (off_t)size + 1 : 0, SEEK_SET);
	n = read(fd, buf, size - 1);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *c = buf; *c; c++)
		if (*c == '\n')
			*c = ' ';
}

static void monitor_loop(struct monitor *m)
{
	uint64_t boot_deadline = lv_now_ms() + m->ctx->config.boot_timeout_ms;
	uint64_t exit_deadline = 0;

	while (true) {
		struct pollfd pfd[5 + NOXS_EXEC_MAX_SESSIONS];
		int n = 0, timeout = -1, i_sig, i_ctl, i_exit, i_listen, i_in = -1, i_exec;

		if (m->end_now)
			return;
		if (m->phase == MON_EXITED) {
			if (!exit_deadline)
				exit_deadline = lv_now_ms() + 5000; /* the guest powers off right after EXIT */
			if (lv_now_ms() >= exit_deadline)
				return;
			timeout = (int)(exit_deadline - lv_now_ms());
		} else if (m->phase == MON_BOOTING) {
			if (lv_now_ms() >= boot_deadline) {
				snprintf(m->errmsg, sizeof(m->errmsg), "the guest did not become ready within %u ms",
					 m->ctx->config.boot_timeout_ms);
				return;
			}
			timeout = (int)(boot_deadline - lv_now_ms());
		}
		pfd[i_sig = n++] = (struct pollfd){ .fd = m->sigfd, .events = POLLIN };
		pfd[i_ctl = n++] = (struct pollfd){ .fd = m->ctl_open ? m->vm.ctl_fd : -1, .events = POLLIN };
		pfd[i_exit = n++] = (struct pollfd){ .fd = m->vm.exit_fd, .events = POLLIN };
		pfd[i_listen = n++] = (struct pollfd){ .fd = m->listen_fd, .events = POLLIN };
		if (m->phase == MON_RUNNING && m->in_open)
			pfd[i_in = n++] = (struct pollfd){ .fd = m->in_fd, .events = POLLIN };
		rt_mon_exec_pollfds(&m->exec, pfd + (i_exec = n));
		n += NOXS_EXEC_MAX_SESSIONS;
		if (poll(pfd, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pfd[i_sig].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(m->sigfd, &si, sizeof(si)) == sizeof(si))
				handle_signal(m, (int)si.ssi_signo);
		}
		if (pfd[i_ctl].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (!read_guest(m)) {
				m->ctl_open = false;
				if (m->phase != MON_EXITED)
					return; /* channel gone without an exit status */
			}
		}
		if (pfd[i_listen].revents & POLLIN)
			handle_client(m);
		if (i_in >= 0 && (pfd[i_in].revents & (POLLIN | POLLHUP | POLLERR)))
			forward_stdin(m);
		rt_mon_exec_events(&m->exec, pfd + i_exec, m->vm.ctl_fd);
		if (pfd[i_exit].revents & POLLIN) {
			/* The VM ended; take what the guest still had queued. */
			while (m->phase != MON_EXITED && read_guest(m)) {
				struct pollfd c = { .fd = m->vm.ctl_fd, .events = POLLIN };
				if (poll(&c, 1, 0) <= 0)
					break;
			}
			return;
		}
	}
}

static int exit_code(const struct monitor *m)
{
	if (!m->have_exit)
		return 255;
	if (WIFEXITED(m->wstatus))
		return WEXITSTATUS(m->wstatus);
	if (WIFSIGNALED(m->wstatus))
		return 128 + WTERMSIG(m->wstatus);
	return 255;
}

int rt_monitor_main(const struct rt_monitor_args *a)
{
	struct monitor m = {
		.a = a, .ctx = a->ctx, .dirfd = -1, .sigfd = -1, .listen_fd = -1, .start_client = -1,
		.sync_fd = a->sync_fd, .timings_fd = -1, .rootfs_fd = -1, .in_fd = 0, .out_fd = 1, .err_fd = 2, .in_open = true, .out_ok = true, .ctl_open = true,
		.err_ok = true, .terminal = a->spec->process.terminal && a->console_fd >= 0,
	};
	struct lv_error *err = NULL;
	int code;

	m.vm.ctl_fd = m.vm.exit_fd = -1;
	m.vc = a->vm_config;
	m.page = a->page;
	m.page_len = a->page_len;
	m.net.tap_fd = m.net.janitor_fd = -1;
	if (chdir("/") < 0 || monitor_setup(&m, &err) < 0) {
		sync_report(&m, lv_err_errno(err) ? lv_err_errno(err) : EIO, err ? err->msg : "monitor setup failed");
		lv_error_free(&err);
		code = 1;
		goto out;
	}
	if (a->console_fd >= 0)
		close(a->console_fd);
	monitor_loop(&m);
	if (m.phase == MON_BOOTING || (m.sync_fd >= 0)) {
		char tail[512];
		if (!m.errmsg[0]) {
			vmm_log_tail(&m, tail, sizeof(tail));
			snprintf(m.errmsg, sizeof(m.errmsg), "the VM ended before its guest was ready%s%s",
				 tail[0] ? ": " : "", tail);
		}
		sync_report(&m, EIO, m.errmsg);
		code = 1;
		goto out;
	}
	if (m.start_client >= 0) {
		rt_ctl_reply(m.start_client, EIO, m.errmsg[0] ? m.errmsg : "the container ended before it started");
		close(m.start_client);
		m.start_client = -1;
	}
	if (!m.have_exit)
		rt_log(&m.ctx->log, RT_LOG_ERROR, "container %s: the VM ended without reporting the process's exit status",
		       a->id);
	code = exit_code(&m);
	/* As with runc, where execs die with the container's PID namespace. */
	rt_mon_exec_end_all(&m.exec, "the container's process exited: the exec'd process was killed", SIGKILL);
	m.st.exit_status = code;
	m.phase = MON_EXITED;
	if (m.vm_up) {
		a->ops->destroy(&m.vm);
		m.vm_up = false;
	}
	m.t_end = lv_now_ns();
	write_timings(&m);
	save_state(&m, RT_STATUS_STOPPED);
out:
	if (m.vm_up)
		a->ops->destroy(&m.vm);
	noxs_rx_free(&m.rx);
	if (m.page != a->page)
		free(m.page);
	rt_mon_exec_free(&m.exec);
	free(m.st.created);
	if (m.timings_fd >= 0)
		close(m.timings_fd);
	if (m.rootfs_fd >= 0)
		close(m.rootfs_fd);
	if (m.listen_fd >= 0)
		close(m.listen_fd);
	if (m.dirfd >= 0)
		close(m.dirfd);
	if (m.sigfd >= 0)
		close(m.sigfd);
	return code;
}
