/* The virtio-mmio transport, version 2 (virtio 1.x, 4.2.2); see
 * virtio_mmio.h.  Every register access comes from the guest, so nothing
 * here trusts a value written: selectors are checked at use, queue
 * registers are frozen while the queue is live, and a driver that breaks
 * the rules gets DEVICE_NEEDS_RESET rather than a crashed VMM. */
#include "virtio_mmio.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MMIO_MAGIC     0x74726976U /* "virt" */
#define MMIO_VERSION   2U
#define MMIO_VENDOR_ID 0x4c564d31U /* "LVM1" */

/* Status bits a driver may set; NEEDS_RESET is the device's alone. */
#define DRIVER_STATUS_BITS                                                                  \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | \
	 VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED)

/* Transport feature bits ([28, 41)) are ours to offer, and we implement
 * none but VERSION_1: no indirect descriptors, no event index, no packed
 * ring.  A device that asks for them is a bug in the VMM. */
#define TRANSPORT_FEATURES_MASK (((1ULL << VIRTIO_TRANSPORT_F_END) - 1) & ~((1ULL << VIRTIO_TRANSPORT_F_START) - 1))

static uint64_t offered_features(const struct vmm_virtio_mmio *m)
{
	return m->ops->features | (1ULL << VIRTIO_F_VERSION_1);
}

int vmm_virtio_mmio_init(struct vmm_virtio_mmio *m, const struct vmm_virtio_dev_ops *ops, void *dev,
			 const struct vmm_memory *mem, uint64_t base, unsigned int irq, bool want_ioeventfd,
			 struct lv_error **err)
{
	uint16_t qmax = ops->queue_max;
	int r;

	memset(m, 0, sizeof(*m));
	m->irq_fd = m->notify_fd = -1;
	if (ops->num_queues > VMM_VIRTIO_MAX_QUEUES || qmax == 0 || qmax > VMM_VQ_MAX_SIZE ||
	    (qmax & (qmax - 1)) || ops->config_size > VMM_VIRTIO_MAX_CONFIG ||
	    (ops->features & TRANSPORT_FEATURES_MASK) || !ops->notify || !ops->activate || !ops->reset ||
	    (ops->config_size && !ops->config_read))
		return lv_err_msg(err, EINVAL,
				  "virtio-%s: bad device description (%u queues of up to %u, %u bytes of "
				  "config, features 0x%llx)",
				  ops->name, ops->num_queues, qmax, ops->config_size,
				  (unsigned long long)ops->features);
	if (base % VMM_VIRTIO_MMIO_SIZE || base < VMM_MMIO_HOLE_START ||
	    base > VMM_MMIO_HOLE_END - VMM_VIRTIO_MMIO_SIZE)
		return lv_err_msg(err, EINVAL, "virtio-%s: window at 0x%llx is not an aligned slot in the MMIO hole",
				  ops->name, (unsigned long long)base);
	m->ops = ops;
	m->dev = dev;
	m->mem = mem;
	m->base = base;
	m->irq = irq;
	m->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->irq_fd < 0)
		return lv_err(err, errno, "virtio-%s: interrupt eventfd", ops->name);
	if (want_ioeventfd) {
		m->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->notify_fd < 0) {
			r = lv_err(err, errno, "virtio-%s: notification eventfd", ops->name);
			goto fail_irq;
		}
	}
	r = pthread_mutex_init(&m->lock, NULL);
	if (r) {
		r = lv_err(err, r, "virtio-%s: transport lock", ops->name);
		goto fail_notify;
	}
	return 0;

fail_notify:
	if (m->notify_fd >= 0)
		close(m->notify_fd);
fail_irq:
	close(m->irq_fd);
	m->irq_fd = m->notify_fd = -1;
	return r;
}

void vmm_virtio_mmio_fini(struct vmm_virtio_mmio *m)
{
	pthread_mutex_destroy(&m->lock);
	if (m->notify_fd >= 0)
		close(m->notify_fd);
	if (m->irq_fd >= 0)
		close(m->irq_fd);
	m->irq_fd = m->notify_fd = -1;
}

bool vmm_virtio_mmio_live(const struct vmm_virtio_mmio *m)
{
	return (m->status & VIRTIO_CONFIG_S_DRIVER_OK) && !m->broken;
}

static void raise_irq(struct vmm_virtio_mmio *m)
{
	uint64_t one = 1;

	/* EAGAIN only when the counter is about to overflow, i.e. the
	 * interrupt is pending anyway; there is no one to tell otherwise. */
	(void)!write(m->irq_fd, &one, sizeof(one));
}

