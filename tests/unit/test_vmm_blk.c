/* vmm/virtio_blk: a read-only and a writable image driven through the fake
 * driver of virtio_driver.h: reads at sectors, the capacity, refused
 * writes, GET_ID, ranges beyond the end, and malformed requests that must
 * end in IOERR or a broken device, never a crash.  Needs no /dev/kvm. */
#include "../../lib/cleanup.h"
#include "../../vmm/loop.h"
#include "../../vmm/virtio_blk.h"
#include "tap.h"
#include "virtio_driver.h"

#include <endian.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define MiB      (1ULL << 20)
#define BASE     0xd0000000ULL
#define NSECT    128ULL
/* Not a whole number of sectors: the tail is out of reach. */
#define IMG_SIZE (NSECT * 512 + 100)
#define SERIAL   "lightvm-test"
#define FEATS_RO ((1ULL << VIRTIO_BLK_F_RO) | (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_SIZE_MAX))

/* Every byte of sector s at offset i: recognisable and sector-specific. */
static uint8_t pattern(uint64_t s, unsigned int i)
{
	return (uint8_t)(s * 31 + i * 7 + 1);
}

static int make_image(void)
{
	uint8_t *buf = malloc(IMG_SIZE);
	int fd = memfd_create("blk-image", MFD_CLOEXEC);
	uint64_t i;

	if (!buf || fd < 0) {
		free(buf);
		return -1;
	}
	for (i = 0; i < IMG_SIZE; i++)
		buf[i] = pattern(i / 512, (unsigned int)(i % 512));
	if (pwrite(fd, buf, IMG_SIZE, 0) != (ssize_t)IMG_SIZE) {
		close(fd);
		fd = -1;
	}
	free(buf);
	return fd;
}

static bool sectors_match(const uint8_t *p, uint64_t sector, uint64_t n)
{
	uint64_t s;
	unsigned int i;

	for (s = 0; s < n; s++)
		for (i = 0; i < 512; i++)
			if (p[s * 512 + i] != pattern(sector + s, i))
				return false;
	return true;
}

/* A request header in guest RAM. */
static uint64_t hdr(struct vd *d, uint32_t type, uint64_t sector)
{
	uint64_t g = vd_alloc(d, 16);
	uint8_t *p = vd_ptr(d, g, 16);
	uint32_t t = htole32(type);
	uint64_t s = htole64(sector);

	memcpy(p, &t, 4);
	memset(p + 4, 0, 4);
	memcpy(p + 8, &s, 8);
	return g;
}

struct done {
	int used;       /* 1 if the device returned the chain */
	uint16_t id;
	uint32_t len;
	uint8_t status; /* the last writable byte */
};

/* Submits a chain, kicks queue 0, collects the used entry; status_gpa is
 * where the status byte lives (0: none). */
static struct done submit(struct vd *d, const struct vd_seg *segs, unsigned int n_out, unsigned int n_in,
			  uint64_t status_gpa)
{
	struct done r = { 0 };
	int head;

	if (status_gpa)
		*(uint8_t *)vd_ptr(d, status_gpa, 1) = 0xee;
	head = vd_add(d, 0, segs, n_out, n_in);
	vd_kick(d, 0);
	r.used = vd_used(d, 0, &r.id, &r.len);
	if (r.used && r.id != head)
		r.used = -1;
	if (status_gpa)
		r.status = *(uint8_t *)vd_ptr(d, status_gpa, 1);
	return r;
}

/* A plain IN request of n sectors into one buffer. */
static struct done read_sectors(struct vd *d, uint64_t sector, uint64_t n, uint64_t *data_out)
{
	uint64_t h = hdr(d, VIRTIO_BLK_T_IN, sector), data = vd_alloc(d, n ? n * 512 : 1),
		 st = vd_alloc(d, 1);
	struct vd_seg segs[] = { { h, 16 }, { data, (uint32_t)(n * 512) }, { st, 1 } };

	*data_out = data;
	return submit(d, segs, 1, 2, st);
}

static bool broken(struct vd *d)
{
	return (vd_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET) && d->m->broken;
}

