/* vmm/pvh: PVH boot of an ELF kernel.  Without KVM: segments, bss, the
 * start_info, module list, memory map, command line and initrd read back
 * from guest RAM; initrd placement above and below the kernel; refusals
 * that leave RAM untouched; the 32-bit sregs and GDT; the dispatcher's
 * choice; the real Tinyx vmlinux when built (build/vmlinux, or
 * LIGHTVM_VMLINUX).  With a usable /dev/kvm: a hand-assembled 32-bit guest
 * entered through the PVH path reports what it finds through %ebx by OUT,
 * and the real vmlinux runs for 200 ms (into 64-bit mode on its own). */
#include "../../vmm/pvh.h"
#include "../../vmm/vm.h"
#include "elf_image.h"
#include "tap.h"
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define P   (16 * MiB)
#define SENTINEL 0xee
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))

static const struct fe_params good = { .paddr = P, .bss = 0x5000, .entry_off = 0x40, .desc_size = 8 };

static struct vmm_memory *new_mem(uint64_t size)
{
	struct vmm_memory *mem = NULL;
	struct lv_error *err = NULL;

	if (vmm_memory_create(size, &mem, &err) < 0) {
		printf("# vmm_memory_create: %s\n", err ? err->msg : "?");
		lv_error_free(&err);
		return NULL;
	}
	return mem;
}

static uint8_t *pattern(size_t n, unsigned int mul)
{
	uint8_t *b = malloc(n);
	size_t i;

	if (!b)
		abort();
	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(i * mul + 5);
	return b;
}

