/* Snapshots of a booted VM, restored copy-on-write into new VMs: chaos's
 * "prepare ahead of time" for the kvm backend.
 *
 * KVM ties a VM's and its vCPUs' fds to the process that created them
 * (their ioctls fail with EIO from any other address space), so a
 * prepared VM cannot be handed to another process as it is.  What can be
 * handed over is a snapshot: guest RAM as a sealed memfd, and the rest
 * (vCPU registers, MSRs, LAPICs, the IOAPIC/PIC/PIT, the guest clock, the
 * console device's virtio state) as a second sealed memfd.  A restore maps
 * the RAM privately, so every VM restored from one snapshot shares the
 * pages it only reads and gets its own copy of a page when it writes it.
 *
 * Only a template-shaped VM can be snapshotted: the console on the first
 * window, no serial, block or net device (their host state is not carried).
 * Snapshot and restore are for the same host and KVM: the state blob is
 * KVM's own structures, checked for shape and bounds, then given to KVM,
 * which validates the architectural state itself.
 *
 * A restored guest resumes exactly where the template was paused, with the
 * template's kernel RNG state and wall clock: whoever restores must give
 * it fresh entropy and the time (the noxs page does). */
#ifndef VMM_SNAPSHOT_H
#define VMM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"
#include "vmm.h"

#define VMM_SNAP_MAGIC     0x4e53564cu /* "LVSN" */
#define VMM_SNAP_VERSION   1u
#define VMM_SNAP_MAX_MSRS  256u
/* A state blob is at most this big (64 vCPUs of ~10 KiB each and change). */
#define VMM_SNAP_MAX_STATE (1u << 20)

/* Pauses v, saves it, destroys it (*v becomes NULL, on failure too) and
 * returns two sealed memfds: the RAM and the state.  -EBUSY when the
 * console was mid-transfer (try again a little later with a new VM). */
int vmm_snapshot(struct vmm **v, int *mem_fd, int *state_fd, struct lv_error **err);

/* A VM from a snapshot, ready for vmm_start().  cfg as for vmm_create(),
 * except that kernel_path, initrd_path and cmdline are not used (the
 * guest is already booted), vcpus and mem_mib must be the snapshot's, and
 * debug_fd, blk_fd and tap_fd must be -1.  The fds stay the caller's. */
int vmm_restore(const struct vmm_config *cfg, int mem_fd, int state_fd, struct vmm **out, struct lv_error **err);

/* The size of a state blob for nvcpus, and a well-formed blob of an empty
 * machine (all registers zero; KVM would refuse to run it) in buf of that
 * size: for the tests and the fuzzer. */
size_t vmm_snapshot_state_size(unsigned int nvcpus);
void vmm_snapshot_skeleton(void *buf, unsigned int nvcpus, unsigned int mem_mib, const char *port);

/* Checks a state blob's shape and bounds (what vmm_restore() reads before
 * KVM sees anything); for the fuzzer and the tests. */
int vmm_snapshot_check(const void *buf, size_t len, struct lv_error **err);

#endif
