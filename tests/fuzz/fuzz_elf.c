/* libFuzzer target for the ELF64 vmlinux parser and the PVH loader behind
 * it.  The input is the image; its last byte picks the initrd size (the
 * input itself, shifted down) so placement is exercised too.  Every accepted
 * image must satisfy the parser's promises (elf.h), and every layout the
 * loader reports must lie in guest RAM without overlaps.
 * Replay a file: fuzz_elf FILE... */
#include <stdlib.h>
#include <string.h>

#include "../../vmm/pvh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_parse(const struct vmm_elf_kernel *k, size_t size)
{
	unsigned int i, j;
	int entry_in = !k->has_pvh;

	if (k->nr_segments == 0 || k->nr_segments > VMM_ELF_MAX_SEGMENTS || k->load_end > VMM_ELF_LOAD_LIMIT ||
	    k->load_start >= k->load_end)
		abort();
	for (i = 0; i < k->nr_segments; i++) {
		const struct vmm_elf_segment *s = &k->segments[i];

		if (s->memsz == 0 || s->filesz > s->memsz || s->offset > size || s->filesz > size - s->offset ||
		    s->paddr < k->load_start || s->paddr + s->memsz > k->load_end)
			abort();
		for (j = 0; j < i; j++)
			if (s->paddr < k->segments[j].paddr + k->segments[j].memsz &&
			    k->segments[j].paddr < s->paddr + s->memsz)
				abort();
		if (k->has_pvh && k->pvh_entry >= s->paddr && k->pvh_entry - s->paddr < s->filesz)
			entry_in = 1;
	}
	if (!entry_in)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One guest RAM for the whole run: a memfd per input would dominate. */
	static struct vmm_memory *mem;
	struct lv_error *err = NULL;
	struct vmm_elf_kernel k;
	struct vmm_pvh_layout l;
	struct vmm_boot_config cfg = { .kernel = data, .kernel_size = size, .cmdline = "console=ttyS0" };
	unsigned int i;

	if (vmm_elf_parse(data, size, &k, &err) < 0) {
		if (!err || lv_err_errno(err) != ENOEXEC)
			abort();
		lv_error_free(&err);
		return 0;
	}
	check_parse(&k, size);
	if (!mem && vmm_memory_create(64 << 20, &mem, &err) < 0)
		abort();
	cfg.initrd = data;
	cfg.initrd_size = size >> (data[size - 1] & 7);
	if (vmm_pvh_load(mem, &cfg, &l, &err) < 0) {
		lv_error_free(&err);
		return 0;
	}
	if (!l.elf.has_pvh || l.entry != l.elf.pvh_entry || l.start_info != VMM_PVH_START_INFO_ADDR ||
	    l.memmap_entries == 0 || l.memmap_entries > VMM_PVH_MEMMAP_MAX)
		abort();
	for (i = 0; i < l.elf.nr_segments; i++) {
		const struct vmm_elf_segment *s = &l.elf.segments[i];

		if (s->paddr < VMM_BOOT_HIMEM_START || !vmm_gpa_to_hva(mem, s->paddr, s->memsz))
			abort();
	}
	if (l.initrd_size && (!vmm_gpa_to_hva(mem, l.initrd_addr, l.initrd_size) || l.initrd_addr % 4096 ||
			      l.initrd_addr < VMM_BOOT_HIMEM_START ||
			      (l.initrd_addr < l.kernel_end && l.initrd_addr + l.initrd_size > l.kernel_start) ||
			      l.initrd_addr + l.initrd_size - 1 > VMM_PVH_INITRD_ADDR_MAX))
		abort();
	return 0;
}
