/* libFuzzer target for the noxs channel frame parser.  The input is fed to
 * the receive buffer in chunks whose sizes come from the input itself, so
 * that frames split at every point; each frame handed out must lie inside
 * the buffer and be within the limits.  Exec frames' payloads also go
 * through noxs_exec_split(), whose body must lie inside the payload and
 * within its type's bound.  Replay a file: fuzz_chan FILE... */
#include <stdlib.h>
#include <string.h>

#include "../../noxs/chan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_exec(uint16_t type, const uint8_t *payload, uint32_t len)
{
	struct lv_error *err = NULL;
	const uint8_t *body;
	uint32_t id, n;
	int r = noxs_exec_split(type, payload, len, &id, &body, &n, &err);

	if (r < 0) {
		if (r != -EPROTO || !err)
			abort();
		lv_error_free(&err);
		return;
	}
	if (!noxs_is_exec_msg(type) || body != payload + NOXS_EXEC_ID_SIZE || n + NOXS_EXEC_ID_SIZE != len ||
	    n > NOXS_EXEC_PAGE_MAX || (type != NOXS_MSG_EXEC && n > NOXS_IO_CHUNK))
		abort();
	if (n)
		(void)(volatile uint8_t)body[n - 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct noxs_rx rx;
	struct lv_error *err = NULL;
	size_t pos = 0, chunk;
	uint8_t step;

	if (size < 1 || noxs_rx_init(&rx, &err) < 0) {
		lv_error_free(&err);
		return 0;
	}
	step = data[0];
	pos = 1;
	while (pos < size) {
		uint16_t type;
		const uint8_t *payload;
		uint32_t len;
		int r;

		chunk = step ? (size_t)(step % 61) + 1 : size - pos;
		if (chunk > size - pos)
			chunk = size - pos;
		r = noxs_rx_push(&rx, data + pos, chunk, &err);
		if (r < 0)
			abort(); /* frames are consumed below, so space never runs out */
		pos += (size_t)r;
		while ((r = noxs_rx_next(&rx, &type, &payload, &len, &err)) == 1) {
			if (len > NOXS_FRAME_MAX || payload < rx.buf || payload + len > rx.buf + rx.len)
				abort();
			if (len)
				(void)(volatile uint8_t)payload[len - 1];
			/* The type's low bits pick an exec type often enough. */
			check_exec(noxs_is_exec_msg(type) ? type : (uint16_t)(NOXS_MSG_EXEC + (type & 0x7)), payload,
				   len);
		}
		if (r < 0) {
			if (r != -EPROTO || !err)
				abort();
			break; /* the stream is unusable after a protocol error */
		}
		step = (uint8_t)(step * 31 + 7);
	}
	lv_error_free(&err);
	noxs_rx_free(&rx);
	return 0;
}
