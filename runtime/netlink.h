/* A small rtnetlink client for the monitor's network set-up (runtime/net.c):
 * message building, a request/ack and a dump walk, and parsers of the link,
 * address and route records the kernel dumps.  The parsers take the bytes
 * of one reply and bound every length in it; fuzz_netlink drives them. */
#ifndef RT_NETLINK_H
#define RT_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

#define RT_NL_MSG_MAX 1024

/* One request being built: a netlink header, a family header, attributes. */
struct rt_nl_msg {
	union {
		uint8_t buf[RT_NL_MSG_MAX];
		uint32_t align;
	};
	size_t len;
	bool overflow; /* an attribute did not fit: the request is refused */
};

void rt_nl_msg_init(struct rt_nl_msg *m, uint16_t type, uint16_t flags, const void *hdr, size_t hdr_len);
void rt_nl_put(struct rt_nl_msg *m, uint16_t type, const void *data, size_t len);
void rt_nl_put_str(struct rt_nl_msg *m, uint16_t type, const char *s);
void rt_nl_put_u32(struct rt_nl_msg *m, uint16_t type, uint32_t v);
/* A nested attribute: its offset, to close with rt_nl_nest_end. */
size_t rt_nl_nest_start(struct rt_nl_msg *m, uint16_t type);
void rt_nl_nest_end(struct rt_nl_msg *m, size_t at);

/* The requests of the TC redirect (Kata's "tcfilter" model): an ingress
 * qdisc on an interface, and on it a u32 filter matching every frame whose
 * action is mirred "egress redirect" to another interface. */
void rt_nl_build_ingress_qdisc(struct rt_nl_msg *m, int ifindex, bool add);
void rt_nl_build_redirect_filter(struct rt_nl_msg *m, int from_ifindex, int to_ifindex);

struct rt_nl_link {
	int ifindex;
	char name[16];
	uint16_t type;        /* ARPHRD_* */
	uint32_t flags;       /* IFF_* */
	uint32_t mtu;         /* 0: not reported */
	uint8_t mac[6];
	bool has_mac;
};

struct rt_nl_addr {
	int ifindex;
	uint8_t family;       /* AF_INET or AF_INET6 */
	uint8_t prefix;
	uint8_t scope;        /* RT_SCOPE_* */
	uint8_t addr[16];
};

struct rt_nl_route {
	uint8_t family;
	uint8_t prefix;       /* destination prefix length */
	uint8_t table, protocol, scope, type;
	int oif;              /* 0: none given */
	uint32_t metric;
	uint8_t dst[16];
	uint8_t gateway[16];
	bool has_gateway;
};

/* Each parses one message (h, of h_len bytes, the nlmsghdr included) of
 * RTM_NEWLINK / RTM_NEWADDR / RTM_NEWROUTE; -EINVAL when it is not one or
 * is malformed (no message: the caller names what it was reading);
 * -EAFNOSUPPORT for an address or route of a family other than IPv4/6. */
int rt_nl_parse_link(const void *h, size_t h_len, struct rt_nl_link *out);
int rt_nl_parse_addr(const void *h, size_t h_len, struct rt_nl_addr *out);
int rt_nl_parse_route(const void *h, size_t h_len, struct rt_nl_route *out);

/* Walks the messages of one datagram: cb gets each data message; the walk
 * stops with 1 at NLMSG_DONE, with the error of an NLMSG_ERROR (0 for an
 * ack: *acked set), with -EINVAL for a malformed datagram, or with what cb
 * returned if negative. */
int rt_nl_walk(const uint8_t *buf, size_t len, uint32_t seq,
	       int (*cb)(const void *h, size_t h_len, void *arg), void *arg, bool *acked);

struct rt_nl {
	int fd;
	uint32_t seq;
};

int rt_nl_open(struct rt_nl *nl, struct lv_error **err);
void rt_nl_close(struct rt_nl *nl);
/* Sends m with NLM_F_ACK and waits for the kernel's answer; what names the
 * request in an error. */
int rt_nl_request(struct rt_nl *nl, struct rt_nl_msg *m, const char *what, struct lv_error **err);
/* Sends a dump request m and calls cb for each record. */
int rt_nl_dump(struct rt_nl *nl, struct rt_nl_msg *m, int (*cb)(const void *h, size_t h_len, void *arg), void *arg,
	       const char *what, struct lv_error **err);

#endif
