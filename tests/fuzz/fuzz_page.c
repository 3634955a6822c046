/* libFuzzer target for the noxs device page decoder.  A page that decodes
 * must re-encode, and the re-encoded page must decode to the same proc.
 * Replay a file: fuzz_page FILE... (libFuzzer's own main). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../noxs/page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static int same(const struct noxs_proc *a, const struct noxs_proc *b)
{
	uint32_t i;

	if (a->flags != b->flags || a->uid != b->uid || a->gid != b->gid || a->umask != b->umask || a->rows != b->rows ||
	    a->cols != b->cols || memcmp(a->caps, b->caps, sizeof(a->caps)) || !streq(a->cwd, b->cwd) ||
	    !streq(a->hostname, b->hostname) || a->nargs != b->nargs || a->nenv != b->nenv || a->ngids != b->ngids ||
	    a->nrlimits != b->nrlimits || a->nmounts != b->nmounts || a->nsysctls != b->nsysctls ||
	    a->nfiles != b->nfiles)
		return 0;
	for (i = 0; i < a->nargs; i++)
		if (!streq(a->args[i], b->args[i]))
			return 0;
	if (a->args[a->nargs] || b->args[b->nargs] || a->env[a->nenv] || b->env[b->nenv])
		return 0;
	for (i = 0; i < a->nenv; i++)
		if (!streq(a->env[i], b->env[i]))
			return 0;
	for (i = 0; i < a->ngids; i++)
		if (a->gids[i] != b->gids[i])
			return 0;
	for (i = 0; i < a->nrlimits; i++)
		if (a->rlimits[i].resource != b->rlimits[i].resource || a->rlimits[i].soft != b->rlimits[i].soft ||
		    a->rlimits[i].hard != b->rlimits[i].hard)
			return 0;
	for (i = 0; i < a->nmounts; i++)
		if (!streq(a->mounts[i].destination, b->mounts[i].destination) ||
		    !streq(a->mounts[i].fstype, b->mounts[i].fstype) || !streq(a->mounts[i].source, b->mounts[i].source) ||
		    !streq(a->mounts[i].data, b->mounts[i].data) || a->mounts[i].flags != b->mounts[i].flags)
			return 0;
	for (i = 0; i < a->nsysctls; i++)
		if (!streq(a->sysctls[i].key, b->sysctls[i].key) || !streq(a->sysctls[i].value, b->sysctls[i].value))
			return 0;
	for (i = 0; i < a->nfiles; i++)
		if (!streq(a->files[i].path, b->files[i].path) || a->files[i].mode != b->files[i].mode ||
		    a->files[i].uid != b->files[i].uid || a->files[i].gid != b->files[i].gid ||
		    a->files[i].len != b->files[i].len ||
		    (a->files[i].len && memcmp(a->files[i].data, b->files[i].data, a->files[i].len)))
			return 0;
	return 1;
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
	 * re-encode (the re-encoding is never larger: strings are not padded). */
	if (noxs_page_encode(&p, &enc, &enclen, &err) < 0) {
		fprintf(stderr, "re-encode failed: %s\n", err ? err->msg : "?");
		abort();
	}
	if (noxs_page_decode(enc, enclen, &q, &err) < 0) {
		fprintf(stderr, "re-decode failed: %s\n", err ? err->msg : "?");
		abort();
	}
	if (!same(&p, &q))
		abort();
	noxs_proc_free(&q);
	noxs_proc_free(&p);
	free(enc);
	free(copy);
	return 0;
}
