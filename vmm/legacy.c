/* Legacy PC port table (see legacy.h). */
#include "legacy.h"

#include <errno.h>

#include "../lib/cleanup.h"

/* Sorted by port, disjoint: vmm_legacy_table() promises it, the unit test
 * checks it. */
static const struct vmm_legacy_range legacy_ports[] = {
	/* 8237 DMA controller 1: no ISA DMA (no floppy, no sound). */
	{ 0x0000, 0x001f, 0xff, "DMA controller 1" },
	/* 8042 keyboard controller.  Status (0x64) reads 0: input and output
	 * buffers empty, so a `reboot=k` attempt (or Linux's default reboot
	 * order, which tries the keyboard controller before the triple fault)
	 * costs ten port writes instead of waiting ~0.1 s per try for a busy
	 * controller to drain; nothing ever answers a command. */
	{ 0x0060, 0x0060, 0xff, "PS/2 data (no keyboard)" },
	{ 0x0064, 0x0064, 0x00, "PS/2 status/command (idle, no devices)" },
	/* CMOS/RTC.  The index port is write-only on PCs.  Without an index
	 * latch every register reads 0: status A then has UIP clear, so
	 * Linux's mc146818 read (only used when kvmclock is off; kvmclock
	 * gives the wall clock) returns at once instead of timing out after
	 * one second as it would on an all-ones "absent" RTC. */
	{ 0x0070, 0x0070, 0xff, "CMOS/RTC index (NMI mask)" },
	{ 0x0071, 0x0071, 0x00, "CMOS/RTC data (reads 0)" },
	/* 0x80: POST codes, and the classic I/O delay port (Linux's io_delay
	 * before paravirt replaces it).  0x81..0x8f: DMA page registers. */
	{ 0x0080, 0x008f, 0xff, "POST/delay and DMA page registers" },
	/* System control port A: bit 1 = A20 enabled (it always is for a
	 * guest entered in long mode), bit 0 (fast reset) reads back 0. */
	{ 0x0092, 0x0092, 0x02, "system control port A (A20 on)" },
	/* 8237 DMA controller 2. */
	{ 0x00c0, 0x00df, 0xff, "DMA controller 2" },
	/* The alternative delay port (io_delay=0xed). */
	{ 0x00ed, 0x00ed, 0xff, "I/O delay (alternative)" },
	/* Math coprocessor error latch (IRQ 13 era). */
	{ 0x00f0, 0x00ff, 0xff, "FPU error latch" },
	/* COM4 and COM2: absent, as the 8250 driver sees an empty bus. */
	{ 0x02e8, 0x02ef, 0xff, "COM4 (absent)" },
	{ 0x02f8, 0x02ff, 0xff, "COM2 (absent)" },
	/* VGA and MDA/CGA registers: no display adapter. */
	{ 0x03b0, 0x03df, 0xff, "VGA (absent)" },
	{ 0x03e8, 0x03ef, 0xff, "COM3 (absent)" },
	/* Floppy controller. */
	{ 0x03f0, 0x03f7, 0xff, "floppy controller (absent)" },
	/* COM1 without --debug: the VMM routes it to serial.c first when the
	 * UART exists; otherwise the probe finds nothing (IER reads 0xff). */
	{ 0x03f8, 0x03ff, 0xff, "COM1 (absent)" },
	/* PCI configuration mechanism #1 (0xcf8 address, 0xcfc data) and the
	 * reset control register 0xcf9: no PCI, so all ones, which is also
	 * what tells Linux's type 1 probe there is no host bridge. */
	{ 0x0cf8, 0x0cff, 0xff, "PCI configuration (no PCI)" },
};

const struct vmm_legacy_range *vmm_legacy_table(size_t *n)
{
	*n = LV_ARRAY_SIZE(legacy_ports);
	return legacy_ports;
}

const struct vmm_legacy_range *vmm_legacy_lookup(uint16_t port)
{
	size_t lo = 0, hi = LV_ARRAY_SIZE(legacy_ports);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vmm_legacy_range *r = &legacy_ports[mid];

		if (port < r->first)
			hi = mid;
		else if (port > r->last)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

int vmm_legacy_pio(uint16_t port, bool is_write, uint8_t *data, uint8_t size)
{
	unsigned int i;

	if (!data || (size != 1 && size != 2 && size != 4))
		return -EINVAL;
	if (!vmm_legacy_lookup(port))
		return -ENOENT;
	if (is_write)
		return 0;
	for (i = 0; i < size; i++) {
		/* 0xffff + 1 wraps to 0, as the port address does on the bus. */
		const struct vmm_legacy_range *r = vmm_legacy_lookup((uint16_t)(port + i));

		data[i] = r ? r->read_value : 0xff;
	}
	return 0;
}
