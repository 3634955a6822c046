/* Unit tests for the monitor's rtnetlink messages (runtime/netlink.c) and
 * the choice of what goes to the guest (runtime/net.c), TAP.
 *
 * `test_netlink --write-seeds DIR` writes dump datagrams (a link, an
 * address, a route, then DONE) to DIR as fuzzing seeds. */
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/net.h"
#include "../../runtime/netlink.h"
#include "tap.h"
#include "testutil.h"

/* The first attribute of type in [p, p+len), or NULL. */
static const struct rtattr *find_attr(const void *p, size_t len, uint16_t type)
{
	const struct rtattr *a = p;

	while (len >= sizeof(*a) && a->rta_len >= sizeof(*a) && a->rta_len <= len) {
		if (a->rta_type == type)
			return a;
		len -= RTA_ALIGN(a->rta_len) < len ? RTA_ALIGN(a->rta_len) : len;
		a = (const struct rtattr *)((const uint8_t *)a + RTA_ALIGN(a->rta_len));
	}
	return NULL;
}

static const struct rtattr *in_nest(const struct rtattr *nest, uint16_t type)
{
	return nest ? find_attr(RTA_DATA(nest), RTA_PAYLOAD(nest), type) : NULL;
}

static void test_tc_requests(void)
{
	struct rt_nl_msg m;
	const struct nlmsghdr *h = (const struct nlmsghdr *)m.buf;
	const struct tcmsg *t = NLMSG_DATA(h);
	const struct rtattr *kind, *opts, *sel, *act, *a1, *mir;
	const void *attrs = (const uint8_t *)m.buf + NLMSG_SPACE(sizeof(*t));

	rt_nl_build_ingress_qdisc(&m, 7, true);
	ok(h->nlmsg_type == RTM_NEWQDISC && (h->nlmsg_flags & (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL)) ==
					      (NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL),
	   "ingress qdisc: RTM_NEWQDISC, create, exclusive");
	ok(h->nlmsg_len == m.len && !m.overflow, "ingress qdisc: length %u", h->nlmsg_len);
	ok(t->tcm_ifindex == 7 && t->tcm_parent == TC_H_INGRESS && t->tcm_handle == 0xffff0000u,
	   "ingress qdisc: on ifindex 7, parent ffff:fff1, handle ffff:");
	kind = find_attr(attrs, m.len - NLMSG_SPACE(sizeof(*t)), TCA_KIND);
	ok(kind && strcmp(RTA_DATA(kind), "ingress") == 0, "ingress qdisc: kind ingress");
	rt_nl_build_ingress_qdisc(&m, 7, false);
	ok(h->nlmsg_type == RTM_DELQDISC && !(h->nlmsg_flags & NLM_F_CREATE), "ingress qdisc: the delete");

	rt_nl_build_redirect_filter(&m, 3, 9);
	ok(h->nlmsg_type == RTM_NEWTFILTER && !m.overflow && h->nlmsg_len == m.len, "redirect: RTM_NEWTFILTER");
	ok(t->tcm_ifindex == 3 && t->tcm_parent == 0xffff0000u && TC_H_MIN(t->tcm_info) == htons(ETH_P_ALL) &&
	   TC_H_MAJ(t->tcm_info) >> 16 == 1,
	   "redirect: on ifindex 3's ingress, protocol all, priority 1");
	kind = find_attr(attrs, m.len - NLMSG_SPACE(sizeof(*t)), TCA_KIND);
	ok(kind && strcmp(RTA_DATA(kind), "u32") == 0, "redirect: kind u32");
	opts = find_attr(attrs, m.len - NLMSG_SPACE(sizeof(*t)), TCA_OPTIONS);
	sel = in_nest(opts, TCA_U32_SEL);
	ok(sel && RTA_PAYLOAD(sel) == sizeof(struct tc_u32_sel) + sizeof(struct tc_u32_key), "redirect: one u32 key");
	if (sel) {
		const struct tc_u32_sel *s = RTA_DATA(sel);
		ok(s->nkeys == 1 && (s->flags & TC_U32_TERMINAL) && s->keys[0].mask == 0,
		   "redirect: terminal, mask 0 (matches every frame)");
	}
	act = in_nest(opts, TCA_U32_ACT);
	a1 = in_nest(act, 1);
	kind = in_nest(a1, TCA_ACT_KIND);
	ok(kind && strcmp(RTA_DATA(kind), "mirred") == 0, "redirect: action mirred");
	mir = in_nest(in_nest(a1, TCA_ACT_OPTIONS), TCA_MIRRED_PARMS);
	ok(mir && RTA_PAYLOAD(mir) == sizeof(struct tc_mirred), "redirect: mirred parameters");
	if (mir) {
		const struct tc_mirred *p = RTA_DATA(mir);
		ok(p->eaction == TCA_EGRESS_REDIR && p->ifindex == 9 && p->action == TC_ACT_STOLEN,
		   "redirect: egress redirect to ifindex 9, stolen");
	}
	/* Nests close with their whole length. */
	ok(opts && (const uint8_t *)opts + opts->rta_len == m.buf + m.len, "redirect: options nest spans the rest");
}

