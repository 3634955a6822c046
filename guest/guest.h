/* The lightvm guest init: PID 1 inside each container VM.
 *
 * It takes the noxs device page from the host over the control port, sets
 * the guest up as the page says, runs the container's process and relays
 * its stdio, signals and exit status until it exits, then powers the VM
 * off.  It knows nothing of OCI or of the host beyond the noxs protocol.
 *
 * All state hangs off one struct guest_ctx owned by main().
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/error.h"
#include "../noxs/chan.h"
#include "../noxs/page.h"

#define GUEST_MAX_PENDING_SIGNALS 64u
/* Stop taking frames off the control port while this much stdin is still
 * waiting for the process to read it: the host then sees back-pressure
 * instead of the guest buffering without bound or dropping input. */
#define GUEST_STDIN_HIGH_WATER (64u * 1024u)
/* Where a root file system sent over the control channel is unpacked. */
#define GUEST_NEW_ROOT "/.lightvm/root"

struct guest_ctx {
	bool debug;
	int console;            /* /dev/console for logs, -1 when not open */
	int ctl;                /* the control port, blocking */
	struct noxs_rx rx;
	bool rx_ready;          /* rx initialised */

	uint8_t *page_buf;      /* owns the bytes proc points into */
	struct noxs_proc proc;

	uint16_t rows, cols;    /* latest window size for the terminal */
	uint32_t pending_sig[GUEST_MAX_PENDING_SIGNALS];
	uint32_t pending_all[GUEST_MAX_PENDING_SIGNALS];
	size_t npending;

	/* The running process. */
	pid_t pid;
	int sigfd;              /* signalfd for SIGCHLD */
	int in_fd;              /* stdin pipe write end or pty master (dup) */
	int out_fd;             /* stdout pipe read end or pty master */
	int err_fd;             /* stderr pipe read end, -1 with a terminal */
	uint8_t *in_buf;        /* stdin bytes not yet taken by the process */
	size_t in_len, in_cap;
	bool in_eof_pending;    /* close in_fd once in_buf drains */
	bool exited;
	int status;             /* wait status of the process */
};

/* Debug log on the serial console, only with lightvm.debug on the kernel
 * command line. */
void guest_log(struct guest_ctx *g, const char *fmt, ...) LV_PRINTF(2, 3);
/* Always printed on the console: for failures the host cannot be told. */
void guest_console(struct guest_ctx *g, const char *fmt, ...) LV_PRINTF(2, 3);

/* Sends a frame; a failure means the host is gone. */
int guest_send(struct guest_ctx *g, uint16_t type, const void *payload, uint32_t len, struct lv_error **err);
/* Sends NOXS_MSG_ERROR with msg, then NOXS_MSG_EXIT with status. */
void guest_report_failure(struct guest_ctx *g, const char *msg, int status);
/* Kills every other process, reaps them, syncs and ends the VM. */
void guest_poweroff(struct guest_ctx *g) __attribute__((noreturn));
/* Queues a signal frame's contents (before the process runs) or delivers it. */
void guest_signal(struct guest_ctx *g, const uint8_t *payload, uint32_t len);
void guest_deliver_pending(struct guest_ctx *g);

/* setup.c */
int guest_mkdir_p(const char *path, mode_t mode, struct lv_error **err);
int guest_early_mounts(struct guest_ctx *g, struct lv_error **err);
void guest_fix_stdio(void);
bool guest_cmdline_has(const char *word);
int guest_find_ctl(struct guest_ctx *g, struct lv_error **err);
int guest_apply_page(struct guest_ctx *g, struct lv_error **err);

/* net.c: lo up, and the page's NICs, addresses and routes. */
int guest_apply_net(struct guest_ctx *g, struct lv_error **err);

/* devices.c: checks the page's devices and channels against the VM. */
int guest_check_devices(struct guest_ctx *g, bool rootfs_came, struct lv_error **err);
/* Makes newroot (a mount point) the root: moves /dev, /proc and /sys under
 * it, moves it onto / and chroots, as switch_root does (the initramfs
 * cannot be pivot_root'ed).  The control port stays open across. */
int guest_switch_root(struct guest_ctx *g, const char *newroot, struct lv_error **err);

/* spawn.c: starts the process; on success g->pid and the stdio fds are set
 * and STARTED was sent.  When the process could not be started, *status is
 * the wait status to report, *err says why and the return is negative. */
int guest_spawn(struct guest_ctx *g, int *status, struct lv_error **err);
/* As runc does before it reports "created": args[0] must resolve to an
 * executable, else the error (and *status, 127<<8 or 126<<8) fail create. */
int guest_check_exec(struct guest_ctx *g, int *status, struct lv_error **err);

/* relay.c: runs until the process exits (returns 0 with g->status set) or
 * the host goes away (returns negative). */
int guest_relay(struct guest_ctx *g, struct lv_error **err);
void guest_set_winsize(struct guest_ctx *g, int fd);

#endif