static void test_create_errors(const struct vmm_memory *mem, int img)
{
	struct vmm_blk *b = NULL;
	struct lv_error *err = NULL;
	cleanup_close int ro = -1;
	int p[2];
	char path[64];

	ok(vmm_blk_create(mem, BASE, 5, false, NULL, img, true, "123456789012345678901", &b, &err) == -EINVAL &&
	   !b, "a serial of 21 bytes: EINVAL (%s)", err ? err->msg : "");
	lv_error_free(&err);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", img);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	ok(ro >= 0 && vmm_blk_create(mem, BASE, 5, false, NULL, ro, false, NULL, &b, &err) == -EBADF,
	   "writable disk on a read-only fd: EBADF (%s)", err ? err->msg : "");
	lv_error_free(&err);
	ok(pipe2(p, O_CLOEXEC) == 0 && vmm_blk_create(mem, BASE, 5, false, NULL, p[0], true, NULL, &b, &err) == -EINVAL,
	   "a pipe as image: EINVAL (%s)", err ? err->msg : "");
	lv_error_free(&err);
	close(p[0]);
	close(p[1]);
	ok(vmm_blk_create(mem, BASE, 5, false, NULL, 1000, true, NULL, &b, &err) < 0 && !b, "a closed fd: error");
	lv_error_free(&err);
	ok(vmm_blk_create(mem, BASE, 5, true, NULL, img, true, NULL, &b, &err) == -EINVAL,
	   "ioeventfd without a loop: EINVAL");
	lv_error_free(&err);
	ok(vmm_blk_create(mem, BASE + 1, 5, false, NULL, img, true, NULL, &b, &err) < 0 && !b,
	   "a misaligned window: refused by the transport");
	lv_error_free(&err);
}

