/* vCPU creation, entry state and the run loop (see vcpu.h). */
#include "vcpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "cpuid.h"

#define MSR_IA32_TSC              0x00000010
#define MSR_IA32_SYSENTER_CS      0x00000174
#define MSR_IA32_SYSENTER_ESP     0x00000175
#define MSR_IA32_SYSENTER_EIP     0x00000176
#define MSR_IA32_MISC_ENABLE      0x000001a0
#define MSR_MTRR_DEF_TYPE         0x000002ff
#define MSR_STAR                  0xc0000081
#define MSR_LSTAR                 0xc0000082
#define MSR_CSTAR                 0xc0000083
#define MSR_SYSCALL_MASK          0xc0000084
#define MSR_KERNEL_GS_BASE        0xc0000102

#define MISC_ENABLE_FAST_STRING   (1ULL << 0)
#define MTRR_DEF_TYPE_ENABLE      (1ULL << 11)
#define MTRR_TYPE_WRBACK          6ULL

#define APIC_LVT0                 0x350
#define APIC_LVT1                 0x360
#define APIC_DELIVERY_MODE_MASK   0x700U
#define APIC_MODE_NMI             0x4U
#define APIC_MODE_EXTINT          0x7U

/* What a freshly booted Linux expects of the MSRs it does not set itself:
 * fast string operations enabled (as firmware does), the syscall/sysenter
 * entry points cleared, and MTRRs on with write-back as the default type
 * (with MTRRs off, a guest would treat all memory as uncached). */
static const struct kvm_msr_entry vmm_boot_msrs[] = {
	{ .index = MSR_IA32_SYSENTER_CS },
	{ .index = MSR_IA32_SYSENTER_ESP },
	{ .index = MSR_IA32_SYSENTER_EIP },
	{ .index = MSR_STAR },
	{ .index = MSR_CSTAR },
	{ .index = MSR_KERNEL_GS_BASE },
	{ .index = MSR_SYSCALL_MASK },
	{ .index = MSR_LSTAR },
	{ .index = MSR_IA32_TSC },
	{ .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING },
	{ .index = MSR_MTRR_DEF_TYPE, .data = MTRR_DEF_TYPE_ENABLE | MTRR_TYPE_WRBACK },
};

static int setup_cpuid(struct vmm_vcpu *vcpu, struct vmm_vm *vm, struct lv_error **err)
{
	size_t size = sizeof(*vm->cpuid) + vm->cpuid->nent * sizeof(vm->cpuid->entries[0]);
	cleanup_free struct kvm_cpuid2 *cpuid = malloc(size);

	if (!cpuid)
		return lv_err(err, ENOMEM, "CPUID for vCPU %u", vcpu->id);
	memcpy(cpuid, vm->cpuid, size);
	vmm_cpuid_fixup(cpuid, vcpu->id);
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0)
		return lv_err(err, errno, "KVM_SET_CPUID2 (%u entries)", cpuid->nent);
	return 0;
}

static int setup_msrs(struct vmm_vcpu *vcpu, struct lv_error **err)
{
	size_t n = LV_ARRAY_SIZE(vmm_boot_msrs);
	cleanup_free struct kvm_msrs *msrs = NULL;
	int r;

	msrs = calloc(1, sizeof(*msrs) + n * sizeof(msrs->entries[0]));
	if (!msrs)
		return lv_err(err, ENOMEM, "allocating MSR list");
	msrs->nmsrs = (uint32_t)n;
	memcpy(msrs->entries, vmm_boot_msrs, sizeof(vmm_boot_msrs));
	/* KVM_SET_MSRS returns how many it set: it stops at the first one the
	 * host refuses, which is the one to name. */
	r = ioctl(vcpu->fd, KVM_SET_MSRS, msrs);
	if (r < 0)
		return lv_err(err, errno, "KVM_SET_MSRS");
	if ((size_t)r < n)
		return lv_err_msg(err, EINVAL, "KVM_SET_MSRS: KVM refused MSR 0x%x (set %d of %zu)",
				  msrs->entries[r].index, r, n);
	return 0;
}

static int setup_fpu(struct vmm_vcpu *vcpu, struct lv_error **err)
{
	/* The x87 and SSE state after FNINIT / at power-on: all exceptions
	 * masked, 64-bit precision, round to nearest. */
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return lv_err(err, errno, "KVM_SET_FPU");
	return 0;
}

