/* vmm/virtio_console: the multiport control handshake as Linux drives it,
 * bytes both ways between a fake guest driver (virtio_driver.h) and a
 * socketpair standing in for the monitor, backpressure in both directions,
 * host EOF, resets, and hostile control traffic.  Needs no /dev/kvm. */
#include "../../lib/cleanup.h"
#include "../../vmm/virtio_console.h"
#include "tap.h"
#include "virtio_driver.h"

#include <fcntl.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <sys/socket.h>
#include <unistd.h>

#define MiB      (1ULL << 20)
#define BASE     0xd0000000ULL
#define PORT     VMM_CONSOLE_PORT_ID
#define NAME     "org.lightvm.ctl"
#define Q_CRX    2
#define Q_CTX    3
#define Q_RX     4
#define Q_TX     5
#define MULTIPORT (1ULL << VIRTIO_CONSOLE_F_MULTIPORT)

struct env {
	struct vmm_memory *mem;
	struct vmm_loop *loop;
	struct vmm_console *con;
	int sp[2];               /* sp[0]: the device's, sp[1]: the "monitor" */
	struct vd d;
	uint64_t buf_of[VMM_VIRTIO_MAX_QUEUES][VMM_VQ_MAX_SIZE]; /* posted buffer by head */
};

static int env_init(struct env *e, bool ioeventfd)
{
	struct lv_error *err = NULL;

	memset(e, 0, sizeof(*e));
	e->sp[0] = e->sp[1] = -1;
	if (vmm_memory_create(16 * MiB, &e->mem, &err) < 0 || vmm_loop_create(&e->loop, &err) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, e->sp) < 0 ||
	    vmm_console_create(e->mem, BASE, 5, ioeventfd, e->loop, e->sp[0], NAME, &e->con, &err) < 0) {
		printf("# env_init: %s\n", err ? err->msg : strerror(errno));
		lv_error_free(&err);
		return -1;
	}
	vd_attach(&e->d, e->mem, vmm_console_mmio(e->con));
	e->d.kick_eventfd = ioeventfd;
	return 0;
}

static void env_fini(struct env *e)
{
	vmm_console_destroy(&e->con);
	vmm_loop_destroy(&e->loop);
	vmm_memory_destroy(&e->mem);
	if (e->sp[0] >= 0)
		close(e->sp[0]);
	if (e->sp[1] >= 0)
		close(e->sp[1]);
}

/* Lets the device thread run until nothing fires for a moment. */
static int spin(struct env *e)
{
	struct lv_error *err = NULL;
	int r, total = 0, rounds = 0;

	while ((r = vmm_loop_run_once(e->loop, 20, &err)) > 0 && ++rounds < 1000)
		total += r;
	lv_error_free(&err);
	return total;
}

static void post(struct env *e, unsigned int q, uint64_t gpa, uint32_t len)
{
	struct vd_seg seg = { gpa, len };
	int head = vd_add(&e->d, q, &seg, 0, 1);

	if (head >= 0)
		e->buf_of[q][head] = gpa;
}

static void post_new(struct env *e, unsigned int q, unsigned int n, uint32_t len)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		post(e, q, vd_alloc(&e->d, len), len);
	vd_kick(&e->d, q);
	spin(e);
}

/* A control message from the guest (its own 8-byte buffer). */
static void ctrl_send_raw(struct env *e, const void *msg, uint32_t len)
{
	struct vd_seg seg = { vd_alloc(&e->d, len ? len : 1), len };

	memcpy(vd_ptr(&e->d, seg.gpa, seg.len), msg, len);
	vd_add(&e->d, Q_CTX, &seg, 1, 0);
	vd_kick(&e->d, Q_CTX);
	spin(e);
}

static void ctrl_send(struct env *e, uint32_t id, uint16_t event, uint16_t value)
{
	struct virtio_console_control m = { .id = id, .event = event, .value = value };

	ctrl_send_raw(e, &m, sizeof(m));
}

/* The next control message for the guest, its extra bytes into name; the
 * buffer is posted again.  Returns the used length, or -1 if none. */
static int ctrl_recv(struct env *e, struct virtio_console_control *m, char *name, size_t name_size)
{
	uint16_t head;
	uint32_t len;
	const uint8_t *p;
	uint64_t gpa;

	if (vd_used(&e->d, Q_CRX, &head, &len) != 1)
		return -1;
	gpa = e->buf_of[Q_CRX][head];
	p = vd_ptr(&e->d, gpa, 128);
	memset(m, 0xff, sizeof(*m));
	if (len >= sizeof(*m))
		memcpy(m, p, sizeof(*m));
	if (name) {
		size_t n = len > sizeof(*m) ? len - sizeof(*m) : 0;

		if (n >= name_size)
			n = name_size - 1;
		memcpy(name, p + sizeof(*m), n);
		name[n] = 0;
	}
	post(e, Q_CRX, gpa, 128);
	vd_kick(&e->d, Q_CRX);
	return (int)len;
}

