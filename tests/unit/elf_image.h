/* A synthetic vmlinux-like ELF64 image for the ELF parser and PVH loader
 * tests: what a CONFIG_PVH kernel looks like to a loader, in 16 KiB.
 *
 *   0x0000  ELF header; program headers from 0x40:
 *           [0] PT_LOAD text  file 0x1000 +0x1000 -> paddr P          (memsz 0x1000)
 *           [1] PT_LOAD data  file 0x2000 +0x0800 -> paddr P + 0x2000 (memsz 0x800 + bss)
 *           [2] PT_NOTE       file 0x3000 (GNU build id, Linux, Xen PHYS32_ENTRY = P + entry_off)
 *           [3] PT_GNU_STACK  (ignored)
 *   0x1000  text: the caller's code, or a byte pattern
 *   0x2000  data: a byte pattern
 *   0x3000  notes */
#ifndef TESTS_UNIT_ELF_IMAGE_H
#define TESTS_UNIT_ELF_IMAGE_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FE_PHNUM       4
#define FE_TEXT_OFF    0x1000
#define FE_TEXT_SIZE   0x1000
#define FE_DATA_OFF    0x2000
#define FE_DATA_SIZE   0x800
#define FE_DATA_DELTA  0x2000 /* data paddr - text paddr: a one-page gap between them */
#define FE_NOTE_OFF    0x3000
#define FE_SIZE_MAX    0x4000
/* Offsets of fields, for tests that corrupt them. */
#define FE_PHDR(i)     (sizeof(Elf64_Ehdr) + (size_t)(i) * sizeof(Elf64_Phdr))
#define FE_PH_OFFSET   offsetof(Elf64_Phdr, p_offset)
#define FE_PH_PADDR    offsetof(Elf64_Phdr, p_paddr)
#define FE_PH_FILESZ   offsetof(Elf64_Phdr, p_filesz)
#define FE_PH_MEMSZ    offsetof(Elf64_Phdr, p_memsz)
#define FE_PH_ALIGN    offsetof(Elf64_Phdr, p_align)

struct fe_params {
	uint64_t paddr;       /* of the text segment */
	uint64_t bss;         /* bytes of bss after the data */
	uint32_t entry_off;   /* PVH entry = paddr + entry_off */
	unsigned int desc_size; /* of the Xen note: 8 (Linux), 4, or 0 for no Xen note */
	const uint8_t *code;  /* copied to the start of text, or NULL */
	size_t code_len;
};

struct fe_image {
	uint8_t *buf;
	size_t size;
	size_t xen_note;      /* offset of the Xen note's header (when there is one) */
};

static inline void fe_put_note(uint8_t *b, size_t *pos, const char *name, uint32_t type, const void *desc,
			uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	uint32_t hdr[3] = { namesz, descsz, type };

	memcpy(b + *pos, hdr, sizeof(hdr));
	*pos += sizeof(hdr);
	memcpy(b + *pos, name, namesz);
	*pos += (namesz + 3) & ~3u;
	memcpy(b + *pos, desc, descsz);
	*pos += (descsz + 3) & ~3u;
}

static inline void fe_phdr(uint8_t *b, unsigned int i, uint32_t type, uint32_t flags, uint64_t off, uint64_t paddr,
		    uint64_t filesz, uint64_t memsz, uint64_t align)
{
	Elf64_Phdr ph = {
		.p_type = type, .p_flags = flags, .p_offset = off,
		.p_vaddr = paddr ? 0xffffffff80000000ULL + paddr : 0, .p_paddr = paddr,
		.p_filesz = filesz, .p_memsz = memsz, .p_align = align,
	};

	memcpy(b + FE_PHDR(i), &ph, sizeof(ph));
}

static inline struct fe_image fe_build(const struct fe_params *p)
{
	static const uint8_t build_id[20] = { 0x69, 0xd5, 0xd4, 0x3a };
	static const uint32_t zero = 0;
	uint8_t *b = calloc(1, FE_SIZE_MAX);
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
		.e_entry = 0xffffffff80000000ULL + p->paddr, .e_phoff = sizeof(Elf64_Ehdr),
		.e_ehsize = sizeof(Elf64_Ehdr), .e_phentsize = sizeof(Elf64_Phdr), .e_phnum = FE_PHNUM,
	};
	struct fe_image img = { .buf = b };
	uint64_t entry = p->paddr + p->entry_off;
	size_t pos = FE_NOTE_OFF, i;

	if (!b)
		abort();
	memcpy(b, &eh, sizeof(eh));
	for (i = 0; i < FE_TEXT_SIZE; i++)
		b[FE_TEXT_OFF + i] = (uint8_t)(i * 13 + 1);
	for (i = 0; i < FE_DATA_SIZE; i++)
		b[FE_DATA_OFF + i] = (uint8_t)(i * 7 + 3);
	if (p->code)
		memcpy(b + FE_TEXT_OFF, p->code, p->code_len);
	fe_put_note(b, &pos, "GNU", NT_GNU_BUILD_ID, build_id, sizeof(build_id));
	fe_put_note(b, &pos, "Linux", 1, &zero, 4);
	img.xen_note = pos;
	if (p->desc_size)
		fe_put_note(b, &pos, "Xen", 18, &entry, p->desc_size);
	fe_phdr(b, 0, PT_LOAD, PF_R | PF_X, FE_TEXT_OFF, p->paddr, FE_TEXT_SIZE, FE_TEXT_SIZE, 0x200000);
	fe_phdr(b, 1, PT_LOAD, PF_R | PF_W, FE_DATA_OFF, p->paddr + FE_DATA_DELTA, FE_DATA_SIZE,
		FE_DATA_SIZE + p->bss, 0x200000);
	fe_phdr(b, 2, PT_NOTE, 0, FE_NOTE_OFF, p->paddr + 0x800, pos - FE_NOTE_OFF, pos - FE_NOTE_OFF, 4);
	fe_phdr(b, 3, PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16);
	img.size = pos;
	return img;
}

static inline void fe_put64(uint8_t *b, size_t off, uint64_t v)
{
	memcpy(b + off, &v, sizeof(v));
}

static inline void fe_put32(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, sizeof(v));
}

static inline void fe_put16(uint8_t *b, size_t off, uint16_t v)
{
	memcpy(b + off, &v, sizeof(v));
}

#endif
