/* Between exec.c (set-up) and exec_relay.c (the host-side process's loop). */
#ifndef RT_EXEC_INTERNAL_H
#define RT_EXEC_INTERNAL_H

#include <signal.h>
#include <stdbool.h>

#include "container.h"

struct rt_exec_relay {
	struct rt_context *ctx;
	int sock;              /* the exec session with the monitor, past STARTED */
	int in_fd, out_fd, err_fd;
	bool terminal;         /* the process has a pty in the guest */
	bool ctty;             /* in_fd is our console pty's slave: make it our controlling terminal */
};

/* Relays until the process's EXIT; returns the exit code (the process's
 * status, 128+N for signal N, 255 when the monitor went away).  fwd: the
 * signals to forward, already blocked. */
int rt_exec_relay(struct rt_exec_relay *rl, const sigset_t *fwd);

#endif
