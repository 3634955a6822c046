/* The container's network namespace, taken over for the VM: see net.h. */
#include "net.h"

#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../vmm/tap.h"
#include "page_build.h"

#define TAP_TEMPLATE "lvtap%d"

enum rt_net_mode rt_net_mode(const struct rt_spec *spec, bool legacy_tap)
{
	if (legacy_tap)
		return RT_NET_LEGACY;
	if (spec->netns_path)
		return RT_NET_PATH;
	/* A new namespace is only worth making when a createRuntime or
	 * prestart hook may fill it before the VM is launched: the VM takes
	 * what is there then, and an empty one gives the guest lo only,
	 * which it has anyway. */
	return spec->has_netns && (spec->hooks.n_create_runtime || spec->hooks.n_prestart) ? RT_NET_NEW
											    : RT_NET_NONE;
}

static int open_netns(const char *path, struct lv_error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	int type;

	if (fd < 0)
		return lv_err(err, errno, "linux.namespaces: network namespace \"%s\"", path);
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0 || type != CLONE_NEWNET)
		return lv_err_msg(err, EINVAL, "linux.namespaces: \"%s\" is not a network namespace", path);
	return lv_take_fd(&fd);
}

int rt_net_check(const struct rt_spec *spec, struct lv_error **err)
{
	int fd;

	if (!spec->netns_path)
		return 0;
	fd = open_netns(spec->netns_path, err);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

static int wait_hooks(int fd, struct lv_error **err)
{
	char c = 'n';
	ssize_t n;

	if (write(fd, &c, 1) != 1)
		return lv_err(err, errno, "report the network namespace to the creating process");
	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	close(fd);
	return n == 1 ? 0 : lv_err_msg(err, ECANCELED, "the create-time hooks did not complete");
}

int rt_net_enter(const struct rt_spec *spec, enum rt_net_mode mode, int hooks_fd, struct lv_error **err)
{
	if (mode == RT_NET_PATH) {
		cleanup_close int fd = open_netns(spec->netns_path, err);

		if (fd < 0)
			return fd;
		if (setns(fd, CLONE_NEWNET) < 0)
			return lv_err(err, errno, "linux.namespaces: join the network namespace \"%s\"",
				      spec->netns_path);
	} else if (mode == RT_NET_NEW) {
		if (unshare(CLONE_NEWNET) < 0)
			return lv_err(err, errno, "linux.namespaces: a new network namespace");
	}
	return hooks_fd >= 0 ? wait_hooks(hooks_fd, err) : 0;
}

struct gather {
	struct rt_net *n;
	struct rt_nl_link link;
	bool found;
	int bad;
};

/* The first Ethernet interface other than lo (the engine's veth). */
static int on_link(const void *h, size_t h_len, void *arg)
{
	struct gather *g = arg;
	struct rt_nl_link l;

	if (rt_nl_parse_link(h, h_len, &l) < 0) {
		g->bad++;
		return 0;
	}
	if (g->found || (l.flags & IFF_LOOPBACK) || l.type != ARPHRD_ETHER || !l.has_mac ||
	    strncmp(l.name, "lvtap", 5) == 0)
		return 0;
	g->link = l;
	g->found = true;
	return 0;
}

static void copy_addr(uint8_t *dst, const uint8_t *src, uint8_t family)
{
	memset(dst, 0, 16);
	memcpy(dst, src, family == AF_INET ? 4 : 16);
}

static int on_addr(const void *h, size_t h_len, void *arg)
{
	struct gather *g = arg;
	struct rt_nl_addr a;
	struct noxs_addr *o;

	int pr = rt_nl_parse_addr(h, h_len, &a);

	if (pr == -EAFNOSUPPORT)
		return 0; /* neither IPv4 nor IPv6: nothing for the guest */
	if (pr < 0) {
		g->bad++;
		return 0;
	}
	if (a.ifindex != g->n->if_index)
		return 0;
	if (a.family == AF_INET6) {
		/* fe80:: is the link's own; any other: the guest has no IPv6. */
		if (!(a.addr[0] == 0xfe && (a.addr[1] & 0xc0) == 0x80))
			g->n->skipped_v6++;
		return 0;
	}
	if (g->n->naddrs >= RT_NET_MAX_ADDRS)
		return -E2BIG;
	o = &g->n->addrs[g->n->naddrs++];
	*o = (struct noxs_addr){ .device = 0, .family = 4, .prefix = a.prefix };
	copy_addr(o->addr, a.addr, a.family);
	return 0;
}

bool rt_net_keep_route(const struct rt_nl_route *r, int if_index)
{
	/* The main table's unicast routes through the interface; the kernel's
	 * own subnet routes come back by themselves when the guest adds the
	 * addresses. */
	return r->family == AF_INET && r->table == RT_TABLE_MAIN && r->type == RTN_UNICAST && r->oif == if_index &&
	       r->protocol != RTPROT_KERNEL;
}

static int on_route(const void *h, size_t h_len, void *arg)
{
	struct gather *g = arg;
	struct rt_nl_route r;
	struct noxs_route *o;

	int pr = rt_nl_parse_route(h, h_len, &r);

	if (pr == -EAFNOSUPPORT)
		return 0; /* neither IPv4 nor IPv6: nothing for the guest */
	if (pr < 0) {
		g->bad++;
		return 0;
	}
	if (r.family == AF_INET6 && r.oif == g->n->if_index && r.table == RT_TABLE_MAIN && r.protocol != RTPROT_KERNEL)
		g->n->skipped_v6++;
	if (!rt_net_keep_route(&r, g->n->if_index))
		return 0;
	if (g->n->nroutes >= RT_NET_MAX_ROUTES)
		return -E2BIG;
	o = &g->n->routes[g->n->nroutes++];
	*o = (struct noxs_route){ .device = 0, .family = 4, .prefix = r.prefix, .metric = r.metric };
	copy_addr(o->dst, r.dst, r.family);
	if (r.has_gateway)
		copy_addr(o->gateway, r.gateway, r.family);
	return 0;
}

static bool has_gateway(const struct noxs_route *r)
{
	static const uint8_t zero[16];

	return memcmp(r->gateway, zero, sizeof(zero)) != 0;
}

void rt_net_sort_routes(struct noxs_route *r, uint32_t n)
{
	/* Stable: on-link routes first, each group in the kernel's order. */
	for (uint32_t i = 1; i < n; i++) {
		struct noxs_route x = r[i];
		uint32_t j = i;

		while (j > 0 && has_gateway(&r[j - 1]) && !has_gateway(&x)) {
			r[j] = r[j - 1];
			j--;
		}
		r[j] = x;
	}
}

static int discover(struct rt_nl *nl, struct rt_net *n, struct lv_error **err)
{
	struct gather g = { .n = n };
	struct rt_nl_msg m;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
	struct rtmsg rtm = { .rtm_family = AF_UNSPEC, .rtm_table = RT_TABLE_MAIN };
	int r;

	rt_nl_msg_init(&m, RTM_GETLINK, 0, &ifi, sizeof(ifi));
	r = rt_nl_dump(nl, &m, on_link, &g, "network namespace: list the interfaces", err);
	if (r < 0)
		return r;
	if (!g.found)
		return 0;
	n->has_nic = true;
	n->if_index = g.link.ifindex;
	memcpy(n->name, g.link.name, sizeof(n->name));
	memcpy(n->mac, g.link.mac, sizeof(n->mac));
	n->mtu = g.link.mtu >= 68 && g.link.mtu <= 65535 ? (uint16_t)g.link.mtu : 0;
	rt_nl_msg_init(&m, RTM_GETADDR, 0, &ifa, sizeof(ifa));
	r = rt_nl_dump(nl, &m, on_addr, &g, "network namespace: list the addresses", err);
	if (r == -E2BIG)
		return lv_err_msg(err, E2BIG, "network namespace: %s has more than %d addresses", n->name,
				  RT_NET_MAX_ADDRS);
	if (r < 0)
		return r;
	rt_nl_msg_init(&m, RTM_GETROUTE, 0, &rtm, sizeof(rtm));
	r = rt_nl_dump(nl, &m, on_route, &g, "network namespace: list the routes", err);
	if (r == -E2BIG)
		return lv_err_msg(err, E2BIG, "network namespace: %s has more than %d routes", n->name,
				  RT_NET_MAX_ROUTES);
	if (r < 0)
		return r;
	if (g.bad)
		return lv_err_msg(err, EPROTO, "network namespace: %d malformed rtnetlink records", g.bad);
	rt_net_sort_routes(n->routes, n->nroutes);
	return 0;
}

static int tap_up(struct rt_nl *nl, struct rt_net *n, struct lv_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = n->tap_index, .ifi_flags = IFF_UP,
				 .ifi_change = IFF_UP };
	struct rt_nl_msg m;

	rt_nl_msg_init(&m, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	if (n->mtu)
		rt_nl_put_u32(&m, IFLA_MTU, n->mtu);
	return rt_nl_request(nl, &m, "tap: set its MTU and bring it up", err);
}

static int add_ingress(struct rt_nl *nl, int if_index, const char *name, struct lv_error **err)
{
	struct rt_nl_msg m;
	char what[96];

	rt_nl_build_ingress_qdisc(&m, if_index, true);
	snprintf(what, sizeof(what), "network namespace: an ingress qdisc on %s", name);
	return rt_nl_request(nl, &m, what, err);
}

static int redirect(struct rt_nl *nl, int from, const char *from_name, int to, const char *to_name,
		    struct lv_error **err)
{
	struct rt_nl_msg m;
	char what[96];

	rt_nl_build_redirect_filter(&m, from, to);
	snprintf(what, sizeof(what), "network namespace: redirect %s to %s (TC u32 + mirred)", from_name, to_name);
	return rt_nl_request(nl, &m, what, err);
}

static void remove_ingress(int if_index)
{
	struct rt_nl nl = { .fd = -1 };
	struct rt_nl_msg m;

	if (rt_nl_open(&nl, NULL) < 0)
		return;
	rt_nl_build_ingress_qdisc(&m, if_index, false);
	(void)rt_nl_request(&nl, &m, "remove the ingress qdisc", NULL);
	rt_nl_close(&nl);
}

/* A child that outlives nothing: it waits until the monitor is gone (its
 * pipe's write end closes, however the monitor ended), removes the
 * interface's ingress qdisc, and with it the redirect, and exits.  It
 * keeps only that pipe: no stdio of the container, no sync pipe. */
static int start_janitor(struct rt_net *n, struct lv_error **err)
{
	int pfd[2];
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return lv_err(err, errno, "network janitor: pipe");
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		return lv_err(err, e, "network janitor: fork");
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		char c;

		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0 ||
		    dup2(pfd[0], 3) < 0)
			_exit(1);
		syscall(SYS_close_range, 4u, ~0u, 0u);
		prctl(PR_SET_NAME, "lightvm-netjan");
		while (read(3, &c, 1) < 0 && errno == EINTR)
			;
		remove_ingress(n->if_index);
		_exit(0);
	}
	close(pfd[0]);
	n->janitor_fd = pfd[1];
	return 0;
}

