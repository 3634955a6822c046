/* libFuzzer target for the monitor's rtnetlink answer parsing
 * (runtime/netlink.c): one datagram walked with the link, address and
 * route parsers on each record, as net.c reads a dump.  Whatever is
 * accepted must be bounded: names NUL-terminated, prefixes within the
 * family's width.  Replay a file: fuzz_netlink FILE... */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../runtime/netlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int each(const void *h, size_t len, void *arg)
{
	struct rt_nl_link l;
	struct rt_nl_addr a;
	struct rt_nl_route r;

	(void)arg;
	if (rt_nl_parse_link(h, len, &l) == 0 && memchr(l.name, '\0', sizeof(l.name)) == NULL)
		abort();
	if (rt_nl_parse_addr(h, len, &a) == 0 && a.prefix > (a.family == AF_INET ? 32 : 128))
		abort();
	if (rt_nl_parse_route(h, len, &r) == 0 && r.prefix > (r.family == AF_INET ? 32 : 128))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The kernel's datagram lands in an aligned buffer, as in receive(). */
	static union {
		uint8_t b[65536];
		uint32_t align;
	} buf;
	bool acked = false;
	int r;

	if (size > sizeof(buf.b))
		return 0;
	memcpy(buf.b, data, size);
	r = rt_nl_walk(buf.b, size, 0, each, NULL, &acked);
	if (r > 1 || r < -4095)
		abort();
	return 0;
}
