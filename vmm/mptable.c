/* MP 1.4 table writer (see mptable.h).  Layouts from the Intel MP
 * Specification 1.4, chapter 4; all fields little-endian, as on the host. */
#include "mptable.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"
#include "boot.h"

#define MP_SPEC_REV 4 /* 1.4 */

#define MP_ENTRY_PROCESSOR 0
#define MP_ENTRY_BUS       1
#define MP_ENTRY_IOAPIC    2
#define MP_ENTRY_IOINT     3
#define MP_ENTRY_LINT      4

#define MP_CPU_ENABLED 0x01
#define MP_CPU_BSP     0x02
#define MP_IOAPIC_ENABLED 0x01

#define MP_INT_INT    0 /* vectored, from the IOAPIC redirection entry */
#define MP_INT_NMI    1
#define MP_INT_EXTINT 3 /* vector from the 8259 */

/* Interrupt flags: polarity in bits 1:0, trigger mode in bits 3:2. */
#define MP_POL_CONFORM  0x0
#define MP_POL_HIGH     0x1
#define MP_TRIG_CONFORM 0x0
#define MP_TRIG_EDGE    0x4

#define MP_ISA_BUS_ID   0
#define MP_ALL_LAPICS   0xff
#define MP_ISA_IRQS     16
#define MP_ISA_CASCADE  2

/* CPUID leaf 1 as the spec wants it in processor entries.  Linux ignores
 * both fields; a plausible, fixed value keeps the table reproducible:
 * family 6, model 0, stepping 0, with FPU (bit 0) and an on-chip APIC
 * (bit 9), which is what the MP spec checks for. */
#define MP_CPU_SIGNATURE 0x00000600U
#define MP_CPU_FEATURES  ((1U << 0) | (1U << 9))

struct mp_floating {
	char signature[4]; /* "_MP_" */
	uint32_t config_addr;
	uint8_t length;    /* in 16-byte paragraphs: 1 */
	uint8_t spec_rev;
	uint8_t checksum;  /* the 16 bytes sum to 0 */
	/* feature1 0: a configuration table follows (no default config);
	 * feature2 bit 7 0: no IMCR, virtual wire mode (KVM's LINT0). */
	uint8_t feature[5];
} __attribute__((packed));

struct mp_config {
	char signature[4]; /* "PCMP" */
	uint16_t length;   /* header and base entries */
	uint8_t spec_rev;
	uint8_t checksum;  /* the base table sums to 0 */
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_processor {
	uint8_t type;
	uint8_t lapic_id;
	uint8_t lapic_version;
	uint8_t flags;
	uint32_t signature;
	uint32_t features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus {
	uint8_t type;
	uint8_t bus_id;
	char bus_type[6]; /* space padded */
} __attribute__((packed));

struct mp_ioapic {
	uint8_t type;
	uint8_t id;
	uint8_t version;
	uint8_t flags;
	uint32_t addr;
} __attribute__((packed));

/* I/O interrupt (type 3) and local interrupt (type 4) entries share one
 * layout; dst_pin is an IOAPIC INTIN# or a LAPIC LINTIN#. */
struct mp_intsrc {
	uint8_t type;
	uint8_t int_type;
	uint16_t flags;
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_id;
	uint8_t dst_pin;
} __attribute__((packed));

_Static_assert(sizeof(struct mp_floating) == 16, "MP floating pointer is 16 bytes");
_Static_assert(sizeof(struct mp_config) == 44, "MP configuration table header is 44 bytes");
_Static_assert(sizeof(struct mp_processor) == 20, "MP processor entry is 20 bytes");
_Static_assert(sizeof(struct mp_bus) == 8, "MP bus entry is 8 bytes");
_Static_assert(sizeof(struct mp_ioapic) == 8, "MP IOAPIC entry is 8 bytes");
_Static_assert(sizeof(struct mp_intsrc) == 8, "MP interrupt entry is 8 bytes");
_Static_assert(VMM_MPTABLE_ADDR == VMM_BOOT_EBDA_START, "the MP table opens boot.c's reserved range");
_Static_assert(VMM_MPTABLE_LIMIT == VMM_BOOT_HIMEM_START, "the MP table stays in boot.c's reserved range");

#define NR_IOINTS (MP_ISA_IRQS - 1) /* all ISA IRQs but the cascade */
#define NR_LINTS  2
#define FIXED_ENTRIES_SIZE \
	(sizeof(struct mp_bus) + sizeof(struct mp_ioapic) + \
	 (NR_IOINTS + NR_LINTS) * sizeof(struct mp_intsrc))

/* The windows Linux scans for the floating pointer that our e820 map also
 * reserves (mptable.h); [0, 1 KiB) is scanned too, but it is e820 RAM. */
static const struct {
	uint64_t start, end;
} scan_windows[] = {
	{ 0x9fc00, 0xa0000 },
	{ 0xf0000, 0x100000 },
};

size_t vmm_mptable_size(unsigned int ncpus)
{
	return sizeof(struct mp_floating) + sizeof(struct mp_config) +
	       (size_t)ncpus * sizeof(struct mp_processor) + FIXED_ENTRIES_SIZE;
}

static uint8_t checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *b++);
	return (uint8_t)(0x100 - sum);
}

