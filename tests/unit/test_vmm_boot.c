/* vmm/bzimage and vmm/boot: the setup header parser on the real Tinyx
 * bzImage (when built) and on synthetic and corrupted images, the zero page,
 * command line, initrd placement and e820 map, and the long-mode tables.
 * Needs no /dev/kvm. */
#include "../../vmm/boot.h"
#include "tap.h"
#include "testutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#define MiB (1ULL << 20)

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

#define FAKE_SETUP_SECTS 3
#define FAKE_SETUP_SIZE ((FAKE_SETUP_SECTS + 1) * 512)
#define FAKE_KERNEL_SIZE (64 * 1024)
#define FAKE_SIZE (FAKE_SETUP_SIZE + FAKE_KERNEL_SIZE)
#define FAKE_INIT_SIZE (4 * MiB)
#define FAKE_PREF (16 * MiB)

/* A minimal bzImage with a protocol 2.15 header: what our loader reads. */
static uint8_t *fake_bzimage(void)
{
	uint8_t *b = calloc(1, FAKE_SIZE);
	size_t i;

	if (!b)
		abort();
	b[0x1f1] = FAKE_SETUP_SECTS;
	put32(b + 0x1f4, FAKE_KERNEL_SIZE / 16); /* syssize */
	put16(b + 0x1fe, 0xaa55);
	b[0x200] = 0xeb; /* jmp short to 0x26c: header end */
	b[0x201] = 0x6a;
	memcpy(b + 0x202, "HdrS", 4);
	put16(b + 0x206, 0x020f);
	b[0x211] = 0x01; /* LOADED_HIGH */
	put32(b + 0x22c, 0x7fffffff); /* initrd_addr_max */
	put32(b + 0x230, 0x200000);   /* kernel_alignment */
	put16(b + 0x236, 0x0001);     /* XLF_KERNEL_64 */
	put32(b + 0x238, 2047);       /* cmdline_size */
	put64(b + 0x258, FAKE_PREF);
	put32(b + 0x260, FAKE_INIT_SIZE);
	for (i = FAKE_SETUP_SIZE; i < FAKE_SIZE; i++)
		b[i] = (uint8_t)(i * 7);
	return b;
}

/* Parses a copy of img with one field changed; expects ENOEXEC. */
static void expect_reject(const uint8_t *img, size_t size, size_t off, const void *val, size_t len,
			  const char *what)
{
	uint8_t *copy = malloc(size);
	struct vmm_bzimage h;
	struct lv_error *err = NULL;
	int r;

	if (!copy)
		abort();
	memcpy(copy, img, size);
	memcpy(copy + off, val, len);
	r = vmm_bzimage_parse(copy, size, &h, &err);
	ok(r == -ENOEXEC && err && err->msg, "%s: ENOEXEC (%s)", what, err ? err->msg : "accepted!");
	lv_error_free(&err);
	free(copy);
}