static int all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static void test_load(void)
{
	struct vmm_memory *mem = new_mem(64 * MiB);
	struct fe_image img = fe_build(&good);
	const size_t isize = 100000;
	uint8_t *initrd = pattern(isize, 3);
	const char *cmdline = "console=ttyS0 panic=-1";
	struct vmm_boot_config cfg = {
		.kernel = img.buf, .kernel_size = img.size, .initrd = initrd, .initrd_size = isize, .cmdline = cmdline,
	};
	struct boot_e820_entry e820[8];
	struct vmm_pvh_memmap_entry map[4];
	struct vmm_pvh_start_info si;
	struct vmm_pvh_module mod;
	struct vmm_pvh_layout l;
	struct lv_error *err = NULL;
	const uint8_t *k;
	int r, n, i, same;

	if (!mem)
		abort();
	memset(mem->base + P - 0x1000, SENTINEL, 0x10000);
	r = vmm_pvh_load(mem, &cfg, &l, &err);
	ok(r == 0, "synthetic vmlinux loaded into 64 MiB (%s)", err ? err->msg : "ok");
	lv_error_free(&err);
	if (r < 0)
		goto out;
	ok(l.entry == P + 0x40 && l.start_info == VMM_PVH_START_INFO_ADDR, "entry 0x%llx, start_info at 0x%llx",
	   (unsigned long long)l.entry, (unsigned long long)l.start_info);
	ok(l.kernel_start == P && l.kernel_end == P + FE_DATA_DELTA + FE_DATA_SIZE + 0x5000,
	   "kernel span [0x%llx, 0x%llx)", (unsigned long long)l.kernel_start, (unsigned long long)l.kernel_end);

	k = vmm_gpa_to_hva(mem, P, 0x8000);
	ok(memcmp(k, img.buf + FE_TEXT_OFF, FE_TEXT_SIZE) == 0, "text at its physical address, byte for byte");
	ok(memcmp(k + FE_DATA_DELTA, img.buf + FE_DATA_OFF, FE_DATA_SIZE) == 0, "data at its physical address");
	ok(all_bytes(k + FE_DATA_DELTA + FE_DATA_SIZE, 0x5000, 0), "bss zeroed (RAM held 0x%x before)", SENTINEL);
	ok(all_bytes(k + FE_TEXT_SIZE, FE_DATA_DELTA - FE_TEXT_SIZE, SENTINEL) && k[-1] == SENTINEL &&
	   k[FE_DATA_DELTA + FE_DATA_SIZE + 0x5000] == SENTINEL,
	   "the gap between segments and the bytes around the kernel untouched");

	ok(vmm_memory_read(mem, VMM_PVH_START_INFO_ADDR, &si, sizeof(si), &err) == 0, "start_info readable");
	ok(si.magic == 0x336ec578 && si.version == 1 && si.flags == 0 && si.rsdp_paddr == 0 && si.reserved == 0,
	   "start_info: magic 0x%x, version %u, flags 0, no RSDP", si.magic, si.version);
	ok(si.nr_modules == 1 && si.modlist_paddr == VMM_PVH_MODLIST_ADDR, "one module at 0x%llx",
	   (unsigned long long)si.modlist_paddr);
	ok(si.cmdline_paddr == VMM_BOOT_CMDLINE_ADDR && si.memmap_paddr == VMM_PVH_MEMMAP_ADDR &&
	   si.memmap_entries == 3, "command line at 0x%llx, memory map at 0x%llx with %u entries",
	   (unsigned long long)si.cmdline_paddr, (unsigned long long)si.memmap_paddr, si.memmap_entries);
	is_str(vmm_gpa_to_hva(mem, si.cmdline_paddr, strlen(cmdline) + 1), cmdline, "command line read back");

	vmm_memory_read(mem, si.modlist_paddr, &mod, sizeof(mod), &err);
	ok(mod.paddr == l.initrd_addr && mod.size == isize && mod.cmdline_paddr == 0 && mod.reserved == 0,
	   "module 0 is the initrd: 0x%llx, %llu bytes, no command line", (unsigned long long)mod.paddr,
	   (unsigned long long)mod.size);
	ok(l.initrd_addr == ALIGN_DOWN(64 * MiB - isize, 4096) && l.initrd_addr >= l.kernel_end,
	   "initrd at the top of RAM, page aligned, above the kernel (0x%llx)", (unsigned long long)l.initrd_addr);
	ok(memcmp(vmm_gpa_to_hva(mem, l.initrd_addr, isize), initrd, isize) == 0, "initrd bytes in place");

	vmm_memory_read(mem, si.memmap_paddr, map, 3 * sizeof(map[0]), &err);
	ok(map[0].addr == 0 && map[0].size == 0x9fc00 && map[0].type == 1 && map[1].addr == 0x9fc00 &&
	   map[1].size == 0x100000 - 0x9fc00 && map[1].type == 2 && map[2].addr == MiB &&
	   map[2].size == 63 * MiB && map[2].type == 1,
	   "memory map: RAM [0, 0x9fc00), reserved to 1 MiB, RAM [1 MiB, 64 MiB)");
	n = vmm_boot_e820(mem, e820, 8, &err);
	same = n == 3;
	for (i = 0; same && i < n; i++)
		same = map[i].addr == e820[i].addr && map[i].size == e820[i].size && map[i].type == e820[i].type &&
		       map[i].reserved == 0;
	ok(same, "the same map the bzImage path's zero page gets (vmm_boot_e820), reserved fields 0");
	lv_error_free(&err);
out:
	free(initrd);
	free(img.buf);
	vmm_memory_destroy(&mem);
}

static void test_no_initrd(void)
{
	struct vmm_memory *mem = new_mem(64 * MiB);
	struct fe_image img = fe_build(&good);
	struct vmm_boot_config cfg = { .kernel = img.buf, .kernel_size = img.size };
	struct vmm_pvh_start_info si;
	struct vmm_pvh_layout l;
	struct lv_error *err = NULL;
	const char *c;

	ok(vmm_pvh_load(mem, &cfg, &l, &err) == 0 && l.initrd_addr == 0 && l.initrd_size == 0,
	   "no initrd, no command line: loads (%s)", err ? err->msg : "ok");
	lv_error_free(&err);
	vmm_memory_read(mem, VMM_PVH_START_INFO_ADDR, &si, sizeof(si), &err);
	c = vmm_gpa_to_hva(mem, si.cmdline_paddr, 1);
	ok(si.nr_modules == 0 && si.modlist_paddr == 0 && c && c[0] == 0,
	   "nr_modules 0, modlist_paddr 0, an empty command line");
	free(img.buf);
	vmm_memory_destroy(&mem);
}

