/* The noxs device page: encoder (host) and decoder (guest).  The byte layout
 * is documented in noxs/README.md; the offsets below are that table.
 *
 * The decoder never casts the buffer to a struct: every field is read with a
 * byte-wise little-endian getter, so neither alignment nor host byte order
 * matters, and every offset, count and size is bounded before it is used.
 */
#include "page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h" /* noxs_get_u32 and friends */

#define VERSION_MINOR 1u /* 1.1: the host section */

/* Header: fixed 128 bytes in version 1.0.  A later minor version may grow it
 * (header_size says by how much); a reader uses the fields it knows. */
#define HDR_SIZE 128u
#define H_MAGIC 0
#define H_MAJOR 4
#define H_MINOR 6
#define H_HDR_SIZE 8
#define H_TOTAL 12
#define H_FLAGS 16
#define H_UID 20
#define H_GID 24
#define H_UMASK 28
#define H_ROWS 32
#define H_COLS 34
#define H_CWD 36
#define H_HOSTNAME 40
#define H_SECT_OFF 44
#define H_SECT_COUNT 48
#define H_SECT_DESC_SIZE 52
#define H_CAPS 56 /* 5 x u64, up to 96; 96..127 reserved, zero */

/* Section descriptor: u16 id, u16 flags, u32 offset, u32 count, u32 size
 * (bytes per record; 1 for the byte areas). */
#define DESC_SIZE 16u
#define MAX_SECTIONS 64u
#define SECT_CRITICAL 1u /* a reader that does not know the id must refuse */

enum sect_id {
	SECT_STRINGS = 1,
	SECT_ARGS = 2,
	SECT_ENV = 3,
	SECT_GIDS = 4,
	SECT_RLIMITS = 5,
	SECT_MOUNTS = 6,
	SECT_SYSCTLS = 7,
	SECT_FILES = 8,
	SECT_DATA = 9,
	/* 10 and 11 are reserved (device descriptors, notification
	 * channels): unknown to this reader until they are defined. */
	SECT_HOST = 12,
	SECT_KNOWN_MAX = SECT_HOST,
};

/* Record sizes of version 1.1 (0: an id this reader does not know); a larger
 * size in a page is a later minor version that appended fields, which this
 * reader ignores. */
static const uint32_t rec_size[SECT_KNOWN_MAX + 1] = {
	[SECT_STRINGS] = 1, [SECT_ARGS] = 4,     [SECT_ENV] = 4,
	[SECT_GIDS] = 4,    [SECT_RLIMITS] = 24, [SECT_MOUNTS] = 24,
	[SECT_SYSCTLS] = 8, [SECT_FILES] = 24,   [SECT_DATA] = 1,
	[SECT_HOST] = 40,
};

static const char *const sect_name[SECT_KNOWN_MAX + 1] = {
	[SECT_STRINGS] = "strings", [SECT_ARGS] = "args",       [SECT_ENV] = "env",
	[SECT_GIDS] = "gids",       [SECT_RLIMITS] = "rlimits", [SECT_MOUNTS] = "mounts",
	[SECT_SYSCTLS] = "sysctls", [SECT_FILES] = "files",     [SECT_DATA] = "data",
	[SECT_HOST] = "host",
};

/* The sections the encoder writes, in table order.  The host section is last
 * and only there when the proc has it. */
static const uint8_t table_ids[] = { /* uint8_t: sizeof is the count */
	SECT_STRINGS, SECT_ARGS,    SECT_ENV,   SECT_GIDS, SECT_RLIMITS,
	SECT_MOUNTS,  SECT_SYSCTLS, SECT_FILES, SECT_DATA, SECT_HOST,
};

/* Host record (40 bytes): u64 realtime (ns since the epoch), then the seed. */
#define HOST_REALTIME 0
#define HOST_SEED 8

/* Flags 0..15 change what the guest must do: a reader refuses ones it does
 * not know.  Flags 16..31 are hints a reader may ignore. */
#define FLAGS_CRITICAL 0x0000ffffu
#define FLAGS_KNOWN (NOXS_F_TERMINAL | NOXS_F_ROOT_READONLY | NOXS_F_NO_NEW_PRIVS | NOXS_F_HAS_CAPS | NOXS_F_HAS_UMASK)

