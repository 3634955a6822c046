/* libFuzzer target for the split-virtqueue walker (vmm/virtqueue.c), the
 * code that reads what a hostile guest puts in its rings.
 *
 * Input:
 *   [0]      queue size: 1 << (byte % 9), so 1..256
 *   [1..6]   the three ring addresses, 16 bits each (alignment and bounds are
 *            the walker's to check)
 *   [7]      n: the number of operation bytes that follow
 *   [8..8+n) operations, one byte each (some take argument bytes from the
 *            end of the operations, see below)
 *   rest     guest RAM from address 0 (64 KiB; the rest stays zero)
 *
 * Operations (byte % 8): pop, push the oldest popped chain, unpop, a guest
 * store (3 argument bytes: offset, value) as a vCPU could make between two
 * device steps, has_avail/wants_interrupt, copy out of and into a held
 * chain, reset and activate again, and a burst of pops.  A failed pop is
 * where the transport would mark the device broken: the run stops there.
 *
 * Every chain handed out must hold at most VMM_VQ_MAX_CHAIN buffers, lie
 * inside guest RAM and add up to the byte counts it reports.
 * Replay a file: fuzz_virtqueue FILE... */
#include <stdlib.h>
#include <string.h>

#include "../../vmm/virtqueue.h"

#define RAM_SIZE   0x10000ULL
#define MAX_HELD   4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_state {
	struct vmm_memory *mem;
	struct vmm_vq vq;
	struct vmm_vq_chain held[MAX_HELD];
	unsigned int n_held;
	bool just_popped;
};

static void check_chain(const struct vmm_memory *mem, const struct vmm_vq_chain *c, uint16_t size)
{
	uint64_t out = 0, in = 0;
	unsigned int i;

	if (c->n_out + c->n_in > VMM_VQ_MAX_CHAIN || c->n_out + c->n_in > size || c->head >= size ||
	    c->out_bytes + c->in_bytes > UINT32_MAX)
		abort();
	for (i = 0; i < (unsigned int)c->n_out + c->n_in; i++) {
		const uint8_t *p = c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len;

		if (len && (!p || p < mem->base || len > RAM_SIZE || p - mem->base > (ptrdiff_t)(RAM_SIZE - len)))
			abort();
		if (i < c->n_out)
			out += len;
		else
			in += len;
	}
	if (out != c->out_bytes || in != c->in_bytes)
		abort();
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Returns false once the ring broke a rule (the device would be broken). */
static bool pop_one(struct fuzz_state *s)
{
	struct vmm_vq_chain c;
	struct lv_error *err = NULL;
	int r = vmm_vq_pop(&s->vq, &c, &err);

	if (r < 0) {
		if (!err || !err->msg)
			abort();
		lv_error_free(&err);
		return false;
	}
	s->just_popped = r == 1;
	if (r == 0)
		return true;
	check_chain(s->mem, &c, s->vq.size);
	if (s->n_held == MAX_HELD) {
		/* Full: give the chain back unused, as a device with no room. */
		vmm_vq_unpop(&s->vq);
		s->just_popped = false;
		return true;
	}
	s->held[s->n_held++] = c;
	return true;
}

static bool push_oldest(struct fuzz_state *s, uint8_t arg)
{
	struct lv_error *err = NULL;
	uint32_t written;

	if (!s->n_held)
		return true;
	/* Mostly what fits; sometimes one byte too many, which must fail. */
	written = (uint32_t)(s->held[0].in_bytes * arg / 255);
	if (arg == 0xff && s->held[0].in_bytes < UINT32_MAX)
		written = (uint32_t)s->held[0].in_bytes + 1;
	if (vmm_vq_push(&s->vq, &s->held[0], written, &err) < 0) {
		if (written <= s->held[0].in_bytes)
			abort();
		lv_error_free(&err);
	}
	memmove(&s->held[0], &s->held[1], (s->n_held - 1) * sizeof(s->held[0]));
	s->n_held--;
	return true;
}

static void copy_held(struct fuzz_state *s, uint8_t arg)
{
	static uint8_t buf[4096];
	const struct vmm_vq_chain *c;
	size_t off, n;

	if (!s->n_held)
		return;
	c = &s->held[arg % s->n_held];
	off = (size_t)arg * 7;
	n = vmm_vq_chain_to_host(c, off, buf, sizeof(buf));
	if (n > sizeof(buf) || n > c->out_bytes)
		abort();
	n = vmm_vq_chain_from_host(c, off, buf, sizeof(buf));
	if (n > sizeof(buf) || n > c->in_bytes)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One guest RAM for the whole run: a memfd per input would dominate. */
	static struct vmm_memory *mem;
	struct fuzz_state s = { 0 };
	struct lv_error *err = NULL;
	const uint8_t *ops, *args, *end;
	size_t n_ops, i;

	if (size < 8)
		return 0;
	if (!mem && vmm_memory_create(RAM_SIZE, &mem, &err) < 0)
		abort();
	s.mem = mem;
	n_ops = data[7];
	if (n_ops > size - 8)
		n_ops = size - 8;
	ops = data + 8;
	args = ops + n_ops;
	end = data + size;
	memset(mem->base, 0, RAM_SIZE);
	memcpy(mem->base, args, (size_t)(end - args) < RAM_SIZE ? (size_t)(end - args) : RAM_SIZE);

	s.vq = (struct vmm_vq){
		.size = (uint16_t)(1U << (data[0] % 9)),
		.desc_gpa = le16(data + 1),
		.avail_gpa = le16(data + 3),
		.used_gpa = le16(data + 5),
	};
	if (vmm_vq_activate(&s.vq, mem, &err) < 0) {
		lv_error_free(&err);
		return 0;
	}
	for (i = 0; i < n_ops; i++) {
		uint8_t op = ops[i], arg = (uint8_t)(op >> 3);
		bool was_pop = s.just_popped;
		bool alive = true;
		int k;

		switch (op % 8) {
		case 0:
			alive = pop_one(&s);
			break;
		case 1:
			alive = push_oldest(&s, (uint8_t)(arg * 8 + 7));
			break;
		case 2:
			/* Only right after a successful pop, as the contract says. */
			if (was_pop && s.n_held) {
				vmm_vq_unpop(&s.vq);
				s.n_held--;
			}
			break;
		case 3:
			/* A guest store: its 3 argument bytes come from the RAM
			 * image, so that the fuzzer steers them too. */
			if (args + 3 <= end) {
				mem->base[le16(args) % RAM_SIZE] = args[2];
				args += 3;
			}
			break;
		case 4:
			(void)vmm_vq_has_avail(&s.vq);
			(void)vmm_vq_wants_interrupt(&s.vq);
			break;
		case 5:
			copy_held(&s, arg);
			break;
		case 6:
			/* A reset drops what the device held. */
			vmm_vq_reset(&s.vq);
			s.n_held = 0;
			if (vmm_vq_activate(&s.vq, mem, &err) < 0)
				abort(); /* it was accepted before and nothing moved */
			break;
		case 7:
			for (k = 0; k <= arg && alive; k++)
				alive = pop_one(&s) && push_oldest(&s, 0x80);
			break;
		}
		if (op % 8 != 0)
			s.just_popped = false;
		if (!alive)
			break;
	}
	lv_error_free(&err);
	return 0;
}
