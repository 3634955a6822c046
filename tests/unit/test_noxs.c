/* Unit tests for the noxs device page (TAP); the control channel's are in
 * test_noxs_chan.c.
 *
 * `test_noxs --write-seeds DIR` writes fuzzing seeds to DIR/page instead of
 * running the tests. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/cleanup.h"
#include "../../noxs/chan.h"
#include "../../noxs/page.h"
#include "noxs_equal.h"
#include "tap.h"
#include "testutil.h"

/* Byte layout from noxs/README.md, which these tests hold the code to. */
#define HDR_SIZE 128
#define H_MAJOR 4
#define H_MINOR 6
#define H_TOTAL 12
#define H_FLAGS 16
#define H_CWD 36
#define H_SECT_COUNT 48
#define DESC(i) (HDR_SIZE + 16 * (i)) /* descriptor i (section id i + 1; S_HOST: id 12) */
#define D_ID 0
#define D_FLAGS 2
#define D_OFF 4
#define D_COUNT 8
#define D_SIZE 12
enum { S_STRINGS, S_ARGS, S_ENV, S_GIDS, S_RLIMITS, S_MOUNTS, S_SYSCTLS, S_FILES, S_DATA, S_HOST };
#define HOST_ID 12
#define HOST_REC 40 /* u64 realtime, 32-byte seed */

static const char *args[] = { "/bin/sh", "-c", "echo hello", NULL };
static const char *env[] = { "PATH=/usr/bin:/bin", "TERM=xterm", "HOME=/root", "LANG=C.UTF-8", NULL };
static uint32_t gids[] = { 10, 20, 4294967294u };
static struct noxs_rlimit rlimits[] = { { 7, 1024, 4096 }, { 3, UINT64_MAX, UINT64_MAX } };
static struct noxs_mount mounts[] = {
	{ "/proc", "proc", "proc", 0xe, "" },
	{ "/dev/pts", "devpts", "devpts", 0xa, "newinstance,ptmxmode=0666,mode=0620" },
	{ "/tmp", "tmpfs", "", 1ull << 40, "size=64k" },
};
static struct noxs_sysctl sysctls[] = { { "net.ipv4.ip_forward", "1" }, { "kernel.domainname", "" } };
static const uint8_t bin[] = { 0, 1, 2, 0, 0xff, 0, 'x', 0 };
static const uint8_t hosts[] = "127.0.0.1 localhost\n";
static struct noxs_file files[] = {
	{ "/etc/hosts", 0644, 0, 0, hosts, sizeof(hosts) - 1 },
	{ "/bin.dat", 0600, 1000, 1001, bin, sizeof(bin) },
	{ "/etc/empty", 0400, 0, 0, NULL, 0 },
};

static struct noxs_proc full_proc(void)
{
	struct noxs_proc p = {
		.flags = NOXS_F_TERMINAL | NOXS_F_NO_NEW_PRIVS | NOXS_F_HAS_CAPS | NOXS_F_HAS_UMASK,
		.uid = 1000, .gid = 1001, .umask = 022, .rows = 24, .cols = 80,
		.caps = { 1, 2, 3, 0xffffffffffull, 1ull << 63 },
		.cwd = "/work", .hostname = "box",
		.args = args, .nargs = 3, .env = env, .nenv = 4,
		.gids = gids, .ngids = 3, .rlimits = rlimits, .nrlimits = 2,
		.mounts = mounts, .nmounts = 3, .sysctls = sysctls, .nsysctls = 2,
		.files = files, .nfiles = 3,
	};
	return p;
}

/* The full proc with a host section (version 1.1). */
static struct noxs_proc host_proc(void)
{
	struct noxs_proc p = full_proc();

	p.has_host = true;
	p.realtime_ns = 1795339527123456789ull;
	for (uint32_t i = 0; i < NOXS_SEED_SIZE; i++)
		p.seed[i] = (uint8_t)(0xa0 + i);
	return p;
}

/* noxs_proc_equal predates the host section. */
static int host_equal(const struct noxs_proc *a, const struct noxs_proc *b)
{
	return a->has_host == b->has_host && a->realtime_ns == b->realtime_ns &&
	       memcmp(a->seed, b->seed, NOXS_SEED_SIZE) == 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}


static uint32_t rd32(const uint8_t *b, size_t off)
{
	return noxs_get_u32(b + off);
}