#define NO_INDEX UINT32_MAX

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)noxs_get_u32(p) | (uint64_t)noxs_get_u32(p + 4) << 32;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	noxs_put_u32(p, (uint32_t)v);
	noxs_put_u32(p + 4, (uint32_t)(v >> 32));
}

static bool sect_known(uint32_t id)
{
	return id >= 1 && id <= SECT_KNOWN_MAX && rec_size[id] != 0;
}

static uint32_t section_limit(enum sect_id id)
{
	if (id == SECT_HOST)
		return 1;
	return id == SECT_ARGS || id == SECT_ENV ? NOXS_MAX_STRINGS : NOXS_MAX_ITEMS;
}

/* Formats "env[3]", "mounts[2].fstype" or "cwd" for messages. */
static const char *item_name(char *out, size_t size, const char *what, uint32_t idx, const char *field)
{
	if (idx == NO_INDEX)
		snprintf(out, size, "%s", what);
	else if (field)
		snprintf(out, size, "%s[%u].%s", what, idx, field);
	else
		snprintf(out, size, "%s[%u]", what, idx);
	return out;
}

/* Checks that hold for both directions, so that whatever the encoder accepts
 * the decoder accepts too. */
static int proc_check(const struct noxs_proc *p, struct lv_error **err)
{
	const struct { const char *what; uint32_t n, max; } counts[] = {
		{ "args", p->nargs, NOXS_MAX_STRINGS },     { "env", p->nenv, NOXS_MAX_STRINGS },
		{ "gids", p->ngids, NOXS_MAX_ITEMS },       { "rlimits", p->nrlimits, NOXS_MAX_ITEMS },
		{ "mounts", p->nmounts, NOXS_MAX_ITEMS },   { "sysctls", p->nsysctls, NOXS_MAX_ITEMS },
		{ "files", p->nfiles, NOXS_MAX_ITEMS },
	};
	uint32_t i;

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		if (counts[i].n > counts[i].max)
			return lv_err_msg(err, EINVAL, "noxs page: %u %s exceed the limit of %u", counts[i].n,
					  counts[i].what, counts[i].max);
	if (p->flags & FLAGS_CRITICAL & ~FLAGS_KNOWN)
		return lv_err_msg(err, EINVAL, "noxs page: unknown flags 0x%x", p->flags & FLAGS_CRITICAL & ~FLAGS_KNOWN);
	if (p->nargs == 0)
		return lv_err_msg(err, EINVAL, "noxs page: no args (the process needs at least argv[0])");
	if (!p->args || (p->nenv && !p->env) || (p->ngids && !p->gids) || (p->nrlimits && !p->rlimits) ||
	    (p->nmounts && !p->mounts) || (p->nsysctls && !p->sysctls) || (p->nfiles && !p->files))
		return lv_err_msg(err, EINVAL, "noxs page: a section has a count but no array");
	for (i = 0; i < p->nargs; i++)
		if (!p->args[i])
			return lv_err_msg(err, EINVAL, "noxs page: args[%u] is NULL", i);
	for (i = 0; i < p->nenv; i++)
		if (!p->env[i])
			return lv_err_msg(err, EINVAL, "noxs page: env[%u] is NULL", i);
	if (!p->cwd || p->cwd[0] != '/')
		return lv_err_msg(err, EINVAL, "noxs page: cwd '%s' is not an absolute path", p->cwd ? p->cwd : "(null)");
	for (i = 0; i < p->nmounts; i++) {
		const struct noxs_mount *m = &p->mounts[i];
		if (!m->destination || m->destination[0] != '/')
			return lv_err_msg(err, EINVAL, "noxs page: mounts[%u].destination '%s' is not an absolute path", i,
					  m->destination ? m->destination : "(null)");
		if (!m->fstype || !m->fstype[0])
			return lv_err_msg(err, EINVAL, "noxs page: mounts[%u].fstype is empty", i);
	}
	for (i = 0; i < p->nsysctls; i++)
		if (!p->sysctls[i].key || !p->sysctls[i].key[0] || !p->sysctls[i].value)
			return lv_err_msg(err, EINVAL, "noxs page: sysctls[%u] has no key or value", i);
	for (i = 0; i < p->nfiles; i++) {
		const struct noxs_file *f = &p->files[i];
		if (!f->path || f->path[0] != '/')
			return lv_err_msg(err, EINVAL, "noxs page: files[%u].path '%s' is not an absolute path", i,
					  f->path ? f->path : "(null)");
		if (f->len && !f->data)
			return lv_err_msg(err, EINVAL, "noxs page: files[%u] (%s) has %u bytes but no data", i, f->path,
					  f->len);
	}
	return 0;
}

