/* QEMU microvm backend: virtio-mmio, no firmware, direct kernel boot; KVM
 * when the host has hardware virtualization, TCG otherwise.  The control
 * channel is one end of a socketpair handed to QEMU as a chardev, so there
 * is no socket path to race for and nothing to clean up on disk. */
#include "hv.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../noxs/page.h"
#include "../lib/cleanup.h"
#include "virtiofsd.h"
#include "state.h"

#define QEMU_CTL_FD 3
#define QEMU_FS_FD0 (QEMU_CTL_FD + 1) /* the shares' chardevs: QEMU_FS_FD0 + i */
#define QEMU_TAP_FD (QEMU_FS_FD0 + (int)HV_MAX_SHARES) /* the tap runtime/net.c built */
#define QEMU_FD_HIGH 64               /* where they wait, clear of 0..QEMU_TAP_FD */
#define QEMU_MAX_ARGS (52 + 4 * (int)HV_MAX_SHARES)

struct qemu_priv {
	bool reaped;
	bool adopted; /* a pool shell: not our child, so never waited for */
	bool paused;
	struct rt_virtiofsd fs[HV_MAX_SHARES]; /* their virtiofsd */
	size_t nfs;
};

static int qemu_check(const struct rt_config *cfg, struct lv_error **err)
{
	if (strcmp(cfg->accel, "kvm") == 0 && access("/dev/kvm", R_OK | W_OK) != 0)
		return lv_err(err, errno, "qemu backend: accel \"kvm\" configured but /dev/kvm is not usable");
	if (access(cfg->kernel, R_OK) != 0)
		return lv_err(err, errno, "guest kernel \"%s\" (build it with `make kernel`, or set \"kernel\" in the runtime config)",
			      cfg->kernel);
	return 0;
}

/* KVM only where the CPU has vmx/svm: a software /dev/kvm runs a Linux
 * guest thousands of times slower than TCG (see ENVIRONMENT.md). */
static const char *qemu_accel(const struct rt_config *cfg, const struct rt_host_cpu *cpu)
{
	if (strcmp(cfg->accel, "kvm") == 0 || strcmp(cfg->accel, "tcg") == 0)
		return cfg->accel;
	if (cpu->hw_virt && access("/dev/kvm", R_OK | W_OK) == 0)
		return "kvm";
	return "tcg";
}

static int build_argv(const struct rt_config *cfg, const struct hv_vm_config *vc, char *bufs[], const char *argv[],
		      struct lv_error **err)
{
	int n = 0, b = 0;
	struct rt_host_cpu cpu;
	const char *accel;
	bool tcg;
	char tsc[48] = "";

	rt_host_cpu_probe(&cpu);
	accel = qemu_accel(cfg, &cpu);
	tcg = strcmp(accel, "tcg") == 0;

