/* vmm/mptable: the MP 1.4 table read back the way Linux finds and parses
 * it (arch/x86/kernel/mpparse.c: the floating pointer scan, checksums, the
 * entry walk), for 1, 2, 40, 64 and 254 CPUs, and every bounds error.
 * Needs no /dev/kvm.  The parser here is independent of the writer: it
 * reads bytes at the spec's offsets, not the writer's structs. */
#include "../../lib/cleanup.h"
#include "../../vmm/mptable.h"
#include "tap.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1ULL << 20)

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* smp_scan_config(): 16-byte steps, "_MP_", length 1, checksum, rev 1/4. */
static uint64_t scan(const struct vmm_memory *mem, uint64_t base, uint64_t len)
{
	const uint8_t *p;

	for (; len >= 16; base += 16, len -= 16) {
		p = vmm_gpa_to_hva(mem, base, 16);
		if (p && memcmp(p, "_MP_", 4) == 0 && p[8] == 1 && sum(p, 16) == 0 && (p[9] == 1 || p[9] == 4))
			return base;
	}
	return 0;
}

/* default_find_smp_config(), without the EBDA pointer (we leave it 0). */
static uint64_t find_mpf(const struct vmm_memory *mem)
{
	uint64_t a = scan(mem, 0, 0x400);

	if (!a)
		a = scan(mem, 639 * 0x400, 0x400);
	if (!a)
		a = scan(mem, 0xf0000, 0x10000);
	return a;
}

struct parsed {
	unsigned int cpus, bsp_count, buses, ioapics, ioints, lints, unknown;
	bool cpu_ids_in_order, bsp_is_0, all_enabled, sorted, isa, ioapic_ok, irq_map_ok, lint_ok;
	uint8_t ioapic_id;
	uint16_t irq_seen; /* bit n: ISA IRQ n routed */
};

/* smp_read_mpc(), collecting what a test wants to check. */
static bool parse(const struct vmm_memory *mem, uint64_t mpf_addr, unsigned int ncpus, struct parsed *out)
{
	const uint8_t *mpf = vmm_gpa_to_hva(mem, mpf_addr, 16), *mpc, *e, *end;
	uint32_t cfg;
	uint16_t len, count, seen = 0;
	int last_type = -1;
	struct parsed r;

	memset(&r, 0, sizeof(r));
	r.cpu_ids_in_order = r.all_enabled = r.sorted = r.irq_map_ok = r.lint_ok = true;
	if (!mpf || mpf[9] != 4 || mpf[11] != 0 || mpf[12] != 0)
		return false; /* spec 1.4, feature1 0 (table present), no IMCR */
	cfg = get32(mpf + 4);
	mpc = vmm_gpa_to_hva(mem, cfg, 44);
	if (!mpc || memcmp(mpc, "PCMP", 4) != 0)
		return false;
	len = get16(mpc + 4);
	count = get16(mpc + 34);
	mpc = vmm_gpa_to_hva(mem, cfg, len);
	if (!mpc || sum(mpc, len) != 0 || mpc[6] != 4 || get32(mpc + 36) != 0xfee00000 || get16(mpc + 40) != 0)
		return false;
	if (memcmp(mpc + 8, "LIGHTVM ", 8) != 0)
		return false;
	for (e = mpc + 44, end = mpc + len; e < end; seen++) {
		if (e[0] < last_type)
			r.sorted = false;
		last_type = e[0];
		switch (e[0]) {
		case 0:
			if (e[1] != r.cpus)
				r.cpu_ids_in_order = false;
			if (!(e[3] & 1) || e[2] != 0x14)
				r.all_enabled = false;
			if (e[3] & 2) {
				r.bsp_count++;
				r.bsp_is_0 = e[1] == 0;
			}
			r.cpus++;
			e += 20;
			break;
		case 1:
			r.buses++;
			r.isa = e[1] == 0 && memcmp(e + 2, "ISA   ", 6) == 0;
			e += 8;
			break;
		case 2:
			r.ioapics++;
			r.ioapic_id = e[1];
			r.ioapic_ok = e[2] == 0x11 && (e[3] & 1) && get32(e + 4) == 0xfec00000;
			e += 8;
			break;
		case 3:
			r.ioints++;
			/* mp_INT, edge + active high, bus 0, IRQ n -> this IOAPIC's pin n */
			if (e[1] != 0 || get16(e + 2) != 0x5 || e[4] != 0 || e[6] != r.ioapic_id || e[5] != e[7] ||
			    e[5] >= 16)
				r.irq_map_ok = false;
			else
				r.irq_seen |= (uint16_t)(1U << e[5]);
			e += 8;
			break;
		case 4:
			/* ExtINT -> LINT0, NMI -> LINT1, every LAPIC */
			if (e[6] != 0xff || e[7] != r.lints || e[1] != (r.lints == 0 ? 3 : 1))
				r.lint_ok = false;
			r.lints++;
			e += 8;
			break;
		default:
			r.unknown++;
			e = end;
			break;
		}
	}
	*out = r;
	return e == end && seen == count && r.cpus == ncpus;
}