/* ---- decoder ---- */

struct sect {
	uint32_t off, count, size; /* size: bytes per record */
	int present;
};

struct reader {
	const uint8_t *buf;
	size_t len;
	struct sect s[SECT_KNOWN_MAX + 1];
};

static const uint8_t *rec(const struct reader *r, enum sect_id id, uint32_t i)
{
	return r->buf + r->s[id].off + (size_t)i * r->s[id].size;
}

static int get_str(const struct reader *r, uint32_t off, const char **out, const char *what, uint32_t idx,
		   const char *field, struct lv_error **err)
{
	const struct sect *s = &r->s[SECT_STRINGS];
	char name[64];

	if (off >= s->count)
		return lv_err_msg(err, EINVAL, "noxs page: %s string offset %u is past the end of the string area (%u bytes)",
				  item_name(name, sizeof(name), what, idx, field), off, s->count);
	if (!memchr(r->buf + s->off + off, '\0', s->count - off))
		return lv_err_msg(err, EINVAL, "noxs page: %s string runs past the end of the string area",
				  item_name(name, sizeof(name), what, idx, field));
	*out = (const char *)(r->buf + s->off + off);
	return 0;
}

static int read_header(struct reader *r, struct noxs_proc *p, struct lv_error **err)
{
	const uint8_t *b = r->buf;
	uint32_t magic, major, hdr_size, total, i;

	if (r->len < HDR_SIZE)
		return lv_err_msg(err, EINVAL, "noxs page: truncated: %zu bytes, the header alone is %u", r->len, HDR_SIZE);
	magic = noxs_get_u32(b + H_MAGIC);
	if (magic != NOXS_PAGE_MAGIC)
		return lv_err_msg(err, EINVAL, "noxs page: bad magic 0x%08x (expected 0x%08x)", magic, NOXS_PAGE_MAGIC);
	major = noxs_get_u16(b + H_MAJOR);
	if (major != NOXS_PAGE_VERSION)
		return lv_err_msg(err, EPROTONOSUPPORT, "noxs page: unsupported version %u.%u (this reader knows %u.%u)",
				  major, noxs_get_u16(b + H_MINOR), NOXS_PAGE_VERSION, VERSION_MINOR);
	total = noxs_get_u32(b + H_TOTAL);
	if (total != r->len)
		return lv_err_msg(err, EINVAL, "noxs page: header says %u bytes but the page is %zu", total, r->len);
	if (r->len > NOXS_PAGE_MAX)
		return lv_err_msg(err, EINVAL, "noxs page: %zu bytes is over the %u-byte limit", r->len, NOXS_PAGE_MAX);
	hdr_size = noxs_get_u32(b + H_HDR_SIZE);
	if (hdr_size < HDR_SIZE || hdr_size > total)
		return lv_err_msg(err, EINVAL, "noxs page: header size %u is not between %u and the page size %u", hdr_size,
				  HDR_SIZE, total);

	p->flags = noxs_get_u32(b + H_FLAGS);
	p->uid = noxs_get_u32(b + H_UID);
	p->gid = noxs_get_u32(b + H_GID);
	p->umask = noxs_get_u32(b + H_UMASK);
	p->rows = noxs_get_u16(b + H_ROWS);
	p->cols = noxs_get_u16(b + H_COLS);
	for (i = 0; i < 5; i++)
		p->caps[i] = get_u64(b + H_CAPS + 8 * i);
	return 0;
}

/* The guest wipes the seed in place once decoded (noxs_page_wipe_seed), so
 * the host record must not share a byte with anything the decoder reads:
 * the section table and the other sections.  (The header is before every
 * section.) */
