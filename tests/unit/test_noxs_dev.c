/* Unit tests for the device page's devices, channels and network sections
 * (version 1.2), TAP.  The rest of the page is test_noxs.c's.
 *
 * `test_noxs_dev --write-seeds DIR` writes fuzzing seeds to DIR/page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../noxs/chan.h"
#include "../../noxs/page.h"
#include "noxs_equal.h"
#include "tap.h"
#include "testutil.h"

/* Byte layout from noxs/README.md. */
#define H_MINOR 6
#define H_SECT_COUNT 48
#define HDR_SIZE 128
#define D_ID 0
#define D_FLAGS 2
#define D_OFF 4
#define D_COUNT 8
#define D_SIZE 12

static const char *args[] = { "/bin/sh", NULL };

static struct noxs_device devices[] = {
	{ NOXS_DEV_CONTROL, 0, "org.lightvm.ctl", { 0 }, 0 },
	{ NOXS_DEV_BLOCK, NOXS_DEVF_READONLY, "vda", { 0 }, 0 },
	{ NOXS_DEV_NET, 0, "eth0", { 0x02, 0x42, 0xac, 0x11, 0x00, 0x02 }, 1500 },
	{ NOXS_DEV_NET, 0, "eth1", { 0x0a, 0, 0, 0, 0, 1 }, 0 },
};
static struct noxs_channel channels[] = { { NOXS_CHAN_PROCESS, 0 }, { NOXS_CHAN_ROOTFS, 0 } };
static struct noxs_addr addrs[] = {
	{ 2, 4, 16, { 172, 17, 0, 2 } },
	{ 2, 6, 64, { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 } },
	{ 3, 4, 32, { 10, 1, 2, 3 } },
};
static struct noxs_route routes[] = {
	{ 2, 4, 0, 0, { 0 }, { 172, 17, 0, 1 } },
	{ 2, 4, 24, 100, { 192, 168, 7, 0 }, { 0 } },
	{ 2, 6, 0, 0, { 0 }, { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 } },
};

static struct noxs_proc dev_proc(void)
{
	struct noxs_proc p = {
		.cwd = "/", .args = args, .nargs = 1,
		.devices = devices, .ndevices = 4, .channels = channels, .nchannels = 2,
		.addrs = addrs, .naddrs = 3, .routes = routes, .nroutes = 3,
	};
	return p;
}

/* The descriptor of section id in an encoded page, or NULL. */
static uint8_t *desc(uint8_t *b, uint16_t id)
{
	uint32_t n = noxs_get_u32(b + H_SECT_COUNT);

	for (uint32_t i = 0; i < n; i++)
		if (noxs_get_u16(b + HDR_SIZE + 16 * i + D_ID) == id)
			return b + HDR_SIZE + 16 * i;
	return NULL;
}

static int enc(const struct noxs_proc *p, uint8_t **buf, size_t *len, char *msg, size_t msgsize)
{
	struct lv_error *err = NULL;
	int r = noxs_page_encode(p, buf, len, &err);

	if (msg)
		snprintf(msg, msgsize, "%s", err && err->msg ? err->msg : "");
	lv_error_free(&err);
	return r;
}

static int dec(const uint8_t *buf, size_t len, char *msg, size_t msgsize)
{
	uint8_t *copy = malloc(len);
	struct lv_error *err = NULL;
	struct noxs_proc p;
	int r;

	memcpy(copy, buf, len); /* exact size: ASan sees any read past the end */
	r = noxs_page_decode(copy, len, &p, &err);
	snprintf(msg, msgsize, "%s", err && err->msg ? err->msg : "");
	if (r == 0)
		noxs_proc_free(&p);
	lv_error_free(&err);
	free(copy);
	return r;
}

