/* ttrpc, containerd's small RPC protocol, as a server needs it.
 *
 * A frame is a 10-byte header (u32 big-endian payload length, u32
 * big-endian stream id, u8 type: 1 request, 2 response; u8 flags) and a
 * protobuf payload: Request {service = 1, method = 2, payload = 3,
 * timeout_nano = 4, metadata = 5 (repeated KeyValue)} or Response
 * {status = 1 (google.rpc.Status {code = 1, message = 2}), payload = 2}. */
#ifndef SHIM_TTRPC_H
#define SHIM_TTRPC_H

#include "pb.h"

#define TTRPC_HDR_SIZE 10
#define TTRPC_MSG_MAX PB_MSG_MAX
#define TTRPC_NAME_MAX 256	 /* service and method names */
#define TTRPC_METADATA_MAX 64	 /* metadata entries per request */

enum ttrpc_type { TTRPC_REQUEST = 1, TTRPC_RESPONSE = 2 };

/* google.rpc.Code values the shim answers with. */
enum ttrpc_code {
	TTRPC_OK = 0,
	TTRPC_UNKNOWN = 2,
	TTRPC_INVALID_ARGUMENT = 3,
	TTRPC_NOT_FOUND = 5,
	TTRPC_ALREADY_EXISTS = 6,
	TTRPC_FAILED_PRECONDITION = 9,
	TTRPC_UNIMPLEMENTED = 12,
	TTRPC_INTERNAL = 13,
};

struct ttrpc_hdr {
	uint32_t len, stream;
	uint8_t type, flags;
};

struct ttrpc_request {
	char *service, *method;
	const uint8_t *payload; /* points into the decoded buffer */
	size_t payload_len;
	int64_t timeout_nano;
	size_t nmetadata;
};

void ttrpc_hdr_encode(const struct ttrpc_hdr *h, uint8_t out[TTRPC_HDR_SIZE]);
/* -EPROTO for a length over TTRPC_MSG_MAX. */
int ttrpc_hdr_decode(const uint8_t in[TTRPC_HDR_SIZE], struct ttrpc_hdr *h, struct lv_error **err);

int ttrpc_request_decode(const uint8_t *data, size_t len, struct ttrpc_request *req, struct lv_error **err);
void ttrpc_request_free(struct ttrpc_request *req);
/* The Request message (no header): for clients and tests. */
int ttrpc_request_encode(const struct ttrpc_request *req, struct pb_buf *out, struct lv_error **err);

/* A whole response frame (header and Response) for stream `stream`: code
 * TTRPC_OK with the payload, or an error code and message. */
int ttrpc_response_frame(uint32_t stream, enum ttrpc_code code, const char *message, const struct pb_buf *payload,
			 struct pb_buf *out, struct lv_error **err);

/* Decodes a Response message (no header): for clients and tests.
 * *message is allocated (NULL when none). */
int ttrpc_response_decode(const uint8_t *data, size_t len, int32_t *code, char **message, const uint8_t **payload,
			  size_t *payload_len, struct lv_error **err);

/* The code for a negative errno from the task service. */
enum ttrpc_code ttrpc_code_from_errno(int r);

#endif