int rt_net_setup(struct rt_net *n, struct lv_error **err)
{
	struct rt_nl nl = { .fd = -1 };
	int r;

	memset(n, 0, sizeof(*n));
	n->tap_fd = n->janitor_fd = -1;
	r = rt_nl_open(&nl, err);
	if (r < 0)
		return lv_err_wrap(err, "network namespace");
	r = discover(&nl, n, err);
	if (r < 0 || !n->has_nic)
		goto out;
	r = vmm_tap_open(TAP_TEMPLATE, true, &n->tap_fd, n->tap, err);
	if (r < 0)
		goto out;
	n->tap_index = (int)if_nametoindex(n->tap);
	if (n->tap_index <= 0) {
		r = lv_err(err, errno, "tap %s: its index", n->tap);
		goto out;
	}
	r = tap_up(&nl, n, err);
	if (r < 0)
		goto out;
	r = add_ingress(&nl, n->if_index, n->name, err);
	if (r == -EEXIST)
		lv_err_wrap(err, "%s is taken already (by another VM?)", n->name);
	if (r < 0)
		goto out;
	/* From its qdisc on, the interface is ours to clean up, whatever
	 * happens to the monitor. */
	r = start_janitor(n, err);
	if (r < 0) {
		remove_ingress(n->if_index);
		goto out;
	}
	r = add_ingress(&nl, n->tap_index, n->tap, err);
	if (r == 0)
		r = redirect(&nl, n->if_index, n->name, n->tap_index, n->tap, err);
	if (r == 0)
		r = redirect(&nl, n->tap_index, n->tap, n->if_index, n->name, err);
out:
	rt_nl_close(&nl);
	if (r < 0)
		rt_net_release_tap(n);
	return r;
}

int rt_net_prepare_vm(const struct rt_spec *spec, struct rt_net *n, struct hv_vm_config *vc, uint8_t **page,
		      size_t *page_len, struct lv_error **err)
{
	int r = rt_net_setup(n, err);

	if (r < 0 || !n->has_nic)
		return r;
	vc->tap = n->tap;
	vc->mac = n->mac;
	vc->has_tap_fd = true;
	vc->tap_fd = n->tap_fd;
	{
		const struct rt_page_devices devs = {
			.rootfs_channel = vc->rootfs_archive != NULL, .disk = vc->disk != NULL,
			.mac = n->mac, .nic_name = n->name, .mtu = n->mtu,
			.addrs = n->addrs, .naddrs = n->naddrs, .routes = n->routes, .nroutes = n->nroutes,
			.shares = vc->shares, .nshares = vc->nshares,
		};
		return rt_page_build(spec, &devs, page, page_len, err);
	}
}

void rt_net_release_tap(struct rt_net *n)
{
	if (n->tap_fd >= 0)
		close(n->tap_fd);
	n->tap_fd = -1;
}