static void test_parse_fake(void)
{
	uint8_t *b = fake_bzimage();
	struct vmm_bzimage h;
	struct lv_error *err = NULL;
	size_t n;
	uint8_t v8;
	uint8_t v16[2], v32[4], v64[8];

	ok(vmm_bzimage_parse(b, FAKE_SIZE, &h, &err) == 0, "synthetic 2.15 image parses (%s)",
	   err ? err->msg : "ok");
	lv_error_free(&err);
	ok(h.version == 0x020f && h.setup_size == FAKE_SETUP_SIZE && h.kernel_offset == FAKE_SETUP_SIZE &&
	   h.kernel_size == FAKE_KERNEL_SIZE, "version, setup and kernel sizes");
	ok(h.pref_address == FAKE_PREF && h.init_size == FAKE_INIT_SIZE && h.cmdline_size == 2047 &&
	   h.initrd_addr_max == 0x7fffffff && h.header_end == 0x26c, "pref_address, init_size, limits, header end");

	/* Truncations: nothing read past the end. */
	for (n = 0; n < 0x300; n += 0x97) {
		ok(vmm_bzimage_parse(b, n, &h, &err) == -ENOEXEC, "%zu-byte file: ENOEXEC", n);
		lv_error_free(&err);
	}
	ok(vmm_bzimage_parse(b, 0x263, &h, &err) == -ENOEXEC, "file ending just before init_size: ENOEXEC");
	lv_error_free(&err);
	ok(vmm_bzimage_parse(b, FAKE_SETUP_SIZE, &h, &err) == -ENOEXEC, "setup code only, no kernel: ENOEXEC");
	lv_error_free(&err);

	expect_reject(b, FAKE_SIZE, 0x202, "HdrT", 4, "bad HdrS magic");
	put16(v16, 0x55aa);
	expect_reject(b, FAKE_SIZE, 0x1fe, v16, 2, "bad boot flag");
	put16(v16, 0x020b);
	expect_reject(b, FAKE_SIZE, 0x206, v16, 2, "protocol 2.11 (no 64-bit entry)");
	v8 = 0xff;
	expect_reject(b, FAKE_SIZE, 0x1f1, &v8, 1, "setup_sects 255 (128 KiB of setup in a 66 KiB file)");
	v8 = 0x10;
	expect_reject(b, FAKE_SIZE, 0x201, &v8, 1, "header ending before init_size");
	v8 = 0x90;
	expect_reject(b, FAKE_SIZE, 0x200, &v8, 1, "no jump at 0x200");
	put32(v32, FAKE_KERNEL_SIZE / 16 + 1);
	expect_reject(b, FAKE_SIZE, 0x1f4, v32, 4, "syssize larger than the file");
	put32(v32, 0);
	expect_reject(b, FAKE_SIZE, 0x1f4, v32, 4, "syssize 0");
	v8 = 0;
	expect_reject(b, FAKE_SIZE, 0x211, &v8, 1, "not LOADED_HIGH");
	put16(v16, 0x0002);
	expect_reject(b, FAKE_SIZE, 0x236, v16, 2, "XLF_KERNEL_64 clear");
	put32(v32, 0);
	expect_reject(b, FAKE_SIZE, 0x260, v32, 4, "init_size 0");
	put32(v32, 0xffffffff);
	expect_reject(b, FAKE_SIZE, 0x260, v32, 4, "init_size 4 GiB");
	put64(v64, 0xfffffffffff00000ULL);
	expect_reject(b, FAKE_SIZE, 0x258, v64, 8, "pref_address near 2^64");
	put64(v64, 0xfff00000ULL);
	expect_reject(b, FAKE_SIZE, 0x258, v64, 8, "pref_address + init_size past 4 GiB");
	put64(v64, 0);
	expect_reject(b, FAKE_SIZE, 0x258, v64, 8, "pref_address 0");
	{
		uint8_t *c = malloc(FAKE_SIZE);

		memcpy(c, b, FAKE_SIZE);
		c[0x234] = 1; /* relocatable */
		put32(c + 0x230, 0x300000);
		ok(vmm_bzimage_parse(c, FAKE_SIZE, &h, &err) == -ENOEXEC,
		   "relocatable with kernel_alignment not a power of two: ENOEXEC");
		lv_error_free(&err);
		c[0x1f1] = 0; /* setup_sects 0 means 4 */
		put32(c + 0x230, 0x200000);
		put32(c + 0x1f4, (FAKE_SIZE - 5 * 512) / 16);
		ok(vmm_bzimage_parse(c, FAKE_SIZE, &h, &err) == 0 && h.setup_size == 5 * 512,
		   "setup_sects 0 means 4");
		lv_error_free(&err);
		free(c);
	}
	free(b);
}

