/* vmm/elf: the ELF64 vmlinux parser on synthetic images, good and hostile
 * (every header field it reads, bent out of range one at a time, then
 * random corruption checked against the parser's promises), and on the real
 * Tinyx vmlinux when it is built (build/vmlinux; LIGHTVM_VMLINUX overrides
 * the path).  Needs no /dev/kvm. */
#include "../../lib/cleanup.h"
#include "../../vmm/elf.h"
#include "elf_image.h"
#include "tap.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define MiB (1ULL << 20)
#define P   (16 * MiB)

static const struct fe_params good = { .paddr = P, .bss = 0x5000, .entry_off = 0x40, .desc_size = 8 };

static void test_good(void)
{
	struct fe_image img = fe_build(&good);
	struct vmm_elf_kernel k;
	struct lv_error *err = NULL;
	int r;

	ok(vmm_elf_is_elf(img.buf, img.size), "the synthetic image has the ELF magic");
	r = vmm_elf_parse(img.buf, img.size, &k, &err);
	ok(r == 0, "synthetic vmlinux parses (%s)", err ? err->msg : "ok");
	lv_error_free(&err);
	if (r < 0)
		goto out;
	ok(k.nr_segments == 2, "two PT_LOAD segments (the note and GNU_STACK headers are not loaded)");
	ok(k.segments[0].offset == FE_TEXT_OFF && k.segments[0].paddr == P && k.segments[0].filesz == FE_TEXT_SIZE &&
	   k.segments[0].memsz == FE_TEXT_SIZE, "text: file 0x1000 +0x1000 at physical 16 MiB (not the virtual address)");
	ok(k.segments[1].offset == FE_DATA_OFF && k.segments[1].paddr == P + FE_DATA_DELTA &&
	   k.segments[1].filesz == FE_DATA_SIZE && k.segments[1].memsz == FE_DATA_SIZE + 0x5000,
	   "data: 0x800 file bytes, 0x5000 of bss");
	ok(k.load_start == P && k.load_end == P + FE_DATA_DELTA + FE_DATA_SIZE + 0x5000, "span [0x%llx, 0x%llx)",
	   (unsigned long long)k.load_start, (unsigned long long)k.load_end);
	ok(k.has_pvh && k.pvh_entry == P + 0x40, "PVH entry from the 8-byte Xen note: 0x%x", k.pvh_entry);
	ok(k.entry == 0xffffffff80000000ULL + P, "e_entry kept (virtual)");
out:
	free(img.buf);
}