void vmm_virtio_mmio_interrupt(struct vmm_virtio_mmio *m, int q, uint32_t bits)
{
	if ((bits & VMM_VIRTIO_INT_VRING) && q >= 0 && q < VMM_VIRTIO_MAX_QUEUES &&
	    !vmm_vq_wants_interrupt(&m->vqs[q]))
		bits &= ~VMM_VIRTIO_INT_VRING;
	if (!bits)
		return;
	m->interrupt_status |= bits;
	raise_irq(m);
}

void vmm_virtio_mmio_set_broken(struct vmm_virtio_mmio *m, struct lv_error **err)
{
	if (!m->broken) {
		m->broken = true;
		snprintf(m->broken_msg, sizeof(m->broken_msg), "%s",
			 err && *err && (*err)->msg ? (*err)->msg : "device failed");
		/* The driver learns of DEVICE_NEEDS_RESET by a config change
		 * interrupt (virtio 1.x, 2.1.2). */
		m->interrupt_status |= VMM_VIRTIO_INT_CONFIG;
		raise_irq(m);
	}
	lv_error_free(err);
}

void vmm_virtio_mmio_config_changed(struct vmm_virtio_mmio *m)
{
	m->config_generation++;
	vmm_virtio_mmio_interrupt(m, -1, VMM_VIRTIO_INT_CONFIG);
}

/* Status 0: the device forgets everything the driver told it. */
static void device_reset(struct vmm_virtio_mmio *m)
{
	unsigned int i;

	m->ops->reset(m->dev);
	for (i = 0; i < VMM_VIRTIO_MAX_QUEUES; i++) {
		vmm_vq_reset(&m->vqs[i]);
		m->vqs[i] = (struct vmm_vq){ 0 };
	}
	m->status = 0;
	m->device_features_sel = m->driver_features_sel = m->queue_sel = 0;
	m->driver_features = 0;
	m->interrupt_status = 0;
	m->broken = false;
}

static void notify_queue(struct vmm_virtio_mmio *m, unsigned int q)
{
	struct lv_error *err = NULL;

	/* Kicks before DRIVER_OK or after breaking are dropped: the device
	 * looks at every queue when it is activated. */
	if (!vmm_virtio_mmio_live(m) || q >= m->ops->num_queues || !m->vqs[q].ready)
		return;
	if (m->ops->notify(m->dev, q, &err) < 0) {
		lv_err_wrap(&err, "virtio-%s queue %u", m->ops->name, q);
		vmm_virtio_mmio_set_broken(m, &err);
	}
}

void vmm_virtio_mmio_notify_all(struct vmm_virtio_mmio *m)
{
	unsigned int q;
	uint64_t v;

	if (m->notify_fd >= 0)
		(void)!read(m->notify_fd, &v, sizeof(v));
	pthread_mutex_lock(&m->lock);
	for (q = 0; q < m->ops->num_queues; q++)
		notify_queue(m, q);
	pthread_mutex_unlock(&m->lock);
}

static bool features_acceptable(const struct vmm_virtio_mmio *m)
{
	uint64_t f = m->driver_features;

	/* A legacy driver (no VERSION_1) would expect another ring layout and
	 * endianness; bits we did not offer mean the driver is confused. */
	return (f & (1ULL << VIRTIO_F_VERSION_1)) && !(f & ~offered_features(m));
}

static void write_status(struct vmm_virtio_mmio *m, uint32_t v)
{
	struct lv_error *err = NULL;
	uint32_t set;

	if (v == 0) {
		device_reset(m);
		return;
	}
	v &= DRIVER_STATUS_BITS;
	/* Only a reset clears bits (virtio 1.x, 2.1.2). */
	if (m->status & ~v) {
		m->bad_accesses++;
		return;
	}
	set = v & ~m->status;
	if (set & VIRTIO_CONFIG_S_FEATURES_OK) {
		/* Refused by leaving the bit clear: the driver reads Status back
		 * and gives up (virtio 1.x, 3.1.1). */
		if (!(v & VIRTIO_CONFIG_S_DRIVER) || !features_acceptable(m)) {
			v &= ~VIRTIO_CONFIG_S_FEATURES_OK;
			set &= ~VIRTIO_CONFIG_S_FEATURES_OK;
		}
	}
	if ((set & VIRTIO_CONFIG_S_DRIVER_OK) && !(v & VIRTIO_CONFIG_S_FEATURES_OK)) {
		m->status = v & ~VIRTIO_CONFIG_S_DRIVER_OK;
		lv_err_msg(&err, EINVAL, "virtio-%s: DRIVER_OK without FEATURES_OK", m->ops->name);
		vmm_virtio_mmio_set_broken(m, &err);
		return;
	}
	m->status = v;
	if ((set & VIRTIO_CONFIG_S_DRIVER_OK) && !m->broken && m->ops->activate(m->dev, &err) < 0) {
		lv_err_wrap(&err, "virtio-%s: activation", m->ops->name);
		vmm_virtio_mmio_set_broken(m, &err);
	}
}

