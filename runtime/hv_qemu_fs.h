/* The QEMU backend's shared directories (hv_qemu_fs.c): one virtiofsd per
 * directory bind mount, connected to QEMU's vhost-user-fs device. */
#ifndef RT_HV_QEMU_FS_H
#define RT_HV_QEMU_FS_H

#include <stdbool.h>
#include <sys/types.h>

#include "hv.h"

struct qemu_fs {
	pid_t pid;      /* the virtiofsd, our child; 0: none */
	int qemu_fd;    /* QEMU's end (its chardev's fd=), connected; -1 once handed over */
};

/* Starts a virtiofsd for each of vc's shares (fs has vc->nshares slots),
 * logging to logfd.  On failure nothing is left running. */
int qemu_fs_start(const char *virtiofsd, const struct hv_vm_config *vc, int logfd, struct qemu_fs *fs,
		  struct lv_error **err);

/* Kills and reaps the daemons, closes what is still open (before the
 * monitor confines itself: its sandbox lets it signal the VMM only). */
void qemu_fs_stop(struct qemu_fs *fs, size_t n);

/* Once QEMU is gone: each virtiofsd ends when its vhost-user peer does;
 * reaps them, waiting up to 2 s, without signals.  One that stays is
 * killed with the monitor (PR_SET_PDEATHSIG). */
void qemu_fs_reap(struct qemu_fs *fs, size_t n);

#endif
