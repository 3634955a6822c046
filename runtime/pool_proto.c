/* The shell-pool protocol: message codec and SOCK_SEQPACKET transport with
 * SCM_RIGHTS.  See pool_proto.h and runtime/POOL.md. */
#include "pool_proto.h"

#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/clock.h"

#define POOL_SCM_MAX_FD 253u /* the kernel's SCM_MAX_FD: most fds one sendmsg can carry */
#define KEY_FIXED 12u        /* u32 mem_mib, u32 vcpus, u16 backend len, u16 kernel len */
#define KEY_WIRE_MAX (KEY_FIXED + POOL_BACKEND_MAX + POOL_KERNEL_MAX)
#define ENTRY_WIRE_MAX (12u + KEY_WIRE_MAX)

_Static_assert(POOL_MAX_FDS <= POOL_SCM_MAX_FD, "CLAIMED must fit one SCM_RIGHTS message");
_Static_assert(4u + POOL_MAX_POOLS * ENTRY_WIRE_MAX <= POOL_PAYLOAD_MAX, "STATUS_REPLY must fit a payload");
_Static_assert(12u + POOL_TEXT_MAX <= POOL_PAYLOAD_MAX, "ERROR must fit a payload");
_Static_assert(POOL_MAX_VCPUS <= 0x100u, "vCPU roles are 0x100..0x1ff");

const char *pool_type_name(uint16_t type)
{
	switch (type) {
	case POOL_MSG_HELLO: return "HELLO";
	case POOL_MSG_CLAIM: return "CLAIM";
	case POOL_MSG_STATUS: return "STATUS";
	case POOL_MSG_FILL: return "FILL";
	case POOL_MSG_DRAIN: return "DRAIN";
	case POOL_MSG_HELLO_OK: return "HELLO_OK";
	case POOL_MSG_CLAIMED: return "CLAIMED";
	case POOL_MSG_NONE: return "NONE";
	case POOL_MSG_STATUS_REPLY: return "STATUS_REPLY";
	case POOL_MSG_OK: return "OK";
	case POOL_MSG_ERROR: return "ERROR";
	default: return NULL;
	}
}

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	put_u16(p, (uint16_t)v);
	put_u16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)get_u16(p) | (uint32_t)get_u16(p + 2) << 16;
}

/* ---- rules shared by the encoder (EINVAL) and the decoder (EPROTO) ---- */

static bool backend_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool kernel_char(char c)
{
	return c > ' ' && c < 0x7f;
}

static bool text_char(char c)
{
	return (unsigned char)c >= ' ' ? c != 0x7f : (c == '\t' || c == '\n');
}

static int check_str(const char *s, size_t max, bool (*valid)(char), bool allow_empty, const char *what, int errnum,
		     struct lv_error **err)
{
	size_t n = strnlen(s, max + 1), i;

	if (n > max)
		return lv_err_msg(err, errnum, "pool protocol: %s is longer than %zu bytes", what, max);
	if (n == 0 && !allow_empty)
		return lv_err_msg(err, errnum, "pool protocol: %s is empty", what);
	for (i = 0; i < n; i++)
		if (!valid(s[i]))
			return lv_err_msg(err, errnum, "pool protocol: %s has a forbidden byte 0x%02x at %zu", what,
					  (unsigned char)s[i], i);
	return 0;
}

static int check_key(const struct pool_key *k, bool all_zero, const char *what, int errnum, struct lv_error **err)
{
	char name[64];
	int r;

	if (all_zero) {
		if (k->backend[0] || k->kernel[0] || k->mem_mib || k->vcpus)
			return lv_err_msg(err, errnum, "pool protocol: %s must be empty with DRAIN ALL", what);
		return 0;
	}
	snprintf(name, sizeof(name), "%s backend", what);
	if ((r = check_str(k->backend, POOL_BACKEND_MAX, backend_char, false, name, errnum, err)) < 0)
		return r;
	snprintf(name, sizeof(name), "%s kernel id", what);
	if ((r = check_str(k->kernel, POOL_KERNEL_MAX, kernel_char, false, name, errnum, err)) < 0)
		return r;
	if (k->mem_mib == 0)
		return lv_err_msg(err, errnum, "pool protocol: %s memory is 0 MiB", what);
	if (k->vcpus == 0 || k->vcpus > POOL_MAX_VCPUS)
		return lv_err_msg(err, errnum, "pool protocol: %s has %u vCPUs, not 1..%u", what, k->vcpus,
				  POOL_MAX_VCPUS);
	return 0;
}

