/* libFuzzer target for the noxs device page decoder.  A page that decodes
 * must re-encode, and the re-encoded page must decode to the same proc;
 * wiping its seed in place must leave a page that decodes to the same proc
 * less the seed.  Replay a file: fuzz_page FILE... (libFuzzer's own main). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../noxs/page.h"
#include "../unit/noxs_equal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* noxs_proc_equal predates the host section. */
static int host_equal(const struct noxs_proc *a, const struct noxs_proc *b)
{
	return a->has_host == b->has_host && a->realtime_ns == b->realtime_ns &&
	       memcmp(a->seed, b->seed, NOXS_SEED_SIZE) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct noxs_proc p, q;
	struct lv_error *err = NULL;
	uint8_t *copy, *enc = NULL;
	size_t enclen = 0;

	/* An exact-size copy, so that ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (noxs_page_decode(copy, size, &p, &err) < 0) {
		if (!err || !err->msg || strncmp(err->msg, "noxs page: ", 11) != 0)
			abort(); /* every rejection says what is wrong */
		lv_error_free(&err);
		free(copy);
		return 0;
	}
	/* Whatever decodes is within the encoder's limits too, so it must
	 * re-encode; only its size may differ: records may share one string
	 * in a page, which the encoder writes once per record, so a re-encoding
	 * can outgrow the page limit (-EFBIG) and nothing else. */
	if (noxs_page_encode(&p, &enc, &enclen, &err) == -EFBIG) {
		lv_error_free(&err);
		noxs_proc_free(&p);
		free(copy);
		return 0;
	}
	if (!enc) {
		fprintf(stderr, "re-encode failed: %s\n", err ? err->msg : "?");
		abort();
	}
	if (noxs_page_decode(enc, enclen, &q, &err) < 0) {
		fprintf(stderr, "re-decode failed: %s\n", err ? err->msg : "?");
		abort();
	}
	if (!noxs_proc_equal(&p, &q) || !host_equal(&p, &q))
		abort();
	noxs_proc_free(&q);
	/* The guest wipes the seed in its copy of the page once decoded: in
	 * bounds, and nothing but the seed changes. */
	noxs_page_wipe_seed(copy, size);
	if (noxs_page_decode(copy, size, &q, &err) < 0) {
		fprintf(stderr, "decode after wiping the seed failed: %s\n", err ? err->msg : "?");
		abort();
	}
	memset(p.seed, 0, sizeof(p.seed));
	if (!noxs_proc_equal(&p, &q) || !host_equal(&p, &q))
		abort();
	noxs_proc_free(&q);
	noxs_proc_free(&p);
	free(enc);
	free(copy);
	return 0;
}
