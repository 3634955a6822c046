/* Unit tests for the noxs control channel (TAP): framing, the incremental
 * reader, bad frames, and sends with a deadline.
 *
 * `test_noxs_chan --write-seeds DIR` writes fuzzing seeds to DIR/chan
 * instead of running the tests. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/cleanup.h"
#include "../../noxs/chan.h"
#include "tap.h"
#include "testutil.h"

/* ---- channel ---- */

static void test_chan_basic(void)
{
	int sv[2];
	struct noxs_rx rx;
	struct lv_error *err = NULL;
	uint16_t type = 0;
	const uint8_t *pl = NULL;
	uint32_t n = 0;
	uint8_t frame[NOXS_FRAME_HDR + 5];
	size_t i;
	int r, split_ok = 1;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	ok(noxs_rx_init(&rx, &err) == 0 && rx.cap == NOXS_FRAME_HDR + NOXS_FRAME_MAX, "rx_init");

	ok(noxs_send(sv[0], NOXS_MSG_STARTED, "\x2a\0\0\0", 4, &err) == 0, "send STARTED");
	r = noxs_rx_fill(&rx, sv[1], &err);
	ok(r == NOXS_FRAME_HDR + 4, "fill reads header and payload");
	r = noxs_rx_next(&rx, &type, &pl, &n, &err);
	ok(r == 1 && type == NOXS_MSG_STARTED && n == 4 && noxs_get_u32(pl) == 42, "STARTED(42) received");
	ok(noxs_rx_next(&rx, &type, &pl, &n, &err) == 0, "no further frame");

	/* One frame trickling in a byte at a time. */
	noxs_put_u16(frame, NOXS_MSG_STDOUT);
	noxs_put_u16(frame + 2, 0);
	noxs_put_u32(frame + 4, 5);
	memcpy(frame + NOXS_FRAME_HDR, "hello", 5);
	for (i = 0; i < sizeof(frame); i++) {
		if (write(sv[0], frame + i, 1) != 1 || noxs_rx_fill(&rx, sv[1], &err) != 1)
			split_ok = 0;
		r = noxs_rx_next(&rx, &type, &pl, &n, &err);
		if (r != (i + 1 == sizeof(frame)))
			split_ok = 0;
	}
	ok(split_ok && type == NOXS_MSG_STDOUT && n == 5 && memcmp(pl, "hello", 5) == 0,
	   "frame split across %zu one-byte writes", sizeof(frame));

	/* Two frames, one read. */
	noxs_send(sv[0], NOXS_MSG_STDIN, "ab", 2, &err);
	noxs_send(sv[0], NOXS_MSG_STDIN_EOF, NULL, 0, &err);
	r = noxs_rx_fill(&rx, sv[1], &err);
	ok(r == 2 * NOXS_FRAME_HDR + 2, "two frames arrive in one read");
	r = noxs_rx_next(&rx, &type, &pl, &n, &err);
	ok(r == 1 && type == NOXS_MSG_STDIN && n == 2 && memcmp(pl, "ab", 2) == 0, "first frame");
	r = noxs_rx_next(&rx, &type, &pl, &n, &err);
	ok(r == 1 && type == NOXS_MSG_STDIN_EOF && n == 0, "second (empty) frame");

	/* Non-blocking and nothing there: -EAGAIN, no error recorded. */
	fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
	ok(noxs_rx_fill(&rx, sv[1], &err) == -EAGAIN && err == NULL, "-EAGAIN without an error on an empty fd");

	close(sv[0]);
	ok(noxs_rx_fill(&rx, sv[1], &err) == 0 && err == NULL, "EOF reads as 0");
	ok(noxs_rx_fill(&rx, -1, &err) == -EBADF && err && strstr(err->msg, "noxs channel: read"),
	   "read error recorded: %s", err ? err->msg : "");
	lv_error_free(&err);
	close(sv[1]);
	noxs_rx_free(&rx);
}

