/* Unit tests for the shim's protobuf and ttrpc codec and its task service
 * messages (TAP): round trips, unknown fields skipped, every bound.
 *
 * `test_shim_codec --write-seeds DIR` writes whole ttrpc request frames
 * (the fuzzer's seeds) to DIR instead of running the tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shim/msg.h"
#include "../../shim/ttrpc.h"
#include "tap.h"
#include "testutil.h"

static int decode_err(enum shim_method m, const struct pb_buf *b, const char *want)
{
	struct lv_error *err = NULL;
	struct shim_req req;
	int r = shim_req_decode(m, b->data, b->len, &req, &err);
	int ok_ = r == -EPROTO && err && err->msg && strstr(err->msg, want);

	if (!ok_)
		printf("#   r=%d msg=%s\n", r, err && err->msg ? err->msg : "(none)");
	lv_error_free(&err);
	return ok_;
}

static void test_varint(void)
{
	struct pb_buf b = { 0 };
	struct pb_reader r;
	struct pb_field f;
	struct lv_error *err = NULL;
	static const uint8_t too_long[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t overflow[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
	static const uint8_t truncated[] = { 0x08, 0x80 };
	static const uint8_t group[] = { 0x0b };
	static const uint8_t field0[] = { 0x00, 0x01 };
	static const uint8_t long_len[] = { 0x0a, 0x05, 'a', 'b' };
	static const uint8_t fixed[] = { 0x0d, 1, 2, 3, 4, 0x11, 1, 0, 0, 0, 0, 0, 0, 0x80 };

	pb_put_varint(&b, 1, UINT64_MAX);
	pb_put_varint(&b, 2, 0); /* default: left out */
	pb_put_varint(&b, 3, 300);
	ok(b.len == 1 + 10 + 1 + 2, "varints encode in 10 and 2 bytes, zero left out (%zu bytes)", b.len);
	pb_reader_init(&r, b.data, b.len);
	ok(pb_next(&r, &f, &err) == 1 && f.num == 1 && f.wire == PB_VARINT && f.v == UINT64_MAX,
	   "UINT64_MAX decodes back");
	ok(pb_next(&r, &f, &err) == 1 && f.num == 3 && f.v == 300, "300 decodes back");
	ok(pb_next(&r, &f, &err) == 0, "end of message");
	pb_buf_free(&b);

	pb_reader_init(&r, fixed, sizeof(fixed));
	ok(pb_next(&r, &f, &err) == 1 && f.wire == PB_FIXED32 && f.v == 0x04030201, "fixed32 is little-endian");
	ok(pb_next(&r, &f, &err) == 1 && f.wire == PB_FIXED64 && f.v == 0x8000000000000001ull, "fixed64 too");

#define REJECT(data, want, what)                                                                             \
	do {                                                                                                 \
		pb_reader_init(&r, data, sizeof(data));                                                      \
		int rc_ = pb_next(&r, &f, &err);                                                             \
		ok(rc_ == -EPROTO && err && strstr(err->msg, want), what);                                   \
		if (err)                                                                                     \
			printf("#   %s\n", err->msg);                                                    \
		lv_error_free(&err);                                                                         \
	} while (0)
	REJECT(too_long, "overflows", "an 11-byte varint is refused");
	REJECT(overflow, "overflows", "a varint over 64 bits is refused");
	REJECT(truncated, "past the end", "a truncated varint is refused");
	REJECT(group, "wire type 3", "groups are refused");
	REJECT(field0, "field number 0", "field number 0 is refused");
	REJECT(long_len, "exceeds the 2 bytes left", "a length past the end is refused");
}

