/* PVH boot of an ELF vmlinux (see pvh.h). */
#include "pvh.h"

#include <string.h>
#include <sys/ioctl.h>

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)

/* Flat 4 GiB descriptors, base 0, limit 0xfffff in 4 KiB units.  Access
 * byte 0x9b: present, ring 0, code, execute/read, accessed; 0x93: data,
 * read/write, accessed; 0x8b: present, busy 32-bit TSS.  Flags nibble 0xc:
 * 4 KiB granularity, 32-bit default operand size (D/B), L clear. */
#define GDT_CODE32 0x00cf9b000000ffffULL
#define GDT_DATA   0x00cf93000000ffffULL
/* The PVH ABI wants TR to name a busy 32-bit TSS; nothing uses it. */
#define GDT_TSS    0x00008b0000000067ULL
#define GDT_ENTRIES 6 /* the bzImage path's layout: null, null, code, data, TSS (two slots) */

#define ALIGN_UP(x, a)   (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))

int vmm_pvh_write_gdt(const struct vmm_memory *mem, struct lv_error **err)
{
	uint64_t gdt[GDT_ENTRIES] = { 0, 0, GDT_CODE32, GDT_DATA, GDT_TSS, 0 };
	int r;

	r = vmm_memory_write(mem, VMM_BOOT_GDT_ADDR, gdt, sizeof(gdt), err);
	if (r < 0)
		return lv_err_wrap(err, "PVH GDT");
	return 0;
}

void vmm_pvh_sregs(struct kvm_sregs *sregs)
{
	struct kvm_segment data = vmm_boot_gdt_segment(GDT_DATA, VMM_PVH_DS);

	sregs->cs = vmm_boot_gdt_segment(GDT_CODE32, VMM_PVH_CS);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = vmm_boot_gdt_segment(GDT_TSS, VMM_PVH_TSS);
	sregs->gdt.base = VMM_BOOT_GDT_ADDR;
	sregs->gdt.limit = GDT_ENTRIES * 8 - 1;
	/* No IDT: an exception before Linux loads its own is a triple fault,
	 * seen as a SHUTDOWN exit. */
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	sregs->cr0 = CR0_PE | CR0_ET; /* caches on, paging off */
	sregs->cr3 = 0;
	sregs->cr4 = 0;
	sregs->efer = 0;
}

int vmm_pvh_enter_32(struct vmm_vcpu *vcpu, const struct vmm_memory *mem, uint32_t eip, uint32_t ebx,
		     struct lv_error **err)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rflags = 0x2, /* bit 1 is reserved-one; IF and VM clear */
		.rip = eip,
		.rbx = ebx,
		.rsp = VMM_BOOT_STACK_TOP,
		.rbp = VMM_BOOT_STACK_TOP,
	};
	int r;

	r = vmm_pvh_write_gdt(mem, err);
	if (r < 0)
		return r;
	/* From KVM's reset state, so the APIC base and the pending-interrupt
	 * bitmap stay as KVM set them. */
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return lv_err(err, errno, "vCPU %u: KVM_GET_SREGS", vcpu->id);
	vmm_pvh_sregs(&sregs);
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return lv_err(err, errno, "vCPU %u: KVM_SET_SREGS (32-bit protected mode)", vcpu->id);
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return lv_err(err, errno, "vCPU %u: KVM_SET_REGS", vcpu->id);
	return 0;
}

/* Every segment in RAM, above the low-memory boot structures. */
static int check_segments(const struct vmm_memory *mem, const struct vmm_elf_kernel *k, struct lv_error **err)
{
	unsigned int i;

	for (i = 0; i < k->nr_segments; i++) {
		const struct vmm_elf_segment *s = &k->segments[i];

		if (s->paddr < VMM_BOOT_HIMEM_START)
			return lv_err_msg(err, ENOEXEC, "ELF kernel: segment at 0x%llx lies below 1 MiB, over the boot "
					  "structures", (unsigned long long)s->paddr);
		if (!vmm_gpa_to_hva(mem, s->paddr, s->memsz))
			return lv_err_msg(err, ENOSPC, "kernel segment [0x%llx, 0x%llx) is not guest RAM; give the "
					  "guest more memory", (unsigned long long)s->paddr,
					  (unsigned long long)(s->paddr + s->memsz));
	}
	return 0;
}

