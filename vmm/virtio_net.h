/* virtio-net (virtio 1.x, 5.1) over a tap fd: receiveq 0, transmitq 1, no
 * control queue.
 *
 * Features offered: VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS (link up; down
 * once the host fd fails) and VIRTIO_NET_F_MTU with VMM_NET_MTU.  No
 * checksum or segmentation offload (no CSUM, GUEST_CSUM, TSO, UFO): every
 * frame travels finished and its header is all zeroes.
 *
 * Not VIRTIO_NET_F_MRG_RXBUF: a frame spread over several receive chains
 * must be published to the driver with one used->idx update (an SMP guest
 * polling the ring would otherwise take a half-published frame, drop it and
 * lose track of the rest), and vmm_vq_push() publishes each chain on its
 * own.  Instead the MTU feature keeps the guest at VMM_NET_MTU, so that
 * Linux's receive buffers (one chain of header + 1518 bytes each, without
 * MRG_RXBUF) hold every frame; a frame larger than the chain it would go
 * into is dropped and counted.  Keep the tap's MTU at VMM_NET_MTU too.
 *
 * The host fd carries either frames with a 12-byte virtio_net_hdr_v1 in
 * front (vnet_hdr: a tap from vmm_tap_open(..., true, ...)) or bare frames
 * (a SOCK_DGRAM/SOCK_SEQPACKET socket, a tap without IFF_VNET_HDR).  The
 * header the guest wrote is checked but never passed on: the device writes
 * its own (zeroed) one, so the host kernel never parses guest input there.
 *
 * Transmit happens when the driver notifies the transmit queue, one frame
 * per chain (its readable part: header then frame, at most
 * VMM_NET_MAX_FRAME bytes of frame), written with one writev.  When the fd
 * pushes back (EAGAIN) the chain waits and the loop watches for EPOLLOUT.
 * Receive happens on the loop's thread when the fd is readable and the
 * driver has posted a buffer: readv straight into the chain; with no
 * buffers, EPOLLIN is off (the host queues or drops) until the driver
 * posts some and notifies the receive queue. */
#ifndef VMM_VIRTIO_NET_H
#define VMM_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "../lib/error.h"
#include "loop.h"
#include "memory.h"
#include "virtio_mmio.h"

#define VMM_NET_RXQ         0
#define VMM_NET_TXQ         1
#define VMM_NET_HDR_LEN     12U      /* struct virtio_net_hdr_v1 */
#define VMM_NET_MTU         1500U
/* The largest frame (without the header) taken from a transmit chain:
 * what a tap accepts at its largest MTU.  Larger ones are dropped. */
#define VMM_NET_MAX_FRAME   65550U
#define VMM_NET_QUEUE_SIZE  VMM_VQ_MAX_SIZE

struct vmm_net;

struct vmm_net_stats {
	unsigned long rx_frames, tx_frames;
	uint64_t rx_bytes, tx_bytes;     /* frame bytes, headers not counted */
	unsigned long rx_dropped;        /* host frames not delivered: larger than the
					  * buffer, runts, offload headers from the tap */
	unsigned long tx_dropped;        /* guest frames not sent: too short or long,
					  * an offload header, a failed write */
	unsigned long host_errors;       /* failed reads/writes/epoll changes on the host side */
	bool host_dead;                  /* the fd hung up or failed: link down */
};

/* tap_fd: the host side (see above); the device works on its own
 * duplicate, made nonblocking (a flag shared with the caller's fd), and
 * registers it with loop, which must be run by the device thread.  With
 * ioeventfd, the transport's notify_fd is registered with loop too.  mac:
 * the guest's address, offered with VIRTIO_NET_F_MAC. */
int vmm_net_create(const struct vmm_memory *mem, uint64_t base, unsigned int irq, bool ioeventfd,
		   struct vmm_loop *loop, int tap_fd, bool vnet_hdr, const uint8_t mac[6],
		   struct vmm_net **out, struct lv_error **err);
struct vmm_virtio_mmio *vmm_net_mmio(struct vmm_net *n);
void vmm_net_get_stats(struct vmm_net *n, struct vmm_net_stats *out);
/* NULL-safe, sets *n to NULL.  Call it from the loop's thread or once the
 * loop has stopped: it removes the fds from the loop. */
void vmm_net_destroy(struct vmm_net **n);

#endif
