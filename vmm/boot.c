/* Linux x86 64-bit boot protocol (see boot.h). */
#include "boot.h"

#include <string.h>
#include <sys/ioctl.h>

#define E820_TYPE_RAM      1
#define E820_TYPE_RESERVED 2

#define PTE_PRESENT  (1ULL << 0)
#define PTE_WRITE    (1ULL << 1)
#define PTE_PAGESIZE (1ULL << 7)
#define PAGE_2M      (2ULL << 20)

#define CR0_PE   (1ULL << 0)
#define CR0_ET   (1ULL << 4)
#define CR0_PG   (1ULL << 31)
#define CR4_PAE  (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

/* Flat 4 GiB descriptors (base 0, limit 0xfffff in 4 KiB units).
 * Access byte: 0x9b = present, ring 0, code, execute/read, accessed;
 * 0x93 = present, ring 0, data, read/write, accessed; 0x8b = present, busy
 * 64-bit TSS.  Flags nibble: 0xa = 4 KiB granularity + long mode (L),
 * 0xc = granularity + 32-bit default size (D/B). */
#define GDT_CODE64 0x00af9b000000ffffULL
#define GDT_DATA   0x00cf93000000ffffULL
/* The TSS is never used (no privilege changes before Linux loads its own),
 * but VM entry insists on TR naming a busy TSS; limit 0x67 = 104 bytes. */
#define GDT_TSS_LO 0x00008b0000000067ULL
#define GDT_ENTRIES 6 /* null, null, code, data, TSS (two slots) */

#define ALIGN_UP(x, a)   (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))

static struct kvm_segment segment_from_gdt(uint64_t e, uint16_t selector)
{
	uint32_t limit = (uint32_t)((e & 0xffff) | ((e >> 32) & 0xf0000));
	struct kvm_segment s = {
		.base = ((e >> 16) & 0xffffff) | (((e >> 56) & 0xff) << 24),
		.selector = selector,
		.type = (e >> 40) & 0xf,
		.s = (e >> 44) & 1,
		.dpl = (e >> 45) & 3,
		.present = (e >> 47) & 1,
		.avl = (e >> 52) & 1,
		.l = (e >> 53) & 1,
		.db = (e >> 54) & 1,
		.g = (e >> 55) & 1,
	};

	s.limit = s.g ? (limit << 12) | 0xfff : limit;
	return s;
}

struct kvm_segment vmm_boot_gdt_segment(uint64_t descriptor, uint16_t selector)
{
	return segment_from_gdt(descriptor, selector);
}

void vmm_boot_long_mode_sregs(struct kvm_sregs *sregs)
{
	struct kvm_segment code = segment_from_gdt(GDT_CODE64, VMM_BOOT_CS);
	struct kvm_segment data = segment_from_gdt(GDT_DATA, VMM_BOOT_DS);

	sregs->cs = code;
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = segment_from_gdt(GDT_TSS_LO, VMM_BOOT_TSS);
	sregs->gdt.base = VMM_BOOT_GDT_ADDR;
	sregs->gdt.limit = GDT_ENTRIES * 8 - 1;
	/* No IDT: with interrupts off, an exception before the kernel loads its
	 * own escalates to a triple fault, which we see as a SHUTDOWN exit. */
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	/* Caches on (no CD/NW), protection and paging on. */
	sregs->cr0 = CR0_PE | CR0_ET | CR0_PG;
	sregs->cr3 = VMM_BOOT_PML4_ADDR;
	sregs->cr4 = CR4_PAE;
	sregs->efer = EFER_LME | EFER_LMA;
}