static void wr32(uint8_t *b, size_t off, uint32_t v)
{
	noxs_put_u32(b + off, v);
}

/* Decodes a copy of buf in an exact-size allocation, so ASan catches any
 * read past the end; returns the decode result and leaves the message. */
static int decode_copy(const uint8_t *buf, size_t len, char *msg, size_t msgsize)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct noxs_proc p;
	struct lv_error *err = NULL;
	int r;

	memcpy(copy, buf, len);
	r = noxs_page_decode(copy, len, &p, &err);
	if (msg)
		snprintf(msg, msgsize, "%s", err && err->msg ? err->msg : "");
	if (r == 0)
		noxs_proc_free(&p);
	lv_error_free(&err);
	free(copy);
	return r;
}

static int encode_full(uint8_t **buf, size_t *len)
{
	struct noxs_proc p = full_proc();
	struct lv_error *err = NULL;
	int r = noxs_page_encode(&p, buf, len, &err);

	lv_error_free(&err);
	return r;
}

static void test_roundtrip(void)
{
	struct noxs_proc in = full_proc(), out;
	struct lv_error *err = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = noxs_page_encode(&in, &buf, &len, &err);
	ok(r == 0 && buf && len > HDR_SIZE && len <= NOXS_PAGE_MAX, "encode a full proc (%zu bytes)", len);
	ok(rd32(buf, 0) == NOXS_PAGE_MAGIC && rd32(buf, H_TOTAL) == len, "magic and total size in the header");
	r = noxs_page_decode(buf, len, &out, &err);
	ok(r == 0, "decode it back: %s", err ? err->msg : "ok");
	ok(noxs_proc_equal(&in, &out), "every field survives the round trip");
	ok(out.args[3] == NULL && out.env[4] == NULL, "args and env are NULL-terminated");
	ok(out.files[1].len == sizeof(bin) && memcmp(out.files[1].data, bin, sizeof(bin)) == 0,
	   "binary file data with NULs intact");
	ok(out.files[2].len == 0, "empty file");
	ok(out.rlimits[1].soft == UINT64_MAX && out.mounts[2].flags == 1ull << 40 && out.caps[4] == 1ull << 63,
	   "64-bit values intact");
	ok((const uint8_t *)out.cwd > buf && (const uint8_t *)out.cwd < buf + len, "strings point into the buffer");
	noxs_proc_free(&out);
	ok(out.args == NULL && out.nargs == 0, "noxs_proc_free resets the struct");
	free(buf);
	lv_error_free(&err);
}

static void test_minimal(void)
{
	const char *argv1[] = { "/init", NULL };
	struct noxs_proc in = { .cwd = "/", .args = argv1, .nargs = 1 }, out;
	struct lv_error *err = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	ok(noxs_page_encode(&in, &buf, &len, &err) == 0, "encode a proc with only args and cwd");
	ok(noxs_page_decode(buf, len, &out, &err) == 0, "decode it");
	ok(out.nenv == 0 && out.env && out.env[0] == NULL, "empty env is an empty NULL-terminated array");
	ok(out.ngids == 0 && out.nrlimits == 0 && out.nmounts == 0 && out.nsysctls == 0 && out.nfiles == 0,
	   "empty optional sections");
	is_str(out.hostname, "", "no hostname decodes as \"\"");
	is_str(out.args[0], "/init", "args[0]");
	noxs_proc_free(&out);

	/* An optional section may be absent: relabel env as an unknown,
	 * non-critical section of a later version, which a reader skips. */
	noxs_put_u16(buf + DESC(S_ENV) + D_ID, 200);
	noxs_put_u16(buf + DESC(S_ENV) + D_FLAGS, 0);
	ok(noxs_page_decode(buf, len, &out, &err) == 0 && out.nenv == 0 && out.env[0] == NULL,
	   "unknown non-critical section skipped, absent env is empty");
	noxs_proc_free(&out);
	noxs_put_u16(buf + DESC(S_ENV) + D_FLAGS, 1);
	ok(noxs_page_decode(buf, len, &out, &err) == -EPROTONOSUPPORT, "unknown critical section refused: %s",
	   err ? err->msg : "");
	lv_error_free(&err);
	free(buf);
}

