/* Unit tests for the shell-pool protocol (TAP): codec round trips, every
 * decoder rejection, fd passing over SOCK_SEQPACKET, timeouts, connect.
 *
 * `test_pool_proto --write-seeds DIR` writes one encoded message of each
 * type to DIR (the fuzzer's seeds) instead of running the tests. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/cleanup.h"
#include "../../runtime/pool_proto.h"
#include "tap.h"
#include "testutil.h"

#define BUFCAP (POOL_HDR_SIZE + POOL_PAYLOAD_MAX)
/* Byte offsets from runtime/POOL.md. */
#define H_VERSION 4
#define H_TYPE 6
#define H_LEN 8
#define P 12 /* payload */

static uint8_t buf[BUFCAP + 64];

static struct pool_key key_of(const char *backend, uint32_t mem, uint32_t vcpus, const char *kernel)
{
	struct pool_key k;

	memset(&k, 0, sizeof(k));
	snprintf(k.backend, sizeof(k.backend), "%s", backend);
	snprintf(k.kernel, sizeof(k.kernel), "%s", kernel);
	k.mem_mib = mem;
	k.vcpus = vcpus;
	return k;
}

static const char sha[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/* One valid message of each type, zeroed first so that structs compare. */
static unsigned sample_msgs(struct pool_msg *ms, unsigned max)
{
	unsigned n = 0, i;

	memset(ms, 0, sizeof(*ms) * max);
	ms[n].type = POOL_MSG_HELLO, ms[n].hello = (struct pool_hello){ 1, 3 }, n++;
	ms[n].type = POOL_MSG_HELLO_OK, ms[n].hello_ok.version = 1, n++;
	ms[n].type = POOL_MSG_CLAIM, ms[n].claim.pid = 4242, ms[n].claim.key = key_of("kvm", 256, 2, sha), n++;
	ms[n].type = POOL_MSG_CLAIMED, ms[n].claimed.shell_id = 0x0123456789abcdefull, ms[n].claimed.nfds = 4;
	ms[n].claimed.roles[0] = POOL_FD_MEMFD, ms[n].claimed.roles[1] = POOL_FD_SNAPSHOT;
	ms[n].claimed.roles[2] = POOL_FD_VCPU(0), ms[n].claimed.roles[3] = POOL_FD_VCPU(63), n++;
	ms[n].type = POOL_MSG_NONE, n++;
	ms[n].type = POOL_MSG_STATUS, n++;
	ms[n].type = POOL_MSG_STATUS_REPLY, ms[n].status.count = POOL_MAX_POOLS;
	for (i = 0; i < POOL_MAX_POOLS; i++) {
		char kid[POOL_KERNEL_MAX + 1];

		memset(kid, 'a' + (int)(i % 26), POOL_KERNEL_MAX);
		kid[POOL_KERNEL_MAX] = '\0';
		ms[n].status.pools[i].key = key_of(i % 2 ? "qemu" : "kvm-backend_0123", 128 + i, 1 + i % 64, kid);
		ms[n].status.pools[i].ready = i, ms[n].status.pools[i].target = i + 1;
		ms[n].status.pools[i].cap = POOL_TARGET_MAX;
	}
	n++;
	ms[n].type = POOL_MSG_FILL, ms[n].fill.target = 8, ms[n].fill.key = key_of("qemu", 512, 1, "/usr/share/bz"), n++;
	ms[n].type = POOL_MSG_DRAIN, ms[n].drain.key = key_of("kvm", 64, 1, sha), n++;
	ms[n].type = POOL_MSG_DRAIN, ms[n].drain.flags = POOL_DRAIN_ALL, n++;
	ms[n].type = POOL_MSG_OK, n++;
	ms[n].type = POOL_MSG_ERROR, ms[n].error.errnum = EPROTONOSUPPORT, ms[n].error.min_version = 1;
	ms[n].error.max_version = 1;
	snprintf(ms[n].error.text, sizeof(ms[n].error.text), "version 7 is not supported\n\tonly 1..1 \xc3\xa9");
	n++;
	return n;
}

static void test_round_trips(void)
{
	static struct pool_msg ms[16], out;
	static uint8_t again[BUFCAP];
	unsigned n = sample_msgs(ms, 16);

	for (unsigned i = 0; i < n; i++) {
		struct lv_error *err = NULL;
		size_t len = 0, len2 = 0;
		int r = pool_msg_encode(&ms[i], buf, BUFCAP, &len, &err);

		ok(r == 0, "encode %s (%zu bytes)", pool_type_name(ms[i].type), len);
		r = pool_msg_decode(buf, len, &out, &err);
		ok(r == 0 && out.version == POOL_PROTO_VERSION, "decode %s%s%s", pool_type_name(ms[i].type),
		   err ? ": " : "", err ? err->msg : "");
		out.version = 0;
		ok(memcmp(&out, &ms[i], sizeof(out)) == 0, "%s decodes to what was encoded", pool_type_name(ms[i].type));
		ok(pool_msg_encode(&out, again, BUFCAP, &len2, &err) == 0 && len2 == len && memcmp(buf, again, len) == 0,
		   "%s re-encodes to the same bytes", pool_type_name(ms[i].type));
		lv_error_free(&err);
	}
}

/* Encodes m into buf, lets patch() break it, then expects decode to fail
 * with errnum and a message containing needle. */
static void rejects(const struct pool_msg *m, void (*patch)(uint8_t *, size_t *), int errnum, const char *needle,
		    const char *what)
{
	static struct pool_msg out;
	struct lv_error *err = NULL;
	size_t len = 0;
	int r;

	if (pool_msg_encode(m, buf, BUFCAP, &len, &err) < 0) {
		ok(0, "decoder rejects %s (encode failed: %s)", what, err ? err->msg : "?");
		lv_error_free(&err);
		return;
	}
	patch(buf, &len);
	r = pool_msg_decode(buf, len, &out, &err);
	ok(r == -errnum && err && strstr(err->msg, needle), "decoder rejects %s", what);
	if (err)
		printf("#   %s\n", err->msg);
	lv_error_free(&err);
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

static void p_short_hdr(uint8_t *b, size_t *l) { (void)b; *l = POOL_HDR_SIZE - 1; }
static void p_magic(uint8_t *b, size_t *l) { b[3] = 'X'; (void)l; }
static void p_version(uint8_t *b, size_t *l) { put16(b + H_VERSION, 2); (void)l; }
static void p_version0(uint8_t *b, size_t *l) { put16(b + H_VERSION, 0); (void)l; }
static void p_type(uint8_t *b, size_t *l) { put16(b + H_TYPE, 0x06); (void)l; }
static void p_len_beyond(uint8_t *b, size_t *l) { put32(b + H_LEN, (uint32_t)(*l - POOL_HDR_SIZE + 1)); }
static void p_len_huge(uint8_t *b, size_t *l) { put32(b + H_LEN, 0xffffffffu); (void)l; }
static void p_trailing(uint8_t *b, size_t *l) { b[*l] = 0; *l += 1; put32(b + H_LEN, (uint32_t)(*l - P)); }
static void p_cut(uint8_t *b, size_t *l) { *l = P + 6; put32(b + H_LEN, 6); }
/* CLAIM: pid @12, mem @16, vcpus @20, backend len @24, kernel len @26, backend @28 */
static void p_backend_long(uint8_t *b, size_t *l) { put16(b + P + 12, POOL_BACKEND_MAX + 1); (void)l; }
static void p_kernel_long(uint8_t *b, size_t *l) { put16(b + P + 14, POOL_KERNEL_MAX + 1); (void)l; }
static void p_kernel_past(uint8_t *b, size_t *l) { put16(b + P + 14, 100); (void)l; }
static void p_backend_nul(uint8_t *b, size_t *l) { b[P + 17] = 0; (void)l; }
static void p_backend_upper(uint8_t *b, size_t *l) { b[P + 16] = 'K'; (void)l; }
static void p_kernel_space(uint8_t *b, size_t *l) { b[P + 19] = ' '; (void)l; }
static void p_vcpus(uint8_t *b, size_t *l) { put32(b + P + 8, POOL_MAX_VCPUS + 1); (void)l; }
static void p_mem0(uint8_t *b, size_t *l) { put32(b + P + 4, 0); (void)l; }
static void p_pid0(uint8_t *b, size_t *l) { put32(b + P, 0); (void)l; }
/* CLAIMED: shell id @12, nfds @20, reserved @22, roles @24 */
static void p_nfds_over(uint8_t *b, size_t *l) { put16(b + P + 8, POOL_MAX_FDS + 1); (void)l; }
static void p_nfds_more(uint8_t *b, size_t *l) { put16(b + P + 8, 5); (void)l; }
static void p_nfds0(uint8_t *b, size_t *l) { put16(b + P + 8, 0); *l = P + 12; put32(b + H_LEN, 12); }
static void p_reserved(uint8_t *b, size_t *l) { b[P + 10] = 1; (void)l; }
static void p_role_dup(uint8_t *b, size_t *l) { put16(b + P + 14, POOL_FD_MEMFD); (void)l; }
static void p_role_unknown(uint8_t *b, size_t *l) { put16(b + P + 14, 0x0005); (void)l; }
static void p_role_vcpu64(uint8_t *b, size_t *l) { put16(b + P + 14, POOL_FD_VCPU(64)); (void)l; }
static void p_shell0(uint8_t *b, size_t *l) { memset(b + P, 0, 8); (void)l; }
/* STATUS_REPLY: count @12, entries @16: ready, target, cap, key */
static void p_count_over(uint8_t *b, size_t *l) { put16(b + P, POOL_MAX_POOLS + 1); (void)l; }
static void p_count_more(uint8_t *b, size_t *l) { put16(b + P, 2); (void)l; }
static void p_ready_cap(uint8_t *b, size_t *l) { put32(b + P + 4, 9); put32(b + P + 12, 8); (void)l; }
/* ERROR: errno @12, min @16, max @18, text len @20, reserved @22, text @24 */
static void p_errno0(uint8_t *b, size_t *l) { put32(b + P, 0); (void)l; }
static void p_text_ctl(uint8_t *b, size_t *l) { b[P + 13] = 0x1b; (void)l; }
static void p_text_long(uint8_t *b, size_t *l) { put16(b + P + 8, POOL_TEXT_MAX + 1); (void)l; }
/* DRAIN: flags @12, key @16 */
static void p_drain_flags(uint8_t *b, size_t *l) { put32(b + P, 3); (void)l; }
static void p_drain_all_key(uint8_t *b, size_t *l) { put32(b + P, POOL_DRAIN_ALL); (void)l; }
/* HELLO: min @12, max @14 */
static void p_hello_range(uint8_t *b, size_t *l) { put16(b + P, 4); (void)l; }

static void test_rejections(void)
{
	static struct pool_msg ms[16], out;
	struct pool_msg *hello = &ms[0], *claim = &ms[2], *claimed = &ms[3], *status = &ms[6], *drain = &ms[8],
			*error = &ms[11];
	struct lv_error *err = NULL;
	size_t len;
	int r;

	sample_msgs(ms, 16);
	status->status.count = 1;
	snprintf(error->error.text, sizeof(error->error.text), "no such pool");
	rejects(claim, p_short_hdr, EPROTO, "shorter than the 12-byte header", "a truncated header");
	rejects(claim, p_magic, EPROTO, "bad magic", "a bad magic");
	rejects(claim, p_type, EPROTO, "unknown message type 0x0006", "an unknown type");
	rejects(claim, p_len_beyond, EPROTO, "but the message holds", "a payload length beyond the buffer");
	rejects(claim, p_len_huge, EPROTO, "is over 65536", "a payload length over 64 KiB");
	rejects(claim, p_trailing, EPROTO, "1 trailing bytes", "trailing bytes");
	rejects(claim, p_cut, EPROTO, "truncated at key memory", "a truncated payload");
	rejects(claim, p_backend_long, EPROTO, "backend length 17 is over 16", "a backend name too long");
	rejects(claim, p_kernel_long, EPROTO, "kernel id length 129 is over 128", "a kernel id too long");
	rejects(claim, p_kernel_past, EPROTO, "truncated at key kernel id", "a string running past the payload");
	rejects(claim, p_backend_nul, EPROTO, "contains a NUL byte", "a string with a NUL in it");
	rejects(claim, p_backend_upper, EPROTO, "forbidden byte 0x4b", "a backend name with a forbidden byte");
	rejects(claim, p_kernel_space, EPROTO, "kernel id has a forbidden byte 0x20", "a kernel id with a space");
	rejects(claim, p_vcpus, EPROTO, "65 vCPUs", "65 vCPUs");
	rejects(claim, p_mem0, EPROTO, "memory is 0 MiB", "0 MiB of memory");
	rejects(claim, p_pid0, EPROTO, "CLAIM pid is 0", "pid 0");
	rejects(claimed, p_nfds_over, EPROTO, "129 fds, over 128", "an fd count over the limit");
	rejects(claimed, p_nfds_more, EPROTO, "truncated at fd role", "an fd count beyond the roles sent");
	rejects(claimed, p_nfds0, EPROTO, "0 fds, not 1..128", "a CLAIMED without fds");
	rejects(claimed, p_reserved, EPROTO, "reserved is 0x0001, must be 0", "a non-zero reserved field");
	rejects(claimed, p_role_dup, EPROTO, "both have role 0x0001", "a duplicate fd role");
	rejects(claimed, p_role_unknown, EPROTO, "unknown role 0x0005", "an unknown fd role");
	rejects(claimed, p_role_vcpu64, EPROTO, "unknown role 0x0140", "vCPU 64's role");
	rejects(claimed, p_shell0, EPROTO, "shell id is 0", "shell id 0");
	rejects(status, p_count_over, EPROTO, "129 pools, over 128", "a pool count over the limit");
	rejects(status, p_count_more, EPROTO, "truncated at pool ready", "a pool count beyond the entries sent");
	rejects(status, p_ready_cap, EPROTO, "ready 9 target 1 cap 8", "ready over cap");
	rejects(error, p_errno0, EPROTO, "errno 0 is not 1..4095", "ERROR errno 0");
	rejects(error, p_text_ctl, EPROTO, "forbidden byte 0x1b", "ERROR text with an escape");
	rejects(error, p_text_long, EPROTO, "text length 1025 is over 1024", "ERROR text too long");
	rejects(drain, p_drain_flags, EPROTO, "unknown flags 0x3", "DRAIN unknown flags");
	rejects(drain, p_drain_all_key, EPROTO, "must be empty with DRAIN ALL", "DRAIN ALL with a key");
	rejects(hello, p_hello_range, EPROTO, "range 4..3", "an empty HELLO range");
	rejects(hello, p_version0, EPROTONOSUPPORT, "version 0 is not supported", "version 0");

	/* An unknown version keeps type and version for the ERROR reply. */
	pool_msg_encode(claim, buf, BUFCAP, &len, &err);
	put16(buf + H_VERSION, 2);
	r = pool_msg_decode(buf, len, &out, &err);
	ok(r == -EPROTONOSUPPORT && out.version == 2 && out.type == POOL_MSG_CLAIM && err &&
		   strstr(err->msg, "version 2 is not supported (only 1..1)"),
	   "version 2 is EPROTONOSUPPORT with type and version kept");
	lv_error_free(&err);
	(void)p_version;

	/* The encoder holds the same rules and bounds its buffer. */
	r = pool_msg_encode(claim, buf, 20, &len, &err);
	ok(r == -ENOBUFS && err, "encode into a too small buffer is ENOBUFS");
	lv_error_free(&err);
	claim->claim.key.vcpus = 0;
	r = pool_msg_encode(claim, buf, BUFCAP, &len, &err);
	ok(r == -EINVAL && err && strstr(err->msg, "0 vCPUs"), "encode of 0 vCPUs is EINVAL");
	lv_error_free(&err);
	memset(claim->claim.key.backend, 'a', sizeof(claim->claim.key.backend)); /* no NUL at all */
	claim->claim.key.vcpus = 1;
	r = pool_msg_encode(claim, buf, BUFCAP, &len, &err);
	ok(r == -EINVAL && err && strstr(err->msg, "longer than 16"), "encode of an unterminated backend is EINVAL");
	lv_error_free(&err);
	out.type = 0x42;
	r = pool_msg_encode(&out, buf, BUFCAP, &len, &err);
	ok(r == -EINVAL, "encode of an unknown type is EINVAL");
	lv_error_free(&err);
}

/* ---- transport ---- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own */
}

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int raw_send(int sock, const void *data, size_t len, const int *fds, unsigned nfds)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int) * 8)];
	} ctl;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static struct pool_msg claimed_msg(unsigned nfds)
{
	struct pool_msg m;

	memset(&m, 0, sizeof(m));
	m.type = POOL_MSG_CLAIMED;
	m.claimed.shell_id = 7;
	m.claimed.nfds = (uint16_t)nfds;
	for (unsigned i = 0; i < nfds; i++)
		m.claimed.roles[i] = POOL_FD_VCPU(i);
	return m;
}

