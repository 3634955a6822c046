/* Guest RAM: one memfd, mapped once, registered with KVM as one or two
 * memory slots around the 32-bit MMIO hole.
 *
 * Guest-physical layout:
 *   [0, min(size, HOLE_START))            RAM, slot 0
 *   [HOLE_START, 4 GiB)                   MMIO hole: LAPIC, IOAPIC, virtio-mmio
 *                                         windows, KVM's TSS/identity-map pages
 *   [4 GiB, 4 GiB + size - HOLE_START)    RAM, slot 1 (only when size > HOLE_START)
 * The host mapping is contiguous: slot 1 starts at base + HOLE_START.
 *
 * Every guest-controlled address goes through vmm_gpa_to_hva(), which is the
 * only sanctioned way from a guest-physical range to a host pointer. */
#ifndef VMM_MEMORY_H
#define VMM_MEMORY_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

/* 3 GiB: 1 GiB-aligned, so the low RAM ends on a gigabyte page boundary, and
 * a 1 GiB hole leaves ample 32-bit space for MMIO devices. */
#define VMM_MMIO_HOLE_START 0xc0000000ULL
#define VMM_MMIO_HOLE_END   0x100000000ULL
#define VMM_MEM_MAX_REGIONS 2
/* A sanity ceiling on the RAM size a caller may ask for (1 TiB). */
#define VMM_MEM_MAX_SIZE    (1ULL << 40)
#define VMM_PAGE_SIZE       4096ULL

struct vmm_mem_region {
	uint64_t gpa;  /* guest-physical start */
	uint64_t size; /* bytes, page multiple, never 0 */
	uint8_t *hva;  /* host address of gpa */
};

struct vmm_memory {
	int memfd;
	uint8_t *base; /* host mapping of the whole memfd */
	uint64_t size; /* total RAM bytes */
	unsigned int nr_regions;
	struct vmm_mem_region regions[VMM_MEM_MAX_REGIONS];
};

/* Creates size bytes of guest RAM (a page multiple, 0 < size <= MAX_SIZE),
 * sealed against resizing, and lays it out around the MMIO hole.  Needs no
 * /dev/kvm. */
int vmm_memory_create(uint64_t size, struct vmm_memory **out, struct lv_error **err);

/* What a snapshot's RAM carries: nothing can change it any more. */
#define VMM_SNAPSHOT_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

/* Guest RAM restored from a snapshot (a memfd of exactly size bytes with
 * VMM_SNAPSHOT_SEALS): mapped privately, so every VM restored from it
 * shares the pages it only reads and copies those it writes.  fd stays the
 * caller's (it may be closed at once). */
int vmm_memory_from_snapshot(int fd, uint64_t size, struct vmm_memory **out, struct lv_error **err);
/* Seals a template's RAM memfd for good; no writable mapping may be left
 * (destroy the VM first). */
int vmm_memory_seal(int fd, struct lv_error **err);

/* Registers the regions with a VM as slots 0.. (KVM_SET_USER_MEMORY_REGION). */
int vmm_memory_register(const struct vmm_memory *mem, int vm_fd, struct lv_error **err);

/* Unmaps and closes.  Destroy the VM first: KVM keeps using the slots until
 * its fd is closed.  NULL-safe, sets *mem to NULL. */
void vmm_memory_destroy(struct vmm_memory **mem);

/* Host pointer for the guest-physical range [gpa, gpa + len), or NULL unless
 * the whole range lies inside one RAM region.  Never computes gpa + len, so
 * no wrap-around can sneak a range past the check.  len 0 asks whether gpa
 * itself is RAM. */
void *vmm_gpa_to_hva(const struct vmm_memory *mem, uint64_t gpa, uint64_t len);

/* Copies into / out of guest RAM; -EFAULT unless the range is wholly RAM. */
int vmm_memory_write(const struct vmm_memory *mem, uint64_t gpa, const void *src, uint64_t len,
		     struct lv_error **err);
int vmm_memory_read(const struct vmm_memory *mem, uint64_t gpa, void *dst, uint64_t len,
		    struct lv_error **err);

/* The RAM region that holds gpa, or NULL. */
const struct vmm_mem_region *vmm_memory_region_of(const struct vmm_memory *mem, uint64_t gpa);

#endif
