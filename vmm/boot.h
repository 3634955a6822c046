/* Booting a Linux bzImage through the x86 64-bit boot protocol
 * (Documentation/x86/boot.rst, zero-page.rst): the kernel, command line,
 * initrd and zero page in guest RAM, identity-mapped page tables and a GDT,
 * and the vCPU put straight into long mode at the kernel's startup_64.
 *
 * Low-memory layout (guest-physical):
 *   0x00500  GDT: null, null, 0x10 code64, 0x18 data, 0x20 TSS (16 bytes)
 *   0x07000  zero page (struct boot_params)
 *   0x08ff0  initial stack top
 *   0x09000  PML4, 0x0a000 PDPT, 0x0b000 PD (2 MiB pages: first 1 GiB)
 *   0x20000  command line (NUL-terminated)
 *   0x9fc00  .. 1 MiB reserved in e820 (where a PC has EBDA, VGA, BIOS)
 *   1 MiB    protected-mode kernel (the compressed bzImage payload)
 *   top of the low RAM region (below initrd_addr_max): the initrd */
#ifndef VMM_BOOT_H
#define VMM_BOOT_H

#include <asm/bootparam.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"
#include "bzimage.h"
#include "memory.h"
#include "vcpu.h"

#define VMM_BOOT_GDT_ADDR      0x500ULL
#define VMM_BOOT_ZERO_PAGE     0x7000ULL
#define VMM_BOOT_STACK_TOP     0x8ff0ULL
#define VMM_BOOT_PML4_ADDR     0x9000ULL
#define VMM_BOOT_PDPT_ADDR     0xa000ULL
#define VMM_BOOT_PD_ADDR       0xb000ULL
#define VMM_BOOT_CMDLINE_ADDR  0x20000ULL
/* Our own ceiling on the command line, whatever cmdline_size allows. */
#define VMM_BOOT_CMDLINE_MAX   0x10000ULL
#define VMM_BOOT_EBDA_START    0x9fc00ULL
#define VMM_BOOT_HIMEM_START   0x100000ULL
#define VMM_BOOT_KERNEL_ADDR   0x100000ULL
/* The 64-bit boot protocol wants the kernel's init_size range, the zero
 * page and the command line identity-mapped. */
#define VMM_BOOT_IDENT_MAP_SIZE (1ULL << 30)
/* startup_64 is 0x200 into the protected-mode kernel. */
#define VMM_BOOT_ENTRY64_OFFSET 0x200ULL

#define VMM_BOOT_CS  0x10 /* __BOOT_CS */
#define VMM_BOOT_DS  0x18 /* __BOOT_DS */
#define VMM_BOOT_TSS 0x20

struct vmm_boot_config {
	const void *kernel; /* bzImage bytes (or an ELF vmlinux: vmm_boot_kernel() in pvh.h) */
	size_t kernel_size;
	const void *initrd; /* may be NULL when initrd_size is 0 */
	size_t initrd_size;
	const char *cmdline; /* NULL: empty */
};

/* Where things went, for the caller's log and for tests. */
struct vmm_boot_layout {
	struct vmm_bzimage image;
	uint64_t kernel_addr, kernel_size;
	uint64_t runtime_start, runtime_end; /* [start, start + init_size) */
	uint64_t entry;                      /* startup_64 */
	uint64_t zero_page;
	uint64_t cmdline_addr, cmdline_len;
	uint64_t initrd_addr, initrd_size;   /* 0, 0 without an initrd */
};

/* Parses the bzImage and writes kernel, command line, initrd and zero page
 * into guest RAM.  Fails cleanly (nothing assumed about RAM contents) when
 * something does not fit. */
int vmm_boot_load_linux(const struct vmm_memory *mem, const struct vmm_boot_config *cfg,
			struct vmm_boot_layout *out, struct lv_error **err);

/* Fills table[0..max) with the guest's e820 map; returns the entry count. */
int vmm_boot_e820(const struct vmm_memory *mem, struct boot_e820_entry *table, unsigned int max,
		  struct lv_error **err);

/* Writes the GDT and the identity-mapping page tables into guest RAM. */
int vmm_boot_write_long_mode_tables(const struct vmm_memory *mem, struct lv_error **err);

/* Pure: the KVM segment register that loading `selector` would give when
 * it names the 8-byte GDT entry `descriptor` (base, limit with
 * granularity, type, S, DPL, P, AVL, L, D/B).  For other boot paths that
 * write their own GDT (pvh.c). */
struct kvm_segment vmm_boot_gdt_segment(uint64_t descriptor, uint16_t selector);

/* Pure: sets segments (from the same GDT entries), CR0/CR3/CR4 and EFER for
 * 64-bit mode with the tables above; other fields are left as they are. */
void vmm_boot_long_mode_sregs(struct kvm_sregs *sregs);

/* Everything a vCPU needs to start executing 64-bit code at rip with paging
 * on, interrupts off and rsi as given: tables, sregs, regs. */
int vmm_boot_enter_64(struct vmm_vcpu *vcpu, const struct vmm_memory *mem, uint64_t rip, uint64_t rsi,
		      struct lv_error **err);

/* vmm_boot_load_linux() + vmm_boot_enter_64() at startup_64 with the zero page. */
int vmm_boot_linux(struct vmm_vcpu *vcpu, const struct vmm_memory *mem, const struct vmm_boot_config *cfg,
		   struct vmm_boot_layout *out, struct lv_error **err);

#endif