static void test_big_ram(void)
{
	uint64_t size = 3 * GiB + 64 * MiB;
	struct vmm_memory *mem = new_mem(size);
	struct fe_image img = fe_build(&good);
	uint8_t initrd[4096] = { 1, 2, 3 };
	struct vmm_boot_config cfg = {
		.kernel = img.buf, .kernel_size = img.size, .initrd = initrd, .initrd_size = sizeof(initrd),
	};
	struct vmm_pvh_memmap_entry map[4];
	struct vmm_pvh_layout l;
	struct lv_error *err = NULL;

	if (!mem)
		abort();
	ok(vmm_pvh_load(mem, &cfg, &l, &err) == 0 && l.memmap_entries == 4, "3 GiB + 64 MiB: 4 map entries (%s)",
	   err ? err->msg : "ok");
	lv_error_free(&err);
	vmm_memory_read(mem, VMM_PVH_MEMMAP_ADDR, map, sizeof(map), &err);
	ok(map[2].addr == MiB && map[2].addr + map[2].size == 3 * GiB && map[3].addr == 4 * GiB &&
	   map[3].size == 64 * MiB && map[3].type == 1, "RAM up to the hole at 3 GiB, then [4 GiB, 4 GiB + 64 MiB)");
	ok(l.initrd_addr == 2 * GiB - 4096, "the initrd stays below 2 GiB (a 64-bit kernel's initrd_addr_max): 0x%llx",
	   (unsigned long long)l.initrd_addr);
	lv_error_free(&err);
	free(img.buf);
	vmm_memory_destroy(&mem);
}

static void test_initrd_below(void)
{
	struct vmm_memory *mem = new_mem(32 * MiB);
	struct fe_params p = good;
	struct fe_image img;
	uint8_t *initrd = pattern(16 * MiB, 5);
	struct vmm_boot_config cfg = { .initrd = initrd, .initrd_size = 4 * MiB };
	struct vmm_pvh_layout l;
	struct lv_error *err = NULL;
	int r;

	p.bss = 14 * MiB; /* the kernel ends just past 30 MiB */
	img = fe_build(&p);
	cfg.kernel = img.buf;
	cfg.kernel_size = img.size;
	r = vmm_pvh_load(mem, &cfg, &l, &err);
	ok(r == 0 && l.initrd_addr == P - 4 * MiB && l.initrd_addr + l.initrd_size <= l.kernel_start,
	   "4 MiB initrd with no room above the kernel: below it, at 0x%llx (%s)", (unsigned long long)l.initrd_addr,
	   err ? err->msg : "ok");
	lv_error_free(&err);

	memset(mem->base, SENTINEL, 32 * MiB);
	cfg.initrd_size = 16 * MiB;
	r = vmm_pvh_load(mem, &cfg, &l, &err);
	ok(r == -ENOSPC && err && strstr(err->msg, "initrd"), "16 MiB initrd fits nowhere: -ENOSPC (%s)",
	   err ? err->msg : "");
	lv_error_free(&err);
	ok(all_bytes(mem->base, 32 * MiB, SENTINEL), "a refused load wrote nothing to guest RAM");
	free(initrd);
	free(img.buf);
	vmm_memory_destroy(&mem);
}

