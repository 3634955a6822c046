/* The shell-pool protocol between lightvm-poold and its clients (a
 * container's monitor claiming a pre-made VM shell, `lightvm pool ...`).
 *
 * One message per SOCK_SEQPACKET datagram: a 12-byte header {u32 magic
 * "LVPL", u16 version, u16 type, u32 payload length} then the payload, all
 * little endian; file descriptors ride on the same sendmsg() as
 * SCM_RIGHTS.  runtime/POOL.md is the normative description; the unit tests
 * hold this code to it.
 *
 * pool_msg_encode()/pool_msg_decode() are pure and bounded (the decoder
 * trusts no length and accepts exactly what the encoder produces:
 * encode(decode(x)) == x).  pool_send()/pool_recv()/pool_connect() never
 * block without bound and never leak a received descriptor.
 */
#ifndef RT_POOL_PROTO_H
#define RT_POOL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

#define POOL_MAGIC 0x4c50564cu /* bytes 'L' 'V' 'P' 'L' */
#define POOL_PROTO_VERSION 1u
#define POOL_PROTO_MIN_VERSION 1u
#define POOL_HDR_SIZE 12u
#define POOL_PAYLOAD_MAX (64u * 1024u)
#define POOL_BACKEND_MAX 16u  /* [a-z0-9_-], e.g. "kvm", "qemu" */
#define POOL_KERNEL_MAX 128u  /* printable ASCII, no space: a sha256 in hex, a path... */
#define POOL_TEXT_MAX 1024u   /* ERROR message bytes */
#define POOL_MAX_VCPUS 64u    /* RT_MAX_VCPUS */
#define POOL_MAX_FDS 128u     /* per CLAIMED; below the kernel's SCM_MAX_FD (253) */
#define POOL_MAX_POOLS 128u   /* entries in a STATUS_REPLY */
#define POOL_TARGET_MAX 4096u /* FILL target, pool target and cap */
#define POOL_SEND_TIMEOUT_MS 1000 /* pool_send() gives up on a peer that does not read */

enum pool_type {
	/* client -> daemon */
	POOL_MSG_HELLO = 0x01,  /* optional version negotiation */
	POOL_MSG_CLAIM = 0x02,  /* take a shell for this key */
	POOL_MSG_STATUS = 0x03, /* list the pools */
	POOL_MSG_FILL = 0x04,   /* create or resize a pool */
	POOL_MSG_DRAIN = 0x05,  /* destroy one pool's shells, or all */
	/* daemon -> client */
	POOL_MSG_HELLO_OK = 0x81,
	POOL_MSG_CLAIMED = 0x82,     /* the only message that carries fds */
	POOL_MSG_NONE = 0x83,        /* no fitting shell: cold-start */
	POOL_MSG_STATUS_REPLY = 0x84,
	POOL_MSG_OK = 0x85,          /* FILL / DRAIN done */
	POOL_MSG_ERROR = 0xff,
};

/* What each descriptor of a CLAIMED message is.  The vCPU roles are
 * reserved (KVM fds only work in the process that made them: a kvm claim
 * carries a snapshot instead, see runtime/poold_template.h). */
enum pool_fd_role {
	POOL_FD_MEMFD = 0x0001,  /* kvm: the template's RAM, a sealed memfd */
	POOL_FD_SNAPSHOT = 0x0002, /* kvm: the template's state, a sealed memfd (vmm/snapshot.h) */
	POOL_FD_PIDFD = 0x0003,  /* qemu: pidfd of the paused QEMU process */
	POOL_FD_CTL = 0x0004,    /* qemu: its control-channel socket */
	POOL_FD_VCPU0 = 0x0100,
};
#define POOL_FD_VCPU(n) ((uint16_t)(POOL_FD_VCPU0 + (n)))

/* A pool is keyed by what a shell cannot change after it is made. */
struct pool_key {
	char backend[POOL_BACKEND_MAX + 1];
	uint32_t mem_mib; /* >= 1 */
	uint32_t vcpus;   /* 1..POOL_MAX_VCPUS */
	char kernel[POOL_KERNEL_MAX + 1];
};

struct pool_hello {
	uint16_t min_version, max_version; /* 1 <= min <= max */
};

