/* The VM's optional devices and its port I/O: COM1 for --debug, a block
 * device and a network device when the caller hands over their fds, and
 * the legacy PC ports a Linux guest probes. */
#include <linux/kvm.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <string.h>
#include <unistd.h>

#include "legacy.h"
#include "serial.h"
#include "virtio_blk.h"
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
	return 0;
}

void vmm_extra_devices_destroy(struct vmm *v)
{
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
