/* libFuzzer target for the shell-pool protocol decoder.  Whatever the
 * decoder accepts must re-encode to exactly the input bytes (the encoding
 * is canonical: reserved fields 0, no trailing bytes, exact lengths), and a
 * rejection must carry a message and one of the documented errnos.
 * Replay a file: fuzz_pool_proto FILE... */
#include <stdlib.h>
#include <string.h>

#include "../../runtime/pool_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pool_msg m;
	static uint8_t again[POOL_HDR_SIZE + POOL_PAYLOAD_MAX];
	struct lv_error *err = NULL;
	size_t len = 0;
	int r = pool_msg_decode(data, size, &m, &err);

	if (r < 0) {
		if ((r != -EPROTO && r != -EPROTONOSUPPORT) || !err || !err->msg)
			abort();
		lv_error_free(&err);
		return 0;
	}
	if (err)
		abort(); /* success leaves no error behind */
	if (pool_msg_encode(&m, again, sizeof(again), &len, &err) < 0 || len != size || memcmp(again, data, size) != 0)
		abort();
	lv_error_free(&err);
	return 0;
}
