/* libFuzzer target for the vhost-user frontend's reply parsing: the
 * decoder alone (first byte: the request the rest answers), then the whole
 * frontend reading the rest as a backend's replies from a socket (framing,
 * payload sizes, acks, the GET_VRING_BASE ring check): whatever the
 * bytes, every call returns 0 or a negative errno with a message, and a
 * decoded reply is exactly the 20 bytes it came from.
 * Replay a file: fuzz_vhost_user FILE... */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../vmm/vhost_user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int r, struct lv_error **err)
{
	if (r < 0 && (!*err || !(*err)->msg))
		abort();
	if (r == 0 && *err)
		abort();
	lv_error_free(err);
}

static void decoder(const uint8_t *data, size_t size)
{
	struct lv_error *err = NULL;
	struct vmm_vu_reply rep;
	int r;

	if (size < 1)
		return;
	r = vmm_vu_decode_reply(data + 1, size - 1, data[0], &rep, &err);
	if (r < 0 && r != -EPROTO)
		abort();
	if (r == 0 && (size - 1 != VMM_VU_HDR_SIZE + VMM_VU_REPLY_PAYLOAD || rep.request != data[0] ||
		       memcmp(&rep.u64, data + 1 + VMM_VU_HDR_SIZE, 8) != 0))
		abort();
	check(r, &err);
}

/* The input as everything the backend ever says, then EOF. */
static void frontend(const uint8_t *data, size_t size)
{
	struct lv_error *err = NULL;
	struct vmm_vhost_user vu;
	uint32_t base;
	int sv[2], r;

	if (size > 4096 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	if (write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	shutdown(sv[1], SHUT_WR);
	r = vmm_vu_init(&vu, sv[0], "fuzz", 50, &err);  /* takes sv[0] */
	check(r, &err);
	if (r == 0) {
		check(vmm_vu_set_features(&vu, 1ULL << 32, &err), &err);
		check(vmm_vu_stop_vring(&vu, 1, &base, &err), &err);
		check(vmm_vu_stop_vring(&vu, 0, &base, &err), &err);
		vmm_vu_fini(&vu);
	}
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decoder(data, size);
	if (size > 0)
		frontend(data + 1, size - 1);
	return 0;
}
