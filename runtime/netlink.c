/* rtnetlink, as little of it as the monitor needs: see netlink.h. */
#include "netlink.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RT_NL_RECV_MAX 32768

void rt_nl_msg_init(struct rt_nl_msg *m, uint16_t type, uint16_t flags, const void *hdr, size_t hdr_len)
{
	struct nlmsghdr *h = (struct nlmsghdr *)m->buf;

	memset(m, 0, sizeof(*m));
	h->nlmsg_type = type;
	h->nlmsg_flags = (uint16_t)(flags | NLM_F_REQUEST);
	m->len = NLMSG_HDRLEN;
	if (hdr_len > sizeof(m->buf) - m->len) {
		m->overflow = true;
		return;
	}
	memcpy(m->buf + m->len, hdr, hdr_len);
	m->len += NLMSG_ALIGN(hdr_len);
	h->nlmsg_len = (uint32_t)m->len;
}

void rt_nl_put(struct rt_nl_msg *m, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)(m->buf + m->len);

	if (m->overflow || RTA_SPACE(len) > sizeof(m->buf) - m->len || RTA_LENGTH(len) > UINT16_MAX) {
		m->overflow = true;
		return;
	}
	a->rta_type = type;
	a->rta_len = (uint16_t)RTA_LENGTH(len);
	memset(RTA_DATA(a), 0, RTA_ALIGN(len));
	if (len)
		memcpy(RTA_DATA(a), data, len);
	m->len += RTA_SPACE(len);
	((struct nlmsghdr *)m->buf)->nlmsg_len = (uint32_t)m->len;
}

void rt_nl_put_str(struct rt_nl_msg *m, uint16_t type, const char *s)
{
	rt_nl_put(m, type, s, strlen(s) + 1);
}

void rt_nl_put_u32(struct rt_nl_msg *m, uint16_t type, uint32_t v)
{
	rt_nl_put(m, type, &v, sizeof(v));
}

size_t rt_nl_nest_start(struct rt_nl_msg *m, uint16_t type)
{
	size_t at = m->len;

	rt_nl_put(m, type, NULL, 0);
	return at;
}

void rt_nl_nest_end(struct rt_nl_msg *m, size_t at)
{
	struct rtattr *a = (struct rtattr *)(m->buf + at);

	if (m->overflow || m->len - at > UINT16_MAX) {
		m->overflow = true;
		return;
	}
	a->rta_len = (uint16_t)(m->len - at);
}

void rt_nl_build_ingress_qdisc(struct rt_nl_msg *m, int ifindex, bool add)
{
	struct tcmsg t = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = ifindex,
		.tcm_handle = TC_H_MAKE(TC_H_INGRESS, 0),
		.tcm_parent = TC_H_INGRESS,
	};

	rt_nl_msg_init(m, add ? RTM_NEWQDISC : RTM_DELQDISC, add ? NLM_F_CREATE | NLM_F_EXCL : 0, &t, sizeof(t));
	rt_nl_put_str(m, TCA_KIND, "ingress");
}

/* As `tc filter add dev FROM parent ffff: protocol all u32 match u8 0 0
 * action mirred egress redirect dev TO`: one key of mask 0 matches every
 * frame (this host kernel has no cls_matchall). */