static void test_refusals(void)
{
	struct vmm_memory *mem = new_mem(64 * MiB), *big = new_mem(3 * GiB + 64 * MiB);
	struct fe_params p = good;
	struct fe_image img = fe_build(&good);
	char *line = malloc(VMM_PVH_CMDLINE_MAX + 2);
	struct vmm_boot_config cfg = { .kernel = img.buf, .kernel_size = img.size, .cmdline = line };
	struct vmm_pvh_layout l;
	struct lv_error *err = NULL;

	if (!mem || !big || !line)
		abort();
	memset(line, 'a', VMM_PVH_CMDLINE_MAX);
	line[VMM_PVH_CMDLINE_MAX] = 0;
	ok(vmm_pvh_load(mem, &cfg, &l, &err) == 0 && l.cmdline_len == VMM_PVH_CMDLINE_MAX,
	   "a %d-byte command line is fine", VMM_PVH_CMDLINE_MAX);
	lv_error_free(&err);
	strcat(line, "b");
	ok(vmm_pvh_load(mem, &cfg, &l, &err) == -E2BIG, "%d bytes: -E2BIG (%s)", VMM_PVH_CMDLINE_MAX + 1,
	   err ? err->msg : "");
	lv_error_free(&err);
	cfg.cmdline = NULL;
	free(img.buf);

	p.desc_size = 0;
	img = fe_build(&p);
	cfg.kernel = img.buf;
	ok(vmm_pvh_load(mem, &cfg, &l, &err) == -ENOEXEC && err && strstr(err->msg, "CONFIG_PVH"),
	   "no PVH note: -ENOEXEC (%s)", err ? err->msg : "");
	lv_error_free(&err);
	free(img.buf);

	p = good;
	p.paddr = 0x80000;
	img = fe_build(&p);
	cfg.kernel = img.buf;
	ok(vmm_pvh_load(mem, &cfg, &l, &err) == -ENOEXEC && err && strstr(err->msg, "below 1 MiB"),
	   "a segment at 512 KiB (over GDT, start_info, command line, MP table): -ENOEXEC (%s)", err ? err->msg : "");
	lv_error_free(&err);
	free(img.buf);

	p = good;
	p.bss = 60 * MiB;
	img = fe_build(&p);
	cfg.kernel = img.buf;
	ok(vmm_pvh_load(mem, &cfg, &l, &err) == -ENOSPC && err && strstr(err->msg, "not guest RAM"),
	   "bss past the end of 64 MiB: -ENOSPC (%s)", err ? err->msg : "");
	lv_error_free(&err);
	free(img.buf);

	p = good;
	p.paddr = 3 * GiB - 0x2000;
	img = fe_build(&p);
	cfg.kernel = img.buf;
	ok(vmm_pvh_load(big, &cfg, &l, &err) == -ENOSPC, "data segment in the MMIO hole: -ENOSPC (%s)",
	   err ? err->msg : "");
	lv_error_free(&err);

	cfg.kernel = "\x7f" "ELF";
	cfg.kernel_size = 4;
	ok(vmm_pvh_load(mem, &cfg, &l, &err) == -ENOEXEC, "4 bytes of ELF magic: -ENOEXEC (%s)", err ? err->msg : "");
	lv_error_free(&err);
	free(img.buf);
	free(line);
	vmm_memory_destroy(&big);
	vmm_memory_destroy(&mem);
}

