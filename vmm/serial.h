/* COM1: an 8250/16550A UART at port 0x3f8, IRQ 4, for `--debug` only, so
 * that the guest kernel's `console=ttyS0` output reaches a host fd.
 *
 * Transmit only.  Bytes go out at once (LSR always shows THRE|TEMT), which
 * is what makes the polled printk console work; a tty writer in the guest
 * additionally needs the THRE interrupt, which is raised through irq_fd.
 * There is no input: LSR.DR is never set and RBR reads 0.
 *
 * Linux's 8250 driver detects this as a 16550A (IER probe, MCR loopback
 * test, FIFO bits in IIR after FCR=1; and with the 16550A variant probing
 * compiled in, none of the EFR/NatSemi/16750/XScale/U6 tests match).
 *
 * The guest must never stall on the host's log: transmitted bytes are
 * gathered into lines and written to out_fd without waiting.  A socket is
 * written with MSG_DONTWAIT|MSG_NOSIGNAL; anything else with write(), so a
 * pipe should be non-blocking and SIGPIPE ignored by the process.  Bytes
 * that cannot be written at once are dropped and counted.
 *
 * Calls come from any vCPU thread; every entry point takes the UART's
 * mutex. */
#ifndef VMM_SERIAL_H
#define VMM_SERIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "../lib/error.h"

#define VMM_SERIAL_COM1_BASE 0x3f8
#define VMM_SERIAL_COM1_GSI  4
#define VMM_SERIAL_NR_PORTS  8 /* registers at base + 0..7 */
/* Longest run of bytes held back waiting for a newline. */
#define VMM_SERIAL_LINE_MAX  512

struct vmm_serial;

struct vmm_serial_stats {
	uint64_t tx_bytes;      /* bytes the guest transmitted (loopback excluded) */
	uint64_t out_bytes;     /* bytes that reached out_fd */
	uint64_t dropped_bytes; /* bytes lost: out_fd full, closed or failing */
	uint64_t irqs;          /* interrupt edges signalled on irq_fd */
	int out_errno;          /* the last write error on out_fd, 0 if none */
};

/* out_fd: where transmitted bytes go, -1 discards them.  irq_fd: an eventfd
 * that the VMM registers as a KVM irqfd on GSI 4, or -1 for no interrupt.
 * Neither fd is owned: the caller closes them after vmm_serial_destroy(). */
int vmm_serial_create(int out_fd, int irq_fd, struct vmm_serial **out, struct lv_error **err);

/* Flushes what is buffered, frees.  NULL-safe, sets *s to NULL. */
void vmm_serial_destroy(struct vmm_serial **s);

/* A guest access to base + offset (0..7), size 1, 2 or 4 bytes.  A wider
 * access is taken as consecutive byte accesses, the way an ISA bus splits
 * it; bytes past offset 7 are open bus (read 0xff, writes dropped).  Reads
 * fill data[0..size).  Never fails on guest behaviour: -EINVAL only for a
 * VMM bug (offset > 7, bad size, NULL pointers). */
int vmm_serial_pio(struct vmm_serial *s, uint16_t offset, bool is_write, uint8_t *data, uint8_t size);

/* Writes out a partial line now (a shell prompt has no newline).  The VMM
 * may call this from its device thread when the guest has gone quiet. */
void vmm_serial_flush(struct vmm_serial *s);

void vmm_serial_get_stats(struct vmm_serial *s, struct vmm_serial_stats *out);

#endif
