/* libFuzzer target for the shim's ttrpc and protobuf decoders: the input
 * is a ttrpc frame (header and Request) whose payload is decoded as the
 * request of every task service method.  A rejection must carry a message;
 * nothing may read past the input or leak.
 * Replay a file: fuzz_ttrpc FILE... */
#include <stdlib.h>
#include <string.h>

#include "../../shim/msg.h"
#include "../../shim/ttrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rejection(int r, struct lv_error **err)
{
	if (r < 0 && (!*err || !(*err)->msg))
		abort();
	if (r >= 0 && *err)
		abort(); /* success leaves no error behind */
	lv_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lv_error *err = NULL;
	struct ttrpc_request req;
	struct ttrpc_hdr h;
	enum shim_method m;
	size_t len;
	int r;

	if (size < TTRPC_HDR_SIZE)
		return 0;
	r = ttrpc_hdr_decode(data, &h, &err);
	check_rejection(r, &err);
	if (r < 0)
		return 0;
	/* The frame's body is what follows, however long the header says. */
	len = size - TTRPC_HDR_SIZE < h.len ? size - TTRPC_HDR_SIZE : h.len;
	r = ttrpc_request_decode(data + TTRPC_HDR_SIZE, len, &req, &err);
	check_rejection(r, &err);
	if (r < 0)
		return 0;
	for (m = 0; m < SHIM_METHOD_COUNT; m++) {
		struct shim_req sreq;

		r = shim_req_decode(m, req.payload, req.payload_len, &sreq, &err);
		check_rejection(r, &err);
		if (r == 0)
			shim_req_free(&sreq);
	}
	/* Whatever method it names, a response builds. */
	{
		struct pb_buf frame = { 0 };

		r = ttrpc_response_frame(h.stream, shim_method_lookup(req.method, &m) == 0 ? TTRPC_OK : TTRPC_UNIMPLEMENTED,
					 req.method, NULL, &frame, &err);
		check_rejection(r, &err);
		pb_buf_free(&frame);
	}
	ttrpc_request_free(&req);
	return 0;
}