static void test_overflow(void)
{
	struct rt_nl_msg m;
	char big[2000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rt_nl_build_ingress_qdisc(&m, 1, true);
	rt_nl_put_str(&m, TCA_KIND, big);
	ok(m.overflow, "an attribute larger than the buffer marks the request");
	ok(((struct nlmsghdr *)m.buf)->nlmsg_len <= sizeof(m.buf), "and the length stays in bounds");
}

/* A record as the kernel would send it, built with our own builder. */
static size_t make_link(uint8_t *out, int ifindex, const char *name, uint16_t type, uint32_t flags, uint32_t mtu,
			const uint8_t *mac)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_type = type, .ifi_flags = flags };
	struct rt_nl_msg m;

	rt_nl_msg_init(&m, RTM_NEWLINK, NLM_F_MULTI, &ifi, sizeof(ifi));
	rt_nl_put_str(&m, IFLA_IFNAME, name);
	rt_nl_put_u32(&m, IFLA_MTU, mtu);
	if (mac)
		rt_nl_put(&m, IFLA_ADDRESS, mac, 6);
	memcpy(out, m.buf, m.len);
	return m.len;
}

static size_t make_addr(uint8_t *out, int ifindex, uint8_t family, uint8_t prefix, const void *addr)
{
	struct ifaddrmsg ifa = { .ifa_family = family, .ifa_prefixlen = prefix, .ifa_index = (uint32_t)ifindex };
	struct rt_nl_msg m;

	rt_nl_msg_init(&m, RTM_NEWADDR, NLM_F_MULTI, &ifa, sizeof(ifa));
	rt_nl_put(&m, IFA_ADDRESS, addr, family == AF_INET ? 4 : 16);
	rt_nl_put(&m, IFA_LOCAL, addr, family == AF_INET ? 4 : 16);
	memcpy(out, m.buf, m.len);
	return m.len;
}

static size_t make_route(uint8_t *out, int oif, uint8_t prefix, const char *dst, const char *gw, uint8_t proto)
{
	struct rtmsg rtm = { .rtm_family = AF_INET, .rtm_dst_len = prefix, .rtm_table = RT_TABLE_MAIN,
			     .rtm_protocol = proto, .rtm_type = RTN_UNICAST };
	struct rt_nl_msg m;
	struct in_addr a;

	rt_nl_msg_init(&m, RTM_NEWROUTE, NLM_F_MULTI, &rtm, sizeof(rtm));
	rt_nl_put_u32(&m, RTA_TABLE, RT_TABLE_MAIN);
	if (dst) {
		inet_pton(AF_INET, dst, &a);
		rt_nl_put(&m, RTA_DST, &a, 4);
	}
	if (gw) {
		inet_pton(AF_INET, gw, &a);
		rt_nl_put(&m, RTA_GATEWAY, &a, 4);
	}
	rt_nl_put_u32(&m, RTA_OIF, (uint32_t)oif);
	memcpy(out, m.buf, m.len);
	return m.len;
}

static size_t make_done(uint8_t *out, uint32_t seq)
{
	struct nlmsghdr h = { .nlmsg_len = NLMSG_LENGTH(4), .nlmsg_type = NLMSG_DONE, .nlmsg_seq = seq };

	memset(out, 0, NLMSG_SPACE(4));
	memcpy(out, &h, sizeof(h));
	return NLMSG_SPACE(4);
}