static void test_sregs_gdt(void)
{
	struct vmm_memory *mem = new_mem(64 * MiB);
	struct kvm_sregs s;
	struct lv_error *err = NULL;
	uint64_t gdt[6];

	memset(&s, 0x5a, sizeof(s));
	vmm_pvh_sregs(&s);
	ok(s.cs.selector == 0x10 && s.cs.base == 0 && s.cs.limit == 0xffffffff && s.cs.type == 0xb && s.cs.s &&
	   s.cs.present && s.cs.db && !s.cs.l && s.cs.g && s.cs.dpl == 0,
	   "CS: selector 0x10, flat 4 GiB execute/read code, 32-bit (D=1, L=0)");
	ok(s.ds.selector == 0x18 && s.ds.type == 3 && s.ds.db && s.ds.limit == 0xffffffff && s.ds.base == 0 &&
	   !memcmp(&s.ds, &s.es, sizeof(s.ds)) && !memcmp(&s.ds, &s.ss, sizeof(s.ds)) &&
	   !memcmp(&s.ds, &s.fs, sizeof(s.ds)) && !memcmp(&s.ds, &s.gs, sizeof(s.ds)),
	   "DS = ES = FS = GS = SS: selector 0x18, flat read/write data");
	ok(s.tr.selector == 0x20 && s.tr.type == 0xb && !s.tr.s && s.tr.present && s.tr.limit == 0x67,
	   "TR: a busy 32-bit TSS");
	ok(s.cr0 == 0x11 && s.cr3 == 0 && s.cr4 == 0 && s.efer == 0, "CR0 = PE|ET (paging off), CR3 = CR4 = EFER = 0");
	ok(s.gdt.base == VMM_BOOT_GDT_ADDR && s.gdt.limit == 47 && s.idt.base == 0 && s.idt.limit == 0,
	   "GDTR 0x500/47, no IDT");
	ok(vmm_pvh_write_gdt(mem, &err) == 0 && vmm_memory_read(mem, VMM_BOOT_GDT_ADDR, gdt, sizeof(gdt), &err) == 0,
	   "GDT written");
	ok(gdt[0] == 0 && gdt[1] == 0 && gdt[2] == 0x00cf9b000000ffffULL && gdt[3] == 0x00cf93000000ffffULL &&
	   gdt[4] == 0x00008b0000000067ULL && gdt[5] == 0, "GDT: null, null, code32, data, TSS");
	lv_error_free(&err);
	vmm_memory_destroy(&mem);
}

static const char *vmlinux_path(void)
{
	return getenv("LIGHTVM_VMLINUX") ? getenv("LIGHTVM_VMLINUX") : "build/vmlinux";
}

/* Without KVM: a vCPU whose fd is not one makes entry fail after the load,
 * which shows which loader the dispatcher picked. */
static void test_dispatch(void)
{
	struct vmm_memory *mem = new_mem(64 * MiB);
	struct vmm_vcpu fake = { .fd = -1 };
	struct fe_image img = fe_build(&good);
	struct vmm_boot_config cfg = { .kernel = img.buf, .kernel_size = img.size };
	struct lv_error *err = NULL;
	uint8_t *bz;
	size_t size = 0;
	uint32_t magic = 0;
	int r;

	r = vmm_boot_kernel(&fake, mem, &cfg, &err);
	vmm_memory_read(mem, VMM_PVH_START_INFO_ADDR, &magic, 4, NULL);
	ok(r == -EBADF && magic == VMM_PVH_START_MAGIC && err && strstr(err->msg, "KVM_GET_SREGS"),
	   "an ELF image goes to the PVH loader (start_info written; %s)", err ? err->msg : "");
	lv_error_free(&err);
	cfg.kernel = "MZ not a kernel, not an ELF file either";
	cfg.kernel_size = 40;
	ok(vmm_boot_kernel(&fake, mem, &cfg, &err) == -ENOEXEC && err && strstr(err->msg, "bzImage"),
	   "anything else goes to the bzImage loader (%s)", err ? err->msg : "");
	lv_error_free(&err);
	bz = read_file(getenv("LIGHTVM_BZIMAGE") ? getenv("LIGHTVM_BZIMAGE") : "build/bzImage", &size);
	if (bz) {
		cfg.kernel = bz;
		cfg.kernel_size = size;
		r = vmm_boot_kernel(&fake, mem, &cfg, &err);
		ok(r == -EBADF && !memcmp(vmm_gpa_to_hva(mem, VMM_BOOT_ZERO_PAGE + 0x202, 4), "HdrS", 4),
		   "the real bzImage: zero page written by the 64-bit path (%s)", err ? err->msg : "");
		lv_error_free(&err);
		free(bz);
	} else {
		ok(1, "# SKIP no build/bzImage: dispatch of the real bzImage");
	}
	free(img.buf);
	vmm_memory_destroy(&mem);
}

