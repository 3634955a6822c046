/* A fake virtio guest driver for unit tests of virtio-mmio devices.
 *
 * It plays the guest's part against a struct vmm_virtio_mmio: registers go
 * through vmm_virtio_mmio_access() (as a vCPU's MMIO exit would), rings and
 * buffers live in a struct vmm_memory from vmm_memory_create() (no
 * /dev/kvm needed).  Header-only; every function is static inline.
 *
 * Usage:
 *
 *	struct vmm_memory *mem;            // >= 4 MiB, vmm_memory_create()
 *	struct vd d;
 *	vd_attach(&d, mem, mmio);          // mmio: after vmm_virtio_mmio_init()
 *	if (vd_start(&d, device_features, nqueues) < 0) ... // the whole init
 *	uint64_t req = vd_alloc(&d, 512);  // a zeroed buffer in guest RAM
 *	memcpy(vd_ptr(&d, req, 16), hdr, 16);
 *	struct vd_seg segs[] = { { req, 16 }, { data, 512 }, { status, 1 } };
 *	int head = vd_add(&d, q, segs, 2, 1);   // 2 device-readable, then 1 writable
 *	vd_kick(&d, q);                    // QueueNotify (or the ioeventfd, see below)
 *	uint16_t id; uint32_t len;
 *	if (vd_used(&d, q, &id, &len) == 1) ... // id == head, len == bytes written
 *	vd_irqs(&d);                       // interrupts raised since the last call
 *
 * Reference:
 *   vd_attach(d, mem, m)      default layout: queue q's rings at
 *                             ring_gpa + q * VD_QUEUE_STRIDE (descriptors +0,
 *                             driver area +0x1000, device area +0x2000),
 *                             buffers from data_gpa up; change d->ring_gpa,
 *                             d->data_gpa, d->data_end before vd_start.
 *   vd_read(d, off) / vd_write(d, off, v)      32-bit register access.
 *   vd_config_read(d, off, buf, len) / vd_config_write(...)   config space
 *                             (off relative to 0x100, len 1/2/4/8).
 *   vd_status(d) / vd_set_status(d, bits)      Status register (set_status
 *                             ORs bits into the current value, as drivers do).
 *   vd_reset(d)               Status = 0; forgets the queues' driver state.
 *   vd_negotiate(d, features) ACK, DRIVER, DriverFeatures (features |
 *                             VERSION_1), FEATURES_OK; 0 if the device kept
 *                             FEATURES_OK, -1 if it refused.
 *   vd_negotiate_raw(d, f)    the same without adding VERSION_1.
 *   vd_queue_setup(d, q, size)  QueueSel/Num/Desc/Driver/Device/Ready=1 (size
 *                             0: QueueNumMax); 0, or -1 if QueueReady did not
 *                             stick (the device refused the queue).
 *   vd_driver_ok(d)           sets DRIVER_OK; 0 unless NEEDS_RESET shows.
 *   vd_start(d, features, nq) reset + negotiate + nq queues + DRIVER_OK;
 *                             0 or -1, the reason printed as a TAP comment.
 *   vd_alloc(d, len) / vd_ptr(d, gpa, len)     bump allocator in guest RAM
 *                             (16-aligned, zeroed; 0 when exhausted) and the
 *                             host view of a guest range (NULL if not RAM).
 *   vd_add(d, q, segs, n_out, n_in)   makes a chain of n_out readable then
 *                             n_in writable segments available (not kicked);
 *                             returns the head, or -1 when out of descriptors.
 *   vd_kick(d, q)             QueueNotify = q through the MMIO path, or a
 *                             write to the transport's notify_fd when
 *                             d->kick_eventfd is set (what KVM does with an
 *                             ioeventfd; the device thread must then run).
 *   vd_used(d, q, &id, &len)  1 and the next used entry (its descriptors are
 *                             freed), or 0 when the device has returned none.
 *   vd_irqs(d)                reads the transport's irq_fd: the count of
 *                             interrupts since the last read (0 if none).
 *   vd_isr_ack(d)             reads InterruptStatus and ACKs what it read.
 *   Hostile tests write rings directly: vd_desc(d, q) (the descriptor
 *   table), vd_avail(d, q), vd_used_ring(d, q), vd_publish(d, q, head)
 *   (puts head in the avail ring and bumps avail->idx, as vd_add does).
 */
