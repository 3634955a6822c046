/* virtio-console, multiport, one named port bridged to a host socket; see
 * virtio_console.h for the protocol and the host-side behaviour. */
#include "virtio_console.h"

#include <fcntl.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

enum {
	Q_RX0, Q_TX0,   /* port 0: never added, its queues stay unused */
	Q_CRX, Q_CTX,   /* control: device->guest, guest->device */
	Q_RX1, Q_TX1,   /* the named port */
	CONSOLE_QUEUES,
};

#define CONSOLE_MAX_PORTS 2U
#define CONSOLE_QUEUE_MAX 128
/* Control messages waiting for a control rx buffer.  The guest triggers at
 * most a few per handshake; a guest that repeats DEVICE_READY endlessly
 * gets the rest dropped (and counted). */
#define CTRL_PENDING      8
/* Chains handled per notification on the device thread before yielding to
 * the other devices of the loop; the rest is picked up on the next round. */
#define CONSOLE_BUDGET    (2 * CONSOLE_QUEUE_MAX)

struct ctrl_msg {
	uint16_t event, value;
	bool with_name;
};

struct vmm_console {
	struct vmm_virtio_mmio mmio;
	struct vmm_loop *loop;
	int host_fd;
	char name[VMM_CONSOLE_NAME_MAX + 1];
	size_t name_len;
	struct virtio_console_config config;
	uint32_t interest;            /* what host_fd is registered for */

	/* Driver state: cleared by a reset. */
	bool port_ready;              /* the guest accepted the port */
	struct ctrl_msg pending[CTRL_PENDING];
	unsigned int n_pending;
	bool tx_held;                 /* tx_chain is popped, tx_off bytes of it sent */
	bool tx_more;                 /* the tx budget ran out with chains left */
	struct vmm_vq_chain tx_chain;
	uint64_t tx_off;

	struct vmm_console_stats stats;
};

static struct vmm_vq *vq(struct vmm_console *c, unsigned int q)
{
	return &c->mmio.vqs[q];
}

static bool host_connected(const struct vmm_console *c)
{
	return !c->stats.host_eof && !c->stats.host_dead;
}

static void queue_ctrl(struct vmm_console *c, uint16_t event, uint16_t value, bool with_name)
{
	if (c->n_pending == CTRL_PENDING) {
		c->stats.bad_control++;
		return;
	}
	c->pending[c->n_pending++] = (struct ctrl_msg){ .event = event, .value = value, .with_name = with_name };
}

/* Sends pending control messages into the guest's control rx buffers. */
static int ctrl_flush(struct vmm_console *c, struct lv_error **err)
{
	uint8_t buf[sizeof(struct virtio_console_control) + VMM_CONSOLE_NAME_MAX];
	struct vmm_vq_chain chain;
	int r;

	while (c->n_pending && vq(c, Q_CRX)->ready) {
		const struct ctrl_msg *m = &c->pending[0];
		struct virtio_console_control hdr = { .id = VMM_CONSOLE_PORT_ID, .event = m->event, .value = m->value };
		size_t len = sizeof(hdr), n;

		r = vmm_vq_pop(vq(c, Q_CRX), &chain, err);
		if (r <= 0)
			return r;
		memcpy(buf, &hdr, sizeof(hdr));
		/* The name follows the header, unterminated (Linux takes the
		 * rest of the buffer). */
		if (m->with_name) {
			memcpy(buf + len, c->name, c->name_len);
			len += c->name_len;
		}
		/* A buffer too small for the header gets nothing: a truncated
		 * header would be misread.  A short name is the guest's loss. */
		if (chain.in_bytes < sizeof(hdr)) {
			c->stats.bad_control++;
			n = 0;
		} else {
			n = vmm_vq_chain_from_host(&chain, 0, buf, len);
		}
		r = vmm_vq_push(vq(c, Q_CRX), &chain, (uint32_t)n, err);
		if (r < 0)
			return r;
		vmm_virtio_mmio_interrupt(&c->mmio, Q_CRX, VMM_VIRTIO_INT_VRING);
		memmove(&c->pending[0], &c->pending[1], --c->n_pending * sizeof(c->pending[0]));
	}
	return 0;
}

