/* The monitor's control socket: ROOT/ID/ctl.sock, SOCK_SEQPACKET, mode
 * 0600 in a 0700 directory.  One request per connection, one reply:
 *   "start" | "kill SIGNO ALL(0|1)" | "pause" | "resume" | "exec"
 *   reply "ok" or "err ERRNO MESSAGE".
 * After "exec" and "ok" the connection is an exec session and carries noxs
 * frames, one per SEQPACKET message (runtime/monitor_exec.h).
 * Paths are reached through /proc/self/fd/DIRFD so a long --root never
 * overflows sun_path. */
#ifndef RT_CTL_H
#define RT_CTL_H

#include "../lib/error.h"

#define RT_CTL_SOCK "ctl.sock"
#define RT_CTL_MSG_MAX 1024

/* Sends one request to the container's monitor and waits for the reply. */
int rt_ctl_request(int dirfd, const char *request, struct lv_error **err);

/* The same, keeping the connection open after "ok": *conn (when not NULL)
 * gets it. */
int rt_ctl_open(int dirfd, const char *request, int *conn, struct lv_error **err);

/* Monitor side: a listening socket in the directory dirfd. */
int rt_ctl_listen(int dirfd, struct lv_error **err);

/* Formats and sends a reply on a client connection (errors ignored: the
 * client may have gone). */
void rt_ctl_reply(int fd, int errnum, const char *msg);

#endif
