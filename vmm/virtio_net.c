/* virtio-net over a tap fd; see virtio_net.h.
 *
 * Everything below runs with mmio.lock held: the transport's callbacks
 * (activate, reset, notify: vCPU threads, or the loop via notify_fd) are
 * called with it, and the loop callback for the host fd takes it.
 *
 * The loop's interest in the host fd follows the queues: EPOLLIN while the
 * driver has a receive buffer for us (one held, or one to pop), EPOLLOUT
 * while transmission stopped with chains left (EAGAIN, or the budget of
 * one call spent).  Nothing while the driver is not live or the fd failed:
 * level-triggered epoll must never wake us for something we cannot act on. */
#include "virtio_net.h"

#include <endian.h>
#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

_Static_assert(sizeof(struct virtio_net_hdr_v1) == VMM_NET_HDR_LEN, "virtio 1.x net header is 12 bytes");

#define HDR_FLAGS    offsetof(struct virtio_net_hdr_v1, flags)
#define HDR_GSO_TYPE offsetof(struct virtio_net_hdr_v1, gso_type)
#define HDR_NUM_BUFS offsetof(struct virtio_net_hdr_v1, num_buffers)

/* mac, status, max_virtqueue_pairs, mtu: the fields up to the ones our
 * features cover. */
#define NET_CONFIG_SIZE (offsetof(struct virtio_net_config, mtu) + 2)
#define NET_CFG_STATUS  offsetof(struct virtio_net_config, status)

/* Work per call, so that one busy direction cannot starve the other (or
 * the other devices on the loop); what is left is picked up through
 * level-triggered epoll. */
#define NET_RX_BUDGET 64
#define NET_TX_BUDGET 256

/* One chain's worth of buffers plus the header and the overflow byte. */
#define NET_IOV_MAX (VMM_VQ_MAX_CHAIN + 2)

struct vmm_net {
	struct vmm_virtio_mmio mmio;
	struct vmm_loop *loop;
	int fd;                       /* our duplicate of the host fd */
	bool vnet_hdr;
	bool is_socket;               /* sendmsg(MSG_NOSIGNAL) rather than writev */
	bool notify_registered;
	uint8_t config[NET_CONFIG_SIZE];

	uint32_t interest;            /* what the loop watches on fd */
	bool tx_more;                 /* transmission stopped with chains left */
	/* A receive chain popped before the read, kept until a frame fills
	 * it: popping again for every EAGAIN would re-walk the ring. */
	bool rx_have;
	struct vmm_vq_chain rx_chain, tx_chain;
	struct vmm_net_stats stats;
};

static struct vmm_vq *rxq(struct vmm_net *n)
{
	return &n->mmio.vqs[VMM_NET_RXQ];
}

static struct vmm_vq *txq(struct vmm_net *n)
{
	return &n->mmio.vqs[VMM_NET_TXQ];
}

static void set_interest(struct vmm_net *n, uint32_t ev)
{
	struct lv_error *err = NULL;

	if (ev == n->interest)
		return;
	/* Only epoll_ctl can fail here (ENOMEM): keep the old interest and
	 * try again on the next change; the loop may wake us in vain. */
	if (vmm_loop_mod(n->loop, n->fd, ev, &err) < 0) {
		n->stats.host_errors++;
		lv_error_free(&err);
		return;
	}
	n->interest = ev;
}

static void update_interest(struct vmm_net *n)
{
	uint32_t ev = 0;

	if (vmm_virtio_mmio_live(&n->mmio) && !n->stats.host_dead) {
		if (rxq(n)->ready && (n->rx_have || vmm_vq_has_avail(rxq(n))))
			ev |= EPOLLIN;
		if (n->tx_more)
			ev |= EPOLLOUT;
	}
	set_interest(n, ev);
}

/* The host side is gone: stop watching it and tell the driver the link is
 * down.  Transmission goes on dropping frames, so the guest never waits. */
