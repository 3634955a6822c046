/* The noxs control channel: framing over a byte stream.  See chan.h and
 * noxs/README.md for the frames and the host/guest sequence. */
#include "chan.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../lib/clock.h"

int noxs_rx_init(struct noxs_rx *rx, struct lv_error **err)
{
	memset(rx, 0, sizeof(*rx));
	rx->buf = malloc(NOXS_FRAME_HDR + NOXS_FRAME_MAX);
	if (!rx->buf)
		return lv_err(err, ENOMEM, "noxs channel: allocating the receive buffer");
	rx->cap = NOXS_FRAME_HDR + NOXS_FRAME_MAX;
	return 0;
}

void noxs_rx_free(struct noxs_rx *rx)
{
	if (!rx)
		return;
	free(rx->buf);
	memset(rx, 0, sizeof(*rx));
}

/* Moves unconsumed bytes to the front so that the free space is contiguous
 * and a whole frame always fits.  Invalidates payloads handed out earlier,
 * which chan.h allows on the next fill. */
static size_t rx_space(struct noxs_rx *rx)
{
	if (rx->off) {
		memmove(rx->buf, rx->buf + rx->off, rx->len - rx->off);
		rx->len -= rx->off;
		rx->off = 0;
	}
	return rx->cap - rx->len;
}

int noxs_rx_fill(struct noxs_rx *rx, int fd, struct lv_error **err)
{
	size_t space = rx_space(rx);
	ssize_t n;

	if (space == 0)
		return lv_err_msg(err, ENOBUFS, "noxs channel: receive buffer full (take frames with noxs_rx_next first)");
	do
		n = read(fd, rx->buf + rx->len, space);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		return lv_err(err, errno, "noxs channel: read");
	}
	rx->len += (size_t)n;
	return (int)n;
}

int noxs_rx_push(struct noxs_rx *rx, const void *data, size_t len, struct lv_error **err)
{
	size_t space = rx_space(rx);

	if (len == 0)
		return 0;
	if (space == 0)
		return lv_err_msg(err, ENOBUFS, "noxs channel: receive buffer full (take frames with noxs_rx_next first)");
	if (len > space)
		len = space;
	memcpy(rx->buf + rx->len, data, len);
	rx->len += len;
	return (int)len;
}

int noxs_rx_next(struct noxs_rx *rx, uint16_t *type, const uint8_t **payload, uint32_t *len, struct lv_error **err)
{
	const uint8_t *h = rx->buf + rx->off;
	size_t avail = rx->len - rx->off;
	uint16_t t, reserved;
	uint32_t n;

	if (avail < NOXS_FRAME_HDR)
		return 0;
	t = noxs_get_u16(h);
	reserved = noxs_get_u16(h + 2);
	n = noxs_get_u32(h + 4);
	if (n > NOXS_FRAME_MAX)
		return lv_err_msg(err, EPROTO, "noxs channel: frame type 0x%x has length %u, over the %u-byte limit", t, n,
				  NOXS_FRAME_MAX);
	if (reserved != 0)
		return lv_err_msg(err, EPROTO, "noxs channel: frame type 0x%x has reserved field 0x%x, expected 0", t,
				  reserved);
	if (avail - NOXS_FRAME_HDR < n)
		return 0;
	*type = t;
	*payload = h + NOXS_FRAME_HDR;
	*len = n;
	rx->off += NOXS_FRAME_HDR + n;
	return 1;
}

/* deadline: CLOCK_MONOTONIC ms, or 0 for none. */
static int wait_writable(int fd, uint64_t deadline, struct lv_error **err)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	for (;;) {
		int timeout = -1, r;

		if (deadline) {
			uint64_t now = lv_now_ms();
			if (now >= deadline)
				return lv_err_msg(err, ETIMEDOUT, "noxs channel: the peer stopped reading");
			timeout = (int)(deadline - now);
		}
		r = poll(&pfd, 1, timeout);
		if (r > 0)
			return 0; /* writable, or POLLERR/POLLHUP: the next write says which */
		if (r < 0 && errno != EINTR)
			return lv_err(err, errno, "noxs channel: poll");
	}
}