struct pool_hello_ok {
	uint16_t version; /* chosen, within the client's range */
};

struct pool_claim {
	struct pool_key key;
	uint32_t pid; /* the claiming monitor, for the daemon's log and checks */
};

struct pool_claimed {
	uint64_t shell_id; /* non-zero */
	uint16_t nfds;     /* 1..POOL_MAX_FDS, = descriptors on the datagram */
	uint16_t roles[POOL_MAX_FDS]; /* distinct, known roles, in fd order */
};

struct pool_entry {
	struct pool_key key;
	uint32_t ready, target, cap; /* ready, target <= cap <= POOL_TARGET_MAX */
};

struct pool_status_reply {
	uint16_t count; /* <= POOL_MAX_POOLS */
	struct pool_entry pools[POOL_MAX_POOLS];
};

struct pool_fill {
	struct pool_key key;
	uint32_t target; /* <= POOL_TARGET_MAX; 0 empties the pool but keeps it */
};

#define POOL_DRAIN_ALL 1u

struct pool_drain {
	uint32_t flags; /* POOL_DRAIN_ALL: key is all zero (empty strings) */
	struct pool_key key;
};

struct pool_error {
	uint32_t errnum;                   /* positive errno, 1..4095 */
	uint16_t min_version, max_version; /* what the sender speaks */
	char text[POOL_TEXT_MAX + 1];      /* no NUL or control bytes but \t \n */
};

struct pool_msg {
	uint16_t type;    /* enum pool_type */
	uint16_t version; /* decode: the header's; encode: ignored, writes POOL_PROTO_VERSION */
	union {
		struct pool_hello hello;
		struct pool_hello_ok hello_ok;
		struct pool_claim claim;
		struct pool_claimed claimed;
		struct pool_status_reply status;
		struct pool_fill fill;
		struct pool_drain drain;
		struct pool_error error;
	};
};

/* Writes header + payload into buf.  -EINVAL for a message that breaks a
 * rule of POOL.md (the decoder's rules, checked on the way out), -ENOBUFS
 * when cap is too small. */
int pool_msg_encode(const struct pool_msg *m, uint8_t *buf, size_t cap, size_t *len, struct lv_error **err);

/* Parses exactly one message of exactly len bytes.  -EPROTO (message names
 * the field) for anything malformed; -EPROTONOSUPPORT for a version other
 * than POOL_PROTO_VERSION, with out->type and out->version set from the
 * header so that a daemon can answer with an ERROR naming its versions. */
int pool_msg_decode(const uint8_t *buf, size_t len, struct pool_msg *out, struct lv_error **err);

/* Sends one message, with nfds descriptors as SCM_RIGHTS: exactly
 * m->claimed.nfds for CLAIMED, none otherwise.  The fds stay the caller's.
 * Never raises SIGPIPE (-EPIPE instead); waits at most POOL_SEND_TIMEOUT_MS
 * for room (-ETIMEDOUT). */
int pool_send(int sock, const struct pool_msg *m, const int *fds, unsigned nfds, struct lv_error **err);

/* Waits up to timeout_ms (< 0: without limit, for the daemon's own loop)
 * for one message.  Descriptors arrive close-on-exec in fds[0..*nfds) and
 * become the caller's on success only; on any failure, and for any
 * descriptor the message does not call for, they are closed here.
 * -ETIMEDOUT on silence, -ECONNRESET when the peer closed, -EMSGSIZE for
 * an oversized datagram or more fds than max_fds, -EPROTO for a malformed
 * message, fds with a message that carries none, or a truncated control
 * message. */
int pool_recv(int sock, struct pool_msg *out, int *fds, unsigned max_fds, unsigned *nfds, int timeout_ms,
	      struct lv_error **err);

/* Connects a non-blocking, close-on-exec SOCK_SEQPACKET socket to path
 * within timeout_ms.  The caller falls back to a cold start on -ENOENT (no
 * daemon socket) and -ECONNREFUSED (stale socket, daemon dead); -ETIMEDOUT
 * when the daemon's backlog stays full. */
int pool_connect(const char *path, int timeout_ms, struct lv_error **err);

const char *pool_type_name(uint16_t type);

#endif
