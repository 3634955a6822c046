/* vmm/virtio_net and vmm/tap: frames both ways between the fake driver of
 * virtio_driver.h and a socketpair standing in for the tap (bare frames),
 * backpressure in both directions, oversized and runt frames, hostile
 * chains, a host side that hangs up; then a real tap when /dev/net/tun
 * works here (skipped otherwise).  Needs no /dev/kvm. */
#include "../../lib/cleanup.h"
#include "../../vmm/loop.h"
#include "../../vmm/tap.h"
#include "../../vmm/virtio_net.h"
#include "tap.h"
#include "virtio_driver.h"

#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MiB      (1ULL << 20)
#define BASE     0xd0000000ULL
#define RXQ      VMM_NET_RXQ
#define TXQ      VMM_NET_TXQ
#define HDR      VMM_NET_HDR_LEN
#define ETHERTYPE 0x88b5 /* IEEE local experimental */
#define FEATS    ((1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) | (1ULL << VIRTIO_NET_F_MTU))

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* An Ethernet frame of len bytes: broadcast, our ethertype, payload tagged
 * with seq. */
static void make_frame(uint8_t *f, size_t len, unsigned int seq)
{
	size_t i;

	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	for (i = 14; i < len; i++)
		f[i] = (uint8_t)(seq + i);
}

struct env {
	struct vmm_memory *mem;
	struct vmm_loop *loop;
	struct vmm_net *net;
	int host;       /* the test's end of the pair */
	int dev_end;    /* the end given to the device (which works on a dup) */
	struct vd d;
};

static int env_open(struct env *e, int type, bool ioeventfd)
{
	struct lv_error *err = NULL;
	int sp[2], r;

	memset(e, 0, sizeof(*e));
	e->host = e->dev_end = -1;
	if (vmm_memory_create(16 * MiB, &e->mem, &err) < 0 || vmm_loop_create(&e->loop, &err) < 0 ||
	    socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sp) < 0) {
		printf("# setup: %s\n", err ? err->msg : "socketpair failed");
		lv_error_free(&err);
		return -1;
	}
	e->host = sp[1];
	e->dev_end = sp[0];
	r = vmm_net_create(e->mem, BASE, 6, ioeventfd, e->loop, sp[0], false, guest_mac, &e->net, &err);
	if (r < 0) {
		printf("# vmm_net_create: %s\n", err ? err->msg : "?");
		lv_error_free(&err);
		return -1;
	}
	vd_attach(&e->d, e->mem, vmm_net_mmio(e->net));
	e->d.kick_eventfd = ioeventfd;
	return vd_start(&e->d, FEATS, 2);
}

static void env_close(struct env *e)
{
	vmm_net_destroy(&e->net);
	vmm_loop_destroy(&e->loop);
	vmm_memory_destroy(&e->mem);
	if (e->host >= 0)
		close(e->host);
	if (e->dev_end >= 0)
		close(e->dev_end);
}

static struct vmm_net_stats stats(struct env *e)
{
	struct vmm_net_stats s;

	vmm_net_get_stats(e->net, &s);
	return s;
}

static int run(struct env *e, int timeout_ms)
{
	struct lv_error *err = NULL;
	int r = vmm_loop_run_once(e->loop, timeout_ms, &err);

	lv_error_free(&err);
	return r;
}

static bool broken(struct env *e)
{
	return (vd_status(&e->d) & VIRTIO_CONFIG_S_NEEDS_RESET) != 0;
}

/* Header (flags, gso_type) and frame in one readable descriptor. */
static int guest_tx(struct env *e, size_t len, unsigned int seq, uint8_t flags, uint8_t gso)
{
	uint64_t g = vd_alloc(&e->d, HDR + len);
	uint8_t *p = vd_ptr(&e->d, g, HDR + len);
	struct vd_seg seg = { g, (uint32_t)(HDR + len) };

	p[0] = flags;
	p[1] = gso;
	make_frame(p + HDR, len, seq);
	return vd_add(&e->d, TXQ, &seg, 1, 0);
}

/* One writable buffer of size bytes; *gpa gets its address. */
static int post_rx(struct env *e, uint32_t size, uint64_t *gpa)
{
	struct vd_seg seg = { vd_alloc(&e->d, size), size };

	*gpa = seg.gpa;
	return vd_add(&e->d, RXQ, &seg, 0, 1);
}

