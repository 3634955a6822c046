/* The virtio-mmio transport (virtio 1.x, 4.2; version 2 registers only),
 * separate from the devices behind it.  A device is an ops table plus its
 * opaque state; the transport owns the register window, feature negotiation,
 * the status machine, the queues' configuration, the interrupt status and
 * the "broken" state.
 *
 * Threads: register accesses come from vCPU threads, queue work from the
 * device thread.  Both hold mmio->lock; device callbacks are always called
 * with it held, and must not call back into the transport's register path.
 *
 * Interrupts go out through irq_fd, an eventfd that the VMM registers as a
 * KVM irqfd for the device's GSI (a test reads it instead).  Queue
 * notifications come in either as a QueueNotify write on the MMIO path or,
 * when the VMM registered notify_fd as an ioeventfd on base + 0x50, as that
 * eventfd becoming readable on the device thread: call
 * vmm_virtio_mmio_notify_all() then.
 *
 * What the driver gets wrong, and what it gets back:
 *   - FEATURES_OK without VERSION_1, or with bits not offered: the bit is
 *     left clear (the driver reads Status back and gives up);
 *   - DriverFeatures after FEATURES_OK, queue registers of a ready or
 *     nonexistent queue, clearing Status bits other than by writing 0,
 *     wrong widths, unknown, legacy or write-only registers: ignored,
 *     counted in bad_accesses;
 *   - QueueReady=1 with a size over QueueNumMax or a layout vmm_vq_activate()
 *     refuses, QueueReady=0 while live (no VIRTIO_F_RING_RESET), DRIVER_OK
 *     without FEATURES_OK, a failing activate or notify: broken.
 * Kicks before DRIVER_OK are dropped: devices look at their queues when
 * activated. */
#ifndef VMM_VIRTIO_MMIO_H
#define VMM_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../lib/error.h"
#include "memory.h"
#include "virtqueue.h"

#define VMM_VIRTIO_MMIO_SIZE        0x200ULL /* registers 0x000..0x0ff, config 0x100.. */
#define VMM_VIRTIO_MMIO_CONFIG      0x100U
#define VMM_VIRTIO_MMIO_NOTIFY      0x050U
#define VMM_VIRTIO_MAX_QUEUES       8
#define VMM_VIRTIO_MAX_CONFIG       (VMM_VIRTIO_MMIO_SIZE - VMM_VIRTIO_MMIO_CONFIG)

/* InterruptStatus bits */
#define VMM_VIRTIO_INT_VRING  1U
#define VMM_VIRTIO_INT_CONFIG 2U

struct vmm_virtio_dev_ops {
	const char *name;         /* for messages: "console", "blk", "net" */
	uint32_t device_id;       /* VIRTIO_ID_* */
	uint64_t features;        /* device feature bits; the transport adds VIRTIO_F_VERSION_1 */
	unsigned int num_queues;  /* <= VMM_VIRTIO_MAX_QUEUES */
	uint16_t queue_max;       /* <= VMM_VQ_MAX_SIZE, power of two */
	uint32_t config_size;     /* <= VMM_VIRTIO_MAX_CONFIG */
	/* Config space access, off + len <= config_size already checked; len is
	 * 1, 2, 4 (or 8 split in two).  config_write may be NULL (writes ignored). */
	void (*config_read)(void *dev, uint32_t off, uint8_t *data, uint32_t len);
	void (*config_write)(void *dev, uint32_t off, const uint8_t *data, uint32_t len);
	/* The driver set DRIVER_OK: its queues are configured (vq->ready tells
	 * which) and driver_features are final.  An error marks the device broken. */
	int (*activate)(void *dev, struct lv_error **err);
	/* The driver wrote 0 to Status (or the transport reset after breaking):
	 * drop in-flight work; queues are reset by the transport afterwards. */
	void (*reset)(void *dev);
	/* Queue q has new buffers.  An error marks the device broken. */
	int (*notify)(void *dev, unsigned int q, struct lv_error **err);
};

struct vmm_virtio_mmio {
	pthread_mutex_t lock;
	const struct vmm_virtio_dev_ops *ops;
	void *dev;
	const struct vmm_memory *mem;
	uint64_t base;            /* guest-physical start of the window */
	unsigned int irq;         /* GSI */
	int irq_fd;               /* eventfd: written to raise the interrupt */
	int notify_fd;            /* eventfd: the ioeventfd on QueueNotify, or -1 */