static int check_placement(const struct vmm_memory *mem, uint64_t addr, unsigned int ncpus, size_t size,
			   struct lv_error **err)
{
	bool scanned = false;
	size_t i;

	if (ncpus < 1 || ncpus > VMM_MPTABLE_MAX_CPUS)
		return lv_err_msg(err, EINVAL, "MP table: %u CPUs, the table can describe 1..%u", ncpus,
				  VMM_MPTABLE_MAX_CPUS);
	for (i = 0; i < LV_ARRAY_SIZE(scan_windows); i++)
		if (addr >= scan_windows[i].start && addr <= scan_windows[i].end - sizeof(struct mp_floating))
			scanned = true;
	if (!scanned || addr % 16)
		return lv_err_msg(err, EINVAL,
				  "MP table at 0x%llx: Linux only finds a 16-byte aligned floating pointer in "
				  "[0x9fc00, 0xa0000) or [0xf0000, 0x100000)",
				  (unsigned long long)addr);
	if (size > VMM_MPTABLE_LIMIT - addr) /* addr < LIMIT: no wrap */
		return lv_err_msg(err, ENOSPC,
				  "MP table for %u CPUs (%zu bytes) at 0x%llx runs past 0x%llx, the end of the "
				  "reserved legacy area",
				  ncpus, size, (unsigned long long)addr, VMM_MPTABLE_LIMIT);
	if (!vmm_gpa_to_hva(mem, addr, size))
		return lv_err_msg(err, EFAULT, "MP table at [0x%llx, 0x%llx): not guest RAM",
				  (unsigned long long)addr, (unsigned long long)(addr + size));
	return 0;
}

static uint8_t *put(uint8_t *p, const void *entry, size_t len)
{
	memcpy(p, entry, len);
	return p + len;
}

/* Fills buf (vmm_mptable_size(ncpus) bytes, zeroed) with the table as it
 * will sit at addr. */
