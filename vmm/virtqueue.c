/* Split virtqueues, device side; see virtqueue.h for the rules enforced.
 *
 * Guest memory is shared with a vCPU that may rewrite it at any time, so
 * every guest field is fetched once with an atomic load into a local and
 * only the local is checked and used: a value cannot change between its
 * check and its use.  The driver publishes ring entries before avail->idx
 * (its write barrier); our acquire load of avail->idx pairs with it.  We
 * publish used entries before used->idx with a release store. */
#include "virtqueue.h"

#include <linux/virtio_ring.h>
#include <string.h>

/* Relaxed atomic loads of guest fields: one access each, never torn, never
 * re-read by the compiler. */
#define GUEST_LOAD(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define GUEST_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

static inline struct vring_desc *vq_desc(const struct vmm_vq *vq)
{
	return vq->desc;
}

static inline struct vring_avail *vq_avail(const struct vmm_vq *vq)
{
	return vq->avail;
}

static inline struct vring_used *vq_used(const struct vmm_vq *vq)
{
	return vq->used;
}

int vmm_vq_activate(struct vmm_vq *vq, const struct vmm_memory *mem, struct lv_error **err)
{
	uint64_t n = vq->size;
	void *desc, *avail, *used;

	if (n == 0 || n > VMM_VQ_MAX_SIZE || (n & (n - 1)))
		return lv_err_msg(err, EINVAL, "queue size %llu: must be a power of two up to %u",
				  (unsigned long long)n, VMM_VQ_MAX_SIZE);
	/* The alignments of virtio 1.x 2.7 (split virtqueues). */
	if (vq->desc_gpa % 16 || vq->avail_gpa % 2 || vq->used_gpa % 4)
		return lv_err_msg(err, EINVAL,
				  "misaligned queue: descriptors 0x%llx (16), driver area 0x%llx (2), "
				  "device area 0x%llx (4)",
				  (unsigned long long)vq->desc_gpa, (unsigned long long)vq->avail_gpa,
				  (unsigned long long)vq->used_gpa);
	/* The avail and used sizes include used_event/avail_event: a driver
	 * lays them out whether or not it negotiated EVENT_IDX. */
	desc = vmm_gpa_to_hva(mem, vq->desc_gpa, 16 * n);
	avail = vmm_gpa_to_hva(mem, vq->avail_gpa, 6 + 2 * n);
	used = vmm_gpa_to_hva(mem, vq->used_gpa, 6 + 8 * n);
	if (!desc || !avail || !used)
		return lv_err_msg(err, EFAULT,
				  "queue of %llu outside guest RAM: descriptors 0x%llx, driver area 0x%llx, "
				  "device area 0x%llx",
				  (unsigned long long)n, (unsigned long long)vq->desc_gpa,
				  (unsigned long long)vq->avail_gpa, (unsigned long long)vq->used_gpa);
	vq->mem = mem;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->ready = true;
	return 0;
}

void vmm_vq_reset(struct vmm_vq *vq)
{
	vq->ready = false;
	vq->mem = NULL;
	vq->desc = vq->avail = vq->used = NULL;
	vq->last_avail = 0;
	vq->used_idx = 0;
}

void vmm_vq_save(const struct vmm_vq *vq, struct vmm_vq_state *st)
{
	*st = (struct vmm_vq_state){
		.desc_gpa = vq->desc_gpa, .avail_gpa = vq->avail_gpa, .used_gpa = vq->used_gpa,
		.size = vq->size, .ready = vq->ready,
		.last_avail = vq->ready ? vq->last_avail : 0, .used_idx = vq->ready ? vq->used_idx : 0,
	};
}

int vmm_vq_restore(struct vmm_vq *vq, const struct vmm_memory *mem, const struct vmm_vq_state *st,
		   struct lv_error **err)
{
	int r;