	/* Under TCG, calibrating timers against emulated hardware is the
	 * largest cost of a Tinyx boot (~300 ms of 800): the guest's TSC is the
	 * host's, so tell it the rate, and skip the APIC timer's calibration
	 * and the timer check (see tinyx-kernel/README.md for the figures).
	 * Under KVM the TSC-deadline timer needs none of this. */
	if (tcg && cpu.tsc_khz)
		snprintf(tsc, sizeof(tsc), " tsc_early_khz=%u", cpu.tsc_khz);

#define ARG(s) (argv[n++] = (s))
#define FMT(...) do { \
		if (asprintf(&bufs[b], __VA_ARGS__) < 0) { bufs[b] = NULL; return lv_err(err, ENOMEM, "qemu argv"); } \
		argv[n++] = bufs[b++]; \
	} while (0)

	ARG(cfg->qemu);
	ARG("-M");
	/* acpi=off: QEMU then announces the virtio-mmio devices on the kernel
	 * command line, which is all a Tinyx kernel (no ACPI) reads. */
	FMT("microvm,x-option-roms=off,rtc=on,acpi=off,isa-serial=%s", vc->debug ? "on" : "off");
	ARG("-accel");
	ARG(accel);
	if (strcmp(accel, "kvm") == 0) {
		ARG("-cpu");
		ARG("host");
	}
	ARG("-m");
	FMT("%u", vc->mem_mib);
	if (vc->nshares) {
		/* vhost-user: virtiofsd maps the guest's RAM, so it must be
		 * a shareable memfd. */
		ARG("-object");
		FMT("memory-backend-memfd,id=mem,size=%uM,share=on", vc->mem_mib);
		ARG("-machine");
		ARG("memory-backend=mem");
		/* libvhost-user (virtiofsd) serves virtio 1.0 devices only;
		 * microvm's virtio-mmio is legacy (version 1) unless told. */
		ARG("-global");
		ARG("virtio-mmio.force-legacy=false");
	}
	ARG("-smp");
	FMT("%u", vc->vcpus);
	ARG("-nodefaults");
	ARG("-no-user-config");
	if (vc->name) {
		/* QEMU's option syntax: a comma in a value is written twice. */
		size_t len = strlen(vc->name), j = 0;
		char *q = malloc(2 * len + 1);
		if (!q)
			return lv_err(err, ENOMEM, "qemu argv");
		for (size_t i = 0; i < len; i++) {
			q[j++] = vc->name[i];
			if (vc->name[i] == ',')
				q[j++] = ',';
		}
		q[j] = '\0';
		bufs[b++] = q;
		ARG("-name");
		ARG(q);
	}
	ARG("-display");
	ARG("none");
	ARG("-no-reboot");
	ARG("-serial");
	if (vc->debug)
		FMT("file:%s/console.log", vc->state_dir);
	else
		ARG("none");
	ARG("-kernel");
	ARG(vc->kernel);
	ARG("-initrd");
	ARG(vc->initrd);
	ARG("-append");
	FMT("reboot=t panic=-1 rdinit=/%s %s%s%s", vc->init_path,
	    vc->debug ? "console=ttyS0 printk.time=1 lightvm.debug" : "quiet 8250.nr_uarts=0",
	    tcg ? " noapictimer no_timer_check" : "", tsc);
	ARG("-device");
	ARG("virtio-serial-device,max_ports=2");
	ARG("-chardev");
	FMT("socket,id=ctl,fd=%d", QEMU_CTL_FD);
	ARG("-device");
	ARG("virtserialport,chardev=ctl,name=" NOXS_CTL_PORT);
	if (vc->tap && vc->has_tap_fd && vc->mac) {
		/* The tap the monitor built (runtime/net.c), inherited. */
		ARG("-netdev");
		FMT("tap,id=net0,fd=%d", QEMU_TAP_FD);
		ARG("-device");
		FMT("virtio-net-device,netdev=net0,mac=%02x:%02x:%02x:%02x:%02x:%02x", vc->mac[0], vc->mac[1],
		    vc->mac[2], vc->mac[3], vc->mac[4], vc->mac[5]);
	}
	for (size_t i = 0; i < vc->nshares; i++) {
		ARG("-chardev");
		FMT("socket,id=fs%zu,fd=%zu", i, QEMU_FS_FD0 + i);
		ARG("-device");
		FMT("vhost-user-fs-device,chardev=fs%zu,tag=%s,queue-size=1024", i, vc->shares[i].tag);
	}
	argv[n] = NULL;
#undef ARG
#undef FMT
	return 0;
}

/* Runs in the forked child: only async-signal-safe calls until exec. */
static void qemu_child(const char *const argv[], int ctl, int tap, const struct rt_virtiofsd *fs, size_t nfs, int logfd,
		       pid_t parent, bool detach)
{
	sigset_t none;
	int devnull;

	setsid(); /* no SIGINT/SIGHUP/SIGWINCH from the monitor's terminal */
	if (!detach) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
	    dup2(ctl, QEMU_CTL_FD) < 0 || (tap >= 0 && dup2(tap, QEMU_TAP_FD) < 0))
		_exit(127);
	/* The shares' fds and the tap were made >= QEMU_FD_HIGH, clear of these. */
	for (size_t i = 0; i < nfs; i++)
		if (dup2(fs[i].conn_fd, QEMU_FS_FD0 + (int)i) < 0)
			_exit(127);
	if (tap >= 0) {
		syscall(SYS_close_range, QEMU_FS_FD0 + (unsigned)nfs, QEMU_TAP_FD - 1u, 0);
		syscall(SYS_close_range, QEMU_TAP_FD + 1u, ~0u, 0);
	} else {
		syscall(SYS_close_range, QEMU_FS_FD0 + (unsigned)nfs, ~0u, 0);
	}
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

