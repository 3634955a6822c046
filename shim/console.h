/* Terminals (`terminal: true`, ctr -t): as containerd's runc shim does,
 * the shim listens on a console socket, gives its path to `lightvm create`
 * or `lightvm exec` (--console-socket), receives the pty master over it
 * (SCM_RIGHTS) and relays, in the server's poll loop, containerd's stdin
 * fifo to the master and the master to the stdout fifo.  Buffers are
 * bounded: a full one stops reading its source (back-pressure), so a
 * reader that stalls stalls the process, as a pipe would. */
#ifndef SHIM_CONSOLE_H
#define SHIM_CONSOLE_H

#include <poll.h>
#include <stdbool.h>

#include "../lib/error.h"

#define SHIM_CONSOLE_BUF 16384
#define SHIM_CONSOLE_PFDS 3 /* pollfds one console adds */

struct shim_console;

/* A listening socket under dir (its file named after the shim's pid and
 * seq).  *path is what lightvm connects to: dir/NAME, or, when that is
 * longer than sun_path allows, /proc/PID/fd/DIRFD/NAME. */
int shim_console_listen(const char *dir, unsigned seq, struct shim_console **out, struct lv_error **err);
const char *shim_console_path(const struct shim_console *c);

/* After lightvm returned: takes the master it sent (waiting at most a few
 * seconds), removes the socket file, and sets up the relay from in_path
 * (may be empty) to the master and from the master to out_path (a fifo,
 * file://PATH, or empty: output dropped). */
int shim_console_accept(struct shim_console *c, const char *in_path, const char *out_path, struct lv_error **err);

/* Closes everything and removes the socket file if still there. */
void shim_console_free(struct shim_console *c);

/* The relay: fills at most SHIM_CONSOLE_PFDS entries (returns how many),
 * then, after poll, moves what it can without blocking. */
int shim_console_pollfds(const struct shim_console *c, struct pollfd *pfd);
void shim_console_pump(struct shim_console *c);

/* True once the master has hung up (every slave closed: the process ended)
 * and what it said has been written out (or cannot be). */
bool shim_console_done(const struct shim_console *c);

/* TIOCSWINSZ on the master; lightvm passes it on to the guest's pty. */
int shim_console_resize(struct shim_console *c, unsigned width, unsigned height, struct lv_error **err);

#endif