static void test_ttrpc(void)
{
	struct ttrpc_request req = { .service = (char *)SHIM_SERVICE, .method = (char *)"State",
				     .payload = (const uint8_t *)"\x0a\x01x", .payload_len = 3,
				     .timeout_nano = 5000000000 };
	struct ttrpc_request got;
	struct ttrpc_hdr h = { .len = 0x01020304, .stream = 0x0a0b0c0d, .type = TTRPC_REQUEST, .flags = 0 }, h2;
	struct lv_error *err = NULL;
	struct pb_buf b = { 0 }, frame = { 0 }, payload = { 0 };
	uint8_t hdr[TTRPC_HDR_SIZE];
	const uint8_t *p;
	size_t plen;
	int32_t code;
	char *msg;

	ttrpc_hdr_encode(&h, hdr);
	ok(memcmp(hdr, "\x01\x02\x03\x04\x0a\x0b\x0c\x0d\x01\x00", 10) == 0, "header is big-endian len, stream, type, flags");
	ok(ttrpc_hdr_decode(hdr, &h2, &err) == -EPROTO && err && strstr(err->msg, "exceeds the maximum"),
	   "a 16 MiB length is refused");
	lv_error_free(&err);
	h.len = 100;
	ttrpc_hdr_encode(&h, hdr);
	ok(ttrpc_hdr_decode(hdr, &h2, &err) == 0 && h2.len == 100 && h2.stream == h.stream && h2.type == 1,
	   "header decodes back");

	ok(ttrpc_request_encode(&req, &b, &err) == 0, "request encodes");
	pb_put_str(&b, 99, "unknown field");
	pb_put_bytes(&b, 5, "\x0a\x01k\x12\x01v", 6); /* metadata k=v */
	ok(ttrpc_request_decode(b.data, b.len, &got, &err) == 0 && strcmp(got.service, SHIM_SERVICE) == 0 &&
		   strcmp(got.method, "State") == 0 && got.payload_len == 3 && got.timeout_nano == 5000000000 &&
		   got.nmetadata == 1,
	   "request decodes back, unknown field skipped, metadata counted");
	ttrpc_request_free(&got);
	pb_buf_free(&b);

	pb_put_str(&b, 1, SHIM_SERVICE);
	ok(ttrpc_request_decode(b.data, b.len, &got, &err) == -EPROTO && strstr(err->msg, "no method"),
	   "a request without a method is refused");
	lv_error_free(&err);
	for (int i = 0; i <= TTRPC_METADATA_MAX; i++)
		pb_put_bytes(&b, 5, "\x0a\x01k", 3);
	pb_put_str(&b, 2, "State");
	ok(ttrpc_request_decode(b.data, b.len, &got, &err) == -EPROTO && strstr(err->msg, "metadata"),
	   "more than %d metadata entries are refused", TTRPC_METADATA_MAX);
	lv_error_free(&err);
	pb_buf_free(&b);

	pb_put_varint(&payload, 1, 42);
	ok(ttrpc_response_frame(7, TTRPC_OK, NULL, &payload, &frame, &err) == 0, "response frame builds");
	ok(ttrpc_hdr_decode(frame.data, &h2, &err) == 0 && h2.stream == 7 && h2.type == TTRPC_RESPONSE &&
		   h2.len == frame.len - TTRPC_HDR_SIZE,
	   "its header names stream 7, type response, the body's length");
	ok(ttrpc_response_decode(frame.data + 10, frame.len - 10, &code, &msg, &p, &plen, &err) == 0 && code == 0 &&
		   !msg && plen == 2 && p[1] == 42,
	   "OK response carries the payload");
	pb_buf_free(&frame);
	ok(ttrpc_response_frame(8, TTRPC_NOT_FOUND, "container x: not found", &payload, &frame, &err) == 0 &&
		   ttrpc_response_decode(frame.data + 10, frame.len - 10, &code, &msg, &p, &plen, &err) == 0 &&
		   code == 5 && msg && strcmp(msg, "container x: not found") == 0 && plen == 0,
	   "error response carries code 5 and the message, no payload");
	free(msg);
	pb_buf_free(&frame);
	pb_buf_free(&payload);
	ok(ttrpc_code_from_errno(-ESRCH) == TTRPC_NOT_FOUND && ttrpc_code_from_errno(-EOPNOTSUPP) == TTRPC_UNIMPLEMENTED &&
		   ttrpc_code_from_errno(-EIO) == TTRPC_UNKNOWN,
	   "errno maps to google.rpc codes");
}

static void put_mount(struct pb_buf *b, const char *type, int noptions)
{
	struct pb_buf m = { 0 };

	pb_put_str(&m, 1, type);
	pb_put_str(&m, 2, "overlay");
	for (int i = 0; i < noptions; i++)
		pb_put_str(&m, 4, i == 0 ? "lowerdir=/a:/b" : "index=off");
	pb_put_str(&m, 7, "unknown");
	pb_put_msg(b, 3, &m);
	pb_buf_free(&m);
}

