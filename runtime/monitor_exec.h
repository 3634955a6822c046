/* The monitor's side of exec sessions (lightvm exec).
 *
 * A `lightvm exec` process connects to the control socket, asks "exec" and,
 * once answered "ok", keeps the connection: from then on each SEQPACKET
 * message is one noxs frame (chan.h's header) of an exec type, without the
 * session id: EXEC (the process's page), EXEC_STDIN, EXEC_STDIN_EOF,
 * EXEC_SIGNAL, EXEC_WINSIZE from the client; EXEC_STARTED, EXEC_STDOUT,
 * EXEC_STDERR, EXEC_ERROR, EXEC_EXIT to it.  The monitor gives the session
 * an id, prefixes it on the way to the guest and strips it on the way back.
 *
 * Stdio bytes travel over this connection rather than as fds passed to the
 * monitor: the exec process does the writes to its own stdio (a pipe or a
 * terminal that may block or go away), so the monitor never holds an
 * engine's fd, and its sandbox needs no new system call.  The cost is one
 * more copy per chunk.
 *
 * The guest is hostile: every frame it sends is bounded by noxs_exec_split()
 * and frames for unknown sessions are dropped.  A client that goes away
 * takes its process with it (SIGKILL in the guest), as the engine could not
 * wait on it any more.  When the container ends, every session gets an
 * EXEC_ERROR and an EXEC_EXIT of "killed by SIGKILL". */
#ifndef RT_MONITOR_EXEC_H
#define RT_MONITOR_EXEC_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "../noxs/chan.h"
#include "log.h"

struct rt_exec_session {
	int fd;          /* the client, -1 once gone (the slot waits for the guest's EXIT) */
	uint32_t id;     /* 0: free slot */
	bool page_sent;
};

struct rt_mon_exec {
	const struct rt_log *log;
	const char *cid;      /* container id, for messages */
	uint32_t next_id;
	struct rt_exec_session s[NOXS_EXEC_MAX_SESSIONS];
	uint8_t *buf;         /* one client message, with room for the id in front */
};

int rt_mon_exec_init(struct rt_mon_exec *x, const struct rt_log *log, const char *cid, struct lv_error **err);
void rt_mon_exec_free(struct rt_mon_exec *x);
/* An "exec" request on connection cfd: answers "ok" and keeps it as a
 * session, or answers the error and closes it. */
void rt_mon_exec_accept(struct rt_mon_exec *x, int cfd);
/* Fills pfd[0 .. NOXS_EXEC_MAX_SESSIONS) with the clients (fd -1 for none). */
void rt_mon_exec_pollfds(const struct rt_mon_exec *x, struct pollfd *pfd);
/* Serves the clients poll found ready, forwarding to the guest on ctl_fd. */
void rt_mon_exec_events(struct rt_mon_exec *x, const struct pollfd *pfd, int ctl_fd);
/* A guest frame of an exec type (noxs_is_exec_msg()). */
void rt_mon_exec_guest_frame(struct rt_mon_exec *x, uint16_t type, const uint8_t *p, uint32_t len);
/* Ends every session: EXEC_ERROR why, EXEC_EXIT wstatus, close. */
void rt_mon_exec_end_all(struct rt_mon_exec *x, const char *why, int wstatus);

#endif