static void test_variants(void)
{
	struct fe_params p = good;
	struct fe_image img;
	struct vmm_elf_kernel k;
	struct lv_error *err = NULL;
	int r;

	p.desc_size = 4;
	img = fe_build(&p);
	ok(vmm_elf_parse(img.buf, img.size, &k, &err) == 0 && k.has_pvh && k.pvh_entry == P + 0x40,
	   "a 4-byte PVH note (as non-Linux kernels emit it) works too");
	lv_error_free(&err);
	free(img.buf);

	p.desc_size = 0;
	img = fe_build(&p);
	r = vmm_elf_parse(img.buf, img.size, &k, &err);
	ok(r == 0 && !k.has_pvh, "no Xen note: parses, has_pvh false (the PVH loader refuses it)");
	lv_error_free(&err);
	free(img.buf);

	/* A zero-sized PT_LOAD is skipped; a PT_NOTE ending in < 12 bytes of
	 * padding is fine. */
	img = fe_build(&good);
	fe_put64(img.buf, FE_PHDR(3), PT_LOAD);
	fe_put64(img.buf, FE_PHDR(2) + FE_PH_FILESZ, img.size - FE_NOTE_OFF + 8);
	img.size += 8;
	r = vmm_elf_parse(img.buf, img.size, &k, &err);
	ok(r == 0 && k.nr_segments == 2 && k.has_pvh, "empty PT_LOAD skipped, 8 trailing note bytes ignored (%s)",
	   err ? err->msg : "ok");
	lv_error_free(&err);

	/* The same Xen note twice (agreeing) is accepted. */
	memcpy(img.buf + img.size - 8, img.buf + img.xen_note, 24);
	img.size += 16;
	fe_put64(img.buf, FE_PHDR(2) + FE_PH_FILESZ, img.size - FE_NOTE_OFF);
	r = vmm_elf_parse(img.buf, img.size, &k, &err);
	ok(r == 0 && k.has_pvh && k.pvh_entry == P + 0x40, "two agreeing PVH notes (%s)", err ? err->msg : "ok");
	lv_error_free(&err);
	/* ... two disagreeing ones are not. */
	fe_put32(img.buf, img.size - 8, P + 0x44);
	ok(vmm_elf_parse(img.buf, img.size, &k, &err) == -ENOEXEC && err && strstr(err->msg, "disagree"),
	   "two disagreeing PVH notes: -ENOEXEC (%s)", err ? err->msg : "");
	lv_error_free(&err);
	free(img.buf);

	/* In an 8-aligned note segment names and descriptors start 8-aligned:
	 * "Linux" (6 bytes) then 4 bytes of descriptor put the Xen note at 32
	 * (with 4-byte alignment it would be at 24). */
	img = fe_build(&good);
	{
		uint32_t linux_hdr[3] = { 6, 4, 1 }, xen_hdr[3] = { 4, 8, 18 };
		uint64_t entry = P + 0x80;
		uint8_t *n = img.buf + FE_NOTE_OFF;

		memset(n, 0, 64);
		memcpy(n, linux_hdr, 12);
		memcpy(n + 12, "Linux", 6);
		memcpy(n + 32, xen_hdr, 12);
		memcpy(n + 44, "Xen", 4);
		memcpy(n + 48, &entry, 8);
		fe_put64(img.buf, FE_PHDR(2) + FE_PH_FILESZ, 56);
		fe_put64(img.buf, FE_PHDR(2) + FE_PH_ALIGN, 8);
		r = vmm_elf_parse(img.buf, img.size, &k, &err);
		ok(r == 0 && k.has_pvh && k.pvh_entry == P + 0x80, "an 8-aligned note segment (%s)", err ? err->msg : "ok");
		lv_error_free(&err);
		/* Read with 4-byte alignment, the same bytes hold no Xen note. */
		fe_put64(img.buf, FE_PHDR(2) + FE_PH_ALIGN, 4);
		r = vmm_elf_parse(img.buf, img.size, &k, &err);
		ok(r < 0 || !k.has_pvh, "... which a 4-aligned walk does not find (%s)", err ? err->msg : "no note");
		lv_error_free(&err);
	}
	free(img.buf);

	ok(!vmm_elf_is_elf("\x7f" "EL", 3) && !vmm_elf_is_elf(NULL, 64) && !vmm_elf_is_elf("MZ\0\0\0\0\0\0", 8),
	   "is_elf: false for 3 bytes, NULL, a PE/bzImage start");
}

/* One corruption: `width` bytes of `value` at `off`, a truncation to
 * `truncate` bytes when that is non-zero, or what `mutate` does. */
struct hostile {
	const char *what;
	size_t off;
	unsigned int width;
	uint64_t value;
	size_t truncate;
	const char *msg; /* a word the error message must contain */
	void (*mutate)(struct fe_image *img);
};

#define PH(i, f) (FE_PHDR(i) + (f))
/* The Xen note's descriptor: after its 12-byte header and "Xen\0". */
#define XEN_DESC(img) ((img)->xen_note + 16)

static void no_load(struct fe_image *img)
{
	fe_put32(img->buf, PH(0, 0), PT_NULL);
	fe_put32(img->buf, PH(1, 0), PT_NOTE + 0x100); /* an unknown type */
}

static void cut_pvh_desc(struct fe_image *img)
{
	fe_put64(img->buf, PH(2, FE_PH_FILESZ), img->size - FE_NOTE_OFF - 4);
}

static void pvh_desc_2(struct fe_image *img)
{
	fe_put32(img->buf, img->xen_note + 4, 2);
}

static void pvh_4g(struct fe_image *img)
{
	fe_put64(img->buf, XEN_DESC(img), 0x100000000ULL);
}

static void pvh_gap(struct fe_image *img)
{
	fe_put64(img->buf, XEN_DESC(img), P + FE_TEXT_SIZE + 0x10);
}

static void pvh_bss(struct fe_image *img)
{
	fe_put64(img->buf, XEN_DESC(img), P + FE_DATA_DELTA + FE_DATA_SIZE + 0x10);
}

static void pvh_zero(struct fe_image *img)
{
	fe_put64(img->buf, XEN_DESC(img), 0);
}