static void build(uint8_t *buf, uint64_t addr, unsigned int ncpus)
{
	struct mp_floating *mpf = (struct mp_floating *)buf;
	struct mp_config *mpc = (struct mp_config *)(buf + sizeof(*mpf));
	uint8_t *p = (uint8_t *)(mpc + 1);
	uint8_t ioapic_id = (uint8_t)ncpus; /* unique: after the LAPIC ids */
	unsigned int i, entries = 0;

	for (i = 0; i < ncpus; i++) {
		struct mp_processor cpu = {
			.type = MP_ENTRY_PROCESSOR,
			.lapic_id = (uint8_t)i, /* KVM vCPU id == APIC id */
			.lapic_version = VMM_MPTABLE_LAPIC_VERSION,
			.flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
			.signature = MP_CPU_SIGNATURE,
			.features = MP_CPU_FEATURES,
		};

		p = put(p, &cpu, sizeof(cpu));
		entries++;
	}

	struct mp_bus bus = { .type = MP_ENTRY_BUS, .bus_id = MP_ISA_BUS_ID };
	memcpy(bus.bus_type, "ISA   ", sizeof(bus.bus_type));
	p = put(p, &bus, sizeof(bus));
	entries++;

	struct mp_ioapic ioapic = {
		.type = MP_ENTRY_IOAPIC,
		.id = ioapic_id,
		.version = VMM_MPTABLE_IOAPIC_VERSION,
		.flags = MP_IOAPIC_ENABLED,
		.addr = VMM_MPTABLE_IOAPIC_ADDR,
	};
	p = put(p, &ioapic, sizeof(ioapic));
	entries++;

	/* Explicit edge/active high rather than "conforms to bus": the same
	 * for ISA, but states what KVM's irqfd edges and the PIT need without
	 * depending on how the guest interprets the bus type. */
	for (i = 0; i < MP_ISA_IRQS; i++) {
		struct mp_intsrc irq = {
			.type = MP_ENTRY_IOINT,
			.int_type = MP_INT_INT,
			.flags = MP_POL_HIGH | MP_TRIG_EDGE,
			.src_bus = MP_ISA_BUS_ID,
			.src_irq = (uint8_t)i,
			.dst_id = ioapic_id,
			.dst_pin = (uint8_t)i, /* KVM's default routing: GSI n = pin n */
		};

		if (i == MP_ISA_CASCADE)
			continue;
		p = put(p, &irq, sizeof(irq));
		entries++;
	}

	/* Virtual wire through the LAPICs: PIC -> LINT0, NMI -> LINT1. */
	for (i = 0; i < NR_LINTS; i++) {
		struct mp_intsrc lint = {
			.type = MP_ENTRY_LINT,
			.int_type = i == 0 ? MP_INT_EXTINT : MP_INT_NMI,
			.flags = MP_POL_CONFORM | MP_TRIG_CONFORM,
			.src_bus = MP_ISA_BUS_ID,
			.src_irq = 0,
			.dst_id = MP_ALL_LAPICS,
			.dst_pin = (uint8_t)i,
		};

		p = put(p, &lint, sizeof(lint));
		entries++;
	}

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)(p - (uint8_t *)mpc); /* <= 5.3 KB */
	mpc->spec_rev = MP_SPEC_REV;
	memcpy(mpc->oem_id, "LIGHTVM ", sizeof(mpc->oem_id));
	memcpy(mpc->product_id, "LIGHTVM KVM ", sizeof(mpc->product_id));
	mpc->entry_count = (uint16_t)entries;
	mpc->lapic_addr = VMM_MPTABLE_LAPIC_ADDR;
	mpc->checksum = checksum(mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->config_addr = (uint32_t)(addr + sizeof(*mpf)); /* < 1 MiB */
	mpf->length = 1;
	mpf->spec_rev = MP_SPEC_REV;
	mpf->checksum = checksum(mpf, sizeof(*mpf));
}

int vmm_mptable_write(const struct vmm_memory *mem, uint64_t addr, unsigned int ncpus, struct lv_error **err)
{
	size_t size = vmm_mptable_size(ncpus);
	cleanup_free uint8_t *buf = NULL;
	int r;

	r = check_placement(mem, addr, ncpus, size, err);
	if (r < 0)
		return r;
	buf = calloc(1, size);
	if (!buf)
		return lv_err(err, ENOMEM, "MP table: allocating %zu bytes", size);
	build(buf, addr, ncpus);
	r = vmm_memory_write(mem, addr, buf, size, err);
	if (r < 0)
		return lv_err_wrap(err, "MP table");
	return 0;
}