static void test_real_vmlinux(void)
{
	const char *path = vmlinux_path();
	struct vmm_memory *mem = new_mem(128 * MiB);
	size_t size = 0;
	uint8_t *img = read_file(path, &size);
	uint8_t initrd[8192];
	struct vmm_boot_config cfg = {
		.kernel = img, .kernel_size = size, .initrd = initrd, .initrd_size = sizeof(initrd),
		.cmdline = "console=ttyS0 reboot=t panic=-1",
	};
	struct vmm_pvh_start_info si;
	struct vmm_pvh_layout l;
	struct lv_error *err = NULL;
	unsigned int i, same = 1, zero = 1;
	int r;

	if (!img) {
		ok(1, "# SKIP no %s: real vmlinux load", path);
		vmm_memory_destroy(&mem);
		return;
	}
	memset(initrd, 0x42, sizeof(initrd));
	memset(mem->base, SENTINEL, 128 * MiB);
	r = vmm_pvh_load(mem, &cfg, &l, &err);
	ok(r == 0, "%s loaded into 128 MiB with an initrd (%s)", path, err ? err->msg : "ok");
	lv_error_free(&err);
	if (r < 0)
		goto out;
	for (i = 0; i < l.elf.nr_segments; i++) {
		const struct vmm_elf_segment *s = &l.elf.segments[i];
		const uint8_t *dst = vmm_gpa_to_hva(mem, s->paddr, s->memsz);

		same &= memcmp(dst, img + s->offset, s->filesz) == 0;
		zero &= all_bytes(dst + s->filesz, s->memsz - s->filesz, 0);
	}
	ok(same && zero, "%u segments byte for byte at their physical addresses, bss zeroed", l.elf.nr_segments);
	vmm_memory_read(mem, VMM_PVH_START_INFO_ADDR, &si, sizeof(si), &err);
	ok(si.magic == VMM_PVH_START_MAGIC && si.nr_modules == 1 && l.initrd_addr >= l.kernel_end,
	   "start_info in place, initrd at 0x%llx above the kernel's end 0x%llx", (unsigned long long)l.initrd_addr,
	   (unsigned long long)l.kernel_end);
out:
	free(img);
	vmm_memory_destroy(&mem);
}

/* ---- on /dev/kvm ---- */

struct pio_log {
	unsigned int n;
	uint16_t port[16];
	uint8_t size[16];
	uint32_t value[16];
};

static int on_pio(void *opaque, struct vmm_vcpu *vcpu, uint16_t port, bool is_write, uint8_t *data,
		  uint8_t size, uint32_t count, struct lv_error **err)
{
	struct pio_log *log = opaque;

	if (!is_write)
		memset(data, 0xff, (size_t)size * count);
	if (log->n < 16) {
		log->port[log->n] = port;
		log->size[log->n] = size;
		log->value[log->n] = 0;
		memcpy(&log->value[log->n], data, size);
	}
	log->n++;
	return VMM_EXIT_CONTINUE;
}

static int on_mmio(void *opaque, struct vmm_vcpu *vcpu, uint64_t gpa, bool is_write, uint8_t *data, uint32_t len,
		   struct lv_error **err)
{
	if (!is_write)
		memset(data, 0, len);
	return VMM_EXIT_CONTINUE;
}

static volatile sig_atomic_t kicked;
static struct kvm_run *volatile kick_run;

static void on_alarm(int sig)
{
	(void)sig;
	kicked = 1;
	if (kick_run)
		kick_run->immediate_exit = 1;
}

static int on_interrupted(void *opaque, struct vmm_vcpu *vcpu, struct lv_error **err)
{
	return kicked ? VMM_EXIT_STOP : VMM_EXIT_CONTINUE;
}

struct machine {
	struct vmm_vm *vm;
	struct vmm_memory *mem;
	struct vmm_vcpu *vcpu;
};

static void machine_down(struct machine *m)
{
	vmm_vcpu_destroy(&m->vcpu);
	vmm_vm_destroy(&m->vm);
	vmm_memory_destroy(&m->mem);
}

static int machine_up(struct machine *m, bool irqchip, uint64_t ram, const struct vmm_boot_config *cfg,
		      struct vmm_pvh_layout *l)
{
	struct vmm_vm_config vc = { .irqchip = irqchip };
	struct lv_error *err = NULL;
	int r;

