/* vmm/virtio_fs + vmm/vhost_user: the device driven by the fake guest
 * driver of virtio_driver.h, its vhost-user frontend talking to a fake
 * backend on a socketpair (a thread that speaks the protocol's real
 * framing, records every message and the fds that came with it, and can
 * misbehave).  Checks the handshake, the config space, what DRIVER_OK
 * sends (features, the memfd table, each ring's addresses and eventfds),
 * kicks reaching the backend's kick fd, the backend's calls becoming a
 * VRING interrupt, GET_VRING_BASE on reset, a backend without protocol
 * features, and hostile replies (fds, wrong request, wrong size, silence,
 * a refusal, a wrong ring).  Needs no /dev/kvm. */
#include "../../lib/cleanup.h"
#include "../../vmm/loop.h"
#include "../../vmm/vhost_user.h"
#include "../../vmm/virtio_fs.h"
#include "tap.h"
#include "virtio_driver.h"

#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MiB  (1ULL << 20)
#define BASE 0xd0000000ULL
#define F_VERSION_1 (1ULL << 32)
#define F_PROTO     (1ULL << VMM_VU_F_PROTOCOL_FEATURES)

enum misbehave {
	OK = 0,
	REPLY_WITH_FD,      /* an fd along with the reply */
	REPLY_WRONG_REQ,    /* answers another request */
	REPLY_BIG,          /* a payload of 64 bytes */
	REPLY_SILENT,       /* no answer */
	REPLY_REFUSE,       /* ack 1 */
	REPLY_WRONG_RING,   /* GET_VRING_BASE for another ring */
};

struct rec {
	uint32_t req, flags, size;
	uint8_t payload[256];
	int nfds;
	ino_t ino[8];       /* of the fds that came with it */
};

struct fake {
	int fd;
	pthread_t th;
	uint64_t features, protocol;
	enum misbehave how;
	uint32_t on;        /* the request to misbehave on */
	pthread_mutex_t lock;
	struct rec recs[64];
	int nrec;
	int kick[2], call[2];
};

static uint32_t le32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static int recv_full(int fd, uint8_t *buf, size_t len, int *fds, int *nfds)
{
	size_t got = 0;

	while (got < len) {
		union {
			char b[CMSG_SPACE(8 * sizeof(int))];
			struct cmsghdr a;
		} ctl;
		struct iovec iov = { buf + got, len - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		struct cmsghdr *c;

		if (n <= 0)
			return -1;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			for (int i = 0; i < k && *nfds < 8; i++)
				memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
		got += (size_t)n;
	}
	return 0;
}

static void reply(struct fake *f, uint32_t req, uint32_t flags, uint64_t v, const struct rec *r)
{
	uint8_t buf[12 + 64] = { 0 };
	uint32_t size = 8;
	struct iovec iov = { buf, 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} ctl;
	int extra = -1;

	(void)r;
	if (f->how == REPLY_SILENT && req == f->on)
		return;
	if (f->how == REPLY_WRONG_REQ && req == f->on)
		req += 100;
	if (f->how == REPLY_BIG && req == f->on)
		size = 64;
	if (f->how == REPLY_REFUSE && req == f->on)
		v = 1;
	flags = VMM_VU_VERSION | VMM_VU_FLAG_REPLY;
	req = htole32(req);
	flags = htole32(flags);
	memcpy(buf, &req, 4);
	memcpy(buf + 4, &flags, 4);
	size = htole32(size);
	memcpy(buf + 8, &size, 4);
	v = htole64(v);
	memcpy(buf + 12, &v, 8);
	iov.iov_len = 12 + le32toh(size);
	if (f->how == REPLY_WITH_FD && le32toh(req) == f->on) {
		struct cmsghdr *c;

		extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &extra, sizeof(int));
	}
	(void)!sendmsg(f->fd, &mh, MSG_NOSIGNAL);
	if (extra >= 0)
		close(extra);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		uint8_t hdr[12];
		struct rec r = { 0 };
		int fds[8], nfds = 0;
		uint64_t v = 0;
		bool get = false;

		if (recv_full(f->fd, hdr, 12, fds, &nfds) < 0)
			break;
		r.req = le32_at(hdr);
		r.flags = le32_at(hdr + 4);
		r.size = le32_at(hdr + 8);
		if (r.size > sizeof(r.payload) || (r.size && recv_full(f->fd, r.payload, r.size, fds, &nfds) < 0))
			break;
		r.nfds = nfds;
		for (int i = 0; i < nfds; i++) {
			struct stat st;

			r.ino[i] = fstat(fds[i], &st) == 0 ? st.st_ino : 0;
		}
		/* The ring eventfds are kept, as a backend would. */
		if ((r.req == VMM_VU_SET_VRING_KICK || r.req == VMM_VU_SET_VRING_CALL) && nfds == 1 &&
		    le32_at(r.payload) < 2) {
			int *slot = r.req == VMM_VU_SET_VRING_KICK ? f->kick : f->call;
			unsigned int q = le32_at(r.payload) & 0xff;

			pthread_mutex_lock(&f->lock);
			if (slot[q] >= 0)
				close(slot[q]);
			slot[q] = fds[0];
			pthread_mutex_unlock(&f->lock);
			nfds = 0;
		}
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		pthread_mutex_lock(&f->lock);
		if (f->nrec < (int)LV_ARRAY_SIZE(f->recs))
			f->recs[f->nrec++] = r;
		pthread_mutex_unlock(&f->lock);
		switch (r.req) {
		case VMM_VU_GET_FEATURES:
			v = f->features, get = true;
			break;
		case VMM_VU_GET_PROTOCOL_FEATURES:
			v = f->protocol, get = true;
			break;
		case VMM_VU_GET_VRING_BASE:
			/* index, num 7 */
			v = (uint64_t)(le32_at(r.payload) + (f->how == REPLY_WRONG_RING ? 1 : 0)) | (7ULL << 32);
			get = true;
			break;
		default:
			break;
		}
		if (get || (r.flags & VMM_VU_FLAG_NEED_REPLY))
			reply(f, r.req, r.flags, v, &r);
	}
	return NULL;
}