static int host_disjoint(const struct reader *r, uint64_t table, uint64_t table_end, struct lv_error **err)
{
	const struct sect *h = &r->s[SECT_HOST];
	uint64_t start = h->off, end = (uint64_t)h->off + h->size; /* one record */

	if (start < table_end && table < end)
		return lv_err_msg(err, EINVAL, "noxs page: the host record overlaps the section table");
	for (uint32_t id = 1; id <= SECT_KNOWN_MAX; id++) {
		const struct sect *s = &r->s[id];
		uint64_t s_end = (uint64_t)s->off + (uint64_t)s->count * s->size;

		if (id != SECT_HOST && s->present && s_end > s->off && start < s_end && s->off < end)
			return lv_err_msg(err, EINVAL, "noxs page: the host record overlaps section %s", sect_name[id]);
	}
	return 0;
}

static int read_sections(struct reader *r, struct lv_error **err)
{
	const uint8_t *b = r->buf;
	uint32_t hdr_size = noxs_get_u32(b + H_HDR_SIZE);
	uint32_t table = noxs_get_u32(b + H_SECT_OFF);
	uint32_t n = noxs_get_u32(b + H_SECT_COUNT);
	uint32_t desc_size = noxs_get_u32(b + H_SECT_DESC_SIZE);
	uint32_t i;

	if (n > MAX_SECTIONS)
		return lv_err_msg(err, EINVAL, "noxs page: %u sections exceed the limit of %u", n, MAX_SECTIONS);
	if (desc_size < DESC_SIZE || desc_size > 256)
		return lv_err_msg(err, EINVAL, "noxs page: section descriptor size %u is not between %u and 256", desc_size,
				  DESC_SIZE);
	if (table < hdr_size || (uint64_t)table + (uint64_t)n * desc_size > r->len)
		return lv_err_msg(err, EINVAL, "noxs page: section table (%u entries at offset %u) lies outside the page",
				  n, table);

	for (i = 0; i < n; i++) {
		const uint8_t *d = b + table + (size_t)i * desc_size;
		uint16_t id = noxs_get_u16(d), flags = noxs_get_u16(d + 2);
		uint32_t off = noxs_get_u32(d + 4), count = noxs_get_u32(d + 8), size = noxs_get_u32(d + 12);
		uint64_t end = (uint64_t)off + (uint64_t)count * size;
		const char *name = sect_known(id) ? sect_name[id] : "unknown";

		if (sect_known(id)) {
			if (r->s[id].present)
				return lv_err_msg(err, EINVAL, "noxs page: section %s appears twice", name);
			if (rec_size[id] == 1 ? size != 1 : size < rec_size[id])
				return lv_err_msg(err, EINVAL, "noxs page: %s records are %u bytes, expected %s%u", name,
						  size, rec_size[id] == 1 ? "" : "at least ", rec_size[id]);
			if (id == SECT_HOST && count > 1)
				return lv_err_msg(err, EINVAL, "noxs page: host section has %u records, at most 1", count);
			if (rec_size[id] != 1 && count > section_limit(id))
				return lv_err_msg(err, EINVAL, "noxs page: %u %s exceed the limit of %u", count, name,
						  section_limit(id));
		} else if (flags & SECT_CRITICAL) {
			return lv_err_msg(err, EPROTONOSUPPORT,
					  "noxs page: section %u is marked critical but this reader does not know it", id);
		}
		if (off < hdr_size || end > r->len)
			return lv_err_msg(err, EINVAL,
					  "noxs page: section %u (%s): %u records of %u bytes at offset %u run past the end of the page (%zu bytes)",
					  id, name, count, size, off, r->len);
		if (!sect_known(id))
			continue; /* a later version's section: skip it */
		r->s[id] = (struct sect){ .off = off, .count = count, .size = size, .present = 1 };
	}
	if (r->s[SECT_HOST].count && host_disjoint(r, table, table + (uint64_t)n * desc_size, err) < 0)
		return -EINVAL;
	if (!r->s[SECT_STRINGS].present)
		return lv_err_msg(err, EINVAL, "noxs page: no string area");
	if (!r->s[SECT_ARGS].present || r->s[SECT_ARGS].count == 0)
		return lv_err_msg(err, EINVAL, "noxs page: no args (the process needs at least argv[0])");
	return 0;
}

