/* Booting an uncompressed ELF vmlinux through the Xen PVH entry, as
 * Firecracker and QEMU do for a CONFIG_PVH kernel: no decompressor runs in
 * the guest.  The kernel's PT_LOAD segments go to their physical addresses
 * (bss zeroed); a struct hvm_start_info (Xen's public
 * arch-x86/hvm/start_info.h, version 1) names the command line, the initrd
 * as the first module and the memory map (the same e820 layout as the bzImage
 * path, vmm_boot_e820()); the vCPU starts at the note's entry in 32-bit flat
 * protected mode with paging off and %ebx = the start_info's address.
 * Linux (arch/x86/platform/pvh/) copies the start_info, builds its
 * boot_params from it and its own page tables, and goes to 64-bit mode.
 *
 * Low-memory layout (guest-physical; the bzImage path's zero page and page
 * tables are not written):
 *   0x00500  GDT: null, null, 0x10 code32, 0x18 data, 0x20 TSS
 *   0x07000  struct hvm_start_info
 *   0x07100  module list (one entry: the initrd)
 *   0x07200  memory map (hvm_memmap_table_entry[])
 *   0x08ff0  initial stack top (Linux sets its own; for small test guests)
 *   0x20000  command line (NUL-terminated)
 *   0x9fc00  .. 1 MiB reserved in the memory map (the MP table lives here)
 *   1 MiB .. the kernel's segments, at their ELF physical addresses
 *            (16 MiB for Tinyx); nothing of them may lie below 1 MiB
 *   top of low RAM (below 2 GiB), or else below the kernel: the initrd */
#ifndef VMM_PVH_H
#define VMM_PVH_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"
#include "boot.h"
#include "elf.h"
#include "memory.h"
#include "vcpu.h"

#define VMM_PVH_START_INFO_ADDR 0x7000ULL
#define VMM_PVH_MODLIST_ADDR    0x7100ULL
#define VMM_PVH_MEMMAP_ADDR     0x7200ULL
/* Linux copies the map into its 128-entry boot_params table and appends
 * the ISA range itself; ours has at most 4 entries. */
#define VMM_PVH_MEMMAP_MAX      16
/* x86 Linux's COMMAND_LINE_SIZE is 2048, with the NUL. */
#define VMM_PVH_CMDLINE_MAX     2047
/* What a 64-bit bzImage declares as initrd_addr_max; PVH has no header to
 * say otherwise, so the initrd stays where that path would put it. */
#define VMM_PVH_INITRD_ADDR_MAX 0x7fffffffULL

#define VMM_PVH_CS  0x10
#define VMM_PVH_DS  0x18
#define VMM_PVH_TSS 0x20

#define VMM_PVH_START_MAGIC   0x336ec578 /* "xEn3" with the 0x80 bit of the E set */
#define VMM_PVH_START_VERSION 1          /* has memmap_paddr / memmap_entries */
#define VMM_PVH_MEMMAP_RAM      1
#define VMM_PVH_MEMMAP_RESERVED 2

/* The guest ABI: little-endian, naturally aligned, no padding. */
struct vmm_pvh_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr; /* 0: no ACPI */
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct vmm_pvh_module {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr; /* 0: none */
	uint64_t reserved;
};

struct vmm_pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct vmm_pvh_start_info) == 56, "hvm_start_info v1 is 56 bytes");
_Static_assert(sizeof(struct vmm_pvh_module) == 32, "hvm_modlist_entry is 32 bytes");
_Static_assert(sizeof(struct vmm_pvh_memmap_entry) == 24, "hvm_memmap_table_entry is 24 bytes");

/* Where things went, for the caller's log and for tests. */
struct vmm_pvh_layout {
	struct vmm_elf_kernel elf;
	uint64_t entry;                    /* EIP: the PVH entry */
	uint64_t start_info;               /* EBX */
	uint64_t kernel_start, kernel_end; /* the segments' span */
	uint64_t cmdline_addr, cmdline_len;
	uint64_t initrd_addr, initrd_size; /* 0, 0 without an initrd */
	unsigned int memmap_entries;
};

/* Parses the ELF image and writes its segments, the command line, the
 * initrd, the memory map, the module list and the start_info into guest
 * RAM.  Every placement is checked before anything is written. */
int vmm_pvh_load(const struct vmm_memory *mem, const struct vmm_boot_config *cfg, struct vmm_pvh_layout *out,
		 struct lv_error **err);

/* Writes the 32-bit GDT at VMM_BOOT_GDT_ADDR. */
int vmm_pvh_write_gdt(const struct vmm_memory *mem, struct lv_error **err);

/* Pure: flat 32-bit protected mode from that GDT: CS code (base 0, 4 GiB,
 * D=1), DS/ES/FS/GS/SS data, TR a busy TSS, CR0 = PE|ET (paging off),
 * CR3 = CR4 = 0, EFER = 0.  Other fields are left as they are. */
void vmm_pvh_sregs(struct kvm_sregs *sregs);

/* Everything a vCPU needs to start executing 32-bit code at eip with paging
 * off, interrupts off and %ebx as given: GDT, sregs, regs. */
int vmm_pvh_enter_32(struct vmm_vcpu *vcpu, const struct vmm_memory *mem, uint32_t eip, uint32_t ebx,
		     struct lv_error **err);

/* vmm_pvh_load() + vmm_pvh_enter_32() at the PVH entry with the start_info. */
int vmm_pvh_boot(struct vmm_vcpu *vcpu, const struct vmm_memory *mem, const struct vmm_boot_config *cfg,
		 struct vmm_pvh_layout *out, struct lv_error **err);

/* The loader for whatever cfg->kernel is: an ELF image boots through PVH
 * (and must have the PVH note), anything else through the bzImage 64-bit
 * boot protocol (vmm_boot_linux()). */
int vmm_boot_kernel(struct vmm_vcpu *vcpu, const struct vmm_memory *mem, const struct vmm_boot_config *cfg,
		    struct lv_error **err);

#endif
