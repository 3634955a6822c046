/* The bzImage setup header (Documentation/x86/boot.rst), parsed from an
 * image we did not build: every field is bounded here, so the loader can
 * trust the result.  Only kernels that offer the 64-bit entry point (boot
 * protocol >= 2.12 with XLF_KERNEL_64) are accepted. */
#ifndef VMM_BZIMAGE_H
#define VMM_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

#define VMM_BZIMAGE_MIN_VERSION 0x020c
/* Where the setup header lives inside the image and inside boot_params. */
#define VMM_SETUP_HEADER_OFFSET 0x1f1
/* The header ends at 0x202 + the byte at 0x201; boot_params has room for it
 * up to 0x290 (edd_mbr_sig_buffer follows). */
#define VMM_SETUP_HEADER_MAX_END 0x290
/* We read fields up to init_size (0x260..0x263). */
#define VMM_SETUP_HEADER_MIN_END 0x264
/* init_size beyond this is not a kernel we want to boot (a tinyconfig kernel
 * needs ~16 MiB, a distribution kernel ~64 MiB). */
#define VMM_BZIMAGE_MAX_INIT_SIZE (512ULL << 20)

struct vmm_bzimage {
	uint16_t version;         /* boot protocol, e.g. 0x020f */
	uint8_t loadflags;
	uint16_t xloadflags;
	uint8_t relocatable;
	uint32_t kernel_alignment;
	uint64_t pref_address;    /* where the kernel runs if not relocated */
	uint32_t init_size;       /* bytes needed from the runtime start */
	uint32_t cmdline_size;    /* max command line length, without NUL */
	uint32_t initrd_addr_max; /* highest address the initrd's last byte may have */
	uint64_t setup_size;      /* real-mode part: (setup_sects + 1) * 512 */
	uint64_t kernel_offset;   /* protected-mode kernel's offset in the image */
	uint64_t kernel_size;     /* and its size (the rest of the file) */
	uint32_t header_end;      /* end of the setup header, bounded to MAX_END */
};

/* Parses and validates; on error *out is untouched.  image is read only
 * within [image, image + size). */
int vmm_bzimage_parse(const void *image, size_t size, struct vmm_bzimage *out, struct lv_error **err);

#endif
