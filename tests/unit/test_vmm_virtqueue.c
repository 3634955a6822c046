/* vmm/virtqueue: the split-ring walker against a driver that writes the
 * rings by hand: activation checks, chains with readable and writable parts,
 * index wrap-around, every hostile ring, chains over 4 GiB, and a thread
 * rewriting the rings while the device walks them.  Needs no /dev/kvm. */
#include "../../lib/cleanup.h"
#include "../../vmm/virtqueue.h"
#include "tap.h"

#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define RQ_DESC  0x1000ULL
#define RQ_AVAIL 0x3000ULL
#define RQ_USED  0x4000ULL
#define RQ_DATA  0x10000ULL

/* A raw queue whose rings the test writes directly, as a hostile driver. */
struct rawq {
	struct vmm_memory *mem;
	struct vmm_vq vq;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
};

static int rawq_init(struct rawq *q, struct vmm_memory *mem, uint16_t size)
{
	struct lv_error *err = NULL;
	int r;

	memset(q, 0, sizeof(*q));
	q->mem = mem;
	memset(vmm_gpa_to_hva(mem, RQ_DESC, RQ_DATA - RQ_DESC), 0, RQ_DATA - RQ_DESC);
	q->desc = vmm_gpa_to_hva(mem, RQ_DESC, 16);
	q->avail = vmm_gpa_to_hva(mem, RQ_AVAIL, 4);
	q->used = vmm_gpa_to_hva(mem, RQ_USED, 4);
	q->vq = (struct vmm_vq){ .size = size, .desc_gpa = RQ_DESC, .avail_gpa = RQ_AVAIL, .used_gpa = RQ_USED };
	r = vmm_vq_activate(&q->vq, mem, &err);
	if (r < 0)
		printf("# rawq_init: %s\n", err->msg);
	lv_error_free(&err);
	return r;
}

static void rawq_desc(struct rawq *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	q->desc[i] = (struct vring_desc){ .addr = addr, .len = len, .flags = flags, .next = next };
}

static void rawq_avail(struct rawq *q, uint16_t head)
{
	q->avail->ring[q->avail->idx % q->vq.size] = head;
	__atomic_store_n(&q->avail->idx, q->avail->idx + 1, __ATOMIC_RELEASE);
}

/* Pops and expects failure with errno e; prints the message. */
static bool pop_fails(struct rawq *q, int e, const char *what)
{
	struct vmm_vq_chain c;
	struct lv_error *err = NULL;
	uint16_t before = q->vq.last_avail;
	int r = vmm_vq_pop(&q->vq, &c, &err);
	bool good = r == -e && err && err->msg && q->vq.last_avail == before;

	printf("# %s: %d %s\n", what, r, err ? err->msg : "(no error)");
	lv_error_free(&err);
	return good;
}

static void test_vq_activate(struct vmm_memory *mem)
{
	static const struct {
		uint16_t size;
		uint64_t desc, avail, used;
		int e;
		const char *what;
	} bad[] = {
		{ 0, RQ_DESC, RQ_AVAIL, RQ_USED, EINVAL, "size 0" },
		{ 3, RQ_DESC, RQ_AVAIL, RQ_USED, EINVAL, "size 3 (not a power of two)" },
		{ 512, RQ_DESC, RQ_AVAIL, RQ_USED, EINVAL, "size 512 (over the maximum)" },
		{ 8, RQ_DESC + 8, RQ_AVAIL, RQ_USED, EINVAL, "descriptors 8-aligned" },
		{ 8, RQ_DESC, RQ_AVAIL + 1, RQ_USED, EINVAL, "driver area odd" },
		{ 8, RQ_DESC, RQ_AVAIL, RQ_USED + 2, EINVAL, "device area 2-aligned" },
		{ 8, 16 * MiB - 64, RQ_AVAIL, RQ_USED, EFAULT, "descriptor table running off RAM" },
		{ 8, RQ_DESC, 16 * MiB - 16, RQ_USED, EFAULT, "driver area running off RAM" },
		{ 8, RQ_DESC, RQ_AVAIL, 16 * MiB - 32, EFAULT, "device area running off RAM" },
		{ 8, 0xd0000000ULL, RQ_AVAIL, RQ_USED, EFAULT, "descriptor table in the MMIO hole" },
		{ 8, RQ_DESC, RQ_AVAIL, UINT64_MAX - 3, EFAULT, "device area at the top of the address space" },
	};
	struct lv_error *err = NULL;
	struct vmm_vq vq;
	size_t i;

	for (i = 0; i < LV_ARRAY_SIZE(bad); i++) {
		int r;

		vq = (struct vmm_vq){ .size = bad[i].size, .desc_gpa = bad[i].desc, .avail_gpa = bad[i].avail,
				      .used_gpa = bad[i].used };
		r = vmm_vq_activate(&vq, mem, &err);
		ok(r == -bad[i].e && !vq.ready && err, "activate refuses %s (%s)", bad[i].what, err ? err->msg : "");
		lv_error_free(&err);
	}
	vq = (struct vmm_vq){ .size = 256, .desc_gpa = 16 * MiB - 4096 - 16 * 256 - 4096, .avail_gpa = 16 * MiB - 8192,
			      .used_gpa = 16 * MiB - 8 - 8 * 256 };
	ok(vmm_vq_activate(&vq, mem, &err) == 0 && vq.ready, "size 256 with the device area in the last bytes of RAM");
	vmm_vq_reset(&vq);
	ok(!vq.ready && vq.size == 256 && vq.used_gpa == 16 * MiB - 8 - 8 * 256,
	   "reset: not ready, size and addresses kept");
	lv_error_free(&err);
}

