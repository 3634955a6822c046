/* Opening and configuring a tap; see tap.h. */
#include "tap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/cleanup.h"

int vmm_tap_open(const char *name, bool vnet_hdr, int *fd_out, char *ifname_out, struct lv_error **err)
{
	cleanup_close int fd = -1;
	struct ifreq ifr;
	const char *shown = name && *name ? name : "(any tap)";

	if (name && strlen(name) >= IFNAMSIZ)
		return lv_err_msg(err, EINVAL, "tap name '%s': longer than %d characters", name, IFNAMSIZ - 1);

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return lv_err(err, errno, "tap %s: opening /dev/net/tun", shown);

	memset(&ifr, 0, sizeof(ifr));
	if (name)
		memcpy(ifr.ifr_name, name, strlen(name));
	/* IFF_NO_PI: frames without the 4-byte packet-information prefix,
	 * which virtio-net has no use for. */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return lv_err(err, errno, "tap %s: TUNSETIFF (IFF_TAP|IFF_NO_PI%s)", shown,
			      vnet_hdr ? "|IFF_VNET_HDR" : "");
	ifr.ifr_name[IFNAMSIZ - 1] = '\0';

	if (vnet_hdr) {
		int sz = VMM_TAP_VNET_HDR_LEN;

		/* The default is the 10-byte legacy header; virtio 1.x always
		 * has num_buffers too. */
		if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
			return lv_err(err, errno, "tap %s: TUNSETVNETHDRSZ %d", ifr.ifr_name, sz);
		/* No checksum or segmentation offload: the net device offers
		 * none to the guest, so the kernel must hand over finished
		 * frames (this is the default; say it rather than rely on it). */
		if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0)
			return lv_err(err, errno, "tap %s: TUNSETOFFLOAD 0", ifr.ifr_name);
	}

	if (ifname_out)
		memcpy(ifname_out, ifr.ifr_name, IFNAMSIZ);
	*fd_out = lv_take_fd(&fd);
	return 0;
}

int vmm_tap_set_up(const char *ifname, struct lv_error **err)
{
	cleanup_close int sock = -1;
	struct ifreq ifr;

	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
		return lv_err_msg(err, EINVAL, "tap name '%s': empty or too long", ifname ? ifname : "(null)");
	/* Any socket will do as a handle for the interface ioctls. */
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return lv_err(err, errno, "tap %s: socket for SIOCSIFFLAGS", ifname);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		return lv_err(err, errno, "tap %s: SIOCGIFFLAGS", ifname);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
		return lv_err(err, errno, "tap %s: bringing it up (SIOCSIFFLAGS)", ifname);
	return 0;
}