static void set_delivery_mode(struct kvm_lapic_state *lapic, unsigned int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &lapic->regs[reg], sizeof(v));
	v = (v & ~APIC_DELIVERY_MODE_MASK) | (mode << 8);
	memcpy(&lapic->regs[reg], &v, sizeof(v));
}

/* What the BIOS does for virtual wire mode: the PIC's output reaches the CPU
 * through LINT0 as ExtINT, and LINT1 carries NMIs. */
static int setup_lapic(struct vmm_vcpu *vcpu, struct lv_error **err)
{
	struct kvm_lapic_state lapic;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return lv_err(err, errno, "KVM_GET_LAPIC");
	set_delivery_mode(&lapic, APIC_LVT0, APIC_MODE_EXTINT);
	set_delivery_mode(&lapic, APIC_LVT1, APIC_MODE_NMI);
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0)
		return lv_err(err, errno, "KVM_SET_LAPIC");
	return 0;
}

int vmm_vcpu_create(struct vmm_vm *vm, unsigned int id, struct vmm_vcpu **out, struct lv_error **err)
{
	struct vmm_vcpu *vcpu;
	void *run;
	int r;

	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return lv_err(err, ENOMEM, "allocating vCPU state");
	vcpu->id = id;
	vcpu->run_size = vm->run_size;

	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		r = lv_err(err, errno, "KVM_CREATE_VCPU %u", id);
		goto fail_free;
	}
	run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		r = lv_err(err, errno, "mapping kvm_run of vCPU %u", id);
		goto fail_fd;
	}
	vcpu->run = run;

	r = setup_cpuid(vcpu, vm, err);
	if (r < 0)
		goto fail_setup;
	r = setup_msrs(vcpu, err);
	if (r < 0)
		goto fail_setup;
	r = setup_fpu(vcpu, err);
	if (r < 0)
		goto fail_setup;
	if (vm->irqchip) {
		r = setup_lapic(vcpu, err);
		if (r < 0)
			goto fail_setup;
	}
	*out = vcpu;
	return 0;

fail_setup:
	lv_err_wrap(err, "vCPU %u", id);
	munmap(vcpu->run, vcpu->run_size);
fail_fd:
	close(vcpu->fd);
fail_free:
	free(vcpu);
	return r;
}

void vmm_vcpu_destroy(struct vmm_vcpu **vcpup)
{
	struct vmm_vcpu *vcpu = vcpup ? *vcpup : NULL;

	if (!vcpu)
		return;
	munmap(vcpu->run, vcpu->run_size);
	close(vcpu->fd);
	free(vcpu);
	*vcpup = NULL;
}

const char *vmm_exit_reason_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_IO] = "IO",
		[KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG",
		[KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR",
		[KVM_EXIT_SET_TPR] = "SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
		[KVM_EXIT_NMI] = "NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
		[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
		[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
	};

	if (reason < LV_ARRAY_SIZE(names) && names[reason])
		return names[reason];
	return "?";
}

static unsigned long long guest_rip(const struct vmm_vcpu *vcpu)
{
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0)
		return ~0ULL;
	return regs.rip;
}

static const char *internal_error_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "exit while delivering an event";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "unexpected hardware exit reason";
	default:
		return "unknown suberror";
	}
}