static int qemu_launch(const struct rt_config *cfg, const struct hv_vm_config *vc, struct hv_vm *vm,
		       struct lv_error **err)
{
	char *bufs[QEMU_MAX_ARGS] = { 0 };
	const char *argv[QEMU_MAX_ARGS];
	cleanup_free char *logpath = NULL;
	cleanup_close int logfd = -1;
	int sv[2] = { -1, -1 };
	struct qemu_priv *priv = NULL;
	pid_t parent = getpid(), pid;
	cleanup_close int tap = -1;
	int r, i;

	r = build_argv(cfg, vc, bufs, argv, err);
	if (r < 0)
		goto out;
	if (asprintf(&logpath, "%s/vmm.log", vc->state_dir) < 0) {
		logpath = NULL;
		r = lv_err(err, ENOMEM, "qemu log path");
		goto out;
	}
	logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (logfd < 0) {
		r = lv_err(err, errno, "open %s", logpath);
		goto out;
	}
	/* The exact command, one argument per line, for debugging and for the
	 * benchmark's direct-boot peer. */
	for (i = 0; argv[i]; i++)
		dprintf(logfd, "argv: %s\n", argv[i]);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = lv_err(err, errno, "socketpair for the control channel");
		goto out;
	}
	priv = calloc(1, sizeof(*priv));
	if (!priv) {
		r = lv_err(err, ENOMEM, "qemu backend");
		goto out;
	}
	/* Above the fds the child moves into place, so no dup2 clobbers it. */
	if (vc->tap && vc->has_tap_fd && (tap = fcntl(vc->tap_fd, F_DUPFD_CLOEXEC, QEMU_FD_HIGH)) < 0) {
		r = lv_err(err, errno, "tap %s", vc->tap);
		goto out;
	}
	r = rt_virtiofsd_start(cfg->virtiofsd, vc, logfd, priv->fs, err);
	if (r < 0)
		goto out;
	priv->nfs = vc->nshares;
	for (size_t k = 0; k < priv->nfs; k++) {
		/* Out of the way of the fds the child sets up. */
		int high = fcntl(priv->fs[k].conn_fd, F_DUPFD_CLOEXEC, QEMU_FD_HIGH);

		if (high < 0) {
			r = lv_err(err, errno, "qemu: fd for share %s", vc->shares[k].tag);
			goto out;
		}
		close(priv->fs[k].conn_fd);
		priv->fs[k].conn_fd = high;
	}
	pid = fork();
	if (pid < 0) {
		r = lv_err(err, errno, "fork qemu");
		goto out;
	}
	if (pid == 0)
		qemu_child(argv, sv[1], tap, priv->fs, priv->nfs, logfd, parent, vc->detach_vmm);
	for (size_t k = 0; k < priv->nfs; k++) { /* QEMU has them */
		close(priv->fs[k].conn_fd);
		priv->fs[k].conn_fd = -1;
	}

	vm->ops = &hv_qemu_ops;
	vm->vmm_pid = pid;
	vm->exit_fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (vm->exit_fd < 0) {
		r = lv_err(err, errno, "pidfd_open(qemu %d)", pid);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	rt_proc_start_time(pid, &vm->vmm_start, NULL, NULL);
	vm->ctl_fd = lv_take_fd(&sv[0]);
	vm->priv = lv_take_ptr(&priv);
	r = 0;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (priv)
		rt_virtiofsd_stop(priv->fs, priv->nfs);
	free(priv);
	for (i = 0; i < QEMU_MAX_ARGS; i++)
		free(bufs[i]);
	return r;
}

/* An adopted QEMU (a pool shell) is not our child: its pid stays its own
 * only while the daemon, its parent, has not reaped it, so it is signalled
 * through its pidfd.  Our own child's pid cannot go before we reap it. */