	vmm_vq_reset(vq);
	vq->size = st->size;
	vq->desc_gpa = st->desc_gpa;
	vq->avail_gpa = st->avail_gpa;
	vq->used_gpa = st->used_gpa;
	if (!st->ready)
		return 0;
	r = vmm_vq_activate(vq, mem, err);
	if (r < 0)
		return r;
	vq->last_avail = st->last_avail;
	vq->used_idx = st->used_idx;
	return 0;
}

/* Walks one chain from head, which is < size.  On failure nothing has been
 * consumed. */
static int walk_chain(const struct vmm_vq *vq, uint16_t head, struct vmm_vq_chain *c,
		      struct lv_error **err)
{
	struct vring_desc *table = vq_desc(vq);
	unsigned int max = vq->size < VMM_VQ_MAX_CHAIN ? vq->size : VMM_VQ_MAX_CHAIN;
	unsigned int n = 0;
	uint16_t i = head;

	c->head = head;
	c->n_out = c->n_in = 0;
	c->out_bytes = c->in_bytes = 0;
	for (;;) {
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;
		struct iovec *iov;

		/* More descriptors than the queue holds means a loop; this is
		 * also what keeps n inside c->iov. */
		if (n >= max)
			return lv_err_msg(err, ELOOP,
					  "chain from head %u is longer than %u descriptors (or loops)", head, max);
		addr = GUEST_LOAD(&table[i].addr);
		len = GUEST_LOAD(&table[i].len);
		flags = GUEST_LOAD(&table[i].flags);
		next = GUEST_LOAD(&table[i].next);
		if (flags & VRING_DESC_F_INDIRECT)
			return lv_err_msg(err, EINVAL, "descriptor %u: INDIRECT was not negotiated", i);
		if (flags & VRING_DESC_F_WRITE) {
			c->n_in++;
			c->in_bytes += len;
		} else {
			if (c->n_in)
				return lv_err_msg(err, EINVAL,
						  "descriptor %u: device-readable after a device-writable one "
						  "(chain from head %u)",
						  i, head);
			c->n_out++;
			c->out_bytes += len;
		}
		/* Used lengths are 32-bit: a chain cannot carry more. */
		if (c->out_bytes + c->in_bytes > UINT32_MAX)
			return lv_err_msg(err, EINVAL, "chain from head %u is longer than 4 GiB", head);
		iov = &c->iov[n++];
		iov->iov_len = len;
		/* A zero-length buffer gives no access to memory at all, so its
		 * address does not matter; NULL keeps any use of it harmless. */
		iov->iov_base = len ? vmm_gpa_to_hva(vq->mem, addr, len) : NULL;
		if (len && !iov->iov_base)
			return lv_err_msg(err, EFAULT, "descriptor %u: [0x%llx, +0x%x) is not guest RAM", i,
					  (unsigned long long)addr, len);
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		if (next >= vq->size)
			return lv_err_msg(err, EINVAL, "descriptor %u: next %u is beyond the queue size %u", i,
					  next, vq->size);
		i = next;
	}
}

int vmm_vq_pop(struct vmm_vq *vq, struct vmm_vq_chain *chain, struct lv_error **err)
{
	struct vring_avail *avail = vq_avail(vq);
	uint16_t avail_idx, pending, head;
	int r;

	if (!vq->ready)
		return lv_err_msg(err, EINVAL, "pop from a queue that is not ready");
	/* Acquire: the ring entries and descriptors the driver wrote before
	 * this index are visible once we see it. */
	avail_idx = __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE);
	pending = (uint16_t)(avail_idx - vq->last_avail);
	if (pending == 0)
		return 0;
	if (pending > vq->size)
		return lv_err_msg(err, EINVAL, "avail idx %u is %u entries ahead of ours (%u), queue size %u",
				  avail_idx, pending, vq->last_avail, vq->size);
	head = GUEST_LOAD(&avail->ring[vq->last_avail & (vq->size - 1)]);
	if (head >= vq->size)
		return lv_err_msg(err, EINVAL, "avail ring entry %u: head %u is beyond the queue size %u",
				  vq->last_avail, head, vq->size);
	r = walk_chain(vq, head, chain, err);
	if (r < 0)
		return r;
	vq->last_avail++;
	return 1;
}