static void test_parse_real(void)
{
	const char *path = getenv("LIGHTVM_BZIMAGE") ? getenv("LIGHTVM_BZIMAGE") : "build/bzImage";
	struct vmm_bzimage h;
	struct lv_error *err = NULL;
	size_t size = 0;
	uint8_t *b = read_file(path, &size);

	if (!b) {
		ok(1, "# SKIP no %s (make kernel; or set LIGHTVM_BZIMAGE)", path);
		return;
	}
	ok(vmm_bzimage_parse(b, size, &h, &err) == 0, "%s parses (%s)", path, err ? err->msg : "ok");
	lv_error_free(&err);
	printf("# %s: protocol 0x%04x, setup %llu + kernel %llu bytes, pref_address 0x%llx, init_size 0x%x, "
	       "xloadflags 0x%x, relocatable %u, cmdline_size %u, initrd_addr_max 0x%x\n", path, h.version,
	       (unsigned long long)h.setup_size, (unsigned long long)h.kernel_size,
	       (unsigned long long)h.pref_address, h.init_size, h.xloadflags, h.relocatable, h.cmdline_size,
	       h.initrd_addr_max);
	ok(h.version >= 0x020c && (h.xloadflags & 1), "protocol %u.%02u with XLF_KERNEL_64", h.version >> 8,
	   h.version & 0xff);
	ok(h.setup_size == ((uint64_t)(b[0x1f1] ? b[0x1f1] : 4) + 1) * 512 && h.kernel_size == size - h.setup_size,
	   "setup %llu bytes, kernel %llu bytes", (unsigned long long)h.setup_size,
	   (unsigned long long)h.kernel_size);
	ok(h.pref_address == 16 * MiB, "pref_address is the default LOAD_PHYSICAL_ADDR, 16 MiB");
	ok(h.init_size > h.kernel_size, "init_size (%u) covers more than the compressed kernel", h.init_size);
	ok(h.cmdline_size >= 255, "cmdline_size %u", h.cmdline_size);

	{
		struct vmm_memory *mem = NULL;
		struct vmm_boot_layout l;
		static uint8_t initrd[4096];
		struct vmm_boot_config cfg = { .kernel = b, .kernel_size = size, .initrd = initrd,
					       .initrd_size = sizeof(initrd), .cmdline = "console=ttyS0" };
		const struct boot_params *bp;

		if (vmm_memory_create(64 * MiB, &mem, &err) == 0 && vmm_boot_load_linux(mem, &cfg, &l, &err) == 0) {
			bp = vmm_gpa_to_hva(mem, VMM_BOOT_ZERO_PAGE, sizeof(*bp));
			ok(l.entry == 0x100200 && l.runtime_start == h.pref_address &&
			   l.runtime_end == h.pref_address + h.init_size && l.initrd_addr == 64 * MiB - 4096 &&
			   bp->hdr.version == h.version && bp->hdr.init_size == h.init_size &&
			   memcmp(vmm_gpa_to_hva(mem, MiB, 4096), b + h.kernel_offset, 4096) == 0,
			   "real kernel loads into 64 MiB: startup_64 0x%llx, runs in [0x%llx, 0x%llx), initrd 0x%llx",
			   (unsigned long long)l.entry, (unsigned long long)l.runtime_start,
			   (unsigned long long)l.runtime_end, (unsigned long long)l.initrd_addr);
		} else {
			ok(0, "real kernel loads into 64 MiB (%s)", err ? err->msg : "?");
		}
		lv_error_free(&err);
		vmm_memory_destroy(&mem);
	}

	/* The same corruptions on the real header. */
	expect_reject(b, size, 0x202, "hdrs", 4, "real image, bad magic");
	{
		uint8_t v16[2] = { 0x0b, 0x02 };

		expect_reject(b, size, 0x206, v16, 2, "real image, version 2.11");
	}
	ok(vmm_bzimage_parse(b, 1000, &h, &err) == -ENOEXEC, "real image cut to 1000 bytes: ENOEXEC");
	lv_error_free(&err);
	{
		/* setup_sects 255 is 128 KiB: past the end of an image cut
		 * to 100 KiB. */
		uint8_t big = 0xff;

		expect_reject(b, 100 * 1024, 0x1f1, &big, 1, "real header cut to 100 KiB, setup_sects 255");
	}
	free(b);
}

static struct vmm_memory *ram(uint64_t size)
{
	struct vmm_memory *mem = NULL;
	struct lv_error *err = NULL;

	if (vmm_memory_create(size, &mem, &err) < 0) {
		printf("# vmm_memory_create: %s\n", err ? err->msg : "?");
		lv_error_free(&err);
		abort();
	}
	return mem;
}

static int e820_is(const struct boot_e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	return e->addr == addr && e->size == size && e->type == type;
}

