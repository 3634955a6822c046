/* virtio-blk (virtio 1.x, 5.2) over an image fd: one request queue,
 * requests served synchronously when the driver notifies.
 *
 * Features offered: VIRTIO_BLK_F_SEG_MAX and VIRTIO_BLK_F_SIZE_MAX (a
 * request has at most VMM_BLK_SEG_MAX data segments of at most
 * VMM_BLK_SIZE_MAX bytes each, so it fits a chain of VMM_VQ_MAX_CHAIN
 * descriptors with the header and the status byte), VIRTIO_BLK_F_RO when
 * read-only, VIRTIO_BLK_F_FLUSH when writable.  Sectors are 512 bytes (no
 * BLK_SIZE, no geometry, no topology, no discard, one queue).  Writable,
 * the device is write-through unless the driver negotiates FLUSH.
 *
 * Requests: IN, OUT, FLUSH and GET_ID; anything else is UNSUPP.  A request
 * that breaks the rules but still has a writable status byte at its end
 * (short header, data on the wrong side, a length that is not a multiple of
 * 512, a sector range beyond the capacity) completes with IOERR; a chain
 * with no writable byte at all marks the device broken.  Every completed
 * request reports all its writable bytes as written (the status byte is the
 * last of them), the data part zero-filled when it was not read into. */
#ifndef VMM_VIRTIO_BLK_H
#define VMM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "../lib/error.h"
#include "loop.h"
#include "memory.h"
#include "virtio_mmio.h"

#define VMM_BLK_SECTOR     512U
#define VMM_BLK_SEG_MAX    (VMM_VQ_MAX_CHAIN - 2)
#define VMM_BLK_SIZE_MAX   (128U * 1024)
/* The most data one request may move (SEG_MAX * SIZE_MAX, under 8 MiB). */
#define VMM_BLK_MAX_REQ    ((uint64_t)VMM_BLK_SEG_MAX * VMM_BLK_SIZE_MAX)
#define VMM_BLK_QUEUE_SIZE VMM_VQ_MAX_SIZE
#define VMM_BLK_ID_BYTES   20

struct vmm_blk;

struct vmm_blk_stats {
	unsigned long reqs;      /* requests completed */
	unsigned long ioerr;     /* of which with IOERR */
	unsigned long unsupp;    /* of which with UNSUPP */
	uint64_t bytes_read, bytes_written;
};

/* image_fd: a regular file or a block device; the device works on its own
 * duplicate, so the caller may close image_fd afterwards.  Its capacity is
 * the size rounded down to 512 bytes, fixed at creation.  read_only false
 * needs an fd opened for writing.  serial: up to 20 bytes, what GET_ID
 * answers (NULL: empty).  Requests are served in the notify callback; with
 * ioeventfd that runs on loop's thread (the transport's notify_fd is
 * registered there), without it loop may be NULL. */
int vmm_blk_create(const struct vmm_memory *mem, uint64_t base, unsigned int irq, bool ioeventfd,
		   struct vmm_loop *loop, int image_fd, bool read_only, const char *serial,
		   struct vmm_blk **out, struct lv_error **err);
struct vmm_virtio_mmio *vmm_blk_mmio(struct vmm_blk *b);
/* Capacity in 512-byte sectors. */
uint64_t vmm_blk_capacity(const struct vmm_blk *b);
void vmm_blk_get_stats(struct vmm_blk *b, struct vmm_blk_stats *out);
/* NULL-safe, sets *b to NULL; closes the device's duplicate of the image.
 * With ioeventfd, call it from the loop's thread or once the loop has
 * stopped: it removes notify_fd from the loop. */
void vmm_blk_destroy(struct vmm_blk **b);

#endif