/* Bytes the guest received on the port, in order, into buf. */
static size_t rx_collect(struct env *e, char *buf, size_t size, bool repost)
{
	size_t got = 0;
	uint16_t head;
	uint32_t len;

	while (vd_used(&e->d, Q_RX, &head, &len) == 1) {
		uint64_t gpa = e->buf_of[Q_RX][head];

		if (got + len <= size)
			memcpy(buf + got, vd_ptr(&e->d, gpa, len), len);
		got += len;
		if (repost)
			post(e, Q_RX, gpa, 64);
	}
	if (repost)
		vd_kick(&e->d, Q_RX);
	return got;
}

static int tx_send(struct env *e, const void *data, uint32_t len)
{
	struct vd_seg seg = { vd_alloc(&e->d, len), len };
	int head;

	memcpy(vd_ptr(&e->d, seg.gpa, len), data, len);
	head = vd_add(&e->d, Q_TX, &seg, 1, 0);
	vd_kick(&e->d, Q_TX);
	return head;
}

static int used_count(struct env *e, unsigned int q)
{
	uint16_t head;
	uint32_t len;
	int n = 0;

	while (vd_used(&e->d, q, &head, &len) == 1)
		n++;
	return n;
}

/* Start, control buffers, DEVICE_READY .. PORT_OPEN, rx buffers: what
 * Linux does up to a process opening /dev/vportNp1. */
static int handshake(struct env *e, const char *tag)
{
	struct virtio_console_control m;
	char name[64];
	uint16_t v16 = 0;
	uint32_t max = 0;
	int len, good = 1;

	vd_config_read(&e->d, 4, &max, 4);
	ok(vd_read(&e->d, VIRTIO_MMIO_DEVICE_ID) == VIRTIO_ID_CONSOLE && max == 2, "%s: console, max_nr_ports 2", tag);
	vd_config_read(&e->d, 0, &v16, 2);
	ok(vd_start(&e->d, MULTIPORT, 6) == 0, "%s: driver started with MULTIPORT and 6 queues", tag);
	post_new(e, Q_CRX, 4, 128);
	ctrl_send(e, 0xffffffff, VIRTIO_CONSOLE_DEVICE_READY, 1);
	ok(ctrl_recv(e, &m, NULL, 0) == 8 && m.id == PORT && m.event == VIRTIO_CONSOLE_PORT_ADD,
	   "%s: DEVICE_READY -> PORT_ADD(1)", tag);
	post_new(e, Q_RX, 2, 64);
	ctrl_send(e, PORT, VIRTIO_CONSOLE_PORT_READY, 1);
	len = ctrl_recv(e, &m, name, sizeof(name));
	ok(len == 8 + (int)strlen(NAME) && m.id == PORT && m.event == VIRTIO_CONSOLE_PORT_NAME && !strcmp(name, NAME),
	   "%s: PORT_READY -> PORT_NAME(1, '%s')", tag, name);
	good &= ctrl_recv(e, &m, NULL, 0) == 8 && m.id == PORT && m.event == VIRTIO_CONSOLE_PORT_OPEN && m.value == 1;
	ok(good, "%s: then PORT_OPEN(1, 1): the host side is connected", tag);
	ok(ctrl_recv(e, &m, NULL, 0) < 0, "%s: nothing more", tag);
	return good ? 0 : -1;
}