static void test_zero_page(void)
{
	struct vmm_memory *mem = ram(64 * MiB);
	uint8_t *img = fake_bzimage();
	uint8_t *initrd = malloc(MiB);
	struct vmm_boot_config cfg = {
		.kernel = img, .kernel_size = FAKE_SIZE,
		.initrd = initrd, .initrd_size = MiB,
		.cmdline = "console=ttyS0 panic=-1",
	};
	struct vmm_boot_layout l;
	struct lv_error *err = NULL;
	const struct boot_params *bp;
	const uint8_t *p;
	char *longline;
	size_t i;
	int r;

	for (i = 0; i < MiB; i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	r = vmm_boot_load_linux(mem, &cfg, &l, &err);
	ok(r == 0, "fake kernel + 1 MiB initrd + cmdline load into 64 MiB (%s)", err ? err->msg : "ok");
	lv_error_free(&err);
	if (r < 0)
		goto out;
	ok(l.kernel_addr == MiB && l.entry == MiB + 0x200, "kernel at 1 MiB, startup_64 at 1 MiB + 0x200");
	ok(l.runtime_start == FAKE_PREF && l.runtime_end == FAKE_PREF + FAKE_INIT_SIZE,
	   "runtime range [pref_address, + init_size)");
	p = vmm_gpa_to_hva(mem, MiB, FAKE_KERNEL_SIZE);
	ok(p && memcmp(p, img + FAKE_SETUP_SIZE, FAKE_KERNEL_SIZE) == 0, "protected-mode kernel copied to 1 MiB");

	bp = vmm_gpa_to_hva(mem, VMM_BOOT_ZERO_PAGE, sizeof(*bp));
	ok(bp && l.zero_page == VMM_BOOT_ZERO_PAGE, "zero page at 0x7000");
	ok(bp->hdr.header == 0x53726448 && bp->hdr.version == 0x020f && bp->hdr.boot_flag == 0xaa55,
	   "setup header copied from the image");
	ok(bp->hdr.type_of_loader == 0xff, "type_of_loader 0xff");
	ok(bp->hdr.loadflags == (LOADED_HIGH | CAN_USE_HEAP) && bp->hdr.heap_end_ptr == 0xfe00,
	   "loadflags LOADED_HIGH | CAN_USE_HEAP, heap_end_ptr 0xfe00");
	ok(bp->hdr.cmd_line_ptr == VMM_BOOT_CMDLINE_ADDR && bp->ext_cmd_line_ptr == 0, "cmd_line_ptr 0x20000");
	is_str((const char *)vmm_gpa_to_hva(mem, VMM_BOOT_CMDLINE_ADDR, 24), "console=ttyS0 panic=-1",
	       "command line in guest RAM, NUL-terminated");
	ok(bp->hdr.ramdisk_image == l.initrd_addr && bp->hdr.ramdisk_size == MiB && bp->ext_ramdisk_image == 0,
	   "ramdisk_image/size in the header");
	ok(l.initrd_addr % 4096 == 0 && l.initrd_addr >= l.runtime_end && l.initrd_addr + MiB <= 64 * MiB,
	   "initrd page aligned, above the kernel's runtime range, inside RAM (0x%llx)",
	   (unsigned long long)l.initrd_addr);
	ok(l.initrd_addr == 63 * MiB, "initrd at the top of RAM");
	p = vmm_gpa_to_hva(mem, l.initrd_addr, MiB);
	ok(p && memcmp(p, initrd, MiB) == 0, "initrd bytes copied");
	ok(bp->e820_entries == 3, "3 e820 entries (%u)", bp->e820_entries);
	ok(e820_is(&bp->e820_table[0], 0, 0x9fc00, 1), "e820[0]: RAM [0, 0x9fc00)");
	ok(e820_is(&bp->e820_table[1], 0x9fc00, 0x100000 - 0x9fc00, 2), "e820[1]: reserved [0x9fc00, 1 MiB)");
	ok(e820_is(&bp->e820_table[2], MiB, 63 * MiB, 1), "e820[2]: RAM [1 MiB, 64 MiB)");

	/* Bounds. */
	cfg.initrd_size = 60 * MiB;
	ok(vmm_boot_load_linux(mem, &cfg, &l, &err) == -ENOSPC && err, "initrd of 60 MiB in 64 MiB RAM: ENOSPC (%s)",
	   err ? err->msg : "");
	lv_error_free(&err);
	cfg.initrd_size = 64 * MiB + 1;
	ok(vmm_boot_load_linux(mem, &cfg, &l, &err) == -ENOSPC, "initrd larger than RAM: ENOSPC");
	lv_error_free(&err);
	cfg.initrd_size = MiB;

	put32(img + 0x22c, 0x02ffffff); /* initrd_addr_max: 48 MiB - 1 */
	ok(vmm_boot_load_linux(mem, &cfg, &l, &err) == 0 && l.initrd_addr + MiB <= 48 * MiB &&
	   l.initrd_addr == 47 * MiB, "initrd ends at initrd_addr_max + 1 (48 MiB)");
	lv_error_free(&err);
	put32(img + 0x22c, 0x013fffff); /* 20 MiB - 1: no room above the kernel */
	ok(vmm_boot_load_linux(mem, &cfg, &l, &err) == -ENOSPC, "initrd_addr_max below the kernel's end: ENOSPC (%s)",
	   err ? err->msg : "");
	lv_error_free(&err);
	put32(img + 0x22c, 0x7fffffff);

	cfg.initrd = NULL;
	cfg.initrd_size = 0;
	cfg.cmdline = NULL;
	ok(vmm_boot_load_linux(mem, &cfg, &l, &err) == 0 && bp->hdr.ramdisk_image == 0 &&
	   bp->hdr.ramdisk_size == 0 && *(const char *)vmm_gpa_to_hva(mem, VMM_BOOT_CMDLINE_ADDR, 1) == 0,
	   "no initrd, no command line: zeros and an empty string");
	lv_error_free(&err);

	longline = malloc(3000);
	memset(longline, 'x', 2999);
	longline[2999] = 0;
	cfg.cmdline = longline;
	ok(vmm_boot_load_linux(mem, &cfg, &l, &err) == -E2BIG, "command line longer than cmdline_size: E2BIG (%s)",
	   err ? err->msg : "");
	lv_error_free(&err);
	longline[2047] = 0;
	ok(vmm_boot_load_linux(mem, &cfg, &l, &err) == 0, "command line of exactly cmdline_size bytes fits");
	lv_error_free(&err);
	free(longline);
	cfg.cmdline = "quiet";

	img[0x202] = 'X';
	ok(vmm_boot_load_linux(mem, &cfg, &l, &err) == -ENOEXEC, "corrupt image: the parser's ENOEXEC");
	lv_error_free(&err);
	img[0x202] = 'H';
	vmm_memory_destroy(&mem);

	mem = ram(16 * MiB);
	ok(vmm_boot_load_linux(mem, &cfg, &l, &err) == -ENOSPC && err,
	   "16 MiB RAM, kernel needs [16 MiB, 20 MiB): ENOSPC (%s)", err ? err->msg : "");
	lv_error_free(&err);
	vmm_memory_destroy(&mem);

	mem = ram(2048 * MiB);
	put64(img + 0x258, 1020 * MiB); /* ends exactly at 1 GiB: fine */
	ok(vmm_boot_load_linux(mem, &cfg, &l, &err) == 0, "kernel runtime ending at the 1 GiB identity map's end");
	lv_error_free(&err);
	put64(img + 0x258, 1022 * MiB); /* runs past the 1 GiB identity map */
	ok(vmm_boot_load_linux(mem, &cfg, &l, &err) == -ENOSPC, "kernel runtime beyond the 1 GiB identity map: ENOSPC");
	lv_error_free(&err);
	put64(img + 0x258, FAKE_PREF);
	vmm_memory_destroy(&mem);

	/* RAM above the hole: a fourth e820 entry; the initrd stays low. */
	mem = ram(VMM_MMIO_HOLE_START + 2 * MiB);
	cfg.initrd = initrd;
	cfg.initrd_size = MiB;
	ok(vmm_boot_load_linux(mem, &cfg, &l, &err) == 0, "3 GiB + 2 MiB of RAM loads (%s)", err ? err->msg : "ok");
	lv_error_free(&err);
	bp = vmm_gpa_to_hva(mem, VMM_BOOT_ZERO_PAGE, sizeof(*bp));
	ok(bp->e820_entries == 4 && e820_is(&bp->e820_table[2], MiB, VMM_MMIO_HOLE_START - MiB, 1) &&
	   e820_is(&bp->e820_table[3], VMM_MMIO_HOLE_END, 2 * MiB, 1),
	   "e820: RAM [1 MiB, 3 GiB) and [4 GiB, 4 GiB + 2 MiB), nothing in the hole");
	ok(l.initrd_addr == 2048 * MiB - MiB, "initrd below initrd_addr_max (2 GiB), not at the top of RAM");
	{
		struct boot_e820_entry t[2];

		ok(vmm_boot_e820(mem, t, 2, &err) == -ENOSPC, "e820 table too small: ENOSPC");
		lv_error_free(&err);
	}
	vmm_memory_destroy(&mem);
out:
	free(initrd);
	free(img);
}

static void test_long_mode_tables(void)
{
	struct vmm_memory *mem = ram(4 * MiB);
	struct lv_error *err = NULL;
	struct kvm_sregs s;
	const uint64_t *pml4, *pdpt, *pd, *gdt;

	ok(vmm_boot_write_long_mode_tables(mem, &err) == 0, "GDT and page tables written");
	lv_error_free(&err);
	pml4 = vmm_gpa_to_hva(mem, VMM_BOOT_PML4_ADDR, 4096);
	pdpt = vmm_gpa_to_hva(mem, VMM_BOOT_PDPT_ADDR, 4096);
	pd = vmm_gpa_to_hva(mem, VMM_BOOT_PD_ADDR, 4096);
	gdt = vmm_gpa_to_hva(mem, VMM_BOOT_GDT_ADDR, 48);
	ok(pml4[0] == (VMM_BOOT_PDPT_ADDR | 3) && pml4[1] == 0 && pml4[511] == 0, "PML4[0] -> PDPT, rest empty");
	ok(pdpt[0] == (VMM_BOOT_PD_ADDR | 3) && pdpt[1] == 0, "PDPT[0] -> PD: only the first GiB");
	ok(pd[0] == 0x83 && pd[1] == (2 * MiB | 0x83) && pd[511] == (511 * 2 * MiB | 0x83),
	   "PD: 512 present, writable 2 MiB pages covering [0, 1 GiB)");
	ok(gdt[0] == 0 && gdt[1] == 0 && gdt[2] == 0x00af9b000000ffffULL && gdt[3] == 0x00cf93000000ffffULL,
	   "GDT: code64 at 0x10, data at 0x18");

	memset(&s, 0, sizeof(s));
	vmm_boot_long_mode_sregs(&s);
	ok(s.cs.selector == 0x10 && s.cs.l == 1 && s.cs.db == 0 && s.cs.type == 0xb && s.cs.s == 1 &&
	   s.cs.present == 1 && s.cs.dpl == 0 && s.cs.g == 1 && s.cs.base == 0 && s.cs.limit == 0xffffffff,
	   "CS: __BOOT_CS, 64-bit, flat, ring 0");
	ok(s.ds.selector == 0x18 && s.ss.selector == 0x18 && s.es.selector == 0x18 && s.ds.type == 3 &&
	   s.ds.db == 1 && s.ds.l == 0 && s.ds.limit == 0xffffffff, "DS/ES/SS: __BOOT_DS, flat read/write");
	ok(s.tr.selector == 0x20 && s.tr.type == 11 && s.tr.s == 0 && s.tr.present == 1, "TR: busy 64-bit TSS");
	ok(s.gdt.base == VMM_BOOT_GDT_ADDR && s.gdt.limit == 47, "GDTR");
	ok(s.cr0 == 0x80000011ULL && s.cr3 == VMM_BOOT_PML4_ADDR && s.cr4 == 0x20 && s.efer == 0x500,
	   "CR0 PE|ET|PG, CR3 PML4, CR4 PAE, EFER LME|LMA");
	vmm_memory_destroy(&mem);

	/* RAM that does not reach the page tables. */
	mem = ram(8 * 4096);
	ok(vmm_boot_write_long_mode_tables(mem, &err) == -EFAULT && err, "tables outside RAM: EFAULT (%s)",
	   err ? err->msg : "");
	lv_error_free(&err);
	vmm_memory_destroy(&mem);
}

int main(void)
{
	test_parse_fake();
	test_parse_real();
	test_zero_page();
	test_long_mode_tables();
	return tap_done();
}