	uint32_t status;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint64_t driver_features;
	uint32_t interrupt_status;
	uint32_t config_generation;
	bool broken;              /* the guest broke the rules: DEVICE_NEEDS_RESET */
	char broken_msg[160];     /* why (the first time since the last reset); kept
				   * after the reset, for the VMM's log */
	unsigned long bad_accesses; /* ignored register accesses (wrong width, unknown offset, ...) */
	struct vmm_vq vqs[VMM_VIRTIO_MAX_QUEUES];
};

/* Sets up the transport for a device; creates irq_fd (and notify_fd when
 * want_ioeventfd), both nonblocking.  Registering them with KVM is the
 * VMM's job.  base must be VMM_VIRTIO_MMIO_SIZE-aligned inside the MMIO
 * hole; ops must not offer transport features (bits 28..40: the transport
 * adds VERSION_1 and implements nothing else) and must have notify,
 * activate, reset (and config_read when config_size > 0). */
int vmm_virtio_mmio_init(struct vmm_virtio_mmio *m, const struct vmm_virtio_dev_ops *ops, void *dev,
			 const struct vmm_memory *mem, uint64_t base, unsigned int irq, bool want_ioeventfd,
			 struct lv_error **err);
/* Closes the fds and destroys the lock; only after init succeeded (init
 * cleans up after itself when it fails). */
void vmm_virtio_mmio_fini(struct vmm_virtio_mmio *m);

/* A guest access to [base, base + SIZE): offset is relative to base, len is
 * 1..8 (the vCPU loop bounded it).  Takes the lock.  Bad accesses from the
 * guest (wrong width, unknown register, write to a read-only one) are
 * ignored/read as 0 and counted in bad_accesses; they never fail the vCPU.  Returns 0,
 * or a negative errno only for a host-side failure. */
int vmm_virtio_mmio_access(struct vmm_virtio_mmio *m, uint64_t offset, bool is_write, uint8_t *data,
			   uint32_t len, struct lv_error **err);

/* For the device thread, with the lock NOT held: notify_fd fired; reads it
 * and calls ops->notify for every ready queue. */
void vmm_virtio_mmio_notify_all(struct vmm_virtio_mmio *m);

/* For devices, with the lock held: sets InterruptStatus bits and writes
 * irq_fd.  VRING interrupts are skipped when the queue does not want one
 * (pass q, or -1 for a config interrupt). */
void vmm_virtio_mmio_interrupt(struct vmm_virtio_mmio *m, int q, uint32_t bits);
/* For devices, with the lock held: the guest broke the rules (err says
 * how): sets DEVICE_NEEDS_RESET, raises a config interrupt, stops calling
 * the device until the driver resets it.  Consumes *err (its message goes
 * to broken_msg the first time). */
void vmm_virtio_mmio_set_broken(struct vmm_virtio_mmio *m, struct lv_error **err);
/* For devices, with the lock held: the config space changed; bumps
 * ConfigGeneration and raises a config interrupt. */
void vmm_virtio_mmio_config_changed(struct vmm_virtio_mmio *m);
/* Whether the driver is live (DRIVER_OK set, not broken). */
bool vmm_virtio_mmio_live(const struct vmm_virtio_mmio *m);

/* The transport's part of a snapshot: what the driver configured.  The
 * device's own part is its business (vmm_console_save()). */
struct vmm_virtio_mmio_state {
	uint32_t status;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint64_t driver_features;
	uint32_t interrupt_status;
	uint32_t config_generation;
	uint32_t num_queues;
	uint32_t pad;
	struct vmm_vq_state vqs[VMM_VIRTIO_MAX_QUEUES];
};

/* With the lock held.  A broken device is not saved (-EIO). */
int vmm_virtio_mmio_save(const struct vmm_virtio_mmio *m, struct vmm_virtio_mmio_state *st,
			 struct lv_error **err);
/* With the lock held, on a device just initialised for the same ops: takes
 * the driver's state over without calling activate (the device restores
 * its own).  Every value is checked as if the driver had written it. */
int vmm_virtio_mmio_restore(struct vmm_virtio_mmio *m, const struct vmm_virtio_mmio_state *st,
			    struct lv_error **err);

/* "virtio_mmio.device=0x200@0xd0000000:5" into buf; returns the length
 * snprintf would have written. */
int vmm_virtio_mmio_cmdline(const struct vmm_virtio_mmio *m, char *buf, size_t size);

#endif
