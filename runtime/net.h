/* The container's network: the engine's network namespace, taken over for
 * the VM (see README.md "Networking").
 *
 * The monitor runs in the namespace the spec names (linux.namespaces
 * "network": setns to its path, or a new one when it has none, which the
 * engine's prestart hook then fills, as docker's libnetwork-setkey does).
 * There it reads the engine's interface (a veth, "eth0"), creates a tap,
 * and redirects every frame between the two with TC (an ingress qdisc and
 * a u32 match-all filter with a mirred redirect on each, as Kata's
 * "tcfilter" model); the guest's NIC gets the interface's MAC, name, MTU,
 * IPv4 addresses and routes through the device page.  The tap goes with
 * the VMM; a janitor child removes the interface's ingress qdisc when the
 * monitor ends.  The namespace itself is the engine's. */
#ifndef RT_NET_H
#define RT_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/error.h"
#include "../noxs/page.h"
#include "hv.h"
#include "netlink.h"
#include "spec.h"

#define RT_NET_MAX_ADDRS 16
#define RT_NET_MAX_ROUTES 32

enum rt_net_mode {
	RT_NET_NONE,   /* the guest has loopback only: no network namespace entry,
	                * or one without a path and no create-time hook to fill it */
	RT_NET_NEW,    /* an entry without a path, and hooks: the monitor unshares a new one */
	RT_NET_PATH,   /* an entry with a path: the monitor joins it */
	RT_NET_LEGACY, /* annotation org.lightvm.tap: the caller wires the tap itself */
};

/* What the monitor found and built in the namespace. */
struct rt_net {
	bool has_nic;               /* an interface besides lo was found */
	char name[16];              /* its name: the guest NIC's */
	uint8_t mac[6];
	uint16_t mtu;
	struct noxs_addr addrs[RT_NET_MAX_ADDRS];
	uint32_t naddrs;
	struct noxs_route routes[RT_NET_MAX_ROUTES];
	uint32_t nroutes;
	uint32_t skipped_v6;        /* IPv6 addresses and routes left out (no IPv6 in the guest) */
	char tap[16];               /* the tap behind the guest's NIC */
	int tap_fd;                 /* -1: none */
	int if_index, tap_index;
	int janitor_fd;             /* its pipe: closing it (our end) wakes the janitor */
};

enum rt_net_mode rt_net_mode(const struct rt_spec *spec, bool legacy_tap);

/* In create, before anything is started: a path that is not a network
 * namespace we can join is an error naming linux.namespaces. */
int rt_net_check(const struct rt_spec *spec, struct lv_error **err);

/* In the monitor, first thing: joins or creates the namespace.  Then, with
 * hooks_fd >= 0 (the spec has createRuntime/prestart hooks, which the
 * creating process runs: docker's puts its veth in our new namespace),
 * writes one byte there and waits for one back before returning. */
int rt_net_enter(const struct rt_spec *spec, enum rt_net_mode mode, int hooks_fd, struct lv_error **err);

/* In the monitor, in the namespace, after the create-time hooks and before
 * the VM: finds the interface, builds the tap and the redirect and starts
 * the janitor.  No interface besides lo: n->has_nic false, nothing built. */
int rt_net_setup(struct rt_net *n, struct lv_error **err);

/* rt_net_setup, then, when it found an interface: vc gets the tap and
 * the interface's MAC, and *page (the one built at create, without a NIC)
 * is replaced by a new one (the caller frees it) listing the NIC, its
 * addresses and routes. */
int rt_net_prepare_vm(const struct rt_spec *spec, struct rt_net *n, struct hv_vm_config *vc, uint8_t **page,
		      size_t *page_len, struct lv_error **err);

/* Closes what the monitor holds (the tap fd once the VMM has its own). */
void rt_net_release_tap(struct rt_net *n);

/* Pure helpers, unit-tested: whether a route or address of the
 * interface goes to the guest, and the order routes are added in
 * (on-link before gateway routes, which need them). */
bool rt_net_keep_route(const struct rt_nl_route *r, int if_index);
void rt_net_sort_routes(struct noxs_route *r, uint32_t n);

#endif
