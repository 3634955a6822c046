/* Shared directories for both backends (virtiofsd.c): one virtiofsd per
 * directory bind mount, connected to the VMM's vhost-user-fs device (QEMU's
 * vhost-user-fs-device, or vmm/virtio_fs.c in this process). */
#ifndef RT_VIRTIOFSD_H
#define RT_VIRTIOFSD_H

#include <stdbool.h>
#include <sys/types.h>

#include "hv.h"

struct rt_virtiofsd {
	pid_t pid;      /* the virtiofsd, our child; 0: none */
	int conn_fd;    /* the VMM's end (QEMU's chardev fd=, or the kvm backend's
			 * vhost-user socket), connected; -1 once handed over */
};

/* Starts a virtiofsd for each of vc's shares (fs has vc->nshares slots),
 * logging to logfd.  On failure nothing is left running. */
int rt_virtiofsd_start(const char *virtiofsd, const struct hv_vm_config *vc, int logfd, struct rt_virtiofsd *fs,
		       struct lv_error **err);

/* Kills and reaps the daemons, closes what is still open (before the
 * monitor confines itself: its sandbox lets it signal the VMM only). */
void rt_virtiofsd_stop(struct rt_virtiofsd *fs, size_t n);

/* Once the VMM is gone (QEMU exited, or the in-process VMM closed its
 * ends): closes conn_fd; each virtiofsd ends when its vhost-user peer
 * does; reaps them, waiting up to 2 s, without signals (the kvm backend's
 * sandbox allows wait4, not kill).  One that stays is killed with the
 * monitor (PR_SET_PDEATHSIG). */
void rt_virtiofsd_reap(struct rt_virtiofsd *fs, size_t n);

#endif