static void host_send(struct env *e, size_t len, unsigned int seq)
{
	uint8_t f[2048];

	make_frame(f, len, seq);
	if (send(e->host, f, len, MSG_DONTWAIT) != (ssize_t)len)
		printf("# host send of %zu bytes failed\n", len);
}

static bool rx_frame_ok(struct env *e, uint64_t gpa, size_t len, unsigned int seq)
{
	uint8_t want[2048], *p = vd_ptr(&e->d, gpa, HDR + len);
	uint16_t nb;

	make_frame(want, len, seq);
	memcpy(&nb, p + 10, 2);
	return p[0] == 0 && p[1] == VIRTIO_NET_HDR_GSO_NONE && le16toh(nb) == 1 && memcmp(p + HDR, want, len) == 0;
}

static void test_create_errors(void)
{
	struct vmm_memory *mem = NULL;
	struct vmm_loop *loop = NULL;
	struct vmm_net *n = NULL;
	struct lv_error *err = NULL;

	ok(vmm_memory_create(4 * MiB, &mem, &err) == 0 && vmm_loop_create(&loop, &err) == 0, "RAM and loop");
	ok(vmm_net_create(mem, BASE, 6, false, NULL, 0, false, guest_mac, &n, &err) == -EINVAL && !n,
	   "no loop: EINVAL");
	lv_error_free(&err);
	ok(vmm_net_create(mem, BASE, 6, false, loop, 0, false, NULL, &n, &err) == -EINVAL && !n, "no MAC: EINVAL");
	lv_error_free(&err);
	ok(vmm_net_create(mem, BASE, 6, false, loop, 1000, false, guest_mac, &n, &err) == -EBADF && !n,
	   "a closed fd: EBADF (%s)", err ? err->msg : "");
	lv_error_free(&err);
	vmm_loop_destroy(&loop);
	vmm_memory_destroy(&mem);
}

