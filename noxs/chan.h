/* The noxs control channel: length-prefixed frames over a byte stream (a
 * virtio-serial port today, a shared ring later) between the host monitor
 * and the guest init.  Both sides use this code; both treat the peer's
 * frames as untrusted (type and length bounded before use).
 *
 * Frame: u16 type, u16 reserved (0), u32 payload length, then the payload;
 * all little endian.
 */
#ifndef NOXS_CHAN_H
#define NOXS_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

#define NOXS_FRAME_HDR 8u
#define NOXS_FRAME_MAX (NOXS_PAGE_MAX_FRAME) /* payload bytes */
#define NOXS_PAGE_MAX_FRAME (256u * 1024u)
#define NOXS_IO_CHUNK 16384u  /* stdio payloads are at most this */

enum noxs_msg {
	/* host -> guest */
	NOXS_MSG_PAGE = 1,      /* payload: the encoded device page */
	NOXS_MSG_START = 2,     /* run the process (empty) */
	NOXS_MSG_STDIN = 3,     /* bytes for the process's stdin / pty */
	NOXS_MSG_STDIN_EOF = 4, /* close the process's stdin (empty) */
	NOXS_MSG_SIGNAL = 5,    /* u32 signo, u32 flags (NOXS_SIGNAL_ALL) */
	NOXS_MSG_WINSIZE = 6,   /* u16 rows, u16 cols */
	NOXS_MSG_ROOTFS = 7,    /* a chunk of the root file system: newc cpio, uncompressed */
	NOXS_MSG_ROOTFS_END = 8,/* the archive is complete (empty); PAGE follows */
	/* Exec sessions (lightvm exec): every payload starts with a u32
	 * session id the host chose; see noxs_exec_split() for the bounds. */
	NOXS_MSG_EXEC = 9,          /* id, then a device page holding only the process */
	NOXS_MSG_EXEC_STDIN = 10,   /* id, bytes */
	NOXS_MSG_EXEC_STDIN_EOF = 11,/* id */
	NOXS_MSG_EXEC_SIGNAL = 12,  /* id, u32 signo */
	NOXS_MSG_EXEC_WINSIZE = 13, /* id, u16 rows, u16 cols */
	/* guest -> host */
	NOXS_MSG_READY = 0x81,  /* page applied, waiting for START (empty) */
	NOXS_MSG_STDOUT = 0x82, /* bytes from stdout (or the pty) */
	NOXS_MSG_STDERR = 0x83, /* bytes from stderr */
	NOXS_MSG_EXIT = 0x84,   /* i32 wait status as from waitpid() */
	NOXS_MSG_ERROR = 0x85,  /* UTF-8 message: setup or exec failed; EXIT follows */
	NOXS_MSG_STARTED = 0x86,/* u32 guest pid of the process */
	NOXS_MSG_WAITING = 0x87,/* booted, the port is open: waiting for ROOTFS or PAGE (empty) */
	NOXS_MSG_EXEC_STARTED = 0x88,/* id, u32 guest pid */
	NOXS_MSG_EXEC_STDOUT = 0x89, /* id, bytes */
	NOXS_MSG_EXEC_STDERR = 0x8a, /* id, bytes */
	NOXS_MSG_EXEC_EXIT = 0x8b,   /* id, i32 wait status; the session is over */
	NOXS_MSG_EXEC_ERROR = 0x8c   /* id, UTF-8 message; EXEC_EXIT follows */
};

/* At most this many exec sessions at once, on either side. */
#define NOXS_EXEC_MAX_SESSIONS 16u
/* The exec'd process's page: only the process (no mounts, files, host
 * section), so much smaller than a container's. */
#define NOXS_EXEC_PAGE_MAX (64u * 1024u)
#define NOXS_EXEC_ERROR_MAX 1024u
#define NOXS_EXEC_ID_SIZE 4u
/* The largest exec frame payload (EXEC: id + page). */
#define NOXS_EXEC_FRAME_MAX (NOXS_EXEC_ID_SIZE + NOXS_EXEC_PAGE_MAX)

static inline int noxs_is_exec_msg(uint16_t type)
{
	return (type >= NOXS_MSG_EXEC && type <= NOXS_MSG_EXEC_WINSIZE) ||
	       (type >= NOXS_MSG_EXEC_STARTED && type <= NOXS_MSG_EXEC_ERROR);
}

/* Splits an exec frame's payload into its session id and body, checking the
 * body's size for the type: fixed sizes exactly (STDIN_EOF 0, SIGNAL 4,
 * WINSIZE 4, STARTED 4, EXIT 4), stdio at most NOXS_IO_CHUNK, ERROR at most
 * NOXS_EXEC_ERROR_MAX, EXEC at most NOXS_EXEC_PAGE_MAX and not empty.
 * -EPROTO with a message naming the frame otherwise (also for a type that is
 * not an exec frame).  The peer's frames are untrusted: both sides call it
 * before using a payload. */
int noxs_exec_split(uint16_t type, const uint8_t *payload, uint32_t len, uint32_t *id, const uint8_t **body,
		    uint32_t *body_len, struct lv_error **err);

#define NOXS_SIGNAL_ALL 1u

/* Incremental frame reader over a buffer the caller fills. */
struct noxs_rx {
	uint8_t *buf;
	size_t cap;  /* NOXS_FRAME_HDR + NOXS_FRAME_MAX */
	size_t len;  /* bytes buffered */
	size_t off;  /* start of unconsumed data */
};

int noxs_rx_init(struct noxs_rx *rx, struct lv_error **err);
void noxs_rx_free(struct noxs_rx *rx);

/* Reads once from fd into the buffer.  Returns bytes read (>0), 0 on EOF,
 * -EAGAIN when a non-blocking fd has nothing, other negatives on error. */
int noxs_rx_fill(struct noxs_rx *rx, int fd, struct lv_error **err);

/* Copies up to len bytes from memory into the buffer, as noxs_rx_fill() does
 * from an fd: for transports that are not fds (a shared ring) and for tests
 * and fuzzing.  Returns the bytes taken (possibly fewer than len when the
 * buffer is full: take frames with noxs_rx_next() and push the rest), or
 * -ENOBUFS when nothing fits. */
int noxs_rx_push(struct noxs_rx *rx, const void *data, size_t len, struct lv_error **err);

/* Takes the next complete frame, if any: returns 1 and sets type, payload,
 * len (payload valid until the next fill/next call); 0 when more bytes are
 * needed; -EPROTO (with a message) on a frame whose length exceeds
 * NOXS_FRAME_MAX or whose reserved field is not 0. */
int noxs_rx_next(struct noxs_rx *rx, uint16_t *type, const uint8_t **payload, uint32_t *len, struct lv_error **err);

/* Writes one whole frame to a blocking or non-blocking fd (loops over short
 * writes and EINTR; polls on EAGAIN). */
int noxs_send(int fd, uint16_t type, const void *payload, uint32_t len, struct lv_error **err);
/* The same, giving up with -ETIMEDOUT when the peer has not taken the frame
 * by deadline (CLOCK_MONOTONIC, ms; 0: never).  On a socket it never blocks
 * in the write itself; on a character device a blocking write may still. */
int noxs_send_until(int fd, uint16_t type, const void *payload, uint32_t len, uint64_t deadline,
		    struct lv_error **err);

/* Little-endian helpers for fixed payloads. */
static inline void noxs_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t noxs_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void noxs_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
}
static inline uint16_t noxs_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

#endif
