/* The Intel MultiProcessor Specification 1.4 table: how a Linux guest
 * without ACPI (Tinyx has none) finds its CPUs, the IOAPIC and the ISA
 * interrupt wiring.  CONFIG_X86_MPPARSE is on (it defaults to y without
 * ACPI on x86-64).
 *
 * Where Linux looks (arch/x86/kernel/mpparse.c) for the 16-byte floating
 * pointer: [0, 1 KiB), the last KiB of base memory at the fixed address
 * 639 KiB = 0x9fc00 whatever the BIOS data area says, [0xf0000, 1 MiB),
 * and the first KiB of the EBDA named by the BDA word at 0x40e (which we
 * leave 0: no EBDA scan).  Our e820 map (boot.c) ends RAM at 0x9fc00 and
 * reserves [0x9fc00, 1 MiB), so VMM_MPTABLE_ADDR is the start of that
 * reserved range: the pointer there, the configuration table right after.
 *
 * Size: 16 + 44 + 20 per CPU + 160 bytes.  Up to 40 CPUs it stays inside
 * [0x9fc00, 0xa0000); beyond, it runs on into [0xa0000, 1 MiB), which on a
 * PC is VGA and ROM space but in our guest is plain RAM, reserved in e820
 * (and by Linux in memblock), so nothing else lives or writes there.
 *
 * Interrupt wiring, chosen to match KVM's default GSI routing (which vm.c
 * keeps: GSI n -> IOAPIC pin n and, below 16, PIC pin n):
 *   ISA IRQ n -> IOAPIC pin n for n = 0..15 except 2, edge, active high.
 *   IRQ 0 is the PIT: KVM's in-kernel PIT raises GSI 0, i.e. pin 0, not the
 *   pin 2 that PC chipsets (and QEMU's own routing) use.  IRQ 2 is the PIC
 *   cascade, never a device interrupt; nothing is declared on pin 2.
 *   virtio-mmio devices on GSIs 5..15 are ISA IRQs 5..15, edge: a KVM irqfd
 *   injects an edge.
 *   The PIC (ExtINT) reaches the CPUs through LINT0, NMI through LINT1, on
 *   all LAPICs (vcpu.c programs the LVTs to match); no ExtINT IOAPIC pin. */
#ifndef VMM_MPTABLE_H
#define VMM_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"
#include "memory.h"

#define VMM_MPTABLE_ADDR     0x9fc00ULL
/* The table must end by here: the end of the e820-reserved legacy area. */
#define VMM_MPTABLE_LIMIT    0x100000ULL
/* xAPIC ids are 8 bits and 0xff means "all": CPUs 0..253, the IOAPIC 254. */
#define VMM_MPTABLE_MAX_CPUS 254U

#define VMM_MPTABLE_LAPIC_ADDR  0xfee00000U
#define VMM_MPTABLE_IOAPIC_ADDR 0xfec00000U
/* What KVM's in-kernel LAPIC and IOAPIC report in their version registers;
 * Linux warns when the table disagrees with the hardware. */
#define VMM_MPTABLE_LAPIC_VERSION  0x14
#define VMM_MPTABLE_IOAPIC_VERSION 0x11

/* Bytes the whole table (floating pointer + configuration table) takes for
 * ncpus processors. */
size_t vmm_mptable_size(unsigned int ncpus);

/* Writes the table for CPUs with APIC ids 0..ncpus-1 (0 the bootstrap
 * processor) at addr: 16-byte aligned inside one of the windows Linux scans
 * that our e820 reserves ([0x9fc00, 0xa0000) or [0xf0000, 1 MiB)), the whole
 * table below VMM_MPTABLE_LIMIT and in guest RAM.  EINVAL for a bad ncpus
 * or addr, ENOSPC when it does not fit, EFAULT when that is not RAM;
 * nothing is written then. */
int vmm_mptable_write(const struct vmm_memory *mem, uint64_t addr, unsigned int ncpus,
		      struct lv_error **err);

#endif
