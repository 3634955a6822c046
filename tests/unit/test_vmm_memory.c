/* vmm/memory: guest RAM layout around the MMIO hole and the bounds of
 * vmm_gpa_to_hva(), the check every device relies on.  Needs no /dev/kvm,
 * except the last test (slot registration), which is skipped without it. */
#include "../../vmm/memory.h"
#include "../../vmm/vm.h"
#include "tap.h"

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static void test_bad_sizes(void)
{
	static const uint64_t bad[] = { 0, 4095, 4097, VMM_MEM_MAX_SIZE + VMM_PAGE_SIZE, UINT64_MAX };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vmm_memory *mem = NULL;
		struct lv_error *err = NULL;
		int r = vmm_memory_create(bad[i], &mem, &err);

		ok(r == -EINVAL && mem == NULL && err && err->msg, "size %llu refused with EINVAL (%s)",
		   (unsigned long long)bad[i], err ? err->msg : "no message");
		lv_error_free(&err);
	}
}

static void test_small(void)
{
	struct vmm_memory *mem = NULL;
	struct lv_error *err = NULL;
	uint64_t size = 64 * MiB;
	uint8_t *p, buf[4] = { 1, 2, 3, 4 }, back[4] = { 0 };

	ok(vmm_memory_create(size, &mem, &err) == 0, "64 MiB of RAM");
	if (!mem) {
		lv_error_free(&err);
		return;
	}
	ok(mem->nr_regions == 1 && mem->regions[0].gpa == 0 && mem->regions[0].size == size,
	   "below the hole: one region [0, 64 MiB)");
	ok(vmm_gpa_to_hva(mem, 0, size) == mem->base, "the whole of RAM translates");
	ok(vmm_gpa_to_hva(mem, size - 1, 1) == mem->base + size - 1, "last byte translates");
	ok(vmm_gpa_to_hva(mem, size - 1, 2) == NULL, "range crossing the end of RAM: NULL");
	ok(vmm_gpa_to_hva(mem, size, 0) == NULL, "gpa == end of RAM, len 0: NULL");
	ok(vmm_gpa_to_hva(mem, size - 1, 0) != NULL, "len 0 inside RAM: the address");
	ok(vmm_gpa_to_hva(mem, 0, size + 1) == NULL, "one byte more than RAM: NULL");
	ok(vmm_gpa_to_hva(mem, 16, UINT64_MAX) == NULL, "len UINT64_MAX (gpa + len wraps): NULL");
	ok(vmm_gpa_to_hva(mem, UINT64_MAX, 1) == NULL, "gpa UINT64_MAX: NULL");
	ok(vmm_gpa_to_hva(mem, UINT64_MAX - 15, 32) == NULL, "range wrapping past 2^64: NULL");
	ok(vmm_gpa_to_hva(mem, 0x1000, UINT64_MAX - 0xfff) == NULL, "gpa + len == 2^64 exactly: NULL");

	ok(vmm_memory_write(mem, 0x1234, buf, sizeof(buf), &err) == 0, "write inside RAM");
	p = vmm_gpa_to_hva(mem, 0x1234, 4);
	ok(p && p[0] == 1 && p[3] == 4, "written bytes visible through the translation");
	ok(pread(mem->memfd, back, sizeof(back), 0x1234) == 4 && back[2] == 3, "and in the memfd");
	ok(vmm_memory_write(mem, size - 2, buf, sizeof(buf), &err) == -EFAULT && err,
	   "write crossing the end: EFAULT (%s)", err ? err->msg : "");
	lv_error_free(&err);
	ok(vmm_memory_read(mem, size, back, 1, &err) == -EFAULT, "read past the end: EFAULT");
	lv_error_free(&err);
	ok(ftruncate(mem->memfd, 4096) < 0, "the memfd is sealed against shrinking");

	vmm_memory_destroy(&mem);
	ok(mem == NULL, "destroy resets the pointer");
	vmm_memory_destroy(&mem);
}

