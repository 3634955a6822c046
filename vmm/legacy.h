/* The legacy PC ports a Linux guest touches that nothing emulates: a
 * fixed table of answers, so probing them is neither fatal nor a surprise
 * in the log.  The in-kernel irqchip and PIT already answer the PICs
 * (0x20, 0xa0), the ELCR (0x4d0), the PIT (0x40..0x43) and port 0x61
 * (KVM_PIT_SPEAKER_DUMMY); those never exit to user space.
 *
 * Writes are ignored; reads return a fixed byte per port (mostly 0xff,
 * an absent device on an ISA bus; see the table for the exceptions).
 * Stateless: no index latch, no reset requests.  A reset through the
 * keyboard controller (0x64 <- 0xfe), port 0x92 bit 0 or 0xcf9 is ignored:
 * guests are booted with `reboot=t` (triple fault, a SHUTDOWN exit).
 *
 * Dispatch order for the VMM: its own devices first (COM1 when the serial
 * port exists), then this table, then "unknown port" (-ENOENT): log it
 * once and answer like an absent device (reads all ones). */
#ifndef VMM_LEGACY_H
#define VMM_LEGACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmm_legacy_range {
	uint16_t first, last; /* inclusive */
	uint8_t read_value;   /* what every byte of the range reads as */
	const char *name;     /* for logs */
};

/* The entry covering port, or NULL. */
const struct vmm_legacy_range *vmm_legacy_lookup(uint16_t port);

/* The whole table, sorted by port, ranges disjoint (for tests and logs). */
const struct vmm_legacy_range *vmm_legacy_table(size_t *n);

/* A guest access of size 1, 2 or 4 at port.  Handled (0) when the table
 * knows port; a wider access covers port..port+size-1 byte by byte, bytes
 * outside the table reading 0xff.  Reads fill data[0..size); writes are
 * dropped.  -ENOENT for an unknown port (data untouched), -EINVAL for a bad
 * size or NULL data (a VMM bug). */
int vmm_legacy_pio(uint16_t port, bool is_write, uint8_t *data, uint8_t size);

#endif