static bool role_known(uint16_t role)
{
	return (role >= POOL_FD_MEMFD && role <= POOL_FD_CTL) ||
	       (role >= POOL_FD_VCPU0 && role < POOL_FD_VCPU(POOL_MAX_VCPUS));
}

static int check_claimed(const struct pool_claimed *c, int errnum, struct lv_error **err)
{
	unsigned i, j;

	if (c->shell_id == 0)
		return lv_err_msg(err, errnum, "pool protocol: CLAIMED shell id is 0");
	if (c->nfds == 0 || c->nfds > POOL_MAX_FDS)
		return lv_err_msg(err, errnum, "pool protocol: CLAIMED has %u fds, not 1..%u", c->nfds, POOL_MAX_FDS);
	for (i = 0; i < c->nfds; i++) {
		if (!role_known(c->roles[i]))
			return lv_err_msg(err, errnum, "pool protocol: CLAIMED fd %u has unknown role 0x%04x", i,
					  c->roles[i]);
		for (j = 0; j < i; j++)
			if (c->roles[j] == c->roles[i])
				return lv_err_msg(err, errnum, "pool protocol: CLAIMED fds %u and %u both have role 0x%04x",
						  j, i, c->roles[i]);
	}
	return 0;
}

static int check_msg(const struct pool_msg *m, int errnum, struct lv_error **err)
{
	char what[32];
	unsigned i;
	int r;

	switch (m->type) {
	case POOL_MSG_HELLO:
		if (m->hello.min_version == 0 || m->hello.min_version > m->hello.max_version)
			return lv_err_msg(err, errnum, "pool protocol: HELLO version range %u..%u is empty or starts at 0",
					  m->hello.min_version, m->hello.max_version);
		return 0;
	case POOL_MSG_HELLO_OK:
		if (m->hello_ok.version == 0)
			return lv_err_msg(err, errnum, "pool protocol: HELLO_OK chose version 0");
		return 0;
	case POOL_MSG_CLAIM:
		if (m->claim.pid == 0)
			return lv_err_msg(err, errnum, "pool protocol: CLAIM pid is 0");
		return check_key(&m->claim.key, false, "CLAIM key", errnum, err);
	case POOL_MSG_CLAIMED:
		return check_claimed(&m->claimed, errnum, err);
	case POOL_MSG_STATUS_REPLY:
		if (m->status.count > POOL_MAX_POOLS)
			return lv_err_msg(err, errnum, "pool protocol: STATUS_REPLY has %u pools, over %u", m->status.count,
					  POOL_MAX_POOLS);
		for (i = 0; i < m->status.count; i++) {
			const struct pool_entry *e = &m->status.pools[i];

			snprintf(what, sizeof(what), "STATUS_REPLY pool %u", i);
			if ((r = check_key(&e->key, false, what, errnum, err)) < 0)
				return r;
			if (e->cap > POOL_TARGET_MAX || e->ready > e->cap || e->target > e->cap)
				return lv_err_msg(err, errnum,
						  "pool protocol: %s counts ready %u target %u cap %u are not <= cap <= %u",
						  what, e->ready, e->target, e->cap, POOL_TARGET_MAX);
		}
		return 0;
	case POOL_MSG_FILL:
		if (m->fill.target > POOL_TARGET_MAX)
			return lv_err_msg(err, errnum, "pool protocol: FILL target %u is over %u", m->fill.target,
					  POOL_TARGET_MAX);
		return check_key(&m->fill.key, false, "FILL key", errnum, err);
	case POOL_MSG_DRAIN:
		if (m->drain.flags & ~POOL_DRAIN_ALL)
			return lv_err_msg(err, errnum, "pool protocol: DRAIN has unknown flags 0x%x", m->drain.flags);
		return check_key(&m->drain.key, m->drain.flags & POOL_DRAIN_ALL, "DRAIN key", errnum, err);
	case POOL_MSG_ERROR:
		if (m->error.errnum == 0 || m->error.errnum > 4095)
			return lv_err_msg(err, errnum, "pool protocol: ERROR errno %u is not 1..4095", m->error.errnum);
		if (m->error.min_version == 0 || m->error.min_version > m->error.max_version)
			return lv_err_msg(err, errnum, "pool protocol: ERROR version range %u..%u is empty or starts at 0",
					  m->error.min_version, m->error.max_version);
		return check_str(m->error.text, POOL_TEXT_MAX, text_char, true, "ERROR text", errnum, err);
	case POOL_MSG_STATUS:
	case POOL_MSG_NONE:
	case POOL_MSG_OK:
		return 0;
	default:
		return lv_err_msg(err, errnum, "pool protocol: unknown message type 0x%04x", m->type);
	}
}