static const struct hostile hostile[] = {
	{ "3 bytes", 0, 0, 0, 3, "magic", NULL },
	{ "63 bytes (ELF header is 64)", 0, 0, 0, 63, "too short", NULL },
	{ "ELFCLASS32", EI_CLASS, 1, ELFCLASS32, 0, "ELF64", NULL },
	{ "big-endian", EI_DATA, 1, ELFDATA2MSB, 0, "little-endian", NULL },
	{ "e_ident version 0", EI_VERSION, 1, 0, 0, "version", NULL },
	{ "e_version 2", offsetof(Elf64_Ehdr, e_version), 4, 2, 0, "version", NULL },
	{ "i386 machine", offsetof(Elf64_Ehdr, e_machine), 2, EM_386, 0, "x86-64", NULL },
	{ "ET_DYN", offsetof(Elf64_Ehdr, e_type), 2, ET_DYN, 0, "ET_EXEC", NULL },
	{ "e_phentsize 32", offsetof(Elf64_Ehdr, e_phentsize), 2, 32, 0, "header size", NULL },
	{ "e_phnum 0", offsetof(Elf64_Ehdr, e_phnum), 2, 0, 0, "program headers", NULL },
	{ "e_phnum 65", offsetof(Elf64_Ehdr, e_phnum), 2, 65, 0, "program headers", NULL },
	{ "e_phnum PN_XNUM", offsetof(Elf64_Ehdr, e_phnum), 2, PN_XNUM, 0, "program headers", NULL },
	{ "e_phoff past the end", offsetof(Elf64_Ehdr, e_phoff), 8, 0x100000, 0, "past the image", NULL },
	{ "e_phoff near 2^64 (offset + size wraps)", offsetof(Elf64_Ehdr, e_phoff), 8, UINT64_MAX - 100, 0,
	  "past the image", NULL },
	{ "program headers straddle the end", 0, 0, 0, FE_PHDR(3) + 10, "past the image", NULL },
	{ "segment offset past the end", PH(0, FE_PH_OFFSET), 8, 0x10000, 0, "past the image", NULL },
	{ "segment offset 2^64-16 (offset + filesz wraps)", PH(0, FE_PH_OFFSET), 8, UINT64_MAX - 15, 0,
	  "past the image", NULL },
	{ "segment filesz 2^64-1", PH(0, FE_PH_FILESZ), 8, UINT64_MAX, 0, "more file bytes", NULL },
	{ "segment file bytes run past the end", PH(1, FE_PH_OFFSET), 8, 0x3000, 0, "past the image", NULL },
	{ "filesz > memsz", PH(0, FE_PH_MEMSZ), 8, 0x800, 0, "more file bytes", NULL },
	{ "memsz 2^64-1 (paddr + memsz wraps)", PH(1, FE_PH_MEMSZ), 8, UINT64_MAX, 0, "below 4 GiB", NULL },
	{ "paddr 2^64-4K", PH(0, FE_PH_PADDR), 8, UINT64_MAX - 0xfff, 0, "below 4 GiB", NULL },
	{ "paddr 4 GiB", PH(0, FE_PH_PADDR), 8, 0x100000000ULL, 0, "below 4 GiB", NULL },
	{ "segment crosses 4 GiB", PH(1, FE_PH_PADDR), 8, 0xfffff000ULL, 0, "below 4 GiB", NULL },
	{ "segments overlap", PH(1, FE_PH_PADDR), 8, P + 0xfff, 0, "overlaps", NULL },
	{ "no PT_LOAD", 0, 0, 0, 0, "no loadable", no_load },
	{ "note segment past the end", PH(2, FE_PH_OFFSET), 8, 0x3fff0, 0, "past the image", NULL },
	{ "note segment size 2^64-1", PH(2, FE_PH_FILESZ), 8, UINT64_MAX, 0, "past the image", NULL },
	{ "note namesz 2^32-1", FE_NOTE_OFF, 4, 0xffffffff, 0, "name", NULL },
	{ "note descsz 2^32-1", FE_NOTE_OFF + 4, 4, 0xffffffff, 0, "descriptor", NULL },
	{ "PVH note cut by its segment's end", 0, 0, 0, 0, "descriptor", cut_pvh_desc },
	{ "PVH note of 2 bytes", 0, 0, 0, 0, "4 or 8", pvh_desc_2 },
	{ "PVH entry 2^32 (8-byte note)", 0, 0, 0, 0, "32-bit", pvh_4g },
	{ "PVH entry in the text/data gap", 0, 0, 0, 0, "no segment", pvh_gap },
	{ "PVH entry in the bss", 0, 0, 0, 0, "no segment", pvh_bss },
	{ "PVH entry 0", 0, 0, 0, 0, "no segment", pvh_zero },
};