static void test_both_ways(void)
{
	struct env e;
	struct vmm_console_stats st;
	struct virtio_console_control m;
	char buf[256];
	ssize_t n;

	if (env_init(&e, false) < 0) {
		ok(0, "environment");
		return;
	}
	handshake(&e, "QueueNotify");

	/* Until the guest opens the port, host bytes stay in the socket. */
	ok(write(e.sp[1], "ping", 4) == 4, "monitor writes 'ping'");
	ok(spin(&e) == 0 && used_count(&e, Q_RX) == 0, "port not open in the guest: not read, no wake-ups");
	ctrl_send(&e, PORT, VIRTIO_CONSOLE_PORT_OPEN, 1);
	vmm_console_get_stats(e.con, &st);
	ok(st.guest_open, "guest PORT_OPEN(1, 1): open");
	spin(&e);
	ok(rx_collect(&e, buf, sizeof(buf), true) == 4 && !memcmp(buf, "ping", 4), "guest received 'ping'");
	ok(vd_irqs(&e.d) >= 1, "with an interrupt");

	tx_send(&e, "pong", 4);
	n = read(e.sp[1], buf, sizeof(buf));
	ok(n == 4 && !memcmp(buf, "pong", 4) && used_count(&e, Q_TX) == 1, "guest sent 'pong'; tx buffer returned");

	/* A guest close stops delivery again. */
	ctrl_send(&e, PORT, VIRTIO_CONSOLE_PORT_OPEN, 0);
	ok(write(e.sp[1], "late", 4) == 4 && spin(&e) == 0 && rx_collect(&e, buf, sizeof(buf), true) == 0,
	   "guest PORT_OPEN(1, 0): host data waits");
	ctrl_send(&e, PORT, VIRTIO_CONSOLE_PORT_OPEN, 1);
	spin(&e);
	ok(rx_collect(&e, buf, sizeof(buf), true) == 4 && !memcmp(buf, "late", 4), "reopened: 'late' arrives");

	/* Host EOF: PORT_OPEN(1, 0) to the guest, and no more reads. */
	close(e.sp[1]);
	e.sp[1] = -1;
	spin(&e);
	vmm_console_get_stats(e.con, &st);
	ok(st.host_eof && ctrl_recv(&e, &m, NULL, 0) == 8 && m.event == VIRTIO_CONSOLE_PORT_OPEN && m.value == 0,
	   "host EOF: the guest gets PORT_OPEN(1, 0)");
	ok(spin(&e) == 0, "a hung-up socket does not spin the loop");
	tx_send(&e, "void", 4);
	spin(&e);
	vmm_console_get_stats(e.con, &st);
	ok(used_count(&e, Q_TX) == 1 && st.host_dead && st.dropped == 4 && !e.d.m->broken,
	   "guest write after the host left: dropped, buffer returned, not broken");
	env_fini(&e);
}

