/* Snapshot and copy-on-write restore of a template VM (see snapshot.h).
 *
 * The state blob: a header (shape, sizes, the guest's command line, the
 * console's port name, the in-kernel PIC/IOAPIC/PIT, the guest clock, the
 * console's virtio state), then one record per vCPU.  Written once by the
 * pool daemon's template child, read by every restoring monitor. */
#include "snapshot.h"

#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "vmm_internal.h"

#define MSR_IA32_TSC 0x00000010

struct snap_vcpu {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events events;
	uint32_t nmsrs, pad;
	struct kvm_msr_entry msrs[VMM_SNAP_MAX_MSRS];
};

struct snap_hdr {
	uint32_t magic, version;
	uint32_t hdr_size, vcpu_size; /* this build's record sizes: a blob of another build is refused */
	uint32_t nvcpus, mem_mib;
	uint64_t total;               /* hdr_size + nvcpus * vcpu_size */
	char cmdline[VMM_MAX_CMDLINE];
	char port[VMM_CONSOLE_NAME_MAX + 1];
	struct kvm_irqchip chip[3];   /* PIC master, PIC slave, IOAPIC */
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	struct vmm_console_state console;
};

/* A kvm_msrs with room for `n` entries. */
static struct kvm_msrs *msrs_alloc(size_t n)
{
	return calloc(1, sizeof(struct kvm_msrs) + n * sizeof(struct kvm_msr_entry));
}