static void apply(struct fe_image *img, const struct hostile *h)
{
	if (h->mutate)
		h->mutate(img);
	else if (h->truncate)
		img->size = h->truncate;
	else if (h->width == 1)
		img->buf[h->off] = (uint8_t)h->value;
	else if (h->width == 2)
		fe_put16(img->buf, h->off, (uint16_t)h->value);
	else if (h->width == 4)
		fe_put32(img->buf, h->off, (uint32_t)h->value);
	else
		fe_put64(img->buf, h->off, h->value);
}

static void test_hostile(void)
{
	size_t i;

	for (i = 0; i < LV_ARRAY_SIZE(hostile); i++) {
		const struct hostile *h = &hostile[i];
		struct fe_image img = fe_build(&good);
		struct vmm_elf_kernel k, before;
		struct lv_error *err = NULL;
		int r;

		memset(&k, 0xa5, sizeof(k));
		before = k;
		apply(&img, h);
		r = vmm_elf_parse(img.buf, img.size, &k, &err);
		ok(r == -ENOEXEC && err && strstr(err->msg, h->msg) && memcmp(&k, &before, sizeof(k)) == 0,
		   "%s: -ENOEXEC, out untouched (%s)", h->what, err ? err->msg : "accepted!");
		lv_error_free(&err);
		free(img.buf);
	}
}

static void test_too_many_segments(void)
{
	/* 17 non-overlapping loadable segments, program headers at 0x400. */
	struct fe_image img = fe_build(&good);
	struct vmm_elf_kernel k;
	struct lv_error *err = NULL;
	unsigned int i, n = VMM_ELF_MAX_SEGMENTS + 1;

	fe_put64(img.buf, offsetof(Elf64_Ehdr, e_phoff), 0x400);
	fe_put16(img.buf, offsetof(Elf64_Ehdr, e_phnum), (uint16_t)n);
	for (i = 0; i < n; i++) {
		Elf64_Phdr ph = { .p_type = PT_LOAD, .p_offset = FE_TEXT_OFF, .p_paddr = P + i * 0x1000ULL,
				  .p_filesz = 0x10, .p_memsz = 0x1000 };

		memcpy(img.buf + 0x400 + i * sizeof(ph), &ph, sizeof(ph));
	}
	ok(vmm_elf_parse(img.buf, img.size, &k, &err) == -ENOEXEC && err && strstr(err->msg, "more than"),
	   "%u loadable segments: -ENOEXEC (%s)", n, err ? err->msg : "accepted!");
	lv_error_free(&err);
	fe_put16(img.buf, offsetof(Elf64_Ehdr, e_phnum), (uint16_t)(n - 1));
	ok(vmm_elf_parse(img.buf, img.size, &k, &err) == 0 && k.nr_segments == VMM_ELF_MAX_SEGMENTS,
	   "%d are fine (%s)", VMM_ELF_MAX_SEGMENTS, err ? err->msg : "ok");
	lv_error_free(&err);
	free(img.buf);
}

/* What every accepted image must satisfy (the fuzz target checks the same). */
static int promises_hold(const struct vmm_elf_kernel *k, size_t size)
{
	unsigned int i, j;
	int in = !k->has_pvh;

	if (k->nr_segments == 0 || k->nr_segments > VMM_ELF_MAX_SEGMENTS || k->load_end > VMM_ELF_LOAD_LIMIT)
		return 0;
	for (i = 0; i < k->nr_segments; i++) {
		const struct vmm_elf_segment *s = &k->segments[i];

		if (s->memsz == 0 || s->filesz > s->memsz || s->offset > size || s->filesz > size - s->offset ||
		    s->paddr < k->load_start || s->paddr + s->memsz > k->load_end)
			return 0;
		for (j = 0; j < i; j++)
			if (s->paddr < k->segments[j].paddr + k->segments[j].memsz &&
			    k->segments[j].paddr < s->paddr + s->memsz)
				return 0;
		if (k->has_pvh && k->pvh_entry >= s->paddr && k->pvh_entry < s->paddr + s->filesz)
			in = 1;
	}
	return in;
}