/* The initrd goes as high as it may in the low RAM region, page aligned and
 * above the kernel (where the bzImage path puts it); when that leaves no
 * room, in the gap between 1 MiB and the kernel. */
static int place_initrd(const struct vmm_memory *mem, const struct vmm_pvh_layout *l, uint64_t size,
			uint64_t *addr, struct lv_error **err)
{
	uint64_t top = mem->regions[0].size; /* region 0 starts at 0 */
	uint64_t floor = ALIGN_UP(l->kernel_end, VMM_PAGE_SIZE);
	uint64_t below = l->kernel_start;

	if (VMM_PVH_INITRD_ADDR_MAX + 1 < top)
		top = VMM_PVH_INITRD_ADDR_MAX + 1;
	if (size <= top && ALIGN_DOWN(top - size, VMM_PAGE_SIZE) >= floor) {
		*addr = ALIGN_DOWN(top - size, VMM_PAGE_SIZE);
		return 0;
	}
	if (below > top)
		below = top;
	if (size <= below && ALIGN_DOWN(below - size, VMM_PAGE_SIZE) >= VMM_BOOT_HIMEM_START) {
		*addr = ALIGN_DOWN(below - size, VMM_PAGE_SIZE);
		return 0;
	}
	return lv_err_msg(err, ENOSPC,
			  "initrd of %llu bytes fits neither between the kernel's end 0x%llx and 0x%llx nor between "
			  "1 MiB and its start 0x%llx; give the guest more memory",
			  (unsigned long long)size, (unsigned long long)floor, (unsigned long long)top,
			  (unsigned long long)l->kernel_start);
}