/* Sends raw bytes with nfds fresh fds and expects pool_recv to fail with
 * errnum, leaking nothing. */
static void recv_rejects(const void *data, size_t len, unsigned nfds, unsigned max_fds, int errnum, const char *what)
{
	static struct pool_msg out;
	struct lv_error *err = NULL;
	int sv[2], fds[8], got[8], before, after, r;
	unsigned n = 99, i;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		ok(0, "socketpair: %s", what);
		return;
	}
	before = count_fds();
	for (i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	r = raw_send(sv[0], data, len, fds, nfds);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (r == 0)
		r = pool_recv(sv[1], &out, got, max_fds, &n, 1000, &err);
	else
		r = 1;
	after = count_fds();
	ok(r == -errnum && n == 0 && before == after, "%s: %s, no fd leaked (%d before, %d after)", what,
	   strerror(errnum), before, after);
	if (err)
		printf("#   %s\n", err->msg);
	lv_error_free(&err);
	close(sv[0]);
	close(sv[1]);
}

static void test_fd_passing(void)
{
	static struct pool_msg out;
	struct pool_msg m = claimed_msg(3);
	struct lv_error *err = NULL;
	int sv[2], src[3], got[8], before, r;
	unsigned n = 0, i;
	struct stat a, b;
	int distinct = 1, cloexec = 1, same = 1;

	before = count_fds();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(src, O_CLOEXEC) < 0) {
		ok(0, "socketpair/pipe");
		return;
	}
	src[2] = open("/dev/null", O_RDONLY); /* not CLOEXEC here: the receiver's copy must be */
	r = pool_send(sv[0], &m, src, 3, &err);
	ok(r == 0, "pool_send CLAIMED with 3 fds%s%s", err ? ": " : "", err ? err->msg : "");
	lv_error_free(&err);
	r = pool_recv(sv[1], &out, got, 8, &n, 1000, &err);
	ok(r == 0 && n == 3 && out.type == POOL_MSG_CLAIMED && out.claimed.shell_id == 7, "pool_recv gets CLAIMED with 3 fds");
	lv_error_free(&err);
	for (i = 0; i < n && i < 3; i++) {
		for (unsigned j = 0; j < 3; j++)
			if (got[i] == src[j] || (j < i && got[i] == got[j]))
				distinct = 0;
		if (!(fcntl(got[i], F_GETFD) & FD_CLOEXEC))
			cloexec = 0;
		if (fstat(got[i], &a) < 0 || fstat(src[i], &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
			same = 0;
		if (out.claimed.roles[i] != POOL_FD_VCPU(i))
			same = 0;
	}
	ok(n == 3 && distinct, "received fds are new and distinct");
	ok(n == 3 && cloexec, "received fds are close-on-exec");
	ok(n == 3 && same, "received fds are the files sent, in role order");
	ok(n == 3 && write(src[1], "x", 1) == 1 && read(got[0], buf, 1) == 1 && buf[0] == 'x',
	   "the received pipe end reads what the sender writes");
	for (i = 0; i < n; i++)
		close(got[i]);
	for (i = 0; i < 3; i++)
		close(src[i]);
	close(sv[0]);
	close(sv[1]);
	ok(count_fds() == before, "no fd leaked by a claim round trip");
}

/* A receiver out of descriptor slots gets MSG_CTRUNC: what did arrive is
 * closed and the message is an error. */
static void test_ctrunc(void)
{
	static struct pool_msg m, out;
	struct lv_error *err = NULL;
	struct rlimit old, low;
	int sv[2], src[3], got[8], before, after, r, top;
	unsigned n = 99;

	m = claimed_msg(3);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 || getrlimit(RLIMIT_NOFILE, &old) < 0)
		return;
	for (int i = 0; i < 3; i++)
		src[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	r = pool_send(sv[0], &m, src, 3, &err);
	for (int i = 0; i < 3; i++)
		close(src[i]);
	before = count_fds();
	top = dup(0); /* the lowest free slot: let exactly one more fd in */
	close(top);
	low = old;
	low.rlim_cur = (rlim_t)top + 1;
	if (r == 0 && setrlimit(RLIMIT_NOFILE, &low) == 0) {
		r = pool_recv(sv[1], &out, got, 8, &n, 1000, &err);
		setrlimit(RLIMIT_NOFILE, &old);
		after = count_fds();
		ok(r == -EPROTO && n == 0 && err && strstr(err->msg, "control data truncated") && before == after,
		   "MSG_CTRUNC is EPROTO and what came is closed (%d before, %d after)", before, after);
		if (err)
			printf("#   %s\n", err->msg);
	} else {
		ok(0, "MSG_CTRUNC set-up");
	}
	lv_error_free(&err);
	close(sv[0]);
	close(sv[1]);
}

static void test_fd_rejections(void)
{
	static struct pool_msg m;
	struct lv_error *err = NULL;
	size_t len = 0;
	int sv[2], one[1] = { 0 }, r;

	m = claimed_msg(2);
	pool_msg_encode(&m, buf, BUFCAP, &len, &err);
	recv_rejects(buf, len, 3, 8, EPROTO, "CLAIMED for 2 fds with 3 attached");
	recv_rejects(buf, len, 1, 8, EPROTO, "CLAIMED for 2 fds with 1 attached");
	recv_rejects(buf, len, 2, 1, EMSGSIZE, "CLAIMED with more fds than max_fds");
	memset(&m, 0, sizeof(m));
	m.type = POOL_MSG_NONE;
	pool_msg_encode(&m, buf, BUFCAP, &len, &err);
	recv_rejects(buf, len, 2, 8, EPROTO, "NONE with 2 fds attached");
	buf[0] ^= 1;
	recv_rejects(buf, len, 2, 8, EPROTO, "a malformed message with 2 fds attached");
	memset(buf, 0, BUFCAP + 2);
	recv_rejects(buf, BUFCAP + 2, 0, 8, EMSGSIZE, "a datagram over 64 KiB + 12");
	lv_error_free(&err);

	/* The sender refuses fds the message does not describe. */
	m = claimed_msg(2);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) {
		r = pool_send(sv[0], &m, one, 1, &err);
		ok(r == -EINVAL, "pool_send of CLAIMED for 2 fds with 1 is EINVAL");
		lv_error_free(&err);
		m.type = POOL_MSG_OK;
		r = pool_send(sv[0], &m, one, 1, &err);
		ok(r == -EINVAL, "pool_send of OK with an fd is EINVAL");
		lv_error_free(&err);
		close(sv[0]);
		close(sv[1]);
	}
}

