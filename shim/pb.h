/* A minimal protobuf (proto3 wire format) reader and writer: exactly what
 * the shim's ttrpc and task messages need.  The reader is a parser of
 * untrusted input: every length is checked against the bytes that remain,
 * varints are at most 10 bytes, groups and field number 0 are refused. */
#ifndef SHIM_PB_H
#define SHIM_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

enum pb_wire { PB_VARINT = 0, PB_FIXED64 = 1, PB_LEN = 2, PB_FIXED32 = 5 };

/* Largest message either side handles (ttrpc's own limit, 4 MiB). */
#define PB_MSG_MAX (4u << 20)

struct pb_reader {
	const uint8_t *p, *end;
};

struct pb_field {
	uint32_t num;
	enum pb_wire wire;
	uint64_t v;	     /* PB_VARINT, PB_FIXED32, PB_FIXED64 */
	const uint8_t *data; /* PB_LEN */
	size_t len;
};

static inline void pb_reader_init(struct pb_reader *r, const uint8_t *data, size_t len)
{
	r->p = data;
	r->end = data + len;
}

/* 1 with *f filled, 0 at the end of the message, -EPROTO on malformed
 * input. */
int pb_next(struct pb_reader *r, struct pb_field *f, struct lv_error **err);

/* A copy of a length-delimited field as a NUL-terminated string of at most
 * max bytes; embedded NULs are refused.  Replaces (frees) *out.  `what`
 * names the field in the error. */
int pb_string(const struct pb_field *f, size_t max, const char *what, char **out, struct lv_error **err);

/* Checks f's wire type, naming `what` in the error. */
int pb_expect(const struct pb_field *f, enum pb_wire wire, const char *what, struct lv_error **err);

/* A growable output buffer; a failed allocation sticks (pb_buf_check). */
struct pb_buf {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

void pb_buf_free(struct pb_buf *b);
void pb_put_raw(struct pb_buf *b, const void *data, size_t len);
void pb_put_varint_raw(struct pb_buf *b, uint64_t v);
/* Field writers.  proto3 leaves default values out: 0, false and "" are
 * not written; pb_put_msg always is (presence of a sub-message). */
void pb_put_varint(struct pb_buf *b, uint32_t num, uint64_t v);
void pb_put_bytes(struct pb_buf *b, uint32_t num, const void *data, size_t len);
void pb_put_str(struct pb_buf *b, uint32_t num, const char *s);
void pb_put_msg(struct pb_buf *b, uint32_t num, const struct pb_buf *sub);
/* google.protobuf.Timestamp {seconds = 1, nanos = 2} as field num. */
void pb_put_timestamp(struct pb_buf *b, uint32_t num, int64_t sec, int32_t nsec);
/* google.protobuf.Any {type_url = 1, value = 2} as a whole message. */
void pb_put_any(struct pb_buf *b, const char *type_url, const struct pb_buf *value);
/* -ENOMEM (or -EMSGSIZE past PB_MSG_MAX) if a write failed. */
int pb_buf_check(const struct pb_buf *b, struct lv_error **err);

#endif