	memset(m, 0, sizeof(*m));
	r = vmm_vm_create(&vc, &m->vm, &err);
	if (r == 0)
		r = vmm_memory_create(ram, &m->mem, &err);
	if (r == 0)
		r = vmm_memory_register(m->mem, m->vm->vm_fd, &err);
	if (r == 0)
		r = vmm_vcpu_create(m->vm, 0, &m->vcpu, &err);
	if (r == 0)
		r = vmm_pvh_boot(m->vcpu, m->mem, cfg, l, &err);
	ok(r == 0, "VM with %llu MiB, kernel loaded, vCPU at the PVH entry 0x%llx (%s)",
	   (unsigned long long)(ram >> 20), r == 0 ? (unsigned long long)l->entry : 0ULL, err ? err->msg : "ok");
	lv_error_free(&err);
	if (r < 0)
		machine_down(m);
	return r;
}

/* 32-bit code at the PVH entry, reporting through %ebx = start_info:
 * 0x00 8b 03     mov (%ebx),%eax        e7 84  out %eax,$0x84   magic
 * 0x04 89 d8     mov %ebx,%eax          e7 85  out %eax,$0x85   ebx
 * 0x08 8b 43 30  mov 0x30(%ebx),%eax    e7 86  out %eax,$0x86   memmap_entries
 * 0x0d 8b 73 18  mov 0x18(%ebx),%esi                            cmdline_paddr
 * 0x10 0f b6 06  movzbl (%esi),%eax     e7 87  out %eax,$0x87   its first byte
 * 0x15 0f 20 c0  mov %cr0,%eax          e7 88  out %eax,$0x88
 * 0x1a 31 c0     xor %eax,%eax
 * 0x1c 40        inc %eax (a REX prefix in 64-bit mode: 0 there)
 * 0x1d e7 89     out %eax,$0x89
 * 0x1f 8b 43 10  mov 0x10(%ebx),%eax                            modlist_paddr
 * 0x22 8b 00     mov (%eax),%eax        e7 8a  out %eax,$0x8a   module 0's paddr
 * 0x26 f4        hlt
 * Every OUT is 4 bytes wide only with a 32-bit code segment (D=1). */
static const uint8_t guest32[] = {
	0x8b, 0x03, 0xe7, 0x84, 0x89, 0xd8, 0xe7, 0x85, 0x8b, 0x43, 0x30, 0xe7, 0x86,
	0x8b, 0x73, 0x18, 0x0f, 0xb6, 0x06, 0xe7, 0x87, 0x0f, 0x20, 0xc0, 0xe7, 0x88,
	0x31, 0xc0, 0x40, 0xe7, 0x89, 0x8b, 0x43, 0x10, 0x8b, 0x00, 0xe7, 0x8a, 0xf4,
};

