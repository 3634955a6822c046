/* Protobuf wire format, reader and writer (see pb.h). */
#include <stdlib.h>
#include <string.h>

#include "pb.h"

static int pb_varint(struct pb_reader *r, uint64_t *out, struct lv_error **err)
{
	uint64_t v = 0;
	unsigned shift;

	for (shift = 0; shift < 64; shift += 7) {
		uint8_t byte;

		if (r->p >= r->end)
			return lv_err_msg(err, EPROTO, "protobuf: varint runs past the end of the message");
		byte = *r->p++;
		if (shift == 63 && byte > 1)
			return lv_err_msg(err, EPROTO, "protobuf: varint overflows 64 bits");
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return lv_err_msg(err, EPROTO, "protobuf: varint longer than 10 bytes");
}

static int pb_fixed(struct pb_reader *r, size_t n, uint64_t *out, struct lv_error **err)
{
	uint64_t v = 0;

	if ((size_t)(r->end - r->p) < n)
		return lv_err_msg(err, EPROTO, "protobuf: fixed%zu field runs past the end of the message", n * 8);
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	*out = v;
	return 0;
}

int pb_next(struct pb_reader *r, struct pb_field *f, struct lv_error **err)
{
	uint64_t key, len;
	int rc;

	if (r->p >= r->end)
		return 0;
	rc = pb_varint(r, &key, err);
	if (rc < 0)
		return rc;
	if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
		return lv_err_msg(err, EPROTO, "protobuf: field number %llu out of range",
				  (unsigned long long)(key >> 3));
	memset(f, 0, sizeof(*f));
	f->num = (uint32_t)(key >> 3);
	f->wire = (enum pb_wire)(key & 7);
	switch (key & 7) {
	case PB_VARINT:
		return pb_varint(r, &f->v, err) < 0 ? -EPROTO : 1;
	case PB_FIXED64:
		return pb_fixed(r, 8, &f->v, err) < 0 ? -EPROTO : 1;
	case PB_FIXED32:
		return pb_fixed(r, 4, &f->v, err) < 0 ? -EPROTO : 1;
	case PB_LEN:
		rc = pb_varint(r, &len, err);
		if (rc < 0)
			return rc;
		if (len > (uint64_t)(r->end - r->p))
			return lv_err_msg(err, EPROTO, "protobuf: field %u: length %llu exceeds the %zu bytes left",
					  f->num, (unsigned long long)len, (size_t)(r->end - r->p));
		f->data = r->p;
		f->len = (size_t)len;
		r->p += len;
		return 1;
	default:
		return lv_err_msg(err, EPROTO, "protobuf: field %u: unsupported wire type %u", f->num,
				  (unsigned)(key & 7));
	}
}

int pb_expect(const struct pb_field *f, enum pb_wire wire, const char *what, struct lv_error **err)
{
	if (f->wire != wire)
		return lv_err_msg(err, EPROTO, "protobuf: %s (field %u): wire type %u, expected %u", what, f->num,
				  (unsigned)f->wire, (unsigned)wire);
	return 0;
}

int pb_string(const struct pb_field *f, size_t max, const char *what, char **out, struct lv_error **err)
{
	char *s;
	int r = pb_expect(f, PB_LEN, what, err);

	if (r < 0)
		return r;
	if (f->len > max)
		return lv_err_msg(err, EPROTO, "protobuf: %s: %zu bytes, at most %zu allowed", what, f->len, max);
	if (memchr(f->data, 0, f->len))
		return lv_err_msg(err, EPROTO, "protobuf: %s: contains a NUL byte", what);
	s = malloc(f->len + 1);
	if (!s)
		return lv_err(err, ENOMEM, "protobuf: %s", what);
	memcpy(s, f->data, f->len);
	s[f->len] = 0;
	free(*out);
	*out = s;
	return 0;
}

void pb_buf_free(struct pb_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void pb_put_raw(struct pb_buf *b, const void *data, size_t len)
{
	if (b->failed || len == 0)
		return;
	if (len > PB_MSG_MAX || b->len + len > PB_MSG_MAX + 64) {
		b->failed = true;
		return;
	}
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		uint8_t *n;

		while (cap < b->len + len)
			cap *= 2;
		n = realloc(b->data, cap);
		if (!n) {
			b->failed = true;
			return;
		}
		b->data = n;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

void pb_put_varint_raw(struct pb_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n] = v & 0x7f;
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	pb_put_raw(b, tmp, n);
}

static void pb_put_key(struct pb_buf *b, uint32_t num, enum pb_wire wire)
{
	pb_put_varint_raw(b, ((uint64_t)num << 3) | wire);
}

void pb_put_varint(struct pb_buf *b, uint32_t num, uint64_t v)
{
	if (!v)
		return;
	pb_put_key(b, num, PB_VARINT);
	pb_put_varint_raw(b, v);
}

void pb_put_bytes(struct pb_buf *b, uint32_t num, const void *data, size_t len)
{
	if (!len)
		return;
	pb_put_key(b, num, PB_LEN);
	pb_put_varint_raw(b, len);
	pb_put_raw(b, data, len);
}

void pb_put_str(struct pb_buf *b, uint32_t num, const char *s)
{
	if (s)
		pb_put_bytes(b, num, s, strlen(s));
}

void pb_put_msg(struct pb_buf *b, uint32_t num, const struct pb_buf *sub)
{
	if (sub->failed)
		b->failed = true;
	pb_put_key(b, num, PB_LEN);
	pb_put_varint_raw(b, sub->len);
	pb_put_raw(b, sub->data, sub->len);
}

void pb_put_timestamp(struct pb_buf *b, uint32_t num, int64_t sec, int32_t nsec)
{
	struct pb_buf ts = { 0 };

	pb_put_varint(&ts, 1, (uint64_t)sec);
	pb_put_varint(&ts, 2, (uint64_t)(int64_t)nsec);
	pb_put_msg(b, num, &ts);
	pb_buf_free(&ts);
}

void pb_put_any(struct pb_buf *b, const char *type_url, const struct pb_buf *value)
{
	if (value->failed)
		b->failed = true;
	pb_put_str(b, 1, type_url);
	pb_put_bytes(b, 2, value->data, value->len);
}

int pb_buf_check(const struct pb_buf *b, struct lv_error **err)
{
	if (b->failed)
		return lv_err_msg(err, ENOMEM, "protobuf: cannot build the message (out of memory or over %u bytes)",
				  PB_MSG_MAX);
	return 0;
}