/* ---- encoder ---- */

struct wr {
	uint8_t *p;
	size_t cap, off;
	bool over;
};

static uint8_t *wr_take(struct wr *w, size_t n)
{
	uint8_t *at;

	if (w->over || n > w->cap - w->off) {
		w->over = true;
		return NULL;
	}
	at = w->p + w->off;
	w->off += n;
	return at;
}

static void wr_u16(struct wr *w, uint16_t v)
{
	uint8_t *p = wr_take(w, 2);
	if (p)
		put_u16(p, v);
}

static void wr_u32(struct wr *w, uint32_t v)
{
	uint8_t *p = wr_take(w, 4);
	if (p)
		put_u32(p, v);
}

static void wr_u64(struct wr *w, uint64_t v)
{
	wr_u32(w, (uint32_t)v);
	wr_u32(w, (uint32_t)(v >> 32));
}

static void wr_bytes(struct wr *w, const void *s, size_t n)
{
	uint8_t *p = wr_take(w, n);
	if (p && n)
		memcpy(p, s, n);
}

static void wr_key(struct wr *w, const struct pool_key *k)
{
	size_t b = strlen(k->backend), kl = strlen(k->kernel); /* bounded by check_msg() */

	wr_u32(w, k->mem_mib);
	wr_u32(w, k->vcpus);
	wr_u16(w, (uint16_t)b);
	wr_u16(w, (uint16_t)kl);
	wr_bytes(w, k->backend, b);
	wr_bytes(w, k->kernel, kl);
}

static void wr_payload(struct wr *w, const struct pool_msg *m)
{
	unsigned i;
	size_t n;

	switch (m->type) {
	case POOL_MSG_HELLO:
		wr_u16(w, m->hello.min_version);
		wr_u16(w, m->hello.max_version);
		break;
	case POOL_MSG_HELLO_OK:
		wr_u16(w, m->hello_ok.version);
		wr_u16(w, 0);
		break;
	case POOL_MSG_CLAIM:
		wr_u32(w, m->claim.pid);
		wr_key(w, &m->claim.key);
		break;
	case POOL_MSG_CLAIMED:
		wr_u64(w, m->claimed.shell_id);
		wr_u16(w, m->claimed.nfds);
		wr_u16(w, 0);
		for (i = 0; i < m->claimed.nfds; i++)
			wr_u16(w, m->claimed.roles[i]);
		break;
	case POOL_MSG_STATUS_REPLY:
		wr_u16(w, m->status.count);
		wr_u16(w, 0);
		for (i = 0; i < m->status.count; i++) {
			wr_u32(w, m->status.pools[i].ready);
			wr_u32(w, m->status.pools[i].target);
			wr_u32(w, m->status.pools[i].cap);
			wr_key(w, &m->status.pools[i].key);
		}
		break;
	case POOL_MSG_FILL:
		wr_u32(w, m->fill.target);
		wr_key(w, &m->fill.key);
		break;
	case POOL_MSG_DRAIN:
		wr_u32(w, m->drain.flags);
		wr_key(w, &m->drain.key);
		break;
	case POOL_MSG_ERROR:
		n = strlen(m->error.text);
		wr_u32(w, m->error.errnum);
		wr_u16(w, m->error.min_version);
		wr_u16(w, m->error.max_version);
		wr_u16(w, (uint16_t)n);
		wr_u16(w, 0);
		wr_bytes(w, m->error.text, n);
		break;
	default: /* STATUS, NONE, OK: empty */
		break;
	}
}

