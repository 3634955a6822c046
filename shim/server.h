/* The shim's ttrpc server: one poll loop over the listening socket, the
 * connections and a signalfd (SIGCHLD for reaping, SIGTERM/SIGINT to stop).
 * Wait requests are parked until their process exits. */
#ifndef SHIM_SERVER_H
#define SHIM_SERVER_H

#include "task.h"

/* Serves on listen_fd until Shutdown or SIGTERM; 0, or a negative errno. */
int shim_serve(struct shim_ctx *ctx, int listen_fd, struct lv_error **err);

#endif