void rt_nl_build_redirect_filter(struct rt_nl_msg *m, int from_ifindex, int to_ifindex)
{
	struct tcmsg t = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = from_ifindex,
		.tcm_parent = TC_H_MAKE(TC_H_INGRESS, 0),
		.tcm_info = TC_H_MAKE(1u << 16, htons(ETH_P_ALL)), /* priority 1, every protocol */
	};
	/* A selector and its one key (all zero: mask 0 at offset 0). */
	const struct tc_u32_sel head = { .flags = TC_U32_TERMINAL, .nkeys = 1 };
	uint8_t sel[sizeof(struct tc_u32_sel) + sizeof(struct tc_u32_key)] = { 0 };
	struct tc_mirred mirred = {
		.action = TC_ACT_STOLEN,
		.eaction = TCA_EGRESS_REDIR,
		.ifindex = (uint32_t)to_ifindex,
	};
	size_t opts, acts, act, aopts;

	rt_nl_msg_init(m, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, &t, sizeof(t));
	rt_nl_put_str(m, TCA_KIND, "u32");
	opts = rt_nl_nest_start(m, TCA_OPTIONS);
	memcpy(sel, &head, sizeof(head));
	rt_nl_put(m, TCA_U32_SEL, sel, sizeof(sel));
	acts = rt_nl_nest_start(m, TCA_U32_ACT);
	act = rt_nl_nest_start(m, 1); /* the first action of the list */
	rt_nl_put_str(m, TCA_ACT_KIND, "mirred");
	aopts = rt_nl_nest_start(m, TCA_ACT_OPTIONS);
	rt_nl_put(m, TCA_MIRRED_PARMS, &mirred, sizeof(mirred));
	rt_nl_nest_end(m, aopts);
	rt_nl_nest_end(m, act);
	rt_nl_nest_end(m, acts);
	rt_nl_nest_end(m, opts);
}

/* The attributes after a family header of hdr_len bytes, bounded by h_len. */
static int attrs_of(const void *h, size_t h_len, size_t hdr_len, const struct rtattr **first, size_t *left)
{
	const struct nlmsghdr *n = h;

	if (h_len < NLMSG_HDRLEN || n->nlmsg_len > h_len || n->nlmsg_len < NLMSG_LENGTH(hdr_len))
		return -EINVAL;
	*first = (const struct rtattr *)((const uint8_t *)h + NLMSG_SPACE(hdr_len));
	*left = n->nlmsg_len >= NLMSG_SPACE(hdr_len) ? n->nlmsg_len - NLMSG_SPACE(hdr_len) : 0;
	return 0;
}

#define FOR_ATTRS(a, first, left)                                                                            \
	for (size_t rem_ = (left), adv_ = 0; (a) = (const struct rtattr *)((const uint8_t *)(first) + adv_),  \
	     rem_ >= sizeof(struct rtattr) && (a)->rta_len >= sizeof(struct rtattr) && (a)->rta_len <= rem_; \
	     rem_ -= RTA_ALIGN((a)->rta_len) < rem_ ? RTA_ALIGN((a)->rta_len) : rem_,                         \
	     adv_ += RTA_ALIGN((a)->rta_len))

static size_t payload_len(const struct rtattr *a)
{
	return (size_t)a->rta_len - RTA_LENGTH(0);
}

/* An address attribute: exactly 4 or 16 bytes, as the family says. */
static int get_addr(const struct rtattr *a, uint8_t family, uint8_t out[16])
{
	size_t want = family == AF_INET ? 4 : 16;

	if (payload_len(a) != want)
		return -EINVAL;
	memcpy(out, RTA_DATA(a), want);
	return 0;
}

static int get_u32(const struct rtattr *a, uint32_t *out)
{
	if (payload_len(a) < sizeof(*out))
		return -EINVAL;
	memcpy(out, RTA_DATA(a), sizeof(*out));
	return 0;
}

int rt_nl_parse_link(const void *h, size_t h_len, struct rt_nl_link *out)
{
	const struct nlmsghdr *n = h; /* 4-byte aligned, as rt_nl_walk hands it */
	const struct rtattr *first, *a;
	struct ifinfomsg ifi;
	size_t left;

	memset(out, 0, sizeof(*out));
	if (attrs_of(h, h_len, sizeof(ifi), &first, &left) < 0 || n->nlmsg_type != RTM_NEWLINK)
		return -EINVAL;
	memcpy(&ifi, NLMSG_DATA(n), sizeof(ifi));
	out->ifindex = ifi.ifi_index;
	out->type = ifi.ifi_type;
	out->flags = ifi.ifi_flags;
	FOR_ATTRS(a, first, left) {
		size_t plen = payload_len(a);

		switch (a->rta_type) {
		case IFLA_IFNAME:
			if (plen == 0 || plen > sizeof(out->name) || memchr(RTA_DATA(a), '\0', plen) == NULL)
				return -EINVAL;
			memcpy(out->name, RTA_DATA(a), plen);
			break;
		case IFLA_MTU:
			if (get_u32(a, &out->mtu) < 0)
				return -EINVAL;
			break;
		case IFLA_ADDRESS:
			if (plen == sizeof(out->mac)) {
				memcpy(out->mac, RTA_DATA(a), sizeof(out->mac));
				out->has_mac = true;
			}
			break;
		}
	}
	return out->name[0] && out->ifindex > 0 ? 0 : -EINVAL;
}