int pool_msg_encode(const struct pool_msg *m, uint8_t *buf, size_t cap, size_t *len, struct lv_error **err)
{
	struct wr w = { .p = buf, .cap = cap };
	uint8_t *hdr;
	size_t payload;
	int r;

	if ((r = check_msg(m, EINVAL, err)) < 0)
		return r;
	hdr = wr_take(&w, POOL_HDR_SIZE);
	wr_payload(&w, m);
	if (w.over)
		return lv_err_msg(err, ENOBUFS, "pool protocol: %s does not fit a %zu-byte buffer",
				  pool_type_name(m->type), cap);
	payload = w.off - POOL_HDR_SIZE;
	if (payload > POOL_PAYLOAD_MAX) /* cannot happen: see the static asserts */
		return lv_err_msg(err, EMSGSIZE, "pool protocol: %s payload of %zu bytes is over %u",
				  pool_type_name(m->type), payload, POOL_PAYLOAD_MAX);
	put_u32(hdr, POOL_MAGIC);
	put_u16(hdr + 4, POOL_PROTO_VERSION);
	put_u16(hdr + 6, m->type);
	put_u32(hdr + 8, (uint32_t)payload);
	*len = w.off;
	return 0;
}

/* ---- decoder: every read is bounded by what is left ---- */

struct rd {
	const uint8_t *p;
	size_t len, off;
	const char *type; /* for messages */
	struct lv_error **err;
};

static int rd_short(struct rd *r, const char *field, size_t need)
{
	return lv_err_msg(r->err, EPROTO, "pool protocol: %s truncated at %s (%zu bytes needed at offset %zu, %zu left)",
			  r->type, field, need, r->off, r->len - r->off);
}

static int rd_u16(struct rd *r, const char *field, uint16_t *v)
{
	if (r->len - r->off < 2)
		return rd_short(r, field, 2);
	*v = get_u16(r->p + r->off);
	r->off += 2;
	return 0;
}

static int rd_u32(struct rd *r, const char *field, uint32_t *v)
{
	if (r->len - r->off < 4)
		return rd_short(r, field, 4);
	*v = get_u32(r->p + r->off);
	r->off += 4;
	return 0;
}