int vmm_virtio_mmio_save(const struct vmm_virtio_mmio *m, struct vmm_virtio_mmio_state *st,
			 struct lv_error **err)
{
	unsigned int i;

	if (m->broken)
		return lv_err_msg(err, EIO, "virtio-%s: broken (%s)", m->ops->name, m->broken_msg);
	*st = (struct vmm_virtio_mmio_state){
		.status = m->status,
		.device_features_sel = m->device_features_sel,
		.driver_features_sel = m->driver_features_sel,
		.queue_sel = m->queue_sel,
		.driver_features = m->driver_features,
		.interrupt_status = m->interrupt_status,
		.config_generation = m->config_generation,
		.num_queues = m->ops->num_queues,
	};
	for (i = 0; i < m->ops->num_queues; i++)
		vmm_vq_save(&m->vqs[i], &st->vqs[i]);
	return 0;
}

int vmm_virtio_mmio_restore(struct vmm_virtio_mmio *m, const struct vmm_virtio_mmio_state *st,
			    struct lv_error **err)
{
	unsigned int i;
	int r;

	if (st->num_queues != m->ops->num_queues)
		return lv_err_msg(err, EINVAL, "virtio-%s: %u queues saved, the device has %u", m->ops->name,
				  st->num_queues, m->ops->num_queues);
	if (st->status & ~DRIVER_STATUS_BITS)
		return lv_err_msg(err, EINVAL, "virtio-%s: saved status 0x%x", m->ops->name, st->status);
	m->driver_features = st->driver_features;
	if ((st->status & VIRTIO_CONFIG_S_FEATURES_OK) && !features_acceptable(m)) {
		m->driver_features = 0;
		return lv_err_msg(err, EINVAL, "virtio-%s: saved features 0x%llx were not offered", m->ops->name,
				  (unsigned long long)st->driver_features);
	}
	if (st->interrupt_status & ~(VMM_VIRTIO_INT_VRING | VMM_VIRTIO_INT_CONFIG))
		return lv_err_msg(err, EINVAL, "virtio-%s: saved interrupt status 0x%x", m->ops->name,
				  st->interrupt_status);
	for (i = 0; i < m->ops->num_queues; i++) {
		if (st->vqs[i].ready && st->vqs[i].size > m->ops->queue_max)
			return lv_err_msg(err, EINVAL, "virtio-%s queue %u: saved size %u over %u", m->ops->name, i,
					  st->vqs[i].size, m->ops->queue_max);
		r = vmm_vq_restore(&m->vqs[i], m->mem, &st->vqs[i], err);
		if (r < 0)
			return lv_err_wrap(err, "virtio-%s queue %u", m->ops->name, i);
	}
	m->status = st->status;
	m->device_features_sel = st->device_features_sel;
	m->driver_features_sel = st->driver_features_sel;
	m->queue_sel = st->queue_sel;
	m->driver_features = st->driver_features;
	m->interrupt_status = st->interrupt_status;
	m->config_generation = st->config_generation;
	return 0;
}

static struct vmm_vq *selected_queue(struct vmm_virtio_mmio *m)
{
	return m->queue_sel < m->ops->num_queues ? &m->vqs[m->queue_sel] : NULL;
}

static void write_queue_ready(struct vmm_virtio_mmio *m, struct vmm_vq *vq, uint32_t v)
{
	struct lv_error *err = NULL;

	if (v == 0) {
		/* Linux writes 0 when tearing a queue down after a reset.
		 * Without VIRTIO_F_RING_RESET a live device cannot lose a queue
		 * under it, so that is a broken driver. */
		if (vq->ready && vmm_virtio_mmio_live(m)) {
			lv_err_msg(&err, EINVAL, "virtio-%s: queue %u disabled while the device is live",
				   m->ops->name, m->queue_sel);
			vmm_virtio_mmio_set_broken(m, &err);
		}
		vmm_vq_reset(vq);
		return;
	}
	if (v != 1 || vq->ready || m->broken) {
		m->bad_accesses++;
		return;
	}
	if (vq->size > m->ops->queue_max) {
		lv_err_msg(&err, EINVAL, "virtio-%s: queue %u of %u entries, at most %u", m->ops->name,
			   m->queue_sel, vq->size, m->ops->queue_max);
	} else if (vmm_vq_activate(vq, m->mem, &err) == 0) {
		return;
	}
	lv_err_wrap(&err, "virtio-%s: queue %u", m->ops->name, m->queue_sel);
	vmm_virtio_mmio_set_broken(m, &err);
}

static void set_half(uint64_t *field, bool high, uint32_t v)
{
	if (high)
		*field = (*field & 0xffffffffULL) | ((uint64_t)v << 32);
	else
		*field = (*field & ~0xffffffffULL) | v;
}