static void ctrl_handle(struct vmm_console *c, const struct virtio_console_control *m)
{
	switch (m->event) {
	case VIRTIO_CONSOLE_DEVICE_READY:
		/* value 0: the driver failed to set up; nothing to add then. */
		if (m->value == 1)
			queue_ctrl(c, VIRTIO_CONSOLE_PORT_ADD, 0, false);
		return;
	case VIRTIO_CONSOLE_PORT_READY:
		if (m->id != VMM_CONSOLE_PORT_ID)
			break;
		if (m->value != 1 || c->port_ready)
			return;
		c->port_ready = true;
		queue_ctrl(c, VIRTIO_CONSOLE_PORT_NAME, 0, true);
		if (host_connected(c))
			queue_ctrl(c, VIRTIO_CONSOLE_PORT_OPEN, 1, false);
		return;
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (m->id != VMM_CONSOLE_PORT_ID)
			break;
		c->stats.guest_open = m->value != 0;
		return;
	default:
		break;
	}
	c->stats.bad_control++;
}

/* Control messages from the guest. */
static int ctrl_rx_from_guest(struct vmm_console *c, struct lv_error **err)
{
	struct vmm_vq_chain chain;
	int r, n = 0;

	while (vq(c, Q_CTX)->ready && n++ < CONSOLE_BUDGET) {
		struct virtio_console_control m;

		r = vmm_vq_pop(vq(c, Q_CTX), &chain, err);
		if (r <= 0)
			return r;
		if (vmm_vq_chain_to_host(&chain, 0, &m, sizeof(m)) == sizeof(m))
			ctrl_handle(c, &m);
		else
			c->stats.bad_control++;
		r = vmm_vq_push(vq(c, Q_CTX), &chain, 0, err);
		if (r < 0)
			return r;
		vmm_virtio_mmio_interrupt(&c->mmio, Q_CTX, VMM_VIRTIO_INT_VRING);
	}
	return 0;
}

/* Writes what is left of the held tx chain; -EAGAIN when the socket is
 * full, another negative errno when the host is gone. */