static int rd_u64(struct rd *r, const char *field, uint64_t *v)
{
	uint32_t lo, hi;
	int e;

	if ((e = rd_u32(r, field, &lo)) < 0 || (e = rd_u32(r, field, &hi)) < 0)
		return e;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

static int rd_reserved(struct rd *r, const char *field)
{
	uint16_t v = 0;
	int e;

	if ((e = rd_u16(r, field, &v)) < 0)
		return e;
	if (v)
		return lv_err_msg(r->err, EPROTO, "pool protocol: %s %s is 0x%04x, must be 0", r->type, field, v);
	return 0;
}

/* A string of n bytes into dst[max + 1]: n bounded first, then the bytes,
 * which may not hold a NUL (the rest of the rules are check_msg()'s). */
static int rd_str(struct rd *r, const char *field, size_t n, char *dst, size_t max)
{
	if (n > max)
		return lv_err_msg(r->err, EPROTO, "pool protocol: %s %s length %zu is over %zu", r->type, field, n, max);
	if (r->len - r->off < n)
		return rd_short(r, field, n);
	if (memchr(r->p + r->off, 0, n))
		return lv_err_msg(r->err, EPROTO, "pool protocol: %s %s contains a NUL byte", r->type, field);
	memcpy(dst, r->p + r->off, n);
	dst[n] = '\0';
	r->off += n;
	return 0;
}

static int rd_key(struct rd *r, struct pool_key *k)
{
	uint16_t blen, klen;
	int e;

	if ((e = rd_u32(r, "key memory", &k->mem_mib)) < 0 || (e = rd_u32(r, "key vCPUs", &k->vcpus)) < 0 ||
	    (e = rd_u16(r, "key backend length", &blen)) < 0 || (e = rd_u16(r, "key kernel length", &klen)) < 0 ||
	    (e = rd_str(r, "key backend", blen, k->backend, POOL_BACKEND_MAX)) < 0 ||
	    (e = rd_str(r, "key kernel id", klen, k->kernel, POOL_KERNEL_MAX)) < 0)
		return e;
	return 0;
}

static int rd_payload(struct rd *r, struct pool_msg *m)
{
	uint16_t n;
	unsigned i;
	int e;

	switch (m->type) {
	case POOL_MSG_HELLO:
		if ((e = rd_u16(r, "min version", &m->hello.min_version)) < 0 ||
		    (e = rd_u16(r, "max version", &m->hello.max_version)) < 0)
			return e;
		return 0;
	case POOL_MSG_HELLO_OK:
		if ((e = rd_u16(r, "version", &m->hello_ok.version)) < 0 || (e = rd_reserved(r, "reserved")) < 0)
			return e;
		return 0;
	case POOL_MSG_CLAIM:
		if ((e = rd_u32(r, "pid", &m->claim.pid)) < 0)
			return e;
		return rd_key(r, &m->claim.key);
	case POOL_MSG_CLAIMED:
		if ((e = rd_u64(r, "shell id", &m->claimed.shell_id)) < 0 ||
		    (e = rd_u16(r, "fd count", &m->claimed.nfds)) < 0 || (e = rd_reserved(r, "reserved")) < 0)
			return e;
		if (m->claimed.nfds > POOL_MAX_FDS)
			return lv_err_msg(r->err, EPROTO, "pool protocol: CLAIMED has %u fds, over %u", m->claimed.nfds,
					  POOL_MAX_FDS);
		for (i = 0; i < m->claimed.nfds; i++)
			if ((e = rd_u16(r, "fd role", &m->claimed.roles[i])) < 0)
				return e;
		return 0;
	case POOL_MSG_STATUS_REPLY:
		if ((e = rd_u16(r, "pool count", &m->status.count)) < 0 || (e = rd_reserved(r, "reserved")) < 0)
			return e;
		if (m->status.count > POOL_MAX_POOLS)
			return lv_err_msg(r->err, EPROTO, "pool protocol: STATUS_REPLY has %u pools, over %u",
					  m->status.count, POOL_MAX_POOLS);
		for (i = 0; i < m->status.count; i++) {
			struct pool_entry *p = &m->status.pools[i];

			if ((e = rd_u32(r, "pool ready", &p->ready)) < 0 || (e = rd_u32(r, "pool target", &p->target)) < 0 ||
			    (e = rd_u32(r, "pool cap", &p->cap)) < 0 || (e = rd_key(r, &p->key)) < 0)
				return e;
		}
		return 0;
	case POOL_MSG_FILL:
		if ((e = rd_u32(r, "target", &m->fill.target)) < 0)
			return e;
		return rd_key(r, &m->fill.key);
	case POOL_MSG_DRAIN:
		if ((e = rd_u32(r, "flags", &m->drain.flags)) < 0)
			return e;
		return rd_key(r, &m->drain.key);
	case POOL_MSG_ERROR:
		if ((e = rd_u32(r, "errno", &m->error.errnum)) < 0 ||
		    (e = rd_u16(r, "min version", &m->error.min_version)) < 0 ||
		    (e = rd_u16(r, "max version", &m->error.max_version)) < 0 ||
		    (e = rd_u16(r, "text length", &n)) < 0 || (e = rd_reserved(r, "reserved")) < 0)
			return e;
		return rd_str(r, "text", n, m->error.text, POOL_TEXT_MAX);
	default: /* STATUS, NONE, OK: empty */
		return 0;
	}
}

int pool_msg_decode(const uint8_t *buf, size_t len, struct pool_msg *out, struct lv_error **err)
{
	struct rd r;
	uint32_t magic, plen;
	int e;

	memset(out, 0, sizeof(*out));
	if (len < POOL_HDR_SIZE)
		return lv_err_msg(err, EPROTO, "pool protocol: message of %zu bytes is shorter than the %u-byte header", len,
				  POOL_HDR_SIZE);
	magic = get_u32(buf);
	if (magic != POOL_MAGIC)
		return lv_err_msg(err, EPROTO, "pool protocol: bad magic 0x%08x (expected 0x%08x \"LVPL\")", magic,
				  POOL_MAGIC);
	out->version = get_u16(buf + 4);
	out->type = get_u16(buf + 6);
	plen = get_u32(buf + 8);
	if (out->version != POOL_PROTO_VERSION)
		return lv_err_msg(err, EPROTONOSUPPORT, "pool protocol: version %u is not supported (only %u..%u)",
				  out->version, POOL_PROTO_MIN_VERSION, POOL_PROTO_VERSION);
	if (!pool_type_name(out->type))
		return lv_err_msg(err, EPROTO, "pool protocol: unknown message type 0x%04x", out->type);
	if (plen > POOL_PAYLOAD_MAX)
		return lv_err_msg(err, EPROTO, "pool protocol: %s payload length %u is over %u", pool_type_name(out->type),
				  plen, POOL_PAYLOAD_MAX);
	if (plen != len - POOL_HDR_SIZE)
		return lv_err_msg(err, EPROTO, "pool protocol: %s payload length %u but the message holds %zu bytes",
				  pool_type_name(out->type), plen, len - POOL_HDR_SIZE);
	r = (struct rd){ .p = buf + POOL_HDR_SIZE, .len = plen, .type = pool_type_name(out->type), .err = err };
	if ((e = rd_payload(&r, out)) < 0)
		return e;
	if (r.off != r.len)
		return lv_err_msg(err, EPROTO, "pool protocol: %s has %zu trailing bytes", r.type, r.len - r.off);
	return check_msg(out, EPROTO, err);
}

/* ---- transport ---- */

/* Milliseconds left until deadline for poll(): -1 without a deadline. */
static int left_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - (int64_t)lv_now_ms();
	return left <= 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
}