void vmm_vq_unpop(struct vmm_vq *vq)
{
	vq->last_avail--;
}

int vmm_vq_push(struct vmm_vq *vq, const struct vmm_vq_chain *chain, uint32_t written,
		struct lv_error **err)
{
	struct vring_used *used = vq_used(vq);
	struct vring_used_elem *elem;

	if (!vq->ready)
		return lv_err_msg(err, EINVAL, "push to a queue that is not ready");
	/* The queue may have been reset and set up smaller since the pop. */
	if (chain->head >= vq->size)
		return lv_err_msg(err, EINVAL, "push of head %u to a queue of %u", chain->head, vq->size);
	if (written > chain->in_bytes)
		return lv_err_msg(err, EINVAL, "push of %u bytes written into a chain with %llu writable",
				  written, (unsigned long long)chain->in_bytes);
	elem = &used->ring[vq->used_idx & (vq->size - 1)];
	GUEST_STORE(&elem->id, (uint32_t)chain->head);
	GUEST_STORE(&elem->len, written);
	vq->used_idx++;
	/* Release: the driver that sees the new index sees the entry. */
	__atomic_store_n(&used->idx, vq->used_idx, __ATOMIC_RELEASE);
	return 0;
}

bool vmm_vq_wants_interrupt(const struct vmm_vq *vq)
{
	if (!vq->ready)
		return false;
	/* Our used->idx store must be visible before we read the driver's
	 * flag, or we could miss the driver re-enabling interrupts after it
	 * looked at an old index (a store-load ordering: a full fence). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !(GUEST_LOAD(&vq_avail(vq)->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

bool vmm_vq_has_avail(const struct vmm_vq *vq)
{
	if (!vq->ready)
		return false;
	return __atomic_load_n(&vq_avail(vq)->idx, __ATOMIC_ACQUIRE) != vq->last_avail;
}

/* Copies between host memory and the bytes [off, off + len) of the
 * buffers iov[first .. first + count): the one walk behind both directions. */
static size_t chain_copy(const struct vmm_vq_chain *c, unsigned int first, unsigned int count, size_t off,
			 uint8_t *host, size_t len, bool to_host)
{
	size_t done = 0;
	unsigned int i;

	for (i = first; i < first + count && done < len; i++) {
		const struct iovec *iov = &c->iov[i];
		uint8_t *guest = iov->iov_base;
		size_t n;

		if (off >= iov->iov_len) {
			off -= iov->iov_len;
			continue;
		}
		n = iov->iov_len - off;
		if (n > len - done)
			n = len - done;
		if (to_host)
			memcpy(host + done, guest + off, n);
		else
			memcpy(guest + off, host + done, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t vmm_vq_chain_to_host(const struct vmm_vq_chain *c, size_t off, void *dst, size_t len)
{
	return chain_copy(c, 0, c->n_out, off, dst, len, true);
}

size_t vmm_vq_chain_from_host(const struct vmm_vq_chain *c, size_t off, const void *src, size_t len)
{
	/* chain_copy() only reads host memory in this direction. */
	return chain_copy(c, c->n_out, c->n_in, off, (uint8_t *)(uintptr_t)src, len, false);
}

unsigned int vmm_iov_slice(const struct iovec *src, unsigned int n, uint64_t off, uint64_t len,
			   struct iovec *dst, unsigned int max)
{
	unsigned int i, k = 0;

	for (i = 0; i < n && len && k < max; i++) {
		uint64_t take;

		if (off >= src[i].iov_len) {
			off -= src[i].iov_len;
			continue;
		}
		take = src[i].iov_len - off;
		if (take > len)
			take = len;
		dst[k].iov_base = (uint8_t *)src[i].iov_base + off;
		dst[k].iov_len = take;
		k++;
		len -= take;
		off = 0;
	}
	return k;
}
