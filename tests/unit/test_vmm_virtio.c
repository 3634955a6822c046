/* vmm/virtio_mmio: the transport's register semantics, feature and queue
 * validation, data path (QueueNotify and ioeventfd) and hostile rings, with
 * a test device, driven through tests/unit/virtio_driver.h.  The ring walker
 * alone is in test_vmm_virtqueue.c.  Needs no /dev/kvm. */
#include "../../lib/cleanup.h"
#include "../../vmm/virtio_mmio.h"
#include "tap.h"
#include "virtio_driver.h"

#include <linux/virtio_ring.h>
#include <stdint.h>

#define MiB (1ULL << 20)

/* ---- virtio-mmio transport, with a test device ---------------------------- */

#define TDEV_BASE    0xd0000000ULL
#define TDEV_IRQ     5
#define TDEV_QUEUES  2
#define TDEV_FEATURE (1ULL << 3)

/* Queue 0: echoes "got N" into the writable part for N readable bytes. */
struct tdev {
	struct vmm_virtio_mmio m;
	uint8_t config[12];
	int activations, resets, notifies;
	int notified[TDEV_QUEUES]; /* notifies per queue */
	int fail_activate;
	char last_out[64];
};

static void tdev_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct tdev *t = dev;

	memcpy(data, t->config + off, len);
}

static void tdev_config_write(void *dev, uint32_t off, const uint8_t *data, uint32_t len)
{
	struct tdev *t = dev;

	memcpy(t->config + off, data, len);
}

static int tdev_activate(void *dev, struct lv_error **err)
{
	struct tdev *t = dev;

	t->activations++;
	if (t->fail_activate)
		return lv_err_msg(err, EIO, "test device refuses to start");
	return 0;
}

static void tdev_reset(void *dev)
{
	struct tdev *t = dev;

	t->resets++;
}

static int tdev_notify(void *dev, unsigned int q, struct lv_error **err)
{
	struct tdev *t = dev;
	struct vmm_vq *vq = &t->m.vqs[q];
	struct vmm_vq_chain c;
	int r;

	t->notifies++;
	t->notified[q]++;
	while ((r = vmm_vq_pop(vq, &c, err)) == 1) {
		char reply[32];
		size_t n = vmm_vq_chain_to_host(&c, 0, t->last_out, sizeof(t->last_out) - 1);
		int len;

		t->last_out[n] = 0;
		len = snprintf(reply, sizeof(reply), "got %llu", (unsigned long long)c.out_bytes);
		n = vmm_vq_chain_from_host(&c, 0, reply, (size_t)len);
		r = vmm_vq_push(vq, &c, (uint32_t)n, err);
		if (r < 0)
			return r;
		vmm_virtio_mmio_interrupt(&t->m, (int)q, VMM_VIRTIO_INT_VRING);
	}
	return r;
}

static const struct vmm_virtio_dev_ops tdev_ops = {
	.name = "test",
	.device_id = 42,
	.features = TDEV_FEATURE,
	.num_queues = TDEV_QUEUES,
	.queue_max = 16,
	.config_size = 12,
	.config_read = tdev_config_read,
	.config_write = tdev_config_write,
	.activate = tdev_activate,
	.reset = tdev_reset,
	.notify = tdev_notify,
};

static int tdev_init(struct tdev *t, struct vmm_memory *mem, bool ioeventfd)
{
	struct lv_error *err = NULL;
	int r;

	memset(t, 0, sizeof(*t));
	memcpy(t->config, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12);
	r = vmm_virtio_mmio_init(&t->m, &tdev_ops, t, mem, TDEV_BASE, TDEV_IRQ, ioeventfd, &err);
	if (r < 0)
		printf("# tdev_init: %s\n", err->msg);
	lv_error_free(&err);
	return r;
}

