/* The device page's decoder (the guest's side): reads a page into a struct
 * noxs_proc without ever casting the buffer to a struct (every field goes
 * through a byte-wise little-endian getter, so neither alignment nor byte
 * order matters) and bounds every offset, count and size before using it.
 * The layout is page_format.h; the rules shared with the encoder are
 * page.c's. */
#include "page_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_INDEX UINT32_MAX

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
		p->caps[i] = noxs_get_u64(b + H_CAPS + 8 * i);
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
			return lv_err_msg(err, EINVAL, "noxs page: the host record overlaps section %s", noxs_sect_name[id]);
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
		const char *name = noxs_sect_known(id) ? noxs_sect_name[id] : "unknown";

		if (noxs_sect_known(id)) {
			if (r->s[id].present)
				return lv_err_msg(err, EINVAL, "noxs page: section %s appears twice", name);
			if (noxs_rec_size[id] == 1 ? size != 1 : size < noxs_rec_size[id])
				return lv_err_msg(err, EINVAL, "noxs page: %s records are %u bytes, expected %s%u", name,
						  size, noxs_rec_size[id] == 1 ? "" : "at least ", noxs_rec_size[id]);
			if (id == SECT_HOST && count > 1)
				return lv_err_msg(err, EINVAL, "noxs page: host section has %u records, at most 1", count);
			if (noxs_rec_size[id] != 1 && count > noxs_section_limit(id))
				return lv_err_msg(err, EINVAL, "noxs page: %u %s exceed the limit of %u", count, name,
						  noxs_section_limit(id));
		} else if (flags & SECT_CRITICAL) {
			return lv_err_msg(err, EPROTONOSUPPORT,
					  "noxs page: section %u is marked critical but this reader does not know it", id);
		}
		if (off < hdr_size || end > r->len)
			return lv_err_msg(err, EINVAL,
					  "noxs page: section %u (%s): %u records of %u bytes at offset %u run past the end of the page (%zu bytes)",
					  id, name, count, size, off, r->len);
		if (!noxs_sect_known(id))
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
		return lv_err(err, ENOMEM, "noxs page: allocating %s", noxs_sect_name[id]);
	*out = v; /* owned by the proc from here: freed with it on failure */
	*n = count;
	for (i = 0; i < count; i++) {
		ret = get_str(r, noxs_get_u32(rec(r, id, i)), &v[i], noxs_sect_name[id], i, NULL, err);
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
		lv_err(err, ENOMEM, "noxs page: allocating %s", noxs_sect_name[id]);
		return NULL;
	}
	*n = r->s[id].count;
	return a;
}

/* Devices, channels, addresses and routes (1.2).  Their cross-references
 * (a channel's device, an address's net device) are checked afterwards by
 * noxs_proc_check, with the encoder's rules. */
static int read_devices(const struct reader *r, struct noxs_proc *p, struct lv_error **err)
{
	uint32_t i;
	int ret;

	if (!(p->devices = alloc_recs(r, SECT_DEVICES, sizeof(*p->devices), &p->ndevices, err)))
		return -ENOMEM;
	for (i = 0; i < p->ndevices; i++) {
		const uint8_t *q = rec(r, SECT_DEVICES, i);
		struct noxs_device *d = &p->devices[i];

		d->kind = noxs_get_u16(q + DEV_KIND);
		d->flags = noxs_get_u16(q + DEV_FLAGS);
		if ((ret = get_str(r, noxs_get_u32(q + DEV_NAME), &d->name, "devices", i, "name", err)) < 0)
			return ret;
		memcpy(d->mac, q + DEV_MAC, sizeof(d->mac));
		d->mtu = noxs_get_u16(q + DEV_MTU);
	}
	if (!(p->channels = alloc_recs(r, SECT_CHANNELS, sizeof(*p->channels), &p->nchannels, err)))
		return -ENOMEM;
	for (i = 0; i < p->nchannels; i++) {
		const uint8_t *q = rec(r, SECT_CHANNELS, i);

		p->channels[i].what = noxs_get_u16(q + CHAN_WHAT);
		p->channels[i].device = noxs_get_u16(q + CHAN_DEVICE);
	}
	if (!(p->addrs = alloc_recs(r, SECT_ADDRS, sizeof(*p->addrs), &p->naddrs, err)))
		return -ENOMEM;
	for (i = 0; i < p->naddrs; i++) {
		const uint8_t *q = rec(r, SECT_ADDRS, i);
		struct noxs_addr *a = &p->addrs[i];

		a->device = noxs_get_u16(q + ADDR_DEVICE);
		a->family = q[ADDR_FAMILY];
		a->prefix = q[ADDR_PREFIX];
		memcpy(a->addr, q + ADDR_ADDR, sizeof(a->addr));
	}
	if (!(p->routes = alloc_recs(r, SECT_ROUTES, sizeof(*p->routes), &p->nroutes, err)))
		return -ENOMEM;
	for (i = 0; i < p->nroutes; i++) {
		const uint8_t *q = rec(r, SECT_ROUTES, i);
		struct noxs_route *rt = &p->routes[i];

		rt->device = noxs_get_u16(q + ROUTE_DEVICE);
		rt->family = q[ROUTE_FAMILY];
		rt->prefix = q[ROUTE_PREFIX];
		rt->metric = noxs_get_u32(q + ROUTE_METRIC);
		memcpy(rt->dst, q + ROUTE_DST, sizeof(rt->dst));
		memcpy(rt->gateway, q + ROUTE_GATEWAY, sizeof(rt->gateway));
	}
	return 0;
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
		p->rlimits[i] = (struct noxs_rlimit){ noxs_get_u32(q), noxs_get_u64(q + 8), noxs_get_u64(q + 16) };
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
		m->flags = noxs_get_u64(q + 16);
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

	if ((ret = read_devices(r, p, err)) < 0)
		return ret;
	if (r->s[SECT_HOST].count) { /* 0 or 1: bounded in read_sections */
		const uint8_t *q = rec(r, SECT_HOST, 0);
		p->has_host = true;
		p->realtime_ns = noxs_get_u64(q + HOST_REALTIME);
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
	    (ret = read_records(&r, proc, err)) < 0 || (ret = noxs_proc_check(proc, err)) < 0)
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
	free(proc->devices);
	free(proc->channels);
	free(proc->addrs);
	free(proc->routes);
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
	noxs_put_u64(rec + HOST_REALTIME, realtime_ns);
	return 0;
}
