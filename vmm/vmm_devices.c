/* The VM's optional devices and its port I/O: COM1 for --debug, a block
 * device and a network device when the caller hands over their fds, a
 * virtio-fs device per shared directory, and the legacy PC ports a Linux
 * guest probes. */
#include <linux/kvm.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <string.h>
#include <unistd.h>

#include "legacy.h"
#include "serial.h"
#include "virtio_blk.h"
#include "virtio_fs.h"
#include "virtio_net.h"
#include "vmm_internal.h"

#define COM1_BASE 0x3f8
#define COM1_GSI  4

int vmm_serial_setup(struct vmm *v, struct lv_error **err)
{
	struct kvm_irqfd irqfd = { .gsi = COM1_GSI };
	int r;

	v->serial_irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->serial_irq_fd < 0)
		return lv_err(err, errno, "serial: eventfd");
	irqfd.fd = (uint32_t)v->serial_irq_fd;
	if (ioctl(v->vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return lv_err(err, errno, "serial: KVM_IRQFD on GSI %d", COM1_GSI);
	r = vmm_serial_create(v->cfg.debug_fd, v->serial_irq_fd, &v->serial, err);
	return r < 0 ? lv_err_wrap(err, "serial") : 0;
}

void vmm_serial_teardown(struct vmm *v)
{
	vmm_serial_destroy(&v->serial);
	if (v->serial_irq_fd >= 0)
		close(v->serial_irq_fd);
	v->serial_irq_fd = -1;
}

/* A virtio-fs device: the window, and one ioeventfd per queue on
 * QueueNotify matching the queue's index, which goes to the backend as
 * that ring's kick. */
static int add_fs(struct vmm *v, const struct vmm_fs_config *c, struct lv_error **err)
{
	struct vmm_virtio_mmio *m;
	uint64_t base;
	unsigned int gsi, q;
	int r;

	vmm_next_slot(v, &base, &gsi);
	r = vmm_fs_create(v->mem, base, gsi, v->loop, c->sock_fd, c->tag, v->cfg.backend_timeout_ms, &v->fs[v->nfs],
			  err);
	if (r < 0)
		return lv_err_wrap(err, "virtio-fs %u", v->nfs);
	m = vmm_fs_mmio(v->fs[v->nfs++]);
	r = vmm_add_window(v, m, err);
	if (r < 0)
		return r;
	for (q = 0; q < VMM_FS_NUM_QUEUES; q++) {
		struct kvm_ioeventfd io = {
			.datamatch = q,
			.addr = base + VMM_VIRTIO_MMIO_NOTIFY,
			.len = 4,
			.fd = vmm_fs_kick_fd(v->fs[v->nfs - 1], q),
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		if (ioctl(v->vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
			return lv_err(err, errno, "%s: KVM_IOEVENTFD for queue %u", m->ops->name, q);
	}
	return 0;
}

int vmm_extra_devices(struct vmm *v, struct lv_error **err)
{
	uint64_t base;
	unsigned int gsi;
	int r;

	if (v->cfg.blk_fd >= 0) {
		vmm_next_slot(v, &base, &gsi);
		r = vmm_blk_create(v->mem, base, gsi, true, v->loop, v->cfg.blk_fd, true, "lightvm-disk0", &v->blk, err);
		if (r < 0)
			return lv_err_wrap(err, "virtio-blk");
		r = vmm_add_window(v, vmm_blk_mmio(v->blk), err);
		if (r < 0)
			return r;
	}
	if (v->cfg.tap_fd >= 0) {
		vmm_next_slot(v, &base, &gsi);
		r = vmm_net_create(v->mem, base, gsi, true, v->loop, v->cfg.tap_fd, true, v->cfg.mac, &v->net, err);
		if (r < 0)
			return lv_err_wrap(err, "virtio-net");
		r = vmm_add_window(v, vmm_net_mmio(v->net), err);
		if (r < 0)
			return r;
	}
	for (unsigned int i = 0; i < v->cfg.nfs; i++) {
		r = add_fs(v, &v->cfg.fs[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

void vmm_extra_devices_destroy(struct vmm *v)
{
	while (v->nfs)
		vmm_fs_destroy(&v->fs[--v->nfs]);
	vmm_net_destroy(&v->net);
	vmm_blk_destroy(&v->blk);
}

/* One port access, or a string one (`rep ins/outs`: count of them, data
 * holds size * count bytes, bounded by the run loop).  Nothing here can
 * fail the vCPU: a port we do not know reads all-ones. */
int vmm_pio(struct vmm *v, uint16_t port, bool is_write, uint8_t *data, uint8_t size, uint32_t count)
{
	uint32_t i;

	for (i = 0; i < count; i++, data += size) {
		if (v->serial && port >= COM1_BASE && port < COM1_BASE + 8) {
			vmm_serial_pio(v->serial, (uint16_t)(port - COM1_BASE), is_write, data, size);
			continue;
		}
		if (vmm_legacy_pio(port, is_write, data, size) == 0)
			continue;
		if (!is_write)
			memset(data, 0xff, size);
		__atomic_add_fetch(&v->stray_pio, 1, __ATOMIC_RELAXED);
	}
	return 0;
}
