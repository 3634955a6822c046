/* The main sequence of the guest init: mount the basics, find the control
 * port, take and apply the page, say READY, wait for START, run the process,
 * relay until it exits, report EXIT and power off.  Every way out ends the
 * VM: PID 1 never returns. */
#include "guest.h"
#include "unpack.h"

#include <time.h>

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void vlog(struct guest_ctx *g, const char *fmt, va_list ap)
{
	char buf[512];
	struct timespec ts;
	int n;

	if (g->console < 0)
		return;
	/* Monotonic time is the guest's uptime: the lines sort in with the
	 * kernel's own timestamps when it prints them. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(buf, sizeof(buf), "[%5ld.%06ld] lightvm-init: ", (long)ts.tv_sec, ts.tv_nsec / 1000);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 2, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\r';
	buf[n++] = '\n';
	if (write(g->console, buf, (size_t)n) < 0)
		return;
}

void guest_log(struct guest_ctx *g, const char *fmt, ...)
{
	va_list ap;

	if (!g->debug)
		return;
	va_start(ap, fmt);
	vlog(g, fmt, ap);
	va_end(ap);
}

void guest_console(struct guest_ctx *g, const char *fmt, ...)
{
	va_list ap;

	if (g->console < 0)
		g->console = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	va_start(ap, fmt);
	vlog(g, fmt, ap);
	va_end(ap);
}

int guest_send(struct guest_ctx *g, uint16_t type, const void *payload, uint32_t len, struct lv_error **err)
{
	if (g->ctl < 0)
		return lv_err_msg(err, EPIPE, "no control port");
	return noxs_send(g->ctl, type, payload, len, err);
}

void guest_report_failure(struct guest_ctx *g, const char *msg, int status)
{
	struct lv_error *err = NULL;
	uint8_t st[4];

	guest_console(g, "error: %s", msg);
	noxs_put_u32(st, (uint32_t)status);
	if (guest_send(g, NOXS_MSG_ERROR, msg, (uint32_t)strlen(msg), &err) < 0 ||
	    guest_send(g, NOXS_MSG_EXIT, st, sizeof(st), &err) < 0)
		guest_console(g, "cannot tell the host: %s", err->msg);
	lv_error_free(&err);
}

void guest_poweroff(struct guest_ctx *g)
{
	int st;

	guest_log(g, "powering off");
	if (getpid() != 1)
		_exit(0); /* run by hand for a test: never kill(-1) outside a VM */
	for (;;) {
		kill(-1, SIGKILL);
		if (waitpid(-1, &st, 0) < 0 && errno == ECHILD)
			break;
	}
	sync();
	reboot(RB_AUTOBOOT); /* QEMU runs with -no-reboot: this ends the VM */
	for (;;)
		pause();
}

void guest_signal(struct guest_ctx *g, const uint8_t *payload, uint32_t len)
{
	uint32_t signo, flags;

	if (len < 8) {
		guest_log(g, "short SIGNAL frame (%u bytes)", len);
		return;
	}
	signo = noxs_get_u32(payload);
	flags = noxs_get_u32(payload + 4);
	if (signo < 1 || signo > 64) {
		guest_log(g, "ignoring signal %u", signo);
		return;
	}
	if (g->pid <= 0) {
		if (g->npending == GUEST_MAX_PENDING_SIGNALS) {
			guest_log(g, "too many signals before START, dropping %u", signo);
			return;
		}
		g->pending_sig[g->npending] = signo;
		g->pending_all[g->npending++] = flags & NOXS_SIGNAL_ALL;
		return;
	}
	guest_log(g, "signal %u to %s", signo, flags & NOXS_SIGNAL_ALL ? "all" : "the process");
	if (kill(flags & NOXS_SIGNAL_ALL ? -1 : g->pid, (int)signo) < 0)
		guest_log(g, "kill: %s", strerror(errno));
}

