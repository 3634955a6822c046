/* virtio-blk over an image fd; see virtio_blk.h.
 *
 * The request is a byte stream, whatever the descriptors' layout (virtio
 * 1.x implies ANY_LAYOUT): the header is the first 16 readable bytes, the
 * status the last writable byte, and the data what lies between them on
 * the side the request type says.  Data moves with preadv/pwritev straight
 * between the image and guest RAM; the header is copied out once, so the
 * guest cannot change it under us. */
#include "virtio_blk.h"

#include <endian.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../lib/cleanup.h"

#define BLK_HDR_LEN     16U /* le32 type, le32 reserved, le64 sector */
/* The config space we expose: capacity (le64), size_max (le32), seg_max
 * (le32).  Fields past these belong to features we do not offer. */
#define BLK_CONFIG_SIZE 16U

struct vmm_blk {
	struct vmm_virtio_mmio mmio;
	/* Per device, not static: the features depend on read_only. */
	struct vmm_virtio_dev_ops ops;
	struct vmm_loop *loop;        /* where notify_fd is registered, or NULL */
	int fd;                       /* our duplicate of the image fd */
	bool read_only;
	uint64_t capacity;            /* in sectors */
	uint8_t config[BLK_CONFIG_SIZE];
	char id[VMM_BLK_ID_BYTES];    /* GET_ID's answer, zero-padded */
	/* The request being served; 1 KiB, so kept off the vCPU's stack. */
	struct vmm_vq_chain chain;
	struct vmm_blk_stats stats;
};

/* Reads or writes all of iov at off.  A regular file may transfer less
 * than asked; end of file on a read (the image shrank) is an error. */
