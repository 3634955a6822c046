/* SHA-256 (FIPS 180-4), for content-addressed cache keys. */
#ifndef LV_SHA256_H
#define LV_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define LV_SHA256_LEN 32
#define LV_SHA256_HEX_LEN 64 /* without the NUL */

struct lv_sha256 {
	uint32_t h[8];
	uint64_t nbytes;  /* message length so far */
	uint8_t buf[64];  /* partial block */
	size_t buflen;
};

void lv_sha256_init(struct lv_sha256 *s);
void lv_sha256_update(struct lv_sha256 *s, const void *data, size_t len);
/* Pads, writes the digest and leaves *s unusable until the next init. */
void lv_sha256_final(struct lv_sha256 *s, uint8_t out[LV_SHA256_LEN]);

/* Lower-case hex of a digest, NUL-terminated. */
void lv_sha256_hex(const uint8_t digest[LV_SHA256_LEN], char hex[LV_SHA256_HEX_LEN + 1]);

/* One-shot convenience. */
void lv_sha256(const void *data, size_t len, uint8_t out[LV_SHA256_LEN]);

#endif