static void test_basics(void)
{
	struct env e;
	uint8_t mac[6] = { 0 }, f[2048], want[2048];
	uint16_t v16 = 0, id;
	uint32_t len, feats;
	uint64_t gpa, h;
	int head;

	if (env_open(&e, SOCK_DGRAM, false) < 0) {
		ok(0, "device and driver set up");
		env_close(&e);
		return;
	}
	ok(vd_read(&e.d, VIRTIO_MMIO_DEVICE_ID) == 1, "device id 1 (net)");
	vd_write(&e.d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	feats = vd_read(&e.d, VIRTIO_MMIO_DEVICE_FEATURES);
	ok(feats == (uint32_t)FEATS, "features: MAC, STATUS, MTU; no offloads, no MRG_RXBUF (0x%x)", feats);
	vd_config_read(&e.d, 0, mac, 4);
	vd_config_read(&e.d, 4, mac + 4, 2);
	ok(memcmp(mac, guest_mac, 6) == 0, "config: the MAC");
	vd_config_read(&e.d, 6, &v16, 2);
	ok(le16toh(v16) == VIRTIO_NET_S_LINK_UP, "config: link up");
	vd_config_read(&e.d, 10, &v16, 2);
	ok(le16toh(v16) == VMM_NET_MTU, "config: mtu %u", le16toh(v16));

	/* Transmit: one descriptor, then header and frame in pieces. */
	head = guest_tx(&e, 60, 1, 0, 0);
	vd_kick(&e.d, TXQ);
	make_frame(want, 60, 1);
	ok(recv(e.host, f, sizeof(f), MSG_DONTWAIT) == 60 && memcmp(f, want, 60) == 0, "tx: the 60-byte frame arrives");
	ok(vd_used(&e.d, TXQ, &id, &len) == 1 && id == head && len == 0, "tx: chain returned, 0 bytes written");
	ok(vd_irqs(&e.d) >= 1, "tx: interrupt");
	h = vd_alloc(&e.d, HDR + 300);
	make_frame(vd_ptr(&e.d, h + HDR, 300), 300, 2);
	{
		struct vd_seg segs[] = { { h, 5 }, { h + 5, 7 }, { h + 12, 100 }, { h + 112, 1 }, { h + 113, 199 } };

		head = vd_add(&e.d, TXQ, segs, 5, 0);
	}
	vd_kick(&e.d, TXQ);
	make_frame(want, 300, 2);
	ok(recv(e.host, f, sizeof(f), MSG_DONTWAIT) == 300 && memcmp(f, want, 300) == 0 &&
	   vd_used(&e.d, TXQ, &id, &len) == 1 && id == head, "tx: header and frame over 5 descriptors");

	/* Receive. */
	ok(run(&e, 0) == 0, "rx: no buffers and nothing sent: the loop is idle");
	head = post_rx(&e, HDR + 1518, &gpa);
	vd_kick(&e.d, RXQ);
	ok(run(&e, 0) == 0, "rx: a buffer but nothing sent: still idle");
	host_send(&e, 100, 3);
	ok(run(&e, 1000) == 1, "rx: the loop runs the device");
	ok(vd_used(&e.d, RXQ, &id, &len) == 1 && id == head && len == HDR + 100 && rx_frame_ok(&e, gpa, 100, 3),
	   "rx: 100-byte frame, zeroed header with num_buffers 1");
	ok(vd_irqs(&e.d) >= 1, "rx: interrupt");

	/* A chain of three writable descriptors, the frame across two. */
	h = vd_alloc(&e.d, HDR + 1400);
	{
		struct vd_seg segs[] = { { h, HDR }, { h + HDR, 700 }, { h + HDR + 700, 700 } };

		head = vd_add(&e.d, RXQ, segs, 0, 3);
	}
	vd_kick(&e.d, RXQ);
	host_send(&e, 1400, 4);
	ok(run(&e, 1000) == 1 && vd_used(&e.d, RXQ, &id, &len) == 1 && id == head && len == HDR + 1400 &&
	   rx_frame_ok(&e, h, 1400, 4), "rx: 1400-byte frame over a 3-descriptor chain");

	/* Backpressure: with no buffer the frame waits in the socket. */
	host_send(&e, 80, 5);
	ok(run(&e, 50) == 0, "rx: no buffer posted: the loop does not wake for the pending frame");
	{
		int pending = 0;

		ok(ioctl(e.dev_end, FIONREAD, &pending) == 0 && pending == 80, "rx: the frame waits in the socket");
	}
	head = post_rx(&e, HDR + 1518, &gpa);
	vd_kick(&e.d, RXQ);
	ok(run(&e, 1000) == 1 && vd_used(&e.d, RXQ, &id, &len) == 1 && id == head && len == HDR + 80 &&
	   rx_frame_ok(&e, gpa, 80, 5), "rx: posting a buffer delivers the waiting frame");

	/* Too large for the buffer: dropped, the buffer kept for the next. */
	head = post_rx(&e, HDR + 100, &gpa);
	vd_kick(&e.d, RXQ);
	host_send(&e, 200, 6);
	ok(run(&e, 1000) == 1 && vd_used(&e.d, RXQ, &id, &len) == 0 && stats(&e).rx_dropped == 1,
	   "rx: 200-byte frame into 100 bytes: dropped and counted");
	host_send(&e, 10, 7);
	ok(run(&e, 1000) == 1 && vd_used(&e.d, RXQ, &id, &len) == 0 && stats(&e).rx_dropped == 2,
	   "rx: a 10-byte runt: dropped");
	host_send(&e, 100, 8);
	ok(run(&e, 1000) == 1 && vd_used(&e.d, RXQ, &id, &len) == 1 && id == head && len == HDR + 100 &&
	   rx_frame_ok(&e, gpa, 100, 8), "rx: a frame that fits exactly goes into the same buffer");
	ok(!broken(&e), "none of that broke the device");
	ok(stats(&e).rx_frames == 4 && stats(&e).tx_frames == 2 && stats(&e).rx_bytes == 100 + 1400 + 80 + 100,
	   "stats: 4 frames in, 2 out");
	env_close(&e);
}

static void test_tx_hostile(void)
{
	struct env e;
	uint8_t f[128];
	uint16_t id;
	uint32_t len;
	uint64_t g;
	int head, i;

	if (env_open(&e, SOCK_DGRAM, false) < 0) {
		ok(0, "device and driver set up");
		env_close(&e);
		return;
	}
	head = guest_tx(&e, 60, 1, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
	guest_tx(&e, 60, 2, 0, VIRTIO_NET_HDR_GSO_TCPV4);
	guest_tx(&e, 13, 3, 0, 0);
	vd_kick(&e.d, TXQ);
	for (i = 0; vd_used(&e.d, TXQ, &id, &len) == 1; i++)
		;
	ok(head >= 0 && i == 3 && recv(e.host, f, sizeof(f), MSG_DONTWAIT) < 0 && stats(&e).tx_dropped == 3 &&
	   !broken(&e), "tx: NEEDS_CSUM, GSO and a 13-byte runt: returned unsent, counted");
	g = vd_alloc(&e.d, HDR + VMM_NET_MAX_FRAME + 1);
	{
		struct vd_seg seg = { g, HDR + VMM_NET_MAX_FRAME + 1 };

		head = vd_add(&e.d, TXQ, &seg, 1, 0);
	}
	vd_kick(&e.d, TXQ);
	ok(vd_used(&e.d, TXQ, &id, &len) == 1 && id == head && stats(&e).tx_dropped == 4,
	   "tx: a frame over %u bytes: dropped", VMM_NET_MAX_FRAME);

	/* Rule breakers: the device goes NEEDS_RESET, nothing is sent. */
	g = vd_alloc(&e.d, HDR + 60);
	{
		struct vd_seg segs[] = { { g, HDR + 60 }, { g, 4 } };

		vd_add(&e.d, TXQ, segs, 1, 1);
	}
	vd_kick(&e.d, TXQ);
	ok(broken(&e) && recv(e.host, f, sizeof(f), MSG_DONTWAIT) < 0,
	   "tx: a chain with a writable buffer: NEEDS_RESET (%s)", e.d.m->broken_msg);
	ok(vd_start(&e.d, FEATS, 2) == 0, "reset and restart");
	{
		struct vd_seg seg = { g, 8 };

		vd_add(&e.d, TXQ, &seg, 1, 0);
	}
	vd_kick(&e.d, TXQ);
	ok(broken(&e), "tx: an 8-byte chain (short header): NEEDS_RESET (%s)", e.d.m->broken_msg);
	ok(vd_start(&e.d, FEATS, 2) == 0, "reset and restart");
	{
		struct vd_seg segs[] = { { g, HDR }, { VMM_MMIO_HOLE_START, 60 } };

		vd_add(&e.d, TXQ, segs, 2, 0);
	}
	vd_kick(&e.d, TXQ);
	ok(broken(&e) && recv(e.host, f, sizeof(f), MSG_DONTWAIT) < 0, "tx: frame in the MMIO hole: NEEDS_RESET (%s)",
	   e.d.m->broken_msg);
	ok(vd_start(&e.d, FEATS, 2) == 0, "reset and restart");
	guest_tx(&e, 60, 9, 0, 0);
	vd_kick(&e.d, TXQ);
	ok(recv(e.host, f, sizeof(f), MSG_DONTWAIT) == 60, "tx works again");
	env_close(&e);
}

static void test_rx_hostile(void)
{
	struct env e;
	uint64_t gpa;
	uint16_t id;
	uint32_t len;
	int head;

	if (env_open(&e, SOCK_DGRAM, false) < 0) {
		ok(0, "device and driver set up");
		env_close(&e);
		return;
	}
	gpa = vd_alloc(&e.d, 2048);
	{
		struct vd_seg segs[] = { { gpa, 64 }, { gpa + 64, 1500 } };

		vd_add(&e.d, RXQ, segs, 1, 1);
	}
	vd_kick(&e.d, RXQ);
	host_send(&e, 100, 1);
	ok(run(&e, 1000) == 1 && broken(&e), "rx: a chain with a readable buffer: NEEDS_RESET (%s)",
	   e.d.m->broken_msg);
	ok(run(&e, 50) == 0, "a broken device does not keep the loop awake");
	ok(vd_start(&e.d, FEATS, 2) == 0, "reset and restart");
	{
		struct vd_seg seg = { gpa, 8 };

		vd_add(&e.d, RXQ, &seg, 0, 1);
	}
	vd_kick(&e.d, RXQ);
	ok(run(&e, 1000) == 1 && broken(&e), "rx: an 8-byte buffer: NEEDS_RESET (%s)", e.d.m->broken_msg);
	ok(vd_start(&e.d, FEATS, 2) == 0, "reset and restart");

	/* A reset while a buffer is held (after a dropped frame). */
	post_rx(&e, HDR + 50, &gpa);
	vd_kick(&e.d, RXQ);
	host_send(&e, 500, 2);
	ok(run(&e, 1000) == 1 && vd_used(&e.d, RXQ, &id, &len) == 0, "a buffer held after a dropped frame");
	ok(vd_start(&e.d, FEATS, 2) == 0, "reset and restart");
	head = post_rx(&e, HDR + 1518, &gpa);
	vd_kick(&e.d, RXQ);
	host_send(&e, 64, 3);
	ok(run(&e, 1000) == 1 && vd_used(&e.d, RXQ, &id, &len) == 1 && id == head && len == HDR + 64 &&
	   rx_frame_ok(&e, gpa, 64, 3), "after the reset the new buffer gets the next frame");
	ok(stats(&e).rx_frames == 1, "and only that one was delivered");
	env_close(&e);
}

/* The host side full: transmit waits for EPOLLOUT and keeps the order. */
static void test_tx_backpressure(void)
{
	enum { N = 64 };
	struct env e;
	uint8_t f[256], want[256];
	unsigned int got = 0, in_order = 0, round;
	uint16_t id;
	uint32_t len;
	int one = 1, used = 0;

	if (env_open(&e, SOCK_DGRAM, false) < 0) {
		ok(0, "device and driver set up");
		env_close(&e);
		return;
	}
	for (unsigned int i = 0; i < N; i++)
		guest_tx(&e, 200, i, 0, 0);
	/* The device's duplicate shares the socket: the smallest send buffer
	 * makes the kernel push back after a few frames. */
	ok(setsockopt(e.dev_end, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)) == 0,
	   "the device's end gets the smallest send buffer");
	vd_kick(&e.d, TXQ);
	while (vd_used(&e.d, TXQ, &id, &len) == 1)
		used++;
	ok(used > 0 && used < N && stats(&e).tx_frames == (unsigned long)used,
	   "tx: %d of %d frames went before the socket pushed back", used, N);
	for (round = 0; round < 200 && got < N; round++) {
		ssize_t n;

		while ((n = recv(e.host, f, sizeof(f), MSG_DONTWAIT)) > 0) {
			make_frame(want, 200, got);
			in_order += n == 200 && memcmp(f, want, 200) == 0;
			got++;
		}
		run(&e, 100);
	}
	while (vd_used(&e.d, TXQ, &id, &len) == 1)
		used++;
	ok(got == N && in_order == N && used == N, "tx: all %d frames arrive, in order (%u), all chains returned (%d)",
	   N, in_order, used);
	ok(run(&e, 50) == 0, "and the loop is idle again (no EPOLLOUT interest left)");
	env_close(&e);
}

/* The host side hangs up: link down, transmit drops, the loop stays idle. */
static void test_hangup(void)
{
	struct env e;
	uint16_t v16 = 0xffff, id;
	uint32_t gen, len;
	uint64_t gpa;

	if (env_open(&e, SOCK_SEQPACKET, false) < 0) {
		ok(0, "device and driver set up");
		env_close(&e);
		return;
	}
	gen = vd_read(&e.d, VIRTIO_MMIO_CONFIG_GENERATION);
	post_rx(&e, HDR + 1518, &gpa);
	vd_kick(&e.d, RXQ);
	vd_irqs(&e.d);
	close(e.host);
	e.host = -1;
	ok(run(&e, 1000) == 1 && stats(&e).host_dead, "seqpacket peer closed: the host side is dead");
	vd_config_read(&e.d, 6, &v16, 2);
	ok(v16 == 0 && vd_read(&e.d, VIRTIO_MMIO_CONFIG_GENERATION) != gen &&
	   (vd_isr_ack(&e.d) & VMM_VIRTIO_INT_CONFIG) && vd_irqs(&e.d) >= 1,
	   "link down, config generation bumped, config interrupt");
	ok(run(&e, 50) == 0, "the hung-up fd does not spin the loop");
	guest_tx(&e, 60, 1, 0, 0);
	vd_kick(&e.d, TXQ);
	ok(vd_used(&e.d, TXQ, &id, &len) == 1 && stats(&e).tx_dropped == 1 && !broken(&e),
	   "tx after the hang-up: returned, dropped");
	env_close(&e);
}

static void test_ioeventfd(void)
{
	struct env e;
	uint8_t f[128];
	uint16_t id;
	uint32_t len;
	uint64_t gpa;
	int head;

	if (env_open(&e, SOCK_DGRAM, true) < 0) {
		ok(0, "device and driver set up");
		env_close(&e);
		return;
	}
	head = guest_tx(&e, 70, 1, 0, 0);
	vd_kick(&e.d, TXQ);
	ok(recv(e.host, f, sizeof(f), MSG_DONTWAIT) < 0, "ioeventfd kick: nothing before the loop runs");
	ok(run(&e, 1000) >= 1 && recv(e.host, f, sizeof(f), MSG_DONTWAIT) == 70 &&
	   vd_used(&e.d, TXQ, &id, &len) == 1 && id == head, "the loop sends the frame");
	head = post_rx(&e, HDR + 1518, &gpa);
	vd_kick(&e.d, RXQ);
	host_send(&e, 90, 2);
	run(&e, 1000);
	run(&e, 100);
	ok(vd_used(&e.d, RXQ, &id, &len) == 1 && id == head && rx_frame_ok(&e, gpa, 90, 2),
	   "rx buffer posted by ioeventfd: frame delivered");
	env_close(&e);
	ok(1, "destroy with notify_fd registered");
}


/* ---- a real tap ---------------------------------------------------------- */

static bool iface_up(const char *ifname)
{
	cleanup_close int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	return s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
}

/* Frames between the guest and a packet socket on the tap's interface. */
static void tap_traffic(int tap_fd, const char *ifname)
{
	struct vmm_memory *mem = NULL;
	struct vmm_loop *loop = NULL;
	struct vmm_net *net = NULL;
	struct lv_error *err = NULL;
	cleanup_close int ps = -1;
	struct sockaddr_ll sll;
	uint8_t f[256], want[256];
	struct vd d;
	uint16_t id;
	uint32_t len;
	int i, round, found = 0;
	ssize_t n = -1;

	if (vmm_memory_create(16 * MiB, &mem, &err) < 0 || vmm_loop_create(&loop, &err) < 0 ||
	    vmm_net_create(mem, BASE, 6, false, loop, tap_fd, true, guest_mac, &net, &err) < 0) {
		ok(0, "net device on the tap (%s)", err ? err->msg : "");
		goto out;
	}
	vd_attach(&d, mem, vmm_net_mmio(net));
	ok(vd_start(&d, FEATS, 2) == 0, "net device on the tap, driver started");

	ps = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETHERTYPE));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETHERTYPE);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (ps < 0 || bind(ps, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		ok(1, "# SKIP no packet socket on %s", ifname);
		goto out;
	}

	/* Guest to host: the vnet header is ours (zeroed), the frame intact. */
	{
		uint64_t g = vd_alloc(&d, HDR + 90);
		struct vd_seg seg = { g, HDR + 90 };

		make_frame(vd_ptr(&d, g + HDR, 90), 90, 11);
		vd_add(&d, TXQ, &seg, 1, 0);
	}
	vd_kick(&d, TXQ);
	make_frame(want, 90, 11);
	for (round = 0; round < 100 && n < 0; round++) {
		n = recv(ps, f, sizeof(f), 0);
		if (n < 0)
			usleep(10000);
	}
	ok(n == 90 && memcmp(f, want, 90) == 0, "guest tx comes out of %s", ifname);

	/* Host to guest: whatever else the kernel sends there is skipped. */
	for (i = 0; i < 8; i++) {
		struct vd_seg seg = { vd_alloc(&d, HDR + 1518), HDR + 1518 };

		vd_add(&d, RXQ, &seg, 0, 1);
	}
	vd_kick(&d, RXQ);
	make_frame(f, 120, 12);
	memcpy(f, guest_mac, 6);
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, guest_mac, 6);
	ok(sendto(ps, f, 120, 0, (struct sockaddr *)&sll, sizeof(sll)) == 120, "frame sent into %s", ifname);
	for (round = 0; round < 20 && !found; round++) {
		(void)vmm_loop_run_once(loop, 100, &err);
		/* Each chain is one descriptor: the head's address is the buffer. */
		while (!found && vd_used(&d, RXQ, &id, &len) == 1) {
			uint8_t *p = id < d.q[RXQ].size ? vd_ptr(&d, vd_desc(&d, RXQ)[id].addr, len) : NULL;

			found = len == HDR + 120 && p && memcmp(p + HDR, f, 120) == 0 && p[0] == 0 && p[1] == 0;
		}
	}
	ok(found, "the frame reaches the guest through the tap fd, with a zeroed header");