static void test_truncated(void)
{
	uint8_t *buf, *longer;
	size_t len, i;
	int fails = 0;

	encode_full(&buf, &len);
	for (i = 0; i < len; i++)
		if (decode_copy(buf, i, NULL, 0) != -EINVAL)
			fails++;
	ok(fails == 0, "every proper prefix (0..%zu bytes) is rejected with -EINVAL", len - 1);
	longer = calloc(1, len + 1);
	memcpy(longer, buf, len);
	ok(decode_copy(longer, len + 1, NULL, 0) == -EINVAL, "trailing byte beyond the total size rejected");
	ok(decode_copy(buf, len, NULL, 0) == 0, "the whole page decodes");
	free(longer);
	free(buf);
}

/* Applies one corruption to a fresh copy of a full page and checks that the
 * decoder rejects it with a message containing want. */
static void expect_reject(void (*corrupt)(uint8_t *buf, size_t len), int want_ret, const char *want, const char *what)
{
	uint8_t *buf;
	size_t len;
	char msg[512];
	int r;

	encode_full(&buf, &len);
	corrupt(buf, len);
	r = decode_copy(buf, len, msg, sizeof(msg));
	ok(r == want_ret && strstr(msg, want), "%s: %s", what, msg);
	free(buf);
}

static void c_magic(uint8_t *b, size_t n) { (void)n; b[0] ^= 0x20; }
static void c_major(uint8_t *b, size_t n) { (void)n; noxs_put_u16(b + H_MAJOR, NOXS_PAGE_VERSION + 1); }
static void c_total(uint8_t *b, size_t n) { wr32(b, H_TOTAL, (uint32_t)n - 1); }
static void c_sect_off(uint8_t *b, size_t n) { wr32(b, DESC(S_MOUNTS) + D_OFF, (uint32_t)n - 8); }
static void c_sect_huge(uint8_t *b, size_t n) { (void)n; wr32(b, DESC(S_GIDS) + D_COUNT, 255); wr32(b, DESC(S_GIDS) + D_SIZE, 0x40000000); }
static void c_sect_count(uint8_t *b, size_t n) { (void)n; wr32(b, H_SECT_COUNT, 100000); }
static void c_env_limit(uint8_t *b, size_t n) { (void)n; wr32(b, DESC(S_ENV) + D_COUNT, NOXS_MAX_STRINGS + 1); }
static void c_mount_limit(uint8_t *b, size_t n) { (void)n; wr32(b, DESC(S_MOUNTS) + D_COUNT, NOXS_MAX_ITEMS + 1); }
static void c_rec_size(uint8_t *b, size_t n) { (void)n; wr32(b, DESC(S_MOUNTS) + D_SIZE, 16); }
static void c_dup(uint8_t *b, size_t n) { (void)n; noxs_put_u16(b + DESC(S_GIDS) + D_ID, S_ENV + 1); }
static void c_no_strings(uint8_t *b, size_t n) { (void)n; noxs_put_u16(b + DESC(S_STRINGS) + D_ID, 300); noxs_put_u16(b + DESC(S_STRINGS) + D_FLAGS, 0); }
static void c_flags(uint8_t *b, size_t n) { (void)n; wr32(b, H_FLAGS, 1u << 12); }
static void c_env3_off(uint8_t *b, size_t n)
{
	(void)n;
	wr32(b, rd32(b, DESC(S_ENV) + D_OFF) + 3 * 4, rd32(b, DESC(S_STRINGS) + D_COUNT) + 5);
}
static void c_unterminated(uint8_t *b, size_t n)
{
	/* Shrink the string area to end inside env[3]. */
	uint32_t env3 = rd32(b, rd32(b, DESC(S_ENV) + D_OFF) + 3 * 4);
	(void)n;
	wr32(b, DESC(S_STRINGS) + D_COUNT, env3 + 3);
}
static void c_cwd_unterminated(uint8_t *b, size_t n)
{
	(void)n;
	wr32(b, DESC(S_STRINGS) + D_COUNT, rd32(b, H_CWD) + 2);
}
static void c_file_data(uint8_t *b, size_t n)
{
	(void)n;
	wr32(b, rd32(b, DESC(S_FILES) + D_OFF) + 24 + 20, 0xfffffff0u); /* files[1].len */
}
static void c_cwd_relative(uint8_t *b, size_t n)
{
	(void)n;
	b[rd32(b, DESC(S_STRINGS) + D_OFF) + rd32(b, H_CWD)] = 'w';
}