static int64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : (int64_t)lv_now_ms() + timeout_ms;
}

/* 1 when fd is ready for events, 0 when the deadline passed, <0 on error. */
static int wait_for(int fd, short events, int64_t deadline, const char *what, struct lv_error **err)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int ms = left_ms(deadline), r = poll(&pfd, 1, ms);

		if (r > 0)
			return 1; /* ready, or POLLERR/POLLHUP: the next call says which */
		if (r == 0 && ms == 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return lv_err(err, errno, "pool protocol: poll for %s", what);
	}
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int pool_send(int sock, const struct pool_msg *m, const int *fds, unsigned nfds, struct lv_error **err)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * POOL_MAX_FDS)];
	} ctl;
	cleanup_free uint8_t *buf = malloc(POOL_HDR_SIZE + POOL_PAYLOAD_MAX);
	unsigned want = m->type == POOL_MSG_CLAIMED ? m->claimed.nfds : 0;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int64_t deadline = deadline_after(POOL_SEND_TIMEOUT_MS);
	size_t len;
	int r;

	if (!buf)
		return lv_err(err, ENOMEM, "pool protocol: allocating a send buffer");
	if ((r = pool_msg_encode(m, buf, POOL_HDR_SIZE + POOL_PAYLOAD_MAX, &len, err)) < 0)
		return lv_err_wrap(err, "pool protocol: sending %s", pool_type_name(m->type) ?: "a message");
	if (nfds != want)
		return lv_err_msg(err, EINVAL, "pool protocol: %s takes %u fds, %u given", pool_type_name(m->type), want,
				  nfds);
	for (unsigned i = 0; i < nfds; i++)
		if (fds[i] < 0)
			return lv_err_msg(err, EBADF, "pool protocol: %s fd %u is %d", pool_type_name(m->type), i, fds[i]);
	iov = (struct iovec){ .iov_base = buf, .iov_len = len };
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == (ssize_t)len)
			return 0;
		if (n >= 0) /* SOCK_SEQPACKET sends whole datagrams: a stream socket was passed */
			return lv_err_msg(err, EIO, "pool protocol: sending %s: short send of %zd of %zu bytes",
					  pool_type_name(m->type), n, len);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return lv_err(err, errno, "pool protocol: sending %s", pool_type_name(m->type));
		if ((r = wait_for(sock, POLLOUT, deadline, "room to send", err)) < 0)
			return r;
		if (r == 0)
			return lv_err_msg(err, ETIMEDOUT, "pool protocol: sending %s: peer did not read for %d ms",
					  pool_type_name(m->type), POOL_SEND_TIMEOUT_MS);
	}
}

/* Takes every descriptor out of the control messages into got[]; any that
 * do not fit are closed at once. */
