/* The vhost-user frontend; see vhost_user.h. */
#include "vhost_user.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* SET_MEM_TABLE: le32 nregions, le32 padding, then per region le64
 * guest_phys_addr, memory_size, userspace_addr, mmap_offset. */
#define MEM_REGION_SIZE 32U
#define MAX_PAYLOAD     (8U + VMM_MEM_MAX_REGIONS * MEM_REGION_SIZE)
/* Fds a reply may try to send us, to be closed: as many as fit a page of
 * control data, which is more than any backend has reason to send. */
#define MAX_RECV_FDS    64U

static const char *request_name(uint32_t req)
{
	switch (req) {
	case VMM_VU_GET_FEATURES: return "GET_FEATURES";
	case VMM_VU_SET_FEATURES: return "SET_FEATURES";
	case VMM_VU_SET_OWNER: return "SET_OWNER";
	case VMM_VU_SET_MEM_TABLE: return "SET_MEM_TABLE";
	case VMM_VU_SET_VRING_NUM: return "SET_VRING_NUM";
	case VMM_VU_SET_VRING_ADDR: return "SET_VRING_ADDR";
	case VMM_VU_SET_VRING_BASE: return "SET_VRING_BASE";
	case VMM_VU_GET_VRING_BASE: return "GET_VRING_BASE";
	case VMM_VU_SET_VRING_KICK: return "SET_VRING_KICK";
	case VMM_VU_SET_VRING_CALL: return "SET_VRING_CALL";
	case VMM_VU_GET_PROTOCOL_FEATURES: return "GET_PROTOCOL_FEATURES";
	case VMM_VU_SET_PROTOCOL_FEATURES: return "SET_PROTOCOL_FEATURES";
	case VMM_VU_SET_VRING_ENABLE: return "SET_VRING_ENABLE";
	default: return "request";
	}
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

int vmm_vu_decode_reply(const uint8_t *buf, size_t len, uint32_t request, struct vmm_vu_reply *out,
			struct lv_error **err)
{
	const uint32_t known = 0x3U | VMM_VU_FLAG_REPLY | VMM_VU_FLAG_NEED_REPLY;
	uint32_t req, flags, size;
	uint64_t u64;

	memset(out, 0, sizeof(*out));
	if (len < VMM_VU_HDR_SIZE)
		return lv_err_msg(err, EPROTO, "%s reply: %zu bytes, shorter than a header", request_name(request), len);
	req = get_le32(buf);
	flags = get_le32(buf + 4);
	size = get_le32(buf + 8);
	if (req != request)
		return lv_err_msg(err, EPROTO, "%s reply: answers request %u", request_name(request), req);
	if ((flags & 0x3U) != VMM_VU_VERSION || !(flags & VMM_VU_FLAG_REPLY) || (flags & ~known))
		return lv_err_msg(err, EPROTO, "%s reply: flags 0x%x (want version 1 and REPLY)", request_name(request),
				  flags);
	if (size != VMM_VU_REPLY_PAYLOAD)
		return lv_err_msg(err, EPROTO, "%s reply: payload of %u bytes, not %u", request_name(request), size,
				  VMM_VU_REPLY_PAYLOAD);
	if (len != VMM_VU_HDR_SIZE + (size_t)size)
		return lv_err_msg(err, EPROTO, "%s reply: %zu bytes for a payload of %u", request_name(request), len,
				  size);
	memcpy(&u64, buf + VMM_VU_HDR_SIZE, sizeof(u64));
	out->request = req;
	out->u64 = le64toh(u64);
	out->index = get_le32(buf + VMM_VU_HDR_SIZE);
	out->num = get_le32(buf + VMM_VU_HDR_SIZE + 4);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Until fd is ready for events or the deadline passes.  EINTR (a vCPU
 * kick) just polls again. */
static int wait_ready(struct vmm_vhost_user *vu, short events, uint64_t deadline, const char *what,
		      struct lv_error **err)
{
	for (;;) {
		struct pollfd p = { .fd = vu->fd, .events = events };
		uint64_t now = now_ms();
		int r;

		if (now >= deadline)
			return lv_err_msg(err, ETIMEDOUT, "%s: no answer from the backend in %d ms", what,
					  vu->timeout_ms);
		r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return lv_err(err, errno, "%s: poll", what);
		if (r > 0 && (p.revents & events))
			return 0;
		if (r > 0)
			return lv_err_msg(err, EPIPE, "%s: the backend hung up", what);
	}
}

static int send_msg(struct vmm_vhost_user *vu, uint32_t req, uint32_t flags, const uint8_t *payload,
		    uint32_t size, const int *fds, unsigned int nfds, struct lv_error **err)
{
	uint8_t buf[VMM_VU_HDR_SIZE + MAX_PAYLOAD];
	union {
		char buf[CMSG_SPACE(VMM_MEM_MAX_REGIONS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	uint64_t deadline = now_ms() + (uint64_t)vu->timeout_ms;
	size_t len = VMM_VU_HDR_SIZE + size, off = 0;

	if (size > MAX_PAYLOAD || nfds > VMM_MEM_MAX_REGIONS)
		return lv_err_msg(err, EINVAL, "%s: message too big", request_name(req));
	put_le32(buf, req);
	put_le32(buf + 4, flags);
	put_le32(buf + 8, size);
	if (size)
		memcpy(buf + VMM_VU_HDR_SIZE, payload, size);
	while (off < len) {
		struct iovec iov = { .iov_base = buf + off, .iov_len = len - off };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;
		int r;

		/* The fds go with the first byte; a partial send carries them. */
		if (off == 0 && nfds) {
			struct cmsghdr *c;

			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
		}
		n = sendmsg(vu->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			r = wait_ready(vu, POLLOUT, deadline, request_name(req), err);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return lv_err(err, errno, "%s: send", request_name(req));
		off += (size_t)n;
	}
	return 0;
}

static void close_passed_fds(struct msghdr *mh, unsigned int *count)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n, i;
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			close(fd);
			(*count)++;
		}
	}
}

/* Exactly want bytes into buf, with a deadline; no fds accepted. */
static int recv_exact(struct vmm_vhost_user *vu, uint8_t *buf, size_t want, uint64_t deadline, const char *what,
		      struct lv_error **err)
{
	size_t got = 0;

	while (got < want) {
		union {
			char buf[CMSG_SPACE(MAX_RECV_FDS * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = buf + got, .iov_len = want - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		unsigned int nfds = 0;
		ssize_t n;
		int r;

		n = recvmsg(vu->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			r = wait_ready(vu, POLLIN, deadline, what, err);
			if (r < 0)
				return r;
			continue;
		}
		if (n < 0)
			return lv_err(err, errno, "%s: receive", what);
		close_passed_fds(&mh, &nfds);
		if (nfds || (mh.msg_flags & MSG_CTRUNC))
			return lv_err_msg(err, EPROTO, "%s: the backend sent file descriptors with its reply", what);
		if (n == 0)
			return lv_err_msg(err, EPIPE, "%s: the backend closed the connection", what);
		got += (size_t)n;
	}
	return 0;
}

static int recv_reply(struct vmm_vhost_user *vu, uint32_t req, struct vmm_vu_reply *out, struct lv_error **err)
{
	uint8_t buf[VMM_VU_HDR_SIZE + VMM_VU_REPLY_PAYLOAD];
	uint64_t deadline = now_ms() + (uint64_t)vu->timeout_ms;
	const char *what = request_name(req);
	uint32_t size;
	int r;

	r = recv_exact(vu, buf, VMM_VU_HDR_SIZE, deadline, what, err);
	if (r < 0)
		return r;
	size = get_le32(buf + 8);
	/* A size we would never accept: the decoder says why, from the
	 * header alone, and nothing more is read. */
	if (size > VMM_VU_REPLY_PAYLOAD)
		return vmm_vu_decode_reply(buf, VMM_VU_HDR_SIZE, req, out, err) ?:
		       lv_err_msg(err, EPROTO, "%s reply: %u bytes", what, size);
	r = recv_exact(vu, buf + VMM_VU_HDR_SIZE, size, deadline, what, err);
	if (r < 0)
		return r;
	return vmm_vu_decode_reply(buf, VMM_VU_HDR_SIZE + size, req, out, err);
}

/* One request: sent, then its reply (get) or its ack (REPLY_ACK) read. */
static int request(struct vmm_vhost_user *vu, uint32_t req, const uint8_t *payload, uint32_t size, const int *fds,
		   unsigned int nfds, bool get, struct vmm_vu_reply *reply, struct lv_error **err)
{
	bool ack = !get && vu->reply_ack;
	struct vmm_vu_reply rep;
	int r;

	if (vu->dead)
		return lv_err_msg(err, EPIPE, "%s: %s: the connection to the backend failed before", vu->name,
				  request_name(req));
	r = send_msg(vu, req, VMM_VU_VERSION | (ack ? VMM_VU_FLAG_NEED_REPLY : 0), payload, size, fds, nfds, err);
	if (r == 0 && (get || ack))
		r = recv_reply(vu, req, &rep, err);
	if (r < 0) {
		vu->dead = true;
		return lv_err_wrap(err, "%s", vu->name);
	}
	if (ack && rep.u64 != 0)
		return lv_err_msg(err, EIO, "%s: the backend refused %s (status %llu)", vu->name, request_name(req),
				  (unsigned long long)rep.u64);
	if (reply)
		*reply = rep;
	return 0;
}

static int request_u64(struct vmm_vhost_user *vu, uint32_t req, uint64_t v, const int *fds, unsigned int nfds,
		       struct lv_error **err)
{
	uint8_t p[8];

	put_le64(p, v);
	return request(vu, req, p, sizeof(p), fds, nfds, false, NULL, err);
}

static int request_state(struct vmm_vhost_user *vu, uint32_t req, uint32_t index, uint32_t num,
			 struct lv_error **err)
{
	uint8_t p[8];

	put_le32(p, index);
	put_le32(p + 4, num);
	return request(vu, req, p, sizeof(p), NULL, 0, false, NULL, err);
}

int vmm_vu_init(struct vmm_vhost_user *vu, int fd, const char *name, int timeout_ms, struct lv_error **err)
{
	struct vmm_vu_reply rep;
	int r;

	memset(vu, 0, sizeof(*vu));
	vu->fd = fd;
	vu->timeout_ms = timeout_ms > 0 ? timeout_ms : VMM_VU_TIMEOUT_MS;
	snprintf(vu->name, sizeof(vu->name), "%s", name ? name : "vhost-user");
	if (fd < 0) {
		vu->dead = true;
		return lv_err_msg(err, EBADF, "%s: no backend socket", vu->name);
	}
	r = request(vu, VMM_VU_GET_FEATURES, NULL, 0, NULL, 0, true, &rep, err);
	if (r < 0)
		goto fail;
	vu->backend_features = rep.u64;
	if (!(vu->backend_features & (1ULL << 32))) {
		r = lv_err_msg(err, EPROTO, "%s: the backend does not offer VIRTIO_F_VERSION_1 (features 0x%llx)",
			       vu->name, (unsigned long long)vu->backend_features);
		goto fail;
	}
	if (vu->backend_features & (1ULL << VMM_VU_F_PROTOCOL_FEATURES)) {
		vu->has_protocol_features = true;
		r = request(vu, VMM_VU_GET_PROTOCOL_FEATURES, NULL, 0, NULL, 0, true, &rep, err);
		if (r < 0)
			goto fail;
		vu->protocol_features = rep.u64 & (1ULL << VMM_VU_PROTOCOL_F_REPLY_ACK);
		r = request_u64(vu, VMM_VU_SET_PROTOCOL_FEATURES, vu->protocol_features, NULL, 0, err);
		if (r < 0)
			goto fail;
		vu->reply_ack = vu->protocol_features & (1ULL << VMM_VU_PROTOCOL_F_REPLY_ACK);
	}
	r = request(vu, VMM_VU_SET_OWNER, NULL, 0, NULL, 0, false, NULL, err);
	if (r < 0)
		goto fail;
	return 0;
fail:
	vmm_vu_fini(vu);
	return r;
}

void vmm_vu_fini(struct vmm_vhost_user *vu)
{
	if (vu->fd >= 0)
		close(vu->fd);
	vu->fd = -1;
	vu->dead = true;
}

int vmm_vu_set_features(struct vmm_vhost_user *vu, uint64_t features, struct lv_error **err)
{
	if (vu->has_protocol_features)
		features |= 1ULL << VMM_VU_F_PROTOCOL_FEATURES;
	if (features & ~vu->backend_features)
		return lv_err_msg(err, ENOTSUP, "%s: features 0x%llx were not offered by the backend (0x%llx)",
				  vu->name, (unsigned long long)(features & ~vu->backend_features),
				  (unsigned long long)vu->backend_features);
	return request_u64(vu, VMM_VU_SET_FEATURES, features, NULL, 0, err);
}

int vmm_vu_set_mem_table(struct vmm_vhost_user *vu, const struct vmm_memory *mem, struct lv_error **err)
{
	uint8_t p[MAX_PAYLOAD] = { 0 };
	int fds[VMM_MEM_MAX_REGIONS];
	unsigned int i, n = mem->nr_regions;

	if (n == 0 || n > VMM_MEM_MAX_REGIONS)
		return lv_err_msg(err, EINVAL, "%s: %u memory regions", vu->name, n);
	put_le32(p, n);
	for (i = 0; i < n; i++) {
		const struct vmm_mem_region *rg = &mem->regions[i];
		uint8_t *e = p + 8 + i * MEM_REGION_SIZE;

		put_le64(e, rg->gpa);
		put_le64(e + 8, rg->size);
		put_le64(e + 16, (uint64_t)(uintptr_t)rg->hva);
		put_le64(e + 24, (uint64_t)(rg->hva - mem->base));
		fds[i] = mem->memfd;
	}
	return request(vu, VMM_VU_SET_MEM_TABLE, p, 8 + n * MEM_REGION_SIZE, fds, n, false, NULL, err);
}

int vmm_vu_start_vring(struct vmm_vhost_user *vu, const struct vmm_vu_vring *rg, struct lv_error **err)
{
	uint8_t addr[40] = { 0 };
	int r;

	if (rg->index >= VMM_VU_MAX_QUEUES || rg->kick_fd < 0 || rg->call_fd < 0)
		return lv_err_msg(err, EINVAL, "%s: ring %u: bad index or eventfds", vu->name, rg->index);
	/* struct vhost_vring_addr: index, flags (no logging), then the
	 * descriptor table, used ring, available ring, log address. */
	put_le32(addr, rg->index);
	put_le64(addr + 8, rg->desc);
	put_le64(addr + 16, rg->used);
	put_le64(addr + 24, rg->avail);
	r = request_state(vu, VMM_VU_SET_VRING_NUM, rg->index, rg->size, err);
	r = r ?: request_state(vu, VMM_VU_SET_VRING_BASE, rg->index, 0, err);
	r = r ?: request(vu, VMM_VU_SET_VRING_ADDR, addr, sizeof(addr), NULL, 0, false, NULL, err);
	r = r ?: request_u64(vu, VMM_VU_SET_VRING_CALL, rg->index, &rg->call_fd, 1, err);
	r = r ?: request_u64(vu, VMM_VU_SET_VRING_KICK, rg->index, &rg->kick_fd, 1, err);
	if (vu->has_protocol_features)
		r = r ?: request_state(vu, VMM_VU_SET_VRING_ENABLE, rg->index, 1, err);
	return r < 0 ? lv_err_wrap(err, "ring %u", rg->index) : 0;
}

int vmm_vu_stop_vring(struct vmm_vhost_user *vu, uint32_t index, uint32_t *base, struct lv_error **err)
{
	struct vmm_vu_reply rep;
	uint8_t p[8];
	int r;

	put_le32(p, index);
	put_le32(p + 4, 0);
	r = request(vu, VMM_VU_GET_VRING_BASE, p, sizeof(p), NULL, 0, true, &rep, err);
	if (r < 0)
		return r;
	if (rep.index != index) {
		vu->dead = true;
		return lv_err_msg(err, EPROTO, "%s: GET_VRING_BASE for ring %u answered for ring %u", vu->name, index,
				  rep.index);
	}
	*base = rep.num;
	return 0;
}
