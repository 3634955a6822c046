/* libFuzzer target for the config.json parser (rt_spec_parse).  libFuzzer's
 * own main replays files given as arguments:
 *   fuzz_spec crash-1234           replay one input
 *   fuzz_spec -max_total_time=60 tests/fuzz/corpus/spec   fuzz from the seeds */
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lv_error *err = NULL;
	struct rt_spec *spec = NULL;

	if (rt_spec_parse((const char *)data, size, &spec, &err) == 0 && !spec)
		__builtin_trap(); /* success must hand back a spec */
	if (spec && err)
		__builtin_trap(); /* and a failure none */
	rt_spec_annotation(spec, "org.opencontainers.image.os");
	rt_spec_free(spec);
	lv_error_free(&err);
	return 0;
}
