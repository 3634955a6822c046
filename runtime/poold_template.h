/* The kvm pools of lightvm-poold: one snapshotted template per pool.
 *
 * KVM fds cannot change process, so a kvm "shell" is not a VM but a
 * snapshot of one: a forked child of the daemon boots a template VM with
 * the shared shell initramfs, waits for the guest init's WAITING, snapshots
 * it (vmm/snapshot.h) and sends the two sealed memfds back over a
 * socketpair, then exits.  Every claim gets the same two fds; the claiming
 * monitor restores its own VM from them, copy-on-write.  A claim never
 * uses a template up, so a kvm pool is ready as soon as its template is. */
#ifndef RT_POOLD_TEMPLATE_H
#define RT_POOLD_TEMPLATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/error.h"
#include "config.h"
#include "pool_proto.h"

struct pd_template {
	int mem_fd, state_fd; /* the snapshot; -1 until it is made */
	pid_t pid;            /* the child making it, or 0 */
	int sock;             /* the daemon's end of the child's socketpair, or -1 */
};

void pd_template_init(struct pd_template *t);
static inline bool pd_template_ready(const struct pd_template *t)
{
	return t->mem_fd >= 0 && t->state_fd >= 0;
}
/* Forks the child that makes the template for key; the daemon watches
 * t->sock.  dir: a directory for the template VM's vmm.log; id: the
 * template's record id (the child's CLAIMED names it). */
int pd_template_start(const struct rt_config *cfg, const struct pool_key *key, const char *initrd,
		      const char *dir, uint64_t id, struct pd_template *t, struct lv_error **err);
/* t->sock is readable: takes the snapshot (0) or the child's error. */
int pd_template_collect(struct pd_template *t, struct lv_error **err);
/* Kills a child still at work, closes everything (claimed VMs keep their
 * own mappings of the snapshot). */
void pd_template_drop(struct pd_template *t);

#endif