static void test_chan_max(void)
{
	int sv[2], status = 0, r = 0;
	struct noxs_rx rx;
	struct lv_error *err = NULL;
	uint16_t type = 0;
	const uint8_t *pl = NULL;
	uint32_t n = 0, i;
	uint8_t *big = malloc(NOXS_FRAME_MAX);
	int good = 1;
	pid_t pid;

	for (i = 0; i < NOXS_FRAME_MAX; i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid = fork();
	if (pid == 0) {
		/* Non-blocking writer: exercises short writes and poll on EAGAIN. */
		close(sv[1]);
		fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
		r = noxs_send(sv[0], NOXS_MSG_PAGE, big, NOXS_FRAME_MAX, &err);
		r |= noxs_send(sv[0], NOXS_MSG_EXIT, "\0\0\0\0", 4, &err);
		_exit(r ? 1 : 0);
	}
	close(sv[0]);
	noxs_rx_init(&rx, &err);
	while ((r = noxs_rx_next(&rx, &type, &pl, &n, &err)) == 0)
		if (noxs_rx_fill(&rx, sv[1], &err) <= 0)
			break;
	ok(r == 1 && type == NOXS_MSG_PAGE && n == NOXS_FRAME_MAX && memcmp(pl, big, n) == 0,
	   "max-size frame (%u bytes) through a non-blocking writer", NOXS_FRAME_MAX);
	while ((r = noxs_rx_next(&rx, &type, &pl, &n, &err)) == 0)
		if (noxs_rx_fill(&rx, sv[1], &err) <= 0)
			break;
	ok(r == 1 && type == NOXS_MSG_EXIT && n == 4, "and the frame after it");
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer saw no error");

	r = noxs_send(sv[1], NOXS_MSG_PAGE, big, NOXS_FRAME_MAX + 1, &err);
	ok(r == -EMSGSIZE && err, "send refuses an oversized payload: %s", err ? err->msg : "");
	lv_error_free(&err);
	good = noxs_send(sv[1], NOXS_MSG_STDIN, "x", 1, &err) == -EPIPE;
	ok(good, "send to a closed peer is -EPIPE, not SIGPIPE: %s", err ? err->msg : "");
	lv_error_free(&err);
	close(sv[1]);
	noxs_rx_free(&rx);
	free(big);
}

static void test_chan_bad(void)
{
	struct noxs_rx rx;
	struct lv_error *err = NULL;
	uint16_t type;
	const uint8_t *pl;
	uint32_t n;
	uint8_t h[NOXS_FRAME_HDR];
	uint8_t *fill;
	int r;

	noxs_rx_init(&rx, &err);
	noxs_put_u16(h, NOXS_MSG_STDOUT);
	noxs_put_u16(h + 2, 0);
	noxs_put_u32(h + 4, NOXS_FRAME_MAX + 1);
	noxs_rx_push(&rx, h, sizeof(h), &err);
	r = noxs_rx_next(&rx, &type, &pl, &n, &err);
	ok(r == -EPROTO && err && strstr(err->msg, "over the"), "oversized length rejected: %s", err ? err->msg : "");
	lv_error_free(&err);
	noxs_rx_free(&rx);

	noxs_rx_init(&rx, &err);
	noxs_put_u32(h + 4, 0);
	noxs_put_u16(h + 2, 1);
	noxs_rx_push(&rx, h, sizeof(h), &err);
	ok(noxs_rx_next(&rx, &type, &pl, &n, &err) == -EPROTO, "non-zero reserved field rejected");
	lv_error_free(&err);
	noxs_rx_free(&rx);

	/* A full buffer: push takes what fits, then refuses. */
	noxs_rx_init(&rx, &err);
	fill = calloc(1, rx.cap + 10);
	noxs_put_u16(fill, NOXS_MSG_STDOUT);
	noxs_put_u32(fill + 4, NOXS_FRAME_MAX);
	ok(noxs_rx_push(&rx, fill, rx.cap + 10, &err) == (int)rx.cap, "push takes what fits");
	ok(noxs_rx_push(&rx, fill, 1, &err) == -ENOBUFS, "then -ENOBUFS");
	lv_error_free(&err);
	ok(noxs_rx_next(&rx, &type, &pl, &n, &err) == 1 && n == NOXS_FRAME_MAX, "the max frame is complete");
	ok(noxs_rx_push(&rx, fill, 3, &err) == 3 && rx.off == 0 && rx.len == 3, "buffer compacted after consumption");
	free(fill);
	noxs_rx_free(&rx);
}

/* ---- fuzzing seeds ---- */

static int write_seeds(const char *dir)
{
	uint8_t chan[512], *q = chan + 1; /* chan[0]: fuzz_chan's chunking byte */
	char sub[4096];
	int r = 0;

	/* A guest-side conversation: READY, STARTED, STDOUT, ERROR, EXIT. */
#define FRAME(t, s, n) do { noxs_put_u16(q, t); noxs_put_u16(q + 2, 0); noxs_put_u32(q + 4, n); \
	memcpy(q + 8, s, n); q += 8 + (n); } while (0)
	FRAME(NOXS_MSG_READY, "", 0);
	FRAME(NOXS_MSG_STARTED, "\x07\0\0\0", 4);
	FRAME(NOXS_MSG_STDOUT, "hello\n", 6);
	FRAME(NOXS_MSG_ERROR, "exec: not found", 15);
	FRAME(NOXS_MSG_EXIT, "\0\x7f\0\0", 4);
	FRAME(NOXS_MSG_WINSIZE, "\x18\0\x50\0", 4);
	FRAME(NOXS_MSG_SIGNAL, "\x0f\0\0\0\x01\0\0\0", 8);
	/* An exec session (id 3): started, output, a signal, its exit. */
	FRAME(NOXS_MSG_EXEC_STARTED, "\x03\0\0\0\x21\0\0\0", 8);
	FRAME(NOXS_MSG_EXEC_STDOUT, "\x03\0\0\0hi\n", 7);
	FRAME(NOXS_MSG_EXEC_STDERR, "\x03\0\0\0", 4);
	FRAME(NOXS_MSG_EXEC_SIGNAL, "\x03\0\0\0\x0f\0\0\0", 8);
	FRAME(NOXS_MSG_EXEC_WINSIZE, "\x03\0\0\0\x18\0\x50\0", 8);
	FRAME(NOXS_MSG_EXEC_ERROR, "\x03\0\0\0killed", 10);
	FRAME(NOXS_MSG_EXEC_EXIT, "\x03\0\0\0\x09\0\0\0", 8);
#undef FRAME
	snprintf(sub, sizeof(sub), "%s/chan", dir);
	chan[0] = 0; /* one push */
	r |= write_seed_file(sub, "conversation-whole", chan, (size_t)(q - chan));
	chan[0] = 1; /* small pushes */
	r |= write_seed_file(sub, "conversation-split", chan, (size_t)(q - chan));
	return r ? 1 : 0;
}

