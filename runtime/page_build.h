/* Translates a validated spec into the noxs device page the guest reads. */
#ifndef RT_PAGE_BUILD_H
#define RT_PAGE_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"
#include "../noxs/page.h"
#include "hv.h"
#include "spec.h"

/* The VM's devices, as the page describes them to the guest (its devices
 * and channels sections).  The control port is always there. */
struct rt_page_devices {
	bool rootfs_channel;  /* the root file system follows on the control channel */
	bool disk;            /* a read-only disk: the guest's vda */
	const uint8_t *mac;   /* a NIC (behind a tap): its 6-byte MAC; NULL: none */
	/* With mac: the NIC's name in the guest (NULL: "eth0"), its MTU (0:
	 * the device's) and its network (runtime/net.c); the records' device
	 * index is set here. */
	const char *nic_name;
	uint16_t mtu;
	const struct noxs_addr *addrs;
	uint32_t naddrs;
	const struct noxs_route *routes;
	uint32_t nroutes;
	const struct hv_share *shares; /* one per RT_MOUNT_SHARED mount, in order */
	size_t nshares;
};

/* Reads the host files that bind mounts copy into the guest, so call it at
 * create time: the guest sees them as they were then.  The page also carries
 * the host's wall clock now and a fresh RNG seed (the host section): build
 * one page per VM, as late as possible, and never hand one to two VMs. */
int rt_page_build(const struct rt_spec *spec, const struct rt_page_devices *devs, uint8_t **page, size_t *len,
		  struct lv_error **err);

/* The page's fields that come from a process alone (umask, terminal size,
 * capabilities, rlimits), for the container's page and an exec's.
 * np->rlimits is allocated: the caller frees it. */
struct noxs_proc;
int rt_page_fill_process(struct noxs_proc *np, const struct rt_process *p, struct lv_error **err);

/* Refreshes the wall-clock reading of a built page's host section, just
 * before the page is sent (a page is built before its VM and rootfs). */
void rt_page_restamp(uint8_t *page, size_t len);

#endif
