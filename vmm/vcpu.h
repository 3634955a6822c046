/* A vCPU: its fd, its kvm_run page, the architectural state a Linux guest
 * expects at entry (CPUID, MSRs, FPU, LAPIC LINT pins), and the run loop. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"
#include "vm.h"

struct vmm_vcpu {
	int fd;
	unsigned int id; /* KVM vCPU id == APIC id */
	struct kvm_run *run;
	size_t run_size;
};

/* Creates vCPU `id` and gives it CPUID, boot MSRs, FPU state and (with the
 * in-kernel irqchip) LINT0 = ExtINT, LINT1 = NMI.  Registers and segments are
 * left to the boot code (boot.h). */
int vmm_vcpu_create(struct vmm_vm *vm, unsigned int id, struct vmm_vcpu **out, struct lv_error **err);

/* NULL-safe, sets *vcpu to NULL. */
void vmm_vcpu_destroy(struct vmm_vcpu **vcpu);

/* What an exit handler returns when it has not failed. */
enum vmm_exit_action {
	VMM_EXIT_CONTINUE = 0, /* re-enter the guest */
	VMM_EXIT_STOP = 1,     /* return 0 from vmm_vcpu_run() */
};

/* Exit handlers: each returns a vmm_exit_action, or a negative errno with
 * *err filled.  `data` points into the kvm_run page: an IN or MMIO read
 * handler fills it, an OUT or MMIO write handler reads it.  Sizes are bounded
 * before the call: pio size is 1, 2 or 4 and size * count bytes lie inside
 * the page; mmio len is 1..8.
 *
 * A NULL pio or mmio handler makes such an exit an error (nothing is wired
 * there).  NULL hlt, shutdown or system_event stop the loop; the caller reads
 * vcpu->run->exit_reason.  NULL interrupted re-enters the guest. */
struct vmm_exit_ops {
	int (*pio)(void *opaque, struct vmm_vcpu *vcpu, uint16_t port, bool is_write, uint8_t *data,
		   uint8_t size, uint32_t count, struct lv_error **err);
	int (*mmio)(void *opaque, struct vmm_vcpu *vcpu, uint64_t gpa, bool is_write, uint8_t *data,
		    uint32_t len, struct lv_error **err);
	int (*hlt)(void *opaque, struct vmm_vcpu *vcpu, struct lv_error **err);
	/* Triple fault, or `reboot=t` in a guest. */
	int (*shutdown)(void *opaque, struct vmm_vcpu *vcpu, struct lv_error **err);
	/* KVM_SYSTEM_EVENT_{SHUTDOWN,RESET,CRASH,...} */
	int (*system_event)(void *opaque, struct vmm_vcpu *vcpu, uint32_t type, struct lv_error **err);
	/* KVM_RUN was interrupted by a signal (or immediate_exit was set). */
	int (*interrupted)(void *opaque, struct vmm_vcpu *vcpu, struct lv_error **err);
};

/* Runs the vCPU until a handler asks to stop (returns 0) or something fails
 * (negative errno; entry failures and KVM internal errors are described with
 * the guest RIP). */
int vmm_vcpu_run(struct vmm_vcpu *vcpu, const struct vmm_exit_ops *ops, void *opaque,
		 struct lv_error **err);

/* Human name of a KVM_EXIT_* value, for messages. */
const char *vmm_exit_reason_name(uint32_t reason);

#endif
