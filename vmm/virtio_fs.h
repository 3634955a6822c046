/* virtio-fs (virtio 1.x, 5.11) as a vhost-user-fs device: the VMM offers
 * the device (config space: tag[36], le32 num_request_queues = 1; queues:
 * hiprio and one request queue) and leaves the data path to a vhost-user
 * backend, virtiofsd, connected over a unix socket (vhost_user.h).
 *
 * When the driver sets DRIVER_OK the device sends the backend its features,
 * the guest's RAM (the memfd) and each ready ring with two eventfds:
 *   - kick: the VMM registers it as a KVM ioeventfd on QueueNotify with
 *     datamatch = the ring's index, so a guest kick goes to virtiofsd
 *     without leaving the kernel (a QueueNotify that reaches the MMIO path
 *     instead is written to the same eventfd);
 *   - call: virtiofsd writes it when it used buffers.  virtio-mmio needs
 *     InterruptStatus set before the guest's handler runs (Linux's
 *     vm_interrupt() returns IRQ_NONE otherwise), so it is not a KVM irqfd:
 *     the device thread reads it, sets the VRING bit, raises the device's
 *     interrupt.
 * A reset (Status 0) stops the rings with GET_VRING_BASE.  A backend that
 * fails or answers wrong at activation marks the device broken (the guest
 * sees DEVICE_NEEDS_RESET); the handshake (features, protocol features,
 * owner) happens at creation, before the monitor's sandbox.  What the
 * backend does with guest RAM is its business: it is another process,
 * sandboxed by itself, and the VMM never reads the rings it serves. */
#ifndef VMM_VIRTIO_FS_H
#define VMM_VIRTIO_FS_H

#include <stdint.h>

#include "../lib/error.h"
#include "loop.h"
#include "memory.h"
#include "virtio_mmio.h"

#define VMM_FS_TAG_MAX     36U   /* bytes, NUL-padded, not necessarily terminated */
#define VMM_FS_NUM_QUEUES  2U    /* hiprio + 1 request queue */
#define VMM_FS_QUEUE_SIZE  128U

struct vmm_fs;

/* sock_fd: connected to the backend; the device keeps its own duplicate.
 * tag: 1..36 bytes, the name the guest mounts.  loop: where the call
 * eventfds are served (the device thread).  Runs the vhost-user handshake
 * (blocking, each reply within timeout_ms, 0: the default). */
int vmm_fs_create(const struct vmm_memory *mem, uint64_t base, unsigned int irq, struct vmm_loop *loop,
		  int sock_fd, const char *tag, int timeout_ms, struct vmm_fs **out, struct lv_error **err);
struct vmm_virtio_mmio *vmm_fs_mmio(struct vmm_fs *fs);
/* The kick eventfd of queue q (< VMM_FS_NUM_QUEUES), for KVM_IOEVENTFD. */
int vmm_fs_kick_fd(const struct vmm_fs *fs, unsigned int q);
/* NULL-safe, sets *fs to NULL.  Call from the loop's thread or once the
 * loop has stopped: it removes the call eventfds from the loop.  Closing
 * the socket ends the backend's session (virtiofsd exits). */
void vmm_fs_destroy(struct vmm_fs **fs);

#endif