static int qemu_signal(struct hv_vm *vm, int sig)
{
	const struct qemu_priv *p = vm->priv;

	if (p && p->adopted && vm->exit_fd >= 0)
		return (int)syscall(SYS_pidfd_send_signal, vm->exit_fd, sig, NULL, 0);
	return kill(vm->vmm_pid, sig);
}

/* Stopping the QEMU process stops every vCPU: a pause that needs no QMP
 * round trip and cannot be undone by the guest. */
static int qemu_pause(struct hv_vm *vm, struct lv_error **err)
{
	struct qemu_priv *p = vm->priv;

	if (qemu_signal(vm, SIGSTOP) < 0)
		return lv_err(err, errno, "pause: stop qemu %d", vm->vmm_pid);
	p->paused = true;
	return 0;
}

static int qemu_resume(struct hv_vm *vm, struct lv_error **err)
{
	struct qemu_priv *p = vm->priv;

	if (qemu_signal(vm, SIGCONT) < 0)
		return lv_err(err, errno, "resume: continue qemu %d", vm->vmm_pid);
	p->paused = false;
	return 0;
}

/* /proc/self/fdinfo/<pidfd> names the process: "Pid:\t<pid>" (-1 once
 * it has been reaped, 0 when it is not in our pid namespace). */
static int pidfd_pid(int pidfd, pid_t *pid, struct lv_error **err)
{
	char path[64], line[128];
	cleanup_fclose FILE *f = NULL;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	f = fopen(path, "re");
	if (!f)
		return lv_err(err, errno, "open %s", path);
	while (fgets(line, sizeof(line), f)) {
		int v;
		if (sscanf(line, "Pid: %d", &v) == 1) {
			if (v <= 0)
				return lv_err_msg(err, ESRCH, "the claimed VMM is gone (pidfd says pid %d)", v);
			*pid = v;
			return 0;
		}
	}
	return lv_err_msg(err, EINVAL, "fd %d is not a pidfd", pidfd);
}

static int qemu_adopt(struct hv_vm *vm, int pidfd, int ctl_fd, struct lv_error **err)
{
	struct qemu_priv *p = NULL;
	pid_t pid = 0;
	int r = pidfd_pid(pidfd, &pid, err);

	if (r < 0)
		goto fail;
	p = calloc(1, sizeof(*p));
	if (!p) {
		r = lv_err(err, ENOMEM, "qemu backend");
		goto fail;
	}
	/* The daemon stopped it once its guest had booted. */
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGCONT, NULL, 0) < 0) {
		r = lv_err(err, errno, "continuing the shell's QEMU %d", (int)pid);
		goto fail;
	}
	p->adopted = true;
	vm->ops = &hv_qemu_ops;
	vm->vmm_pid = pid;
	vm->exit_fd = pidfd;
	vm->ctl_fd = ctl_fd;
	vm->priv = p;
	rt_proc_start_time(pid, &vm->vmm_start, NULL, NULL);
	return 0;
fail:
	free(p);
	close(pidfd);
	close(ctl_fd);
	return r;
}

static void qemu_destroy(struct hv_vm *vm)
{
	struct qemu_priv *p = vm->priv;

	if (vm->vmm_pid > 0 && p && p->adopted && !p->reaped) {
		qemu_signal(vm, SIGKILL);
		p->reaped = true;
	}
	if (vm->vmm_pid > 0 && p && !p->reaped) {
		kill(vm->vmm_pid, SIGKILL);
		while (waitpid(vm->vmm_pid, NULL, 0) < 0 && errno == EINTR)
			;
		p->reaped = true;
	}
	if (p)
		rt_virtiofsd_reap(p->fs, p->nfs);
	if (vm->exit_fd >= 0)
		close(vm->exit_fd);
	if (vm->ctl_fd >= 0)
		close(vm->ctl_fd);
	vm->exit_fd = vm->ctl_fd = -1;
	free(vm->priv);
	vm->priv = NULL;
}

const struct hv_ops hv_qemu_ops = {
	.name = "qemu",
	.check = qemu_check,
	.launch = qemu_launch,
	.pause = qemu_pause,
	.resume = qemu_resume,
	.adopt = qemu_adopt,
	.destroy = qemu_destroy,
};
