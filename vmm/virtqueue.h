/* A split virtqueue (virtio 1.x, 2.7) as the device sees it.  The ring
 * lives in guest RAM, which the guest may change at any moment: every index
 * is taken modulo the queue size or checked, every descriptor's address and
 * length goes through vmm_gpa_to_hva(), every chain is bounded in length and
 * checked for loops, and each value is read from guest memory exactly once.
 * A violation is reported as an error; the caller (the transport) then marks
 * the device broken (DEVICE_NEEDS_RESET) and stops touching the queue.
 *
 * Not offered, hence refused if seen: indirect descriptors, event index. */
#ifndef VMM_VIRTQUEUE_H
#define VMM_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../lib/error.h"
#include "memory.h"

/* Largest queue we accept (QueueNumMax); the spec allows 32768. */
#define VMM_VQ_MAX_SIZE  256
/* Longest descriptor chain we accept (also bounded by the queue size). */
#define VMM_VQ_MAX_CHAIN 64

struct vmm_vq {
	/* Set by the transport from the driver's register writes. */
	uint16_t size;           /* QueueNum: a power of two, 1..VMM_VQ_MAX_SIZE */
	uint64_t desc_gpa;       /* QueueDesc: 16-byte aligned, 16 * size bytes */
	uint64_t avail_gpa;      /* QueueDriver: 2-byte aligned, 6 + 2 * size bytes */
	uint64_t used_gpa;       /* QueueDevice: 4-byte aligned, 6 + 8 * size bytes */
	bool ready;              /* QueueReady, after vmm_vq_activate() succeeded */

	/* Private to virtqueue.c, valid while ready. */
	const struct vmm_memory *mem;
	void *desc, *avail, *used; /* host pointers of the three bounded areas */
	uint16_t last_avail;       /* next avail ring entry to take */
	uint16_t used_idx;         /* our copy of used->idx */
};

/* One descriptor chain: the device-readable buffers first (iov[0..n_out)),
 * then the device-writable ones (iov[n_out..n_out + n_in)).  The iovecs
 * point into guest RAM and are valid until the chain is pushed back.  A
 * zero-length descriptor is accepted whatever its address and gets
 * iov_base NULL (it gives access to nothing); the copy helpers skip it. */
struct vmm_vq_chain {
	uint16_t head;
	uint16_t n_out, n_in;
	uint64_t out_bytes, in_bytes;
	struct iovec iov[VMM_VQ_MAX_CHAIN];
};

/* Validates size and the three addresses (alignment, wholly in RAM) and
 * resolves them; on success vq->ready is true and the indexes start at 0. */
int vmm_vq_activate(struct vmm_vq *vq, const struct vmm_memory *mem, struct lv_error **err);
/* Back to the reset state: not ready, addresses and size kept as written. */
void vmm_vq_reset(struct vmm_vq *vq);

/* A queue as a snapshot keeps it (vmm/snapshot.h): the driver's
 * configuration and the device's two indexes. */
struct vmm_vq_state {
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t size;
	uint16_t last_avail, used_idx;
	uint8_t ready;
	uint8_t pad;
};

void vmm_vq_save(const struct vmm_vq *vq, struct vmm_vq_state *st);
/* Sets the configuration; a ready queue is activated (the same checks as
 * the driver's QueueReady write) and resumes at the saved indexes. */
int vmm_vq_restore(struct vmm_vq *vq, const struct vmm_memory *mem, const struct vmm_vq_state *st,
		   struct lv_error **err);

/* Takes the next available chain: 1 with *chain filled, 0 when the driver
 * has made none available, negative errno when the queue is not ready or
 * the ring breaks the rules (nothing is consumed then)
 * (avail idx more than size ahead, head or next out of range, a loop or a
 * chain longer than VMM_VQ_MAX_CHAIN, a readable buffer after a writable
 * one, an address outside RAM, INDIRECT, a total length over 4 GiB). */
int vmm_vq_pop(struct vmm_vq *vq, struct vmm_vq_chain *chain, struct lv_error **err);
/* Gives back the last popped chain unused (e.g. the host had nothing to put
 * in it after all); only valid right after a successful pop. */
void vmm_vq_unpop(struct vmm_vq *vq);
/* Returns a chain to the driver: used ring entry {head, written}.  written
 * is clamped to the chain's writable bytes by the caller's contract (it is
 * checked: a larger value is an error, nothing is published; so is a queue
 * that is not ready, or a head beyond its size after a re-setup). */
int vmm_vq_push(struct vmm_vq *vq, const struct vmm_vq_chain *chain, uint32_t written,
		struct lv_error **err);
/* Whether the driver wants an interrupt for what was pushed (it has not
 * set VIRTQ_AVAIL_F_NO_INTERRUPT). */
bool vmm_vq_wants_interrupt(const struct vmm_vq *vq);
/* Whether the driver has made chains available that we have not taken. */
bool vmm_vq_has_avail(const struct vmm_vq *vq);

/* Copies between a chain and a host buffer: from the readable part starting
 * at byte off (to_host), or into the writable part at byte off (from_host).
 * Return the bytes copied (less than len at the end of that part). */
size_t vmm_vq_chain_to_host(const struct vmm_vq_chain *c, size_t off, void *dst, size_t len);
size_t vmm_vq_chain_from_host(const struct vmm_vq_chain *c, size_t off, const void *src, size_t len);

/* Points dst at the bytes [off, off + len) of the n buffers src (fewer if
 * src ends first) and returns how many entries that took, at most max: a
 * device's view of one part of a chain (a request's data between its
 * header and its status byte, a frame after its virtio-net header). */
unsigned int vmm_iov_slice(const struct iovec *src, unsigned int n, uint64_t off, uint64_t len,
			   struct iovec *dst, unsigned int max);

#endif