static ssize_t tx_write(struct vmm_console *c)
{
	struct iovec iov[VMM_VQ_MAX_CHAIN];
	const struct vmm_vq_chain *ch = &c->tx_chain;
	uint64_t skip = c->tx_off;
	unsigned int i, n = 0;
	struct msghdr msg = { 0 };
	ssize_t w;

	for (i = 0; i < ch->n_out; i++) {
		if (skip >= ch->iov[i].iov_len) {
			skip -= ch->iov[i].iov_len;
			continue;
		}
		iov[n].iov_base = (uint8_t *)ch->iov[i].iov_base + skip;
		iov[n].iov_len = ch->iov[i].iov_len - skip;
		skip = 0;
		n++;
	}
	msg.msg_iov = iov;
	msg.msg_iovlen = n;
	/* MSG_NOSIGNAL: a monitor that went away must not SIGPIPE us. */
	w = sendmsg(c->host_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0 && errno == ENOTSOCK)
		w = writev(c->host_fd, iov, (int)n);
	if (w < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return w;
}

/* Guest->host data. */
static int port_tx(struct vmm_console *c, struct lv_error **err)
{
	struct vmm_vq *q = vq(c, Q_TX1);
	int r, n = 0;

	c->tx_more = false;
	while (q->ready) {
		if (!c->tx_held) {
			if (n++ == CONSOLE_BUDGET) {
				/* Let the loop's other fds have a turn; EPOLLOUT
				 * (or HUP) brings us back next round. */
				c->tx_more = vmm_vq_has_avail(q);
				return 0;
			}
			r = vmm_vq_pop(q, &c->tx_chain, err);
			if (r <= 0)
				return r;
			c->tx_held = true;
			c->tx_off = 0;
		}
		while (c->tx_off < c->tx_chain.out_bytes && !c->stats.host_dead) {
			ssize_t w = tx_write(c);

			if (w == -EAGAIN || w == -EINTR)
				return 0; /* EPOLLOUT will bring us back */
			if (w < 0) {
				c->stats.host_dead = true;
				break;
			}
			c->tx_off += (uint64_t)w;
			c->stats.to_host += (uint64_t)w;
		}
		if (c->stats.host_dead)
			c->stats.dropped += c->tx_chain.out_bytes - c->tx_off;
		c->tx_held = false;
		r = vmm_vq_push(q, &c->tx_chain, 0, err);
		if (r < 0)
			return r;
		vmm_virtio_mmio_interrupt(&c->mmio, Q_TX1, VMM_VIRTIO_INT_VRING);
	}
	return 0;
}

static bool rx_wanted(struct vmm_console *c)
{
	return vmm_virtio_mmio_live(&c->mmio) && c->stats.guest_open && !c->stats.host_eof && vq(c, Q_RX1)->ready;
}

/* Host->guest data, one readv per rx buffer. */
static int port_rx(struct vmm_console *c, struct lv_error **err)
{
	struct vmm_vq *q = vq(c, Q_RX1);
	struct vmm_vq_chain chain;
	int r, n = 0;

	while (rx_wanted(c) && n++ < CONSOLE_BUDGET) {
		ssize_t got;

		r = vmm_vq_pop(q, &chain, err);
		if (r <= 0)
			return r;
		if (chain.in_bytes == 0) {
			/* Nothing to read into: give it back empty. */
			got = 0;
		} else {
			got = readv(c->host_fd, chain.iov + chain.n_out, chain.n_in);
			if (got <= 0) {
				int e = got < 0 ? errno : 0;

				vmm_vq_unpop(q);
				if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
					return 0;
				/* EOF or a dead socket: tell the guest. */
				c->stats.host_eof = true;
				if (c->port_ready)
					queue_ctrl(c, VIRTIO_CONSOLE_PORT_OPEN, 0, false);
				return ctrl_flush(c, err);
			}
			c->stats.to_guest += (uint64_t)got;
		}
		r = vmm_vq_push(q, &chain, (uint32_t)got, err);
		if (r < 0)
			return r;
		vmm_virtio_mmio_interrupt(&c->mmio, Q_RX1, VMM_VIRTIO_INT_VRING);
	}
	return 0;
}

/* EPOLLIN only while a read has somewhere to go, EPOLLOUT only while a
 * chain waits for the socket. */
static int update_interest(struct vmm_console *c, struct lv_error **err)
{
	uint32_t want = 0;
	int r;

	if (rx_wanted(c) && vmm_vq_has_avail(vq(c, Q_RX1)))
		want |= EPOLLIN;
	if (vmm_virtio_mmio_live(&c->mmio) && ((c->tx_held && !c->stats.host_dead) || c->tx_more))
		want |= EPOLLOUT;
	if (want == c->interest)
		return 0;
	r = vmm_loop_mod(c->loop, c->host_fd, want, err);
	if (r == 0)
		c->interest = want;
	return r;
}

/* Runs one step of device work and the interest update; a failure breaks
 * the device (the guest's fault, or a host-side one we cannot recover). */
static void finish(struct vmm_console *c, int r, struct lv_error **err)
{
	if (r == 0)
		r = update_interest(c, err);
	if (r < 0) {
		lv_err_wrap(err, "virtio-console");
		vmm_virtio_mmio_set_broken(&c->mmio, err);
		(void)update_interest(c, NULL);
	}
}

static void console_host_ready(void *opaque, uint32_t events)
{
	struct vmm_console *c = opaque;
	struct lv_error *err = NULL;
	int r = 0;

	pthread_mutex_lock(&c->mmio.lock);
	if (vmm_virtio_mmio_live(&c->mmio)) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			r = port_tx(c, &err);
		if (r == 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
			r = port_rx(c, &err);
	}
	finish(c, r, &err);
	pthread_mutex_unlock(&c->mmio.lock);
}

static void console_notify_ready(void *opaque, uint32_t events)
{
	struct vmm_console *c = opaque;

	vmm_virtio_mmio_notify_all(&c->mmio);
}

static int console_notify(void *dev, unsigned int q, struct lv_error **err)
{
	struct vmm_console *c = dev;
	int r = 0;

	switch (q) {
	case Q_CTX:
		r = ctrl_rx_from_guest(c, err);
		/* Replies may be waiting for control rx buffers. */
		__attribute__((fallthrough));
	case Q_CRX:
		if (r == 0)
			r = ctrl_flush(c, err);
		break;
	case Q_TX1:
		r = port_tx(c, err);
		break;
	default:
		/* Q_RX1: new buffers, the loop reads into them once EPOLLIN
		 * is on.  Port 0's queues: the port does not exist. */
		break;
	}
	if (r == 0)
		r = update_interest(c, err);
	return r;
}

static int console_activate(void *dev, struct lv_error **err)
{
	struct vmm_console *c = dev;
	int r;

	if (!(c->mmio.driver_features & (1ULL << VIRTIO_CONSOLE_F_MULTIPORT)))
		return lv_err_msg(err, ENOTSUP, "the driver did not accept MULTIPORT: port '%s' is unreachable",
				  c->name);
	/* Buffers posted (and kicked) before DRIVER_OK were not seen. */
	r = ctrl_rx_from_guest(c, err);
	if (r == 0)
		r = ctrl_flush(c, err);
	if (r == 0)
		r = port_tx(c, err);
	if (r == 0)
		r = update_interest(c, err);
	return r;
}

static void console_reset(void *dev)
{
	struct vmm_console *c = dev;

	c->port_ready = false;
	c->stats.guest_open = false;
	c->n_pending = 0;
	/* The held chain belongs to the old queue: drop it unsent. */
	c->tx_held = false;
	c->tx_more = false;
	(void)update_interest(c, NULL);
}

static void console_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct vmm_console *c = dev;

	memcpy(data, (const uint8_t *)&c->config + off, len);
}