int vmm_boot_write_long_mode_tables(const struct vmm_memory *mem, struct lv_error **err)
{
	uint64_t gdt[GDT_ENTRIES] = { 0, 0, GDT_CODE64, GDT_DATA, GDT_TSS_LO, 0 };
	uint64_t *pml4 = vmm_gpa_to_hva(mem, VMM_BOOT_PML4_ADDR, VMM_PAGE_SIZE);
	uint64_t *pdpt = vmm_gpa_to_hva(mem, VMM_BOOT_PDPT_ADDR, VMM_PAGE_SIZE);
	uint64_t *pd = vmm_gpa_to_hva(mem, VMM_BOOT_PD_ADDR, VMM_PAGE_SIZE);
	uint64_t i;
	int r;

	if (!pml4 || !pdpt || !pd)
		return lv_err_msg(err, EFAULT, "boot page tables at 0x%llx..0x%llx: not RAM", VMM_BOOT_PML4_ADDR,
				  VMM_BOOT_PD_ADDR + VMM_PAGE_SIZE);
	r = vmm_memory_write(mem, VMM_BOOT_GDT_ADDR, gdt, sizeof(gdt), err);
	if (r < 0)
		return lv_err_wrap(err, "boot GDT");
	memset(pml4, 0, VMM_PAGE_SIZE);
	memset(pdpt, 0, VMM_PAGE_SIZE);
	pml4[0] = VMM_BOOT_PDPT_ADDR | PTE_PRESENT | PTE_WRITE;
	pdpt[0] = VMM_BOOT_PD_ADDR | PTE_PRESENT | PTE_WRITE;
	for (i = 0; i < VMM_PAGE_SIZE / sizeof(*pd); i++)
		pd[i] = i * PAGE_2M | PTE_PRESENT | PTE_WRITE | PTE_PAGESIZE;
	return 0;
}

int vmm_boot_enter_64(struct vmm_vcpu *vcpu, const struct vmm_memory *mem, uint64_t rip, uint64_t rsi,
		      struct lv_error **err)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rflags = 0x2, /* bit 1 is reserved-one; IF clear */
		.rip = rip,
		.rsi = rsi,
		.rsp = VMM_BOOT_STACK_TOP,
		.rbp = VMM_BOOT_STACK_TOP,
	};
	int r;

	r = vmm_boot_write_long_mode_tables(mem, err);
	if (r < 0)
		return r;
	/* Start from KVM's reset state so the APIC base and pending-interrupt
	 * bitmap stay as KVM set them. */
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return lv_err(err, errno, "vCPU %u: KVM_GET_SREGS", vcpu->id);
	vmm_boot_long_mode_sregs(&sregs);
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return lv_err(err, errno, "vCPU %u: KVM_SET_SREGS (long mode)", vcpu->id);
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return lv_err(err, errno, "vCPU %u: KVM_SET_REGS", vcpu->id);
	return 0;
}

static int e820_add(struct boot_e820_entry *table, unsigned int max, unsigned int *n, uint64_t start,
		    uint64_t end, uint32_t type, struct lv_error **err)
{
	if (end <= start)
		return 0;
	if (*n >= max)
		return lv_err_msg(err, ENOSPC, "e820 map: more than %u entries", max);
	table[*n].addr = start;
	table[*n].size = end - start;
	table[*n].type = type;
	(*n)++;
	return 0;
}

int vmm_boot_e820(const struct vmm_memory *mem, struct boot_e820_entry *table, unsigned int max,
		  struct lv_error **err)
{
	unsigned int n = 0, i;
	int r;

	for (i = 0; i < mem->nr_regions; i++) {
		uint64_t start = mem->regions[i].gpa;
		uint64_t end = start + mem->regions[i].size;

		if (start < VMM_BOOT_HIMEM_START) {
			/* The legacy hole: RAM up to the EBDA, reserved to 1 MiB. */
			uint64_t ebda = end < VMM_BOOT_EBDA_START ? end : VMM_BOOT_EBDA_START;
			uint64_t himem = end < VMM_BOOT_HIMEM_START ? end : VMM_BOOT_HIMEM_START;

			r = e820_add(table, max, &n, start, ebda, E820_TYPE_RAM, err);
			if (r == 0)
				r = e820_add(table, max, &n, ebda, himem, E820_TYPE_RESERVED, err);
			if (r < 0)
				return r;
			start = himem;
		}
		r = e820_add(table, max, &n, start, end, E820_TYPE_RAM, err);
		if (r < 0)
			return r;
	}
	return (int)n;
}