static void test_roundtrip(void)
{
	struct noxs_proc in = dev_proc(), out;
	struct lv_error *err = NULL;
	uint8_t *buf = NULL, *d;
	size_t len = 0;

	ok(enc(&in, &buf, &len, NULL, 0) == 0, "encode devices, channels, addresses and routes");
	ok(noxs_get_u16(buf + H_MINOR) == 2, "the page says version 1.2");
	ok(noxs_get_u32(buf + H_SECT_COUNT) == 13, "13 sections: the nine of 1.0, then 10, 11, 13, 14");
	d = desc(buf, 10);
	ok(d && noxs_get_u32(d + D_SIZE) == 16 && noxs_get_u32(d + D_COUNT) == 4 && noxs_get_u16(d + D_FLAGS) == 1,
	   "devices: 4 records of 16 bytes, critical (a net device is there)");
	d = desc(buf, 11);
	ok(d && noxs_get_u32(d + D_SIZE) == 8 && noxs_get_u16(d + D_FLAGS) == 0, "channels: 8 bytes, not critical");
	d = desc(buf, 13);
	ok(d && noxs_get_u32(d + D_SIZE) == 24 && noxs_get_u16(d + D_FLAGS) == 1, "addresses: 24 bytes, critical");
	d = desc(buf, 14);
	ok(d && noxs_get_u32(d + D_SIZE) == 40 && noxs_get_u16(d + D_FLAGS) == 1, "routes: 40 bytes, critical");
	d = desc(buf, 10);
	{
		const uint8_t *r2 = buf + noxs_get_u32(d + D_OFF) + 2 * 16;
		ok(noxs_get_u16(r2) == NOXS_DEV_NET && memcmp(r2 + 8, devices[2].mac, 6) == 0 &&
		   noxs_get_u16(r2 + 14) == 1500, "device record: kind at 0, mac at 8, mtu at 14");
	}
	ok(noxs_page_decode(buf, len, &out, &err) == 0, "decode it: %s", err ? err->msg : "ok");
	ok(noxs_proc_equal(&in, &out), "every device, channel, address and route survives the round trip");
	is_str(out.devices[0].name, "org.lightvm.ctl", "the control port's name");
	noxs_proc_free(&out);
	ok(out.devices == NULL && out.ndevices == 0 && out.routes == NULL, "noxs_proc_free resets them");
	free(buf);
	lv_error_free(&err);
}

static void test_compat(void)
{
	struct noxs_proc in = dev_proc(), out;
	struct lv_error *err = NULL;
	uint8_t *buf = NULL, *d;
	size_t len = 0;

	/* Without a net device the devices section is only a description,
	 * and a 1.1 reader may skip it. */
	in.ndevices = 2;
	in.naddrs = in.nroutes = 0;
	ok(enc(&in, &buf, &len, NULL, 0) == 0 && noxs_get_u32(buf + H_SECT_COUNT) == 11,
	   "control and block only: 11 sections");
	d = desc(buf, 10);
	ok(d && noxs_get_u16(d + D_FLAGS) == 0, "devices without a net device: not critical");
	free(buf);

	/* An unknown device kind and channel are skipped, not refused. */
	{
		struct noxs_device dv[] = { devices[0], { 77, 0, "future", { 0 }, 0 } };
		struct noxs_channel ch[] = { { NOXS_CHAN_PROCESS, 0 }, { 99, 0 } };

		in = dev_proc();
		in.devices = dv;
		in.ndevices = 2;
		in.channels = ch;
		in.naddrs = in.nroutes = 0;
		ok(enc(&in, &buf, &len, NULL, 0) == 0 && noxs_page_decode(buf, len, &out, &err) == 0 &&
		   out.ndevices == 2 && out.devices[1].kind == 77 && out.channels[1].what == 99,
		   "unknown device kind 77 and channel 99 decode (the guest skips them)");
		noxs_proc_free(&out);
		free(buf);
	}

	/* No devices at all: the page of 1.1. */
	in = dev_proc();
	in.ndevices = in.nchannels = in.naddrs = in.nroutes = 0;
	ok(enc(&in, &buf, &len, NULL, 0) == 0 && noxs_get_u32(buf + H_SECT_COUNT) == 9,
	   "no devices: the nine sections of 1.0");
	free(buf);
	lv_error_free(&err);
}

