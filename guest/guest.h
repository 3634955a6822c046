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
#include <poll.h>
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

/* Bytes for a process's stdin (pipe write end or pty master) that it has not
 * read yet. */
struct guest_inq {
	int fd;                 /* -1 once closed */
	uint8_t *buf;
	size_t len, cap;
	bool eof_pending;       /* close fd once buf drains */
};

/* Where a spawned process's stdio ends up on the init's side. */
struct guest_stdio {
	int in_fd;              /* stdin pipe write end or pty master (dup) */
	int out_fd;             /* stdout pipe read end or pty master */
	int err_fd;             /* stderr pipe read end, -1 with a terminal */
};

struct guest_exec;              /* exec.c: one exec session */

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
	struct guest_inq in;    /* its stdin */
	int out_fd;             /* stdout pipe read end or pty master */
	int err_fd;             /* stderr pipe read end, -1 with a terminal */
	bool exited;
	int status;             /* wait status of the process */

	/* Exec sessions (lightvm exec), by slot; NULL when free. */
	struct guest_exec *exec[NOXS_EXEC_MAX_SESSIONS];
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

/* spawn.c: starts proc with its own stdio (pipes, or a pty of rows x cols);
 * on success *pid and *io are set (parent ends, non-blocking).  When the
 * process could not be started, *status is the wait status to report, *err
 * says why and the return is negative. */
int guest_spawn_proc(struct guest_ctx *g, const struct noxs_proc *proc, uint16_t rows, uint16_t cols, pid_t *pid,
		     struct guest_stdio *io, int *status, struct lv_error **err);
/* The container's process: on success g->pid and the stdio fds are set
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
void guest_winsize(struct guest_ctx *g, int fd, uint16_t rows, uint16_t cols);
/* The stdin queue: flush writes what the process takes now (closing at a
 * pending EOF once drained); queue appends, up to GUEST_STDIN_HIGH_WATER
 * beyond which the caller stops taking frames. */
void guest_inq_flush(struct guest_ctx *g, struct guest_inq *q);
void guest_inq_queue(struct guest_ctx *g, struct guest_inq *q, const uint8_t *data, uint32_t len);
void guest_inq_close(struct guest_inq *q);
/* Reads what fd has now and sends it as frames of type (with the session id
 * first when id_prefix); closes fd at EOF.  Returns 1 when data was sent. */
int guest_forward_output(struct guest_ctx *g, int *fd, uint16_t type, const uint32_t *id_prefix,
			 struct lv_error **err);

/* exec.c: exec sessions, run while the container's process runs. */
/* A host frame of an exec session (noxs_is_exec_msg(type)). */
void guest_exec_frame(struct guest_ctx *g, uint16_t type, const uint8_t *payload, uint32_t len);
/* Fills pfd[0 .. 3 * NOXS_EXEC_MAX_SESSIONS) (fd -1 for nothing). */
#define GUEST_EXEC_POLLFDS (3u * NOXS_EXEC_MAX_SESSIONS)
void guest_exec_pollfds(struct guest_ctx *g, struct pollfd *pfd);
int guest_exec_events(struct guest_ctx *g, const struct pollfd *pfd, struct lv_error **err);
/* A child was reaped: true when it was an exec session's process. */
bool guest_exec_reaped(struct guest_ctx *g, pid_t pid, int status);
/* Sends EXEC_EXIT for every session whose process exited (after what is
 * left of its output) and frees it. */
int guest_exec_finish(struct guest_ctx *g, struct lv_error **err);
/* Whether every session's stdin queue has room for more frames. */
bool guest_exec_stdin_room(const struct guest_ctx *g);
void guest_exec_free_all(struct guest_ctx *g);

#endif