static void test_timeouts(void)
{
	static struct pool_msg out, m;
	struct lv_error *err = NULL;
	int sv[2], fds[1], r, small = 4096;
	unsigned n;
	int64_t t0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	t0 = ms_now();
	r = pool_recv(sv[1], &out, fds, 1, &n, 100, &err);
	t0 = ms_now() - t0;
	ok(r == -ETIMEDOUT && t0 >= 90 && t0 < 1000, "pool_recv from a silent peer times out (%lld ms)", (long long)t0);
	lv_error_free(&err);

	/* A peer that never reads: pool_send gives up after POOL_SEND_TIMEOUT_MS. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	memset(&m, 0, sizeof(m));
	m.type = POOL_MSG_STATUS;
	t0 = ms_now();
	for (int i = 0; i < 100000 && (r = pool_send(sv[0], &m, NULL, 0, &err)) == 0; i++)
		;
	t0 = ms_now() - t0;
	ok(r == -ETIMEDOUT && t0 >= POOL_SEND_TIMEOUT_MS - 10 && t0 < POOL_SEND_TIMEOUT_MS + 2000,
	   "pool_send to a peer that does not read times out (%lld ms)", (long long)t0);
	lv_error_free(&err);

	close(sv[0]);
	r = pool_recv(sv[1], &out, fds, 1, &n, 1000, &err); /* queued STATUS first */
	while (r == 0)
		r = pool_recv(sv[1], &out, fds, 1, &n, 1000, &err);
	ok(r == -ECONNRESET, "pool_recv after the peer closed is ECONNRESET");
	lv_error_free(&err);
	r = pool_send(sv[1], &m, NULL, 0, &err);
	ok(r == -EPIPE, "pool_send to a closed peer is EPIPE, not SIGPIPE");
	lv_error_free(&err);
	close(sv[1]);
}

