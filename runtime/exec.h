/* lightvm exec: a process in a running container's guest.
 *
 * The process is built as runc's exec builds it: from --process FILE (a
 * runtime-spec process object), or from the container's own
 * config.json process with the given args, then the overrides (env added,
 * replacing a variable of the same name; cwd; user; additional gids;
 * capabilities added to the bounding, effective and permitted sets;
 * noNewPrivileges; terminal).  It is sent to the container's monitor as an
 * exec session (runtime/monitor_exec.h), which runs it in the guest.
 *
 * The process that holds the session is the exec's host-side pid: it relays
 * stdio (or a pty whose master went to --console-socket), forwards every
 * signal it gets to the process in the guest, and its exit code is the
 * process's status (128+N for signal N; 255 when the monitor went away).
 * Without detach that is the caller; with detach a child that outlives the
 * call, whose pid goes to the pid file. */
#ifndef RT_EXEC_H
#define RT_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "container.h"

struct rt_exec_opts {
	const char *id;
	const char *process_file; /* --process, or NULL: args from the command line */
	char **args;              /* NULL-terminated; used without process_file */
	size_t nargs;
	bool tty;                 /* -t (with process_file: the file's terminal otherwise) */
	const char *console_socket;
	const char *pid_file;
	bool detach;
	char **env;               /* K=V, added */
	size_t nenv;
	const char *cwd;          /* NULL: the process's own */
	bool has_user;
	uint32_t uid, gid;
	bool has_gid;             /* --user UID:GID */
	uint32_t *gids;           /* --additional-gids, added */
	size_t ngids;
	bool no_new_privs;
	char **caps;              /* CAP_* names, added */
	size_t ncaps;
};

/* Runs the exec.  Returns 0 with *exit_code set: the process's status when
 * this call waited for it, 0 when detached; a negative errno with *err when
 * the process could not be started. */
int rt_container_exec(struct rt_context *ctx, const struct rt_exec_opts *o, int *exit_code, struct lv_error **err);

#endif