#ifndef TESTS_UNIT_VIRTIO_DRIVER_H
#define TESTS_UNIT_VIRTIO_DRIVER_H

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../vmm/memory.h"
#include "../../vmm/virtio_mmio.h"

#define VD_QUEUE_STRIDE  0x4000ULL
#define VD_RING_GPA      0x100000ULL
#define VD_DATA_GPA      0x200000ULL

struct vd_seg {
	uint64_t gpa;
	uint32_t len;
};

struct vd_queue {
	uint16_t size;             /* 0: not set up */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx;        /* our shadow of avail->idx */
	uint16_t last_used;        /* next used entry to read */
	uint16_t free_head, num_free;
	/* Host-side links, so that a device scribbling on the descriptor
	 * table cannot confuse the test's allocator. */
	uint16_t next_free[VMM_VQ_MAX_SIZE];
	uint16_t chain_len[VMM_VQ_MAX_SIZE];
	uint16_t chain_tail[VMM_VQ_MAX_SIZE];
};

struct vd {
	struct vmm_memory *mem;
	struct vmm_virtio_mmio *m;
	uint64_t ring_gpa, data_gpa, data_end, data_next;
	uint64_t features;         /* what the driver wrote */
	bool kick_eventfd;
	struct vd_queue q[VMM_VIRTIO_MAX_QUEUES];
};

static inline void vd_attach(struct vd *d, struct vmm_memory *mem, struct vmm_virtio_mmio *m)
{
	memset(d, 0, sizeof(*d));
	d->mem = mem;
	d->m = m;
	d->ring_gpa = VD_RING_GPA;
	d->data_gpa = d->data_next = VD_DATA_GPA;
	d->data_end = mem->regions[0].size;
}

static inline void vd_access(struct vd *d, uint64_t off, bool is_write, void *data, uint32_t len)
{
	struct lv_error *err = NULL;

	if (vmm_virtio_mmio_access(d->m, off, is_write, data, len, &err) < 0) {
		printf("# vd: access at 0x%llx failed: %s\n", (unsigned long long)off, err ? err->msg : "?");
		lv_error_free(&err);
	}
}

static inline uint32_t vd_read(struct vd *d, uint32_t off)
{
	uint32_t v = 0;

	vd_access(d, off, false, &v, 4);
	return v;
}

static inline void vd_write(struct vd *d, uint32_t off, uint32_t v)
{
	vd_access(d, off, true, &v, 4);
}

static inline void vd_config_read(struct vd *d, uint32_t off, void *buf, uint32_t len)
{
	vd_access(d, VIRTIO_MMIO_CONFIG + off, false, buf, len);
}

static inline void vd_config_write(struct vd *d, uint32_t off, const void *buf, uint32_t len)
{
	uint8_t tmp[8];

	memcpy(tmp, buf, len < 8 ? len : 8);
	vd_access(d, VIRTIO_MMIO_CONFIG + off, true, tmp, len);
}

static inline uint32_t vd_status(struct vd *d)
{
	return vd_read(d, VIRTIO_MMIO_STATUS);
}

static inline void vd_set_status(struct vd *d, uint32_t bits)
{
	vd_write(d, VIRTIO_MMIO_STATUS, (vd_status(d) & ~VIRTIO_CONFIG_S_NEEDS_RESET) | bits);
}

static inline void vd_reset(struct vd *d)
{
	unsigned int i;

	vd_write(d, VIRTIO_MMIO_STATUS, 0);
	for (i = 0; i < VMM_VIRTIO_MAX_QUEUES; i++)
		d->q[i].size = 0;
}

