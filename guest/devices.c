/* The page's devices and channels (version 1.2): what the host attached to
 * the VM and which conversation runs on which device.  Before anything of
 * the container runs, the init checks them against what it sees: the
 * control port it reads, the disks and NICs the kernel found, and whether
 * the root file system came over the channel.  A mismatch is a host bug or
 * a page meant for another VM, and the container must not start in it.
 * (The network sections are applied by net.c.) */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"

/* Reads a small sysfs file into buf (NUL-terminated, newline stripped). */
static int read_sys(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* A kernel disk name: letters and digits only, so that it stays one path
 * component under /sys/block. */
static bool disk_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") == n;
}

static int check_block(uint32_t i, const struct noxs_device *d, struct lv_error **err)
{
	char path[64], ro[8];

	if (!disk_name_ok(d->name))
		return lv_err_msg(err, EINVAL, "page: devices[%u]: '%s' is not a disk name", i, d->name);
	snprintf(path, sizeof(path), "/sys/block/%s/ro", d->name);
	if (read_sys(path, ro, sizeof(ro)) < 0)
		return lv_err_msg(err, ENODEV, "page: devices[%u]: the host attached disk %s, but the guest has none",
				  i, d->name);
	if ((d->flags & NOXS_DEVF_READONLY) && strcmp(ro, "1") != 0)
		return lv_err_msg(err, EINVAL, "page: devices[%u]: disk %s is writable, but the page says read-only", i,
				  d->name);
	return 0;
}

/* Whether a NIC with this MAC is there (the host set it on the device). */
static bool nic_present(const uint8_t mac[6])
{
	char want[18], have[32], path[300];
	struct dirent *e;
	bool found = false;
	DIR *dir;

	snprintf(want, sizeof(want), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
	dir = opendir("/sys/class/net");
	if (!dir)
		return false;
	while (!found && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/net/%s/address", e->d_name);
		found = read_sys(path, have, sizeof(have)) == 0 && strcmp(have, want) == 0;
	}
	closedir(dir);
	return found;
}

int guest_check_devices(struct guest_ctx *g, bool rootfs_came, struct lv_error **err)
{
	const struct noxs_proc *p = &g->proc;
	bool rootfs_chan = false;
	int r;

	for (uint32_t i = 0; i < p->ndevices; i++) {
		const struct noxs_device *d = &p->devices[i];

		switch (d->kind) {
		case NOXS_DEV_CONTROL:
			if (strcmp(d->name, NOXS_CTL_PORT) != 0)
				return lv_err_msg(err, EINVAL, "page: devices[%u]: control port '%s', but this init reads %s",
						  i, d->name, NOXS_CTL_PORT);
			break;
		case NOXS_DEV_BLOCK:
			r = check_block(i, d, err);
			if (r < 0)
				return r;
			break;
		case NOXS_DEV_NET:
			if (!nic_present(d->mac))
				return lv_err_msg(err, ENODEV,
						  "page: devices[%u]: the host attached NIC %s (%02x:%02x:%02x:%02x:%02x:%02x), but the guest has none",
						  i, d->name, d->mac[0], d->mac[1], d->mac[2], d->mac[3], d->mac[4], d->mac[5]);
			break;
		case NOXS_DEV_FS:
			/* Nothing in sysfs names a virtio-fs tag on this kernel:
			 * the page's mount of it fails if it is not there. */
			break;
		default:
			guest_log(g, "page: devices[%u]: kind %u unknown, skipped", i, d->kind);
			continue;
		}
		if (d->kind == NOXS_DEV_NET)
			guest_log(g, "page: device %u: nic %s %02x:%02x:%02x:%02x:%02x:%02x", i, d->name, d->mac[0],
				  d->mac[1], d->mac[2], d->mac[3], d->mac[4], d->mac[5]);
		else
			guest_log(g, "page: device %u: %s %s%s", i,
				  d->kind == NOXS_DEV_CONTROL ? "control port" : d->kind == NOXS_DEV_BLOCK ? "disk" : "share",
				  d->name, d->flags & NOXS_DEVF_READONLY ? " (ro)" : "");
	}
	for (uint32_t i = 0; i < p->nchannels; i++)
		rootfs_chan |= p->channels[i].what == NOXS_CHAN_ROOTFS;
	/* A page without channels (1.1) says nothing about the delivery. */
	if (p->nchannels && rootfs_chan && !rootfs_came)
		return lv_err_msg(err, EPROTO, "page: the root file system was to come over the control channel, but none came");
	if (p->nchannels && !rootfs_chan && rootfs_came)
		return lv_err_msg(err, EPROTO,
				  "page: a root file system came over the control channel, but the page has no channel for it");
	return 0;
}
