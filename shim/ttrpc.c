/* ttrpc framing and the Request/Response messages (see ttrpc.h). */
#include <stdlib.h>
#include <string.h>

#include "ttrpc.h"

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void ttrpc_hdr_encode(const struct ttrpc_hdr *h, uint8_t out[TTRPC_HDR_SIZE])
{
	put_be32(out, h->len);
	put_be32(out + 4, h->stream);
	out[8] = h->type;
	out[9] = h->flags;
}

int ttrpc_hdr_decode(const uint8_t in[TTRPC_HDR_SIZE], struct ttrpc_hdr *h, struct lv_error **err)
{
	h->len = get_be32(in);
	h->stream = get_be32(in + 4);
	h->type = in[8];
	h->flags = in[9];
	if (h->len > TTRPC_MSG_MAX)
		return lv_err_msg(err, EPROTO, "ttrpc: message length %u exceeds the maximum of %u", h->len,
				  TTRPC_MSG_MAX);
	return 0;
}

/* KeyValue {key = 1, value = 2}: only checked, the shim has no use for
 * metadata. */
static int check_metadata(const struct pb_field *kv, struct lv_error **err)
{
	struct pb_reader r;
	struct pb_field f;
	int rc;

	pb_reader_init(&r, kv->data, kv->len);
	while ((rc = pb_next(&r, &f, err)) > 0) {
		if ((f.num == 1 || f.num == 2) && pb_expect(&f, PB_LEN, "ttrpc metadata entry", err) < 0)
			return -EPROTO;
	}
	return rc;
}

int ttrpc_request_decode(const uint8_t *data, size_t len, struct ttrpc_request *req, struct lv_error **err)
{
	struct pb_reader r;
	struct pb_field f;
	int rc;

	memset(req, 0, sizeof(*req));
	pb_reader_init(&r, data, len);
	while ((rc = pb_next(&r, &f, err)) > 0) {
		switch (f.num) {
		case 1:
			rc = pb_string(&f, TTRPC_NAME_MAX, "ttrpc request service", &req->service, err);
			break;
		case 2:
			rc = pb_string(&f, TTRPC_NAME_MAX, "ttrpc request method", &req->method, err);
			break;
		case 3:
			rc = pb_expect(&f, PB_LEN, "ttrpc request payload", err);
			req->payload = f.data;
			req->payload_len = f.len;
			break;
		case 4:
			rc = pb_expect(&f, PB_VARINT, "ttrpc request timeout_nano", err);
			req->timeout_nano = (int64_t)f.v;
			break;
		case 5:
			rc = pb_expect(&f, PB_LEN, "ttrpc request metadata", err);
			if (rc == 0 && ++req->nmetadata > TTRPC_METADATA_MAX)
				rc = lv_err_msg(err, EPROTO, "ttrpc request: more than %d metadata entries",
						TTRPC_METADATA_MAX);
			if (rc == 0)
				rc = check_metadata(&f, err);
			break;
		default:
			break;
		}
		if (rc < 0)
			goto fail;
	}
	if (rc < 0)
		goto fail;
	if (!req->service || !req->method) {
		rc = lv_err_msg(err, EPROTO, "ttrpc request: no %s", req->service ? "method" : "service");
		goto fail;
	}
	return 0;
fail:
	ttrpc_request_free(req);
	return rc;
}

void ttrpc_request_free(struct ttrpc_request *req)
{
	free(req->service);
	free(req->method);
	memset(req, 0, sizeof(*req));
}

int ttrpc_request_encode(const struct ttrpc_request *req, struct pb_buf *out, struct lv_error **err)
{
	pb_put_str(out, 1, req->service);
	pb_put_str(out, 2, req->method);
	pb_put_bytes(out, 3, req->payload, req->payload_len);
	pb_put_varint(out, 4, (uint64_t)req->timeout_nano);
	return pb_buf_check(out, err);
}

int ttrpc_response_frame(uint32_t stream, enum ttrpc_code code, const char *message, const struct pb_buf *payload,
			 struct pb_buf *out, struct lv_error **err)
{
	struct pb_buf status = { 0 }, resp = { 0 };
	struct ttrpc_hdr h = { .stream = stream, .type = TTRPC_RESPONSE };
	uint8_t hdr[TTRPC_HDR_SIZE];
	int r;

	pb_put_varint(&status, 1, (uint64_t)(int64_t)code);
	if (code != TTRPC_OK)
		pb_put_str(&status, 2, message);
	pb_put_msg(&resp, 1, &status);
	if (code == TTRPC_OK && payload)
		pb_put_bytes(&resp, 2, payload->data, payload->len);
	r = pb_buf_check(&resp, err);
	if (r < 0)
		goto out;
	h.len = (uint32_t)resp.len;
	ttrpc_hdr_encode(&h, hdr);
	pb_put_raw(out, hdr, sizeof(hdr));
	pb_put_raw(out, resp.data, resp.len);
	r = pb_buf_check(out, err);
out:
	pb_buf_free(&status);
	pb_buf_free(&resp);
	return r;
}

int ttrpc_response_decode(const uint8_t *data, size_t len, int32_t *code, char **message, const uint8_t **payload,
			  size_t *payload_len, struct lv_error **err)
{
	struct pb_reader r, sr;
	struct pb_field f, sf;
	int rc;

	*code = 0;
	*message = NULL;
	*payload = NULL;
	*payload_len = 0;
	pb_reader_init(&r, data, len);
	while ((rc = pb_next(&r, &f, err)) > 0) {
		if (f.num == 2) {
			if (pb_expect(&f, PB_LEN, "ttrpc response payload", err) < 0)
				goto fail;
			*payload = f.data;
			*payload_len = f.len;
		} else if (f.num == 1) {
			if (pb_expect(&f, PB_LEN, "ttrpc response status", err) < 0)
				goto fail;
			pb_reader_init(&sr, f.data, f.len);
			while ((rc = pb_next(&sr, &sf, err)) > 0) {
				if (sf.num == 1 && pb_expect(&sf, PB_VARINT, "ttrpc status code", err) == 0)
					*code = (int32_t)sf.v;
				else if (sf.num == 2 && pb_string(&sf, 65536, "ttrpc status message", message, err) == 0)
					continue;
				else if (sf.num == 1 || sf.num == 2)
					goto fail;
			}
			if (rc < 0)
				goto fail;
		}
	}
	if (rc < 0)
		goto fail;
	return 0;
fail:
	free(*message);
	*message = NULL;
	return -EPROTO;
}

enum ttrpc_code ttrpc_code_from_errno(int r)
{
	switch (-r) {
	case 0:
		return TTRPC_OK;
	case ENOENT:
	case ESRCH:
		return TTRPC_NOT_FOUND;
	case EEXIST:
		return TTRPC_ALREADY_EXISTS;
	case EINVAL:
	case EPROTO:
		return TTRPC_INVALID_ARGUMENT;
	case EBUSY:
		return TTRPC_FAILED_PRECONDITION;
	case ENOSYS:
	case EOPNOTSUPP:
		return TTRPC_UNIMPLEMENTED;
	default:
		return TTRPC_UNKNOWN;
	}
}