static const uint8_t mac[6] = { 0x02, 0x42, 0xac, 0x11, 0x00, 0x02 };

static void test_parsers(void)
{
	union {
		uint8_t b[512];
		uint32_t align;
	} u;
	struct rt_nl_link l;
	struct rt_nl_addr a;
	struct rt_nl_route r;
	uint8_t v4[4] = { 172, 17, 0, 2 };
	size_t n;

	n = make_link(u.b, 5, "eth0", ARPHRD_ETHER, IFF_UP, 1450, mac);
	ok(rt_nl_parse_link(u.b, n, &l) == 0 && l.ifindex == 5 && strcmp(l.name, "eth0") == 0 && l.mtu == 1450 &&
	   l.has_mac && memcmp(l.mac, mac, 6) == 0 && l.type == ARPHRD_ETHER,
	   "link: index, name, mtu, mac, type");
	ok(rt_nl_parse_link(u.b, n - 1, &l) == -EINVAL, "link: a record longer than its datagram is refused");
	/* A name without its NUL. */
	n = make_link(u.b, 5, "eth0", ARPHRD_ETHER, 0, 1500, mac);
	{
		struct rtattr *name = (struct rtattr *)(u.b + NLMSG_SPACE(sizeof(struct ifinfomsg)));
		memcpy(RTA_DATA(name), "eth0", 4);
		name->rta_len = RTA_LENGTH(4);
		((uint8_t *)RTA_DATA(name))[4] = 'x';
		ok(rt_nl_parse_link(u.b, n, &l) == -EINVAL, "link: a name without its NUL is refused");
	}
	n = make_addr(u.b, 5, AF_INET, 16, v4);
	ok(rt_nl_parse_addr(u.b, n, &a) == 0 && a.ifindex == 5 && a.family == AF_INET && a.prefix == 16 &&
	   memcmp(a.addr, v4, 4) == 0, "addr: 172.17.0.2/16 on 5");
	((struct ifaddrmsg *)NLMSG_DATA((struct nlmsghdr *)u.b))->ifa_prefixlen = 33;
	ok(rt_nl_parse_addr(u.b, n, &a) == -EINVAL, "addr: an IPv4 prefix of 33 is refused");
	n = make_addr(u.b, 5, AF_INET, 16, v4);
	{
		struct rtattr *at = (struct rtattr *)(u.b + NLMSG_SPACE(sizeof(struct ifaddrmsg)));
		at->rta_len = RTA_LENGTH(3);
		ok(rt_nl_parse_addr(u.b, n, &a) == -EINVAL, "addr: a 3-byte IPv4 address is refused");
		at->rta_len = 0xffff;
		ok(rt_nl_parse_addr(u.b, n, &a) == -EINVAL, "addr: an attribute past the record is not read");
	}
	n = make_route(u.b, 5, 0, NULL, "172.17.0.1", RTPROT_BOOT);
	ok(rt_nl_parse_route(u.b, n, &r) == 0 && r.oif == 5 && r.prefix == 0 && r.has_gateway &&
	   r.gateway[0] == 172 && r.gateway[3] == 1 && r.table == RT_TABLE_MAIN,
	   "route: default via 172.17.0.1 dev 5");
	ok(rt_net_keep_route(&r, 5), "route: a default route through the interface goes to the guest");
	ok(!rt_net_keep_route(&r, 6), "route: one through another interface does not");
	n = make_route(u.b, 5, 16, "172.17.0.0", NULL, RTPROT_KERNEL);
	ok(rt_nl_parse_route(u.b, n, &r) == 0 && !r.has_gateway && r.prefix == 16, "route: 172.17.0.0/16 dev 5");
	ok(!rt_net_keep_route(&r, 5), "route: the kernel's subnet route is left to the guest's kernel");
	ok(rt_nl_parse_route(u.b, 8, &r) == -EINVAL, "route: a truncated record is refused");
	ok(rt_nl_parse_addr(u.b, n, &a) == -EINVAL, "a route is not an address");
	n = make_route(u.b, 5, 0, NULL, NULL, RTPROT_BOOT);
	((struct rtmsg *)NLMSG_DATA((struct nlmsghdr *)u.b))->rtm_family = AF_UNIX;
	ok(rt_nl_parse_route(u.b, n, &r) == -EAFNOSUPPORT, "route: another family is told apart from a malformed one");
}

