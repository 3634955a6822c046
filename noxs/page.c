/* The device page's rules: the record tables and the checks that the
 * encoder (page_encode.c) and the decoder (page_decode.c) both apply, so
 * that whatever one accepts the other does too.  The byte layout is in
 * page_format.h and documented in noxs/README.md. */
#include "page_format.h"

#include <string.h>

/* Record sizes of version 1.2 (0: an id this reader does not know); a larger
 * size in a page is a later minor version that appended fields, which this
 * reader ignores. */
const uint32_t noxs_rec_size[SECT_KNOWN_MAX + 1] = {
	[SECT_STRINGS] = 1, [SECT_ARGS] = 4,     [SECT_ENV] = 4,      [SECT_GIDS] = 4,
	[SECT_RLIMITS] = 24, [SECT_MOUNTS] = 24, [SECT_SYSCTLS] = 8,  [SECT_FILES] = 24,
	[SECT_DATA] = 1,    [SECT_DEVICES] = 16, [SECT_CHANNELS] = 8, [SECT_HOST] = 40,
	[SECT_ADDRS] = 24,  [SECT_ROUTES] = 40,
};

const char *const noxs_sect_name[SECT_KNOWN_MAX + 1] = {
	[SECT_STRINGS] = "strings", [SECT_ARGS] = "args",       [SECT_ENV] = "env",
	[SECT_GIDS] = "gids",       [SECT_RLIMITS] = "rlimits", [SECT_MOUNTS] = "mounts",
	[SECT_SYSCTLS] = "sysctls", [SECT_FILES] = "files",     [SECT_DATA] = "data",
	[SECT_DEVICES] = "devices", [SECT_CHANNELS] = "channels", [SECT_HOST] = "host",
	[SECT_ADDRS] = "addresses", [SECT_ROUTES] = "routes",
};

uint32_t noxs_section_limit(enum sect_id id)
{
	switch (id) {
	case SECT_HOST:
		return 1;
	case SECT_ARGS:
	case SECT_ENV:
		return NOXS_MAX_STRINGS;
	case SECT_DEVICES:
	case SECT_CHANNELS:
		return NOXS_MAX_DEVICES;
	default:
		return NOXS_MAX_ITEMS;
	}
}

bool noxs_section_critical(const struct noxs_proc *p, enum sect_id id)
{
	uint32_t i;

	switch (id) {
	case SECT_HOST:
	case SECT_CHANNELS:
		return false;
	case SECT_DEVICES:
		for (i = 0; i < p->ndevices; i++)
			if (p->devices[i].kind == NOXS_DEV_NET)
				return true;
		return false;
	default:
		return true;
	}
}

/* A Linux interface name: 1..15 bytes, none of them '/', ':' or white
 * space, and not "." or "..". */
static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NOXS_IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == ' ' || (*s >= '\t' && *s <= '\r'))
			return false;
	return true;
}

static bool addr_zero_from(const uint8_t *a, unsigned bit)
{
	for (unsigned b = bit; b < 128; b++)
		if (a[b / 8] & (0x80u >> (b % 8)))
			return false;
	return true;
}

/* An address of family 4 or 6 with a prefix length that fits it; IPv4 uses
 * the first 4 bytes and leaves the other 12 zero. */
static int inet_check(uint8_t family, uint8_t prefix, const uint8_t *addr, const char *what, uint32_t i,
		      struct lv_error **err)
{
	if (family != 4 && family != 6)
		return lv_err_msg(err, EINVAL, "noxs page: %s[%u].family %u is neither 4 nor 6", what, i, family);
	if (prefix > (family == 4 ? 32 : 128))
		return lv_err_msg(err, EINVAL, "noxs page: %s[%u].prefix /%u is too long for IPv%u", what, i, prefix,
				  family);
	if (family == 4 && !addr_zero_from(addr, 32))
		return lv_err_msg(err, EINVAL, "noxs page: %s[%u] is IPv4 but has bytes past the first 4", what, i);
	return 0;
}

