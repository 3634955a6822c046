/* Deep equality of two decoded noxs pages: shared by the unit test and the
 * page fuzzer's round-trip check. */
#ifndef TESTS_NOXS_EQUAL_H
#define TESTS_NOXS_EQUAL_H

#include <string.h>

#include "../../noxs/page.h"

static inline int noxs_streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static inline int noxs_proc_equal(const struct noxs_proc *a, const struct noxs_proc *b)
{
	uint32_t i;

	if (a->flags != b->flags || a->uid != b->uid || a->gid != b->gid || a->umask != b->umask || a->rows != b->rows ||
	    a->cols != b->cols || memcmp(a->caps, b->caps, sizeof(a->caps)) || !noxs_streq(a->cwd, b->cwd) ||
	    !noxs_streq(a->hostname ? a->hostname : "", b->hostname ? b->hostname : "") || a->nargs != b->nargs ||
	    a->nenv != b->nenv || a->ngids != b->ngids || a->nrlimits != b->nrlimits || a->nmounts != b->nmounts ||
	    a->nsysctls != b->nsysctls || a->nfiles != b->nfiles || a->ndevices != b->ndevices ||
	    a->nchannels != b->nchannels || a->naddrs != b->naddrs || a->nroutes != b->nroutes)
		return 0;
	for (i = 0; i < a->nargs; i++)
		if (!noxs_streq(a->args[i], b->args[i]))
			return 0;
	for (i = 0; i < a->nenv; i++)
		if (!noxs_streq(a->env[i], b->env[i]))
			return 0;
	for (i = 0; i < a->ngids; i++)
		if (a->gids[i] != b->gids[i])
			return 0;
	for (i = 0; i < a->nrlimits; i++)
		if (a->rlimits[i].resource != b->rlimits[i].resource || a->rlimits[i].soft != b->rlimits[i].soft ||
		    a->rlimits[i].hard != b->rlimits[i].hard)
			return 0;
	for (i = 0; i < a->nmounts; i++)
		if (!noxs_streq(a->mounts[i].destination, b->mounts[i].destination) ||
		    !noxs_streq(a->mounts[i].fstype, b->mounts[i].fstype) || !noxs_streq(a->mounts[i].source, b->mounts[i].source) ||
		    !noxs_streq(a->mounts[i].data, b->mounts[i].data) || a->mounts[i].flags != b->mounts[i].flags)
			return 0;
	for (i = 0; i < a->nsysctls; i++)
		if (!noxs_streq(a->sysctls[i].key, b->sysctls[i].key) || !noxs_streq(a->sysctls[i].value, b->sysctls[i].value))
			return 0;
	for (i = 0; i < a->nfiles; i++)
		if (!noxs_streq(a->files[i].path, b->files[i].path) || a->files[i].mode != b->files[i].mode ||
		    a->files[i].uid != b->files[i].uid || a->files[i].gid != b->files[i].gid ||
		    a->files[i].len != b->files[i].len ||
		    (a->files[i].len && memcmp(a->files[i].data, b->files[i].data, a->files[i].len)))
			return 0;
	for (i = 0; i < a->ndevices; i++)
		if (a->devices[i].kind != b->devices[i].kind || a->devices[i].flags != b->devices[i].flags ||
		    !noxs_streq(a->devices[i].name, b->devices[i].name) ||
		    memcmp(a->devices[i].mac, b->devices[i].mac, 6) || a->devices[i].mtu != b->devices[i].mtu)
			return 0;
	for (i = 0; i < a->nchannels; i++)
		if (a->channels[i].what != b->channels[i].what || a->channels[i].device != b->channels[i].device)
			return 0;
	for (i = 0; i < a->naddrs; i++)
		if (a->addrs[i].device != b->addrs[i].device || a->addrs[i].family != b->addrs[i].family ||
		    a->addrs[i].prefix != b->addrs[i].prefix || memcmp(a->addrs[i].addr, b->addrs[i].addr, 16))
			return 0;
	for (i = 0; i < a->nroutes; i++)
		if (a->routes[i].device != b->routes[i].device || a->routes[i].family != b->routes[i].family ||
		    a->routes[i].prefix != b->routes[i].prefix || a->routes[i].metric != b->routes[i].metric ||
		    memcmp(a->routes[i].dst, b->routes[i].dst, 16) || memcmp(a->routes[i].gateway, b->routes[i].gateway, 16))
			return 0;
	return 1;
}

#endif
