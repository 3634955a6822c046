/* The kvm backend: lightvm's own VMM (vmm/), run inside the container's
 * monitor process.  No VMM process, no exec: launch builds the VM and
 * starts its threads; the control channel is one end of a socketpair whose
 * other end the VM's virtio-console serves; exit_fd is the VMM's.  Shared
 * directories: a virtiofsd each (virtiofsd.c, as the qemu backend), whose
 * socket the VMM's virtio-fs device speaks vhost-user on. */
#include "hv.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <poll.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/clock.h"
#include "../noxs/chan.h"
#include "../noxs/page.h"
#include "../vmm/snapshot.h"
#include "../vmm/tap.h"
#include "../vmm/vmm.h"
#include "virtiofsd.h"


struct kvm_priv {
	struct vmm *vmm;
	int vmm_ctl_fd; /* the VM's end of the control channel */
	int debug_fd;
	int log_fd;
	int disk_fd;
	int tap_fd;
	struct rt_virtiofsd fs[HV_MAX_SHARES]; /* our children, their sockets */
	size_t nfs;
};

static int kvm_check(const struct rt_config *cfg, struct lv_error **err)
{
	if (access("/dev/kvm", R_OK | W_OK) != 0)
		return lv_err(err, errno, "kvm backend: /dev/kvm is not usable");
	if (access(cfg->kernel, R_OK) != 0)
		return lv_err(err, errno, "guest kernel \"%s\" (build it with `make kernel`, or set \"kernel\" in the runtime config)",
			      cfg->kernel);
	return 0;
}

static void priv_free(struct kvm_priv *p)
{
	if (!p)
		return;
	vmm_destroy(&p->vmm);
	/* The VMM closed its ends of the vhost-user sockets: each virtiofsd
	 * ends by itself (no signal: the sandbox allows none). */
	rt_virtiofsd_reap(p->fs, p->nfs);
	if (p->vmm_ctl_fd >= 0)
		close(p->vmm_ctl_fd);
	if (p->debug_fd >= 0)
		close(p->debug_fd);
	if (p->log_fd >= 0)
		close(p->log_fd);
	if (p->disk_fd >= 0)
		close(p->disk_fd);
	if (p->tap_fd >= 0)
		close(p->tap_fd);
	free(p);
}

static int open_in(const char *dir, const char *name, struct lv_error **err)
{
	cleanup_free char *path = NULL;
	int fd;

	if (asprintf(&path, "%s/%s", dir, name) < 0) {
		path = NULL;
		return lv_err(err, ENOMEM, "%s path", name);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0600);
	if (fd < 0)
		return lv_err(err, errno, "open %s", path);
	return fd;
}

/* The uncompressed ELF of the same kernel, when it sits next to the
 * configured bzImage (`make kernel` puts build/vmlinux there): the VMM
 * enters it through PVH and the guest skips decompressing itself (~0.3 s of
 * a boot in the nested lab host).  Otherwise the bzImage itself. */
static char *kernel_image(const char *bzimage)
{
	const char *slash = strrchr(bzimage, '/');
	char *elf;

	if (asprintf(&elf, "%.*svmlinux", slash ? (int)(slash - bzimage + 1) : 0, bzimage) < 0)
		return NULL;
	if (strcmp(elf, bzimage) != 0 && access(elf, R_OK) == 0)
		return elf;
	free(elf);
	return strdup(bzimage);
}

/* What every way of making the VM needs: its log (and debug console, disk
 * and tap), the control channel's socketpair, the kernel and command line,
 * and the vmm_config over them. */
struct kvm_build {
	struct kvm_priv *p;
	struct vmm_config mc;
	struct vmm_fs_config fs[HV_MAX_SHARES];
	char *kernel;
	char cmdline[512];
	uint8_t mac[6];
	int host_ctl; /* our end of the control channel */
};

static void build_free(struct kvm_build *b)
{
	if (b->host_ctl >= 0)
		close(b->host_ctl);
	b->host_ctl = -1;
	if (b->p) {
		/* A build that failed: before the sandbox, so the daemons may
		 * be killed rather than waited for. */
		vmm_destroy(&b->p->vmm);
		rt_virtiofsd_stop(b->p->fs, b->p->nfs);
	}
	priv_free(b->p);
	b->p = NULL;
	free(b->kernel);
	b->kernel = NULL;
}

static int build_prepare(const struct rt_config *cfg, const struct hv_vm_config *vc, struct kvm_build *b,
			 struct lv_error **err)
{
	struct kvm_priv *p;
	int sv[2];
	int r;

