/* virtio-fs as a vhost-user-fs device; see virtio_fs.h. */
#include "virtio_fs.h"

#include <endian.h>
#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vhost_user.h"

#define FS_CONFIG_SIZE (VMM_FS_TAG_MAX + 4U)

struct vmm_fs {
	struct vmm_virtio_mmio mmio;
	struct vmm_vhost_user vu;
	struct vmm_loop *loop;
	uint8_t config[FS_CONFIG_SIZE];
	int kick_fd[VMM_FS_NUM_QUEUES];
	int call_fd[VMM_FS_NUM_QUEUES];
	bool call_in_loop[VMM_FS_NUM_QUEUES];
	bool started[VMM_FS_NUM_QUEUES];  /* rings the backend serves */
	char name[48];                    /* "fs lvfs0": the transport says "virtio-fs lvfs0" */
	struct vmm_virtio_dev_ops ops;
};

static void fs_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct vmm_fs *fs = dev;

	memcpy(data, fs->config + off, len);
}

static void drain(int fd)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
}

/* With the lock held (transport), on a vCPU thread. */
static int fs_activate(void *dev, struct lv_error **err)
{
	struct vmm_fs *fs = dev;
	const struct vmm_memory *mem = fs->mmio.mem;
	unsigned int q, n = 0;
	int r;

	r = vmm_vu_set_features(&fs->vu, fs->mmio.driver_features, err);
	if (r < 0)
		return r;
	r = vmm_vu_set_mem_table(&fs->vu, mem, err);
	if (r < 0)
		return r;
	for (q = 0; q < VMM_FS_NUM_QUEUES; q++) {
		const struct vmm_vq *vq = &fs->mmio.vqs[q];
		struct vmm_vu_vring ring = { .index = q, .size = vq->size, .kick_fd = fs->kick_fd[q],
					     .call_fd = fs->call_fd[q] };
		void *desc, *avail, *used;

		if (!vq->ready)
			continue;
		/* The transport checked the layout when the queue went ready;
		 * the backend gets our addresses of the same ranges. */
		desc = vmm_gpa_to_hva(mem, vq->desc_gpa, 16ULL * vq->size);
		avail = vmm_gpa_to_hva(mem, vq->avail_gpa, 6ULL + 2ULL * vq->size);
		used = vmm_gpa_to_hva(mem, vq->used_gpa, 6ULL + 8ULL * vq->size);
		if (!desc || !avail || !used)
			return lv_err_msg(err, EFAULT, "queue %u: rings outside guest RAM", q);
		ring.desc = (uint64_t)(uintptr_t)desc;
		ring.avail = (uint64_t)(uintptr_t)avail;
		ring.used = (uint64_t)(uintptr_t)used;
		r = vmm_vu_start_vring(&fs->vu, &ring, err);
		if (r < 0)
			return r;
		fs->started[q] = true;
		n++;
	}
	if (!fs->started[VMM_FS_NUM_QUEUES - 1])
		return lv_err_msg(err, EINVAL, "the request queue is not ready (%u of %u queues)", n,
				  VMM_FS_NUM_QUEUES);
	return 0;
}

/* With the lock held: stop what the backend serves, forget pending kicks
 * and calls. */
static void fs_reset(void *dev)
{
	struct vmm_fs *fs = dev;
	unsigned int q;

	for (q = 0; q < VMM_FS_NUM_QUEUES; q++) {
		struct lv_error *err = NULL;
		uint32_t base;

		if (fs->started[q] && vmm_vu_stop_vring(&fs->vu, q, &base, &err) < 0)
			lv_error_free(&err); /* a dead backend stops nothing: the VM goes on without it */
		fs->started[q] = false;
		drain(fs->kick_fd[q]);
		drain(fs->call_fd[q]);
	}
}

/* A QueueNotify that KVM's ioeventfd did not catch (no KVM in a test, or
 * a write KVM did not match): the same kick, by hand. */
static int fs_notify(void *dev, unsigned int q, struct lv_error **err)
{
	struct vmm_fs *fs = dev;
	uint64_t one = 1;

	if (q < VMM_FS_NUM_QUEUES && fs->started[q])
		(void)!write(fs->kick_fd[q], &one, sizeof(one));
	return 0;
}

/* Device thread: the backend used buffers on some ring. */
static void fs_call(void *opaque, uint32_t events)
{
	struct vmm_fs *fs = opaque;
	unsigned int q;

	(void)events;
	for (q = 0; q < VMM_FS_NUM_QUEUES; q++)
		drain(fs->call_fd[q]);
	pthread_mutex_lock(&fs->mmio.lock);
	if (vmm_virtio_mmio_live(&fs->mmio))
		/* q = -1: the backend already applied the ring's own
		 * interrupt suppression. */
		vmm_virtio_mmio_interrupt(&fs->mmio, -1, VMM_VIRTIO_INT_VRING);
	pthread_mutex_unlock(&fs->mmio.lock);
}

