/* The kvm backend: lightvm's own VMM (vmm/), run inside the container's
 * monitor process.  No VMM process, no exec: launch builds the VM and
 * starts its threads; the control channel is one end of a socketpair whose
 * other end the VM's virtio-console serves; exit_fd is the VMM's. */
#include "hv.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/sha256.h"
#include "../vmm/tap.h"
#include "../vmm/vmm.h"

#define KVM_CTL_PORT "org.lightvm.ctl"

struct kvm_priv {
	struct vmm *vmm;
	int vmm_ctl_fd; /* the VM's end of the control channel */
	int debug_fd;
	int log_fd;
	int disk_fd;
	int tap_fd;
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

/* A locally administered unicast MAC that stays the same for a container
 * (derived from its state directory's name, which holds its id). */
static void guest_mac(const char *state_dir, uint8_t mac[6])
{
	uint8_t h[32];

	lv_sha256(state_dir, strlen(state_dir), h);
	mac[0] = 0x02;
	memcpy(mac + 1, h, 5);
}

static int kvm_launch(const struct rt_config *cfg, const struct hv_vm_config *vc, struct hv_vm *vm,
		      struct lv_error **err)
{
	struct kvm_priv *p;
	struct vmm_config mc;
	cleanup_free char *kernel = NULL;
	struct timespec t0, t1;
	uint8_t mac[6] = { 0 };
	char cmdline[512];
	int sv[2] = { -1, -1 };
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return lv_err(err, ENOMEM, "kvm backend");
	p->vmm_ctl_fd = p->debug_fd = p->log_fd = p->disk_fd = p->tap_fd = -1;
	r = p->log_fd = open_in(vc->state_dir, "vmm.log", err);
	if (r < 0)
		goto fail;
	if (vc->debug) {
		r = p->debug_fd = open_in(vc->state_dir, "console.log", err);
		if (r < 0)
			goto fail;
	}
	if (vc->disk) {
		p->disk_fd = open(vc->disk, O_RDONLY | O_CLOEXEC);
		if (p->disk_fd < 0) {
			r = lv_err(err, errno, "disk %s", vc->disk);
			goto fail;
		}
	}
	if (vc->tap) {
		r = vmm_tap_open(vc->tap, true, &p->tap_fd, NULL, err);
		if (r < 0)
			goto fail;
		guest_mac(vc->state_dir, mac);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = lv_err(err, errno, "socketpair for the control channel");
		goto fail;
	}
	p->vmm_ctl_fd = sv[1];
	if (fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0) {
		r = lv_err(err, errno, "control channel: O_NONBLOCK");
		goto fail;
	}
	kernel = kernel_image(vc->kernel);
	if (!kernel) {
		r = lv_err(err, ENOMEM, "kernel path");
		goto fail;
	}
	snprintf(cmdline, sizeof(cmdline), "reboot=t panic=-1 rdinit=/%s %s", vc->init_path,
		 vc->debug ? "console=ttyS0 printk.time=1 lightvm.debug" : "quiet 8250.nr_uarts=0");
	mc = (struct vmm_config){
		.vcpus = vc->vcpus,
		.mem_mib = vc->mem_mib,
		.kernel_path = kernel,
		.initrd_path = vc->initrd,
		.cmdline = cmdline,
		.ctl_fd = sv[1],
		.ctl_port_name = KVM_CTL_PORT,
		.debug_fd = p->debug_fd,
		.log_fd = p->log_fd,
		.blk_fd = p->disk_fd,
		.tap_fd = p->tap_fd,
	};
	memcpy(mc.mac, mac, sizeof(mac));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = vmm_create(&mc, &p->vmm, err);
	if (r < 0)
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dprintf(p->log_fd, "kernel: %s\ncmdline: %s\nbuilt in %ld us\n", kernel, vmm_cmdline(p->vmm),
		(long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
	vm->ops = &hv_kvm_ops;
	vm->vmm_pid = 0;
	vm->vmm_start = 0;
	vm->exit_fd = vmm_exit_fd(p->vmm);
	vm->ctl_fd = sv[0];
	vm->priv = p;
	return 0;
fail:
	if (sv[0] >= 0)
		close(sv[0]);
	priv_free(p);
	return lv_err_wrap(err, "kvm backend");
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
	.destroy = kvm_destroy,
};