static int fake_start(struct fake *f, uint64_t features, uint64_t protocol, enum misbehave how, uint32_t on,
		      int *front)
{
	int sv[2];

	memset(f, 0, sizeof(*f));
	f->features = features;
	f->protocol = protocol;
	f->how = how;
	f->on = on;
	f->kick[0] = f->kick[1] = f->call[0] = f->call[1] = -1;
	pthread_mutex_init(&f->lock, NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	f->fd = sv[1];
	*front = sv[0];
	return pthread_create(&f->th, NULL, fake_main, f) == 0 ? 0 : -1;
}

/* After the frontend closed its end: the thread sees EOF. */
static void fake_stop(struct fake *f, int front)
{
	if (front >= 0)
		close(front);
	shutdown(f->fd, SHUT_RDWR);
	pthread_join(f->th, NULL);
	close(f->fd);
	for (int q = 0; q < 2; q++) {
		if (f->kick[q] >= 0)
			close(f->kick[q]);
		if (f->call[q] >= 0)
			close(f->call[q]);
	}
	pthread_mutex_destroy(&f->lock);
}

static int nrec(struct fake *f)
{
	int n;

	pthread_mutex_lock(&f->lock);
	n = f->nrec;
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* Waits (up to 2 s) for the backend to have seen n messages. */
static bool wait_recs(struct fake *f, int n)
{
	for (int i = 0; i < 200 && nrec(f) < n; i++)
		usleep(10000);
	return nrec(f) >= n;
}

static const struct rec *find(struct fake *f, uint32_t req, int nth)
{
	for (int i = 0; i < f->nrec; i++)
		if (f->recs[i].req == req && nth-- == 0)
			return &f->recs[i];
	return NULL;
}

static void test_decoder(void)
{
	struct lv_error *err = NULL;
	struct vmm_vu_reply rep;
	uint8_t b[20] = { 1, 0, 0, 0, 5, 0, 0, 0, 8, 0, 0, 0, 0x34, 0x12, 0, 0, 9, 0, 0, 0 };

	ok(vmm_vu_decode_reply(b, sizeof(b), 1, &rep, &err) == 0 && rep.u64 == 0x900001234ULL && rep.index == 0x1234 &&
	   rep.num == 9, "decoder: a well-formed reply");
	lv_error_free(&err);
	ok(vmm_vu_decode_reply(b, sizeof(b), 2, &rep, &err) == -EPROTO && strstr(err->msg, "answers request 1"),
	   "decoder: the wrong request is refused (%s)", err ? err->msg : "");
	lv_error_free(&err);
	ok(vmm_vu_decode_reply(b, 11, 1, &rep, &err) == -EPROTO, "decoder: a short header");
	lv_error_free(&err);
	ok(vmm_vu_decode_reply(b, 19, 1, &rep, &err) == -EPROTO, "decoder: a short payload");
	lv_error_free(&err);
	b[4] = 1; /* no REPLY flag */
	ok(vmm_vu_decode_reply(b, sizeof(b), 1, &rep, &err) == -EPROTO, "decoder: no REPLY flag");
	lv_error_free(&err);
	b[4] = 0x25; /* an unknown flag */
	ok(vmm_vu_decode_reply(b, sizeof(b), 1, &rep, &err) == -EPROTO, "decoder: an unknown flag");
	lv_error_free(&err);
	b[4] = 0x6; /* version 2 */
	ok(vmm_vu_decode_reply(b, sizeof(b), 1, &rep, &err) == -EPROTO, "decoder: version 2");
	lv_error_free(&err);
	b[4] = 5;
	b[8] = 4;
	ok(vmm_vu_decode_reply(b, 16, 1, &rep, &err) == -EPROTO, "decoder: a 4-byte payload");
	lv_error_free(&err);
}

struct rig {
	struct vmm_memory *mem;
	struct vmm_loop *loop;
	struct fake f;
	int front;
	struct vmm_fs *fs;
	struct vd d;
};

static int rig_up(struct rig *g, uint64_t features, uint64_t protocol, enum misbehave how, uint32_t on,
		  int timeout_ms, struct lv_error **err)
{
	memset(g, 0, sizeof(*g));
	g->front = -1;
	if (vmm_memory_create(16 * MiB, &g->mem, err) < 0 || vmm_loop_create(&g->loop, err) < 0)
		return -1;
	if (fake_start(&g->f, features, protocol, how, on, &g->front) < 0)
		return -1;
	return vmm_fs_create(g->mem, BASE, 5, g->loop, g->front, "lvfs0", timeout_ms, &g->fs, err);
}

static void rig_down(struct rig *g)
{
	vmm_fs_destroy(&g->fs);
	fake_stop(&g->f, g->front);
	vmm_loop_destroy(&g->loop);
	vmm_memory_destroy(&g->mem);
}

static void test_normal(void)
{
	struct lv_error *err = NULL;
	struct rig g;
	const struct rec *r;
	uint8_t cfg[40];
	uint32_t nreq;
	struct stat mst;
	int ok_start;

	if (rig_up(&g, F_VERSION_1 | F_PROTO | (1ULL << 28), (1ULL << VMM_VU_PROTOCOL_F_REPLY_ACK) | 1, OK, 0, 0,
		   &err) < 0) {
		ok(0, "create against a fake backend: %s", err ? err->msg : "?");
		lv_error_free(&err);
		rig_down(&g);
		return;
	}
	ok(g.f.nrec == 4 && g.f.recs[0].req == VMM_VU_GET_FEATURES && g.f.recs[1].req == VMM_VU_GET_PROTOCOL_FEATURES &&
	   g.f.recs[2].req == VMM_VU_SET_PROTOCOL_FEATURES && g.f.recs[3].req == VMM_VU_SET_OWNER,
	   "handshake: GET_FEATURES, GET/SET_PROTOCOL_FEATURES, SET_OWNER (%d messages)", g.f.nrec);
	ok(le64_at(g.f.recs[2].payload) == (1ULL << VMM_VU_PROTOCOL_F_REPLY_ACK),
	   "handshake: of the protocol features only REPLY_ACK is taken");
	ok(g.f.recs[3].flags == (VMM_VU_VERSION | VMM_VU_FLAG_NEED_REPLY) && g.f.recs[0].flags == VMM_VU_VERSION,
	   "handshake: acks asked for once REPLY_ACK is negotiated, not for GETs");

	vd_attach(&g.d, g.mem, vmm_fs_mmio(g.fs));
	ok(vd_read(&g.d, VIRTIO_MMIO_DEVICE_ID) == 26, "device id 26 (virtio-fs)");
	for (unsigned int i = 0; i < sizeof(cfg); i += 4)
		vd_config_read(&g.d, i, cfg + i, 4);
	memcpy(&nreq, cfg + 36, 4);
	ok(memcmp(cfg, "lvfs0\0\0\0", 8) == 0 && le32toh(nreq) == 1, "config: the tag, NUL-padded; 1 request queue");

	ok_start = vd_start(&g.d, 0, 2);
	ok(ok_start == 0, "DRIVER_OK with hiprio and one request queue: the device is live");
	r = find(&g.f, VMM_VU_SET_FEATURES, 0);
	ok(r && le64_at(r->payload) == (F_VERSION_1 | F_PROTO), "SET_FEATURES: VERSION_1 and PROTOCOL_FEATURES, not "
	   "what the driver did not take (0x%llx)", r ? (unsigned long long)le64_at(r->payload) : 0ULL);
	r = find(&g.f, VMM_VU_SET_MEM_TABLE, 0);
	fstat(g.mem->memfd, &mst);
	ok(r && le32_at(r->payload) == 1 && r->nfds == 1 && r->ino[0] == mst.st_ino && le64_at(r->payload + 8) == 0 &&
	   le64_at(r->payload + 16) == 16 * MiB && le64_at(r->payload + 24) == (uint64_t)(uintptr_t)g.mem->base &&
	   le64_at(r->payload + 32) == 0,
	   "SET_MEM_TABLE: one region, gpa 0, 16 MiB, our mapping, offset 0, with the RAM memfd");
	for (uint32_t q = 0; q < 2; q++) {
		const struct rec *num = find(&g.f, VMM_VU_SET_VRING_NUM, (int)q);
		const struct rec *base = find(&g.f, VMM_VU_SET_VRING_BASE, (int)q);
		const struct rec *addr = find(&g.f, VMM_VU_SET_VRING_ADDR, (int)q);
		const struct rec *kick = find(&g.f, VMM_VU_SET_VRING_KICK, (int)q);
		const struct rec *call = find(&g.f, VMM_VU_SET_VRING_CALL, (int)q);
		const struct rec *en = find(&g.f, VMM_VU_SET_VRING_ENABLE, (int)q);

		ok(num && le32_at(num->payload) == q && le32_at(num->payload + 4) == g.d.q[q].size && base &&
		   le32_at(base->payload + 4) == 0, "ring %u: SET_VRING_NUM %u, SET_VRING_BASE 0", q, g.d.q[q].size);
		ok(addr && le32_at(addr->payload) == q &&
		   le64_at(addr->payload + 8) == (uint64_t)(uintptr_t)vd_ptr(&g.d, g.d.q[q].desc_gpa, 1) &&
		   le64_at(addr->payload + 16) == (uint64_t)(uintptr_t)vd_ptr(&g.d, g.d.q[q].used_gpa, 1) &&
		   le64_at(addr->payload + 24) == (uint64_t)(uintptr_t)vd_ptr(&g.d, g.d.q[q].avail_gpa, 1),
		   "ring %u: SET_VRING_ADDR with our addresses of desc, used, avail", q);
		ok(kick && call && kick->nfds == 1 && call->nfds == 1 && le64_at(kick->payload) == q &&
		   le64_at(call->payload) == q,
		   "ring %u: SET_VRING_CALL and SET_VRING_KICK, one eventfd each", q);
		ok(en && le32_at(en->payload + 4) == 1, "ring %u: SET_VRING_ENABLE 1", q);
	}
	/* A QueueNotify on the MMIO path reaches the backend's kick fd. */
	{
		struct pollfd p = { .fd = g.f.kick[1], .events = POLLIN };
		uint64_t v = 0;

		vd_kick(&g.d, 1);
		ok(poll(&p, 1, 1000) == 1 && read(g.f.kick[1], &v, 8) == 8 && v == 1,
		   "a kick of queue 1 reaches the backend's kick eventfd");
	}
	/* The backend's call: the device thread sets VRING and interrupts. */
	{
		uint64_t one = 1;
		uint32_t isr;

		vd_irqs(&g.d);
		(void)!write(g.f.call[1], &one, 8);
		vmm_loop_run_once(g.loop, 1000, &err);
		isr = vd_read(&g.d, VIRTIO_MMIO_INTERRUPT_STATUS);
		ok((isr & VMM_VIRTIO_INT_VRING) && vd_irqs(&g.d) == 1,
		   "a call becomes InterruptStatus VRING and one interrupt (isr %u)", isr);
		vd_isr_ack(&g.d);
	}
	/* Reset: both rings stopped with GET_VRING_BASE. */
	vd_reset(&g.d);
	ok(find(&g.f, VMM_VU_GET_VRING_BASE, 0) && find(&g.f, VMM_VU_GET_VRING_BASE, 1) &&
	   le32_at(find(&g.f, VMM_VU_GET_VRING_BASE, 1)->payload) == 1,
	   "reset: GET_VRING_BASE for both rings");
	/* And a second start works on the same connection. */
	ok(vd_start(&g.d, 0, 2) == 0 && find(&g.f, VMM_VU_SET_MEM_TABLE, 1), "a second start after the reset");
	lv_error_free(&err);
	rig_down(&g);
}

static void test_no_protocol_features(void)
{
	struct lv_error *err = NULL;
	struct rig g;
	int r = rig_up(&g, F_VERSION_1, 0, OK, 0, 0, &err);

	ok(r == 0, "a backend without PROTOCOL_FEATURES: created (%s)", err ? err->msg : "");
	if (r == 0) {
		vd_attach(&g.d, g.mem, vmm_fs_mmio(g.fs));
		ok(vd_start(&g.d, 0, 2) == 0 && wait_recs(&g.f, 2 + 2 * 5), "... and started");
		ok(!find(&g.f, VMM_VU_GET_PROTOCOL_FEATURES, 0) && !find(&g.f, VMM_VU_SET_VRING_ENABLE, 0) &&
		   find(&g.f, VMM_VU_SET_VRING_KICK, 1) && (find(&g.f, VMM_VU_SET_OWNER, 0)->flags & VMM_VU_FLAG_NEED_REPLY) == 0,
		   "... without GET_PROTOCOL_FEATURES, SET_VRING_ENABLE or acks");
		r = find(&g.f, VMM_VU_SET_FEATURES, 0) ? (int)(le64_at(find(&g.f, VMM_VU_SET_FEATURES, 0)->payload) == F_VERSION_1) : 0;
		ok(r, "... and SET_FEATURES without PROTOCOL_FEATURES");
	}
	lv_error_free(&err);
	rig_down(&g);
}

static void expect_create_fails(const char *what, uint64_t features, enum misbehave how, uint32_t on, int errnum,
				const char *msg)
{
	struct lv_error *err = NULL;
	struct rig g;
	int r = rig_up(&g, features, 1ULL << VMM_VU_PROTOCOL_F_REPLY_ACK, how, on, 300, &err);

	ok(r == -errnum && err && strstr(err->msg, msg), "%s: creation fails (%d: %s)", what, r, err ? err->msg : "");
	lv_error_free(&err);
	rig_down(&g);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static void test_hostile_backend(void)
{
	int before, after;

	before = count_fds();
	expect_create_fails("no VERSION_1", F_PROTO, OK, 0, EPROTO, "VERSION_1");
	expect_create_fails("an fd with the GET_FEATURES reply", F_VERSION_1 | F_PROTO, REPLY_WITH_FD,
			    VMM_VU_GET_FEATURES, EPROTO, "file descriptors");
	expect_create_fails("a reply to another request", F_VERSION_1 | F_PROTO, REPLY_WRONG_REQ,
			    VMM_VU_GET_PROTOCOL_FEATURES, EPROTO, "answers request");
	expect_create_fails("a 64-byte reply", F_VERSION_1 | F_PROTO, REPLY_BIG, VMM_VU_GET_FEATURES, EPROTO,
			    "payload of 64");
	expect_create_fails("silence", F_VERSION_1 | F_PROTO, REPLY_SILENT, VMM_VU_GET_FEATURES, ETIMEDOUT,
			    "no answer");
	expect_create_fails("a refused SET_OWNER", F_VERSION_1 | F_PROTO, REPLY_REFUSE, VMM_VU_SET_OWNER, EIO,
			    "refused SET_OWNER");
	after = count_fds();
	ok(before == after, "no fd leaked by the failures (%d, then %d)", before, after);

	/* At DRIVER_OK: a refused SET_MEM_TABLE breaks the device. */
	{
		struct lv_error *err = NULL;
		struct rig g;

		if (rig_up(&g, F_VERSION_1 | F_PROTO, 1ULL << VMM_VU_PROTOCOL_F_REPLY_ACK, REPLY_REFUSE,
			   VMM_VU_SET_MEM_TABLE, 300, &err) == 0) {
			vd_attach(&g.d, g.mem, vmm_fs_mmio(g.fs));
			ok(vd_start(&g.d, 0, 2) < 0 && (vd_status(&g.d) & VIRTIO_CONFIG_S_NEEDS_RESET) &&
			   strstr(vmm_fs_mmio(g.fs)->broken_msg, "refused SET_MEM_TABLE"),
			   "a refused SET_MEM_TABLE: DEVICE_NEEDS_RESET (%s)", vmm_fs_mmio(g.fs)->broken_msg);
		} else {
			ok(0, "create: %s", err ? err->msg : "?");
		}
		lv_error_free(&err);
		rig_down(&g);
	}
	/* On reset: a GET_VRING_BASE answer for another ring kills the
	 * connection; the VM goes on, the next start fails cleanly. */
	{
		struct lv_error *err = NULL;
		struct rig g;

		if (rig_up(&g, F_VERSION_1 | F_PROTO, 1ULL << VMM_VU_PROTOCOL_F_REPLY_ACK, REPLY_WRONG_RING,
			   VMM_VU_GET_VRING_BASE, 300, &err) == 0) {
			vd_attach(&g.d, g.mem, vmm_fs_mmio(g.fs));
			ok(vd_start(&g.d, 0, 2) == 0, "start against a backend that lies about rings");
			vd_reset(&g.d);
			ok(vd_start(&g.d, 0, 2) < 0 && strstr(vmm_fs_mmio(g.fs)->broken_msg, "failed before"),
			   "after a wrong GET_VRING_BASE the connection is dead: %s", vmm_fs_mmio(g.fs)->broken_msg);
		} else {
			ok(0, "create: %s", err ? err->msg : "?");
		}
		lv_error_free(&err);
		rig_down(&g);
	}
}

static void test_bad_args(void)
{
	struct lv_error *err = NULL;
	struct vmm_memory *mem = NULL;
	struct vmm_loop *loop = NULL;
	struct vmm_fs *fs = NULL;

	vmm_memory_create(16 * MiB, &mem, &err);
	vmm_loop_create(&loop, &err);
	ok(vmm_fs_create(mem, BASE, 5, loop, 0, "", 0, &fs, &err) == -EINVAL && strstr(err->msg, "tag"),
	   "an empty tag is refused");
	lv_error_free(&err);
	ok(vmm_fs_create(mem, BASE, 5, loop, 0, "0123456789012345678901234567890123456", 0, &fs, &err) == -EINVAL,
	   "a 37-byte tag is refused");
	lv_error_free(&err);
	ok(vmm_fs_create(mem, BASE, 5, loop, -1, "t", 0, &fs, &err) == -EBADF && !fs, "no socket: EBADF");
	lv_error_free(&err);
	vmm_loop_destroy(&loop);
	vmm_memory_destroy(&mem);
}

int main(void)
{
	test_decoder();
	test_normal();
	test_no_protocol_features();
	test_hostile_backend();
	test_bad_args();
	return tap_done();
}
