/* Building and tearing down a whole VM (see vmm.h); the threads that run
 * it are in vmm_run.c. */
#include "vmm.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "boot.h"
#include "mptable.h"
#include "pvh.h"
#include "vmm_internal.h"

/* A file mapped read-only for the time it takes to copy it into guest RAM:
 * no heap copy of the kernel or the initramfs. */
struct mapped_file {
	void *data;
	size_t size;
};

static int map_file(const char *what, const char *path, struct mapped_file *f, struct lv_error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	f->data = NULL;
	f->size = 0;
	if (fd < 0)
		return lv_err(err, errno, "%s %s", what, path);
	if (fstat(fd, &st) < 0)
		return lv_err(err, errno, "%s %s: fstat", what, path);
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		return lv_err_msg(err, EINVAL, "%s %s: not a non-empty regular file", what, path);
	f->data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f->data == MAP_FAILED) {
		f->data = NULL;
		return lv_err(err, errno, "%s %s: mmap", what, path);
	}
	f->size = (size_t)st.st_size;
	return 0;
}

static void unmap_file(struct mapped_file *f)
{
	if (f->data)
		munmap(f->data, f->size);
	f->data = NULL;
}

static int check_config(const struct vmm_config *c, struct lv_error **err)
{
	if (c->vcpus < 1 || c->vcpus > VMM_MAX_VCPUS)
		return lv_err_msg(err, EINVAL, "vcpus: %u is outside 1..%u", c->vcpus, VMM_MAX_VCPUS);
	if (c->mem_mib < VMM_MIN_MEM_MIB || c->mem_mib > VMM_MAX_MEM_MIB)
		return lv_err_msg(err, EINVAL, "memory: %u MiB is outside %u..%u MiB", c->mem_mib, VMM_MIN_MEM_MIB,
				  VMM_MAX_MEM_MIB);
	if (!c->kernel_path)
		return lv_err_msg(err, EINVAL, "kernel: no path");
	if (c->ctl_fd < 0 || !c->ctl_port_name || !c->ctl_port_name[0])
		return lv_err_msg(err, EINVAL, "control channel: no fd or port name");
	if (c->cmdline && strlen(c->cmdline) > VMM_MAX_CMDLINE / 2)
		return lv_err_msg(err, EINVAL, "kernel command line: longer than %u bytes", VMM_MAX_CMDLINE / 2);
	if (c->nfs > VMM_MAX_FS)
		return lv_err_msg(err, EINVAL, "shared directories: %u, at most %u", c->nfs, VMM_MAX_FS);
	if (c->nfs && !c->fs)
		return lv_err_msg(err, EINVAL, "shared directories: %u without their descriptions", c->nfs);
	return 0;
}

static int cmdline_append(struct vmm *v, const char *frag, struct lv_error **err)
{
	size_t len = strlen(v->cmdline), add = strlen(frag);

	if (len + (len ? 1 : 0) + add + 1 > sizeof(v->cmdline))
		return lv_err_msg(err, E2BIG, "kernel command line: longer than %zu bytes", sizeof(v->cmdline) - 1);
	if (len)
		v->cmdline[len++] = ' ';
	memcpy(v->cmdline + len, frag, add + 1);
	return 0;
}

/* Registers a device's window for MMIO dispatch, its irqfd and (when it
 * has one) its ioeventfd with KVM, and announces it to the guest. */