int rt_nl_parse_addr(const void *h, size_t h_len, struct rt_nl_addr *out)
{
	const struct nlmsghdr *n = h;
	const struct rtattr *first, *a;
	struct ifaddrmsg ifa;
	bool have = false, have_local = false;
	size_t left;

	memset(out, 0, sizeof(*out));
	if (attrs_of(h, h_len, sizeof(ifa), &first, &left) < 0 || n->nlmsg_type != RTM_NEWADDR)
		return -EINVAL;
	memcpy(&ifa, NLMSG_DATA(n), sizeof(ifa));
	if (ifa.ifa_family != AF_INET && ifa.ifa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (ifa.ifa_prefixlen > (ifa.ifa_family == AF_INET ? 32 : 128))
		return -EINVAL;
	out->ifindex = (int)ifa.ifa_index;
	out->family = ifa.ifa_family;
	out->prefix = ifa.ifa_prefixlen;
	out->scope = ifa.ifa_scope;
	FOR_ATTRS(a, first, left) {
		/* IFA_LOCAL is the interface's own address; IFA_ADDRESS is the
		 * peer's on a point-to-point link, else the same. */
		if (a->rta_type == IFA_LOCAL) {
			if (get_addr(a, out->family, out->addr) < 0)
				return -EINVAL;
			have = have_local = true;
		} else if (a->rta_type == IFA_ADDRESS && !have_local) {
			if (get_addr(a, out->family, out->addr) < 0)
				return -EINVAL;
			have = true;
		}
	}
	return have && out->ifindex > 0 ? 0 : -EINVAL;
}

int rt_nl_parse_route(const void *h, size_t h_len, struct rt_nl_route *out)
{
	const struct nlmsghdr *n = h;
	const struct rtattr *first, *a;
	struct rtmsg rtm;
	size_t left;
	uint32_t v;

	memset(out, 0, sizeof(*out));
	if (attrs_of(h, h_len, sizeof(rtm), &first, &left) < 0 || n->nlmsg_type != RTM_NEWROUTE)
		return -EINVAL;
	memcpy(&rtm, NLMSG_DATA(n), sizeof(rtm));
	if (rtm.rtm_family != AF_INET && rtm.rtm_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (rtm.rtm_dst_len > (rtm.rtm_family == AF_INET ? 32 : 128))
		return -EINVAL;
	out->family = rtm.rtm_family;
	out->prefix = rtm.rtm_dst_len;
	out->table = rtm.rtm_table;
	out->protocol = rtm.rtm_protocol;
	out->scope = rtm.rtm_scope;
	out->type = rtm.rtm_type;
	FOR_ATTRS(a, first, left) {
		switch (a->rta_type) {
		case RTA_TABLE:
			if (get_u32(a, &v) < 0)
				return -EINVAL;
			out->table = v > 255 ? RT_TABLE_UNSPEC : (uint8_t)v; /* only main matters to us */
			break;
		case RTA_DST:
			if (get_addr(a, out->family, out->dst) < 0)
				return -EINVAL;
			break;
		case RTA_GATEWAY:
			if (get_addr(a, out->family, out->gateway) < 0)
				return -EINVAL;
			out->has_gateway = true;
			break;
		case RTA_OIF:
			if (get_u32(a, &v) < 0 || v > INT32_MAX)
				return -EINVAL;
			out->oif = (int)v;
			break;
		case RTA_PRIORITY:
			if (get_u32(a, &out->metric) < 0)
				return -EINVAL;
			break;
		}
	}
	return 0;
}

int rt_nl_walk(const uint8_t *buf, size_t len, uint32_t seq,
	       int (*cb)(const void *h, size_t h_len, void *arg), void *arg, bool *acked)
{
	size_t off = 0;

	while (len - off >= NLMSG_HDRLEN) {
		struct nlmsghdr n;
		int r;

		memcpy(&n, buf + off, sizeof(n));
		if (n.nlmsg_len < NLMSG_HDRLEN || n.nlmsg_len > len - off)
			return -EINVAL;
		if (n.nlmsg_seq != seq) {
			/* Not ours (a late answer to an earlier request). */
		} else if (n.nlmsg_type == NLMSG_DONE) {
			return 1;
		} else if (n.nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr e;

			if (n.nlmsg_len < NLMSG_LENGTH(sizeof(e)))
				return -EINVAL;
			memcpy(&e, buf + off + NLMSG_HDRLEN, sizeof(e));
			if (e.error > 0 || e.error < -4095)
				return -EINVAL;
			if (e.error == 0 && acked)
				*acked = true;
			return e.error;
		} else if (cb && n.nlmsg_type >= RTM_BASE) {
			/* buf is 4-byte aligned and so is every message in it. */
			r = cb(buf + off, n.nlmsg_len, arg);
			if (r < 0)
				return r;
		}
		off += NLMSG_ALIGN(n.nlmsg_len) < len - off ? NLMSG_ALIGN(n.nlmsg_len) : len - off;
	}
	return off == len ? 0 : -EINVAL;
}

int rt_nl_open(struct rt_nl *nl, struct lv_error **err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int one = 1;

	nl->seq = 1;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return lv_err(err, errno, "rtnetlink socket");
	/* Ask for the kernel's own words (extended ack) where it has them. */
	(void)setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		rt_nl_close(nl);
		return lv_err(err, e, "rtnetlink bind");
	}
	return 0;
}

void rt_nl_close(struct rt_nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

static int send_msg(struct rt_nl *nl, struct rt_nl_msg *m, uint32_t *seq, const char *what, struct lv_error **err)
{
	struct nlmsghdr *h = (struct nlmsghdr *)m->buf;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	if (m->overflow)
		return lv_err_msg(err, EMSGSIZE, "%s: request too large", what);
	*seq = h->nlmsg_seq = ++nl->seq;
	if (sendto(nl->fd, m->buf, m->len, 0, (struct sockaddr *)&sa, sizeof(sa)) != (ssize_t)m->len)
		return lv_err(err, errno, "%s: rtnetlink send", what);
	return 0;
}

/* Receives datagrams until the walk ends (done, error or ack). */
static int receive(struct rt_nl *nl, uint32_t seq, int (*cb)(const void *h, size_t h_len, void *arg), void *arg,
		   const char *what, struct lv_error **err)
{
	union {
		uint8_t b[RT_NL_RECV_MAX];
		struct nlmsghdr align;
	} buf;

	for (;;) {
		bool acked = false;
		ssize_t n = recv(nl->fd, buf.b, sizeof(buf.b), 0);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return lv_err(err, errno, "%s: rtnetlink receive", what);
		r = rt_nl_walk(buf.b, (size_t)n, seq, cb, arg, &acked);
		if (r == 1 || acked)
			return 0;
		if (r == -EINVAL)
			return lv_err_msg(err, EPROTO, "%s: a malformed rtnetlink answer", what);
		if (r < 0)
			return lv_err(err, -r, "%s", what);
	}
}

int rt_nl_request(struct rt_nl *nl, struct rt_nl_msg *m, const char *what, struct lv_error **err)
{
	uint32_t seq = 0;
	int r;

	((struct nlmsghdr *)m->buf)->nlmsg_flags |= NLM_F_ACK;
	r = send_msg(nl, m, &seq, what, err);
	return r < 0 ? r : receive(nl, seq, NULL, NULL, what, err);
}

int rt_nl_dump(struct rt_nl *nl, struct rt_nl_msg *m, int (*cb)(const void *h, size_t h_len, void *arg), void *arg,
	       const char *what, struct lv_error **err)
{
	uint32_t seq = 0;
	int r;

	((struct nlmsghdr *)m->buf)->nlmsg_flags |= NLM_F_DUMP;
	r = send_msg(nl, m, &seq, what, err);
	return r < 0 ? r : receive(nl, seq, cb, arg, what, err);
}
