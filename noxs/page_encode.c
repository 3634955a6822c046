/* The device page's encoder (the host's side): lays a struct noxs_proc out
 * as page_format.h and noxs/README.md describe, after the checks the decoder
 * applies too (page.c). */
#include "page_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	return w->buf + w->sect_off[id] + (size_t)i * noxs_rec_size[id];
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
		noxs_put_u64(q + 8, p->rlimits[i].soft);
		noxs_put_u64(q + 16, p->rlimits[i].hard);
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
			noxs_put_u64(q + 16, m->flags);
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
	for (i = 0; i < p->ndevices; i++) {
		const struct noxs_device *d = &p->devices[i];
		uint32_t name = put_str(w, d->name);
		if (b) {
			uint8_t *q = out_rec(w, SECT_DEVICES, i);
			noxs_put_u16(q + DEV_KIND, d->kind);
			noxs_put_u16(q + DEV_FLAGS, d->flags);
			noxs_put_u32(q + DEV_NAME, name);
			memcpy(q + DEV_MAC, d->mac, sizeof(d->mac));
			noxs_put_u16(q + DEV_MTU, d->mtu);
		}
	}
	for (i = 0; b && i < p->nchannels; i++) {
		uint8_t *q = out_rec(w, SECT_CHANNELS, i);
		noxs_put_u16(q + CHAN_WHAT, p->channels[i].what);
		noxs_put_u16(q + CHAN_DEVICE, p->channels[i].device);
	}
	for (i = 0; b && i < p->naddrs; i++) {
		uint8_t *q = out_rec(w, SECT_ADDRS, i);
		noxs_put_u16(q + ADDR_DEVICE, p->addrs[i].device);
		q[ADDR_FAMILY] = p->addrs[i].family;
		q[ADDR_PREFIX] = p->addrs[i].prefix;
		memcpy(q + ADDR_ADDR, p->addrs[i].addr, sizeof(p->addrs[i].addr));
	}
	for (i = 0; b && i < p->nroutes; i++) {
		const struct noxs_route *rt = &p->routes[i];
		uint8_t *q = out_rec(w, SECT_ROUTES, i);
		noxs_put_u16(q + ROUTE_DEVICE, rt->device);
		q[ROUTE_FAMILY] = rt->family;
		q[ROUTE_PREFIX] = rt->prefix;
		noxs_put_u32(q + ROUTE_METRIC, rt->metric);
		memcpy(q + ROUTE_DST, rt->dst, sizeof(rt->dst));
		memcpy(q + ROUTE_GATEWAY, rt->gateway, sizeof(rt->gateway));
	}
	if (b && p->has_host) {
		uint8_t *q = out_rec(w, SECT_HOST, 0);
		noxs_put_u64(q + HOST_REALTIME, p->realtime_ns);
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
		[SECT_ARGS] = proc->nargs,        [SECT_ENV] = proc->nenv,
		[SECT_GIDS] = proc->ngids,        [SECT_RLIMITS] = proc->nrlimits,
		[SECT_MOUNTS] = proc->nmounts,    [SECT_SYSCTLS] = proc->nsysctls,
		[SECT_FILES] = proc->nfiles,      [SECT_DEVICES] = proc->ndevices,
		[SECT_CHANNELS] = proc->nchannels, [SECT_HOST] = proc->has_host ? 1 : 0,
		[SECT_ADDRS] = proc->naddrs,      [SECT_ROUTES] = proc->nroutes,
	};
	uint8_t ids[SECT_KNOWN_MAX];
	uint32_t nsect = 0;
	struct writer w = { 0 };
	size_t pos, total;
	uint32_t id, i;
	uint8_t *b;
	int ret;

	*out = NULL;
	*outlen = 0;
	if ((ret = noxs_proc_check(proc, err)) < 0)
		return ret;

	/* The sections of 1.0 always (empty ones too, as a 1.0 encoder did);
	 * those of later versions only when they have records, so that a page
	 * without them stays readable by an older reader. */
	for (id = SECT_STRINGS; id <= SECT_KNOWN_MAX; id++)
		if (id <= SECT_DATA || counts[id])
			ids[nsect++] = (uint8_t)id;
	emit(proc, &w); /* measure */
	pos = HDR_SIZE + nsect * DESC_SIZE;
	for (id = SECT_ARGS; id <= SECT_KNOWN_MAX; id++) {
		if (id == SECT_DATA || !noxs_sect_known(id))
			continue; /* the byte areas go last */
		pos = align8(pos);
		w.sect_off[id] = pos;
		pos += (size_t)counts[id] * noxs_rec_size[id];
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
		noxs_put_u64(b + H_CAPS + 8 * i, proc->caps[i]);
	for (i = 0; i < nsect; i++) {
		uint8_t *d = b + HDR_SIZE + i * DESC_SIZE;
		uint32_t count;

		id = ids[i];
		count = id == SECT_STRINGS ? (uint32_t)w.str_len : id == SECT_DATA ? (uint32_t)w.data_len : counts[id];
		noxs_put_u16(d, (uint16_t)id);
		noxs_put_u16(d + 2, noxs_section_critical(proc, id) ? SECT_CRITICAL : 0);
		noxs_put_u32(d + 4, (uint32_t)w.sect_off[id]);
		noxs_put_u32(d + 8, count);
		noxs_put_u32(d + 12, noxs_rec_size[id]);
	}
	w.buf = b;
	emit(proc, &w); /* write */
	*out = b;
	*outlen = total;
	return 0;
}
