/* A KVM virtual machine: the /dev/kvm handle, the VM fd, and the in-kernel
 * interrupt controllers (PIC, IOAPIC, per-vCPU LAPIC) and PIT.
 *
 * Construction order matters to KVM: the TSS and identity-map addresses must
 * be set before the first vCPU exists, the irqchip before any vCPU too.
 * Teardown is the reverse (closing the VM fd releases irqchip, PIT, slots). */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/error.h"

/* Intel VMX needs three pages for a real-mode TSS and one for an identity-
 * mapped page table while the guest runs unpaged.  They sit just below the
 * BIOS area at the top of the MMIO hole, where no RAM or device lives. */
#define VMM_KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define VMM_KVM_TSS_ADDR          0xfffbd000ULL

struct vmm_vm_config {
	const char *kvm_path; /* NULL: /dev/kvm */
	/* In-kernel PIC/IOAPIC/LAPIC and PIT.  A Linux guest needs them; without
	 * them HLT exits to user space, which the tiny test guests rely on. */
	bool irqchip;
};

struct vmm_vm {
	int kvm_fd;
	int vm_fd;
	size_t run_size; /* bytes to mmap per vCPU for struct kvm_run */
	bool irqchip;
	/* KVM_GET_SUPPORTED_CPUID with the VM-wide fix-ups, fetched once: each
	 * vCPU gets a copy with its own APIC id. */
	struct kvm_cpuid2 *cpuid;
};

int vmm_vm_create(const struct vmm_vm_config *cfg, struct vmm_vm **out, struct lv_error **err);

/* Destroy the vCPUs first.  NULL-safe, sets *vm to NULL. */
void vmm_vm_destroy(struct vmm_vm **vm);

#endif