int vmm_add_window(struct vmm *v, struct vmm_virtio_mmio *m, struct lv_error **err)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)m->irq_fd, .gsi = m->irq };
	char frag[96];

	if (v->nwin >= VMM_MAX_DEVICES)
		return lv_err_msg(err, ENOSPC, "more than %d devices", VMM_MAX_DEVICES);
	if (ioctl(v->vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return lv_err(err, errno, "%s: KVM_IRQFD on GSI %u", m->ops->name, m->irq);
	if (m->notify_fd >= 0) {
		struct kvm_ioeventfd io = {
			.addr = m->base + VMM_VIRTIO_MMIO_NOTIFY, .len = 4, .fd = m->notify_fd,
		};
		if (ioctl(v->vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
			return lv_err(err, errno, "%s: KVM_IOEVENTFD at 0x%llx", m->ops->name,
				      (unsigned long long)io.addr);
	}
	vmm_virtio_mmio_cmdline(m, frag, sizeof(frag));
	v->win[v->nwin].base = m->base;
	v->win[v->nwin].m = m;
	v->nwin++;
	return cmdline_append(v, frag, err);
}

/* The next free window and interrupt line. */
void vmm_next_slot(const struct vmm *v, uint64_t *base, unsigned int *gsi)
{
	*base = VMM_MMIO_BASE + v->nwin * VMM_MMIO_STRIDE;
	*gsi = VMM_FIRST_GSI + v->nwin;
}

int vmm_create_devices(struct vmm *v, struct lv_error **err)
{
	uint64_t base;
	unsigned int gsi;
	int r;

	if (v->cfg.debug_fd >= 0) {
		r = vmm_serial_setup(v, err);
		if (r < 0)
			return r;
	}
	vmm_next_slot(v, &base, &gsi);
	r = vmm_console_create(v->mem, base, gsi, true, v->loop, v->cfg.ctl_fd, v->cfg.ctl_port_name, &v->console,
			       err);
	if (r < 0)
		return lv_err_wrap(err, "virtio-console");
	r = vmm_add_window(v, vmm_console_mmio(v->console), err);
	if (r < 0)
		return r;
	return vmm_extra_devices(v, err);
}

static int load_guest(struct vmm *v, struct lv_error **err)
{
	struct mapped_file kernel = { 0 }, initrd = { 0 };
	struct vmm_boot_config bc;
	int r;

	r = map_file("kernel", v->cfg.kernel_path, &kernel, err);
	if (r < 0)
		goto out;
	if (v->cfg.initrd_path) {
		r = map_file("initrd", v->cfg.initrd_path, &initrd, err);
		if (r < 0)
			goto out;
	}
	bc = (struct vmm_boot_config){
		.kernel = kernel.data, .kernel_size = kernel.size,
		.initrd = initrd.data, .initrd_size = initrd.size,
		.cmdline = v->cmdline,
	};
	r = vmm_boot_kernel(v->vcpus[0], v->mem, &bc, err);
out:
	unmap_file(&kernel);
	unmap_file(&initrd);
	return r;
}

int vmm_new(const struct vmm_config *cfg, struct vmm **out, struct lv_error **err)
{
	struct vmm_vm_config vc = { .kvm_path = cfg->kvm_path, .irqchip = true };
	struct vmm *v;
	int r;

	v = calloc(1, sizeof(*v));
	if (!v)
		return lv_err(err, ENOMEM, "vmm");
	v->cfg = *cfg;
	v->serial_irq_fd = -1;
	v->exit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->exit_fd < 0) {
		r = lv_err(err, errno, "eventfd");
		goto fail;
	}
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	v->sync_init = true;
	if ((r = vmm_loop_create(&v->loop, err)) < 0 || (r = vmm_vm_create(&vc, &v->vm, err)) < 0)
		goto fail;
	*out = v;
	return 0;
fail:
	vmm_destroy(&v);
	return r;
}

int vmm_create_vcpus(struct vmm *v, struct lv_error **err)
{
	unsigned int i;
	int r;

	for (i = 0; i < v->cfg.vcpus; i++) {
		r = vmm_vcpu_create(v->vm, i, &v->vcpus[i], err);
		if (r < 0)
			return r;
		v->nvcpus++;
	}
	return 0;
}

int vmm_create(const struct vmm_config *cfg, struct vmm **out, struct lv_error **err)
{
	struct vmm *v = NULL;
	int r;

	r = check_config(cfg, err);
	if (r < 0)
		return r;
	r = vmm_new(cfg, &v, err);
	if (r < 0)
		return r;
	if (cfg->cmdline && (r = cmdline_append(v, cfg->cmdline, err)) < 0)
		goto fail;
	if ((r = vmm_memory_create((uint64_t)cfg->mem_mib << 20, &v->mem, err)) < 0 ||
	    (r = vmm_memory_register(v->mem, v->vm->vm_fd, err)) < 0)
		goto fail;
	/* Linux finds the CPUs and the IOAPIC in the MP table (no ACPI). */
	r = vmm_mptable_write(v->mem, VMM_MPTABLE_ADDR, cfg->vcpus, err);
	if (r < 0)
		goto fail;
	r = vmm_create_devices(v, err);
	if (r < 0)
		goto fail;
	r = vmm_create_vcpus(v, err);
	if (r < 0)
		goto fail;
	r = load_guest(v, err);
	if (r < 0)
		goto fail;
	*out = v;
	return 0;
fail:
	vmm_destroy(&v);
	return r;
}

/* What the guest did wrong, for whoever reads the VMM's log. */
static void log_guest_faults(const struct vmm *v)
{
	unsigned int i;

	if (v->cfg.log_fd < 0)
		return;
	for (i = 0; i < v->nwin; i++) {
		const struct vmm_virtio_mmio *m = v->win[i].m;

		if (m->broken_msg[0])
			dprintf(v->cfg.log_fd, "device %s: broken by the guest: %s\n", m->ops->name, m->broken_msg);
		if (m->bad_accesses)
			dprintf(v->cfg.log_fd, "device %s: %lu ignored register accesses\n", m->ops->name,
				m->bad_accesses);
	}
	if (v->stray_pio || v->stray_mmio)
		dprintf(v->cfg.log_fd, "stray accesses: %lu port, %lu MMIO\n", v->stray_pio, v->stray_mmio);
}

/* Teardown in the reverse order of construction; also unwinds a partial
 * vmm_create(). */
void vmm_destroy(struct vmm **vp)
{
	struct vmm *v = *vp;
	unsigned int i;

	if (!v)
		return;
	vmm_stop_threads(v);
	log_guest_faults(v);
	vmm_extra_devices_destroy(v);
	vmm_console_destroy(&v->console);
	vmm_serial_teardown(v);
	for (i = 0; i < v->nvcpus; i++)
		vmm_vcpu_destroy(&v->vcpus[i]);
	vmm_vm_destroy(&v->vm);
	vmm_memory_destroy(&v->mem);
	vmm_loop_destroy(&v->loop);
	if (v->exit_fd >= 0)
		close(v->exit_fd);
	if (v->sync_init) {
		pthread_cond_destroy(&v->cond);
		pthread_mutex_destroy(&v->lock);
	}
	free(v);
	*vp = NULL;
}

int vmm_exit_fd(const struct vmm *v)
{
	return v->exit_fd;
}

const char *vmm_cmdline(const struct vmm *v)
{
	return v->cmdline;
}
