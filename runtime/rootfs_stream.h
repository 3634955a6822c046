/* Channel delivery of a container's root file system (noxs/README.md):
 * the uncompressed newc archive as ROOTFS frames, then ROOTFS_END, sent by
 * the monitor before the device page. */
#ifndef RT_ROOTFS_STREAM_H
#define RT_ROOTFS_STREAM_H

#include <stdint.h>

#include "../lib/error.h"

/* Streams archive_fd to ctl_fd until its end.  Blocking reads and writes
 * before the monitor's poll loop are safe: the guest reads concurrently and
 * sends nothing until the stream ends (unless it fails).  Two kinds of
 * failure, kept apart:
 *   - reading the archive (ours): returns a negative errno in *err;
 *   - the guest gone or no longer reading by deadline (CLOCK_MONOTONIC ms):
 *     returns 0 with the reason in *guest_err, for the caller to log; the
 *     guest's own ERROR/EXIT or the VM's end then says what happened.
 * *bytes: how much was sent. */
int rt_rootfs_stream(int ctl_fd, int archive_fd, uint64_t deadline, uint64_t *bytes, struct lv_error **guest_err,
		     struct lv_error **err);

#endif
