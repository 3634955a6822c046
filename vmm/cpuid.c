/* CPUID for vCPUs (see cpuid.h). */
#include "cpuid.h"

#include <stdlib.h>
#include <sys/ioctl.h>

#define VMM_CPUID_HYPERVISOR_BIT (1U << 31)
/* KVM's own limit is 256 entries today; the loop doubles up to this. */
#define VMM_CPUID_MAX_ENTRIES 4096

int vmm_cpuid_supported(int kvm_fd, struct kvm_cpuid2 **out, struct lv_error **err)
{
	uint32_t nent;

	for (nent = 64; nent <= VMM_CPUID_MAX_ENTRIES; nent *= 2) {
		struct kvm_cpuid2 *cpuid;

		cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(cpuid->entries[0]));
		if (!cpuid)
			return lv_err(err, ENOMEM, "allocating %u CPUID entries", nent);
		cpuid->nent = nent;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0) {
			*out = cpuid;
			return 0;
		}
		free(cpuid);
		if (errno != E2BIG)
			return lv_err(err, errno, "KVM_GET_SUPPORTED_CPUID");
	}
	return lv_err_msg(err, E2BIG, "KVM_GET_SUPPORTED_CPUID: more than %d entries", VMM_CPUID_MAX_ENTRIES);
}

struct kvm_cpuid_entry2 *vmm_cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index)
{
	uint32_t i;

	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function != function)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != index)
			continue;
		return e;
	}
	return NULL;
}

void vmm_cpuid_fixup(struct kvm_cpuid2 *cpuid, uint32_t apic_id)
{
	uint32_t i;

	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 0x1:
			/* The initial APIC id the guest reads must match the
			 * LAPIC KVM created for this vCPU. */
			e->ebx = (e->ebx & 0x00ffffffU) | ((apic_id & 0xff) << 24);
			e->ecx |= VMM_CPUID_HYPERVISOR_BIT;
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology: EDX is the x2APIC id, every subleaf. */
			e->edx = apic_id;
			break;
		case 0x8000001e:
			e->eax = apic_id;
			break;
		default:
			break;
		}
	}
}