static int net_device(const struct noxs_proc *p, uint16_t dev, const char *what, uint32_t i, struct lv_error **err)
{
	if (dev >= p->ndevices || p->devices[dev].kind != NOXS_DEV_NET)
		return lv_err_msg(err, EINVAL, "noxs page: %s[%u].device %u is not a net device", what, i, dev);
	return 0;
}

static int devices_check(const struct noxs_proc *p, struct lv_error **err)
{
	uint32_t i, seen = 0;
	int r;

	for (i = 0; i < p->ndevices; i++) {
		const struct noxs_device *d = &p->devices[i];
		static const uint8_t zero[6];

		if (!d->name || !d->name[0])
			return lv_err_msg(err, EINVAL, "noxs page: devices[%u].name is empty", i);
		if (d->kind != NOXS_DEV_NET)
			continue;
		if (!ifname_ok(d->name))
			return lv_err_msg(err, EINVAL, "noxs page: devices[%u].name '%s' is not an interface name", i,
					  d->name);
		if (memcmp(d->mac, zero, 6) == 0 || (d->mac[0] & 1))
			return lv_err_msg(err, EINVAL, "noxs page: devices[%u] (%s) has no unicast mac", i, d->name);
		if (d->mtu && d->mtu < 68)
			return lv_err_msg(err, EINVAL, "noxs page: devices[%u] (%s) mtu %u is under 68", i, d->name,
					  d->mtu);
	}
	for (i = 0; i < p->nchannels; i++) {
		const struct noxs_channel *c = &p->channels[i];

		if (c->device >= p->ndevices || p->devices[c->device].kind != NOXS_DEV_CONTROL)
			return lv_err_msg(err, EINVAL, "noxs page: channels[%u].device %u is not a control device", i,
					  c->device);
		if (c->what < 32) {
			if (seen & (1u << c->what))
				return lv_err_msg(err, EINVAL, "noxs page: channels[%u]: channel %u appears twice", i,
						  c->what);
			seen |= 1u << c->what;
		}
	}
	for (i = 0; i < p->naddrs; i++) {
		const struct noxs_addr *a = &p->addrs[i];

		if ((r = net_device(p, a->device, "addresses", i, err)) < 0 ||
		    (r = inet_check(a->family, a->prefix, a->addr, "addresses", i, err)) < 0)
			return r;
	}
	for (i = 0; i < p->nroutes; i++) {
		const struct noxs_route *rt = &p->routes[i];

		if ((r = net_device(p, rt->device, "routes", i, err)) < 0 ||
		    (r = inet_check(rt->family, rt->prefix, rt->dst, "routes", i, err)) < 0 ||
		    (r = inet_check(rt->family, 0, rt->gateway, "routes", i, err)) < 0)
			return r;
		if (!addr_zero_from(rt->dst, rt->prefix))
			return lv_err_msg(err, EINVAL, "noxs page: routes[%u]: the destination has bits set past /%u", i,
					  rt->prefix);
	}
	return 0;
}

int noxs_proc_check(const struct noxs_proc *p, struct lv_error **err)
{
	const struct { const char *what; uint32_t n, max; } counts[] = {
		{ "args", p->nargs, NOXS_MAX_STRINGS },     { "env", p->nenv, NOXS_MAX_STRINGS },
		{ "gids", p->ngids, NOXS_MAX_ITEMS },       { "rlimits", p->nrlimits, NOXS_MAX_ITEMS },
		{ "mounts", p->nmounts, NOXS_MAX_ITEMS },   { "sysctls", p->nsysctls, NOXS_MAX_ITEMS },
		{ "files", p->nfiles, NOXS_MAX_ITEMS },     { "devices", p->ndevices, NOXS_MAX_DEVICES },
		{ "channels", p->nchannels, NOXS_MAX_DEVICES }, { "addresses", p->naddrs, NOXS_MAX_ITEMS },
		{ "routes", p->nroutes, NOXS_MAX_ITEMS },
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
	    (p->nmounts && !p->mounts) || (p->nsysctls && !p->sysctls) || (p->nfiles && !p->files) ||
	    (p->ndevices && !p->devices) || (p->nchannels && !p->channels) || (p->naddrs && !p->addrs) ||
	    (p->nroutes && !p->routes))
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
	return devices_check(p, err);
}