static void test_mmio_init(struct vmm_memory *mem)
{
	struct vmm_virtio_dev_ops ops;
	struct vmm_virtio_mmio m;
	struct lv_error *err = NULL;
	struct tdev t;
	char line[80];
	static const struct {
		const char *what;
		unsigned int queues;
		uint16_t qmax;
		uint32_t config;
		uint64_t features, base;
	} bad[] = {
		{ "9 queues", 9, 16, 12, 0, TDEV_BASE },
		{ "queue max 0", 2, 0, 12, 0, TDEV_BASE },
		{ "queue max 24", 2, 24, 12, 0, TDEV_BASE },
		{ "queue max 512", 2, 512, 12, 0, TDEV_BASE },
		{ "config of 257 bytes", 2, 16, 257, 0, TDEV_BASE },
		{ "INDIRECT_DESC offered by the device", 2, 16, 12, 1ULL << VIRTIO_RING_F_INDIRECT_DESC, TDEV_BASE },
		{ "VERSION_1 offered by the device", 2, 16, 12, 1ULL << VIRTIO_F_VERSION_1, TDEV_BASE },
		{ "window below the hole", 2, 16, 12, 0, 0x100000 },
		{ "misaligned window", 2, 16, 12, 0, TDEV_BASE + 0x100 },
		{ "window crossing 4 GiB", 2, 16, 12, 0, VMM_MMIO_HOLE_END - 0x100 },
	};
	size_t i;

	for (i = 0; i < LV_ARRAY_SIZE(bad); i++) {
		ops = tdev_ops;
		ops.num_queues = bad[i].queues;
		ops.queue_max = bad[i].qmax;
		ops.config_size = bad[i].config;
		ops.features = bad[i].features;
		ok(vmm_virtio_mmio_init(&m, &ops, NULL, mem, bad[i].base, 5, false, &err) == -EINVAL &&
		   m.irq_fd == -1, "init refuses %s (%s)", bad[i].what, err ? err->msg : "");
		lv_error_free(&err);
	}
	ok(tdev_init(&t, mem, true) == 0 && t.m.irq_fd >= 0 && t.m.notify_fd >= 0, "init with an ioeventfd");
	ok(vmm_virtio_mmio_cmdline(&t.m, line, sizeof(line)) == (int)strlen("virtio_mmio.device=0x200@0xd0000000:5"),
	   "command line length");
	is_str(line, "virtio_mmio.device=0x200@0xd0000000:5", "command line fragment");
	vmm_virtio_mmio_fini(&t.m);
	ok(t.m.irq_fd == -1 && t.m.notify_fd == -1, "fini closes both eventfds");
}

