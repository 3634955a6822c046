/* The device page's byte layout, shared by the encoder (page_encode.c), the
 * decoder (page_decode.c) and the rules both apply (page.c).  Internal to
 * noxs/: the format is documented in noxs/README.md, and these offsets are
 * that document's tables. */
#ifndef NOXS_PAGE_FORMAT_H
#define NOXS_PAGE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chan.h" /* noxs_get_u32 and friends */
#include "page.h"

#define VERSION_MINOR 2u /* 1.1: the host section; 1.2: devices, channels, network */

/* Header: 128 bytes in version 1.x.  A later minor version may grow it
 * (header_size says by how much); a reader uses the fields it knows. */
#define HDR_SIZE 128u
#define H_MAGIC 0
#define H_MAJOR 4
#define H_MINOR 6
#define H_HDR_SIZE 8
#define H_TOTAL 12
#define H_FLAGS 16
#define H_UID 20
#define H_GID 24
#define H_UMASK 28
#define H_ROWS 32
#define H_COLS 34
#define H_CWD 36
#define H_HOSTNAME 40
#define H_SECT_OFF 44
#define H_SECT_COUNT 48
#define H_SECT_DESC_SIZE 52
#define H_CAPS 56 /* 5 x u64, up to 96; 96..127 reserved, zero */

/* Section descriptor: u16 id, u16 flags, u32 offset, u32 count, u32 size
 * (bytes per record; 1 for the byte areas). */
#define DESC_SIZE 16u
#define MAX_SECTIONS 64u
#define SECT_CRITICAL 1u /* a reader that does not know the id must refuse */

enum sect_id {
	SECT_STRINGS = 1,
	SECT_ARGS = 2,
	SECT_ENV = 3,
	SECT_GIDS = 4,
	SECT_RLIMITS = 5,
	SECT_MOUNTS = 6,
	SECT_SYSCTLS = 7,
	SECT_FILES = 8,
	SECT_DATA = 9,
	SECT_DEVICES = 10,  /* 1.2 */
	SECT_CHANNELS = 11, /* 1.2 */
	SECT_HOST = 12,     /* 1.1 */
	SECT_ADDRS = 13,    /* 1.2 */
	SECT_ROUTES = 14,   /* 1.2 */
	SECT_KNOWN_MAX = SECT_ROUTES,
};

/* Record sizes (0: an id this reader does not know) and names. */
extern const uint32_t noxs_rec_size[SECT_KNOWN_MAX + 1];
extern const char *const noxs_sect_name[SECT_KNOWN_MAX + 1];

/* Host record (40 bytes): u64 realtime (ns since the epoch), then the seed. */
#define HOST_REALTIME 0
#define HOST_SEED 8

/* Device record (16 bytes). */
#define DEV_KIND 0
#define DEV_FLAGS 2
#define DEV_NAME 4
#define DEV_MAC 8
#define DEV_MTU 14

/* Channel record (8 bytes): u16 what, u16 device, u32 reserved. */
#define CHAN_WHAT 0
#define CHAN_DEVICE 2

/* Address record (24 bytes): u16 device, u8 family, u8 prefix, u32
 * reserved, u8[16] address. */
#define ADDR_DEVICE 0
#define ADDR_FAMILY 2
#define ADDR_PREFIX 3
#define ADDR_ADDR 8

/* Route record (40 bytes): u16 device, u8 family, u8 prefix, u32 metric,
 * u8[16] destination, u8[16] gateway. */
#define ROUTE_DEVICE 0
#define ROUTE_FAMILY 2
#define ROUTE_PREFIX 3
#define ROUTE_METRIC 4
#define ROUTE_DST 8
#define ROUTE_GATEWAY 24

/* Flags 0..15 change what the guest must do: a reader refuses ones it does
 * not know.  Flags 16..31 are hints a reader may ignore. */
#define FLAGS_CRITICAL 0x0000ffffu
#define FLAGS_KNOWN (NOXS_F_TERMINAL | NOXS_F_ROOT_READONLY | NOXS_F_NO_NEW_PRIVS | NOXS_F_HAS_CAPS | NOXS_F_HAS_UMASK)

static inline uint64_t noxs_get_u64(const uint8_t *p)
{
	return (uint64_t)noxs_get_u32(p) | (uint64_t)noxs_get_u32(p + 4) << 32;
}

static inline void noxs_put_u64(uint8_t *p, uint64_t v)
{
	noxs_put_u32(p, (uint32_t)v);
	noxs_put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline bool noxs_sect_known(uint32_t id)
{
	return id >= 1 && id <= SECT_KNOWN_MAX && noxs_rec_size[id] != 0;
}

/* The most records a section may hold (the byte areas: unbounded here, the
 * page's size bounds them). */
uint32_t noxs_section_limit(enum sect_id id);

/* Whether a reader that does not know the section must refuse the page:
 * everything of 1.0, and the network configuration, which a guest must not
 * leave undone; not the host section and the channels, which only improve
 * or describe; the devices when they hold a net device. */
bool noxs_section_critical(const struct noxs_proc *p, enum sect_id id);

/* The checks both directions apply, so that whatever the encoder accepts
 * the decoder accepts too. */
int noxs_proc_check(const struct noxs_proc *p, struct lv_error **err);

#endif