	*b = (struct kvm_build){ .host_ctl = -1 };
	p = b->p = calloc(1, sizeof(*p));
	if (!p)
		return lv_err(err, ENOMEM, "kvm backend");
	p->vmm_ctl_fd = p->debug_fd = p->log_fd = p->disk_fd = p->tap_fd = -1;
	r = p->log_fd = open_in(vc->state_dir, "vmm.log", err);
	if (r < 0)
		return r;
	if (vc->debug) {
		r = p->debug_fd = open_in(vc->state_dir, "console.log", err);
		if (r < 0)
			return r;
	}
	if (vc->disk) {
		p->disk_fd = open(vc->disk, O_RDONLY | O_CLOEXEC);
		if (p->disk_fd < 0)
			return lv_err(err, errno, "disk %s", vc->disk);
	}
	if (vc->tap && vc->has_tap_fd) {
		p->tap_fd = fcntl(vc->tap_fd, F_DUPFD_CLOEXEC, 3);
		if (p->tap_fd < 0)
			return lv_err(err, errno, "tap %s", vc->tap);
		memcpy(b->mac, vc->mac, sizeof(b->mac));
	} else if (vc->tap) {
		r = vmm_tap_open(vc->tap, true, &p->tap_fd, NULL, err);
		if (r < 0)
			return r;
		memcpy(b->mac, vc->mac, sizeof(b->mac));
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return lv_err(err, errno, "socketpair for the control channel");
	b->host_ctl = sv[0];
	p->vmm_ctl_fd = sv[1];
	if (fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0)
		return lv_err(err, errno, "control channel: O_NONBLOCK");
	if (vc->nshares > HV_MAX_SHARES)
		return lv_err_msg(err, E2BIG, "more than %u shared directories", HV_MAX_SHARES);
	r = rt_virtiofsd_start(cfg->virtiofsd, vc, p->log_fd, p->fs, err);
	if (r < 0)
		return r;
	p->nfs = vc->nshares;
	for (size_t i = 0; i < vc->nshares; i++)
		b->fs[i] = (struct vmm_fs_config){ .tag = vc->shares[i].tag, .sock_fd = p->fs[i].conn_fd };
	b->kernel = kernel_image(vc->kernel);
	if (!b->kernel)
		return lv_err(err, ENOMEM, "kernel path");
	snprintf(b->cmdline, sizeof(b->cmdline), "reboot=t panic=-1 rdinit=/%s %s", vc->init_path,
		 vc->debug ? "console=ttyS0 printk.time=1 lightvm.debug" : "quiet 8250.nr_uarts=0");
	b->mc = (struct vmm_config){
		.vcpus = vc->vcpus,
		.mem_mib = vc->mem_mib,
		.kernel_path = b->kernel,
		.initrd_path = vc->initrd,
		.cmdline = b->cmdline,
		.ctl_fd = sv[1],
		.ctl_port_name = NOXS_CTL_PORT,
		.debug_fd = p->debug_fd,
		.log_fd = p->log_fd,
		.blk_fd = p->disk_fd,
		.tap_fd = p->tap_fd,
		.fs = b->fs,
		.nfs = (unsigned int)vc->nshares,
	};
	memcpy(b->mc.mac, b->mac, sizeof(b->mac));
	return 0;
}

/* The built VM becomes vm's; b keeps nothing. */
static void build_finish(struct kvm_build *b, const char *how, uint64_t t0, struct hv_vm *vm)
{
	struct kvm_priv *p = b->p;

	dprintf(p->log_fd, "kernel: %s\ncmdline: %s\n%s in %llu us\n", b->kernel, vmm_cmdline(p->vmm), how,
		(unsigned long long)((lv_now_ns() - t0) / 1000));
	vm->ops = &hv_kvm_ops;
	vm->vmm_pid = 0;
	vm->vmm_start = 0;
	vm->exit_fd = vmm_exit_fd(p->vmm);
	vm->ctl_fd = b->host_ctl;
	vm->priv = p;
	b->host_ctl = -1;
	b->p = NULL;
	build_free(b);
}

/* A VM built from vc: booted (mem_fd < 0), or restored from a template's
 * snapshot. */
static int kvm_make(const struct rt_config *cfg, const struct hv_vm_config *vc, int mem_fd, int state_fd,
		    struct hv_vm *vm, struct lv_error **err)
{
	struct kvm_build b;
	uint64_t t0 = 0;
	int r;