static uint32_t reg_read(struct vmm_virtio_mmio *m, uint32_t off)
{
	struct vmm_vq *vq = selected_queue(m);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return m->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return MMIO_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (m->device_features_sel > 1)
			return 0;
		return (uint32_t)(offered_features(m) >> (32 * m->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		/* 0 tells the driver the queue does not exist. */
		return vq ? m->ops->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return vq ? vq->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return m->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return m->status | (m->broken ? VIRTIO_CONFIG_S_NEEDS_RESET : 0);
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return m->config_generation;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		/* All ones: no shared memory region (virtio 1.x, 4.2.2). */
		return 0xffffffffU;
	default:
		/* Write-only, legacy-only or unknown. */
		m->bad_accesses++;
		return 0;
	}
}

static void reg_write(struct vmm_virtio_mmio *m, uint32_t off, uint32_t v)
{
	struct vmm_vq *vq = selected_queue(m);
	bool features_frozen = m->status & VIRTIO_CONFIG_S_FEATURES_OK;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->device_features_sel = v;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (m->driver_features_sel > 1 || features_frozen)
			break;
		set_half(&m->driver_features, m->driver_features_sel == 1, v);
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->driver_features_sel = v;
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		m->queue_sel = v;
		return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		notify_queue(m, v);
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		m->interrupt_status &= ~v;
		return;
	case VIRTIO_MMIO_STATUS:
		write_status(m, v);
		return;
	case VIRTIO_MMIO_SHM_SEL:
		return;
	case VIRTIO_MMIO_QUEUE_READY:
		if (!vq)
			break;
		write_queue_ready(m, vq, v);
		return;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		/* The walker relies on a live queue's layout not moving. */
		if (!vq || vq->ready)
			break;
		if (off == VIRTIO_MMIO_QUEUE_NUM)
			/* Out of range sizes become 0, which activation refuses. */
			vq->size = v <= VMM_VQ_MAX_SIZE ? (uint16_t)v : 0;
		else if (off <= VIRTIO_MMIO_QUEUE_DESC_HIGH)
			set_half(&vq->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		else if (off <= VIRTIO_MMIO_QUEUE_AVAIL_HIGH)
			set_half(&vq->avail_gpa, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
		else
			set_half(&vq->used_gpa, off == VIRTIO_MMIO_QUEUE_USED_HIGH, v);
		return;
	default:
		break;
	}
	m->bad_accesses++;
}

static void config_access(struct vmm_virtio_mmio *m, uint32_t off, bool is_write, uint8_t *data, uint32_t len)
{
	uint32_t size = m->ops->config_size;

	if ((len != 1 && len != 2 && len != 4 && len != 8) || off >= size || len > size - off) {
		m->bad_accesses++;
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (len == 8) {
		/* Devices see 1, 2 and 4-byte accesses only, as drivers make. */
		config_access(m, off, is_write, data, 4);
		config_access(m, off + 4, is_write, data + 4, 4);
		return;
	}
	if (!is_write)
		m->ops->config_read(m->dev, off, data, len);
	else if (m->ops->config_write)
		m->ops->config_write(m->dev, off, data, len);
}

int vmm_virtio_mmio_access(struct vmm_virtio_mmio *m, uint64_t offset, bool is_write, uint8_t *data,
			   uint32_t len, struct lv_error **err)
{
	uint32_t v;

	if (len == 0 || len > 8)
		return lv_err_msg(err, EINVAL, "virtio-%s: access of %u bytes", m->ops->name, len);
	pthread_mutex_lock(&m->lock);
	if (offset >= VMM_VIRTIO_MMIO_SIZE) {
		m->bad_accesses++;
		if (!is_write)
			memset(data, 0, len);
	} else if (offset >= VMM_VIRTIO_MMIO_CONFIG) {
		config_access(m, (uint32_t)(offset - VMM_VIRTIO_MMIO_CONFIG), is_write, data, len);
	} else if (len != 4 || offset % 4) {
		/* Registers are 32-bit and aligned (virtio 1.x, 4.2.2.2). */
		m->bad_accesses++;
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		memcpy(&v, data, 4);
		reg_write(m, (uint32_t)offset, v);
	} else {
		v = reg_read(m, (uint32_t)offset);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int vmm_virtio_mmio_cmdline(const struct vmm_virtio_mmio *m, char *buf, size_t size)
{
	/* Linux's format (drivers/virtio/virtio_mmio.c): size@base:irq. */
	return snprintf(buf, size, "virtio_mmio.device=0x%llx@0x%llx:%u", VMM_VIRTIO_MMIO_SIZE,
			(unsigned long long)m->base, m->irq);
}
