/* A whole VM: the validated configuration, and the running machine built
 * from it (KVM VM, guest RAM, vCPUs with a thread each, devices behind
 * virtio-mmio, the device thread's loop).  This is the API the runtime's
 * kvm backend drives from inside the container's monitor process: there is
 * no separate VMM process and nothing is exec'd.
 *
 * Lifecycle:  vmm_create()  builds everything and loads the guest;
 *             vmm_start()   starts the vCPU threads and the device thread;
 *             vmm_pause() / vmm_resume()  park and release the vCPUs;
 *             exit_fd       becomes readable when the guest has ended (it
 *                           reset or powered off, or a vCPU failed);
 *             vmm_destroy() stops and joins everything, frees it all. */
#ifndef VMM_VMM_H
#define VMM_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

/* Upper bounds we accept; the runtime validates against them first. */
#define VMM_MAX_VCPUS     64
#define VMM_MIN_MEM_MIB   32
#define VMM_MAX_MEM_MIB   (256 * 1024)
#define VMM_MAX_CMDLINE   2048

/* Device windows: one page apart from here, interrupts from GSI 5 (4 is
 * COM1's).  Both are announced on the kernel command line. */
#define VMM_MMIO_BASE     0xd0000000ULL
#define VMM_MMIO_STRIDE   0x1000ULL
#define VMM_FIRST_GSI     5U
/* GSIs 5..23: the IOAPIC's 24 pins. */
#define VMM_MAX_DEVICES   19
/* Shared directories (virtio-fs), besides console, block and net. */
#define VMM_MAX_FS        16

/* A directory shared over virtio-fs: a vhost-user backend (virtiofsd)
 * already connected, and the tag the guest mounts (1..36 bytes). */
struct vmm_fs_config {
	const char *tag;
	int sock_fd;   /* the VMM works on its own duplicate */
};

struct vmm_config {
	const char *kvm_path;      /* NULL: /dev/kvm */
	unsigned int vcpus;        /* 1..VMM_MAX_VCPUS */
	unsigned int mem_mib;      /* VMM_MIN_MEM_MIB..VMM_MAX_MEM_MIB */
	const char *kernel_path;   /* bzImage */
	const char *initrd_path;   /* NULL: none */
	const char *cmdline;       /* the guest's own part; device fragments are appended */
	/* The host end of the guest init's control channel: a SOCK_STREAM
	 * socket, served as the virtio-console port `ctl_port_name`. */
	int ctl_fd;
	const char *ctl_port_name;
	/* With debug_fd >= 0, an 8250 UART on COM1 writes there (the caller
	 * adds console=ttyS0 to the command line); -1: no serial port at all. */
	int debug_fd;
	/* Where the VMM notes why the VM ended and what the guest did wrong
	 * (a device it broke, stray port/MMIO accesses), or -1. */
	int log_fd;
	/* An optional read-only block device (fd of an image), or -1. */
	int blk_fd;
	/* An optional network device: a tap fd (IFF_VNET_HDR), or -1. */
	int tap_fd;
	uint8_t mac[6];
	/* Shared directories, one virtio-fs device each (vmm_create() only:
	 * a snapshot or restore refuses them). */
	const struct vmm_fs_config *fs;
	unsigned int nfs;           /* <= VMM_MAX_FS */
	/* How long a vhost-user backend may take to answer (0: 10 s). */
	int backend_timeout_ms;
};

/* Why the VM ended, once exit_fd is readable. */
enum vmm_end {
	VMM_END_NONE = 0,
	VMM_END_RESET,     /* the guest rebooted (reboot=t: triple fault) */
	VMM_END_POWEROFF,  /* KVM_SYSTEM_EVENT_SHUTDOWN */
	VMM_END_CRASH,     /* KVM_SYSTEM_EVENT_CRASH */
	VMM_END_ERROR,     /* a vCPU or the device thread failed: see vmm_end_message() */
};

struct vmm;

int vmm_create(const struct vmm_config *cfg, struct vmm **out, struct lv_error **err);
int vmm_start(struct vmm *v, struct lv_error **err);
int vmm_pause(struct vmm *v, struct lv_error **err);
int vmm_resume(struct vmm *v, struct lv_error **err);
/* An eventfd, readable once the VM has ended; owned by the vmm. */
int vmm_exit_fd(const struct vmm *v);
enum vmm_end vmm_end_reason(const struct vmm *v);
/* A human-readable reason (never NULL), valid until vmm_destroy(). */
const char *vmm_end_message(const struct vmm *v);
/* The command line the guest was given (base + devices). */
const char *vmm_cmdline(const struct vmm *v);
/* NULL-safe, sets *v to NULL.  Does not close the caller's fds. */
void vmm_destroy(struct vmm **v);

#endif