	r = build_prepare(cfg, vc, &b, err);
	if (r == 0) {
		t0 = lv_now_ns();
		r = mem_fd < 0 ? vmm_create(&b.mc, &b.p->vmm, err) : vmm_restore(&b.mc, mem_fd, state_fd, &b.p->vmm, err);
	}
	if (r < 0) {
		build_free(&b);
		return lv_err_wrap(err, "kvm backend");
	}
	build_finish(&b, mem_fd < 0 ? "built" : "restored from the pool's snapshot", t0, vm);
	return 0;
}

static int kvm_launch(const struct rt_config *cfg, const struct hv_vm_config *vc, struct hv_vm *vm,
		      struct lv_error **err)
{
	return kvm_make(cfg, vc, -1, -1, vm, err);
}

static int kvm_restore(const struct rt_config *cfg, const struct hv_vm_config *vc, int mem_fd, int state_fd,
		       struct hv_vm *vm, struct lv_error **err)
{
	if (mem_fd < 0 || state_fd < 0)
		return lv_err_msg(err, EBADF, "kvm backend: restore without a snapshot");
	return kvm_make(cfg, vc, mem_fd, state_fd, vm, err);
}

/* Until the guest init's WAITING arrives on fd, the VM ends, or the
 * deadline passes. */
static int wait_guest_waiting(int fd, int exit_fd, uint64_t deadline_ms, struct lv_error **err)
{
	struct noxs_rx rx;
	int r = noxs_rx_init(&rx, err);

	while (r == 0) {
		struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN }, { .fd = exit_fd, .events = POLLIN } };
		uint64_t now = lv_now_ms();
		uint16_t type;
		const uint8_t *payload;
		uint32_t len;

		r = noxs_rx_next(&rx, &type, &payload, &len, err);
		if (r < 0)
			break;
		if (r == 1) {
			r = 0;
			if (type == NOXS_MSG_WAITING)
				break;
			continue;
		}
		if (now >= deadline_ms) {
			r = lv_err_msg(err, ETIMEDOUT, "the template's guest did not come up in time");
			break;
		}
		r = poll(pfd, 2, (int)(deadline_ms - now));
		if (r < 0 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (r < 0) {
			r = lv_err(err, errno, "poll");
			break;
		}
		if (pfd[1].revents) {
			r = lv_err_msg(err, ECHILD, "the template's guest ended while booting");
			break;
		}
		r = pfd[0].revents ? noxs_rx_fill(&rx, fd, err) : 0;
		if (r == 0 && pfd[0].revents)
			r = lv_err_msg(err, EPIPE, "the template's control channel closed");
		else if (r > 0)
			r = 0;
	}
	noxs_rx_free(&rx);
	return r;
}

static int kvm_make_template(const struct rt_config *cfg, const struct hv_vm_config *vc, int *mem_fd,
			     int *state_fd, struct lv_error **err)
{
	struct kvm_build b;
	uint64_t t0 = lv_now_ms();
	int r;

	*mem_fd = *state_fd = -1;
	r = build_prepare(cfg, vc, &b, err);
	if (r == 0)
		r = vmm_create(&b.mc, &b.p->vmm, err);
	if (r == 0)
		r = vmm_start(b.p->vmm, err);
	if (r == 0)
		r = wait_guest_waiting(b.host_ctl, vmm_exit_fd(b.p->vmm), t0 + cfg->boot_timeout_ms, err);
	if (r == 0)
		r = vmm_snapshot(&b.p->vmm, mem_fd, state_fd, err);
	if (r == 0)
		dprintf(b.p->log_fd, "template: booted and snapshotted in %llu ms\n",
			(unsigned long long)(lv_now_ms() - t0));
	build_free(&b);
	return r < 0 ? lv_err_wrap(err, "kvm template") : 0;
}

static int kvm_start(struct hv_vm *vm, struct lv_error **err)
{
	struct kvm_priv *p = vm->priv;

	return vmm_start(p->vmm, err);
}

static int kvm_pause(struct hv_vm *vm, struct lv_error **err)
{
	struct kvm_priv *p = vm->priv;

	return vmm_pause(p->vmm, err);
}

static int kvm_resume(struct hv_vm *vm, struct lv_error **err)
{
	struct kvm_priv *p = vm->priv;

	return vmm_resume(p->vmm, err);
}

static void kvm_destroy(struct hv_vm *vm)
{
	struct kvm_priv *p = vm->priv;

	if (vm->ctl_fd >= 0)
		close(vm->ctl_fd);
	vm->ctl_fd = vm->exit_fd = -1;
	priv_free(p);
	vm->priv = NULL;
}

const struct hv_ops hv_kvm_ops = {
	.name = "kvm",
	.check = kvm_check,
	.launch = kvm_launch,
	.start = kvm_start,
	.pause = kvm_pause,
	.resume = kvm_resume,
	.make_template = kvm_make_template,
	.restore = kvm_restore,
	.destroy = kvm_destroy,
};