/* Puts the initrd as high as the kernel allows in the low RAM region, page
 * aligned, and above everything the kernel occupies while it starts. */
static int place_initrd(const struct vmm_memory *mem, const struct vmm_boot_layout *l, size_t size,
			uint64_t *addr, struct lv_error **err)
{
	uint64_t top = mem->regions[0].size; /* region 0 starts at 0 */
	uint64_t floor = l->kernel_addr + l->kernel_size;

	if ((uint64_t)l->image.initrd_addr_max + 1 < top)
		top = (uint64_t)l->image.initrd_addr_max + 1;
	if (l->runtime_end > floor)
		floor = l->runtime_end;
	floor = ALIGN_UP(floor, VMM_PAGE_SIZE);
	if (size > top || ALIGN_DOWN(top - size, VMM_PAGE_SIZE) < floor)
		return lv_err_msg(err, ENOSPC,
				  "initrd of %zu bytes does not fit between the kernel's end 0x%llx and 0x%llx "
				  "(RAM end or initrd_addr_max)",
				  size, (unsigned long long)floor, (unsigned long long)top);
	*addr = ALIGN_DOWN(top - size, VMM_PAGE_SIZE);
	return 0;
}

static int place_kernel(const struct vmm_memory *mem, struct vmm_boot_layout *l, struct lv_error **err)
{
	const struct vmm_bzimage *h = &l->image;

	l->kernel_addr = VMM_BOOT_KERNEL_ADDR;
	l->kernel_size = h->kernel_size;
	l->entry = l->kernel_addr + VMM_BOOT_ENTRY64_OFFSET;
	/* Where the decompressed kernel will run: pref_address for a fixed
	 * kernel; a relocatable one runs at its load address rounded up to
	 * kernel_alignment but never below pref_address (LOAD_PHYSICAL_ADDR). */
	l->runtime_start = h->pref_address;
	if (h->relocatable) {
		uint64_t aligned = ALIGN_UP(l->kernel_addr, h->kernel_alignment);

		if (aligned > l->runtime_start)
			l->runtime_start = aligned;
	}
	l->runtime_end = l->runtime_start + h->init_size; /* both < 4 GiB: no overflow */

	if (!vmm_gpa_to_hva(mem, l->kernel_addr, l->kernel_size))
		return lv_err_msg(err, ENOSPC, "kernel of %llu bytes does not fit in RAM at 0x%llx",
				  (unsigned long long)l->kernel_size, (unsigned long long)l->kernel_addr);
	if (!vmm_gpa_to_hva(mem, l->runtime_start, h->init_size) || l->runtime_end > VMM_BOOT_IDENT_MAP_SIZE)
		return lv_err_msg(err, ENOSPC,
				  "kernel needs RAM [0x%llx, 0x%llx) (pref_address + init_size) below %llu MiB; "
				  "give the guest more memory",
				  (unsigned long long)l->runtime_start, (unsigned long long)l->runtime_end,
				  VMM_BOOT_IDENT_MAP_SIZE >> 20);
	return 0;
}

static int write_cmdline(const struct vmm_memory *mem, const struct vmm_boot_layout *l, const char *cmdline,
			 struct lv_error **err)
{
	uint64_t max = l->image.cmdline_size;
	size_t len = strlen(cmdline);
	char *dst;

	if (max > VMM_BOOT_CMDLINE_MAX - 1)
		max = VMM_BOOT_CMDLINE_MAX - 1;
	if (len > max)
		return lv_err_msg(err, E2BIG, "kernel command line of %zu bytes exceeds %llu", len,
				  (unsigned long long)max);
	dst = vmm_gpa_to_hva(mem, VMM_BOOT_CMDLINE_ADDR, len + 1);
	if (!dst)
		return lv_err_msg(err, EFAULT, "kernel command line at 0x%llx: not RAM", VMM_BOOT_CMDLINE_ADDR);
	memcpy(dst, cmdline, len + 1);
	return 0;
}

