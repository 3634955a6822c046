/* libFuzzer target for the noxs channel frame parser.  The input is fed to
 * the receive buffer in chunks whose sizes come from the input itself, so
 * that frames split at every point; each frame handed out must lie inside
 * the buffer and be within the limits.  Replay a file: fuzz_chan FILE... */
#include <stdlib.h>
#include <string.h>

#include "../../noxs/chan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