static int bind_at(const char *path, int listen_backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (listen_backlog >= 0 && listen(fd, listen_backlog) < 0)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void test_connect(void)
{
	char dir[] = "/tmp/lv-pool-test.XXXXXX", path[64], longp[200];
	static struct pool_msg m, out;
	struct lv_error *err = NULL;
	int lfd, c, s, fds[1], r, extra[8], nextra = 0, before = count_fds();
	unsigned n;
	int64_t t0;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/pool.sock", dir);
	t0 = ms_now();
	r = pool_connect(path, 1000, &err);
	ok(r == -ENOENT && ms_now() - t0 < 100, "connect to a missing socket is ENOENT at once");
	lv_error_free(&err);

	lfd = bind_at(path, -1); /* bound, never listening: a dead daemon's socket */
	r = pool_connect(path, 1000, &err);
	ok(r == -ECONNREFUSED, "connect to a socket with no listener is ECONNREFUSED");
	lv_error_free(&err);
	if (lfd >= 0)
		close(lfd);
	unlink(path);

	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	longp[0] = '/';
	r = pool_connect(longp, 100, &err);
	ok(r == -ENAMETOOLONG, "connect to a path longer than sun_path is ENAMETOOLONG");
	lv_error_free(&err);

	lfd = bind_at(path, 0);
	c = pool_connect(path, 1000, &err);
	ok(c >= 0 && (fcntl(c, F_GETFD) & FD_CLOEXEC), "connect to a listening daemon socket");
	lv_error_free(&err);
	s = lfd >= 0 ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
	memset(&m, 0, sizeof(m));
	m.type = POOL_MSG_HELLO, m.hello.min_version = 1, m.hello.max_version = 1;
	r = c >= 0 && s >= 0 ? pool_send(c, &m, NULL, 0, &err) : -1;
	if (r == 0)
		r = pool_recv(s, &out, fds, 1, &n, 1000, &err);
	ok(r == 0 && out.type == POOL_MSG_HELLO && out.hello.max_version == 1, "HELLO crosses a connected socket");
	lv_error_free(&err);
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);

	/* A backlog that stays full: ETIMEDOUT, not a hang. */
	while (lfd >= 0 && nextra < 8) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		extra[nextra++] = fd;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			break;
	}
	t0 = ms_now();
	r = pool_connect(path, 100, &err);
	t0 = ms_now() - t0;
	ok(r == -ETIMEDOUT && t0 >= 90 && t0 < 1000, "connect with the backlog full times out (%lld ms)", (long long)t0);
	lv_error_free(&err);
	while (nextra > 0)
		close(extra[--nextra]);
	if (lfd >= 0)
		close(lfd);
	unlink(path);
	rmdir(dir);
	ok(count_fds() == before, "no fd leaked by the connect tests");
}

static int write_seeds(const char *dir)
{
	static struct pool_msg ms[16];
	unsigned n = sample_msgs(ms, 16);

	for (unsigned i = 0; i < n; i++) {
		struct lv_error *err = NULL;
		char name[64];
		size_t len;

		ms[6].status.count = 3; /* keep the seeds small */
		if (pool_msg_encode(&ms[i], buf, BUFCAP, &len, &err) < 0) {
			fprintf(stderr, "%s\n", err ? err->msg : "encode failed");
			lv_error_free(&err);
			return 1;
		}
		snprintf(name, sizeof(name), "%02u-%s", i, pool_type_name(ms[i].type));
		if (write_seed_file(dir, name, buf, len) < 0)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test: pool_send must not raise it */
	test_round_trips();
	test_rejections();
	test_fd_passing();
	test_fd_rejections();
	test_ctrunc();
	test_timeouts();
	test_connect();
	return tap_done();
}