static int count_cb(const void *h, size_t len, void *arg)
{
	(void)h;
	(void)len;
	(*(int *)arg)++;
	return 0;
}

static void test_walk(void)
{
	union {
		uint8_t b[2048];
		uint32_t align;
	} u;
	uint8_t v4[4] = { 10, 0, 0, 2 };
	size_t n = 0;
	bool acked = false;
	int count = 0;

	n += make_link(u.b + n, 2, "eth0", ARPHRD_ETHER, 0, 1500, mac);
	n += make_addr(u.b + n, 2, AF_INET, 24, v4);
	for (size_t off = 0; off < n;) {
		struct nlmsghdr *h = (struct nlmsghdr *)(u.b + off);
		h->nlmsg_seq = 7;
		off += NLMSG_ALIGN(h->nlmsg_len);
	}
	ok(rt_nl_walk(u.b, n, 7, count_cb, &count, &acked) == 0 && count == 2, "walk: two records, no end yet");
	n += make_done(u.b + n, 7);
	count = 0;
	ok(rt_nl_walk(u.b, n, 7, count_cb, &count, &acked) == 1 && count == 2, "walk: DONE ends it");
	count = 0;
	ok(rt_nl_walk(u.b, n, 8, count_cb, &count, &acked) == 0 && count == 0, "walk: another request's records are skipped");
	ok(rt_nl_walk(u.b, n - 1, 7, count_cb, &count, &acked) == -EINVAL, "walk: a cut datagram is malformed");
	{
		struct {
			struct nlmsghdr h;
			struct nlmsgerr e;
		} err = { .h = { .nlmsg_len = sizeof(err), .nlmsg_type = NLMSG_ERROR, .nlmsg_seq = 3 },
			  .e = { .error = -EEXIST } };
		ok(rt_nl_walk((const uint8_t *)&err, sizeof(err), 3, NULL, NULL, &acked) == -EEXIST,
		   "walk: an error answer is its errno");
		err.e.error = 0;
		acked = false;
		ok(rt_nl_walk((const uint8_t *)&err, sizeof(err), 3, NULL, NULL, &acked) == 0 && acked, "walk: an ack");
		err.e.error = 5;
		ok(rt_nl_walk((const uint8_t *)&err, sizeof(err), 3, NULL, NULL, &acked) == -EINVAL,
		   "walk: a positive error is malformed");
		err.h.nlmsg_len = NLMSG_HDRLEN + 2;
		ok(rt_nl_walk((const uint8_t *)&err, sizeof(err), 3, NULL, NULL, &acked) == -EINVAL,
		   "walk: a short error record is malformed");
	}
}

static void test_sort_routes(void)
{
	struct noxs_route r[3] = { { .prefix = 0, .gateway = { 169, 254, 1, 1 } },
				   { .prefix = 32, .dst = { 169, 254, 1, 1 } },
				   { .prefix = 24, .dst = { 10, 1, 0, 0 }, .gateway = { 169, 254, 1, 1 } } };

	rt_net_sort_routes(r, 3);
	ok(r[0].prefix == 32 && r[1].prefix == 0 && r[2].prefix == 24,
	   "routes: the on-link route first, then the gateway routes in their order");
}

static int write_seeds(const char *dir)
{
	union {
		uint8_t b[2048];
		uint32_t align;
	} u;
	uint8_t v4[4] = { 10, 88, 0, 2 };
	size_t n = 0;

	n += make_link(u.b + n, 2, "eth0", ARPHRD_ETHER, IFF_UP, 1500, mac);
	n += make_addr(u.b + n, 2, AF_INET, 24, v4);
	n += make_route(u.b + n, 2, 0, NULL, "10.88.0.1", RTPROT_BOOT);
	n += make_done(u.b + n, 0);
	return write_seed_file(dir, "dump", u.b, n) < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	test_tc_requests();
	test_overflow();
	test_parsers();
	test_walk();
	test_sort_routes();
	return tap_done();
}