static void build_create(struct pb_buf *b)
{
	pb_put_str(b, 1, "ctr1");
	pb_put_str(b, 2, "/run/b/ctr1");
	put_mount(b, "overlay", 2);
	pb_put_varint(b, 4, 0);
	pb_put_str(b, 5, "/run/fifo/in");
	pb_put_str(b, 6, "/run/fifo/out");
	pb_put_str(b, 7, "/run/fifo/err");
	pb_put_bytes(b, 10, "\x0a\x03url", 5); /* options (an Any): skipped */
}

static void test_requests(void)
{
	struct pb_buf b = { 0 };
	struct lv_error *err = NULL;
	struct shim_req req;
	enum shim_method m;
	char big[SHIM_ID_MAX + 2];

	ok(shim_method_lookup("Create", &m) == 0 && m == SHIM_CREATE && shim_method_lookup("Shutdown", &m) == 0 &&
		   m == SHIM_SHUTDOWN && shim_method_lookup("Exec2", &m) == -ENOENT,
	   "methods are looked up by name");

	build_create(&b);
	ok(shim_req_decode(SHIM_CREATE, b.data, b.len, &req, &err) == 0, "CreateTaskRequest decodes");
	is_str(req.id, "ctr1", "id");
	is_str(req.bundle, "/run/b/ctr1", "bundle");
	is_str(req.stdout_path, "/run/fifo/out", "stdout");
	ok(req.nrootfs == 1 && strcmp(req.rootfs[0].type, "overlay") == 0 && req.rootfs[0].noptions == 2 &&
		   strcmp(req.rootfs[0].options[0], "lowerdir=/a:/b") == 0 && !req.terminal,
	   "rootfs mount with its options, terminal false");
	shim_req_free(&req);
	pb_buf_free(&b);

	for (int i = 0; i <= SHIM_MOUNTS_MAX; i++)
		put_mount(&b, "overlay", 1);
	ok(decode_err(SHIM_CREATE, &b, "more than 16 mounts"), "more than %d mounts are refused", SHIM_MOUNTS_MAX);
	pb_buf_free(&b);
	put_mount(&b, "overlay", SHIM_OPTIONS_MAX + 1);
	ok(decode_err(SHIM_CREATE, &b, "options: more than"), "more than %d options are refused", SHIM_OPTIONS_MAX);
	pb_buf_free(&b);

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	pb_put_str(&b, 1, big);
	ok(decode_err(SHIM_STATE, &b, "id: 257 bytes, at most 256"), "an id over %d bytes is refused", SHIM_ID_MAX);
	pb_buf_free(&b);
	pb_put_bytes(&b, 1, "a\0b", 3);
	ok(decode_err(SHIM_STATE, &b, "NUL"), "an id with a NUL byte is refused");
	pb_buf_free(&b);
	pb_put_varint(&b, 1, 5);
	ok(decode_err(SHIM_STATE, &b, "StateRequest: protobuf: id (field 1): wire type 0, expected 2"),
	   "a wrong wire type is refused, naming the message and field");
	pb_buf_free(&b);
	pb_put_str(&b, 1, "c");
	pb_put_varint(&b, 3, (uint64_t)UINT32_MAX + 1);
	ok(decode_err(SHIM_KILL, &b, "signal: 4294967296 does not fit"), "a signal over 32 bits is refused");
	pb_buf_free(&b);

	pb_put_str(&b, 1, "c");
	pb_put_str(&b, 2, "e1");
	pb_put_varint(&b, 3, 15);
	pb_put_varint(&b, 4, 1);
	ok(shim_req_decode(SHIM_KILL, b.data, b.len, &req, &err) == 0 && strcmp(req.exec_id, "e1") == 0 &&
		   req.signal == 15 && req.all,
	   "KillRequest: exec_id, signal, all");
	shim_req_free(&req);
	pb_buf_free(&b);

	{
		struct pb_buf any = { 0 }, v = { 0 };

		pb_put_raw(&v, "{\"args\":[\"true\"]}", 17);
		pb_put_any(&any, "types.containerd.io/opencontainers/runtime-spec/1/Process", &v);
		pb_put_str(&b, 1, "c");
		pb_put_str(&b, 2, "e1");
		pb_put_msg(&b, 7, &any);
		ok(shim_req_decode(SHIM_EXEC, b.data, b.len, &req, &err) == 0 && req.spec &&
			   strcmp(req.spec, "{\"args\":[\"true\"]}") == 0 &&
			   strstr(req.spec_type_url, "runtime-spec/1/Process"),
		   "ExecProcessRequest: the process spec out of its Any");
		shim_req_free(&req);
		pb_buf_free(&any);
		pb_buf_free(&v);
		pb_buf_free(&b);
	}
}