void guest_deliver_pending(struct guest_ctx *g)
{
	uint8_t frame[8];

	for (size_t i = 0; i < g->npending; i++) {
		noxs_put_u32(frame, g->pending_sig[i]);
		noxs_put_u32(frame + 4, g->pending_all[i]);
		guest_signal(g, frame, sizeof(frame));
	}
	g->npending = 0;
}

/* Blocks until the next whole frame. */
static int next_frame(struct guest_ctx *g, uint16_t *type, const uint8_t **payload, uint32_t *len,
		      struct lv_error **err)
{
	for (;;) {
		int r = noxs_rx_next(&g->rx, type, payload, len, err);
		if (r != 0)
			return r;
		r = noxs_rx_fill(&g->rx, g->ctl, err);
		if (r == 0)
			return lv_err_msg(err, EPIPE, "control port closed by the host");
		if (r == -EINTR)
			lv_error_free(err);
		else if (r < 0)
			return r;
	}
}

/* Frames that may come at any time before START. */
static void early_frame(struct guest_ctx *g, uint16_t type, const uint8_t *payload, uint32_t len)
{
	switch (type) {
	case NOXS_MSG_SIGNAL:
		guest_signal(g, payload, len);
		break;
	case NOXS_MSG_WINSIZE:
		if (len >= 4) {
			g->rows = noxs_get_u16(payload);
			g->cols = noxs_get_u16(payload + 2);
		}
		break;
	case NOXS_MSG_STDIN_EOF:
		/* Kept, so that an empty stdin still reaches EOF. */
		g->in.eof_pending = true;
		break;
	default:
		if (noxs_is_exec_msg(type)) /* refused: the container has not started */
			guest_exec_frame(g, type, payload, len);
		else
			guest_log(g, "ignoring frame type %#x before START", type);
		break;
	}
}

static int unpack_stream(struct guest_ctx *g, struct guest_unpack *u, const uint8_t *payload, uint32_t len,
			 struct lv_error **err)
{
	uint16_t type;
	int r = guest_unpack_feed(u, payload, len, err);

	while (r >= 0) {
		r = next_frame(g, &type, &payload, &len, err);
		if (r < 0)
			return r;
		if (type == NOXS_MSG_ROOTFS)
			r = guest_unpack_feed(u, payload, len, err);
		else if (type == NOXS_MSG_ROOTFS_END)
			return guest_unpack_finish(u, err);
		else if (type == NOXS_MSG_PAGE)
			return lv_err_msg(err, EPROTO, "noxs channel: PAGE before ROOTFS_END");
		else
			early_frame(g, type, payload, len);
	}
	return r;
}

/* Channel delivery: the VM booted from the shared shell initramfs and its
 * root file system follows as ROOTFS frames (a newc cpio) up to ROOTFS_END.
 * Unpacked into a fresh tmpfs, which then becomes the root. */