static void test_reject(void)
{
	uint8_t *buf;
	size_t len;
	struct noxs_proc out;
	struct lv_error *err = NULL;

	expect_reject(c_magic, -EINVAL, "bad magic", "bad magic");
	expect_reject(c_major, -EPROTONOSUPPORT, "unsupported version 2.2", "higher major version");
	expect_reject(c_total, -EINVAL, "header says", "total size mismatch");
	expect_reject(c_sect_off, -EINVAL, "section 6 (mounts)", "section offset past the end");
	expect_reject(c_sect_huge, -EINVAL, "run past the end of the page", "section size overflow");
	expect_reject(c_sect_count, -EINVAL, "100000 sections exceed", "section table count over limit");
	expect_reject(c_env_limit, -EINVAL, "4097 env exceed the limit of 4096", "env count over limit");
	expect_reject(c_mount_limit, -EINVAL, "257 mounts exceed the limit of 256", "mount count over limit");
	expect_reject(c_rec_size, -EINVAL, "mounts records are 16 bytes", "record size too small");
	expect_reject(c_dup, -EINVAL, "appears twice", "duplicate section");
	expect_reject(c_no_strings, -EINVAL, "no string area", "missing string area");
	expect_reject(c_flags, -EINVAL, "unknown flags 0x1000", "unknown critical flag");
	expect_reject(c_env3_off, -EINVAL, "env[3] string offset", "string offset past the string area");
	expect_reject(c_unterminated, -EINVAL, "env[3] string runs past the end of the string area",
		      "unterminated string");
	expect_reject(c_cwd_unterminated, -EINVAL, "cwd string runs past the end", "unterminated cwd");
	expect_reject(c_file_data, -EINVAL, "files[1] (/bin.dat) data", "file data past the data area");
	expect_reject(c_cwd_relative, -EINVAL, "not an absolute path", "relative cwd");

	/* Compatibility: a higher minor version, an unknown advisory flag and
	 * larger records (fields appended later) still decode. */
	encode_full(&buf, &len);
	noxs_put_u16(buf + H_MINOR, 7);
	wr32(buf, H_FLAGS, rd32(buf, H_FLAGS) | 1u << 20);
	wr32(buf, DESC(S_GIDS) + D_SIZE, 8);
	wr32(buf, DESC(S_GIDS) + D_COUNT, 1); /* 1 record of 8 bytes: gid 10 then 20 ignored */
	ok(noxs_page_decode(buf, len, &out, &err) == 0 && out.ngids == 1 && out.gids[0] == 10,
	   "higher minor version, advisory flag and longer records accepted");
	noxs_proc_free(&out);
	lv_error_free(&err);
	ok(noxs_page_decode(NULL, 0, &out, &err) == -EINVAL, "NULL buffer rejected");
	lv_error_free(&err);
	free(buf);
}

static void test_encode_limits(void)
{
	struct noxs_proc p = full_proc();
	struct noxs_file big[2] = { files[0], { "/var/big.bin", 0644, 0, 0, NULL, 300000 } };
	struct noxs_mount many[NOXS_MAX_ITEMS + 1];
	struct lv_error *err = NULL;
	uint8_t *buf = (uint8_t *)&p;
	size_t len = 1, i;
	int r;

	big[1].data = calloc(1, big[1].len);
	p.files = big;
	p.nfiles = 2;
	r = noxs_page_encode(&p, &buf, &len, &err);
	ok(r == -EFBIG && err && strstr(err->msg, "/var/big.bin") && strstr(err->msg, "262144"),
	   "encoder refuses an oversized page: %s", err ? err->msg : "");
	ok(buf == NULL && len == 0, "and returns no buffer");
	lv_error_free(&err);
	free((void *)big[1].data);

	p = full_proc();
	for (i = 0; i < LV_ARRAY_SIZE(many); i++)
		many[i] = mounts[0];
	p.mounts = many;
	p.nmounts = NOXS_MAX_ITEMS + 1;
	r = noxs_page_encode(&p, &buf, &len, &err);
	ok(r == -EINVAL && err && strstr(err->msg, "257 mounts"), "encoder refuses too many mounts: %s",
	   err ? err->msg : "");
	lv_error_free(&err);

	p = full_proc();
	p.nmounts = NOXS_MAX_ITEMS;
	p.mounts = many;
	ok(noxs_page_encode(&p, &buf, &len, &err) == 0 && decode_copy(buf, len, NULL, 0) == 0,
	   "exactly %u mounts encode and decode", NOXS_MAX_ITEMS);
	free(buf);

	p = full_proc();
	p.nargs = 0;
	ok(noxs_page_encode(&p, &buf, &len, &err) == -EINVAL, "encoder refuses empty args");
	lv_error_free(&err);
	p = full_proc();
	p.cwd = "rel";
	ok(noxs_page_encode(&p, &buf, &len, &err) == -EINVAL, "encoder refuses a relative cwd");
	lv_error_free(&err);
}