static void test_responses(void)
{
	struct pb_buf b = { 0 };
	struct pb_reader r;
	struct pb_field f;
	struct lv_error *err = NULL;
	const char *topic = NULL;
	int n = 0, seen = 0;

	shim_enc_exit(&b, SHIM_WAIT, 10, 137, (struct shim_time){ 1700000000, 5 });
	pb_reader_init(&r, b.data, b.len);
	ok(pb_next(&r, &f, &err) == 1 && f.num == 1 && f.v == 137 && pb_next(&r, &f, &err) == 1 && f.num == 2 &&
		   f.wire == PB_LEN,
	   "WaitResponse {exit_status = 1, exited_at = 2}");
	pb_buf_free(&b);

	shim_enc_event(&b, &(struct shim_event){ .kind = SHIM_EV_EXIT, .container_id = "c", .exec_id = "", .pid = 9,
						  .exit_status = 42 },
		       &topic);
	is_str(topic, "/tasks/exit", "TaskExit's topic");
	pb_reader_init(&r, b.data, b.len);
	while (pb_next(&r, &f, &err) == 1) {
		if (f.num == 1 && f.len == 26 && memcmp(f.data, "containerd.events.TaskExit", 26) == 0)
			seen |= 1;
		if (f.num == 2) {
			struct pb_reader vr;
			struct pb_field vf;

			pb_reader_init(&vr, f.data, f.len);
			while (pb_next(&vr, &vf, &err) == 1) {
				n++;
				if (vf.num == 2 && vf.len == 1 && vf.data[0] == 'c')
					seen |= 2; /* the init's id is the container's */
				if (vf.num == 4 && vf.v == 42)
					seen |= 4;
			}
		}
	}
	ok(seen == 7 && n == 5, "TaskExit in an Any: type_url, id = container id, exit_status (%d fields)", n);
	pb_buf_free(&b);

	shim_enc_pids(&b, (const uint32_t[]){ 100, 200 }, 2);
	ok(b.len == (2 + 2) + (2 + 3), "PidsResponse: two ProcessInfo {pid}");
	pb_buf_free(&b);
}

static int write_seeds(const char *dir)
{
	static const struct {
		const char *name, *method;
		enum shim_method m;
	} seeds[] = { { "create", "Create", SHIM_CREATE }, { "kill", "Kill", SHIM_KILL }, { "exec", "Exec", SHIM_EXEC } };
	int rc = 0;

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct pb_buf payload = { 0 }, body = { 0 }, frame = { 0 };
		struct ttrpc_request req = { .service = (char *)SHIM_SERVICE, .method = (char *)seeds[i].method };
		struct ttrpc_hdr h = { .stream = 1, .type = TTRPC_REQUEST };
		uint8_t hdr[TTRPC_HDR_SIZE];
		struct lv_error *err = NULL;

		if (seeds[i].m == SHIM_CREATE) {
			build_create(&payload);
		} else {
			pb_put_str(&payload, 1, "ctr1");
			pb_put_str(&payload, 2, "exec1");
			pb_put_varint(&payload, 3, 15);
			if (seeds[i].m == SHIM_EXEC)
				pb_put_bytes(&payload, 7, "\x0a\x01t\x12\x02{}", 7);
		}
		req.payload = payload.data;
		req.payload_len = payload.len;
		ttrpc_request_encode(&req, &body, &err);
		h.len = (uint32_t)body.len;
		ttrpc_hdr_encode(&h, hdr);
		pb_put_raw(&frame, hdr, sizeof(hdr));
		pb_put_raw(&frame, body.data, body.len);
		if (write_seed_file(dir, seeds[i].name, frame.data, frame.len) < 0)
			rc = 1;
		pb_buf_free(&payload);
		pb_buf_free(&body);
		pb_buf_free(&frame);
	}
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	test_varint();
	test_ttrpc();
	test_requests();
	test_responses();
	return tap_done();
}
