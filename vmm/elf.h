/* The ELF64 vmlinux, parsed from an image we did not build: the header, the
 * PT_LOAD segments (where they go in guest-physical memory and what of them
 * comes from the file) and the Xen PVH entry note
 * (XEN_ELFNOTE_PHYS32_ENTRY, which a CONFIG_PVH kernel carries: the 32-bit
 * protected-mode entry point).  Every offset and size is bounded here, so
 * the loader can trust the result:
 *   - each segment's file bytes lie inside the image;
 *   - each segment's memory range [paddr, paddr + memsz) lies below 4 GiB
 *     (the PVH entry runs with paging off) and overlaps no other segment;
 *   - the PVH entry, when present, lies in a segment's file-backed bytes. */
#ifndef VMM_ELF_H
#define VMM_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

/* A vmlinux has 4 or 5 program headers and 4 PT_LOAD segments; anything
 * with many more is not a kernel we want to load. */
#define VMM_ELF_MAX_PHDRS    64
#define VMM_ELF_MAX_SEGMENTS 16
/* Everything loads and runs below 4 GiB (32-bit entry, paging off). */
#define VMM_ELF_LOAD_LIMIT   0x100000000ULL
/* The note's type in the "Xen" namespace (xen/include/public/elfnote.h). */
#define VMM_ELF_XEN_PHYS32_ENTRY 18

struct vmm_elf_segment {
	uint64_t offset; /* of the file bytes in the image */
	uint64_t paddr;  /* guest-physical load address */
	uint64_t filesz; /* bytes copied from the image */
	uint64_t memsz;  /* >= filesz; the rest is zeroed (bss) */
};

struct vmm_elf_kernel {
	uint64_t entry;          /* e_entry: virtual, for messages only */
	bool has_pvh;            /* the Xen PHYS32_ENTRY note was found */
	uint32_t pvh_entry;      /* its value: a guest-physical address */
	unsigned int nr_segments; /* PT_LOAD segments with memsz > 0, file order */
	struct vmm_elf_segment segments[VMM_ELF_MAX_SEGMENTS];
	uint64_t load_start;     /* lowest paddr */
	uint64_t load_end;       /* highest paddr + memsz, <= VMM_ELF_LOAD_LIMIT */
};

/* Whether the image starts with the ELF magic (the dispatcher's test; it
 * says nothing about validity). */
bool vmm_elf_is_elf(const void *image, size_t size);

/* Parses and validates an x86-64 ET_EXEC image; on error (-ENOEXEC with a
 * message) *out is untouched.  image is read only within
 * [image, image + size).  A missing PVH note is not an error here
 * (has_pvh = false): the PVH loader refuses such a kernel. */
int vmm_elf_parse(const void *image, size_t size, struct vmm_elf_kernel *out, struct lv_error **err);

#endif