static const struct vmm_virtio_dev_ops console_ops = {
	.name = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.features = 1ULL << VIRTIO_CONSOLE_F_MULTIPORT,
	.num_queues = CONSOLE_QUEUES,
	.queue_max = CONSOLE_QUEUE_MAX,
	.config_size = sizeof(struct virtio_console_config),
	.config_read = console_config_read,
	.activate = console_activate,
	.reset = console_reset,
	.notify = console_notify,
};

static int check_name(const char *name)
{
	size_t i, len = name ? strlen(name) : 0;

	if (len == 0 || len > VMM_CONSOLE_NAME_MAX)
		return -1;
	for (i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] > '~' || name[i] == '/')
			return -1;
	return 0;
}

int vmm_console_create(const struct vmm_memory *mem, uint64_t base, unsigned int irq, bool ioeventfd,
		       struct vmm_loop *loop, int host_fd, const char *port_name, struct vmm_console **out,
		       struct lv_error **err)
{
	struct vmm_console *c;
	int flags, r;

	if (check_name(port_name) < 0)
		return lv_err_msg(err, EINVAL, "virtio-console: port name '%s': 1 to %u printable characters, no '/'",
				  port_name ? port_name : "", VMM_CONSOLE_NAME_MAX);
	flags = fcntl(host_fd, F_GETFL);
	if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(host_fd, F_SETFL, flags | O_NONBLOCK) < 0))
		return lv_err(err, errno, "virtio-console: making host fd %d nonblocking", host_fd);
	c = calloc(1, sizeof(*c));
	if (!c)
		return lv_err(err, ENOMEM, "virtio-console: allocating the device");
	c->loop = loop;
	c->host_fd = host_fd;
	c->name_len = strlen(port_name);
	memcpy(c->name, port_name, c->name_len);
	c->config.max_nr_ports = CONSOLE_MAX_PORTS;

	r = vmm_virtio_mmio_init(&c->mmio, &console_ops, c, mem, base, irq, ioeventfd, err);
	if (r < 0)
		goto fail_free;
	r = vmm_loop_add(loop, host_fd, 0, console_host_ready, c, err);
	if (r < 0)
		goto fail_mmio;
	if (c->mmio.notify_fd >= 0) {
		r = vmm_loop_add(loop, c->mmio.notify_fd, EPOLLIN, console_notify_ready, c, err);
		if (r < 0)
			goto fail_host;
	}
	*out = c;
	return 0;

fail_host:
	vmm_loop_del(loop, host_fd);
fail_mmio:
	vmm_virtio_mmio_fini(&c->mmio);
fail_free:
	free(c);
	return r;
}

int vmm_console_save(struct vmm_console *c, struct vmm_console_state *st, struct lv_error **err)
{
	int r;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&c->mmio.lock);
	if (c->tx_held || c->tx_more || c->n_pending)
		r = lv_err_msg(err, EBUSY, "virtio-console: busy (a chain half sent or %u control messages waiting)",
			       c->n_pending);
	else
		r = vmm_virtio_mmio_save(&c->mmio, &st->mmio, err);
	st->port_ready = c->port_ready;
	st->guest_open = c->stats.guest_open;
	pthread_mutex_unlock(&c->mmio.lock);
	return r;
}

int vmm_console_restore(struct vmm_console *c, const struct vmm_console_state *st, struct lv_error **err)
{
	int r;

	pthread_mutex_lock(&c->mmio.lock);
	r = vmm_virtio_mmio_restore(&c->mmio, &st->mmio, err);
	if (r == 0) {
		c->port_ready = st->port_ready != 0;
		c->stats.guest_open = st->guest_open != 0;
		r = update_interest(c, err);
	}
	pthread_mutex_unlock(&c->mmio.lock);
	return r < 0 ? lv_err_wrap(err, "virtio-console") : 0;
}

struct vmm_virtio_mmio *vmm_console_mmio(struct vmm_console *c)
{
	return &c->mmio;
}

void vmm_console_get_stats(struct vmm_console *c, struct vmm_console_stats *out)
{
	pthread_mutex_lock(&c->mmio.lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->mmio.lock);
}

void vmm_console_destroy(struct vmm_console **cp)
{
	struct vmm_console *c = cp ? *cp : NULL;

	if (!c)
		return;
	if (c->mmio.notify_fd >= 0)
		vmm_loop_del(c->loop, c->mmio.notify_fd);
	vmm_loop_del(c->loop, c->host_fd);
	vmm_virtio_mmio_fini(&c->mmio);
	free(c);
	*cp = NULL;
}
