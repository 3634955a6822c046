/* A tap interface for virtio-net: /dev/net/tun in IFF_TAP | IFF_NO_PI mode,
 * optionally with a 12-byte virtio_net_hdr_v1 in front of every frame
 * (IFF_VNET_HDR with TUNSETVNETHDRSZ 12), which is what the net device
 * expects from a tap (vmm_net_create(..., vnet_hdr = true, ...)).
 *
 * No offloads are enabled (TUNSETOFFLOAD 0): the kernel checksums and
 * segments everything before it reaches the fd, so every frame fits the
 * MTU and its header is all zeroes, matching the features the net device
 * offers.  Creating a tap needs CAP_NET_ADMIN; moving it into a network
 * namespace and addressing it is the caller's business. */
#ifndef VMM_TAP_H
#define VMM_TAP_H

#include <net/if.h>
#include <stdbool.h>

#include "../lib/error.h"

/* The size of the header the tap carries with vnet_hdr (virtio 1.x). */
#define VMM_TAP_VNET_HDR_LEN 12

/* Opens (creating it if needed) the tap `name` (NULL or "": the kernel
 * picks tapN), nonblocking and close-on-exec.  *fd_out gets the fd and,
 * when ifname_out is not NULL, ifname_out (IFNAMSIZ bytes) the interface's
 * name.  The interface is left down. */
int vmm_tap_open(const char *name, bool vnet_hdr, int *fd_out, char *ifname_out, struct lv_error **err);

/* Brings the interface up (SIOCSIFFLAGS IFF_UP), in the caller's network
 * namespace. */
int vmm_tap_set_up(const char *ifname, struct lv_error **err);

#endif