static int internal_error(struct vmm_vcpu *vcpu, struct lv_error **err)
{
	const struct kvm_run *run = vcpu->run;
	char words[16 * 20 + 1] = "";
	uint32_t i, n = run->internal.ndata;
	size_t used = 0;

	if (n > LV_ARRAY_SIZE(run->internal.data))
		n = LV_ARRAY_SIZE(run->internal.data);
	for (i = 0; i < n && used < sizeof(words); i++) {
		int w = snprintf(words + used, sizeof(words) - used, " 0x%llx",
				 (unsigned long long)run->internal.data[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return lv_err_msg(err, EIO, "vCPU %u: KVM internal error %u (%s) at rip 0x%llx, data:%s", vcpu->id,
			  run->internal.suberror, internal_error_name(run->internal.suberror), guest_rip(vcpu),
			  n ? words : " none");
}

static int exit_io(struct vmm_vcpu *vcpu, const struct vmm_exit_ops *ops, void *opaque,
		   struct lv_error **err)
{
	struct kvm_run *run = vcpu->run;
	uint8_t size = run->io.size;
	uint32_t count = run->io.count;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	if ((size != 1 && size != 2 && size != 4) || count == 0 ||
	    run->io.data_offset > vcpu->run_size ||
	    (uint64_t)size * count > vcpu->run_size - run->io.data_offset)
		return lv_err_msg(err, EPROTO, "vCPU %u: malformed I/O exit (port 0x%x size %u count %u offset %llu)",
				  vcpu->id, run->io.port, size, count, (unsigned long long)run->io.data_offset);
	if (!ops->pio)
		return lv_err_msg(err, ENODEV, "vCPU %u: %s of port 0x%x at rip 0x%llx: no port I/O handler",
				  vcpu->id, is_write ? "write" : "read", run->io.port, guest_rip(vcpu));
	return ops->pio(opaque, vcpu, run->io.port, is_write, (uint8_t *)run + run->io.data_offset, size,
			count, err);
}

static int exit_mmio(struct vmm_vcpu *vcpu, const struct vmm_exit_ops *ops, void *opaque,
		     struct lv_error **err)
{
	struct kvm_run *run = vcpu->run;
	uint32_t len = run->mmio.len;

	if (len == 0 || len > sizeof(run->mmio.data))
		return lv_err_msg(err, EPROTO, "vCPU %u: malformed MMIO exit (gpa 0x%llx len %u)", vcpu->id,
				  (unsigned long long)run->mmio.phys_addr, len);
	if (!ops->mmio)
		return lv_err_msg(err, ENODEV, "vCPU %u: MMIO %s at 0x%llx (rip 0x%llx): no MMIO handler",
				  vcpu->id, run->mmio.is_write ? "write" : "read",
				  (unsigned long long)run->mmio.phys_addr, guest_rip(vcpu));
	return ops->mmio(opaque, vcpu, run->mmio.phys_addr, run->mmio.is_write, run->mmio.data, len, err);
}

static int dispatch(struct vmm_vcpu *vcpu, const struct vmm_exit_ops *ops, void *opaque,
		    struct lv_error **err)
{
	struct kvm_run *run = vcpu->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return exit_io(vcpu, ops, opaque, err);
	case KVM_EXIT_MMIO:
		return exit_mmio(vcpu, ops, opaque, err);
	case KVM_EXIT_HLT:
		return ops->hlt ? ops->hlt(opaque, vcpu, err) : VMM_EXIT_STOP;
	case KVM_EXIT_SHUTDOWN:
		return ops->shutdown ? ops->shutdown(opaque, vcpu, err) : VMM_EXIT_STOP;
	case KVM_EXIT_SYSTEM_EVENT:
		return ops->system_event ? ops->system_event(opaque, vcpu, run->system_event.type, err)
					 : VMM_EXIT_STOP;
	case KVM_EXIT_INTR:
		return ops->interrupted ? ops->interrupted(opaque, vcpu, err) : VMM_EXIT_CONTINUE;
	case KVM_EXIT_FAIL_ENTRY:
		return lv_err_msg(err, EIO,
				  "vCPU %u: VM entry failed, hardware reason 0x%llx on host CPU %u, rip 0x%llx",
				  vcpu->id,
				  (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
				  run->fail_entry.cpu, guest_rip(vcpu));
	case KVM_EXIT_INTERNAL_ERROR:
		return internal_error(vcpu, err);
	default:
		return lv_err_msg(err, EPROTO, "vCPU %u: unexpected exit %u (%s) at rip 0x%llx", vcpu->id,
				  run->exit_reason, vmm_exit_reason_name(run->exit_reason), guest_rip(vcpu));
	}
}

int vmm_vcpu_run(struct vmm_vcpu *vcpu, const struct vmm_exit_ops *ops, void *opaque,
		 struct lv_error **err)
{
	for (;;) {
		int r;

		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno != EINTR && errno != EAGAIN)
				return lv_err(err, errno, "vCPU %u: KVM_RUN", vcpu->id);
			/* Whoever set immediate_exit to kick us out has been
			 * heard; the handler decides whether to go on. */
			vcpu->run->immediate_exit = 0;
			r = ops->interrupted ? ops->interrupted(opaque, vcpu, err) : VMM_EXIT_CONTINUE;
		} else {
			r = dispatch(vcpu, ops, opaque, err);
		}
		if (r < 0)
			return r;
		if (r == VMM_EXIT_STOP)
			return 0;
		if (r != VMM_EXIT_CONTINUE)
			return lv_err_msg(err, EINVAL, "vCPU %u: exit handler returned %d", vcpu->id, r);
	}
}