/* ---- the host section (1.1) ---- */

static int encode_host(uint8_t **buf, size_t *len)
{
	struct noxs_proc p = host_proc();
	struct lv_error *err = NULL;
	int r = noxs_page_encode(&p, buf, len, &err);

	lv_error_free(&err);
	return r;
}

static void test_host_roundtrip(void)
{
	struct noxs_proc in = host_proc(), out;
	struct lv_error *err = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	uint32_t off;

	ok(noxs_page_encode(&in, &buf, &len, &err) == 0, "encode a proc with a host section");
	ok(noxs_get_u16(buf + H_MAJOR) == 1 && noxs_get_u16(buf + H_MINOR) == 2, "the page says version 1.2");
	ok(rd32(buf, H_SECT_COUNT) == 10 && noxs_get_u16(buf + DESC(S_HOST) + D_ID) == HOST_ID,
	   "ten sections, the host section (id 12) last in the table");
	ok(noxs_get_u16(buf + DESC(S_HOST) + D_FLAGS) == 0, "the host section is not marked critical");
	ok(rd32(buf, DESC(S_HOST) + D_COUNT) == 1 && rd32(buf, DESC(S_HOST) + D_SIZE) == HOST_REC,
	   "one record of %d bytes", HOST_REC);
	off = rd32(buf, DESC(S_HOST) + D_OFF);
	ok(off % 8 == 0 && rd32(buf, off) == (uint32_t)in.realtime_ns && rd32(buf, off + 4) == (uint32_t)(in.realtime_ns >> 32) &&
	   memcmp(buf + off + 8, in.seed, NOXS_SEED_SIZE) == 0,
	   "record: u64 realtime little endian at 0, the seed at 8");
	ok(noxs_page_decode(buf, len, &out, &err) == 0, "decode it: %s", err ? err->msg : "ok");
	ok(noxs_proc_equal(&in, &out) && host_equal(&in, &out) && out.has_host, "realtime and seed survive the round trip");
	noxs_proc_free(&out);
	ok(!out.has_host && out.realtime_ns == 0 && all_zero(out.seed, NOXS_SEED_SIZE), "noxs_proc_free clears the seed");
	lv_error_free(&err);
	free(buf);

	/* A 1.0 reader skips a non-critical section it does not know, as
	 * this reader does with an id after 1.2's, and refuses one marked
	 * critical. */
	encode_host(&buf, &len);
	noxs_put_u16(buf + DESC(S_HOST) + D_ID, 15);
	ok(noxs_page_decode(buf, len, &out, &err) == 0 && !out.has_host,
	   "unknown id 15, not critical: skipped");
	noxs_proc_free(&out);
	noxs_put_u16(buf + DESC(S_HOST) + D_FLAGS, 1);
	ok(noxs_page_decode(buf, len, &out, &err) == -EPROTONOSUPPORT, "unknown id 15, critical: refused: %s",
	   err ? err->msg : "");
	lv_error_free(&err);
	free(buf);
}