int vmm_fs_create(const struct vmm_memory *mem, uint64_t base, unsigned int irq, struct vmm_loop *loop,
		  int sock_fd, const char *tag, int timeout_ms, struct vmm_fs **out, struct lv_error **err)
{
	size_t tlen = tag ? strlen(tag) : 0;
	uint32_t nreq = htole32(1);
	struct vmm_fs *fs;
	unsigned int q;
	int r, dup_fd;

	if (tlen == 0 || tlen > VMM_FS_TAG_MAX)
		return lv_err_msg(err, EINVAL, "fs: tag \"%s\" must be 1 to %u bytes", tag ? tag : "", VMM_FS_TAG_MAX);
	if (!loop)
		return lv_err_msg(err, EINVAL, "fs %s: needs the device loop", tag);
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return lv_err(err, ENOMEM, "fs %s", tag);
	for (q = 0; q < VMM_FS_NUM_QUEUES; q++)
		fs->kick_fd[q] = fs->call_fd[q] = -1;
	fs->vu.fd = -1;
	fs->loop = loop;
	snprintf(fs->name, sizeof(fs->name), "fs %s", tag);
	memcpy(fs->config, tag, tlen);
	memcpy(fs->config + VMM_FS_TAG_MAX, &nreq, sizeof(nreq));
	fs->ops = (struct vmm_virtio_dev_ops){
		.name = fs->name,
		.device_id = VIRTIO_ID_FS,
		.features = 0,  /* no VIRTIO_FS_F_NOTIFICATION */
		.num_queues = VMM_FS_NUM_QUEUES,
		.queue_max = VMM_FS_QUEUE_SIZE,
		.config_size = FS_CONFIG_SIZE,
		.config_read = fs_config_read,
		.activate = fs_activate,
		.reset = fs_reset,
		.notify = fs_notify,
	};
	dup_fd = fcntl(sock_fd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0) {
		r = lv_err(err, errno, "fs %s: backend socket %d", tag, sock_fd);
		goto fail_free;
	}
	r = vmm_vu_init(&fs->vu, dup_fd, "vhost-user", timeout_ms, err);  /* takes dup_fd */
	if (r < 0)
		goto fail_free;
	for (q = 0; q < VMM_FS_NUM_QUEUES; q++) {
		fs->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		fs->call_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fs->kick_fd[q] < 0 || fs->call_fd[q] < 0) {
			r = lv_err(err, errno, "fs %s: eventfd", tag);
			goto fail_fds;
		}
	}
	r = vmm_virtio_mmio_init(&fs->mmio, &fs->ops, fs, mem, base, irq, false, err);
	if (r < 0)
		goto fail_fds;
	for (q = 0; q < VMM_FS_NUM_QUEUES; q++) {
		r = vmm_loop_add(loop, fs->call_fd[q], EPOLLIN, fs_call, fs, err);
		if (r < 0)
			goto fail_loop;
		fs->call_in_loop[q] = true;
	}
	*out = fs;
	return 0;

fail_loop:
	for (q = 0; q < VMM_FS_NUM_QUEUES; q++)
		if (fs->call_in_loop[q])
			vmm_loop_del(loop, fs->call_fd[q]);
	vmm_virtio_mmio_fini(&fs->mmio);
fail_fds:
	for (q = 0; q < VMM_FS_NUM_QUEUES; q++) {
		if (fs->kick_fd[q] >= 0)
			close(fs->kick_fd[q]);
		if (fs->call_fd[q] >= 0)
			close(fs->call_fd[q]);
	}
	vmm_vu_fini(&fs->vu);
fail_free:
	free(fs);
	return r;
}

struct vmm_virtio_mmio *vmm_fs_mmio(struct vmm_fs *fs)
{
	return &fs->mmio;
}

int vmm_fs_kick_fd(const struct vmm_fs *fs, unsigned int q)
{
	return q < VMM_FS_NUM_QUEUES ? fs->kick_fd[q] : -1;
}

void vmm_fs_destroy(struct vmm_fs **fsp)
{
	struct vmm_fs *fs = *fsp;
	unsigned int q;

	if (!fs)
		return;
	for (q = 0; q < VMM_FS_NUM_QUEUES; q++)
		if (fs->call_in_loop[q])
			vmm_loop_del(fs->loop, fs->call_fd[q]);
	vmm_virtio_mmio_fini(&fs->mmio);
	/* The socket first: the backend stops touching guest RAM and the
	 * eventfds when its session ends. */
	vmm_vu_fini(&fs->vu);
	for (q = 0; q < VMM_FS_NUM_QUEUES; q++) {
		close(fs->kick_fd[q]);
		close(fs->call_fd[q]);
	}
	free(fs);
	*fsp = NULL;
}
