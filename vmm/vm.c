/* KVM VM creation: capabilities, system addresses, irqchip and PIT. */
#include "vm.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "cpuid.h"

struct vmm_cap {
	int cap;
	const char *name;
	bool irqchip_only;
};

static const struct vmm_cap vmm_required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", false },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", false },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR", false },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", false },
	/* Devices signal and are signalled through eventfds, without a trip
	 * through the run loop. */
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", false },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD", true },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", true },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2", true },
};

/* KVM_CREATE_VM can fail with EINTR while the kernel tears down a previous
 * VM's MMU notifiers; retrying is what the ioctl's users do. */
static int create_vm_fd(int kvm_fd)
{
	int fd;

	do
		fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	while (fd < 0 && errno == EINTR);
	return fd;
}

static int check_caps(int kvm_fd, const char *path, bool irqchip, struct lv_error **err)
{
	size_t i;
	int r;

	r = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
	if (r < 0)
		return lv_err(err, errno, "%s: KVM_GET_API_VERSION", path);
	if (r != KVM_API_VERSION)
		return lv_err_msg(err, ENOTSUP, "%s: KVM API version %d, need %d", path, r, KVM_API_VERSION);
	for (i = 0; i < LV_ARRAY_SIZE(vmm_required_caps); i++) {
		const struct vmm_cap *c = &vmm_required_caps[i];

		if (c->irqchip_only && !irqchip)
			continue;
		r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, c->cap);
		if (r < 0)
			return lv_err(err, errno, "%s: KVM_CHECK_EXTENSION %s", path, c->name);
		if (r == 0)
			return lv_err_msg(err, ENOTSUP, "%s: KVM lacks %s", path, c->name);
	}
	return 0;
}

int vmm_vm_create(const struct vmm_vm_config *cfg, struct vmm_vm **out, struct lv_error **err)
{
	const char *path = cfg->kvm_path ? cfg->kvm_path : "/dev/kvm";
	struct vmm_vm *vm;
	uint64_t identity = VMM_KVM_IDENTITY_MAP_ADDR;
	int r, size;

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return lv_err(err, ENOMEM, "allocating VM state");
	vm->irqchip = cfg->irqchip;

	vm->kvm_fd = open(path, O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		r = lv_err(err, errno, "opening %s", path);
		goto fail_free;
	}
	r = check_caps(vm->kvm_fd, path, cfg->irqchip, err);
	if (r < 0)
		goto fail_kvm;
	size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < 0) {
		r = lv_err(err, errno, "KVM_GET_VCPU_MMAP_SIZE");
		goto fail_kvm;
	}
	if ((size_t)size < sizeof(struct kvm_run)) {
		r = lv_err_msg(err, EPROTO, "KVM_GET_VCPU_MMAP_SIZE %d is smaller than struct kvm_run", size);
		goto fail_kvm;
	}
	vm->run_size = (size_t)size;

	vm->vm_fd = create_vm_fd(vm->kvm_fd);
	if (vm->vm_fd < 0) {
		r = lv_err(err, errno, "KVM_CREATE_VM");
		goto fail_kvm;
	}
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VMM_KVM_TSS_ADDR) < 0) {
		r = lv_err(err, errno, "KVM_SET_TSS_ADDR 0x%llx", VMM_KVM_TSS_ADDR);
		goto fail_vm;
	}
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0) {
		r = lv_err(err, errno, "KVM_SET_IDENTITY_MAP_ADDR 0x%llx", VMM_KVM_IDENTITY_MAP_ADDR);
		goto fail_vm;
	}
	if (cfg->irqchip) {
		/* The PC speaker port is a dummy: no guest-driven beeps reach us. */
		struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

		if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
			r = lv_err(err, errno, "KVM_CREATE_IRQCHIP");
			goto fail_vm;
		}
		if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
			r = lv_err(err, errno, "KVM_CREATE_PIT2");
			goto fail_vm;
		}
	}
	r = vmm_cpuid_supported(vm->kvm_fd, &vm->cpuid, err);
	if (r < 0)
		goto fail_vm;
	/* KVM emulates the TSC-deadline timer with its in-kernel LAPIC but
	 * leaves the bit out of KVM_GET_SUPPORTED_CPUID for userspace to set.
	 * Without it Linux calibrates the LAPIC timer at boot (~0.3 s nested). */
	if (cfg->irqchip && ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0) {
		struct kvm_cpuid_entry2 *leaf1 = vmm_cpuid_find(vm->cpuid, 1, 0);

		if (leaf1)
			leaf1->ecx |= 1U << 24;
	}
	*out = vm;
	return 0;

	/* The irqchip and PIT have no destroy ioctl: they go with the VM fd. */
fail_vm:
	close(vm->vm_fd);
fail_kvm:
	close(vm->kvm_fd);
fail_free:
	free(vm);
	return r;
}

void vmm_vm_destroy(struct vmm_vm **vmp)
{
	struct vmm_vm *vm = vmp ? *vmp : NULL;

	if (!vm)
		return;
	close(vm->vm_fd);
	close(vm->kvm_fd);
	free(vm->cpuid);
	free(vm);
	*vmp = NULL;
}