out:
	lv_error_free(&err);
	vmm_net_destroy(&net);
	vmm_loop_destroy(&loop);
	vmm_memory_destroy(&mem);
}

static void test_tap(void)
{
	struct lv_error *err = NULL;
	char ifname[IFNAMSIZ] = "", path[128];
	cleanup_close int fd = -1;
	int plain = -1, fl, fdfl, sz = 0;
	struct ifreq ifr;
	FILE *f;

	/* A network namespace of our own keeps the host's interfaces out of
	 * it; where we may not make one, the taps are transient anyway (they
	 * vanish with their fds). */
	if (unshare(CLONE_NEWNET) == 0)
		printf("# tap tests in a private network namespace\n");
	else
		printf("# tap tests in the current network namespace (unshare: %s)\n", strerror(errno));
	ok(vmm_tap_open("an-interface-name-too-long", true, &fd, ifname, &err) == -EINVAL && fd < 0,
	   "a name of 26 characters: EINVAL");
	lv_error_free(&err);
	if (vmm_tap_open(NULL, true, &fd, ifname, &err) < 0) {
		ok(1, "# SKIP no tap here: %s", err ? err->msg : "?");
		lv_error_free(&err);
		return;
	}
	ok(fd >= 0 && ifname[0], "tap %s opened", ifname);
	fl = fcntl(fd, F_GETFL);
	fdfl = fcntl(fd, F_GETFD);
	ok((fl & O_NONBLOCK) && (fl & O_ACCMODE) == O_RDWR && (fdfl & FD_CLOEXEC),
	   "the fd is read-write, nonblocking, close-on-exec");
	memset(&ifr, 0, sizeof(ifr));
	ok(ioctl(fd, TUNGETIFF, &ifr) == 0 && strcmp(ifr.ifr_name, ifname) == 0 &&
	   (ifr.ifr_flags & (IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)) == (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR),
	   "TUNGETIFF: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (0x%x)", (unsigned int)ifr.ifr_flags);
	ok(ioctl(fd, TUNGETVNETHDRSZ, &sz) == 0 && sz == VMM_TAP_VNET_HDR_LEN, "vnet header size %d", sz);
	ok(vmm_tap_open(ifname, true, &plain, NULL, &err) < 0 && plain < 0,
	   "a second open of the same (single-queue) tap fails (%s)", err ? err->msg : "");
	lv_error_free(&err);

	/* Keep IPv6 autoconfiguration quiet; it does not matter if we cannot. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	f = fopen(path, "w");
	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
	ok(!iface_up(ifname) && vmm_tap_set_up(ifname, &err) == 0 && iface_up(ifname), "%s brought up (%s)", ifname,
	   err ? err->msg : "ok");
	lv_error_free(&err);
	ok(vmm_tap_set_up("nosuchif0", &err) == -ENODEV, "bringing up a missing interface: ENODEV (%s)",
	   err ? err->msg : "");
	lv_error_free(&err);
	tap_traffic(fd, ifname);

	{
		cleanup_close int fd2 = -1;
		char name2[IFNAMSIZ];

		memset(&ifr, 0, sizeof(ifr));
		ok(vmm_tap_open(NULL, false, &fd2, name2, &err) == 0 && ioctl(fd2, TUNGETIFF, &ifr) == 0 &&
		   !(ifr.ifr_flags & IFF_VNET_HDR), "without vnet_hdr: no IFF_VNET_HDR (%s)", name2);
		lv_error_free(&err);
	}
}

int main(void)
{
	test_create_errors();
	test_basics();
	test_tx_hostile();
	test_rx_hostile();
	test_tx_backpressure();
	test_hangup();
	test_ioeventfd();
	test_tap();
	return tap_done();
}