static void test_hole(void)
{
	struct vmm_memory *mem = NULL;
	struct lv_error *err = NULL;
	uint64_t high = 64 * MiB, size = VMM_MMIO_HOLE_START + high;
	uint64_t hole = VMM_MMIO_HOLE_START, end_high = VMM_MMIO_HOLE_END + high;

	/* The memfd is sparse: 3 GiB + 64 MiB costs nothing until touched. */
	ok(vmm_memory_create(size, &mem, &err) == 0, "3 GiB + 64 MiB of RAM (%s)", err ? err->msg : "ok");
	lv_error_free(&err);
	if (!mem)
		return;
	ok(mem->nr_regions == 2, "above the hole: two regions");
	ok(mem->regions[0].gpa == 0 && mem->regions[0].size == hole, "low region [0, 3 GiB)");
	ok(mem->regions[1].gpa == VMM_MMIO_HOLE_END && mem->regions[1].size == high,
	   "high region [4 GiB, 4 GiB + 64 MiB)");
	ok(vmm_gpa_to_hva(mem, hole - 1, 1) == mem->base + hole - 1, "last low byte translates");
	ok(vmm_gpa_to_hva(mem, hole - 1, 2) == NULL, "range running into the hole: NULL");
	ok(vmm_gpa_to_hva(mem, hole, 1) == NULL, "first hole byte: NULL");
	ok(vmm_gpa_to_hva(mem, 0xfee00000, 4) == NULL, "LAPIC page in the hole: NULL");
	ok(vmm_gpa_to_hva(mem, VMM_MMIO_HOLE_END - 1, 1) == NULL, "last hole byte: NULL");
	ok(vmm_gpa_to_hva(mem, VMM_MMIO_HOLE_END - 1, 2) == NULL, "range from the hole into high RAM: NULL");
	ok(vmm_gpa_to_hva(mem, hole - 4096, VMM_MMIO_HOLE_END - hole + 8192) == NULL,
	   "range spanning the whole hole: NULL (host memory is contiguous, guest memory is not)");
	ok(vmm_gpa_to_hva(mem, VMM_MMIO_HOLE_END, 1) == mem->base + hole,
	   "4 GiB maps to base + 3 GiB (contiguous host mapping)");
	ok(vmm_gpa_to_hva(mem, end_high - 8, 8) == mem->base + size - 8, "last 8 high bytes translate");
	ok(vmm_gpa_to_hva(mem, end_high - 8, 9) == NULL, "one past the end of high RAM: NULL");
	ok(vmm_gpa_to_hva(mem, end_high, 1) == NULL, "above high RAM: NULL");
	ok(vmm_memory_region_of(mem, 5 * GiB) == NULL && vmm_memory_region_of(mem, 4 * GiB) == &mem->regions[1],
	   "region_of picks the right region");
	vmm_memory_destroy(&mem);
}

static void test_register(void)
{
	struct vmm_vm_config cfg = { .irqchip = false };
	struct vmm_memory *mem = NULL;
	struct vmm_vm *vm = NULL;
	struct lv_error *err = NULL;

	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		ok(1, "# SKIP no usable /dev/kvm: slot registration");
		return;
	}
	ok(vmm_vm_create(&cfg, &vm, &err) == 0, "VM created (%s)", err ? err->msg : "ok");
	lv_error_free(&err);
	ok(vmm_memory_create(VMM_MMIO_HOLE_START + 2 * MiB, &mem, &err) == 0, "RAM across the hole");
	lv_error_free(&err);
	if (vm && mem) {
		int r = vmm_memory_register(mem, vm->vm_fd, &err);

		ok(r == 0, "both slots registered with KVM (%s)", err ? err->msg : "ok");
		lv_error_free(&err);
		r = vmm_memory_register(mem, -1, &err);
		ok(r == -EBADF && err && err->msg, "bad VM fd: -EBADF with a message (%s)", err ? err->msg : "");
		lv_error_free(&err);
	}
	vmm_vm_destroy(&vm);
	vmm_memory_destroy(&mem);
}

int main(void)
{
	test_bad_sizes();
	test_small();
	test_hole();
	test_register();
	return tap_done();
}