static void test_guest32(void)
{
	static const struct vmm_exit_ops ops = { .pio = on_pio };
	static const uint16_t ports[7] = { 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a };
	struct fe_params p = { .paddr = MiB, .desc_size = 8, .code = guest32, .code_len = sizeof(guest32) };
	struct fe_image img = fe_build(&p);
	uint8_t initrd[100] = { 0 };
	struct vmm_boot_config cfg = {
		.kernel = img.buf, .kernel_size = img.size, .cmdline = "Hello", .initrd = initrd,
		.initrd_size = sizeof(initrd),
	};
	struct pio_log log = { 0 };
	struct machine m;
	struct vmm_pvh_layout l;
	struct lv_error *err = NULL;
	struct kvm_sregs s;
	unsigned int i, sizes = 1;
	int r;

	if (machine_up(&m, false, 64 * MiB, &cfg, &l) < 0)
		goto out;
	r = vmm_vcpu_run(m.vcpu, &ops, &log, &err);
	ok(r == 0 && m.vcpu->run->exit_reason == KVM_EXIT_HLT && log.n == 7,
	   "the 32-bit guest ran to HLT with 7 OUTs (%s; exit %s, %u OUTs)", err ? err->msg : "ok",
	   vmm_exit_reason_name(m.vcpu->run->exit_reason), log.n);
	lv_error_free(&err);
	for (i = 0; i < 7 && i < log.n; i++)
		sizes &= log.port[i] == ports[i] && log.size[i] == 4;
	ok(sizes, "ports 0x84..0x8a in order, every OUT 4 bytes wide (32-bit operand size)");
	ok(log.n > 0 && log.value[0] == VMM_PVH_START_MAGIC, "the guest read the start_info magic 0x%x through %%ebx",
	   log.value[0]);
	ok(log.n > 1 && log.value[1] == VMM_PVH_START_INFO_ADDR, "%%ebx = 0x%x", log.value[1]);
	ok(log.n > 2 && log.value[2] == 3, "memmap_entries = %u", log.value[2]);
	ok(log.n > 3 && log.value[3] == 'H', "the command line's first byte: '%c'", (char)log.value[3]);
	ok(log.n > 4 && (log.value[4] & 0x80000001) == 1, "CR0 = 0x%x: PE on, PG off", log.value[4]);
	ok(log.n > 5 && log.value[5] == 1, "0x40 decoded as inc %%eax: not 64-bit mode");
	ok(log.n > 6 && log.value[6] == l.initrd_addr, "module 0's paddr 0x%x is the initrd", log.value[6]);
	ok(ioctl(m.vcpu->fd, KVM_GET_SREGS, &s) == 0 && s.cs.db && !s.cs.l && !(s.efer & 0x500),
	   "still CS.D=1, CS.L=0, EFER.LME/LMA clear");
	machine_down(&m);
out:
	free(img.buf);
}

/* The real kernel for 200 ms: enough to see it leave the PVH entry and
 * switch to 64-bit mode on its own page tables. */
static void test_real_kernel_run(void)
{
	static const struct vmm_exit_ops ops = { .pio = on_pio, .mmio = on_mmio, .interrupted = on_interrupted };
	const char *path = vmlinux_path();
	size_t size = 0;
	uint8_t *img = read_file(path, &size);
	struct vmm_boot_config cfg = { .kernel = img, .kernel_size = size, .cmdline = "console=ttyS0 panic=-1" };
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	struct itimerval it = { .it_value = { .tv_usec = 200000 } }, off = { { 0, 0 }, { 0, 0 } };
	struct pio_log log = { 0 };
	struct machine m;
	struct vmm_pvh_layout l;
	struct lv_error *err = NULL;
	struct kvm_regs regs;
	struct kvm_sregs s;
	int r;

	if (!img) {
		ok(1, "# SKIP no %s: real PVH entry on KVM", path);
		return;
	}
	if (machine_up(&m, true, 128 * MiB, &cfg, &l) < 0)
		goto out;
	kicked = 0;
	kick_run = m.vcpu->run;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &it, NULL);
	r = vmm_vcpu_run(m.vcpu, &ops, &log, &err);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	kick_run = NULL;
	ok(r == 0, "ran 200 ms without an entry failure or internal error (%s; exit %s)", err ? err->msg : "ok",
	   vmm_exit_reason_name(m.vcpu->run->exit_reason));
	lv_error_free(&err);
	ok(ioctl(m.vcpu->fd, KVM_GET_REGS, &regs) == 0 && ioctl(m.vcpu->fd, KVM_GET_SREGS, &s) == 0 &&
	   regs.rip != l.entry && (s.efer & 0x400) && s.cs.l,
	   "the kernel left the PVH entry and entered 64-bit mode itself: rip 0x%llx, EFER 0x%llx, %u port exits",
	   (unsigned long long)regs.rip, (unsigned long long)s.efer, log.n);
	machine_down(&m);
out:
	free(img);
}

int main(void)
{
	test_load();
	test_no_initrd();
	test_big_ram();
	test_initrd_below();
	test_refusals();
	test_sregs_gdt();
	test_dispatch();
	test_real_vmlinux();
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		ok(1, "# SKIP no usable /dev/kvm: PVH guests");
		return tap_done();
	}
	test_guest32();
	test_real_kernel_run();
	return tap_done();
}