static void test_host_absent(void)
{
	const char *argv1[] = { "/init", NULL };
	struct noxs_proc in = full_proc(), min = { .cwd = "/", .args = argv1, .nargs = 1 }, out;
	struct lv_error *err = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	ok(noxs_page_encode(&in, &buf, &len, &err) == 0 && rd32(buf, H_SECT_COUNT) == 9,
	   "without a host section the encoder writes the nine sections of 1.0");
	ok(noxs_page_decode(buf, len, &out, &err) == 0 && !out.has_host && out.realtime_ns == 0 &&
	   all_zero(out.seed, NOXS_SEED_SIZE), "absent: has_host false, realtime 0, seed zero");
	noxs_proc_free(&out);
	noxs_put_u16(buf + H_MINOR, 0);
	ok(noxs_page_decode(buf, len, &out, &err) == 0 && !out.has_host, "a 1.0 page decodes");
	noxs_proc_free(&out);
	free(buf);

	/* A section with no record is the same as none. */
	encode_host(&buf, &len);
	wr32(buf, DESC(S_HOST) + D_COUNT, 0);
	ok(noxs_page_decode(buf, len, &out, &err) == 0 && !out.has_host && out.realtime_ns == 0,
	   "a host section of 0 records: as absent");
	noxs_proc_free(&out);
	free(buf);

	/* Zero realtime and seed are "none", but the section is there. */
	in = min;
	in.has_host = true;
	ok(noxs_page_encode(&in, &buf, &len, &err) == 0 && noxs_page_decode(buf, len, &out, &err) == 0 &&
	   out.has_host && out.realtime_ns == 0 && all_zero(out.seed, NOXS_SEED_SIZE),
	   "a host section with no time and no seed round-trips");
	noxs_proc_free(&out);
	free(buf);
	lv_error_free(&err);
}

static void c_host_small(uint8_t *b, size_t n) { (void)n; wr32(b, DESC(S_HOST) + D_SIZE, HOST_REC - 1); }
static void c_host_two(uint8_t *b, size_t n) { (void)n; wr32(b, DESC(S_HOST) + D_COUNT, 2); }
static void c_host_past(uint8_t *b, size_t n) { wr32(b, DESC(S_HOST) + D_OFF, (uint32_t)n - HOST_REC + 1); }
static void c_host_on_strings(uint8_t *b, size_t n) { (void)n; wr32(b, DESC(S_HOST) + D_OFF, rd32(b, DESC(S_STRINGS) + D_OFF) + 4); }
static void c_host_on_table(uint8_t *b, size_t n) { (void)n; wr32(b, DESC(S_HOST) + D_OFF, DESC(S_DATA)); }
static void c_host_dup(uint8_t *b, size_t n)
{
	(void)n; /* the gids descriptor becomes a second host section */
	memcpy(b + DESC(S_GIDS), b + DESC(S_HOST), 16);
}

/* Like expect_reject, on a page with a host section. */
static void expect_reject_host(void (*corrupt)(uint8_t *buf, size_t len), const char *want, const char *what)
{
	uint8_t *buf;
	size_t len;
	char msg[512];
	int r;

	encode_host(&buf, &len);
	corrupt(buf, len);
	r = decode_copy(buf, len, msg, sizeof(msg));
	ok(r == -EINVAL && strstr(msg, want), "%s: %s", what, msg);
	free(buf);
}

static void test_host_reject(void)
{
	struct noxs_proc in = host_proc(), out;
	struct lv_error *err = NULL;
	uint8_t *buf, *longer;
	size_t len, i;
	uint32_t off;
	int fails = 0;

	expect_reject_host(c_host_small, "host records are 39 bytes, expected at least 40", "host record too small");
	expect_reject_host(c_host_two, "host section has 2 records, at most 1", "two host records");
	expect_reject_host(c_host_past, "section 12 (host)", "host record past the end of the page");
	expect_reject_host(c_host_dup, "section host appears twice", "duplicate host section");
	/* The guest wipes the seed in place: it must not be anything else. */
	expect_reject_host(c_host_on_strings, "host record overlaps section strings", "host record inside the strings");
	expect_reject_host(c_host_on_table, "host record overlaps the section table", "host record on the section table");

	encode_host(&buf, &len);
	for (i = 0; i < len; i++)
		if (decode_copy(buf, i, NULL, 0) != -EINVAL)
			fails++;
	ok(fails == 0, "every proper prefix of a page with a host section is rejected");
	free(buf);

	/* A later minor version may append fields to the record: a longer
	 * record is read for its first 40 bytes. */
	encode_host(&buf, &len);
	off = rd32(buf, DESC(S_HOST) + D_OFF);
	longer = calloc(1, len + 8);
	memcpy(longer, buf, off + HOST_REC);
	memset(longer + off + HOST_REC, 0xee, 8);
	memcpy(longer + off + HOST_REC + 8, buf + off + HOST_REC, len - off - HOST_REC);
	wr32(longer, H_TOTAL, (uint32_t)len + 8);
	wr32(longer, DESC(S_HOST) + D_SIZE, HOST_REC + 8);
	for (i = 0; i < 10; i++) /* the sections after it moved by 8 */
		if (rd32(longer, DESC(i) + D_OFF) > off)
			wr32(longer, DESC(i) + D_OFF, rd32(longer, DESC(i) + D_OFF) + 8);
	ok(noxs_page_decode(longer, len + 8, &out, &err) == 0 && host_equal(&in, &out) && noxs_proc_equal(&in, &out),
	   "a 48-byte host record (fields appended later) is accepted: %s", err ? err->msg : "ok");
	noxs_proc_free(&out);
	lv_error_free(&err);
	free(longer);
	free(buf);
}

