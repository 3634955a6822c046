/* libFuzzer target for the bzImage setup header parser and the Linux loader
 * behind it.  The input is the image; its last byte picks the initrd size
 * (the input itself, shifted down) so placement bounds are exercised too.
 * Every accepted image must satisfy the parser's promises, and every layout
 * the loader reports must lie in guest RAM.  Replay a file: fuzz_bzimage FILE... */
#include <stdlib.h>
#include <string.h>

#include "../../vmm/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One guest RAM for the whole run: a memfd per input would dominate. */
	static struct vmm_memory *mem;
	struct lv_error *err = NULL;
	struct vmm_bzimage h;
	struct vmm_boot_layout l;
	struct vmm_boot_config cfg = { .kernel = data, .kernel_size = size, .cmdline = "console=ttyS0" };

	if (vmm_bzimage_parse(data, size, &h, &err) < 0) {
		lv_error_free(&err);
		return 0;
	}
	if (h.setup_size + h.kernel_size != size || h.kernel_size == 0 || h.header_end > size ||
	    h.header_end > VMM_SETUP_HEADER_MAX_END || h.version < VMM_BZIMAGE_MIN_VERSION ||
	    h.pref_address < 0x100000 || h.pref_address + h.init_size > 0x100000000ULL)
		abort();
	if (!mem && vmm_memory_create(64 << 20, &mem, &err) < 0)
		abort();
	cfg.initrd = data;
	cfg.initrd_size = size >> (data[size - 1] & 7);
	if (vmm_boot_load_linux(mem, &cfg, &l, &err) < 0) {
		lv_error_free(&err);
		return 0;
	}
	if (!vmm_gpa_to_hva(mem, l.kernel_addr, l.kernel_size) ||
	    !vmm_gpa_to_hva(mem, l.runtime_start, l.runtime_end - l.runtime_start) ||
	    l.runtime_end > VMM_BOOT_IDENT_MAP_SIZE || l.entry != l.kernel_addr + 0x200)
		abort();
	if (l.initrd_size && (!vmm_gpa_to_hva(mem, l.initrd_addr, l.initrd_size) || l.initrd_addr < l.runtime_end ||
			      l.initrd_addr + l.initrd_size - 1 > h.initrd_addr_max || l.initrd_addr % 4096))
		abort();
	return 0;
}