static int write_zero_page(const struct vmm_memory *mem, const struct vmm_boot_config *cfg,
			   const struct vmm_boot_layout *l, struct lv_error **err)
{
	struct boot_params *bp = vmm_gpa_to_hva(mem, VMM_BOOT_ZERO_PAGE, sizeof(*bp));
	int n;

	if (!bp)
		return lv_err_msg(err, EFAULT, "zero page at 0x%llx: not RAM", VMM_BOOT_ZERO_PAGE);
	memset(bp, 0, sizeof(*bp));
	/* The protocol: copy the image's setup header, then fill in ours. */
	memcpy((uint8_t *)bp + VMM_SETUP_HEADER_OFFSET, (const uint8_t *)cfg->kernel + VMM_SETUP_HEADER_OFFSET,
	       l->image.header_end - VMM_SETUP_HEADER_OFFSET);
	bp->hdr.type_of_loader = 0xff; /* undefined loader id */
	bp->hdr.loadflags = LOADED_HIGH | CAN_USE_HEAP;
	/* The real-mode setup never runs on the 64-bit path; this is the value
	 * the protocol prescribes for a loader that gives it the full segment. */
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.code32_start = (uint32_t)l->kernel_addr;
	bp->hdr.cmd_line_ptr = (uint32_t)VMM_BOOT_CMDLINE_ADDR;
	bp->hdr.ramdisk_image = (uint32_t)l->initrd_addr; /* < 3 GiB by placement */
	bp->hdr.ramdisk_size = (uint32_t)l->initrd_size;
	bp->hdr.setup_data = 0;
	bp->hdr.hardware_subarch = 0; /* X86_SUBARCH_PC */

	n = vmm_boot_e820(mem, bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE, err);
	if (n < 0)
		return n;
	bp->e820_entries = (uint8_t)n;
	return 0;
}

int vmm_boot_load_linux(const struct vmm_memory *mem, const struct vmm_boot_config *cfg,
			struct vmm_boot_layout *out, struct lv_error **err)
{
	struct vmm_boot_layout l = { .zero_page = VMM_BOOT_ZERO_PAGE, .cmdline_addr = VMM_BOOT_CMDLINE_ADDR };
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	int r;

	r = vmm_bzimage_parse(cfg->kernel, cfg->kernel_size, &l.image, err);
	if (r < 0)
		return r;
	if (mem->regions[0].size < VMM_BOOT_HIMEM_START)
		return lv_err_msg(err, ENOSPC, "guest RAM below 1 MiB is too small to boot Linux");
	r = place_kernel(mem, &l, err);
	if (r < 0)
		return r;
	if (cfg->initrd_size) {
		r = place_initrd(mem, &l, cfg->initrd_size, &l.initrd_addr, err);
		if (r < 0)
			return r;
		l.initrd_size = cfg->initrd_size;
	}
	l.cmdline_len = strlen(cmdline);

	r = write_cmdline(mem, &l, cmdline, err);
	if (r < 0)
		return r;
	r = vmm_memory_write(mem, l.kernel_addr, (const uint8_t *)cfg->kernel + l.image.kernel_offset,
			     l.kernel_size, err);
	if (r < 0)
		return lv_err_wrap(err, "loading the kernel");
	if (l.initrd_size) {
		r = vmm_memory_write(mem, l.initrd_addr, cfg->initrd, l.initrd_size, err);
		if (r < 0)
			return lv_err_wrap(err, "loading the initrd");
	}
	r = write_zero_page(mem, cfg, &l, err);
	if (r < 0)
		return r;
	*out = l;
	return 0;
}

int vmm_boot_linux(struct vmm_vcpu *vcpu, const struct vmm_memory *mem, const struct vmm_boot_config *cfg,
		   struct vmm_boot_layout *out, struct lv_error **err)
{
	struct vmm_boot_layout l;
	int r;

	r = vmm_boot_load_linux(mem, cfg, &l, err);
	if (r < 0)
		return r;
	r = vmm_boot_enter_64(vcpu, mem, l.entry, l.zero_page, err);
	if (r < 0)
		return r;
	if (out)
		*out = l;
	return 0;
}