static void test_read_only(struct vmm_memory *mem, int img)
{
	struct vmm_blk *b = NULL;
	struct lv_error *err = NULL;
	struct vmm_blk_stats st;
	struct vd d;
	struct done r;
	uint64_t data, cap = 0, h, st_gpa, id;
	uint32_t v32 = 0, feats;
	uint8_t *p;
	bool all_zero;
	unsigned int i;

	ok(vmm_blk_create(mem, BASE, 5, false, NULL, img, true, SERIAL, &b, &err) == 0 && b, "read-only blk (%s)",
	   err ? err->msg : "ok");
	if (!b) {
		lv_error_free(&err);
		return;
	}
	ok(vmm_blk_capacity(b) == NSECT, "capacity: image size rounded down to %llu sectors",
	   (unsigned long long)NSECT);
	vd_attach(&d, mem, vmm_blk_mmio(b));
	ok(vd_read(&d, VIRTIO_MMIO_DEVICE_ID) == 2, "device id 2 (block)");
	vd_write(&d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	feats = vd_read(&d, VIRTIO_MMIO_DEVICE_FEATURES);
	ok(feats == (uint32_t)FEATS_RO, "features: RO, SEG_MAX, SIZE_MAX and nothing else (0x%x)", feats);
	ok(vd_start(&d, FEATS_RO, 1) == 0, "driver started");
	vd_config_read(&d, 0, &cap, 8);
	ok(le64toh(cap) == NSECT, "config capacity (8-byte read): %llu", (unsigned long long)le64toh(cap));
	vd_config_read(&d, 12, &v32, 4);
	ok(le32toh(v32) == VMM_BLK_SEG_MAX, "config seg_max %u", le32toh(v32));
	vd_config_read(&d, 8, &v32, 4);
	ok(le32toh(v32) == VMM_BLK_SIZE_MAX, "config size_max %u", le32toh(v32));
	v32 = 0xffffffff;
	vd_config_read(&d, 16, &v32, 4);
	ok(v32 == 0, "config beyond seg_max reads as 0");

	r = read_sectors(&d, 0, 1, &data);
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_OK && r.len == 513, "read sector 0: OK, 513 bytes written");
	ok(sectors_match(vd_ptr(&d, data, 512), 0, 1), "sector 0 has the image's bytes");
	ok(vd_irqs(&d) >= 1, "an interrupt was raised");
	r = read_sectors(&d, NSECT - 1, 1, &data);
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_OK && sectors_match(vd_ptr(&d, data, 512), NSECT - 1, 1),
	   "read the last sector");

	/* Data split at odd places over several descriptors, header split too. */
	h = hdr(&d, VIRTIO_BLK_T_IN, 3);
	data = vd_alloc(&d, 1536);
	st_gpa = vd_alloc(&d, 1);
	{
		struct vd_seg segs[] = { { h, 5 }, { h + 5, 11 }, { data, 100 }, { data + 100, 924 },
					 { data + 1024, 512 }, { st_gpa, 1 } };

		r = submit(&d, segs, 2, 4, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_OK && r.len == 1537 &&
	   sectors_match(vd_ptr(&d, data, 1536), 3, 3), "3 sectors over 3 odd segments, header in 2 pieces");

	/* Status byte in the same descriptor as the data. */
	h = hdr(&d, VIRTIO_BLK_T_IN, 7);
	data = vd_alloc(&d, 513);
	{
		struct vd_seg segs[] = { { h, 16 }, { data, 513 } };

		r = submit(&d, segs, 1, 1, data + 512);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_OK && r.len == 513 && sectors_match(vd_ptr(&d, data, 512), 7, 1),
	   "data and status in one descriptor");

	/* The most segments seg_max allows. */
	h = hdr(&d, VIRTIO_BLK_T_IN, 10);
	data = vd_alloc(&d, 512ULL * VMM_BLK_SEG_MAX);
	st_gpa = vd_alloc(&d, 1);
	{
		struct vd_seg segs[VMM_BLK_SEG_MAX + 2];

		segs[0] = (struct vd_seg){ h, 16 };
		for (i = 0; i < VMM_BLK_SEG_MAX; i++)
			segs[1 + i] = (struct vd_seg){ data + 512ULL * i, 512 };
		segs[1 + VMM_BLK_SEG_MAX] = (struct vd_seg){ st_gpa, 1 };
		r = submit(&d, segs, 1, VMM_BLK_SEG_MAX + 1, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_OK && sectors_match(vd_ptr(&d, data, 512ULL * VMM_BLK_SEG_MAX), 10,
									  VMM_BLK_SEG_MAX),
	   "%u segments of one sector each (seg_max)", VMM_BLK_SEG_MAX);

	/* Out of range: IOERR, and the data part zeroed rather than stale. */
	h = hdr(&d, VIRTIO_BLK_T_IN, NSECT - 1);
	data = vd_alloc(&d, 1024);
	st_gpa = vd_alloc(&d, 1);
	memset(vd_ptr(&d, data, 1024), 0xaa, 1024);
	{
		struct vd_seg segs[] = { { h, 16 }, { data, 1024 }, { st_gpa, 1 } };

		r = submit(&d, segs, 1, 2, st_gpa);
	}
	p = vd_ptr(&d, data, 1024);
	for (all_zero = true, i = 0; i < 1024; i++)
		all_zero = all_zero && p[i] == 0;
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_IOERR && r.len == 1025 && all_zero,
	   "2 sectors from the last one: IOERR, len 1025, data zero-filled");
	r = read_sectors(&d, NSECT, 1, &data);
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_IOERR, "sector == capacity: IOERR");
	r = read_sectors(&d, UINT64_MAX, 1, &data);
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_IOERR, "sector 2^64-1: IOERR (no overflow)");
	r = read_sectors(&d, UINT64_MAX / 512 + 1, 1, &data);
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_IOERR, "sector whose byte offset wraps: IOERR");
	r = read_sectors(&d, NSECT, 0, &data);
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_OK, "zero-length read at the capacity: OK");

	/* Not a multiple of 512. */
	h = hdr(&d, VIRTIO_BLK_T_IN, 0);
	data = vd_alloc(&d, 100);
	st_gpa = vd_alloc(&d, 1);
	{
		struct vd_seg segs[] = { { h, 16 }, { data, 100 }, { st_gpa, 1 } };

		r = submit(&d, segs, 1, 2, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_IOERR && r.len == 101, "100-byte read: IOERR");

	/* More than one request may move (seg_max * size_max). */
	h = hdr(&d, VIRTIO_BLK_T_IN, 0);
	data = vd_alloc(&d, VMM_BLK_MAX_REQ + 512);
	st_gpa = vd_alloc(&d, 1);
	{
		struct vd_seg segs[] = { { h, 16 }, { data, (uint32_t)(VMM_BLK_MAX_REQ + 512) }, { st_gpa, 1 } };

		r = submit(&d, segs, 1, 2, st_gpa);
	}
	ok(data && r.used == 1 && r.status == VIRTIO_BLK_S_IOERR, "a request over %llu bytes: IOERR",
	   (unsigned long long)VMM_BLK_MAX_REQ);

	/* Writes to a read-only disk. */
	h = hdr(&d, VIRTIO_BLK_T_OUT, 1);
	data = vd_alloc(&d, 512);
	st_gpa = vd_alloc(&d, 1);
	memset(vd_ptr(&d, data, 512), 0x55, 512);
	{
		struct vd_seg segs[] = { { h, 16 }, { data, 512 }, { st_gpa, 1 } };

		r = submit(&d, segs, 2, 1, st_gpa);
	}
	{
		uint8_t back[512];

		ok(r.used == 1 && r.status == VIRTIO_BLK_S_IOERR && r.len == 1 && pread(img, back, 512, 512) == 512 &&
		   sectors_match(back, 1, 1), "write to the read-only disk: IOERR, image unchanged");
	}
	h = hdr(&d, VIRTIO_BLK_T_FLUSH, 0);
	st_gpa = vd_alloc(&d, 1);
	{
		struct vd_seg segs[] = { { h, 16 }, { st_gpa, 1 } };

		r = submit(&d, segs, 1, 1, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_OK && r.len == 1, "flush of a read-only disk: OK");

	/* GET_ID: 20 bytes, zero-padded; a larger buffer is zeroed beyond. */
	h = hdr(&d, VIRTIO_BLK_T_GET_ID, 0);
	id = vd_alloc(&d, 32);
	st_gpa = vd_alloc(&d, 1);
	memset(vd_ptr(&d, id, 32), 0xaa, 32);
	{
		struct vd_seg segs[] = { { h, 16 }, { id, 32 }, { st_gpa, 1 } };

		r = submit(&d, segs, 1, 2, st_gpa);
	}
	p = vd_ptr(&d, id, 32);
	for (all_zero = true, i = sizeof(SERIAL) - 1; i < 32; i++)
		all_zero = all_zero && p[i] == 0;
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_OK && r.len == 33 && memcmp(p, SERIAL, sizeof(SERIAL) - 1) == 0 &&
	   all_zero, "GET_ID: '%s', zero-padded", SERIAL);
	h = hdr(&d, VIRTIO_BLK_T_GET_ID, 0);
	id = vd_alloc(&d, 10);
	st_gpa = vd_alloc(&d, 1);
	{
		struct vd_seg segs[] = { { h, 16 }, { id, 10 }, { st_gpa, 1 } };

		r = submit(&d, segs, 1, 2, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_IOERR, "GET_ID into 10 bytes: IOERR");

	h = hdr(&d, VIRTIO_BLK_T_DISCARD, 0);
	st_gpa = vd_alloc(&d, 1);
	{
		struct vd_seg segs[] = { { h, 16 }, { st_gpa, 1 } };

		r = submit(&d, segs, 1, 1, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_UNSUPP, "DISCARD: UNSUPP");

	/* Malformed, but with a status byte: IOERR. */
	h = hdr(&d, VIRTIO_BLK_T_IN, 0);
	data = vd_alloc(&d, 512);
	st_gpa = vd_alloc(&d, 1);
	{
		struct vd_seg segs[] = { { h, 8 }, { data, 512 }, { st_gpa, 1 } };

		r = submit(&d, segs, 1, 2, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_IOERR && r.len == 513, "8-byte header: IOERR");
	{
		struct vd_seg segs[] = { { st_gpa, 1 } };

		r = submit(&d, segs, 0, 1, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_IOERR && r.len == 1, "no header at all, only a status: IOERR");
	h = hdr(&d, VIRTIO_BLK_T_IN, 0);
	{
		struct vd_seg segs[] = { { h, 16 }, { data, 512 }, { st_gpa, 1 } };

		r = submit(&d, segs, 2, 1, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_IOERR && r.len == 1, "IN with readable data: IOERR");
	ok(!broken(&d), "none of that broke the device");

	vmm_blk_get_stats(b, &st);
	ok(st.reqs == 20 && st.ioerr == 11 && st.unsupp == 1 && st.bytes_read == 512ULL * (6 + VMM_BLK_SEG_MAX),
	   "stats: %lu requests, %lu IOERR, %lu UNSUPP, %llu bytes read", st.reqs, st.ioerr, st.unsupp,
	   (unsigned long long)st.bytes_read);

	/* No status byte: no way to answer, the device breaks. */
	h = hdr(&d, VIRTIO_BLK_T_IN, 0);
	{
		struct vd_seg segs[] = { { h, 16 }, { data, 16 } };

		r = submit(&d, segs, 2, 0, 0);
	}
	ok(r.used == 0 && broken(&d), "a chain without a writable byte: NEEDS_RESET (%s)", d.m->broken_msg);
	r = read_sectors(&d, 0, 1, &data);
	ok(r.used == 0, "a broken device ignores further requests");

	/* Data in the MMIO hole, then past the end of RAM: the walker refuses. */
	ok(vd_start(&d, FEATS_RO, 1) == 0 && !broken(&d), "after a reset the driver starts again");
	r = read_sectors(&d, 2, 1, &data);
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_OK && sectors_match(vd_ptr(&d, data, 512), 2, 1),
	   "and reads work again");
	for (i = 0; i < 2; i++) {
		uint64_t bad = i == 0 ? VMM_MMIO_HOLE_START + 0x1000 : mem->size - 256;

		h = hdr(&d, VIRTIO_BLK_T_IN, 0);
		st_gpa = vd_alloc(&d, 1);
		{
			struct vd_seg segs[] = { { h, 16 }, { bad, 512 }, { st_gpa, 1 } };

			r = submit(&d, segs, 1, 2, st_gpa);
		}
		ok(r.used == 0 && broken(&d) && r.status == 0xee, "data segment %s: NEEDS_RESET, nothing written (%s)",
		   i == 0 ? "in the MMIO hole" : "crossing the end of RAM", d.m->broken_msg);
		ok(vd_start(&d, FEATS_RO, 1) == 0, "reset and restart");
	}

	/* A status byte that is the only writable byte but the header is not
	 * readable: all writable, so the header is "missing". */
	h = hdr(&d, VIRTIO_BLK_T_IN, 0);
	{
		struct vd_seg segs[] = { { h, 17 } };

		r = submit(&d, segs, 0, 1, h + 16);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_IOERR, "header on the writable side: IOERR");

	vmm_blk_destroy(&b);
	ok(b == NULL, "destroy resets the pointer");
	vmm_blk_destroy(&b);
}

static void test_writable(struct vmm_memory *mem)
{
	struct vmm_blk *b = NULL;
	struct lv_error *err = NULL;
	cleanup_close int img = make_image();
	uint64_t feats = (1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_BLK_F_SEG_MAX);
	uint64_t h, data, st_gpa;
	uint8_t back[1024];
	struct vd d;
	struct done r;
	uint32_t f;

	ok(img >= 0 && vmm_blk_create(mem, BASE, 5, false, NULL, img, false, NULL, &b, &err) == 0, "writable blk");
	if (!b) {
		lv_error_free(&err);
		return;
	}
	vd_attach(&d, mem, vmm_blk_mmio(b));
	vd_write(&d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = vd_read(&d, VIRTIO_MMIO_DEVICE_FEATURES);
	ok((f & (1U << VIRTIO_BLK_F_FLUSH)) && !(f & (1U << VIRTIO_BLK_F_RO)), "features: FLUSH, not RO");
	ok(vd_start(&d, feats, 1) == 0, "driver started with FLUSH");

	h = hdr(&d, VIRTIO_BLK_T_OUT, 4);
	data = vd_alloc(&d, 1024);
	st_gpa = vd_alloc(&d, 1);
	memset(vd_ptr(&d, data, 1024), 0x5a, 1024);
	{
		struct vd_seg segs[] = { { h, 16 }, { data, 300 }, { data + 300, 724 }, { st_gpa, 1 } };

		r = submit(&d, segs, 3, 1, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_OK && r.len == 1, "write 2 sectors at 4: OK, len 1");
	ok(pread(img, back, 1024, 4 * 512) == 1024 && back[0] == 0x5a && back[1023] == 0x5a,
	   "the image has the new bytes");
	ok(pread(img, back, 512, 3 * 512) == 512 && sectors_match(back, 3, 1) &&
	   pread(img, back, 512, 6 * 512) == 512 && sectors_match(back, 6, 1), "its neighbours are untouched");

	h = hdr(&d, VIRTIO_BLK_T_OUT, NSECT - 1);
	{
		struct vd_seg segs[] = { { h, 16 }, { data, 1024 }, { st_gpa, 1 } };

		r = submit(&d, segs, 2, 1, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_IOERR && pread(img, back, 100, NSECT * 512) == 100 &&
	   back[0] == pattern(NSECT, 0), "write across the capacity: IOERR, the tail untouched");
	h = hdr(&d, VIRTIO_BLK_T_OUT, 0);
	{
		struct vd_seg segs[] = { { h, 16 }, { data, 512 }, { data + 512, 512 }, { st_gpa, 1 } };

		r = submit(&d, segs, 2, 2, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_IOERR && r.len == 513 && pread(img, back, 512, 0) == 512 &&
	   sectors_match(back, 0, 1), "OUT with writable data: IOERR, nothing written");
	h = hdr(&d, VIRTIO_BLK_T_FLUSH, 0);
	{
		struct vd_seg segs[] = { { h, 16 }, { st_gpa, 1 } };

		r = submit(&d, segs, 1, 1, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_OK, "flush: OK");

	/* A driver without FLUSH gets write-through (fdatasync per write). */
	ok(vd_start(&d, 1ULL << VIRTIO_BLK_F_SEG_MAX, 1) == 0, "restarted without FLUSH");
	h = hdr(&d, VIRTIO_BLK_T_OUT, 8);
	memset(vd_ptr(&d, data, 512), 0x3c, 512);
	{
		struct vd_seg segs[] = { { h, 16 }, { data, 512 }, { st_gpa, 1 } };

		r = submit(&d, segs, 2, 1, st_gpa);
	}
	ok(r.used == 1 && r.status == VIRTIO_BLK_S_OK && pread(img, back, 512, 8 * 512) == 512 && back[511] == 0x3c,
	   "write-through write: OK");
	vmm_blk_destroy(&b);
}

/* Notifications through the ioeventfd, served on the loop's thread. */
static void test_ioeventfd(struct vmm_memory *mem, int img)
{
	struct vmm_loop *loop = NULL;
	struct vmm_blk *b = NULL;
	struct lv_error *err = NULL;
	uint64_t h, data, st_gpa;
	uint16_t id;
	uint32_t len;
	struct vd d;
	int head;

	ok(vmm_loop_create(&loop, &err) == 0 &&
	   vmm_blk_create(mem, BASE, 5, true, loop, img, true, NULL, &b, &err) == 0 &&
	   vmm_blk_mmio(b)->notify_fd >= 0,
	   "blk with an ioeventfd (%s)", err ? err->msg : "ok");
	if (!b) {
		lv_error_free(&err);
		vmm_loop_destroy(&loop);
		return;
	}
	vd_attach(&d, mem, vmm_blk_mmio(b));
	d.kick_eventfd = true;
	ok(vd_start(&d, FEATS_RO, 1) == 0, "driver started");
	h = hdr(&d, VIRTIO_BLK_T_IN, 9);
	data = vd_alloc(&d, 512);
	st_gpa = vd_alloc(&d, 1);
	{
		struct vd_seg segs[] = { { h, 16 }, { data, 512 }, { st_gpa, 1 } };

		head = vd_add(&d, 0, segs, 1, 2);
	}
	vd_kick(&d, 0);
	ok(vd_used(&d, 0, &id, &len) == 0, "nothing happens before the loop runs");
	ok(vmm_loop_run_once(loop, 1000, &err) == 1, "the loop runs the notify_fd callback");
	ok(vd_used(&d, 0, &id, &len) == 1 && id == head && len == 513 &&
	   *(uint8_t *)vd_ptr(&d, st_gpa, 1) == VIRTIO_BLK_S_OK && sectors_match(vd_ptr(&d, data, 512), 9, 1),
	   "the request was served");
	vmm_blk_destroy(&b);
	ok(vmm_loop_run_once(loop, 0, &err) == 0, "destroy took notify_fd out of the loop");
	vmm_loop_destroy(&loop);
	lv_error_free(&err);
}

int main(void)
{
	struct vmm_memory *mem = NULL;
	struct lv_error *err = NULL;
	cleanup_close int img = make_image();

	ok(img >= 0, "image of %llu bytes", (unsigned long long)IMG_SIZE);
	if (vmm_memory_create(16 * MiB, &mem, &err) < 0 || img < 0) {
		ok(0, "16 MiB of guest RAM (%s)", err ? err->msg : "");
		lv_error_free(&err);
		return tap_done();
	}
	test_create_errors(mem, img);
	test_read_only(mem, img);
	test_writable(mem);
	test_ioeventfd(mem, img);
	vmm_memory_destroy(&mem);
	return tap_done();
}