static void host_failed(struct vmm_net *n)
{
	uint16_t down = 0;

	if (n->stats.host_dead)
		return;
	n->stats.host_dead = true;
	memcpy(n->config + NET_CFG_STATUS, &down, sizeof(down));
	vmm_virtio_mmio_config_changed(&n->mmio);
}

/* ---- transmit ----------------------------------------------------------- */

static ssize_t host_write(struct vmm_net *n, struct iovec *iov, unsigned int cnt)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = cnt };

	/* A socket whose peer went away must not SIGPIPE the VMM. */
	if (n->is_socket)
		return sendmsg(n->fd, &msg, MSG_NOSIGNAL);
	return writev(n->fd, iov, (int)cnt);
}

/* Sends the frame of chain c.  Returns 1 when the chain is done with
 * (sent or dropped), 0 when the host pushed back, negative errno when the
 * chain breaks the rules. */
static int tx_one(struct vmm_net *n, const struct vmm_vq_chain *c, struct lv_error **err)
{
	static const uint8_t zero_hdr[VMM_NET_HDR_LEN];
	struct iovec iov[NET_IOV_MAX];
	uint8_t hdr[VMM_NET_HDR_LEN];
	uint64_t len;
	unsigned int k = 0;
	ssize_t w;

	if (c->n_in)
		return lv_err_msg(err, EINVAL, "transmit chain at descriptor %u has device-writable buffers",
				  c->head);
	if (c->out_bytes < VMM_NET_HDR_LEN)
		return lv_err_msg(err, EINVAL, "transmit chain at descriptor %u is shorter than the header",
				  c->head);
	len = c->out_bytes - VMM_NET_HDR_LEN;
	(void)vmm_vq_chain_to_host(c, 0, hdr, sizeof(hdr));
	/* Offloads were not offered: a frame that asks for a checksum or for
	 * segmentation would leave broken.  Other flag bits mean nothing on
	 * transmit and are ignored. */
	if ((hdr[HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) || hdr[HDR_GSO_TYPE] != VIRTIO_NET_HDR_GSO_NONE ||
	    len < ETH_HLEN || len > VMM_NET_MAX_FRAME || n->stats.host_dead) {
		n->stats.tx_dropped++;
		return 1;
	}
	if (n->vnet_hdr)
		iov[k++] = (struct iovec){ .iov_base = (void *)zero_hdr, .iov_len = sizeof(zero_hdr) };
	k += vmm_iov_slice(c->iov, c->n_out, VMM_NET_HDR_LEN, len, iov + k, NET_IOV_MAX - k);
	w = host_write(n, iov, k);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (w < 0 || (uint64_t)w != len + (n->vnet_hdr ? VMM_NET_HDR_LEN : 0)) {
		n->stats.tx_dropped++;
		n->stats.host_errors++;
		return 1;
	}
	n->stats.tx_frames++;
	n->stats.tx_bytes += len;
	return 1;
}

static int net_tx(struct vmm_net *n, struct lv_error **err)
{
	struct vmm_vq *vq = txq(n);
	bool pushed = false;
	unsigned int i;
	int r = 0;

	n->tx_more = false;
	if (!vq->ready)
		return 0;
	for (i = 0; i < NET_TX_BUDGET; i++) {
		r = vmm_vq_pop(vq, &n->tx_chain, err);
		if (r <= 0)
			break;
		r = tx_one(n, &n->tx_chain, err);
		if (r < 0)
			break;
		if (r == 0) {
			/* The host is full: this chain goes first next time. */
			vmm_vq_unpop(vq);
			n->tx_more = true;
			break;
		}
		r = vmm_vq_push(vq, &n->tx_chain, 0, err);
		if (r < 0)
			break;
		pushed = true;
	}
	if (i == NET_TX_BUDGET && vmm_vq_has_avail(vq))
		n->tx_more = true;
	if (pushed)
		vmm_virtio_mmio_interrupt(&n->mmio, VMM_NET_TXQ, VMM_VIRTIO_INT_VRING);
	return r < 0 ? r : 0;
}

/* ---- receive ------------------------------------------------------------ */

/* Takes the next receive chain, if the driver has posted one: 1, 0 (none),
 * or negative errno when the chain breaks the rules. */
static int rx_take(struct vmm_net *n, struct lv_error **err)
{
	struct vmm_vq_chain *c = &n->rx_chain;
	int r;

	if (n->rx_have)
		return 1;
	r = vmm_vq_pop(rxq(n), c, err);
	if (r <= 0)
		return r;
	/* Receive buffers are device-writable only and hold at least the
	 * header (virtio 1.x, 5.1.6.3.1). */
	if (c->n_out || c->in_bytes < VMM_NET_HDR_LEN || c->in_bytes > UINT32_MAX)
		return lv_err_msg(err, EINVAL,
				  "receive chain at descriptor %u: %u readable buffers, %llu writable bytes",
				  c->head, c->n_out, (unsigned long long)c->in_bytes);
	n->rx_have = true;
	return 1;
}

/* Reads one frame from the host into the held chain.  Returns 1 when a
 * frame was consumed (delivered or dropped), 0 when there is none (or the
 * fd failed), negative errno for a guest-side failure. */
static int rx_one(struct vmm_net *n, struct lv_error **err)
{
	const struct vmm_vq_chain *c = &n->rx_chain;
	struct iovec iov[NET_IOV_MAX];
	uint8_t tap_hdr[VMM_NET_HDR_LEN], overflow, hdr[VMM_NET_HDR_LEN] = { 0 };
	uint64_t room = c->in_bytes - VMM_NET_HDR_LEN, frame;
	uint16_t one = htole16(1);
	unsigned int k = 0;
	ssize_t got;
	int r;

	if (n->vnet_hdr)
		iov[k++] = (struct iovec){ .iov_base = tap_hdr, .iov_len = sizeof(tap_hdr) };
	/* The frame goes straight into guest RAM after the header, which we
	 * write ourselves; one byte past the chain tells a frame that did
	 * not fit from one that fit exactly. */
	k += vmm_iov_slice(c->iov, c->n_in, VMM_NET_HDR_LEN, room, iov + k, NET_IOV_MAX - 1 - k);
	iov[k++] = (struct iovec){ .iov_base = &overflow, .iov_len = 1 };
	got = readv(n->fd, iov, (int)k);
	if (got < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		/* A frame of its own that failed (EINVAL, EFAULT, EMSGSIZE, a
		 * tap's short buffer) would not repeat; anything else is the
		 * fd, and polling it again would spin. */
		n->stats.host_errors++;
		if (errno == EINVAL || errno == EFAULT || errno == EMSGSIZE) {
			n->stats.rx_dropped++;
			return 1;
		}
		host_failed(n);
		return 0;
	}
	if (got == 0) {
		/* End of file: a stream or seqpacket peer hung up. */
		host_failed(n);
		return 0;
	}
	if (n->vnet_hdr && (size_t)got < VMM_NET_HDR_LEN) {
		n->stats.rx_dropped++;
		return 1;
	}
	frame = (uint64_t)got - (n->vnet_hdr ? VMM_NET_HDR_LEN : 0);
	/* A tap reports a frame's full length even when the buffer was
	 * shorter, a datagram socket what fit: both exceed room then.  We
	 * offered no offloads, so a tap header asking for them is a frame we
	 * cannot deliver as it is. */
	if (frame > room || frame < ETH_HLEN ||
	    (n->vnet_hdr && ((tap_hdr[HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
			     tap_hdr[HDR_GSO_TYPE] != VIRTIO_NET_HDR_GSO_NONE))) {
		n->stats.rx_dropped++;
		return 1;
	}
	/* No GUEST_CSUM: flags stay 0 (not even DATA_VALID, virtio 1.x
	 * 5.1.6.4.1); num_buffers is 1 without MRG_RXBUF. */
	memcpy(hdr + HDR_NUM_BUFS, &one, sizeof(one));
	(void)vmm_vq_chain_from_host(c, 0, hdr, sizeof(hdr));
	r = vmm_vq_push(rxq(n), c, (uint32_t)(VMM_NET_HDR_LEN + frame), err);
	if (r < 0)
		return r;
	n->rx_have = false;
	n->stats.rx_frames++;
	n->stats.rx_bytes += frame;
	return 1;
}

static int net_rx(struct vmm_net *n, struct lv_error **err)
{
	unsigned long before = n->stats.rx_frames;
	unsigned int i;
	int r = 0;

	if (!rxq(n)->ready)
		return 0;
	for (i = 0; i < NET_RX_BUDGET && !n->stats.host_dead; i++) {
		r = rx_take(n, err);
		if (r <= 0)
			break;
		r = rx_one(n, err);
		if (r <= 0)
			break;
	}
	if (n->stats.rx_frames != before)
		vmm_virtio_mmio_interrupt(&n->mmio, VMM_NET_RXQ, VMM_VIRTIO_INT_VRING);
	return r < 0 ? r : 0;
}

/* ---- transport callbacks and the loop ----------------------------------- */

static void net_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct vmm_net *n = dev;

	memcpy(data, n->config + off, len);
}

static int net_activate(void *dev, struct lv_error **err)
{
	struct vmm_net *n = dev;
	int r;

	/* Kicks before DRIVER_OK were dropped by the transport: look now. */
	r = net_tx(n, err);
	update_interest(n);
	return r;
}

static void net_reset(void *dev)
{
	struct vmm_net *n = dev;

	/* The queues are about to be reset: forget the chains taken from them. */
	n->rx_have = false;
	n->tx_more = false;
	set_interest(n, 0);
}

static int net_notify(void *dev, unsigned int q, struct lv_error **err)
{
	struct vmm_net *n = dev;
	int r = 0;

	/* Receive buffers posted: update_interest turns EPOLLIN back on and
	 * the loop reads when the host has something. */
	if (q == VMM_NET_TXQ)
		r = net_tx(n, err);
	update_interest(n);
	return r;
}

static void net_host_ready(void *opaque, uint32_t events)
{
	struct vmm_net *n = opaque;
	struct lv_error *err = NULL;
	unsigned long rx_before;
	int r = 0;

	pthread_mutex_lock(&n->mmio.lock);
	if (!vmm_virtio_mmio_live(&n->mmio))
		goto out;
	rx_before = n->stats.rx_frames + n->stats.rx_dropped;
	if (events & EPOLLOUT)
		r = net_tx(n, &err);
	if (r == 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (n->interest & EPOLLIN))
		r = net_rx(n, &err);
	if (r < 0) {
		lv_err_wrap(&err, "virtio-net queue %d", VMM_NET_RXQ);
		vmm_virtio_mmio_set_broken(&n->mmio, &err);
		goto out;
	}
	/* A hang-up or error that left nothing to read: the fd is done for,
	 * and epoll would report it on every wait. */
	if ((events & (EPOLLHUP | EPOLLERR)) && n->stats.rx_frames + n->stats.rx_dropped == rx_before)
		host_failed(n);
out:
	update_interest(n);
	pthread_mutex_unlock(&n->mmio.lock);
}

static void net_notify_fd_ready(void *opaque, uint32_t events)
{
	struct vmm_net *n = opaque;

	vmm_virtio_mmio_notify_all(&n->mmio);
}

static const struct vmm_virtio_dev_ops net_ops = {
	.name = "net",
	.device_id = VIRTIO_ID_NET,
	.features = (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) | (1ULL << VIRTIO_NET_F_MTU),
	.num_queues = 2,
	.queue_max = VMM_NET_QUEUE_SIZE,
	.config_size = NET_CONFIG_SIZE,
	.config_read = net_config_read,
	.config_write = NULL,
	.activate = net_activate,
	.reset = net_reset,
	.notify = net_notify,
};

int vmm_net_create(const struct vmm_memory *mem, uint64_t base, unsigned int irq, bool ioeventfd,
		   struct vmm_loop *loop, int tap_fd, bool vnet_hdr, const uint8_t mac[6],
		   struct vmm_net **out, struct lv_error **err)
{
	uint16_t status = htole16(VIRTIO_NET_S_LINK_UP), pairs = htole16(1), mtu = htole16(VMM_NET_MTU);
	struct vmm_net *n;
	struct stat st;
	int fl, r;

	if (!loop || !mac)
		return lv_err_msg(err, EINVAL, "net: a loop and a MAC address are required");
	if (fstat(tap_fd, &st) < 0)
		return lv_err(err, errno, "net: host fd %d", tap_fd);
	n = calloc(1, sizeof(*n));
	if (!n)
		return lv_err(err, ENOMEM, "net: allocating the device");
	n->loop = loop;
	n->vnet_hdr = vnet_hdr;
	n->is_socket = S_ISSOCK(st.st_mode);
	memcpy(n->config, mac, 6);
	memcpy(n->config + NET_CFG_STATUS, &status, 2);
	memcpy(n->config + offsetof(struct virtio_net_config, max_virtqueue_pairs), &pairs, 2);
	memcpy(n->config + offsetof(struct virtio_net_config, mtu), &mtu, 2);

	/* Our own descriptor, so that the caller's may be closed whenever. */
	n->fd = fcntl(tap_fd, F_DUPFD_CLOEXEC, 3);
	if (n->fd < 0) {
		r = lv_err(err, errno, "net: duplicating host fd %d", tap_fd);
		goto fail_free;
	}
	/* The device thread must never block on the host. */
	fl = fcntl(n->fd, F_GETFL);
	if (fl < 0 || fcntl(n->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		r = lv_err(err, errno, "net: making host fd %d nonblocking", tap_fd);
		goto fail_close;
	}
	r = vmm_virtio_mmio_init(&n->mmio, &net_ops, n, mem, base, irq, ioeventfd, err);
	if (r < 0)
		goto fail_close;
	r = vmm_loop_add(loop, n->fd, 0, net_host_ready, n, err);
	if (r < 0)
		goto fail_fini;
	if (n->mmio.notify_fd >= 0) {
		r = vmm_loop_add(loop, n->mmio.notify_fd, EPOLLIN, net_notify_fd_ready, n, err);
		if (r < 0)
			goto fail_del;
		n->notify_registered = true;
	}
	*out = n;
	return 0;

fail_del:
	vmm_loop_del(loop, n->fd);
fail_fini:
	vmm_virtio_mmio_fini(&n->mmio);
fail_close:
	close(n->fd);
fail_free:
	free(n);
	return lv_err_wrap(err, "virtio-net at 0x%llx", (unsigned long long)base);
}

struct vmm_virtio_mmio *vmm_net_mmio(struct vmm_net *n)
{
	return &n->mmio;
}

void vmm_net_get_stats(struct vmm_net *n, struct vmm_net_stats *out)
{
	pthread_mutex_lock(&n->mmio.lock);
	*out = n->stats;
	pthread_mutex_unlock(&n->mmio.lock);
}

void vmm_net_destroy(struct vmm_net **np)
{
	struct vmm_net *n = np ? *np : NULL;

	if (!n)
		return;
	if (n->notify_registered)
		vmm_loop_del(n->loop, n->mmio.notify_fd);
	vmm_loop_del(n->loop, n->fd);
	vmm_virtio_mmio_fini(&n->mmio);
	close(n->fd);
	free(n);
	*np = NULL;
}
