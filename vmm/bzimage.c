/* bzImage setup header parser (see bzimage.h). */
#include "bzimage.h"

#include <asm/bootparam.h>
#include <string.h>

#define BOOT_FLAG_OFFSET      0x1fe
#define SETUP_SECTS_OFFSET    0x1f1
#define SYSSIZE_OFFSET        0x1f4
#define JUMP_OFFSET           0x200
#define HEADER_MAGIC_OFFSET   0x202
#define VERSION_OFFSET        0x206
#define LOADFLAGS_OFFSET      0x211
#define INITRD_ADDR_MAX_OFF   0x22c
#define KERNEL_ALIGN_OFFSET   0x230
#define RELOCATABLE_OFFSET    0x234
#define XLOADFLAGS_OFFSET     0x236
#define CMDLINE_SIZE_OFFSET   0x238
#define PREF_ADDRESS_OFFSET   0x258
#define INIT_SIZE_OFFSET      0x260

#define BOOT_FLAG             0xaa55
#define HEADER_MAGIC          0x53726448 /* "HdrS" */
#define SECTOR                512ULL
/* The default when the field reads 0 ("very old kernels"). */
#define DEFAULT_SETUP_SECTS   4
#define DEFAULT_INITRD_MAX    0x37ffffff

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

int vmm_bzimage_parse(const void *image, size_t size, struct vmm_bzimage *out, struct lv_error **err)
{
	const uint8_t *b = image;
	struct vmm_bzimage h = { 0 };
	uint32_t header_end;
	uint64_t syssize_bytes;
	uint8_t setup_sects;

	if (size < VMM_SETUP_HEADER_MIN_END)
		return lv_err_msg(err, ENOEXEC, "bzImage: %zu bytes is too short for a setup header", size);
	if (le16(b + BOOT_FLAG_OFFSET) != BOOT_FLAG)
		return lv_err_msg(err, ENOEXEC, "bzImage: no boot flag 0xaa55 at 0x1fe");
	if (le32(b + HEADER_MAGIC_OFFSET) != HEADER_MAGIC)
		return lv_err_msg(err, ENOEXEC, "bzImage: no \"HdrS\" magic at 0x202 (not a Linux x86 kernel)");
	h.version = le16(b + VERSION_OFFSET);
	if (h.version < VMM_BZIMAGE_MIN_VERSION)
		return lv_err_msg(err, ENOEXEC, "bzImage: boot protocol %u.%02u, need %u.%02u for the 64-bit entry",
				  h.version >> 8, h.version & 0xff, VMM_BZIMAGE_MIN_VERSION >> 8,
				  VMM_BZIMAGE_MIN_VERSION & 0xff);

	/* The jump at 0x200 is "jmp short": its displacement says where the
	 * header ends.  Protocol >= 2.12 headers reach at least past init_size. */
	if (b[JUMP_OFFSET] != 0xeb)
		return lv_err_msg(err, ENOEXEC, "bzImage: no short jump at 0x200");
	header_end = 0x202 + b[JUMP_OFFSET + 1];
	if (header_end < VMM_SETUP_HEADER_MIN_END)
		return lv_err_msg(err, ENOEXEC, "bzImage: setup header ends at 0x%x, before init_size", header_end);
	h.header_end = header_end < VMM_SETUP_HEADER_MAX_END ? header_end : VMM_SETUP_HEADER_MAX_END;
	if (h.header_end > size)
		return lv_err_msg(err, ENOEXEC, "bzImage: setup header ends at 0x%x, past the image (%zu bytes)",
				  h.header_end, size);

	setup_sects = b[SETUP_SECTS_OFFSET];
	if (setup_sects == 0)
		setup_sects = DEFAULT_SETUP_SECTS;
	h.setup_size = ((uint64_t)setup_sects + 1) * SECTOR;
	if (h.setup_size >= size)
		return lv_err_msg(err, ENOEXEC, "bzImage: setup code (%llu bytes) leaves no kernel in a %zu-byte image",
				  (unsigned long long)h.setup_size, size);
	/* setup_size >= 1024 > VMM_SETUP_HEADER_MAX_END: the header always lies
	 * inside the setup code, never in the kernel. */
	h.kernel_offset = h.setup_size;
	h.kernel_size = size - h.setup_size;

	syssize_bytes = (uint64_t)le32(b + SYSSIZE_OFFSET) * 16;
	if (syssize_bytes == 0 || syssize_bytes > h.kernel_size)
		return lv_err_msg(err, ENOEXEC, "bzImage: syssize says %llu bytes of kernel, the image has %llu",
				  (unsigned long long)syssize_bytes, (unsigned long long)h.kernel_size);

	h.loadflags = b[LOADFLAGS_OFFSET];
	if (!(h.loadflags & LOADED_HIGH))
		return lv_err_msg(err, ENOEXEC, "bzImage: not loaded high (a zImage?)");
	h.xloadflags = le16(b + XLOADFLAGS_OFFSET);
	if (!(h.xloadflags & XLF_KERNEL_64))
		return lv_err_msg(err, ENOEXEC, "bzImage: no 64-bit entry point (XLF_KERNEL_64 clear; a 32-bit kernel?)");

	h.relocatable = b[RELOCATABLE_OFFSET];
	h.kernel_alignment = le32(b + KERNEL_ALIGN_OFFSET);
	if (h.relocatable && (h.kernel_alignment == 0 || (h.kernel_alignment & (h.kernel_alignment - 1))))
		return lv_err_msg(err, ENOEXEC, "bzImage: kernel_alignment 0x%x is not a power of two",
				  h.kernel_alignment);
	h.cmdline_size = le32(b + CMDLINE_SIZE_OFFSET);
	h.initrd_addr_max = le32(b + INITRD_ADDR_MAX_OFF);
	if (h.initrd_addr_max == 0)
		h.initrd_addr_max = DEFAULT_INITRD_MAX;

	h.init_size = le32(b + INIT_SIZE_OFFSET);
	if (h.init_size == 0 || h.init_size > VMM_BZIMAGE_MAX_INIT_SIZE)
		return lv_err_msg(err, ENOEXEC, "bzImage: init_size %u outside (0, %llu]", h.init_size,
				  VMM_BZIMAGE_MAX_INIT_SIZE);
	h.pref_address = le64(b + PREF_ADDRESS_OFFSET);
	/* Runs in the low 4 GiB: anything else is not a kernel we could have
	 * built, and keeps pref_address + init_size far from overflow. */
	if (h.pref_address < 0x100000 || h.pref_address >= 0x100000000ULL ||
	    h.pref_address + h.init_size > 0x100000000ULL)
		return lv_err_msg(err, ENOEXEC, "bzImage: pref_address 0x%llx (+ init_size %u) outside [1 MiB, 4 GiB)",
				  (unsigned long long)h.pref_address, h.init_size);
	*out = h;
	return 0;
}