static void test_vq_chains(struct vmm_memory *mem)
{
	struct lv_error *err = NULL;
	struct vmm_vq_chain c;
	struct rawq q;
	uint8_t *data = vmm_gpa_to_hva(mem, RQ_DATA, 0x1000);
	char buf[32] = { 0 };
	unsigned int i;

	ok(rawq_init(&q, mem, 8) == 0, "queue of 8 activated");
	ok(vmm_vq_pop(&q.vq, &c, &err) == 0 && !vmm_vq_has_avail(&q.vq), "empty ring: pop returns 0");

	memcpy(data, "hello, ", 7);
	memcpy(data + 0x100, "world", 5);
	rawq_desc(&q, 5, RQ_DATA, 7, VRING_DESC_F_NEXT, 2);
	rawq_desc(&q, 2, RQ_DATA + 0x100, 5, VRING_DESC_F_NEXT, 7);
	rawq_desc(&q, 7, RQ_DATA + 0x200, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	rawq_desc(&q, 0, RQ_DATA + 0x300, 6, VRING_DESC_F_WRITE, 0);
	rawq_avail(&q, 5);
	ok(vmm_vq_has_avail(&q.vq), "has_avail after the driver published");
	ok(vmm_vq_pop(&q.vq, &c, &err) == 1 && c.head == 5 && c.n_out == 2 && c.n_in == 2 && c.out_bytes == 12 &&
	   c.in_bytes == 10, "chain 5->2->7->0: 2 readable (12 bytes), 2 writable (10 bytes)");
	ok(c.iov[0].iov_base == data && c.iov[1].iov_base == data + 0x100 && c.iov[2].iov_base == data + 0x200 &&
	   c.iov[3].iov_len == 6, "iovecs point at the buffers in RAM");
	ok(vmm_vq_chain_to_host(&c, 0, buf, sizeof(buf)) == 12 && memcmp(buf, "hello, world", 12) == 0,
	   "readable part gathered across buffers");
	ok(vmm_vq_chain_to_host(&c, 5, buf, 4) == 4 && memcmp(buf, ", wo", 4) == 0, "gather from an offset");
	ok(vmm_vq_chain_to_host(&c, 12, buf, 4) == 0, "gather past the end: 0 bytes");
	ok(vmm_vq_chain_from_host(&c, 2, "ABCDEFGHIJKL", 12) == 8 && memcmp(data + 0x202, "AB", 2) == 0 &&
	   memcmp(data + 0x300, "CDEFGH", 6) == 0, "scatter from an offset, clamped to the writable part");
	ok(vmm_vq_push(&q.vq, &c, 11, &err) == -EINVAL && q.used->idx == 0, "push of more than written: refused");
	lv_error_free(&err);
	ok(vmm_vq_push(&q.vq, &c, 10, &err) == 0 && q.used->idx == 1 && q.used->ring[0].id == 5 &&
	   q.used->ring[0].len == 10, "push publishes {5, 10} and used idx 1");
	ok(vmm_vq_wants_interrupt(&q.vq), "interrupt wanted by default");
	q.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	ok(!vmm_vq_wants_interrupt(&q.vq), "not with NO_INTERRUPT");
	q.avail->flags = 0;

	/* A zero-length chain at a bogus address is harmless and allowed. */
	rawq_desc(&q, 3, 0xdead0000000ULL, 0, 0, 0);
	rawq_avail(&q, 3);
	ok(vmm_vq_pop(&q.vq, &c, &err) == 1 && c.n_out == 1 && c.out_bytes == 0 && c.iov[0].iov_base == NULL,
	   "zero-length descriptor: popped, no address resolved");
	ok(vmm_vq_chain_to_host(&c, 0, buf, 4) == 0, "nothing to gather from it");
	vmm_vq_unpop(&q.vq);
	ok(vmm_vq_pop(&q.vq, &c, &err) == 1 && c.head == 3, "unpop gives the same chain back");
	ok(vmm_vq_push(&q.vq, &c, 0, &err) == 0 && q.used->idx == 2, "pushed with 0 bytes");

	/* The 16-bit indexes wrap: run a queue of one past 65536. */
	ok(rawq_init(&q, mem, 1) == 0, "queue of 1");
	rawq_desc(&q, 0, RQ_DATA, 1, VRING_DESC_F_WRITE, 0);
	for (i = 0; i < 65540; i++) {
		rawq_avail(&q, 0);
		if (vmm_vq_pop(&q.vq, &c, &err) != 1 || vmm_vq_push(&q.vq, &c, 1, &err) != 0)
			break;
	}
	ok(i == 65540 && q.used->idx == (uint16_t)65540, "65540 round trips through the 16-bit indexes");
	lv_error_free(&err);

	/* The longest chain allowed, and one more. */
	ok(rawq_init(&q, mem, 256) == 0, "queue of 256");
	for (i = 0; i < VMM_VQ_MAX_CHAIN; i++)
		rawq_desc(&q, i, RQ_DATA + i, 1, VRING_DESC_F_NEXT, i + 1);
	rawq_desc(&q, VMM_VQ_MAX_CHAIN - 1, RQ_DATA, 1, 0, 0);
	rawq_avail(&q, 0);
	ok(vmm_vq_pop(&q.vq, &c, &err) == 1 && c.n_out == VMM_VQ_MAX_CHAIN, "chain of %d descriptors",
	   VMM_VQ_MAX_CHAIN);
	rawq_desc(&q, VMM_VQ_MAX_CHAIN - 1, RQ_DATA, 1, VRING_DESC_F_NEXT, VMM_VQ_MAX_CHAIN);
	rawq_desc(&q, VMM_VQ_MAX_CHAIN, RQ_DATA, 1, 0, 0);
	rawq_avail(&q, 0);
	ok(pop_fails(&q, ELOOP, "65 descriptors"), "chain of %d descriptors: ELOOP", VMM_VQ_MAX_CHAIN + 1);
	lv_error_free(&err);
}

static void test_vq_hostile(struct vmm_memory *mem)
{
	struct rawq q;

	rawq_init(&q, mem, 8);
	rawq_desc(&q, 0, RQ_DATA, 8, VRING_DESC_F_NEXT, 1);
	rawq_desc(&q, 1, RQ_DATA, 8, VRING_DESC_F_NEXT, 0);
	rawq_avail(&q, 0);
	ok(pop_fails(&q, ELOOP, "loop"), "a two-descriptor loop: ELOOP");

	rawq_init(&q, mem, 8);
	rawq_desc(&q, 4, RQ_DATA, 8, VRING_DESC_F_NEXT, 4);
	rawq_avail(&q, 4);
	ok(pop_fails(&q, ELOOP, "self loop"), "a descriptor chained to itself: ELOOP");

	rawq_init(&q, mem, 8);
	rawq_avail(&q, 8);
	ok(pop_fails(&q, EINVAL, "head 8"), "head == size: EINVAL");
	rawq_init(&q, mem, 8);
	rawq_avail(&q, 0xffff);
	ok(pop_fails(&q, EINVAL, "head 0xffff"), "head 0xffff: EINVAL");

	rawq_init(&q, mem, 8);
	rawq_desc(&q, 0, RQ_DATA, 8, VRING_DESC_F_NEXT, 9);
	rawq_avail(&q, 0);
	ok(pop_fails(&q, EINVAL, "next 9"), "next beyond the queue: EINVAL");

	rawq_init(&q, mem, 8);
	rawq_desc(&q, 0, 16 * MiB - 4, 8, 0, 0);
	rawq_avail(&q, 0);
	ok(pop_fails(&q, EFAULT, "crossing the end of RAM"), "buffer crossing the end of RAM: EFAULT");

	rawq_init(&q, mem, 8);
	rawq_desc(&q, 0, 0xfee00000ULL, 4, VRING_DESC_F_WRITE, 0);
	rawq_avail(&q, 0);
	ok(pop_fails(&q, EFAULT, "LAPIC"), "writable buffer on the LAPIC page (MMIO hole): EFAULT");

	rawq_init(&q, mem, 8);
	rawq_desc(&q, 0, 0, UINT32_MAX, 0, 0);
	rawq_avail(&q, 0);
	ok(pop_fails(&q, EFAULT, "4 GiB - 1 at 0"), "length 0xffffffff in 16 MiB of RAM: EFAULT");

	rawq_init(&q, mem, 8);
	rawq_desc(&q, 0, UINT64_MAX - 7, 16, 0, 0);
	rawq_avail(&q, 0);
	ok(pop_fails(&q, EFAULT, "wrapping address"), "address + length wrapping 2^64: EFAULT");

	rawq_init(&q, mem, 8);
	rawq_desc(&q, 0, RQ_DATA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	rawq_desc(&q, 1, RQ_DATA, 8, 0, 0);
	rawq_avail(&q, 0);
	ok(pop_fails(&q, EINVAL, "readable after writable"), "readable after writable: EINVAL");

	rawq_init(&q, mem, 8);
	rawq_desc(&q, 0, RQ_DATA, 16, VRING_DESC_F_INDIRECT, 0);
	rawq_avail(&q, 0);
	ok(pop_fails(&q, EINVAL, "indirect"), "INDIRECT: EINVAL");

	rawq_init(&q, mem, 8);
	rawq_desc(&q, 0, RQ_DATA, 8, 0, 0);
	q.avail->idx = 9;
	ok(pop_fails(&q, EINVAL, "idx jump"), "avail idx 9 ahead of a queue of 8: EINVAL");
	q.avail->idx = 0xffff;
	ok(pop_fails(&q, EINVAL, "idx behind"), "avail idx behind ours (0xffff): EINVAL");
	q.avail->idx = 8;
	q.avail->ring[0] = 0;
	ok(!pop_fails(&q, EINVAL, "idx 8 ahead"), "exactly size ahead is allowed");

	vmm_vq_reset(&q.vq);
	ok(pop_fails(&q, EINVAL, "not ready"), "pop from a reset queue: EINVAL");
}

/* Over 4 GiB in one chain needs more than 4 GiB of RAM: the memfd is
 * sparse and nothing is touched but the rings. */
static void test_vq_huge(void)
{
	struct vmm_memory *big = NULL;
	struct lv_error *err = NULL;
	struct rawq q;

	if (vmm_memory_create(VMM_MMIO_HOLE_START + 2 * GiB, &big, &err) < 0) {
		ok(1, "# SKIP no 5 GiB sparse memfd: %s", err->msg);
		lv_error_free(&err);
		return;
	}
	rawq_init(&q, big, 8);
	rawq_desc(&q, 0, 1 * GiB, (uint32_t)(2 * GiB), VRING_DESC_F_NEXT, 1);
	rawq_desc(&q, 1, VMM_MMIO_HOLE_END, (uint32_t)(2 * GiB), 0, 0);
	rawq_avail(&q, 0);
	ok(pop_fails(&q, EINVAL, "4 GiB"), "two 2 GiB buffers: more than 4 GiB in a chain, EINVAL");
	rawq_init(&q, big, 8);
	rawq_desc(&q, 0, VMM_MMIO_HOLE_START - 4096, 8192, 0, 0);
	rawq_avail(&q, 0);
	ok(pop_fails(&q, EFAULT, "across the hole"), "buffer spanning the end of low RAM into the hole: EFAULT");
	vmm_memory_destroy(&big);
}

/* A vCPU rewriting the rings while the device walks them: every chain
 * handed out must still lie in RAM and be consistent, whatever the timing. */
struct scribbler {
	struct rawq *q;
	atomic_bool stop;
};

static void *scribble(void *arg)
{
	struct scribbler *sc = arg;
	uint32_t x = 12345;

	while (!atomic_load(&sc->stop)) {
		uint16_t i;

		x = x * 1103515245 + 12345;
		i = (uint16_t)((x >> 8) % 8);
		switch ((x >> 20) % 4) {
		case 0: __atomic_store_n(&sc->q->desc[i].len, (x >> 4) % 0x2000, __ATOMIC_RELAXED); break;
		case 1: __atomic_store_n(&sc->q->desc[i].next, (uint16_t)((x >> 3) % 10), __ATOMIC_RELAXED); break;
		case 2: __atomic_store_n(&sc->q->desc[i].flags, (uint16_t)((x >> 5) & 3), __ATOMIC_RELAXED); break;
		case 3: __atomic_store_n(&sc->q->avail->ring[i], (uint16_t)((x >> 7) % 9), __ATOMIC_RELAXED); break;
		}
	}
	return NULL;
}

static void test_vq_racing(struct vmm_memory *mem)
{
	struct scribbler sc = { 0 };
	struct lv_error *err = NULL;
	struct vmm_vq_chain c;
	struct rawq q;
	pthread_t t;
	struct timespec t0, t1;
	unsigned long pops = 0, errors = 0, bad = 0, i;

	rawq_init(&q, mem, 8);
	for (i = 0; i < 8; i++)
		rawq_desc(&q, (uint16_t)i, RQ_DATA + i * 0x2000, 0x100, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % 8));
	sc.q = &q;
	atomic_init(&sc.stop, false);
	pthread_create(&t, NULL, scribble, &sc);
	/* 200 ms and 1000 chains at least (a loaded host may be slow to
	 * schedule the scribbler), 5 s at most. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0;; i++) {
		int r;

		if (!(i & 1023)) {
			long ms;

			clock_gettime(CLOCK_MONOTONIC, &t1);
			ms = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
			if ((ms > 200 && pops >= 1000) || ms > 5000)
				break;
		}
		/* The main thread publishes (so that pops happen however the
		 * two threads are scheduled); the scribbler races on contents. */
		if (q.avail->idx == q.vq.last_avail)
			__atomic_store_n(&q.avail->idx, (uint16_t)(q.vq.last_avail + 1 + i % 8), __ATOMIC_RELEASE);
		r = vmm_vq_pop(&q.vq, &c, &err);
		unsigned int k;

		if (r < 0) {
			/* What the transport would do: broken, then a reset. */
			errors++;
			lv_error_free(&err);
			vmm_vq_reset(&q.vq);
			vmm_vq_activate(&q.vq, mem, &err);
			q.avail->idx = 0;
			continue;
		}
		if (r == 0)
			continue;
		pops++;
		for (k = 0; k < (unsigned int)c.n_out + c.n_in; k++)
			if (c.iov[k].iov_len && (c.iov[k].iov_base < (void *)mem->base ||
						 (uint8_t *)c.iov[k].iov_base + c.iov[k].iov_len > mem->base + mem->size))
				bad++;
		if (c.n_out + c.n_in > 8 || c.out_bytes + c.in_bytes > 8 * 0x2000)
			bad++;
		vmm_vq_push(&q.vq, &c, (uint32_t)c.in_bytes, &err);
		lv_error_free(&err);
	}
	atomic_store(&sc.stop, true);
	pthread_join(t, NULL);
	ok(bad == 0 && pops > 0, "racing guest: %lu chains, %lu refused, none outside RAM or inconsistent", pops,
	   errors);
}

int main(void)
{
	struct vmm_memory *mem = NULL;
	struct lv_error *err = NULL;

	if (vmm_memory_create(16 * MiB, &mem, &err) < 0) {
		printf("Bail out! guest RAM: %s\n", err->msg);
		return 1;
	}
	test_vq_activate(mem);
	test_vq_chains(mem);
	test_vq_hostile(mem);
	test_vq_huge();
	test_vq_racing(mem);
	vmm_memory_destroy(&mem);
	return tap_done();
}