static void check_table(const struct vmm_memory *mem, uint64_t addr, unsigned int ncpus)
{
	struct lv_error *err = NULL;
	struct parsed p;
	uint64_t found;
	int r;

	r = vmm_mptable_write(mem, addr, ncpus, &err);
	ok(r == 0, "%u CPUs at 0x%llx: written (%s)", ncpus, (unsigned long long)addr, err ? err->msg : "ok");
	lv_error_free(&err);
	found = find_mpf(mem);
	ok(found == addr, "Linux's scan finds the floating pointer at 0x%llx", (unsigned long long)found);
	ok(found && parse(mem, found, ncpus, &p), "checksums, header and %u entries parse", ncpus + 19);
	if (!found)
		return;
	ok(p.cpus == ncpus && p.cpu_ids_in_order && p.all_enabled, "%u enabled CPUs, APIC ids 0..%u, version 0x14",
	   p.cpus, ncpus - 1);
	ok(p.bsp_count == 1 && p.bsp_is_0, "one BSP: APIC id 0");
	ok(p.buses == 1 && p.isa, "one bus: ISA, id 0");
	ok(p.ioapics == 1 && p.ioapic_ok && p.ioapic_id == ncpus, "IOAPIC id %u, version 0x11, at 0xfec00000",
	   p.ioapic_id);
	ok(p.ioints == 15 && p.irq_map_ok && p.irq_seen == 0xfffb,
	   "ISA IRQs 0..15 but 2 -> pins 0..15, edge, active high (0x%04x)", p.irq_seen);
	ok(p.lints == 2 && p.lint_ok, "ExtINT -> LINT0, NMI -> LINT1 on all LAPICs");
	ok(p.sorted && p.unknown == 0, "entries in type order, none unknown");
}

static void test_tables(void)
{
	static const unsigned int counts[] = { 1, 2, 40, 64, VMM_MPTABLE_MAX_CPUS };
	struct vmm_memory *mem = NULL;
	struct lv_error *err = NULL;
	size_t i;

	if (vmm_memory_create(64 * MiB, &mem, &err) < 0) {
		ok(0, "64 MiB of RAM: %s", err ? err->msg : "");
		lv_error_free(&err);
		return;
	}
	for (i = 0; i < LV_ARRAY_SIZE(counts); i++) {
		memset(mem->base, 0, VMM_MPTABLE_LIMIT);
		check_table(mem, VMM_MPTABLE_ADDR, counts[i]);
	}
	memset(mem->base, 0, VMM_MPTABLE_LIMIT);
	check_table(mem, 0xf0000, 8);
	memset(mem->base, 0, VMM_MPTABLE_LIMIT);
	check_table(mem, 0x9ff00, 4);

	ok(VMM_MPTABLE_ADDR + vmm_mptable_size(40) <= 0xa0000 &&
		   VMM_MPTABLE_ADDR + vmm_mptable_size(41) > 0xa0000,
	   "up to 40 CPUs the table stays below 0xa0000 (%zu bytes for 40)", vmm_mptable_size(40));
	ok(vmm_mptable_size(1) == 16 + 44 + 20 + 8 + 8 + 15 * 8 + 2 * 8, "size for 1 CPU: %zu bytes",
	   vmm_mptable_size(1));
	vmm_memory_destroy(&mem);
}

static bool untouched(const struct vmm_memory *mem)
{
	size_t i;

	for (i = 0; i < VMM_MPTABLE_LIMIT && i < mem->size; i++)
		if (mem->base[i])
			return false;
	return true;
}

static void refused(const struct vmm_memory *mem, uint64_t addr, unsigned int ncpus, int want, const char *what)
{
	struct lv_error *err = NULL;
	int r = vmm_mptable_write(mem, addr, ncpus, &err);

	ok(r == -want && err && err->msg && untouched(mem), "%s: %s, nothing written (%s)", what,
	   want == EINVAL ? "EINVAL" : want == ENOSPC ? "ENOSPC" : "EFAULT", err ? err->msg : "no message");
	lv_error_free(&err);
}

static void test_bounds(void)
{
	struct vmm_memory *mem = NULL, *small = NULL;
	struct lv_error *err = NULL;

	if (vmm_memory_create(64 * MiB, &mem, &err) < 0 || vmm_memory_create(512 * 1024, &small, &err) < 0) {
		ok(0, "RAM: %s", err ? err->msg : "");
		lv_error_free(&err);
		vmm_memory_destroy(&mem);
		return;
	}
	memset(mem->base, 0, VMM_MPTABLE_LIMIT);
	refused(mem, VMM_MPTABLE_ADDR, 0, EINVAL, "0 CPUs");
	refused(mem, VMM_MPTABLE_ADDR, VMM_MPTABLE_MAX_CPUS + 1, EINVAL, "255 CPUs (APIC id 0xff is broadcast)");
	refused(mem, VMM_MPTABLE_ADDR, UINT32_MAX, EINVAL, "UINT_MAX CPUs");
	refused(mem, VMM_MPTABLE_ADDR + 8, 1, EINVAL, "unaligned address");
	refused(mem, 0x80000, 1, EINVAL, "0x80000: RAM Linux does not scan");
	refused(mem, 0, 1, EINVAL, "0: scanned, but e820 RAM");
	refused(mem, 0xa0000, 1, EINVAL, "0xa0000: between the scan windows");
	refused(mem, 0x100000, 1, EINVAL, "1 MiB");
	refused(mem, UINT64_MAX - 15, 1, EINVAL, "near 2^64");
	refused(mem, 0xffff0, 1, ENOSPC, "0xffff0: the pointer fits, the table does not");
	refused(mem, 0xfff00, 64, ENOSPC, "64 CPUs at 0xfff00");
	refused(small, VMM_MPTABLE_ADDR, 1, EFAULT, "512 KiB of RAM: 0x9fc00 is not RAM");
	vmm_memory_destroy(&small);
	vmm_memory_destroy(&mem);
}

int main(void)
{
	test_tables();
	test_bounds();
	return tap_done();
}