static void test_backpressure(void)
{
	enum { CHUNK = 32768, CHAINS = 24 };
	struct env e;
	struct vmm_console_stats st;
	static uint8_t pattern[CHUNK * CHAINS], got[CHUNK * CHAINS];
	int sndbuf = 4096, i, used = 0;
	size_t total = 0;

	if (env_init(&e, false) < 0) {
		ok(0, "environment");
		return;
	}
	setsockopt(e.sp[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	setsockopt(e.sp[1], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf));
	handshake(&e, "backpressure");
	ctrl_send(&e, PORT, VIRTIO_CONSOLE_PORT_OPEN, 1);
	for (i = 0; i < (int)sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + i / 251);
	for (i = 0; i < CHAINS; i++) {
		struct vd_seg seg = { vd_alloc(&e.d, CHUNK), CHUNK };

		memcpy(vd_ptr(&e.d, seg.gpa, CHUNK), pattern + i * CHUNK, CHUNK);
		vd_add(&e.d, Q_TX, &seg, 1, 0);
	}
	vd_kick(&e.d, Q_TX);
	used = used_count(&e, Q_TX);
	vmm_console_get_stats(e.con, &st);
	ok(used < CHAINS && st.to_host < sizeof(pattern), "socket full: %d of %d chains done, %llu bytes out, rest held",
	   used, CHAINS, (unsigned long long)st.to_host);
	ok(vmm_loop_run_once(e.loop, 20, NULL) == 0, "no wake-up while the monitor does not read");
	for (i = 0; i < 10000 && total < sizeof(got); i++) {
		ssize_t n = recv(e.sp[1], got + total, sizeof(got) - total, MSG_DONTWAIT);

		if (n > 0)
			total += (size_t)n;
		vmm_loop_run_once(e.loop, 1, NULL);
	}
	used += used_count(&e, Q_TX);
	ok(total == sizeof(got) && !memcmp(got, pattern, sizeof(got)) && used == CHAINS,
	   "monitor drained it: %zu bytes in order, all %d chains returned", total, used);

	/* Host->guest: the guest has 2 buffers of 64; the host sends 1000. */
	rx_collect(&e, (char *)got, 0, false);
	for (i = 0; i < 1000; i++)
		got[i] = (uint8_t)i;
	ok(write(e.sp[1], got, 1000) == 1000, "monitor writes 1000 bytes");
	spin(&e);
	total = rx_collect(&e, (char *)pattern, sizeof(pattern), false);
	ok(total == 128, "the guest's two buffers filled (%zu bytes)", total);
	ok(spin(&e) == 0, "no buffers: EPOLLIN off, the loop sleeps");
	for (i = 0; i < 100 && total < 1000; i++) {
		post_new(&e, Q_RX, 1, 64);
		total += rx_collect(&e, (char *)pattern + total, sizeof(pattern) - total, false);
	}
	ok(total == 1000 && !memcmp(pattern, got, 1000), "one buffer at a time: all 1000 bytes, in order");
	env_fini(&e);
}

static void test_ioeventfd_and_reset(void)
{
	struct env e;
	struct vmm_console_stats st;
	char buf[16];
	int fl;

	if (env_init(&e, true) < 0) {
		ok(0, "environment");
		return;
	}
	ok(handshake(&e, "ioeventfd") == 0, "handshake through the ioeventfd and the device thread");
	ctrl_send(&e, PORT, VIRTIO_CONSOLE_PORT_OPEN, 1);
	tx_send(&e, "abc", 3);
	spin(&e);
	ok(read(e.sp[1], buf, sizeof(buf)) == 3, "tx through the ioeventfd");

	/* A reset forgets the port; the handshake works again. */
	vd_reset(&e.d);
	vmm_console_get_stats(e.con, &st);
	ok(!st.guest_open, "reset: the port is closed");
	ok(write(e.sp[1], "x", 1) == 1 && spin(&e) == 0, "no reads after a reset");
	memset(e.buf_of, 0, sizeof(e.buf_of));
	e.d.data_next = e.d.data_gpa;
	ok(handshake(&e, "after reset") == 0, "handshake again after a reset");
	ctrl_send(&e, PORT, VIRTIO_CONSOLE_PORT_OPEN, 1);
	spin(&e);
	ok(rx_collect(&e, buf, sizeof(buf), false) == 1 && buf[0] == 'x', "the byte that waited arrives");

	fl = e.sp[0];
	vmm_console_destroy(&e.con);
	ok(e.con == NULL && fcntl(fl, F_GETFD) >= 0, "destroy leaves the host fd open");
	env_fini(&e);
}

static void test_hostile(void)
{
	struct env e;
	struct vmm_console_stats st;
	struct virtio_console_control m;
	struct lv_error *err = NULL;
	struct vmm_console *c = NULL;
	unsigned long bad;
	int i;

	ok(vmm_console_create(NULL, BASE, 5, false, NULL, 0, "a/b", &c, &err) == -EINVAL && !c,
	   "port name with '/': refused (%s)", err ? err->msg : "");
	lv_error_free(&err);
	ok(vmm_console_create(NULL, BASE, 5, false, NULL, 0, "", &c, &err) == -EINVAL, "empty port name: refused");
	lv_error_free(&err);

	if (env_init(&e, false) < 0) {
		ok(0, "environment");
		return;
	}
	ok(vd_start(&e.d, 0, 6) < 0 && e.d.m->broken, "driver without MULTIPORT: broken (%s)", e.d.m->broken_msg);
	handshake(&e, "hostile");

	vmm_console_get_stats(e.con, &st);
	bad = st.bad_control;
	used_count(&e, Q_CTX);
	ctrl_send_raw(&e, "\x01\x00\x00\x00", 4);
	ctrl_send(&e, 7, VIRTIO_CONSOLE_PORT_READY, 1);
	ctrl_send(&e, 7, VIRTIO_CONSOLE_PORT_OPEN, 1);
	ctrl_send(&e, PORT, 99, 1);
	ctrl_send(&e, PORT, VIRTIO_CONSOLE_PORT_ADD, 1);
	ctrl_send_raw(&e, "", 0);
	vmm_console_get_stats(e.con, &st);
	ok(st.bad_control == bad + 6 && !st.guest_open && !e.d.m->broken && used_count(&e, Q_CTX) == 6,
	   "short, zero-length, wrong port id, unknown and device-only events: counted, ignored, returned");
	ok(ctrl_recv(&e, &m, NULL, 0) < 0, "and answered with nothing");

	/* A DEVICE_READY flood that the guest does not read the answers of:
	 * 4 fill its control rx buffers, 8 wait, the rest is dropped. */
	bad = st.bad_control;
	for (i = 0; i < 20; i++)
		ctrl_send(&e, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	vmm_console_get_stats(e.con, &st);
	ok(!e.d.m->broken && st.bad_control == bad + 8 && used_count(&e, Q_CRX) == 4,
	   "20 DEVICE_READYs, 4 rx buffers: 4 answered, 8 pending, 8 dropped and counted");

	/* A hostile ring on the control queue breaks the device. */
	vd_desc(&e.d, Q_CTX)[0] = (struct vring_desc){ .addr = 0xfee00000, .len = 8 };
	vd_publish(&e.d, Q_CTX, 0);
	vd_kick(&e.d, Q_CTX);
	ok(e.d.m->broken && (vd_status(&e.d) & VIRTIO_CONFIG_S_NEEDS_RESET), "control buffer in the MMIO hole: broken (%s)",
	   e.d.m->broken_msg);
	ok(write(e.sp[1], "zz", 2) == 2 && spin(&e) == 0, "a broken device does not read the host");
	vd_reset(&e.d);
	memset(e.buf_of, 0, sizeof(e.buf_of));
	ok(handshake(&e, "after breaking") == 0, "a reset brings it back");

	/* A control rx buffer too small for a message header. */
	vd_reset(&e.d);
	vd_start(&e.d, MULTIPORT, 6);
	post_new(&e, Q_CRX, 1, 4);
	vmm_console_get_stats(e.con, &st);
	bad = st.bad_control;
	ctrl_send(&e, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
	vmm_console_get_stats(e.con, &st);
	ok(used_count(&e, Q_CRX) == 1 && st.bad_control == bad + 1 && !e.d.m->broken,
	   "4-byte control rx buffer: returned empty, counted");
	env_fini(&e);
}

/* A snapshot of the device moved to a new one over the same guest RAM (as
 * a restored VM has it), with a new host socket: the guest's open port,
 * posted buffers and queue positions carry over; bad states are refused. */
static void test_save_restore(void)
{
	struct lv_error *err = NULL;
	struct vmm_console_state st, bad;
	struct vmm_console_stats stats;
	struct vmm_console *b = NULL;
	int sp[2] = { -1, -1 };
	char buf[64];
	struct env e;

	if (env_init(&e, false) < 0) {
		ok(0, "environment");
		return;
	}
	handshake(&e, "save");
	ctrl_send(&e, PORT, VIRTIO_CONSOLE_PORT_OPEN, 1);
	ok(write(e.sp[1], "one", 3) == 3 && spin(&e) >= 0 && rx_collect(&e, buf, sizeof(buf), true) == 3,
	   "before: 'one' reaches the guest");
	ok(vmm_console_save(e.con, &st, &err) == 0 && st.guest_open && st.port_ready &&
	   st.mmio.vqs[Q_RX].ready && st.mmio.vqs[Q_RX].last_avail > 0,
	   "saved: port open, rx queue ready and advanced");
	lv_error_free(&err);
	vmm_console_destroy(&e.con);

	ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0 &&
	   vmm_console_create(e.mem, BASE, 5, false, e.loop, sp[0], NAME, &b, &err) == 0, "a new device, new socket");
	bad = st;
	bad.mmio.driver_features |= 1ULL << 40;
	ok(vmm_console_restore(b, &bad, &err) == -EINVAL, "features never offered: refused (%s)", err ? err->msg : "");
	lv_error_free(&err);
	bad = st;
	bad.mmio.vqs[Q_RX].size = 1024;
	ok(vmm_console_restore(b, &bad, &err) == -EINVAL, "a queue over QueueNumMax: refused");
	lv_error_free(&err);
	bad = st;
	bad.mmio.vqs[Q_RX].desc_gpa = 16 * MiB - 16;
	ok(vmm_console_restore(b, &bad, &err) < 0, "a queue outside RAM or misaligned: refused");
	lv_error_free(&err);
	bad = st;
	bad.mmio.num_queues = 2;
	ok(vmm_console_restore(b, &bad, &err) == -EINVAL, "another queue count: refused");
	lv_error_free(&err);

	ok(vmm_console_restore(b, &st, &err) == 0, "the saved state restores");
	lv_error_free(&err);
	e.d.m = vmm_console_mmio(b);
	e.con = b;
	e.sp[1] = sp[1];
	close(e.sp[0]);
	e.sp[0] = sp[0];
	ok(write(e.sp[1], "two", 3) == 3 && spin(&e) >= 0 && rx_collect(&e, buf, sizeof(buf), true) == 3 &&
	   !memcmp(buf, "two", 3), "after: 'two' on the new socket reaches the guest's old buffers");
	tx_send(&e, "back", 4);
	ok(read(e.sp[1], buf, sizeof(buf)) == 4 && !memcmp(buf, "back", 4), "the guest's 'back' reaches the new socket");
	vmm_console_get_stats(b, &stats);
	ok(!e.d.m->broken && stats.guest_open, "not broken, still open");
	env_fini(&e);
}

int main(void)
{
	test_both_ways();
	test_save_restore();
	test_backpressure();
	test_ioeventfd_and_reset();
	test_hostile();
	return tap_done();
}