static int rw_all(int fd, bool write, struct iovec *iov, unsigned int n, uint64_t off)
{
	while (n) {
		ssize_t r = write ? pwritev(fd, iov, (int)n, (off_t)off) : preadv(fd, iov, (int)n, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		off += (uint64_t)r;
		while (n && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* Whether [sector, sector + len) is a whole number of sectors inside the
 * image and no more than one request may move.  Written so that nothing
 * the guest chose can overflow. */
static bool range_ok(const struct vmm_blk *b, uint64_t sector, uint64_t len)
{
	return len % VMM_BLK_SECTOR == 0 && len <= VMM_BLK_MAX_REQ && sector <= b->capacity &&
	       len / VMM_BLK_SECTOR <= b->capacity - sector;
}

static bool flush_negotiated(const struct vmm_blk *b)
{
	return b->mmio.driver_features & (1ULL << VIRTIO_BLK_F_FLUSH);
}

/* Serves one request whose writable part is in_data data bytes and the
 * status byte.  Returns the status; *filled says how many leading data
 * bytes it wrote (the caller zero-fills the rest). */
static uint8_t blk_serve(struct vmm_blk *b, const struct vmm_vq_chain *c, uint64_t in_data,
			 uint64_t *filled)
{
	struct iovec iov[VMM_VQ_MAX_CHAIN];
	uint8_t hdr[BLK_HDR_LEN];
	uint32_t type;
	uint64_t sector, len;
	unsigned int n;

	*filled = 0;
	if (c->out_bytes < BLK_HDR_LEN)
		return VIRTIO_BLK_S_IOERR;
	(void)vmm_vq_chain_to_host(c, 0, hdr, sizeof(hdr));
	memcpy(&type, hdr, sizeof(type));
	memcpy(&sector, hdr + 8, sizeof(sector));
	type = le32toh(type);
	sector = le64toh(sector);

	switch (type) {
	case VIRTIO_BLK_T_IN:
		/* Readable data after the header would be data on the wrong side. */
		if (c->out_bytes != BLK_HDR_LEN || !range_ok(b, sector, in_data))
			return VIRTIO_BLK_S_IOERR;
		n = vmm_iov_slice(c->iov + c->n_out, c->n_in, 0, in_data, iov, VMM_VQ_MAX_CHAIN);
		if (rw_all(b->fd, false, iov, n, sector * VMM_BLK_SECTOR) < 0)
			return VIRTIO_BLK_S_IOERR;
		*filled = in_data;
		b->stats.bytes_read += in_data;
		return VIRTIO_BLK_S_OK;

	case VIRTIO_BLK_T_OUT:
		len = c->out_bytes - BLK_HDR_LEN;
		if (b->read_only || in_data || !range_ok(b, sector, len))
			return VIRTIO_BLK_S_IOERR;
		n = vmm_iov_slice(c->iov, c->n_out, BLK_HDR_LEN, len, iov, VMM_VQ_MAX_CHAIN);
		if (rw_all(b->fd, true, iov, n, sector * VMM_BLK_SECTOR) < 0)
			return VIRTIO_BLK_S_IOERR;
		/* Without FLUSH the driver assumes there is no write cache. */
		if (!flush_negotiated(b) && fdatasync(b->fd) < 0)
			return VIRTIO_BLK_S_IOERR;
		b->stats.bytes_written += len;
		return VIRTIO_BLK_S_OK;

	case VIRTIO_BLK_T_FLUSH:
		/* A read-only image has nothing to flush. */
		if (!b->read_only && fdatasync(b->fd) < 0)
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;

	case VIRTIO_BLK_T_GET_ID:
		if (in_data < VMM_BLK_ID_BYTES)
			return VIRTIO_BLK_S_IOERR;
		*filled = vmm_vq_chain_from_host(c, 0, b->id, VMM_BLK_ID_BYTES);
		return VIRTIO_BLK_S_OK;

	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static void zero_writable(const struct vmm_vq_chain *c, uint64_t off, uint64_t len)
{
	struct iovec iov[VMM_VQ_MAX_CHAIN];
	unsigned int i, n = vmm_iov_slice(c->iov + c->n_out, c->n_in, off, len, iov, VMM_VQ_MAX_CHAIN);

	for (i = 0; i < n; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

static int blk_complete(struct vmm_blk *b, struct vmm_vq *vq, const struct vmm_vq_chain *c,
			struct lv_error **err)
{
	uint64_t in_data, filled;
	uint8_t status;

	/* Without a status byte there is no way to answer: that is no
	 * request, it is a broken driver. */
	if (c->in_bytes == 0)
		return lv_err_msg(err, EINVAL, "request at descriptor %u has no writable status byte",
				  c->head);
	/* The used ring's length is 32 bits wide. */
	if (c->in_bytes > UINT32_MAX)
		return lv_err_msg(err, EINVAL, "request at descriptor %u has %llu writable bytes",
				  c->head, (unsigned long long)c->in_bytes);
	in_data = c->in_bytes - 1;
	status = blk_serve(b, c, in_data, &filled);
	/* The status byte comes last, so the used length covers the whole
	 * writable part: every byte of it must then have been written. */
	if (filled < in_data)
		zero_writable(c, filled, in_data - filled);
	(void)vmm_vq_chain_from_host(c, in_data, &status, 1);

	b->stats.reqs++;
	if (status == VIRTIO_BLK_S_IOERR)
		b->stats.ioerr++;
	else if (status == VIRTIO_BLK_S_UNSUPP)
		b->stats.unsupp++;
	return vmm_vq_push(vq, c, (uint32_t)c->in_bytes, err);
}

static int blk_notify(void *dev, unsigned int q, struct lv_error **err)
{
	struct vmm_blk *b = dev;
	struct vmm_vq *vq = &b->mmio.vqs[0];
	bool pushed = false;
	int r;

	if (q != 0 || !vq->ready)
		return 0;
	/* Until the ring is empty: the driver notified once for all of it. */
	while ((r = vmm_vq_pop(vq, &b->chain, err)) > 0) {
		r = blk_complete(b, vq, &b->chain, err);
		if (r < 0)
			break;
		pushed = true;
	}
	if (pushed)
		vmm_virtio_mmio_interrupt(&b->mmio, 0, VMM_VIRTIO_INT_VRING);
	return r < 0 ? r : 0;
}

static void blk_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct vmm_blk *b = dev;

	memcpy(data, b->config + off, len);
}

static int blk_activate(void *dev, struct lv_error **err)
{
	/* Kicks before DRIVER_OK were dropped by the transport: look now. */
	return blk_notify(dev, 0, err);
}

static void blk_reset(void *dev)
{
	/* Requests complete before notify returns: nothing is in flight. */
}

static void blk_notify_fd_ready(void *opaque, uint32_t events)
{
	struct vmm_blk *b = opaque;

	vmm_virtio_mmio_notify_all(&b->mmio);
}

/* The image's size in bytes: a regular file's length or a block device's. */
static int image_size(int fd, uint64_t *size, struct lv_error **err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return lv_err(err, errno, "blk: fstat on the image fd %d", fd);
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0)
			return lv_err(err, errno, "blk: BLKGETSIZE64 on the image fd %d", fd);
		return 0;
	}
	return lv_err_msg(err, EINVAL, "blk: image fd %d is neither a regular file nor a block device", fd);
}

int vmm_blk_create(const struct vmm_memory *mem, uint64_t base, unsigned int irq, bool ioeventfd,
		   struct vmm_loop *loop, int image_fd, bool read_only, const char *serial,
		   struct vmm_blk **out, struct lv_error **err)
{
	size_t slen = serial ? strlen(serial) : 0;
	uint32_t seg_max = htole32(VMM_BLK_SEG_MAX), size_max = htole32(VMM_BLK_SIZE_MAX);
	uint64_t size, cap_le;
	struct vmm_blk *b;
	int fl, r;

	if (ioeventfd && !loop)
		return lv_err_msg(err, EINVAL, "blk: notifications by ioeventfd need the device loop");
	if (slen > VMM_BLK_ID_BYTES)
		return lv_err_msg(err, EINVAL, "blk: serial '%s' is longer than %u bytes", serial,
				  VMM_BLK_ID_BYTES);
	fl = fcntl(image_fd, F_GETFL);
	if (fl < 0)
		return lv_err(err, errno, "blk: image fd %d", image_fd);
	if (!read_only && (fl & O_ACCMODE) == O_RDONLY)
		return lv_err_msg(err, EBADF, "blk: image fd %d is open read-only for a writable disk",
				  image_fd);
	r = image_size(image_fd, &size, err);
	if (r < 0)
		return r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return lv_err(err, ENOMEM, "blk: allocating the device");
	b->read_only = read_only;
	b->capacity = size / VMM_BLK_SECTOR;
	if (slen)
		memcpy(b->id, serial, slen);
	cap_le = htole64(b->capacity);
	memcpy(b->config, &cap_le, 8);
	memcpy(b->config + 8, &size_max, 4);
	memcpy(b->config + 12, &seg_max, 4);
	b->ops = (struct vmm_virtio_dev_ops){
		.name = "blk",
		.device_id = VIRTIO_ID_BLOCK,
		.features = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_SIZE_MAX) |
			    (read_only ? 1ULL << VIRTIO_BLK_F_RO : 1ULL << VIRTIO_BLK_F_FLUSH),
		.num_queues = 1,
		.queue_max = VMM_BLK_QUEUE_SIZE,
		.config_size = BLK_CONFIG_SIZE,
		.config_read = blk_config_read,
		.config_write = NULL,
		.activate = blk_activate,
		.reset = blk_reset,
		.notify = blk_notify,
	};

	/* Our own descriptor: the caller's may be closed whenever it likes. */
	b->fd = fcntl(image_fd, F_DUPFD_CLOEXEC, 3);
	if (b->fd < 0) {
		r = lv_err(err, errno, "blk: duplicating image fd %d", image_fd);
		goto fail_free;
	}
	r = vmm_virtio_mmio_init(&b->mmio, &b->ops, b, mem, base, irq, ioeventfd, err);
	if (r < 0)
		goto fail_close;
	if (b->mmio.notify_fd >= 0) {
		r = vmm_loop_add(loop, b->mmio.notify_fd, EPOLLIN, blk_notify_fd_ready, b, err);
		if (r < 0)
			goto fail_fini;
		b->loop = loop;
	}
	*out = b;
	return 0;

fail_fini:
	vmm_virtio_mmio_fini(&b->mmio);
fail_close:
	close(b->fd);
fail_free:
	free(b);
	return r;
}

struct vmm_virtio_mmio *vmm_blk_mmio(struct vmm_blk *b)
{
	return &b->mmio;
}

uint64_t vmm_blk_capacity(const struct vmm_blk *b)
{
	return b->capacity;
}

void vmm_blk_get_stats(struct vmm_blk *b, struct vmm_blk_stats *out)
{
	pthread_mutex_lock(&b->mmio.lock);
	*out = b->stats;
	pthread_mutex_unlock(&b->mmio.lock);
}

void vmm_blk_destroy(struct vmm_blk **bp)
{
	struct vmm_blk *b = bp ? *bp : NULL;

	if (!b)
		return;
	if (b->loop)
		vmm_loop_del(b->loop, b->mmio.notify_fd);
	vmm_virtio_mmio_fini(&b->mmio);
	close(b->fd);
	free(b);
	*bp = NULL;
}