static void write_segments(const struct vmm_memory *mem, const struct vmm_boot_config *cfg,
			   const struct vmm_elf_kernel *k)
{
	unsigned int i;

	for (i = 0; i < k->nr_segments; i++) {
		const struct vmm_elf_segment *s = &k->segments[i];
		/* Checked by check_segments(); the parser bounded the source. */
		uint8_t *dst = vmm_gpa_to_hva(mem, s->paddr, s->memsz);

		memcpy(dst, (const uint8_t *)cfg->kernel + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
}

static int write_start_info(const struct vmm_memory *mem, struct vmm_pvh_layout *l, struct lv_error **err)
{
	struct boot_e820_entry e820[VMM_PVH_MEMMAP_MAX];
	struct vmm_pvh_memmap_entry map[VMM_PVH_MEMMAP_MAX];
	struct vmm_pvh_start_info si = {
		.magic = VMM_PVH_START_MAGIC,
		.version = VMM_PVH_START_VERSION,
		.cmdline_paddr = l->cmdline_addr,
		.memmap_paddr = VMM_PVH_MEMMAP_ADDR,
	};
	int n, i, r;

	n = vmm_boot_e820(mem, e820, VMM_PVH_MEMMAP_MAX, err);
	if (n < 0)
		return n;
	memset(map, 0, sizeof(map));
	for (i = 0; i < n; i++) {
		map[i].addr = e820[i].addr;
		map[i].size = e820[i].size;
		map[i].type = e820[i].type;
	}
	r = vmm_memory_write(mem, VMM_PVH_MEMMAP_ADDR, map, (uint64_t)n * sizeof(map[0]), err);
	if (r < 0)
		return lv_err_wrap(err, "PVH memory map");
	si.memmap_entries = (uint32_t)n;
	l->memmap_entries = (unsigned int)n;
	if (l->initrd_size) {
		struct vmm_pvh_module mod = { .paddr = l->initrd_addr, .size = l->initrd_size };

		r = vmm_memory_write(mem, VMM_PVH_MODLIST_ADDR, &mod, sizeof(mod), err);
		if (r < 0)
			return lv_err_wrap(err, "PVH module list");
		si.nr_modules = 1;
		si.modlist_paddr = VMM_PVH_MODLIST_ADDR;
	}
	r = vmm_memory_write(mem, VMM_PVH_START_INFO_ADDR, &si, sizeof(si), err);
	if (r < 0)
		return lv_err_wrap(err, "PVH start_info");
	return 0;
}

int vmm_pvh_load(const struct vmm_memory *mem, const struct vmm_boot_config *cfg, struct vmm_pvh_layout *out,
		 struct lv_error **err)
{
	struct vmm_pvh_layout l = { .start_info = VMM_PVH_START_INFO_ADDR, .cmdline_addr = VMM_BOOT_CMDLINE_ADDR };
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	int r;

	r = vmm_elf_parse(cfg->kernel, cfg->kernel_size, &l.elf, err);
	if (r < 0)
		return r;
	if (!l.elf.has_pvh)
		return lv_err_msg(err, ENOEXEC, "ELF kernel: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); build it "
				  "with CONFIG_PVH=y, or boot its bzImage");
	if (mem->regions[0].size < VMM_BOOT_HIMEM_START)
		return lv_err_msg(err, ENOSPC, "guest RAM below 1 MiB is too small to boot Linux");
	r = check_segments(mem, &l.elf, err);
	if (r < 0)
		return r;
	l.entry = l.elf.pvh_entry;
	l.kernel_start = l.elf.load_start;
	l.kernel_end = l.elf.load_end;
	l.cmdline_len = strlen(cmdline);
	if (l.cmdline_len > VMM_PVH_CMDLINE_MAX)
		return lv_err_msg(err, E2BIG, "kernel command line of %llu bytes exceeds %d",
				  (unsigned long long)l.cmdline_len, VMM_PVH_CMDLINE_MAX);
	if (!vmm_gpa_to_hva(mem, l.cmdline_addr, l.cmdline_len + 1))
		return lv_err_msg(err, EFAULT, "kernel command line at 0x%llx: not RAM", VMM_BOOT_CMDLINE_ADDR);
	if (cfg->initrd_size) {
		if (!cfg->initrd)
			return lv_err_msg(err, EINVAL, "initrd: %zu bytes but no data", cfg->initrd_size);
		r = place_initrd(mem, &l, cfg->initrd_size, &l.initrd_addr, err);
		if (r < 0)
			return r;
		l.initrd_size = cfg->initrd_size;
	}

	write_segments(mem, cfg, &l.elf);
	r = vmm_memory_write(mem, l.cmdline_addr, cmdline, l.cmdline_len + 1, err);
	if (r < 0)
		return lv_err_wrap(err, "kernel command line");
	if (l.initrd_size) {
		r = vmm_memory_write(mem, l.initrd_addr, cfg->initrd, l.initrd_size, err);
		if (r < 0)
			return lv_err_wrap(err, "loading the initrd");
	}
	r = write_start_info(mem, &l, err);
	if (r < 0)
		return r;
	*out = l;
	return 0;
}

int vmm_pvh_boot(struct vmm_vcpu *vcpu, const struct vmm_memory *mem, const struct vmm_boot_config *cfg,
		 struct vmm_pvh_layout *out, struct lv_error **err)
{
	struct vmm_pvh_layout l;
	int r;

	r = vmm_pvh_load(mem, cfg, &l, err);
	if (r < 0)
		return r;
	/* Both below 4 GiB: the parser bounded the entry, start_info is fixed. */
	r = vmm_pvh_enter_32(vcpu, mem, (uint32_t)l.entry, (uint32_t)l.start_info, err);
	if (r < 0)
		return r;
	if (out)
		*out = l;
	return 0;
}

int vmm_boot_kernel(struct vmm_vcpu *vcpu, const struct vmm_memory *mem, const struct vmm_boot_config *cfg,
		    struct lv_error **err)
{
	if (vmm_elf_is_elf(cfg->kernel, cfg->kernel_size))
		return vmm_pvh_boot(vcpu, mem, cfg, NULL, err);
	return vmm_boot_linux(vcpu, mem, cfg, NULL, err);
}