/* sendmsg(MSG_NOSIGNAL) so that a peer that went away is EPIPE rather than a
 * process-killing SIGPIPE; the channel may also be a character device (a
 * virtio-serial port), where only writev works. */
static ssize_t write_iov(int fd, struct iovec *iov, int iovcnt, int flags, int *not_socket)
{
	if (!*not_socket) {
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | flags);
		if (n >= 0 || errno != ENOTSOCK)
			return n;
		*not_socket = 1;
	}
	return writev(fd, iov, iovcnt);
}

int noxs_send(int fd, uint16_t type, const void *payload, uint32_t len, struct lv_error **err)
{
	return noxs_send_until(fd, type, payload, len, 0, err);
}

int noxs_send_until(int fd, uint16_t type, const void *payload, uint32_t len, uint64_t deadline,
		    struct lv_error **err)
{
	uint8_t hdr[NOXS_FRAME_HDR];
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	struct iovec *v = iov;
	int cnt = len ? 2 : 1, not_socket = 0, ret;

	if (len > NOXS_FRAME_MAX)
		return lv_err_msg(err, EMSGSIZE, "noxs channel: frame type 0x%x payload of %u bytes is over the %u-byte limit",
				  type, len, NOXS_FRAME_MAX);
	if (len && !payload)
		return lv_err_msg(err, EINVAL, "noxs channel: frame type 0x%x has a length but no payload", type);
	noxs_put_u16(hdr, type);
	noxs_put_u16(hdr + 2, 0);
	noxs_put_u32(hdr + 4, len);

	while (cnt > 0) {
		/* With a deadline, never block inside sendmsg: wait in poll. */
		ssize_t n = write_iov(fd, v, cnt, deadline ? MSG_DONTWAIT : 0, &not_socket);
		size_t done;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if ((ret = wait_writable(fd, deadline, err)) < 0)
					return ret;
				continue;
			}
			return lv_err(err, errno, "noxs channel: sending frame type 0x%x", type);
		}
		if (n == 0)
			return lv_err_msg(err, EIO, "noxs channel: sending frame type 0x%x: wrote nothing", type);
		for (done = (size_t)n; cnt > 0 && done >= v->iov_len; v++, cnt--)
			done -= v->iov_len;
		if (cnt > 0) {
			v->iov_base = (uint8_t *)v->iov_base + done;
			v->iov_len -= done;
		}
	}
	return 0;
}

int noxs_exec_split(uint16_t type, const uint8_t *payload, uint32_t len, uint32_t *id, const uint8_t **body,
		    uint32_t *body_len, struct lv_error **err)
{
	uint32_t n, min = 0, max;

	if (!noxs_is_exec_msg(type))
		return lv_err_msg(err, EPROTO, "noxs channel: frame type 0x%x is not an exec frame", type);
	if (len < NOXS_EXEC_ID_SIZE || (len && !payload))
		return lv_err_msg(err, EPROTO, "noxs channel: exec frame type 0x%x of %u bytes has no session id", type,
				  len);
	n = len - NOXS_EXEC_ID_SIZE;
	switch (type) {
	case NOXS_MSG_EXEC:
		min = 1, max = NOXS_EXEC_PAGE_MAX;
		break;
	case NOXS_MSG_EXEC_STDIN:
	case NOXS_MSG_EXEC_STDOUT:
	case NOXS_MSG_EXEC_STDERR:
		max = NOXS_IO_CHUNK;
		break;
	case NOXS_MSG_EXEC_ERROR:
		max = NOXS_EXEC_ERROR_MAX;
		break;
	case NOXS_MSG_EXEC_STDIN_EOF:
		max = 0;
		break;
	default: /* SIGNAL, WINSIZE, STARTED, EXIT: one 4-byte field */
		min = max = 4;
		break;
	}
	if (n < min || n > max)
		return lv_err_msg(err, EPROTO,
				  "noxs channel: exec frame type 0x%x has a %u-byte body, expected %u to %u bytes", type,
				  n, min, max);
	*id = noxs_get_u32(payload);
	*body = payload + NOXS_EXEC_ID_SIZE;
	*body_len = n;
	return 0;
}
