/* vmm/legacy: the table of legacy PC ports answered with fixed values:
 * its shape (sorted, disjoint, named), lookups at and around every range,
 * the documented values, wide accesses, and what stays unknown (the ports
 * the in-kernel irqchip and PIT own, and anything else). */
#include "../../vmm/legacy.h"
#include "tap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static uint32_t rd(uint16_t port, uint8_t size, int *r)
{
	uint8_t b[4] = { 0x5a, 0x5a, 0x5a, 0x5a };

	*r = vmm_legacy_pio(port, false, b, size);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void test_table_shape(void)
{
	size_t n, i;
	const struct vmm_legacy_range *t = vmm_legacy_table(&n);
	bool sorted = true, named = true, found = true;

	for (i = 0; i < n; i++) {
		if (t[i].first > t[i].last || (i > 0 && t[i].first <= t[i - 1].last))
			sorted = false;
		if (!t[i].name || !t[i].name[0])
			named = false;
		/* Both ends and the middle of each range find that range. */
		if (vmm_legacy_lookup(t[i].first) != &t[i] || vmm_legacy_lookup(t[i].last) != &t[i] ||
		    vmm_legacy_lookup((uint16_t)(t[i].first + (t[i].last - t[i].first) / 2)) != &t[i])
			found = false;
		/* The ports just outside belong to a neighbour or to nobody. */
		if (t[i].first > 0 && vmm_legacy_lookup((uint16_t)(t[i].first - 1)) == &t[i])
			found = false;
		if (t[i].last < 0xffff && vmm_legacy_lookup((uint16_t)(t[i].last + 1)) == &t[i])
			found = false;
	}
	ok(n > 10, "%zu ranges", n);
	ok(sorted, "ranges sorted by port and disjoint");
	ok(named, "every range has a name for the log");
	ok(found, "every range found at its first, middle and last port, and not beyond");
}

static void test_values(void)
{
	static const struct {
		uint16_t port;
		uint8_t value;
		const char *why;
	} known[] = {
		{ 0x80, 0xff, "POST/delay port" },
		{ 0x87, 0xff, "DMA page register (channel 0)" },
		{ 0xed, 0xff, "alternative delay port" },
		{ 0x70, 0xff, "CMOS index" },
		{ 0x71, 0x00, "CMOS data: UIP clear" },
		{ 0x60, 0xff, "PS/2 data" },
		{ 0x64, 0x00, "PS/2 status: buffers empty (kb_wait returns at once)" },
		{ 0x92, 0x02, "port A: A20 on, no reset" },
		{ 0x2f8, 0xff, "COM2" },
		{ 0x2f9, 0xff, "COM2 IER (8250 probe fails)" },
		{ 0x3e8, 0xff, "COM3" },
		{ 0x2e8, 0xff, "COM4" },
		{ 0x3f9, 0xff, "COM1 IER when there is no UART" },
		{ 0x00, 0xff, "DMA 1" },
		{ 0xc0, 0xff, "DMA 2" },
		{ 0x3d4, 0xff, "VGA CRTC index" },
		{ 0xcf9, 0xff, "reset control (no PCI)" },
	};
	size_t i;
	int r;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		uint32_t v = rd(known[i].port, 1, &r);

		ok(r == 0 && v == (0x5a5a5a00U | known[i].value), "0x%x reads 0x%02x: %s", known[i].port,
		   known[i].value, known[i].why);
	}
	ok(rd(0xcfc, 4, &r) == 0xffffffffU && r == 0, "PCI data, 32-bit: all ones");
	ok(rd(0xcf8, 4, &r) == 0xffffffffU && r == 0, "PCI address, 32-bit: all ones (type 1 probe fails)");
	ok(rd(0xcfe, 2, &r) == 0x5a5affffU && r == 0, "PCI data, 16-bit at 0xcfe");
	ok(rd(0x70, 2, &r) == 0x5a5a00ffU && r == 0, "16-bit read at 0x70: index 0xff, data 0x00, byte by byte");
	ok(rd(0x3fe, 4, &r) == 0xffffffffU && r == 0, "32-bit read at 0x3fe runs past COM1 into open bus");
}

static void test_writes(void)
{
	uint8_t b[4] = { 0xfe, 0, 0, 0 };

	ok(vmm_legacy_pio(0x64, true, b, 1) == 0 && b[0] == 0xfe, "0x64 <- 0xfe (keyboard reset): ignored");
	b[0] = 0x8f;
	ok(vmm_legacy_pio(0x70, true, b, 1) == 0, "CMOS index with NMI mask: accepted");
	ok(vmm_legacy_pio(0x80, true, b, 1) == 0, "POST code: accepted");
	ok(vmm_legacy_pio(0xcf8, true, b, 4) == 0, "PCI address, 32-bit write: accepted");
	ok(vmm_legacy_pio(0x92, true, b, 1) == 0, "port A write: accepted");
}

static void test_unknown(void)
{
	/* The in-kernel irqchip and PIT: they never reach us, and if they did
	 * (no irqchip) that is a bug for the VMM to report, not to hide. */
	static const uint16_t kvm_owned[] = { 0x20, 0x21, 0x40, 0x43, 0x61, 0xa0, 0xa1, 0x4d0, 0x4d1 };
	static const uint16_t others[] = { 0x4f7, 0x510, 0xb000, 0xffff, 0x1f0, 0x13f6 };
	uint8_t b[4] = { 0x11, 0x22, 0x33, 0x44 };
	size_t i;
	bool all = true;

	for (i = 0; i < sizeof(kvm_owned) / sizeof(kvm_owned[0]); i++)
		if (vmm_legacy_lookup(kvm_owned[i]) || vmm_legacy_pio(kvm_owned[i], false, b, 1) != -ENOENT)
			all = false;
	ok(all, "PIC, PIT, port 0x61 and ELCR are not in the table (KVM owns them)");
	all = true;
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (vmm_legacy_pio(others[i], false, b, 4) != -ENOENT || vmm_legacy_pio(others[i], true, b, 1) != -ENOENT)
			all = false;
	ok(all, "other ports: ENOENT for reads and writes");
	ok(b[0] == 0x11 && b[3] == 0x44, "an unknown port leaves the data alone");
	ok(vmm_legacy_pio(0x80, false, b, 3) == -EINVAL, "size 3: EINVAL");
	ok(vmm_legacy_pio(0x80, false, b, 0) == -EINVAL, "size 0: EINVAL");
	ok(vmm_legacy_pio(0x80, false, NULL, 1) == -EINVAL, "NULL data: EINVAL");
}

int main(void)
{
	test_table_shape();
	test_values();
	test_writes();
	test_unknown();
	return tap_done();
}