static bool has_nul(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int vmm_snapshot_check(const void *buf, size_t len, struct lv_error **err)
{
	struct snap_hdr h;
	uint32_t i, nmsrs;

	if (len < sizeof(h))
		return lv_err_msg(err, EINVAL, "snapshot: %zu bytes, shorter than its header", len);
	memcpy(&h, buf, sizeof(h));
	if (h.magic != VMM_SNAP_MAGIC || h.version != VMM_SNAP_VERSION)
		return lv_err_msg(err, EINVAL, "snapshot: not a version %u lightvm snapshot", VMM_SNAP_VERSION);
	if (h.hdr_size != sizeof(struct snap_hdr) || h.vcpu_size != sizeof(struct snap_vcpu))
		return lv_err_msg(err, EINVAL, "snapshot: made by another build (record sizes %u/%u, here %zu/%zu)",
				  h.hdr_size, h.vcpu_size, sizeof(struct snap_hdr), sizeof(struct snap_vcpu));
	if (h.nvcpus < 1 || h.nvcpus > VMM_MAX_VCPUS)
		return lv_err_msg(err, EINVAL, "snapshot: %u vCPUs", h.nvcpus);
	if (h.mem_mib < VMM_MIN_MEM_MIB || h.mem_mib > VMM_MAX_MEM_MIB)
		return lv_err_msg(err, EINVAL, "snapshot: %u MiB of RAM", h.mem_mib);
	if (h.total != len || h.total != (uint64_t)h.hdr_size + (uint64_t)h.nvcpus * h.vcpu_size)
		return lv_err_msg(err, EINVAL, "snapshot: %zu bytes, the header says %llu", len,
				  (unsigned long long)h.total);
	if (!has_nul(h.cmdline, sizeof(h.cmdline)) || !has_nul(h.port, sizeof(h.port)) || !h.port[0])
		return lv_err_msg(err, EINVAL, "snapshot: command line or port name not terminated");
	for (i = 0; i < 3; i++)
		if (h.chip[i].chip_id != i)
			return lv_err_msg(err, EINVAL, "snapshot: irqchip %u has id %u", i, h.chip[i].chip_id);
	if (h.console.mmio.num_queues > VMM_VIRTIO_MAX_QUEUES)
		return lv_err_msg(err, EINVAL, "snapshot: console with %u queues", h.console.mmio.num_queues);
	for (i = 0; i < h.nvcpus; i++) {
		memcpy(&nmsrs, (const uint8_t *)buf + h.hdr_size + (size_t)i * h.vcpu_size +
				       offsetof(struct snap_vcpu, nmsrs), sizeof(nmsrs));
		if (nmsrs > VMM_SNAP_MAX_MSRS)
			return lv_err_msg(err, EINVAL, "snapshot: vCPU %u has %u MSRs, at most %u", i, nmsrs,
					  VMM_SNAP_MAX_MSRS);
	}
	return 0;
}

size_t vmm_snapshot_state_size(unsigned int nvcpus)
{
	return sizeof(struct snap_hdr) + (size_t)nvcpus * sizeof(struct snap_vcpu);
}

void vmm_snapshot_skeleton(void *buf, unsigned int nvcpus, unsigned int mem_mib, const char *port)
{
	struct snap_hdr *h = buf;

	memset(buf, 0, vmm_snapshot_state_size(nvcpus));
	*h = (struct snap_hdr){
		.magic = VMM_SNAP_MAGIC, .version = VMM_SNAP_VERSION,
		.hdr_size = sizeof(struct snap_hdr), .vcpu_size = sizeof(struct snap_vcpu),
		.nvcpus = nvcpus, .mem_mib = mem_mib, .total = vmm_snapshot_state_size(nvcpus),
	};
	snprintf(h->port, sizeof(h->port), "%s", port);
	for (uint32_t i = 0; i < 3; i++)
		h->chip[i].chip_id = i;
}

/* The MSRs KVM lists as worth saving that vCPU 0 can actually read, TSC
 * first: the TSC-deadline MSR is relative to it, so it must be set after. */
static int msr_index(struct vmm *v, struct kvm_msrs **out, struct lv_error **err)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	cleanup_free struct kvm_msr_list *list = NULL;
	struct kvm_msrs *m;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} one;
	uint32_t i;

	if (ioctl(v->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return lv_err(err, errno, "KVM_GET_MSR_INDEX_LIST");
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
	m = msrs_alloc(VMM_SNAP_MAX_MSRS);
	if (!list || !m) {
		free(m);
		return lv_err(err, ENOMEM, "MSR list");
	}
	list->nmsrs = probe.nmsrs;
	if (ioctl(v->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(m);
		return lv_err(err, errno, "KVM_GET_MSR_INDEX_LIST (%u)", probe.nmsrs);
	}
	m->entries[m->nmsrs++].index = MSR_IA32_TSC;
	for (i = 0; i < list->nmsrs && m->nmsrs < VMM_SNAP_MAX_MSRS; i++) {
		if (list->indices[i] == MSR_IA32_TSC)
			continue;
		memset(&one, 0, sizeof(one));
		one.h.nmsrs = 1;
		one.e.index = list->indices[i];
		if (ioctl(v->vcpus[0]->fd, KVM_GET_MSRS, &one) == 1)
			m->entries[m->nmsrs++].index = list->indices[i];
	}
	*out = m;
	return 0;
}

static int save_vcpu(struct vmm_vcpu *c, const struct kvm_msrs *index, struct snap_vcpu *s, struct lv_error **err)
{
	cleanup_free struct kvm_msrs *m = msrs_alloc(index->nmsrs);
	int r;

	if (!m)
		return lv_err(err, ENOMEM, "MSRs");
	if (ioctl(c->fd, KVM_GET_REGS, &s->regs) < 0 || ioctl(c->fd, KVM_GET_SREGS, &s->sregs) < 0 ||
	    ioctl(c->fd, KVM_GET_XSAVE, &s->xsave) < 0 || ioctl(c->fd, KVM_GET_XCRS, &s->xcrs) < 0 ||
	    ioctl(c->fd, KVM_GET_DEBUGREGS, &s->dregs) < 0 || ioctl(c->fd, KVM_GET_LAPIC, &s->lapic) < 0 ||
	    ioctl(c->fd, KVM_GET_MP_STATE, &s->mp) < 0 || ioctl(c->fd, KVM_GET_VCPU_EVENTS, &s->events) < 0)
		return lv_err(err, errno, "vCPU %u: reading its state", c->id);
	m->nmsrs = index->nmsrs;
	for (uint32_t i = 0; i < index->nmsrs; i++)
		m->entries[i].index = index->entries[i].index;
	r = ioctl(c->fd, KVM_GET_MSRS, m);
	if (r < 0)
		return lv_err(err, errno, "vCPU %u: KVM_GET_MSRS", c->id);
	if ((uint32_t)r != m->nmsrs)
		return lv_err_msg(err, EIO, "vCPU %u: KVM read %d of %u MSRs (stopped at 0x%x)", c->id, r, m->nmsrs,
				  m->entries[r].index);
	s->nmsrs = m->nmsrs;
	memcpy(s->msrs, m->entries, m->nmsrs * sizeof(m->entries[0]));
	return 0;
}

static int save_vm(struct vmm *v, struct snap_hdr *h, struct lv_error **err)
{
	for (uint32_t i = 0; i < 3; i++) {
		h->chip[i].chip_id = i;
		if (ioctl(v->vm->vm_fd, KVM_GET_IRQCHIP, &h->chip[i]) < 0)
			return lv_err(err, errno, "KVM_GET_IRQCHIP %u", i);
	}
	if (ioctl(v->vm->vm_fd, KVM_GET_PIT2, &h->pit) < 0)
		return lv_err(err, errno, "KVM_GET_PIT2");
	if (ioctl(v->vm->vm_fd, KVM_GET_CLOCK, &h->clock) < 0)
		return lv_err(err, errno, "KVM_GET_CLOCK");
	return 0;
}

/* A sealed memfd holding buf. */
static int sealed_copy(const void *buf, size_t len, struct lv_error **err)
{
	int fd = memfd_create("lightvm-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t done = 0;

	if (fd < 0)
		return lv_err(err, errno, "memfd_create for the snapshot");
	while (done < len) {
		ssize_t w = write(fd, (const uint8_t *)buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return lv_err(err, w < 0 ? errno : EIO, "writing the snapshot");
		}
		done += (size_t)w;
	}
	if (vmm_memory_seal(fd, err) < 0) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

static int save(struct vmm *v, struct snap_hdr **out, size_t *outlen, struct lv_error **err)
{
	cleanup_free struct kvm_msrs *index = NULL;
	size_t len = sizeof(struct snap_hdr) + v->nvcpus * sizeof(struct snap_vcpu);
	struct snap_hdr *h;
	struct snap_vcpu *vc;
	int r;

	if (v->serial || v->blk || v->net || v->nwin != 1 || !v->console)
		return lv_err_msg(err, EINVAL, "snapshot: only a VM with just its console can be a template");
	r = vmm_pause(v, err);
	if (r < 0)
		return r;
	if (vmm_end_reason(v) != VMM_END_NONE)
		return lv_err_msg(err, ESRCH, "snapshot: the VM has ended: %s", vmm_end_message(v));
	h = calloc(1, len);
	if (!h)
		return lv_err(err, ENOMEM, "snapshot of %zu bytes", len);
	*h = (struct snap_hdr){
		.magic = VMM_SNAP_MAGIC, .version = VMM_SNAP_VERSION,
		.hdr_size = sizeof(struct snap_hdr), .vcpu_size = sizeof(struct snap_vcpu),
		.nvcpus = v->nvcpus, .mem_mib = v->cfg.mem_mib, .total = len,
	};
	snprintf(h->cmdline, sizeof(h->cmdline), "%s", v->cmdline);
	snprintf(h->port, sizeof(h->port), "%s", v->cfg.ctl_port_name);
	vc = (struct snap_vcpu *)(h + 1);
	r = msr_index(v, &index, err);
	for (unsigned int i = 0; r == 0 && i < v->nvcpus; i++)
		r = save_vcpu(v->vcpus[i], index, &vc[i], err);
	if (r == 0)
		r = save_vm(v, h, err);
	if (r == 0)
		r = vmm_console_save(v->console, &h->console, err);
	if (r < 0) {
		free(h);
		return r;
	}
	*out = h;
	*outlen = len;
	return 0;
}

int vmm_snapshot(struct vmm **vp, int *mem_fd, int *state_fd, struct lv_error **err)
{
	cleanup_free struct snap_hdr *h = NULL;
	size_t len = 0;
	int mfd = -1, sfd, r;

	*mem_fd = *state_fd = -1;
	r = save(*vp, &h, &len, err);
	if (r == 0) {
		mfd = fcntl((*vp)->mem->memfd, F_DUPFD_CLOEXEC, 0);
		if (mfd < 0)
			r = lv_err(err, errno, "snapshot: dup of the RAM memfd");
	}
	/* The RAM can only be sealed once nothing maps it writable. */
	vmm_destroy(vp);
	if (r < 0)
		return lv_err_wrap(err, "snapshot");
	if (vmm_memory_seal(mfd, err) < 0) {
		close(mfd);
		return lv_err_wrap(err, "snapshot");
	}
	sfd = sealed_copy(h, len, err);
	if (sfd < 0) {
		close(mfd);
		return lv_err_wrap(err, "snapshot");
	}
	*mem_fd = mfd;
	*state_fd = sfd;
	return 0;
}

/* KVM_SET_MSRS stops at the first MSR it refuses: skip that one, go on. */
static int restore_msrs(struct vmm *v, struct vmm_vcpu *c, const struct snap_vcpu *s, struct lv_error **err)
{
	cleanup_free struct kvm_msrs *m = msrs_alloc(s->nmsrs);
	uint32_t done = 0;

	if (!m)
		return lv_err(err, ENOMEM, "MSRs");
	while (done < s->nmsrs) {
		int r;

		m->nmsrs = s->nmsrs - done;
		memcpy(m->entries, s->msrs + done, m->nmsrs * sizeof(m->entries[0]));
		r = ioctl(c->fd, KVM_SET_MSRS, m);
		if (r < 0)
			return lv_err(err, errno, "vCPU %u: KVM_SET_MSRS", c->id);
		done += (uint32_t)r;
		if (done < s->nmsrs) {
			if (v->cfg.log_fd >= 0)
				dprintf(v->cfg.log_fd, "restore: vCPU %u: KVM refused MSR 0x%x\n", c->id,
					s->msrs[done].index);
			done++;
		}
	}
	return 0;
}

/* LAPIC before the MSRs (the TSC-deadline MSR only arms a timer in
 * TSC-deadline mode), MP state after the LAPIC, events last. */
static int restore_vcpu(struct vmm *v, struct vmm_vcpu *c, const struct snap_vcpu *s, struct lv_error **err)
{
	int r;

	if (ioctl(c->fd, KVM_SET_SREGS, &s->sregs) < 0 || ioctl(c->fd, KVM_SET_REGS, &s->regs) < 0 ||
	    ioctl(c->fd, KVM_SET_XSAVE, &s->xsave) < 0 || ioctl(c->fd, KVM_SET_XCRS, &s->xcrs) < 0 ||
	    ioctl(c->fd, KVM_SET_DEBUGREGS, &s->dregs) < 0 || ioctl(c->fd, KVM_SET_LAPIC, &s->lapic) < 0)
		return lv_err(err, errno, "vCPU %u: setting its registers", c->id);
	r = restore_msrs(v, c, s, err);
	if (r < 0)
		return r;
	if (ioctl(c->fd, KVM_SET_MP_STATE, &s->mp) < 0 || ioctl(c->fd, KVM_SET_VCPU_EVENTS, &s->events) < 0)
		return lv_err(err, errno, "vCPU %u: setting its run state", c->id);
	return 0;
}

static int restore_vm(struct vmm *v, const struct snap_hdr *h, struct lv_error **err)
{
	struct kvm_clock_data clock = { .clock = h->clock.clock };

	for (uint32_t i = 0; i < 3; i++) {
		struct kvm_irqchip chip = h->chip[i];
		if (ioctl(v->vm->vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
			return lv_err(err, errno, "KVM_SET_IRQCHIP %u", i);
	}
	if (ioctl(v->vm->vm_fd, KVM_SET_PIT2, &h->pit) < 0)
		return lv_err(err, errno, "KVM_SET_PIT2");
	/* The guest clock goes on from where the template stopped; the wall
	 * clock is the page's business. */
	if (ioctl(v->vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return lv_err(err, errno, "KVM_SET_CLOCK");
	return 0;
}

static int check_restore_config(const struct vmm_config *c, const struct snap_hdr *h, struct lv_error **err)
{
	if (c->vcpus != h->nvcpus || c->mem_mib != h->mem_mib)
		return lv_err_msg(err, EINVAL, "the snapshot is of %u vCPUs and %u MiB, not %u and %u", h->nvcpus,
				  h->mem_mib, c->vcpus, c->mem_mib);
	if (c->debug_fd >= 0 || c->blk_fd >= 0 || c->tap_fd >= 0 || c->nfs)
		return lv_err_msg(err, EINVAL, "a snapshot has no serial, block, net or fs device");
	if (c->ctl_fd < 0 || !c->ctl_port_name || strcmp(c->ctl_port_name, h->port) != 0)
		return lv_err_msg(err, EINVAL, "control channel: the snapshot's port is '%s'", h->port);
	return 0;
}

static int map_state(int fd, void **out, size_t *outlen, struct lv_error **err)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	void *p;

	if (fstat(fd, &st) < 0)
		return lv_err(err, errno, "snapshot state: fstat");
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > VMM_SNAP_MAX_STATE)
		return lv_err_msg(err, EINVAL, "snapshot state: %lld bytes", (long long)st.st_size);
	if (seals < 0 || (seals & VMM_SNAPSHOT_SEALS) != VMM_SNAPSHOT_SEALS)
		return lv_err_msg(err, EPERM, "snapshot state: not sealed");
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return lv_err(err, errno, "snapshot state: mmap");
	*out = p;
	*outlen = (size_t)st.st_size;
	return 0;
}

int vmm_restore(const struct vmm_config *cfg, int mem_fd, int state_fd, struct vmm **out, struct lv_error **err)
{
	const struct snap_hdr *h;
	const struct snap_vcpu *vc;
	struct vmm *v = NULL;
	void *blob = NULL;
	size_t len = 0;
	int r;

	r = map_state(state_fd, &blob, &len, err);
	if (r < 0)
		return lv_err_wrap(err, "restore");
	h = blob;
	vc = (const struct snap_vcpu *)(h + 1);
	if ((r = vmm_snapshot_check(blob, len, err)) < 0 || (r = check_restore_config(cfg, h, err)) < 0 ||
	    (r = vmm_new(cfg, &v, err)) < 0)
		goto out;
	if ((r = vmm_memory_from_snapshot(mem_fd, (uint64_t)h->mem_mib << 20, &v->mem, err)) < 0 ||
	    (r = vmm_memory_register(v->mem, v->vm->vm_fd, err)) < 0 || (r = vmm_create_devices(v, err)) < 0 ||
	    (r = vmm_create_vcpus(v, err)) < 0)
		goto out;
	/* The guest booted with the template's (the devices' part included). */
	snprintf(v->cmdline, sizeof(v->cmdline), "%s", h->cmdline);
	for (unsigned int i = 0; i < v->nvcpus; i++)
		if ((r = restore_vcpu(v, v->vcpus[i], &vc[i], err)) < 0)
			goto out;
	if ((r = restore_vm(v, h, err)) < 0 || (r = vmm_console_restore(v->console, &h->console, err)) < 0)
		goto out;
	*out = v;
	v = NULL;
out:
	vmm_destroy(&v);
	munmap(blob, len);
	return r < 0 ? lv_err_wrap(err, "restore") : 0;
}
