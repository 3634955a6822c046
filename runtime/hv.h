/* The hypervisor interface: an ops table each backend implements.  The
 * monitor drives a VM only through it; it knows nothing of QEMU's command
 * line, KVM ioctls or Xen domains. */
#ifndef HV_H
#define HV_H

#include <stdbool.h>
#include <sys/types.h>

#include "../lib/error.h"
#include "config.h"

/* A host directory shared with the guest (a directory bind mount): served
 * by a file server on the host and mounted by the guest init by its tag. */
struct hv_share {
	const char *source;     /* absolute host directory */
	char tag[16];           /* "lvfsN": the device's tag, the page's mount source */
	bool readonly;
};
#define HV_MAX_SHARES 16u

struct hv_vm_config {
	const char *kernel;
	const char *initrd;
	const char *init_path;  /* guest path of our init inside the initramfs */
	unsigned mem_mib;
	unsigned vcpus;
	bool debug;             /* early kernel log on a serial console */
	int debug_log_fd;       /* where that serial console goes (-1: discard) */
	const char *state_dir;  /* per-container directory the backend may use */
	const char *disk;       /* a raw image attached read-only as the first disk, or NULL */
	const char *tap;        /* a tap interface behind the guest's first NIC, or NULL */
	const uint8_t *mac;     /* with tap: that NIC's MAC (6 bytes), as the device page says */
	/* With tap: the monitor opened it already (runtime/net.c), tap_fd is
	 * its fd, still the caller's: the backend gives the VMM its own copy.
	 * Without: the kvm backend opens tap by name. */
	bool has_tap_fd;
	int tap_fd;
	const struct hv_share *shares; /* directory bind mounts, in the spec's order */
	size_t nshares;
	/* An uncompressed newc cpio of the rootfs that the monitor streams to
	 * the guest over the control channel (ROOTFS frames) before the page,
	 * when initrd is the shared init-only shell; NULL: the rootfs is in
	 * the initrd.  Backends ignore it. */
	const char *rootfs_archive;
	/* The VMM outlives whoever launched it: no PR_SET_PDEATHSIG.  For the
	 * shells of lightvm-poold, which hands them to monitors: a daemon that
	 * dies must not take the containers running on its shells with it (the
	 * daemon reclaims what it did not hand out when it starts again). */
	bool detach_vmm;
	/* A name for the VMM process's command line (QEMU's -name), or NULL. */
	const char *name;
};

struct hv_vm {
	const struct hv_ops *ops;
	pid_t vmm_pid;          /* a separate VMM process, or 0 */
	unsigned long long vmm_start;
	int exit_fd;            /* readable when the VM has ended (a pidfd), or -1 */
	int ctl_fd;             /* host end of the guest's control channel */
	void *priv;
};

struct hv_ops {
	const char *name;
	/* Whether this host can run the backend well; the error says why not. */
	int (*check)(const struct rt_config *cfg, struct lv_error **err);
	/* Builds the VM, and starts it unless the backend has a start op.  On
	 * success vm->ctl_fd is connected to the guest init's control port. */
	int (*launch)(const struct rt_config *cfg, const struct hv_vm_config *vc, struct hv_vm *vm,
		      struct lv_error **err);
	/* Optional: starts what launch built (an in-process VMM's threads).
	 * Between the two the monitor confines itself, so that the threads
	 * inherit the confinement. */
	int (*start)(struct hv_vm *vm, struct lv_error **err);
	int (*pause)(struct hv_vm *vm, struct lv_error **err);
	int (*resume)(struct hv_vm *vm, struct lv_error **err);
	/* Optional: takes over a VM another process launched (a pool shell
	 * claimed from lightvm-poold): a pidfd of its VMM and the host end of
	 * its control channel, both consumed, on failure too.  The VMM is
	 * then not our child: destroy kills it and the daemon reaps it. */
	int (*adopt)(struct hv_vm *vm, int pidfd, int ctl_fd, struct lv_error **err);
	/* Optional (kvm): a pool template.  Boots vc (its initrd the shared
	 * shell initramfs) in this process, waits for the guest init's WAITING
	 * (within cfg->boot_timeout_ms), snapshots the VM and ends it: two
	 * sealed memfds, its RAM and its state (vmm/snapshot.h). */
	int (*make_template)(const struct rt_config *cfg, const struct hv_vm_config *vc, int *mem_fd,
			     int *state_fd, struct lv_error **err);
	/* Optional (kvm): launch from a template's snapshot instead of booting
	 * (the fds stay the caller's); then start as after launch. */
	int (*restore)(const struct rt_config *cfg, const struct hv_vm_config *vc, int mem_fd, int state_fd,
		       struct hv_vm *vm, struct lv_error **err);
	/* After exit_fd became readable (or to stop it): ends the VM at once,
	 * reaps it and frees backend state.  Safe to call more than once. */
	void (*destroy)(struct hv_vm *vm);
};

/* The backend for a name ("qemu", "kvm", "xen"), "auto" meaning the best
 * one this host can run.  An unknown name or a backend the host cannot run
 * well is an error that says so. */
int hv_select(const struct rt_config *cfg, const char *name, const struct hv_ops **out, struct lv_error **err);

extern const struct hv_ops hv_qemu_ops;
extern const struct hv_ops hv_kvm_ops;

#endif
