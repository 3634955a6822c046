/* ELF64 vmlinux parser (see elf.h).  Headers are copied out of the image
 * with memcpy (no alignment assumed) and read in host order: the VMM is
 * x86-64 only, so host order is the image's little-endian. */
#include "elf.h"

#include <elf.h>
#include <string.h>

#define NOTE_HEADER_SIZE 12 /* namesz, descsz, type */

static bool range_in_image(uint64_t offset, uint64_t len, size_t size)
{
	return offset <= size && len <= size - offset;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1); /* x <= an image's size here: no overflow */
}

static uint32_t read32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

bool vmm_elf_is_elf(const void *image, size_t size)
{
	return image && size >= SELFMAG && memcmp(image, ELFMAG, SELFMAG) == 0;
}

static int check_header(const Elf64_Ehdr *eh, size_t size, struct lv_error **err)
{
	const unsigned char *id = eh->e_ident;

	if (id[EI_CLASS] != ELFCLASS64 || id[EI_DATA] != ELFDATA2LSB || id[EI_VERSION] != EV_CURRENT ||
	    eh->e_version != EV_CURRENT)
		return lv_err_msg(err, ENOEXEC, "ELF kernel: not a little-endian ELF64 version 1 file");
	if (eh->e_machine != EM_X86_64)
		return lv_err_msg(err, ENOEXEC, "ELF kernel: machine %u is not x86-64", eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return lv_err_msg(err, ENOEXEC, "ELF kernel: type %u is not an executable (ET_EXEC)", eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return lv_err_msg(err, ENOEXEC, "ELF kernel: program header size %u, expected %zu", eh->e_phentsize,
				  sizeof(Elf64_Phdr));
	if (eh->e_phnum == 0 || eh->e_phnum > VMM_ELF_MAX_PHDRS)
		return lv_err_msg(err, ENOEXEC, "ELF kernel: %u program headers, expected 1..%d", eh->e_phnum,
				  VMM_ELF_MAX_PHDRS);
	if (!range_in_image(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), size))
		return lv_err_msg(err, ENOEXEC, "ELF kernel: program headers at 0x%llx (%u of them) lie past the image "
				  "(%zu bytes)", (unsigned long long)eh->e_phoff, eh->e_phnum, size);
	return 0;
}

static int add_segment(const Elf64_Phdr *ph, unsigned int index, size_t size, struct vmm_elf_kernel *k,
		       struct lv_error **err)
{
	struct vmm_elf_segment s = {
		.offset = ph->p_offset, .paddr = ph->p_paddr, .filesz = ph->p_filesz, .memsz = ph->p_memsz,
	};
	unsigned int i;

	if (s.filesz > s.memsz)
		return lv_err_msg(err, ENOEXEC, "ELF kernel: segment %u has more file bytes (0x%llx) than memory "
				  "(0x%llx)", index, (unsigned long long)s.filesz, (unsigned long long)s.memsz);
	if (!range_in_image(s.offset, s.filesz, size))
		return lv_err_msg(err, ENOEXEC, "ELF kernel: segment %u's bytes [0x%llx, +0x%llx) lie past the image "
				  "(%zu bytes)", index, (unsigned long long)s.offset, (unsigned long long)s.filesz, size);
	if (s.memsz == 0)
		return 0;
	if (s.paddr >= VMM_ELF_LOAD_LIMIT || s.memsz > VMM_ELF_LOAD_LIMIT - s.paddr)
		return lv_err_msg(err, ENOEXEC, "ELF kernel: segment %u at physical 0x%llx (+0x%llx) does not lie "
				  "below 4 GiB", index, (unsigned long long)s.paddr, (unsigned long long)s.memsz);
	if (k->nr_segments == VMM_ELF_MAX_SEGMENTS)
		return lv_err_msg(err, ENOEXEC, "ELF kernel: more than %d loadable segments", VMM_ELF_MAX_SEGMENTS);
	/* Both ends are below 4 GiB now: the sums cannot overflow. */
	for (i = 0; i < k->nr_segments; i++) {
		const struct vmm_elf_segment *o = &k->segments[i];

		if (s.paddr < o->paddr + o->memsz && o->paddr < s.paddr + s.memsz)
			return lv_err_msg(err, ENOEXEC, "ELF kernel: segment %u [0x%llx, 0x%llx) overlaps [0x%llx, "
					  "0x%llx)", index, (unsigned long long)s.paddr,
					  (unsigned long long)(s.paddr + s.memsz), (unsigned long long)o->paddr,
					  (unsigned long long)(o->paddr + o->memsz));
	}
	if (k->nr_segments == 0 || s.paddr < k->load_start)
		k->load_start = s.paddr;
	if (s.paddr + s.memsz > k->load_end)
		k->load_end = s.paddr + s.memsz;
	k->segments[k->nr_segments++] = s;
	return 0;
}

/* The Xen PHYS32_ENTRY note: Linux emits its value as a quad, other
 * kernels as a long.  Either way it is a 32-bit physical address. */
static int take_pvh_note(const uint8_t *desc, uint32_t descsz, struct vmm_elf_kernel *k, struct lv_error **err)
{
	uint64_t v;

	if (descsz == 4) {
		v = read32(desc);
	} else if (descsz == 8) {
		v = (uint64_t)read32(desc) | (uint64_t)read32(desc + 4) << 32;
	} else {
		return lv_err_msg(err, ENOEXEC, "ELF kernel: PVH entry note of %u bytes, expected 4 or 8", descsz);
	}
	if (v >= VMM_ELF_LOAD_LIMIT)
		return lv_err_msg(err, ENOEXEC, "ELF kernel: PVH entry 0x%llx is not a 32-bit address",
				  (unsigned long long)v);
	if (k->has_pvh && k->pvh_entry != v)
		return lv_err_msg(err, ENOEXEC, "ELF kernel: two PVH entry notes disagree (0x%x, 0x%llx)", k->pvh_entry,
				  (unsigned long long)v);
	k->has_pvh = true;
	k->pvh_entry = (uint32_t)v;
	return 0;
}

/* Walks the notes in [p, p + len): each a 12-byte header, then the name and
 * the descriptor, each starting at an offset aligned to the segment's
 * alignment (4, or 8 for an 8-aligned note segment).  Sizes are 32-bit;
 * positions stay <= len (a real buffer's size), so nothing overflows, and
 * every size is checked against what is left before anything is read. */
static int parse_notes(const uint8_t *p, uint64_t len, uint64_t seg_align, struct vmm_elf_kernel *k,
		       struct lv_error **err)
{
	uint64_t align = seg_align == 8 ? 8 : 4;
	uint64_t pos = 0;
	uint32_t namesz, descsz, type;
	const uint8_t *name, *desc;
	int r;

	while (len - pos >= NOTE_HEADER_SIZE) {
		namesz = read32(p + pos);
		descsz = read32(p + pos + 4);
		type = read32(p + pos + 8);
		pos += NOTE_HEADER_SIZE;
		if (namesz > len - pos)
			return lv_err_msg(err, ENOEXEC, "ELF kernel: a note's name (%u bytes) runs past its segment",
					  namesz);
		name = p + pos;
		pos = align_up(pos + namesz, align);
		/* The last note's padding may be cut off by the segment's end. */
		if (pos > len)
			pos = len;
		if (descsz > len - pos)
			return lv_err_msg(err, ENOEXEC, "ELF kernel: a note's descriptor (%u bytes) runs past its "
					  "segment", descsz);
		desc = p + pos;
		pos = align_up(pos + descsz, align);
		if (pos > len)
			pos = len;
		if (namesz == 4 && memcmp(name, "Xen", 4) == 0 && type == VMM_ELF_XEN_PHYS32_ENTRY) {
			r = take_pvh_note(desc, descsz, k, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static bool entry_in_file_bytes(const struct vmm_elf_kernel *k)
{
	unsigned int i;

	for (i = 0; i < k->nr_segments; i++) {
		const struct vmm_elf_segment *s = &k->segments[i];

		if (k->pvh_entry >= s->paddr && k->pvh_entry - s->paddr < s->filesz)
			return true;
	}
	return false;
}

int vmm_elf_parse(const void *image, size_t size, struct vmm_elf_kernel *out, struct lv_error **err)
{
	const uint8_t *b = image;
	struct vmm_elf_kernel k = { 0 };
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	unsigned int i;
	int r;

	if (!vmm_elf_is_elf(image, size))
		return lv_err_msg(err, ENOEXEC, "ELF kernel: no ELF magic");
	if (size < sizeof(eh))
		return lv_err_msg(err, ENOEXEC, "ELF kernel: %zu bytes is too short for an ELF64 header", size);
	memcpy(&eh, b, sizeof(eh));
	r = check_header(&eh, size, err);
	if (r < 0)
		return r;
	k.entry = eh.e_entry;

	for (i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, b + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && (r = add_segment(&ph, i, size, &k, err)) < 0)
			return r;
	}
	if (k.nr_segments == 0)
		return lv_err_msg(err, ENOEXEC, "ELF kernel: no loadable segment");

	/* Notes after the segments: the entry must point into one of them. */
	for (i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, b + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_NOTE)
			continue;
		if (!range_in_image(ph.p_offset, ph.p_filesz, size))
			return lv_err_msg(err, ENOEXEC, "ELF kernel: note segment %u [0x%llx, +0x%llx) lies past the "
					  "image (%zu bytes)", i, (unsigned long long)ph.p_offset,
					  (unsigned long long)ph.p_filesz, size);
		r = parse_notes(b + ph.p_offset, ph.p_filesz, ph.p_align, &k, err);
		if (r < 0)
			return r;
	}
	if (k.has_pvh && !entry_in_file_bytes(&k))
		return lv_err_msg(err, ENOEXEC, "ELF kernel: PVH entry 0x%x lies in no segment's loaded bytes",
				  k.pvh_entry);
	*out = k;
	return 0;
}