static unsigned collect_fds(struct msghdr *mh, int *got, unsigned cap)
{
	unsigned n = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (n < cap)
				got[n++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

int pool_recv(int sock, struct pool_msg *out, int *fds, unsigned max_fds, unsigned *nfds, int timeout_ms,
	      struct lv_error **err)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * POOL_SCM_MAX_FD)];
	} ctl;
	size_t cap = POOL_HDR_SIZE + POOL_PAYLOAD_MAX + 1; /* one more byte shows an oversized datagram */
	cleanup_free uint8_t *buf = malloc(cap);
	int got[POOL_SCM_MAX_FD];
	int64_t deadline = deadline_after(timeout_ms);
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh;
	unsigned ngot;
	ssize_t n;
	int r;

	*nfds = 0;
	memset(out, 0, sizeof(*out));
	if (!buf)
		return lv_err(err, ENOMEM, "pool protocol: allocating a receive buffer");
	for (;;) {
		if ((r = wait_for(sock, POLLIN, deadline, "a message", err)) < 0)
			return r;
		if (r == 0)
			return lv_err_msg(err, ETIMEDOUT, "pool protocol: no message from the peer within %d ms",
					  timeout_ms);
		mh = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				      .msg_controllen = sizeof(ctl.buf) };
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n >= 0)
			break;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return lv_err(err, errno, "pool protocol: receiving");
	}
	ngot = collect_fds(&mh, got, POOL_SCM_MAX_FD);
	if (mh.msg_flags & MSG_CTRUNC)
		r = lv_err_msg(err, EPROTO, "pool protocol: control data truncated (%u fds arrived and were closed)", ngot);
	else if (mh.msg_flags & MSG_TRUNC)
		r = lv_err_msg(err, EMSGSIZE, "pool protocol: datagram over %u bytes", POOL_HDR_SIZE + POOL_PAYLOAD_MAX);
	else if (n == 0)
		r = lv_err_msg(err, ECONNRESET, "pool protocol: the peer closed the connection");
	else if ((r = pool_msg_decode(buf, (size_t)n, out, err)) < 0)
		;
	else if (out->type != POOL_MSG_CLAIMED && ngot)
		r = lv_err_msg(err, EPROTO, "pool protocol: %s came with %u fds (closed)", pool_type_name(out->type), ngot);
	else if (out->type == POOL_MSG_CLAIMED && ngot != out->claimed.nfds)
		r = lv_err_msg(err, EPROTO, "pool protocol: CLAIMED announces %u fds but %u came (closed)",
			       out->claimed.nfds, ngot);
	else if (ngot > max_fds)
		r = lv_err_msg(err, EMSGSIZE, "pool protocol: %u fds came, room for %u (closed)", ngot, max_fds);
	if (r < 0) {
		close_fds(got, ngot);
		return r;
	}
	memcpy(fds, got, sizeof(int) * ngot);
	*nfds = ngot;
	return 0;
}

int pool_connect(const char *path, int timeout_ms, struct lv_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = deadline_after(timeout_ms);
	cleanup_close int fd = -1;
	socklen_t sl;
	int r, soerr;

	if (strlen(path) >= sizeof(sa.sun_path))
		return lv_err_msg(err, ENAMETOOLONG, "pool daemon socket %s: path longer than %zu bytes", path,
				  sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return lv_err(err, errno, "pool daemon socket %s: socket", path);
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return lv_take_fd(&fd);
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			/* The listener's backlog is full; a unix socket gives no
			 * event for "room again", so retry every few ms. */
			int ms = left_ms(deadline);
			struct timespec ts = { .tv_nsec = 5 * 1000000L };

			if (ms == 0)
				return lv_err_msg(err, ETIMEDOUT, "pool daemon socket %s: backlog full for %d ms", path,
						  timeout_ms);
			if (ms > 0 && ms < 5)
				ts.tv_nsec = ms * 1000000L;
			nanosleep(&ts, NULL); /* EINTR only shortens the wait */
			continue;
		}
		if (errno != EINPROGRESS)
			return lv_err(err, errno, "pool daemon socket %s: connect", path);
		if ((r = wait_for(fd, POLLOUT, deadline, "the connection", err)) < 0)
			return r;
		if (r == 0)
			return lv_err_msg(err, ETIMEDOUT, "pool daemon socket %s: no connection within %d ms", path,
					  timeout_ms);
		sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return lv_err(err, errno, "pool daemon socket %s: SO_ERROR", path);
		if (soerr)
			return lv_err(err, soerr, "pool daemon socket %s: connect", path);
		return lv_take_fd(&fd);
	}
}