static int receive_rootfs(struct guest_ctx *g, const uint8_t *payload, uint32_t len, struct lv_error **err)
{
	struct guest_unpack u;
	struct timespec t0, t1;
	int rootfd, r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = guest_mkdir_p(GUEST_NEW_ROOT, 0755, err);
	if (r < 0)
		return r;
	if (mount("tmpfs", GUEST_NEW_ROOT, "tmpfs", 0, "mode=0755") < 0)
		return lv_err(err, errno, "mount tmpfs on %s", GUEST_NEW_ROOT);
	rootfd = open(GUEST_NEW_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return lv_err(err, errno, "open %s", GUEST_NEW_ROOT);
	guest_unpack_init(&u, rootfd, true, true);
	r = unpack_stream(g, &u, payload, len, err);
	guest_unpack_release(&u);
	close(rootfd);
	if (r < 0)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	guest_log(g, "rootfs: %llu entries, %llu bytes in %ld us", (unsigned long long)u.entries,
		  (unsigned long long)u.bytes,
		  (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
	return guest_switch_root(g, GUEST_NEW_ROOT, err);
}

static int receive_page(struct guest_ctx *g, struct lv_error **err)
{
	uint16_t type;
	const uint8_t *payload;
	uint32_t len;
	bool have_root = false;
	int r;

	for (;;) {
		r = next_frame(g, &type, &payload, &len, err);
		if (r < 0)
			return r;
		if (type == NOXS_MSG_PAGE)
			break;
		if (type == NOXS_MSG_ROOTFS && !have_root) {
			r = receive_rootfs(g, payload, len, err);
			if (r < 0)
				return r;
			have_root = true;
			continue;
		}
		early_frame(g, type, payload, len);
	}
	g->page_buf = malloc(len ? len : 1);
	if (!g->page_buf)
		return lv_err(err, ENOMEM, "page of %u bytes", len);
	memcpy(g->page_buf, payload, len);
	explicit_bzero((uint8_t *)payload, len); /* dead, and it holds the RNG seed */
	r = noxs_page_decode(g->page_buf, len, &g->proc, err);
	if (r < 0)
		return r; /* the message already says "noxs page: ..." */
	noxs_page_wipe_seed(g->page_buf, len); /* g->proc has it until guest_apply_page() */
	r = guest_check_devices(g, have_root, err);
	if (r < 0)
		return r;
	g->rows = g->proc.rows;
	g->cols = g->proc.cols;
	guest_log(g, "page: %u bytes, %u args, %u mounts, %u files", len, g->proc.nargs, g->proc.nmounts,
		  g->proc.nfiles);
	return 0;
}

static int wait_start(struct guest_ctx *g, struct lv_error **err)
{
	uint16_t type;
	const uint8_t *payload;
	uint32_t len;

	for (;;) {
		int r = next_frame(g, &type, &payload, &len, err);
		if (r < 0)
			return r;
		if (type == NOXS_MSG_START)
			return 0;
		early_frame(g, type, payload, len);
	}
}

static int setup_signals(struct guest_ctx *g, struct lv_error **err)
{
	sigset_t set;

	/* A write to a pipe whose reader died must be an EPIPE, not a
	 * signal; the child restores every default before exec. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return lv_err(err, errno, "block SIGCHLD");
	g->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (g->sigfd < 0)
		return lv_err(err, errno, "signalfd");
	return 0;
}

int main(void)
{
	struct guest_ctx g = {
		.console = -1, .ctl = -1, .sigfd = -1, .in = { .fd = -1 }, .out_fd = -1, .err_fd = -1,
	};
	struct lv_error *err = NULL;
	int status = 1 << 8;

	if (guest_early_mounts(&g, &err) < 0 || setup_signals(&g, &err) < 0 || guest_find_ctl(&g, &err) < 0) {
		guest_console(&g, "error: %s", err->msg);
		guest_poweroff(&g);
	}
	if (noxs_rx_init(&g.rx, &err) < 0) {
		guest_report_failure(&g, err->msg, status);
		guest_poweroff(&g);
	}
	/* The first frame: a pool daemon takes a shell as booted when it sees
	 * it (and snapshots a kvm template then); a monitor notes the time. */
	if (guest_send(&g, NOXS_MSG_WAITING, NULL, 0, &err) < 0) {
		guest_console(&g, "error: %s", err->msg);
		guest_poweroff(&g);
	}
	if (receive_page(&g, &err) < 0 || guest_apply_page(&g, &err) < 0 || guest_check_exec(&g, &status, &err) < 0) {
		if (lv_err_errno(err) == EPIPE)
			guest_console(&g, "error: %s", err->msg);
		else
			guest_report_failure(&g, err->msg, status);
		guest_poweroff(&g);
	}
	if (guest_send(&g, NOXS_MSG_READY, NULL, 0, &err) < 0 || wait_start(&g, &err) < 0) {
		guest_console(&g, "error: %s", err->msg);
		guest_poweroff(&g);
	}
	guest_log(&g, "START");
	if (guest_spawn(&g, &status, &err) < 0) {
		guest_report_failure(&g, err->msg, status);
		guest_poweroff(&g);
	}
	if (guest_relay(&g, &err) < 0)
		guest_console(&g, "error: %s", err->msg);
	guest_poweroff(&g);
}
