/* The task service: one container (and its exec'd processes) per shim,
 * driven through the lightvm CLI as containerd's runc shim drives runc.
 * The shim is a child subreaper: lightvm's monitor (the container's pid)
 * and exec's host-side processes are reparented to it and reaped here. */
#ifndef SHIM_TASK_H
#define SHIM_TASK_H

#include <limits.h>
#include <sys/types.h>

#include "console.h"
#include "msg.h"

#define SHIM_PROCS_MAX 64

struct shim_proc {
	char *exec_id; /* "" for the container's own process */
	pid_t pid;
	enum shim_status status;
	bool exited;
	uint32_t exit_status;
	struct shim_time exited_at;
	char *stdin_path, *stdout_path, *stderr_path;
	bool terminal;
	int stdin_hold; /* a write end of the stdin fifo, kept until CloseIO */
	struct shim_console *console; /* terminal: the pty master's relay */
	/* Reaped, but its terminal still has output for the stdout fifo: the
	 * exit is recorded (and Wait answered) once that is written. */
	bool exit_pending;
	int pending_status;
	int64_t pending_since_ms;
};

struct shim_ctx {
	const char *ns, *address, *publish_bin, *id;
	char bundle[PATH_MAX];
	char lv_bin[PATH_MAX];	/* lightvm next to the shim, else "lightvm" on PATH */
	char lv_root[PATH_MAX]; /* lightvm --root */
	bool created, deleted, rootfs_mounted;
	bool shutdown; /* set by Shutdown: the server exits after replying */
	struct shim_proc procs[SHIM_PROCS_MAX];
	size_t nprocs;
	unsigned console_seq; /* names console sockets uniquely */
};

/* Fills the paths of ctx (lightvm binary and root); id, ns, address and
 * bundle must be set. */
int shim_ctx_init(struct shim_ctx *ctx, struct lv_error **err);
void shim_ctx_free(struct shim_ctx *ctx);

/* Runs one method except Wait; the response message goes to *resp. */
int shim_task_call(struct shim_ctx *ctx, enum shim_method m, const struct shim_req *req, struct pb_buf *resp,
		   struct lv_error **err);

/* The process a request names (id and exec_id), or NULL with *err set. */
struct shim_proc *shim_task_proc(struct shim_ctx *ctx, const char *id, const char *exec_id,
				 struct lv_error **err);

/* Reaps every exited child, recording and publishing the exits of ours. */
void shim_task_reap(struct shim_ctx *ctx);

/* Records the pending exits whose terminal output is all written out (or
 * that have waited long enough); true if some are still pending. */
bool shim_task_finish_exits(struct shim_ctx *ctx);

/* The `delete` subcommand: cleans up after a shim that is gone. */
int shim_task_cleanup(struct shim_ctx *ctx, struct lv_error **err);

/* runner.c: the lightvm CLI and the publish binary.  stdio entries < 0
 * become /dev/null; out, if not NULL, receives at most out_max bytes of
 * stdout (NUL-terminated).  A failed verb's error is the message lightvm
 * logged. */
int shim_lightvm(struct shim_ctx *ctx, const int stdio[3], char *out, size_t out_max, struct lv_error **err,
		 const char *verb, ...) __attribute__((sentinel));
void shim_publish(struct shim_ctx *ctx, const struct shim_event *ev);
void shim_log(const char *fmt, ...) LV_PRINTF(1, 2);
struct shim_time shim_now(void);

#endif