static void test_host_wipe(void)
{
	struct noxs_proc in = host_proc(), out;
	struct lv_error *err = NULL;
	uint8_t *buf, *before;
	size_t len, i;
	uint32_t off;
	int others_same = 1;

	encode_host(&buf, &len);
	before = malloc(len);
	memcpy(before, buf, len);
	off = rd32(buf, DESC(S_HOST) + D_OFF);
	noxs_page_wipe_seed(buf, len);
	ok(all_zero(buf + off + 8, NOXS_SEED_SIZE), "noxs_page_wipe_seed zeroes the seed in the page");
	for (i = 0; i < len; i++)
		if ((i < off + 8 || i >= off + 8 + NOXS_SEED_SIZE) && buf[i] != before[i])
			others_same = 0;
	ok(others_same, "and no other byte");
	ok(noxs_page_decode(buf, len, &out, &err) == 0 && out.has_host && out.realtime_ns == in.realtime_ns &&
	   all_zero(out.seed, NOXS_SEED_SIZE), "the wiped page still decodes, with its time and no seed");
	noxs_proc_free(&out);
	ok(noxs_page_stamp_time(buf, len, 1234567890123456789ULL) == 0 && noxs_page_decode(buf, len, &out, &err) == 0 &&
	   out.realtime_ns == 1234567890123456789ULL, "noxs_page_stamp_time sets the host section's time in place");
	noxs_proc_free(&out);
	free(buf);

	/* Pages it must not touch: none without a host section, none the
	 * decoder refuses. */
	{
		struct noxs_proc p = full_proc();
		noxs_page_encode(&p, &buf, &len, &err);
	}
	free(before);
	before = malloc(len);
	memcpy(before, buf, len);
	noxs_page_wipe_seed(buf, len);
	ok(noxs_page_stamp_time(buf, len, 1) == -1, "stamping a page without a host section: -1");
	ok(memcmp(buf, before, len) == 0, "a page without a host section is left alone");
	free(buf);
	free(before);
	encode_host(&buf, &len);
	wr32(buf, DESC(S_HOST) + D_OFF, (uint32_t)len - 8); /* the record would run past the end */
	before = malloc(len);
	memcpy(before, buf, len);
	noxs_page_wipe_seed(buf, len);
	ok(memcmp(buf, before, len) == 0, "a page the decoder refuses is left alone");
	noxs_page_wipe_seed(NULL, 0);
	noxs_page_wipe_seed(buf, 10);
	ok(memcmp(buf, before, len) == 0, "so are a NULL buffer and a truncated one");
	free(before);
	free(buf);
	lv_error_free(&err);
}

/* ---- fuzzing seeds ---- */

static int write_seeds(const char *dir)
{
	const char *argv1[] = { "/init", NULL };
	struct noxs_proc p = full_proc(), min = { .cwd = "/", .args = argv1, .nargs = 1 };
	struct lv_error *err = NULL;
	char sub[4096];
	uint8_t *buf;
	size_t len;
	int r = 0;

	snprintf(sub, sizeof(sub), "%s/page", dir);
	if (noxs_page_encode(&p, &buf, &len, &err) < 0)
		return 1;
	r |= write_seed_file(sub, "full", buf, len);
	free(buf);
	if (noxs_page_encode(&min, &buf, &len, &err) < 0)
		return 1;
	r |= write_seed_file(sub, "minimal", buf, len);
	free(buf);
	p = host_proc();
	if (noxs_page_encode(&p, &buf, &len, &err) < 0)
		return 1;
	r |= write_seed_file(sub, "full-host", buf, len);
	free(buf);

	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	test_roundtrip();
	test_minimal();
	test_truncated();
	test_reject();
	test_encode_limits();
	test_host_roundtrip();
	test_host_absent();
	test_host_reject();
	test_host_wipe();
	return tap_done();
}