static int read_strv(const struct reader *r, enum sect_id id, const char ***out, uint32_t *n, struct lv_error **err)
{
	uint32_t i, count = r->s[id].count;
	const char **v = calloc((size_t)count + 1, sizeof(*v));
	int ret;

	if (!v)
		return lv_err(err, ENOMEM, "noxs page: allocating %s", sect_name[id]);
	*out = v; /* owned by the proc from here: freed with it on failure */
	*n = count;
	for (i = 0; i < count; i++) {
		ret = get_str(r, noxs_get_u32(rec(r, id, i)), &v[i], sect_name[id], i, NULL, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Allocates a record array of count elements (at least one, so that an empty
 * section still yields a valid pointer). */
static void *alloc_recs(const struct reader *r, enum sect_id id, size_t elem, uint32_t *n, struct lv_error **err)
{
	void *a = calloc(r->s[id].count ? r->s[id].count : 1, elem);

	if (!a) {
		lv_err(err, ENOMEM, "noxs page: allocating %s", sect_name[id]);
		return NULL;
	}
	*n = r->s[id].count;
	return a;
}

static int read_records(const struct reader *r, struct noxs_proc *p, struct lv_error **err)
{
	const struct sect *data = &r->s[SECT_DATA];
	uint32_t i;
	int ret;

	if (!(p->gids = alloc_recs(r, SECT_GIDS, sizeof(*p->gids), &p->ngids, err)))
		return -ENOMEM;
	for (i = 0; i < p->ngids; i++)
		p->gids[i] = noxs_get_u32(rec(r, SECT_GIDS, i));

	if (!(p->rlimits = alloc_recs(r, SECT_RLIMITS, sizeof(*p->rlimits), &p->nrlimits, err)))
		return -ENOMEM;
	for (i = 0; i < p->nrlimits; i++) {
		const uint8_t *q = rec(r, SECT_RLIMITS, i);
		p->rlimits[i] = (struct noxs_rlimit){ noxs_get_u32(q), get_u64(q + 8), get_u64(q + 16) };
	}

	if (!(p->mounts = alloc_recs(r, SECT_MOUNTS, sizeof(*p->mounts), &p->nmounts, err)))
		return -ENOMEM;
	for (i = 0; i < p->nmounts; i++) {
		const uint8_t *q = rec(r, SECT_MOUNTS, i);
		struct noxs_mount *m = &p->mounts[i];
		if ((ret = get_str(r, noxs_get_u32(q), &m->destination, "mounts", i, "destination", err)) < 0 ||
		    (ret = get_str(r, noxs_get_u32(q + 4), &m->fstype, "mounts", i, "fstype", err)) < 0 ||
		    (ret = get_str(r, noxs_get_u32(q + 8), &m->source, "mounts", i, "source", err)) < 0 ||
		    (ret = get_str(r, noxs_get_u32(q + 12), &m->data, "mounts", i, "data", err)) < 0)
			return ret;
		m->flags = get_u64(q + 16);
	}

	if (!(p->sysctls = alloc_recs(r, SECT_SYSCTLS, sizeof(*p->sysctls), &p->nsysctls, err)))
		return -ENOMEM;
	for (i = 0; i < p->nsysctls; i++) {
		const uint8_t *q = rec(r, SECT_SYSCTLS, i);
		if ((ret = get_str(r, noxs_get_u32(q), &p->sysctls[i].key, "sysctls", i, "key", err)) < 0 ||
		    (ret = get_str(r, noxs_get_u32(q + 4), &p->sysctls[i].value, "sysctls", i, "value", err)) < 0)
			return ret;
	}

	if (!(p->files = alloc_recs(r, SECT_FILES, sizeof(*p->files), &p->nfiles, err)))
		return -ENOMEM;
	for (i = 0; i < p->nfiles; i++) {
		const uint8_t *q = rec(r, SECT_FILES, i);
		struct noxs_file *f = &p->files[i];
		uint32_t doff = noxs_get_u32(q + 16);

		if ((ret = get_str(r, noxs_get_u32(q), &f->path, "files", i, "path", err)) < 0)
			return ret;
		f->mode = noxs_get_u32(q + 4);
		f->uid = noxs_get_u32(q + 8);
		f->gid = noxs_get_u32(q + 12);
		f->len = noxs_get_u32(q + 20);
		if ((uint64_t)doff + f->len > data->count)
			return lv_err_msg(err, EINVAL,
					  "noxs page: files[%u] (%s) data (%u bytes at offset %u) runs past the end of the data area (%u bytes)",
					  i, f->path, f->len, doff, data->count);
		f->data = f->len ? r->buf + data->off + doff : NULL;
	}

	if (r->s[SECT_HOST].count) { /* 0 or 1: bounded in read_sections */
		const uint8_t *q = rec(r, SECT_HOST, 0);
		p->has_host = true;
		p->realtime_ns = get_u64(q + HOST_REALTIME);
		memcpy(p->seed, q + HOST_SEED, NOXS_SEED_SIZE);
	}
	return 0;
}

int noxs_page_decode(const uint8_t *buf, size_t len, struct noxs_proc *proc, struct lv_error **err)
{
	struct reader r = { .buf = buf, .len = len };
	int ret;

	memset(proc, 0, sizeof(*proc));
	if (!buf)
		return lv_err_msg(err, EINVAL, "noxs page: no buffer");
	if ((ret = read_header(&r, proc, err)) < 0 || (ret = read_sections(&r, err)) < 0)
		goto fail;
	if ((ret = get_str(&r, noxs_get_u32(buf + H_CWD), &proc->cwd, "cwd", NO_INDEX, NULL, err)) < 0 ||
	    (ret = get_str(&r, noxs_get_u32(buf + H_HOSTNAME), &proc->hostname, "hostname", NO_INDEX, NULL, err)) < 0)
		goto fail;
	if ((ret = read_strv(&r, SECT_ARGS, &proc->args, &proc->nargs, err)) < 0 ||
	    (ret = read_strv(&r, SECT_ENV, &proc->env, &proc->nenv, err)) < 0 ||
	    (ret = read_records(&r, proc, err)) < 0 || (ret = proc_check(proc, err)) < 0)
		goto fail;
	return 0;
fail:
	noxs_proc_free(proc);
	return ret;
}

void noxs_proc_free(struct noxs_proc *proc)
{
	if (!proc)
		return;
	free(proc->args);
	free(proc->env);
	free(proc->gids);
	free(proc->rlimits);
	free(proc->mounts);
	free(proc->sysctls);
	free(proc->files);
	explicit_bzero(proc, sizeof(*proc)); /* the seed included */
}

/* The page's host record, found by the same walk as the decoder's (so its
 * offset is as bounded), or NULL. */
static uint8_t *host_record(uint8_t *buf, size_t len)
{
	struct reader r = { .buf = buf, .len = len };
	struct noxs_proc hdr;

	if (!buf || read_header(&r, &hdr, NULL) < 0 || read_sections(&r, NULL) < 0 || !r.s[SECT_HOST].count)
		return NULL;
	return buf + r.s[SECT_HOST].off;
}

void noxs_page_wipe_seed(uint8_t *buf, size_t len)
{
	uint8_t *rec = host_record(buf, len);

	if (rec)
		explicit_bzero(rec + HOST_SEED, NOXS_SEED_SIZE);
}

int noxs_page_stamp_time(uint8_t *buf, size_t len, uint64_t realtime_ns)
{
	uint8_t *rec = host_record(buf, len);

	if (!rec)
		return -1;
	put_u64(rec + HOST_REALTIME, realtime_ns);
	return 0;
}

/* ---- encoder ---- */

/* Where the encoder puts things.  The emit pass runs twice: once with
 * buf == NULL to measure the string and data areas, once to write. */
struct writer {
	uint8_t *buf;
	size_t sect_off[SECT_KNOWN_MAX + 1];
	size_t str_len;  /* bytes used in the string area; offset 0 is "" */
	size_t data_len; /* bytes used in the data area */
};

static uint32_t put_str(struct writer *w, const char *s)
{
	size_t n, at;

	if (!s || !*s)
		return 0; /* the shared empty string */
	n = strlen(s) + 1;
	at = w->str_len;
	if (w->buf)
		memcpy(w->buf + w->sect_off[SECT_STRINGS] + at, s, n);
	w->str_len += n;
	return (uint32_t)at; /* only used when writing, after the size check */
}

static uint32_t put_data(struct writer *w, const uint8_t *data, uint32_t len)
{
	size_t at = w->data_len;

	if (w->buf && len)
		memcpy(w->buf + w->sect_off[SECT_DATA] + at, data, len);
	w->data_len += len;
	return (uint32_t)at;
}

static uint8_t *out_rec(struct writer *w, enum sect_id id, uint32_t i)
{
	return w->buf + w->sect_off[id] + (size_t)i * rec_size[id];
}

static void emit(const struct noxs_proc *p, struct writer *w)
{
	uint8_t *b = w->buf;
	uint32_t i, cwd, hostname;

	w->str_len = 1;
	w->data_len = 0;
	if (b)
		b[w->sect_off[SECT_STRINGS]] = '\0';
	cwd = put_str(w, p->cwd);
	hostname = put_str(w, p->hostname);
	for (i = 0; i < p->nargs; i++) {
		uint32_t s = put_str(w, p->args[i]);
		if (b)
			noxs_put_u32(out_rec(w, SECT_ARGS, i), s);
	}
	for (i = 0; i < p->nenv; i++) {
		uint32_t s = put_str(w, p->env[i]);
		if (b)
			noxs_put_u32(out_rec(w, SECT_ENV, i), s);
	}
	for (i = 0; b && i < p->ngids; i++)
		noxs_put_u32(out_rec(w, SECT_GIDS, i), p->gids[i]);
	for (i = 0; b && i < p->nrlimits; i++) {
		uint8_t *q = out_rec(w, SECT_RLIMITS, i);
		noxs_put_u32(q, p->rlimits[i].resource);
		put_u64(q + 8, p->rlimits[i].soft);
		put_u64(q + 16, p->rlimits[i].hard);
	}
	for (i = 0; i < p->nmounts; i++) {
		const struct noxs_mount *m = &p->mounts[i];
		uint32_t dst = put_str(w, m->destination), type = put_str(w, m->fstype);
		uint32_t src = put_str(w, m->source), data = put_str(w, m->data);
		if (b) {
			uint8_t *q = out_rec(w, SECT_MOUNTS, i);
			noxs_put_u32(q, dst);
			noxs_put_u32(q + 4, type);
			noxs_put_u32(q + 8, src);
			noxs_put_u32(q + 12, data);
			put_u64(q + 16, m->flags);
		}
	}
	for (i = 0; i < p->nsysctls; i++) {
		uint32_t k = put_str(w, p->sysctls[i].key), v = put_str(w, p->sysctls[i].value);
		if (b) {
			noxs_put_u32(out_rec(w, SECT_SYSCTLS, i), k);
			noxs_put_u32(out_rec(w, SECT_SYSCTLS, i) + 4, v);
		}
	}
	for (i = 0; i < p->nfiles; i++) {
		const struct noxs_file *f = &p->files[i];
		uint32_t path = put_str(w, f->path), data = put_data(w, f->data, f->len);
		if (b) {
			uint8_t *q = out_rec(w, SECT_FILES, i);
			noxs_put_u32(q, path);
			noxs_put_u32(q + 4, f->mode);
			noxs_put_u32(q + 8, f->uid);
			noxs_put_u32(q + 12, f->gid);
			noxs_put_u32(q + 16, data);
			noxs_put_u32(q + 20, f->len);
		}
	}
	if (b && p->has_host) {
		uint8_t *q = out_rec(w, SECT_HOST, 0);
		put_u64(q + HOST_REALTIME, p->realtime_ns);
		memcpy(q + HOST_SEED, p->seed, NOXS_SEED_SIZE);
	}
	if (b) {
		noxs_put_u32(b + H_CWD, cwd);
		noxs_put_u32(b + H_HOSTNAME, hostname);
	}
}

static size_t strv_bytes(const char *const *v, uint32_t n)
{
	size_t sum = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		sum += strlen(v[i]) + 1;
	return sum;
}

static int too_big(const struct noxs_proc *p, const struct writer *w, size_t total, struct lv_error **err)
{
	char largest[320] = "";
	uint32_t i, big = 0;

	for (i = 1; i < p->nfiles; i++)
		if (p->files[i].len > p->files[big].len)
			big = i;
	if (p->nfiles)
		snprintf(largest, sizeof(largest), ", largest %.256s with %u", p->files[big].path, p->files[big].len);
	return lv_err_msg(err, EFBIG,
			  "noxs page: encoded page would be %zu bytes, over the %u-byte limit "
			  "(file data %zu bytes%s; strings %zu bytes, of which args %zu and env %zu)",
			  total, NOXS_PAGE_MAX, w->data_len, largest, w->str_len, strv_bytes(p->args, p->nargs),
			  strv_bytes(p->env, p->nenv));
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

int noxs_page_encode(const struct noxs_proc *proc, uint8_t **out, size_t *outlen, struct lv_error **err)
{
	const uint32_t counts[SECT_KNOWN_MAX + 1] = {
		[SECT_ARGS] = proc->nargs,       [SECT_ENV] = proc->nenv,       [SECT_GIDS] = proc->ngids,
		[SECT_RLIMITS] = proc->nrlimits, [SECT_MOUNTS] = proc->nmounts, [SECT_SYSCTLS] = proc->nsysctls,
		[SECT_FILES] = proc->nfiles,     [SECT_HOST] = proc->has_host ? 1 : 0,
	};
	/* Every section of 1.0 always (empty ones too), the host one when
	 * there is one. */
	const uint32_t nsect = (uint32_t)sizeof(table_ids) - (proc->has_host ? 0 : 1);
	struct writer w = { 0 };
	size_t pos, total;
	uint32_t id, i;
	uint8_t *b;
	int ret;

	*out = NULL;
	*outlen = 0;
	if ((ret = proc_check(proc, err)) < 0)
		return ret;

	emit(proc, &w); /* measure */
	pos = HDR_SIZE + nsect * DESC_SIZE;
	for (id = SECT_ARGS; id <= SECT_KNOWN_MAX; id++) {
		if (id == SECT_DATA || !sect_known(id))
			continue; /* the byte areas go last */
		pos = align8(pos);
		w.sect_off[id] = pos;
		pos += (size_t)counts[id] * rec_size[id];
	}
	w.sect_off[SECT_STRINGS] = pos = align8(pos);
	pos += w.str_len;
	w.sect_off[SECT_DATA] = pos = align8(pos);
	total = pos + w.data_len;
	if (total > NOXS_PAGE_MAX)
		return too_big(proc, &w, total, err);

	b = calloc(1, total);
	if (!b)
		return lv_err(err, ENOMEM, "noxs page: allocating %zu bytes", total);
	noxs_put_u32(b + H_MAGIC, NOXS_PAGE_MAGIC);
	noxs_put_u16(b + H_MAJOR, NOXS_PAGE_VERSION);
	noxs_put_u16(b + H_MINOR, VERSION_MINOR);
	noxs_put_u32(b + H_HDR_SIZE, HDR_SIZE);
	noxs_put_u32(b + H_TOTAL, (uint32_t)total);
	noxs_put_u32(b + H_FLAGS, proc->flags);
	noxs_put_u32(b + H_UID, proc->uid);
	noxs_put_u32(b + H_GID, proc->gid);
	noxs_put_u32(b + H_UMASK, proc->umask);
	noxs_put_u16(b + H_ROWS, proc->rows);
	noxs_put_u16(b + H_COLS, proc->cols);
	noxs_put_u32(b + H_SECT_OFF, HDR_SIZE);
	noxs_put_u32(b + H_SECT_COUNT, nsect);
	noxs_put_u32(b + H_SECT_DESC_SIZE, DESC_SIZE);
	for (i = 0; i < 5; i++)
		put_u64(b + H_CAPS + 8 * i, proc->caps[i]);
	for (i = 0; i < nsect; i++) {
		uint8_t *d = b + HDR_SIZE + i * DESC_SIZE;
		uint32_t count;

		id = table_ids[i];
		count = id == SECT_STRINGS ? (uint32_t)w.str_len : id == SECT_DATA ? (uint32_t)w.data_len : counts[id];
		noxs_put_u16(d, (uint16_t)id);
		/* The host section only improves the guest (clock, RNG): a
		 * 1.0 reader may skip it (noxs/README.md says why). */
		noxs_put_u16(d + 2, id == SECT_HOST ? 0 : SECT_CRITICAL);
		noxs_put_u32(d + 4, (uint32_t)w.sect_off[id]);
		noxs_put_u32(d + 8, count);
		noxs_put_u32(d + 12, rec_size[id]);
	}
	w.buf = b;
	emit(proc, &w); /* write */
	*out = b;
	*outlen = total;
	return 0;
}