static inline int vd_negotiate_raw(struct vd *d, uint64_t features)
{
	vd_set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vd_set_status(d, VIRTIO_CONFIG_S_DRIVER);
	d->features = features;
	vd_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vd_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	vd_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vd_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	vd_set_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
	return (vd_status(d) & VIRTIO_CONFIG_S_FEATURES_OK) ? 0 : -1;
}

static inline int vd_negotiate(struct vd *d, uint64_t features)
{
	return vd_negotiate_raw(d, features | (1ULL << VIRTIO_F_VERSION_1));
}

static inline void vd_write64(struct vd *d, uint32_t low_off, uint64_t v)
{
	vd_write(d, low_off, (uint32_t)v);
	vd_write(d, low_off + 4, (uint32_t)(v >> 32));
}

static inline int vd_queue_setup(struct vd *d, unsigned int qi, uint16_t size)
{
	struct vd_queue *q = &d->q[qi];
	uint64_t base = d->ring_gpa + qi * VD_QUEUE_STRIDE;
	uint16_t i;

	vd_write(d, VIRTIO_MMIO_QUEUE_SEL, qi);
	if (!size)
		size = (uint16_t)vd_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (!size || size > VMM_VQ_MAX_SIZE) {
		printf("# vd: queue %u: QueueNumMax %u\n", qi, size);
		return -1;
	}
	memset(q, 0, sizeof(*q));
	q->desc_gpa = base;
	q->avail_gpa = base + 0x1000;
	q->used_gpa = base + 0x2000;
	memset(vmm_gpa_to_hva(d->mem, base, VD_QUEUE_STRIDE), 0, VD_QUEUE_STRIDE);
	vd_write(d, VIRTIO_MMIO_QUEUE_NUM, size);
	vd_write64(d, VIRTIO_MMIO_QUEUE_DESC_LOW, q->desc_gpa);
	vd_write64(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, q->avail_gpa);
	vd_write64(d, VIRTIO_MMIO_QUEUE_USED_LOW, q->used_gpa);
	vd_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	if (vd_read(d, VIRTIO_MMIO_QUEUE_READY) != 1)
		return -1;
	q->size = size;
	q->num_free = size;
	for (i = 0; i < size; i++)
		q->next_free[i] = (uint16_t)(i + 1);
	return 0;
}

static inline int vd_driver_ok(struct vd *d)
{
	vd_set_status(d, VIRTIO_CONFIG_S_DRIVER_OK);
	return (vd_status(d) & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_DRIVER_OK)) ==
			       VIRTIO_CONFIG_S_DRIVER_OK ? 0 : -1;
}

static inline int vd_start(struct vd *d, uint64_t features, unsigned int nq)
{
	unsigned int i;

	if (vd_read(d, VIRTIO_MMIO_MAGIC_VALUE) != 0x74726976 || vd_read(d, VIRTIO_MMIO_VERSION) != 2) {
		printf("# vd: not a virtio-mmio version 2 window\n");
		return -1;
	}
	vd_reset(d);
	if (vd_negotiate(d, features) < 0) {
		printf("# vd: FEATURES_OK refused for 0x%llx\n", (unsigned long long)features);
		return -1;
	}
	for (i = 0; i < nq; i++) {
		if (vd_queue_setup(d, i, 0) < 0) {
			printf("# vd: queue %u refused (%s)\n", i, d->m->broken_msg);
			return -1;
		}
	}
	if (vd_driver_ok(d) < 0) {
		printf("# vd: DRIVER_OK failed, status 0x%x (%s)\n", vd_status(d), d->m->broken_msg);
		return -1;
	}
	return 0;
}

static inline void *vd_ptr(struct vd *d, uint64_t gpa, uint64_t len)
{
	return vmm_gpa_to_hva(d->mem, gpa, len);
}

