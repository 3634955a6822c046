/* libFuzzer target for what a restoring monitor reads from a snapshot
 * before KVM sees anything: the state blob's shape checks
 * (vmm_snapshot_check) and the console's virtio state, restored into a real
 * device over real (64 MiB, untouched) guest RAM (vmm_console_restore:
 * features, status, queue sizes and addresses).
 *
 * Input: [0] vCPUs - 1 (mod 4), [1..2] an offset, the rest is laid over a
 * well-formed skeleton blob at that offset (mod its size), so mutations
 * land in every field without first having to rediscover the header; the
 * input's last sizeof(struct vmm_console_state) bytes are also restored
 * into a console device as they are.
 *
 * An accepted blob must have the size its header says; a restored console
 * must have every ready queue inside guest RAM.
 * Replay a file: fuzz_snapshot FILE... */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../vmm/snapshot.h"
#include "../../vmm/virtio_console.h"

#define RAM (64ULL << 20)
#define PORT "org.lightvm.ctl"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vmm_memory *mem;
static struct vmm_loop *loop;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lv_error *err = NULL;
	unsigned int nvcpus;
	size_t len, off;
	uint8_t *blob;

	if (size < 3)
		return 0;
	if (!mem && (vmm_memory_create(RAM, &mem, &err) < 0 || vmm_loop_create(&loop, &err) < 0))
		abort();
	nvcpus = (unsigned int)(data[0] % 4) + 1;
	len = vmm_snapshot_state_size(nvcpus);
	blob = malloc(len);
	if (!blob)
		return 0;
	vmm_snapshot_skeleton(blob, nvcpus, 128, PORT);
	off = ((size_t)data[1] | (size_t)data[2] << 8) * 8 % len;
	size -= 3;
	memcpy(blob + off, data + 3, size < len - off ? size : len - off);
	if (vmm_snapshot_check(blob, len, &err) == 0) {
		uint64_t total;
		memcpy(&total, blob + 24, sizeof(total));
		if (total != len)
			abort();
	}
	lv_error_free(&err);

	/* The console's part, from the input's tail as a raw state. */
	if (size >= sizeof(struct vmm_console_state)) {
		struct vmm_console_state st;
		struct vmm_console *c = NULL;
		int sp[2];

		memcpy(&st, data + 3 + size - sizeof(st), sizeof(st));
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0) {
			if (vmm_console_create(mem, 0xd0000000ULL, 5, false, loop, sp[0], PORT, &c, &err) == 0) {
				if (vmm_console_restore(c, &st, &err) == 0) {
					const struct vmm_virtio_mmio *m = vmm_console_mmio(c);
					for (unsigned int q = 0; q < VMM_VIRTIO_MAX_QUEUES; q++) {
						const struct vmm_vq *vq = &m->vqs[q];
						if (vq->ready && (!vmm_gpa_to_hva(mem, vq->desc_gpa, 16ULL * vq->size) ||
								  !vmm_gpa_to_hva(mem, vq->used_gpa, 6 + 8ULL * vq->size)))
							abort();
					}
				}
				vmm_console_destroy(&c);
			}
			close(sp[0]);
			close(sp[1]);
		}
		lv_error_free(&err);
	}
	free(blob);
	return 0;
}
