/* A --console-socket (runc's protocol): the runtime connects to the
 * caller's unix socket and sends it the pty master with SCM_RIGHTS, the
 * pty's name as the message.  Shared by create (the container's terminal)
 * and exec. */
#ifndef RT_CONSOLE_H
#define RT_CONSOLE_H

#include "../lib/error.h"

/* A socket connected to path; errors name --console-socket. */
int rt_console_connect(const char *path, struct lv_error **err);

/* Sends master over sock, with name (the pty's path) as the payload. */
int rt_console_send(int sock, int master, const char *name, struct lv_error **err);

#endif