static inline uint64_t vd_alloc(struct vd *d, uint64_t len)
{
	uint64_t gpa = d->data_next;

	if (len > d->data_end || gpa > d->data_end - len)
		return 0;
	d->data_next = (gpa + len + 15) & ~15ULL;
	memset(vd_ptr(d, gpa, len), 0, len);
	return gpa;
}

static inline struct vring_desc *vd_desc(struct vd *d, unsigned int qi)
{
	return vd_ptr(d, d->q[qi].desc_gpa, 16ULL * d->q[qi].size);
}

static inline struct vring_avail *vd_avail(struct vd *d, unsigned int qi)
{
	return vd_ptr(d, d->q[qi].avail_gpa, 6 + 2ULL * d->q[qi].size);
}

static inline struct vring_used *vd_used_ring(struct vd *d, unsigned int qi)
{
	return vd_ptr(d, d->q[qi].used_gpa, 6 + 8ULL * d->q[qi].size);
}

static inline void vd_publish(struct vd *d, unsigned int qi, uint16_t head)
{
	struct vd_queue *q = &d->q[qi];
	struct vring_avail *avail = vd_avail(d, qi);

	avail->ring[q->avail_idx & (q->size - 1)] = head;
	q->avail_idx++;
	/* The device's acquire load of idx pairs with this release. */
	__atomic_store_n(&avail->idx, q->avail_idx, __ATOMIC_RELEASE);
}

static inline int vd_add(struct vd *d, unsigned int qi, const struct vd_seg *segs, unsigned int n_out,
			 unsigned int n_in)
{
	struct vd_queue *q = &d->q[qi];
	struct vring_desc *table = vd_desc(d, qi);
	unsigned int i, n = n_out + n_in;
	uint16_t head, idx, prev = 0;

	if (!q->size || n == 0 || n > q->num_free)
		return -1;
	head = idx = q->free_head;
	for (i = 0; i < n; i++) {
		table[idx].addr = segs[i].gpa;
		table[idx].len = segs[i].len;
		table[idx].flags = (uint16_t)((i >= n_out ? VRING_DESC_F_WRITE : 0) |
					      (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		table[idx].next = i + 1 < n ? q->next_free[idx] : 0;
		prev = idx;
		idx = q->next_free[idx];
	}
	q->chain_len[head] = (uint16_t)n;
	q->chain_tail[head] = prev;
	q->free_head = idx;
	q->num_free = (uint16_t)(q->num_free - n);
	vd_publish(d, qi, head);
	return head;
}

static inline void vd_kick(struct vd *d, unsigned int qi)
{
	uint64_t one = 1;

	if (d->kick_eventfd && d->m->notify_fd >= 0)
		(void)!write(d->m->notify_fd, &one, sizeof(one));
	else
		vd_write(d, VIRTIO_MMIO_QUEUE_NOTIFY, qi);
}

static inline int vd_used(struct vd *d, unsigned int qi, uint16_t *id, uint32_t *len)
{
	struct vd_queue *q = &d->q[qi];
	struct vring_used *used = vd_used_ring(d, qi);
	struct vring_used_elem e;

	if (!q->size || __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) == q->last_used)
		return 0;
	e = used->ring[q->last_used & (q->size - 1)];
	q->last_used++;
	*id = (uint16_t)e.id;
	*len = e.len;
	/* Give the chain back to the free list, if it is one of ours. */
	if (e.id < q->size && q->chain_len[e.id]) {
		q->next_free[q->chain_tail[e.id]] = q->free_head;
		q->free_head = (uint16_t)e.id;
		q->num_free = (uint16_t)(q->num_free + q->chain_len[e.id]);
		q->chain_len[e.id] = 0;
	}
	return 1;
}

static inline int vd_irqs(struct vd *d)
{
	uint64_t v = 0;

	if (read(d->m->irq_fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	return (int)v;
}

static inline uint32_t vd_isr_ack(struct vd *d)
{
	uint32_t isr = vd_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);

	vd_write(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	return isr;
}

#endif