struct bad_case {
	const char *what, *want;
	void (*change)(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt);
};

static void b_family(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	ad[0].family = 5;
}
static void b_prefix4(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	ad[0].prefix = 33;
}
static void b_prefix6(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	ad[1].prefix = 129;
}
static void b_v4_tail(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	ad[0].addr[15] = 1;
}
static void b_addr_dev(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	ad[2].device = 1; /* the block device */
}
static void b_addr_dev_past(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	ad[2].device = 4;
}
static void b_route_dev(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	rt[1].device = 0;
}
static void b_route_bits(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	rt[1].dst[3] = 1; /* 192.168.7.1/24 */
}
static void b_gw_family(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	rt[0].gateway[12] = 1; /* an IPv4 route with bytes past the first 4 */
}
static void b_chan_dev(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	p->channels[1].device = 2;
}
static void b_chan_dup(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	p->channels[1].what = NOXS_CHAN_PROCESS;
}
static void b_name_empty(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	dv[1].name = "";
}
static void b_ifname_long(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	dv[2].name = "abcdefghijklmnop";
}
static void b_ifname_slash(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	dv[2].name = "eth/0";
}
static void b_ifname_dot(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	dv[2].name = "..";
}
static void b_mac_zero(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	memset(dv[2].mac, 0, 6);
}
static void b_mac_mcast(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	dv[3].mac[0] = 0x01;
}
static void b_mtu(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	dv[2].mtu = 67;
}
static void b_too_many(struct noxs_proc *p, struct noxs_device *dv, struct noxs_addr *ad, struct noxs_route *rt)
{
	p->nchannels = NOXS_MAX_DEVICES + 1; /* never read: the count is refused first */
}

static const struct bad_case bad[] = {
	{ "address family 5", "addresses[0].family 5 is neither 4 nor 6", b_family },
	{ "IPv4 prefix /33", "addresses[0].prefix /33 is too long for IPv4", b_prefix4 },
	{ "IPv6 prefix /129", "addresses[1].prefix /129 is too long for IPv6", b_prefix6 },
	{ "IPv4 address with a tail", "addresses[0] is IPv4 but has bytes past the first 4", b_v4_tail },
	{ "address on a block device", "addresses[2].device 1 is not a net device", b_addr_dev },
	{ "address on no device", "addresses[2].device 4 is not a net device", b_addr_dev_past },
	{ "route on the control device", "routes[1].device 0 is not a net device", b_route_dev },
	{ "route with host bits", "routes[1]: the destination has bits set past /24", b_route_bits },
	{ "IPv4 gateway with a tail", "routes[0] is IPv4 but has bytes past the first 4", b_gw_family },
	{ "channel on a net device", "channels[1].device 2 is not a control device", b_chan_dev },
	{ "channel twice", "channels[1]: channel 1 appears twice", b_chan_dup },
	{ "empty device name", "devices[1].name is empty", b_name_empty },
	{ "16-byte interface name", "is not an interface name", b_ifname_long },
	{ "interface name with a slash", "devices[2].name 'eth/0' is not an interface name", b_ifname_slash },
	{ "interface name ..", "devices[2].name '..' is not an interface name", b_ifname_dot },
	{ "net device without a mac", "devices[2] (eth0) has no unicast mac", b_mac_zero },
	{ "multicast mac", "devices[3] (eth1) has no unicast mac", b_mac_mcast },
	{ "mtu 67", "devices[2] (eth0) mtu 67 is under 68", b_mtu },
	{ "65 channels", "65 channels exceed the limit of 64", b_too_many },
};

/* Each bad proc is refused by the encoder with a message naming the field;
 * the same mistake written into a good page by hand is refused by the
 * decoder with the same message (the checks are shared). */