static void test_random_corruption(void)
{
	struct fe_image img = fe_build(&good);
	uint8_t *orig = malloc(img.size);
	unsigned int i, j, accepted = 0, broken = 0, seed = 12345;
	struct lv_error *err = NULL;

	memcpy(orig, img.buf, img.size);
	for (i = 0; i < 20000; i++) {
		struct vmm_elf_kernel k;
		size_t size = img.size;

		memcpy(img.buf, orig, img.size);
		for (j = 0; j < 1 + i % 4; j++) {
			/* Mostly the headers and the notes, where the parser reads. */
			size_t off = rand_r(&seed) % 2 ? (size_t)rand_r(&seed) % FE_PHDR(FE_PHNUM)
						      : FE_NOTE_OFF + (size_t)rand_r(&seed) % (img.size - FE_NOTE_OFF);

			img.buf[off] = (uint8_t)rand_r(&seed);
		}
		if (i % 8 == 7)
			size = (size_t)rand_r(&seed) % img.size;
		if (vmm_elf_parse(img.buf, size, &k, &err) == 0) {
			accepted++;
			if (!promises_hold(&k, size))
				broken++;
		} else if (!err || lv_err_errno(err) != ENOEXEC) {
			broken++;
		}
		lv_error_free(&err);
	}
	ok(broken == 0, "20000 randomly corrupted images: %u accepted, all within the parser's promises; the rest "
	   "-ENOEXEC with a message", accepted);
	free(orig);
	free(img.buf);
}

/* How many PT_LOAD headers readelf sees, or -1. */
static int readelf_loads(const char *path)
{
	char cmd[512];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "readelf -lW '%s' 2>/dev/null | grep -c '^ *LOAD '", path);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	pclose(f);
	return n;
}

static void test_real_vmlinux(void)
{
	const char *path = getenv("LIGHTVM_VMLINUX") ? getenv("LIGHTVM_VMLINUX") : "build/vmlinux";
	struct vmm_elf_kernel k;
	struct lv_error *err = NULL;
	size_t size = 0, cut, last_end = 0;
	uint8_t *img = read_file(path, &size);
	unsigned int i, fails = 0;
	int r, loads;

	if (!img) {
		ok(1, "# SKIP no %s: real vmlinux", path);
		return;
	}
	r = vmm_elf_parse(img, size, &k, &err);
	ok(r == 0, "%s (%zu bytes) parses (%s)", path, size, err ? err->msg : "ok");
	lv_error_free(&err);
	if (r < 0)
		goto out;
	loads = readelf_loads(path);
	ok(loads < 0 || (unsigned int)loads == k.nr_segments, "%u loadable segments (readelf: %d)", k.nr_segments,
	   loads);
	ok(k.has_pvh && k.pvh_entry >= k.load_start && k.pvh_entry < k.load_end,
	   "PVH entry 0x%x inside the kernel [0x%llx, 0x%llx) (CONFIG_PVH)", k.pvh_entry,
	   (unsigned long long)k.load_start, (unsigned long long)k.load_end);
	ok(k.load_start >= MiB && k.load_end < 256 * MiB, "loads at physical addresses from 0x%llx (LOAD_PHYSICAL_ADDR)",
	   (unsigned long long)k.load_start);
	printf("# %s: %u segments, %.1f MiB in memory, PVH entry 0x%x\n", path, k.nr_segments,
	       (double)(k.load_end - k.load_start) / MiB, k.pvh_entry);
	/* Cut anywhere before the last segment's file bytes end: refused. */
	for (i = 0; i < k.nr_segments; i++)
		if (k.segments[i].offset + k.segments[i].filesz > last_end)
			last_end = k.segments[i].offset + k.segments[i].filesz;
	for (cut = 0; cut < last_end; cut += last_end / 64 + 1) {
		r = vmm_elf_parse(img, cut, &k, &err);
		if (r != -ENOEXEC)
			fails++;
		lv_error_free(&err);
	}
	ok(fails == 0, "the real image truncated at 64 points before its last segment's end: all -ENOEXEC");
out:
	free(img);
}

int main(void)
{
	test_good();
	test_variants();
	test_hostile();
	test_too_many_segments();
	test_random_corruption();
	test_real_vmlinux();
	return tap_done();
}
