/* The page's network (sections 13 and 14): lo up; each NIC found by its
 * MAC, renamed to the page's name, its MTU set, brought up; its IPv4
 * addresses and routes added.  Plain ioctls (SIOCSIFNAME, SIOCSIFMTU,
 * SIOCSIFADDR/NETMASK, SIOCADDRT): the guest kernel is IPv4-only and the
 * init has no netlink library.  Errors name the page item. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "guest.h"

static void set_ifr(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
}

static int link_up(int sock, const char *name, struct lv_error **err)
{
	struct ifreq ifr;

	set_ifr(&ifr, name);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		return lv_err(err, errno, "%s: flags", name);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
		return lv_err(err, errno, "%s: bring it up", name);
	return 0;
}

/* The interface whose address is mac, in name (IFNAMSIZ). */
static int find_by_mac(const uint8_t mac[6], char *name)
{
	char want[18], have[32], path[300];
	struct dirent *e;
	int r = -ENODEV;
	DIR *dir;

	snprintf(want, sizeof(want), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
	dir = opendir("/sys/class/net");
	if (!dir)
		return -errno;
	while (r < 0 && (e = readdir(dir))) {
		cleanup_close int fd = -1;
		ssize_t n;

		if (e->d_name[0] == '.' || strlen(e->d_name) >= IFNAMSIZ)
			continue;
		snprintf(path, sizeof(path), "/sys/class/net/%s/address", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (n = read(fd, have, sizeof(have) - 1)) < 17)
			continue;
		have[17] = '\0';
		if (strcmp(have, want) == 0) {
			memcpy(name, e->d_name, strlen(e->d_name) + 1);
			r = 0;
		}
	}
	closedir(dir);
	return r;
}

static void sin_of(struct sockaddr *sa, const uint8_t a[4])
{
	struct sockaddr_in *s = (struct sockaddr_in *)sa;

	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	memcpy(&s->sin_addr, a, 4);
}

static void mask_of(uint8_t prefix, uint8_t m[4])
{
	uint32_t v = prefix ? htonl(~0u << (32 - prefix)) : 0;

	memcpy(m, &v, 4);
}

static int setup_nic(struct guest_ctx *g, int sock, uint32_t i, const struct noxs_device *d, struct lv_error **err)
{
	char cur[IFNAMSIZ];
	struct ifreq ifr;
	int r;

	r = find_by_mac(d->mac, cur);
	if (r < 0)
		return lv_err(err, -r, "page: device %u: nic %s: no interface has its MAC", i, d->name);
	if (strcmp(cur, d->name) != 0) {
		set_ifr(&ifr, cur);
		snprintf(ifr.ifr_newname, sizeof(ifr.ifr_newname), "%s", d->name);
		if (ioctl(sock, SIOCSIFNAME, &ifr) < 0)
			return lv_err(err, errno, "page: device %u: rename %s to %s", i, cur, d->name);
	}
	if (d->mtu) {
		set_ifr(&ifr, d->name);
		ifr.ifr_mtu = d->mtu;
		if (ioctl(sock, SIOCSIFMTU, &ifr) < 0)
			return lv_err(err, errno, "page: device %u: nic %s: MTU %u", i, d->name, d->mtu);
	}
	r = link_up(sock, d->name, err);
	if (r < 0)
		return lv_err_wrap(err, "page: device %u", i);
	guest_log(g, "page: nic %s up (was %s, mtu %u)", d->name, cur, d->mtu);
	return 0;
}

/* The first address of a NIC is its own; the next ones are labels
 * (NAME:1, ...), which is how the ioctl interface adds more. */
static int add_addr(struct guest_ctx *g, int sock, uint32_t i, const struct noxs_addr *a, const char *dev,
		    unsigned nth, struct lv_error **err)
{
	char shown[INET_ADDRSTRLEN] = "?", label[IFNAMSIZ + 8];
	struct ifreq ifr;
	uint8_t m[4];

	inet_ntop(AF_INET, a->addr, shown, sizeof(shown));
	if (a->family != 4 || a->prefix > 32)
		return lv_err_msg(err, EAFNOSUPPORT, "page: addrs[%u] %s/%u: only IPv4 (the guest has no IPv6)", i,
				  shown, a->prefix);
	if (nth)
		snprintf(label, sizeof(label), "%s:%u", dev, nth);
	else
		snprintf(label, sizeof(label), "%s", dev);
	if (strlen(label) >= IFNAMSIZ)
		return lv_err_msg(err, ENAMETOOLONG, "page: addrs[%u] %s/%u: label %s too long", i, shown, a->prefix,
				  label);
	set_ifr(&ifr, label);
	sin_of(&ifr.ifr_addr, a->addr);
	if (ioctl(sock, SIOCSIFADDR, &ifr) < 0)
		return lv_err(err, errno, "page: addrs[%u] %s/%u on %s", i, shown, a->prefix, dev);
	mask_of(a->prefix, m);
	set_ifr(&ifr, label);
	sin_of(&ifr.ifr_netmask, m);
	if (ioctl(sock, SIOCSIFNETMASK, &ifr) < 0)
		return lv_err(err, errno, "page: addrs[%u] %s/%u on %s: netmask", i, shown, a->prefix, dev);
	if (nth && link_up(sock, label, err) < 0)
		return lv_err_wrap(err, "page: addrs[%u]", i);
	guest_log(g, "page: addrs[%u] %s/%u on %s", i, shown, a->prefix, dev);
	return 0;
}

static int add_route(struct guest_ctx *g, int sock, uint32_t i, const struct noxs_route *rt, const char *dev,
		     struct lv_error **err)
{
	static const uint8_t zero[16];
	char dst[INET_ADDRSTRLEN] = "?", gw[INET_ADDRSTRLEN] = "";
	bool via = memcmp(rt->gateway, zero, sizeof(zero)) != 0;
	char devname[IFNAMSIZ];
	struct rtentry re;
	uint8_t m[4];

	inet_ntop(AF_INET, rt->dst, dst, sizeof(dst));
	if (via)
		inet_ntop(AF_INET, rt->gateway, gw, sizeof(gw));
	if (rt->family != 4 || rt->prefix > 32)
		return lv_err_msg(err, EAFNOSUPPORT, "page: routes[%u] %s/%u: only IPv4 (the guest has no IPv6)", i,
				  dst, rt->prefix);
	memset(&re, 0, sizeof(re));
	snprintf(devname, sizeof(devname), "%s", dev);
	sin_of(&re.rt_dst, rt->dst);
	mask_of(rt->prefix, m);
	sin_of(&re.rt_genmask, m);
	re.rt_flags = RTF_UP | (rt->prefix == 32 ? RTF_HOST : 0);
	if (via) {
		sin_of(&re.rt_gateway, rt->gateway);
		re.rt_flags |= RTF_GATEWAY;
	}
	/* The ioctl's metric is the route's plus one (0 means "default"). */
	re.rt_metric = (short)(rt->metric < 32766 ? rt->metric + 1 : 32767);
	re.rt_dev = devname;
	if (ioctl(sock, SIOCADDRT, &re) < 0) {
		if (via)
			return lv_err(err, errno, "page: routes[%u] %s/%u via %s", i, dst, rt->prefix, gw);
		return lv_err(err, errno, "page: routes[%u] %s/%u dev %s", i, dst, rt->prefix, dev);
	}
	guest_log(g, "page: routes[%u] %s/%u%s%s dev %s", i, dst, rt->prefix, via ? " via " : "", gw, dev);
	return 0;
}

int guest_apply_net(struct guest_ctx *g, struct lv_error **err)
{
	const struct noxs_proc *p = &g->proc;
	cleanup_close int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned nth[NOXS_MAX_DEVICES] = { 0 };
	int r;

	if (sock < 0)
		return lv_err(err, errno, "network: socket");
	r = link_up(sock, "lo", err);
	if (r < 0)
		return lv_err_wrap(err, "network");
	for (uint32_t i = 0; i < p->ndevices; i++)
		if (p->devices[i].kind == NOXS_DEV_NET && (r = setup_nic(g, sock, i, &p->devices[i], err)) < 0)
			return r;
	for (uint32_t i = 0; i < p->naddrs; i++) {
		const struct noxs_addr *a = &p->addrs[i];

		if (a->device >= p->ndevices || a->device >= NOXS_MAX_DEVICES || p->devices[a->device].kind != NOXS_DEV_NET)
			return lv_err_msg(err, EINVAL, "page: addrs[%u]: device %u is not a NIC", i, a->device);
		r = add_addr(g, sock, i, a, p->devices[a->device].name, nth[a->device]++, err);
		if (r < 0)
			return r;
	}
	for (uint32_t i = 0; i < p->nroutes; i++) {
		const struct noxs_route *rt = &p->routes[i];

		if (rt->device >= p->ndevices || p->devices[rt->device].kind != NOXS_DEV_NET)
			return lv_err_msg(err, EINVAL, "page: routes[%u]: device %u is not a NIC", i, rt->device);
		r = add_route(g, sock, i, rt, p->devices[rt->device].name, err);
		if (r < 0)
			return r;
	}
	return 0;
}