static void test_mmio_registers(struct vmm_memory *mem)
{
	struct lv_error *err = NULL;
	struct tdev t;
	struct vd d;
	uint8_t b8[8];
	uint16_t v16 = 0xffff;
	uint32_t v;
	unsigned long bad;

	tdev_init(&t, mem, false);
	vd_attach(&d, mem, &t.m);
	ok(vd_read(&d, VIRTIO_MMIO_MAGIC_VALUE) == 0x74726976, "MagicValue 'virt'");
	ok(vd_read(&d, VIRTIO_MMIO_VERSION) == 2, "Version 2");
	ok(vd_read(&d, VIRTIO_MMIO_DEVICE_ID) == 42, "DeviceID from the ops");
	ok(vd_read(&d, VIRTIO_MMIO_VENDOR_ID) == 0x4c564d31, "VendorID 'LVM1'");
	vd_write(&d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	ok(vd_read(&d, VIRTIO_MMIO_DEVICE_FEATURES) == TDEV_FEATURE, "features 0..31: the device's");
	vd_write(&d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	ok(vd_read(&d, VIRTIO_MMIO_DEVICE_FEATURES) == 1, "features 32..63: VERSION_1");
	vd_write(&d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 7);
	ok(vd_read(&d, VIRTIO_MMIO_DEVICE_FEATURES) == 0, "features selector 7: 0");
	vd_write(&d, VIRTIO_MMIO_QUEUE_SEL, 1);
	ok(vd_read(&d, VIRTIO_MMIO_QUEUE_NUM_MAX) == 16, "QueueNumMax of queue 1");
	vd_write(&d, VIRTIO_MMIO_QUEUE_SEL, 2);
	ok(vd_read(&d, VIRTIO_MMIO_QUEUE_NUM_MAX) == 0 && vd_read(&d, VIRTIO_MMIO_QUEUE_READY) == 0,
	   "queue 2 does not exist: QueueNumMax 0");
	ok(vd_read(&d, VIRTIO_MMIO_SHM_LEN_LOW) == 0xffffffff && vd_read(&d, VIRTIO_MMIO_SHM_LEN_HIGH) == 0xffffffff,
	   "no shared memory regions");

	bad = t.m.bad_accesses;
	ok(vmm_virtio_mmio_access(&t.m, VIRTIO_MMIO_MAGIC_VALUE, false, (uint8_t *)&v16, 2, &err) == 0 &&
	   v16 == 0 && t.m.bad_accesses == bad + 1, "2-byte register read: 0, counted");
	v = 0xffffffff;
	ok(vmm_virtio_mmio_access(&t.m, VIRTIO_MMIO_VERSION + 1, false, (uint8_t *)&v, 4, &err) == 0 && v == 0 &&
	   t.m.bad_accesses == bad + 2, "unaligned register read: 0, counted");
	vd_write(&d, VIRTIO_MMIO_MAGIC_VALUE, 0);
	ok(t.m.bad_accesses == bad + 3 && vd_read(&d, VIRTIO_MMIO_MAGIC_VALUE) == 0x74726976,
	   "write to MagicValue: ignored, counted");
	ok(vd_read(&d, VIRTIO_MMIO_QUEUE_NOTIFY) == 0 && t.m.bad_accesses == bad + 4, "read of QueueNotify: counted");
	ok(vd_read(&d, VIRTIO_MMIO_QUEUE_PFN) == 0 && t.m.bad_accesses == bad + 5, "legacy QueuePFN: counted");
	vd_write(&d, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	ok(t.m.bad_accesses == bad + 6, "legacy GuestPageSize write: counted");
	ok(vmm_virtio_mmio_access(&t.m, 0x200, false, b8, 4, &err) == 0 && t.m.bad_accesses == bad + 7,
	   "read beyond the window: counted");
	ok(vmm_virtio_mmio_access(&t.m, 0, false, b8, 9, &err) == -EINVAL && err, "9-byte access: host-side error");
	lv_error_free(&err);

	/* Config space: 1, 2, 4 and 8-byte accesses inside its 12 bytes. */
	vd_config_read(&d, 3, b8, 1);
	ok(b8[0] == 4, "config byte 3");
	v16 = 0;
	vd_config_read(&d, 2, &v16, 2);
	ok(v16 == 0x0403, "config half-word at 2");
	vd_config_read(&d, 4, &v, 4);
	ok(v == 0x08070605, "config word at 4");
	vd_config_read(&d, 4, b8, 8);
	ok(memcmp(b8, "\x05\x06\x07\x08\x09\x0a\x0b\x0c", 8) == 0, "config 8 bytes at 4 (split in two)");
	bad = t.m.bad_accesses;
	memset(b8, 0xff, 8);
	vd_config_read(&d, 8, b8, 8);
	ok(b8[0] == 0 && b8[7] == 0 && t.m.bad_accesses == bad + 1, "config read past its end: zeros, counted");
	vd_config_read(&d, 0, b8, 3);
	ok(t.m.bad_accesses == bad + 2, "3-byte config access: counted");
	vd_config_read(&d, 0xfc, b8, 4);
	ok(t.m.bad_accesses == bad + 3, "config read beyond config_size inside the window: counted");
	vd_config_write(&d, 10, "\xaa\xbb", 2);
	ok(t.config[10] == 0xaa && t.config[11] == 0xbb, "config write reaches the device");
	vmm_virtio_mmio_fini(&t.m);
}

static void test_mmio_features(struct vmm_memory *mem)
{
	struct tdev t;
	struct vd d;
	unsigned long bad;

	tdev_init(&t, mem, false);
	vd_attach(&d, mem, &t.m);
	vd_reset(&d);
	ok(vd_negotiate_raw(&d, TDEV_FEATURE) < 0 && !(vd_status(&d) & VIRTIO_CONFIG_S_FEATURES_OK),
	   "no VERSION_1 (a legacy driver): FEATURES_OK refused");
	vd_reset(&d);
	ok(vd_negotiate(&d, 1ULL << 5) < 0, "a feature bit not offered: FEATURES_OK refused");
	vd_reset(&d);
	ok(vd_negotiate(&d, 1ULL << VIRTIO_RING_F_EVENT_IDX) < 0, "EVENT_IDX (not offered): refused");
	vd_reset(&d);
	ok(vd_negotiate(&d, TDEV_FEATURE) == 0 && t.m.driver_features == (TDEV_FEATURE | (1ULL << 32)),
	   "VERSION_1 + the device's feature: accepted");
	bad = t.m.bad_accesses;
	vd_write(&d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vd_write(&d, VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);
	ok(t.m.driver_features == (TDEV_FEATURE | (1ULL << 32)) && t.m.bad_accesses == bad + 1,
	   "DriverFeatures frozen after FEATURES_OK");
	vd_write(&d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ok((vd_status(&d) & VIRTIO_CONFIG_S_FEATURES_OK) && t.m.bad_accesses == bad + 2,
	   "clearing status bits without a reset: ignored, counted");

	vd_reset(&d);
	vd_set_status(&d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vd_set_status(&d, VIRTIO_CONFIG_S_DRIVER_OK);
	ok(t.m.broken && (vd_status(&d) & VIRTIO_CONFIG_S_NEEDS_RESET) && !(vd_status(&d) & VIRTIO_CONFIG_S_DRIVER_OK) &&
	   t.activations == 0, "DRIVER_OK without FEATURES_OK: broken, not activated (%s)", t.m.broken_msg);
	ok(vd_irqs(&d) == 1 && vd_isr_ack(&d) == VMM_VIRTIO_INT_CONFIG && vd_read(&d, VIRTIO_MMIO_INTERRUPT_STATUS) == 0,
	   "breaking raised a config interrupt; ACK clears it");
	vd_reset(&d);
	ok(!t.m.broken && vd_status(&d) == 0 && t.m.driver_features == 0 && t.resets >= 1,
	   "reset: not broken, status and features cleared, device reset");

	t.fail_activate = 1;
	ok(vd_start(&d, TDEV_FEATURE, 2) < 0 && t.m.broken && t.activations == 1,
	   "activation failure: broken (%s)", t.m.broken_msg);
	t.fail_activate = 0;
	vd_irqs(&d);
	ok(vd_start(&d, TDEV_FEATURE, 2) == 0 && t.activations == 2 && vmm_virtio_mmio_live(&t.m),
	   "a reset and a new start: live");
	vmm_virtio_mmio_fini(&t.m);
}

/* Sets up queue qi by hand with the given layout; returns QueueReady. */
static uint32_t setup_queue_raw(struct vd *d, unsigned int qi, uint32_t num, uint64_t desc, uint64_t avail,
				uint64_t used)
{
	vd_write(d, VIRTIO_MMIO_QUEUE_SEL, qi);
	vd_write(d, VIRTIO_MMIO_QUEUE_NUM, num);
	vd_write64(d, VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
	vd_write64(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, avail);
	vd_write64(d, VIRTIO_MMIO_QUEUE_USED_LOW, used);
	vd_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return vd_read(d, VIRTIO_MMIO_QUEUE_READY);
}

static void test_mmio_queues(struct vmm_memory *mem)
{
	static const struct {
		const char *what;
		uint32_t num;
		uint64_t desc, avail, used;
	} bad[] = {
		{ "32 entries (QueueNumMax 16)", 32, 0x100000, 0x101000, 0x102000 },
		{ "65536 entries", 65536, 0x100000, 0x101000, 0x102000 },
		{ "no QueueNum written", 0, 0x100000, 0x101000, 0x102000 },
		{ "6 entries", 6, 0x100000, 0x101000, 0x102000 },
		{ "descriptors misaligned", 16, 0x100008, 0x101000, 0x102000 },
		{ "descriptors in the MMIO hole", 16, 0xfec00000, 0x101000, 0x102000 },
		{ "device area above RAM", 16, 0x100000, 0x101000, 0x100000000ULL },
		{ "driver area at 2^64 - 2", 16, 0x100000, UINT64_MAX - 1, 0x102000 },
	};
	struct tdev t;
	struct vd d;
	unsigned long bad_count;
	size_t i;

	tdev_init(&t, mem, false);
	vd_attach(&d, mem, &t.m);
	for (i = 0; i < LV_ARRAY_SIZE(bad); i++) {
		vd_reset(&d);
		vd_negotiate(&d, 0);
		vd_write(&d, VIRTIO_MMIO_QUEUE_SEL, 0);
		ok(setup_queue_raw(&d, 0, bad[i].num, bad[i].desc, bad[i].avail, bad[i].used) == 0 && t.m.broken &&
		   (vd_status(&d) & VIRTIO_CONFIG_S_NEEDS_RESET), "queue with %s: not ready, broken (%s)",
		   bad[i].what, t.m.broken_msg);
	}
	vd_reset(&d);
	vd_negotiate(&d, 0);
	ok(setup_queue_raw(&d, 0, 16, 0x100000, 0x101000, 0x102000) == 1 && !t.m.broken, "a good queue: ready");
	bad_count = t.m.bad_accesses;
	vd_write(&d, VIRTIO_MMIO_QUEUE_NUM, 8);
	vd_write(&d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x200000);
	ok(t.m.vqs[0].size == 16 && t.m.vqs[0].desc_gpa == 0x100000 && t.m.bad_accesses == bad_count + 2,
	   "queue registers frozen while the queue is ready");
	vd_write(&d, VIRTIO_MMIO_QUEUE_READY, 1);
	ok(t.m.bad_accesses == bad_count + 3, "QueueReady=1 twice: counted");
	vd_write(&d, VIRTIO_MMIO_QUEUE_READY, 0);
	ok(vd_read(&d, VIRTIO_MMIO_QUEUE_READY) == 0 && !t.m.broken, "QueueReady=0 before DRIVER_OK: queue off");
	vd_write(&d, VIRTIO_MMIO_QUEUE_SEL, 5);
	vd_write(&d, VIRTIO_MMIO_QUEUE_NUM, 8);
	vd_write(&d, VIRTIO_MMIO_QUEUE_READY, 1);
	ok(t.m.bad_accesses == bad_count + 5 && !t.m.broken, "registers of a queue that does not exist: counted");

	ok(vd_start(&d, 0, 2) == 0, "started");
	vd_write(&d, VIRTIO_MMIO_QUEUE_SEL, 1);
	vd_write(&d, VIRTIO_MMIO_QUEUE_READY, 0);
	ok(t.m.broken && !t.m.vqs[1].ready, "QueueReady=0 while live: broken (%s)", t.m.broken_msg);
	vd_reset(&d);
	ok(!t.m.broken && !t.m.vqs[0].ready && t.m.vqs[0].size == 0 && t.m.vqs[0].desc_gpa == 0,
	   "reset clears the queues' registers");
	vmm_virtio_mmio_fini(&t.m);
}

static void test_mmio_datapath(struct vmm_memory *mem, bool ioeventfd)
{
	struct tdev t;
	struct vd d;
	struct vd_seg segs[3];
	uint16_t id = 0xffff;
	uint32_t len = 0;
	int head;
	const char *how = ioeventfd ? "ioeventfd" : "QueueNotify";

	tdev_init(&t, mem, ioeventfd);
	vd_attach(&d, mem, &t.m);
	d.kick_eventfd = ioeventfd;
	segs[0] = (struct vd_seg){ vd_alloc(&d, 6), 6 };
	segs[1] = (struct vd_seg){ vd_alloc(&d, 5), 5 };
	segs[2] = (struct vd_seg){ vd_alloc(&d, 16), 16 };
	memcpy(vd_ptr(&d, segs[0].gpa, 6), "hello ", 6);
	memcpy(vd_ptr(&d, segs[1].gpa, 5), "world", 5);

	/* A kick before DRIVER_OK is dropped; activation would pick it up. */
	vd_reset(&d);
	vd_negotiate(&d, 0);
	vd_queue_setup(&d, 0, 0);
	vd_add(&d, 0, segs, 2, 1);
	vd_write(&d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ok(t.notifies == 0, "%s: kick before DRIVER_OK: not passed to the device", how);

	ok(vd_start(&d, 0, 2) == 0 && t.activations == 1, "%s: device started", how);
	head = vd_add(&d, 0, segs, 2, 1);
	vd_kick(&d, 0);
	if (ioeventfd) {
		ok(t.notifies == 0, "ioeventfd: nothing happens until the device thread runs");
		vmm_virtio_mmio_notify_all(&t.m);
	}
	ok(t.notified[0] == 1 && strcmp(t.last_out, "hello world") == 0, "%s: device read 'hello world' across two buffers",
	   how);
	ok(vd_used(&d, 0, &id, &len) == 1 && id == head && len == 6 &&
	   memcmp(vd_ptr(&d, segs[2].gpa, 6), "got 11", 6) == 0, "%s: used {head %d, 6}: 'got 11' written", how, head);
	ok(vd_used(&d, 0, &id, &len) == 0, "%s: no more used entries", how);
	ok(vd_irqs(&d) == 1 && vd_isr_ack(&d) == VMM_VIRTIO_INT_VRING, "%s: one VRING interrupt", how);

	vd_avail(&d, 0)->flags = VRING_AVAIL_F_NO_INTERRUPT;
	vd_add(&d, 0, segs, 1, 1);
	vd_kick(&d, 0);
	vmm_virtio_mmio_notify_all(&t.m);
	ok(vd_used(&d, 0, &id, &len) == 1 && len == 5 && vd_irqs(&d) == 0 &&
	   vd_read(&d, VIRTIO_MMIO_INTERRUPT_STATUS) == 0, "%s: NO_INTERRUPT: used entry, no interrupt", how);
	vd_avail(&d, 0)->flags = 0;

	/* An empty chain (a single zero-length buffer) is allowed. */
	segs[0].len = 0;
	vd_add(&d, 0, segs, 1, 0);
	vd_kick(&d, 0);
	vmm_virtio_mmio_notify_all(&t.m);
	ok(vd_used(&d, 0, &id, &len) == 1 && len == 0 && !t.m.broken, "%s: zero-length chain: used, 0 written", how);
	vmm_virtio_mmio_fini(&t.m);
}

/* Each hostile ring: the device breaks, says so, ignores kicks until reset,
 * and works again after one. */
static void test_mmio_hostile(struct vmm_memory *mem)
{
	enum { LOOP, HEAD, NEXT, OUT_OF_RAM, HOLE, HUGE, ORDER, JUMP, INDIRECT, NCASES };
	static const char *const names[] = { "descriptor loop", "head out of range", "next out of range",
					     "buffer beyond RAM", "buffer in the MMIO hole", "length 4 GiB - 1",
					     "readable after writable", "avail idx jump", "INDIRECT" };
	struct tdev t;
	struct vd d;
	struct vd_seg seg;
	int c;

	tdev_init(&t, mem, false);
	vd_attach(&d, mem, &t.m);
	seg = (struct vd_seg){ vd_alloc(&d, 64), 64 };
	for (c = 0; c < NCASES; c++) {
		struct vring_desc *desc;
		uint16_t id;
		uint32_t len;
		int notifies;

		vd_irqs(&d);
		vd_start(&d, 0, 1);
		desc = vd_desc(&d, 0);
		desc[0] = (struct vring_desc){ .addr = seg.gpa, .len = 8, .flags = VRING_DESC_F_NEXT, .next = 1 };
		desc[1] = (struct vring_desc){ .addr = seg.gpa + 8, .len = 8, .flags = VRING_DESC_F_WRITE };
		switch (c) {
		case LOOP: desc[1].flags = VRING_DESC_F_NEXT; desc[1].next = 0; break;
		case HEAD: break;
		case NEXT: desc[0].next = 16; break;
		case OUT_OF_RAM: desc[1].addr = mem->size - 4; break;
		case HOLE: desc[0].addr = 0xfee00000ULL; break;
		case HUGE: desc[1].len = UINT32_MAX; break;
		case ORDER: desc[0].flags |= VRING_DESC_F_WRITE; desc[1].flags = 0; break;
		case JUMP: break;
		case INDIRECT: desc[1].flags |= VRING_DESC_F_INDIRECT; break;
		}
		vd_publish(&d, 0, c == HEAD ? 16 : 0);
		if (c == JUMP)
			vd_avail(&d, 0)->idx = 17;
		vd_kick(&d, 0);
		ok(t.m.broken && (vd_status(&d) & VIRTIO_CONFIG_S_NEEDS_RESET) && vd_irqs(&d) == 1 &&
		   (vd_isr_ack(&d) & VMM_VIRTIO_INT_CONFIG) && vd_used(&d, 0, &id, &len) == 0,
		   "%s: broken, config interrupt, nothing used (%s)", names[c], t.m.broken_msg);
		notifies = t.notifies;
		vd_kick(&d, 0);
		ok(t.notifies == notifies, "%s: kicks ignored while broken", names[c]);
		vd_reset(&d);
		ok(vd_start(&d, 0, 1) == 0 && vd_add(&d, 0, &seg, 1, 0) >= 0, "%s: works again after a reset", names[c]);
		vd_kick(&d, 0);
		ok(vd_used(&d, 0, &id, &len) == 1 && !t.m.broken, "%s: and a good chain goes through", names[c]);
	}
	vmm_virtio_mmio_fini(&t.m);
}

int main(void)
{
	struct vmm_memory *mem = NULL;
	struct lv_error *err = NULL;

	if (vmm_memory_create(16 * MiB, &mem, &err) < 0) {
		printf("Bail out! guest RAM: %s\n", err->msg);
		return 1;
	}
	test_mmio_init(mem);
	test_mmio_registers(mem);
	test_mmio_features(mem);
	test_mmio_queues(mem);
	test_mmio_datapath(mem, false);
	test_mmio_datapath(mem, true);
	test_mmio_hostile(mem);
	vmm_memory_destroy(&mem);
	return tap_done();
}