/* A peer that never reads: noxs_send_until() gives up at its deadline
 * instead of blocking (the monitor's rootfs stream relies on it), even on
 * a blocking socket; with room, the same call goes through. */
static void test_send_deadline(void)
{
	enum { LEN = 256 * 1024 };
	struct lv_error *err = NULL;
	uint8_t *buf = calloc(1, LEN);
	struct timespec t0, t1;
	int sv[2], r, sz = 4096;
	long ms;

	if (!buf || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ok(0, "socketpair");
		free(buf);
		return;
	}
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	ok(noxs_send_until(sv[0], NOXS_MSG_STDIN, "x", 1, 0, &err) == 0, "a small frame goes through without a deadline");
	lv_error_free(&err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		uint64_t deadline = (uint64_t)t0.tv_sec * 1000 + (uint64_t)t0.tv_nsec / 1000000 + 200;
		r = noxs_send_until(sv[0], NOXS_MSG_STDIN, buf, LEN, deadline, &err);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ok(r == -ETIMEDOUT && err && strstr(err->msg, "stopped reading"),
	   "a 256 KiB frame to a peer that never reads times out (%s)", err ? err->msg : "no error");
	ok(ms >= 150 && ms < 5000, "after about the deadline (%ld ms)", ms);
	lv_error_free(&err);
	close(sv[0]);
	close(sv[1]);
	free(buf);
}

static void test_exec_split(void)
{
	struct lv_error *err = NULL;
	uint8_t p[NOXS_EXEC_ID_SIZE + NOXS_IO_CHUNK + 1];
	const uint8_t *body = NULL;
	uint32_t id = 0, n = 0;

	memset(p, 'x', sizeof(p));
	noxs_put_u32(p, 7);
	noxs_put_u32(p + 4, 15);
	ok(noxs_exec_split(NOXS_MSG_EXEC_SIGNAL, p, 8, &id, &body, &n, &err) == 0 && id == 7 && n == 4 &&
		   body == p + 4 && noxs_get_u32(body) == 15,
	   "EXEC_SIGNAL: id 7, signal 15");
	ok(noxs_exec_split(NOXS_MSG_EXEC_STDOUT, p, NOXS_EXEC_ID_SIZE + NOXS_IO_CHUNK, &id, &body, &n, &err) == 0 &&
		   n == NOXS_IO_CHUNK,
	   "EXEC_STDOUT of one full chunk");
	ok(noxs_exec_split(NOXS_MSG_EXEC_STDOUT, p, 4, &id, &body, &n, &err) == 0 && n == 0, "empty EXEC_STDOUT");
	ok(noxs_exec_split(NOXS_MSG_EXEC_STDIN_EOF, p, 4, &id, &body, &n, &err) == 0 && n == 0, "EXEC_STDIN_EOF");

	ok(noxs_exec_split(NOXS_MSG_EXEC_STDERR, p, sizeof(p), &id, &body, &n, &err) == -EPROTO && err &&
		   strstr(err->msg, "0x8a"),
	   "EXEC_STDERR over a chunk: -EPROTO naming the frame");
	lv_error_free(&err);
	ok(noxs_exec_split(NOXS_MSG_EXEC_EXIT, p, 3, &id, &body, &n, &err) == -EPROTO && err &&
		   strstr(err->msg, "no session id"),
	   "3-byte EXEC_EXIT: no session id");
	lv_error_free(&err);
	ok(noxs_exec_split(NOXS_MSG_EXEC_EXIT, p, 9, &id, &body, &n, &err) == -EPROTO, "EXEC_EXIT with 5 bytes");
	lv_error_free(&err);
	ok(noxs_exec_split(NOXS_MSG_EXEC_WINSIZE, p, 6, &id, &body, &n, &err) == -EPROTO, "short EXEC_WINSIZE");
	lv_error_free(&err);
	ok(noxs_exec_split(NOXS_MSG_EXEC, p, 4, &id, &body, &n, &err) == -EPROTO, "EXEC without a page");
	lv_error_free(&err);
	ok(noxs_exec_split(NOXS_MSG_EXEC_ERROR, p, NOXS_EXEC_ID_SIZE + NOXS_EXEC_ERROR_MAX + 1, &id, &body, &n, &err) ==
		   -EPROTO,
	   "EXEC_ERROR over its limit");
	lv_error_free(&err);
	ok(noxs_exec_split(NOXS_MSG_STDOUT, p, 8, &id, &body, &n, &err) == -EPROTO && err &&
		   strstr(err->msg, "not an exec frame"),
	   "STDOUT is not an exec frame");
	lv_error_free(&err);
	ok(noxs_is_exec_msg(NOXS_MSG_EXEC) && noxs_is_exec_msg(NOXS_MSG_EXEC_ERROR) &&
		   !noxs_is_exec_msg(NOXS_MSG_WAITING) && !noxs_is_exec_msg(NOXS_MSG_ROOTFS_END) &&
		   !noxs_is_exec_msg(0x8d),
	   "noxs_is_exec_msg: the exec range only");
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	test_chan_basic();
	test_chan_max();
	test_chan_bad();
	test_send_deadline();
	test_exec_split();
	return tap_done();
}
