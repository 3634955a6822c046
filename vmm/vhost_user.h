/* A vhost-user frontend (qemu docs/interop/vhost-user.rst): the VMM side
 * of the protocol that hands a device's virtqueues to a backend process
 * (virtiofsd) over a unix stream socket.  The backend maps guest RAM from
 * the memfd we send and serves the rings itself; kicks and interrupts
 * travel over eventfds we pass along.
 *
 * The backend is as untrusted as the guest: every reply is read with a
 * deadline, must be exactly the reply we asked for (request, version and
 * REPLY flags, a payload of exactly the expected size), carry no file
 * descriptors (any that arrive are closed and the reply refused), and a
 * GET_VRING_BASE reply must name the ring we asked about.  A failed or
 * malformed exchange leaves the connection unusable (`dead`): later calls
 * fail at once instead of reading the rest of a stream we lost track of.
 *
 * What we negotiate: the backend's VERSION_1 is required;
 * VHOST_USER_F_PROTOCOL_FEATURES when offered (then rings start disabled
 * and get SET_VRING_ENABLE), and of the protocol features only REPLY_ACK
 * (then every message without a reply of its own asks for an ack and a
 * nonzero ack is an error).  No logging, no MQ, no backend-initiated
 * requests, no inflight tracking. */
#ifndef VMM_VHOST_USER_H
#define VMM_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"
#include "memory.h"

enum vmm_vu_request {
	VMM_VU_GET_FEATURES = 1,
	VMM_VU_SET_FEATURES = 2,
	VMM_VU_SET_OWNER = 3,
	VMM_VU_SET_MEM_TABLE = 5,
	VMM_VU_SET_VRING_NUM = 8,
	VMM_VU_SET_VRING_ADDR = 9,
	VMM_VU_SET_VRING_BASE = 10,
	VMM_VU_GET_VRING_BASE = 11,
	VMM_VU_SET_VRING_KICK = 12,
	VMM_VU_SET_VRING_CALL = 13,
	VMM_VU_GET_PROTOCOL_FEATURES = 15,
	VMM_VU_SET_PROTOCOL_FEATURES = 16,
	VMM_VU_SET_VRING_ENABLE = 18,
};

#define VMM_VU_HDR_SIZE          12U      /* le32 request, le32 flags, le32 size */
#define VMM_VU_VERSION           0x1U     /* flags bits 0-1 */
#define VMM_VU_FLAG_REPLY        0x4U
#define VMM_VU_FLAG_NEED_REPLY   0x8U
/* Every reply we accept carries 8 bytes: a u64 or a vring state. */
#define VMM_VU_REPLY_PAYLOAD     8U
#define VMM_VU_F_PROTOCOL_FEATURES 30     /* virtio feature bit */
#define VMM_VU_PROTOCOL_F_REPLY_ACK 3     /* protocol feature bit */
#define VMM_VU_MAX_QUEUES        8U       /* ring indexes we ever name */
#define VMM_VU_TIMEOUT_MS        10000

struct vmm_vhost_user {
	int fd;                      /* connected SOCK_STREAM, owned */
	int timeout_ms;              /* per reply */
	uint64_t backend_features;   /* GET_FEATURES */
	uint64_t protocol_features;  /* what we set (a subset of the backend's) */
	bool has_protocol_features;  /* VHOST_USER_F_PROTOCOL_FEATURES negotiated */
	bool reply_ack;
	bool dead;
	char name[40];               /* for messages: "virtio-fs lvfs0" */
};

/* A decoded reply (vmm_vu_decode_reply()). */
struct vmm_vu_reply {
	uint32_t request;
	uint64_t u64;       /* the payload as a u64 */
	uint32_t index;     /* and as a vring state: index, num */
	uint32_t num;
};

/* The parser (fuzzed: fuzz_vhost_user): buf holds len bytes received as
 * one reply to `request`.  Checks the header (request, version, REPLY set,
 * no other flag but NEED_REPLY's echo), the size field against len and
 * against the 8 bytes every reply we ask for has.  Pure: no I/O. */
int vmm_vu_decode_reply(const uint8_t *buf, size_t len, uint32_t request, struct vmm_vu_reply *out,
			struct lv_error **err);

/* Takes fd (a connected stream socket; closed on failure too) and runs the
 * handshake: GET_FEATURES (VERSION_1 required), GET/SET_PROTOCOL_FEATURES
 * when offered, SET_OWNER.  Blocking, each reply within timeout_ms. */
int vmm_vu_init(struct vmm_vhost_user *vu, int fd, const char *name, int timeout_ms, struct lv_error **err);
void vmm_vu_fini(struct vmm_vhost_user *vu);

/* SET_FEATURES: the driver's virtio features (plus PROTOCOL_FEATURES when
 * negotiated); bits the backend did not offer are refused. */
int vmm_vu_set_features(struct vmm_vhost_user *vu, uint64_t features, struct lv_error **err);
/* SET_MEM_TABLE: every RAM region of mem, the memfd once per region; the
 * user addresses are our mapping's, as SET_VRING_ADDR's are. */
int vmm_vu_set_mem_table(struct vmm_vhost_user *vu, const struct vmm_memory *mem, struct lv_error **err);

struct vmm_vu_vring {
	uint32_t index;
	uint32_t size;
	uint64_t desc, avail, used;  /* host addresses inside a region of the table */
	int kick_fd, call_fd;        /* eventfds, stay ours */
};
/* SET_VRING_NUM, SET_VRING_BASE 0, SET_VRING_ADDR, SET_VRING_CALL,
 * SET_VRING_KICK (the backend starts the ring), and SET_VRING_ENABLE 1
 * when PROTOCOL_FEATURES was negotiated. */
int vmm_vu_start_vring(struct vmm_vhost_user *vu, const struct vmm_vu_vring *r, struct lv_error **err);
/* GET_VRING_BASE: stops the ring; *base is where the backend was. */
int vmm_vu_stop_vring(struct vmm_vhost_user *vu, uint32_t index, uint32_t *base, struct lv_error **err);

#endif
