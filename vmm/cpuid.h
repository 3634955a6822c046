/* The CPUID a vCPU shows its guest: what KVM supports on this host, with the
 * per-vCPU topology fields and the hypervisor bit fixed up. */
#ifndef VMM_CPUID_H
#define VMM_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

#include "../lib/error.h"

/* KVM_GET_SUPPORTED_CPUID on the /dev/kvm fd; *out is malloc'ed, free it. */
int vmm_cpuid_supported(int kvm_fd, struct kvm_cpuid2 **out, struct lv_error **err);

/* Pure: rewrites the APIC id fields (leaf 1 EBX[31:24], the x2APIC id in
 * leaves 0xb and 0x1f, AMD's extended APIC id in 0x8000001e) and sets the
 * hypervisor-present bit (leaf 1 ECX[31]). */
void vmm_cpuid_fixup(struct kvm_cpuid2 *cpuid, uint32_t apic_id);

/* The entry for (function, index), or NULL. */
struct kvm_cpuid_entry2 *vmm_cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index);

#endif