static void test_reject(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct noxs_device dv[4];
		struct noxs_addr ad[3];
		struct noxs_route rt[3];
		struct noxs_channel ch[2];
		struct noxs_proc p = dev_proc();
		uint8_t *buf = NULL;
		size_t len = 0;
		char msg[512];

		memcpy(dv, devices, sizeof(dv));
		memcpy(ad, addrs, sizeof(ad));
		memcpy(rt, routes, sizeof(rt));
		memcpy(ch, channels, sizeof(ch));
		p.devices = dv;
		p.addrs = ad;
		p.routes = rt;
		p.channels = ch;
		bad[i].change(&p, dv, ad, rt);
		ok(enc(&p, &buf, &len, msg, sizeof(msg)) == -EINVAL && strstr(msg, bad[i].want),
		   "encoder refuses %s: %s", bad[i].what, msg);
		free(buf);
	}
}

/* The same rules hold for a page the encoder never made. */
static void test_decoder_reject(void)
{
	struct noxs_proc in = dev_proc();
	uint8_t *buf = NULL, *d;
	size_t len = 0;
	char msg[512];

	enc(&in, &buf, &len, NULL, 0);
	d = desc(buf, 13);
	buf[noxs_get_u32(d + D_OFF) + 2] = 7; /* addresses[0].family */
	ok(dec(buf, len, msg, sizeof(msg)) == -EINVAL && strstr(msg, "addresses[0].family 7 is neither 4 nor 6"),
	   "decoder refuses a bad family: %s", msg);
	buf[noxs_get_u32(d + D_OFF) + 2] = 4;
	noxs_put_u16(buf + noxs_get_u32(d + D_OFF) + 24 * 2, 0); /* addresses[2].device = the control port */
	ok(dec(buf, len, msg, sizeof(msg)) == -EINVAL && strstr(msg, "addresses[2].device 0 is not a net device"),
	   "decoder refuses an address on the control port: %s", msg);
	noxs_put_u16(buf + noxs_get_u32(d + D_OFF) + 24 * 2, 3);
	ok(dec(buf, len, msg, sizeof(msg)) == 0, "restored, it decodes again");

	d = desc(buf, 10);
	noxs_put_u32(buf + noxs_get_u32(d + D_OFF) + 16 * 1 + 4, 0x7fffffff); /* devices[1].name */
	ok(dec(buf, len, msg, sizeof(msg)) == -EINVAL && strstr(msg, "devices[1].name string offset"),
	   "decoder refuses a device name outside the string area: %s", msg);
	free(buf);

	enc(&in, &buf, &len, NULL, 0);
	d = desc(buf, 14);
	noxs_put_u32(d + D_SIZE, 39);
	ok(dec(buf, len, msg, sizeof(msg)) == -EINVAL && strstr(msg, "routes records are 39 bytes, expected at least 40"),
	   "decoder refuses short route records: %s", msg);
	noxs_put_u32(d + D_SIZE, 40);
	noxs_put_u32(d + D_COUNT, NOXS_MAX_ITEMS + 1);
	ok(dec(buf, len, msg, sizeof(msg)) == -EINVAL, "decoder refuses 257 routes: %s", msg);
	free(buf);

	/* A 1.1 reader refuses a page whose devices hold a net device (it
	 * could not configure it): the section is critical.  This reader,
	 * relabelled, shows the same with an unknown id. */
	enc(&in, &buf, &len, NULL, 0);
	noxs_put_u16(desc(buf, 13) + D_ID, 16);
	ok(dec(buf, len, msg, sizeof(msg)) == -EPROTONOSUPPORT && strstr(msg, "section 16 is marked critical"),
	   "an unknown critical network section is refused: %s", msg);
	free(buf);
}

static int write_seeds(const char *dir)
{
	struct noxs_proc p = dev_proc();
	char sub[2048];
	uint8_t *buf;
	size_t len;
	int r;

	snprintf(sub, sizeof(sub), "%s/page", dir);
	if (enc(&p, &buf, &len, NULL, 0) < 0)
		return 1;
	r = write_seed_file(sub, "devices-net", buf, len);
	free(buf);
	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	test_roundtrip();
	test_compat();
	test_reject();
	test_decoder_reject();
	return tap_done();
}
