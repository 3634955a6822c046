/* The runtime's own configuration (not the container's): which backend and
 * accelerator, where the kernel is, limits.  Read from $LIGHTVM_CONFIG or
 * /etc/lightvm/config.json; every field optional.  Documented in README.md. */
#ifndef RT_CONFIG_H
#define RT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "../lib/error.h"

#define RT_CONFIG_DEFAULT_PATH "/etc/lightvm/config.json"

struct rt_config {
	char *path;             /* file it came from, or NULL for defaults */
	char *backend;          /* "auto", "qemu", "kvm", "xen" */
	char *accel;            /* qemu backend: "auto", "kvm", "tcg" */
	char *kernel;           /* guest kernel (bzImage) */
	char *qemu;             /* qemu-system-x86_64 binary */
	char *virtiofsd;        /* qemu backend: the file server of directory bind mounts */
	char *cache_dir;        /* initramfs cache */
	char *sandbox;          /* the monitor's sandbox: "on", "log" (report, never kill), "off" */
	char *rootfs_delivery;  /* "initramfs": the rootfs is in the VM's initramfs; "channel": the VM
	                         * boots a shared init-only initramfs and the rootfs follows over
	                         * the control channel */
	unsigned default_mem_mib;
	unsigned default_vcpus;
	uint64_t initramfs_max_mib;
	int initramfs_compress; /* gzip level, 0 = none */
	unsigned boot_timeout_ms;
	/* "pool": {"target": N, "cap": M}: lightvm-poold keeps N shells of the
	 * default key (backend qemu, memory_mib, vcpus, kernel) ready, and
	 * never more than M of any key (FILL may raise a target up to M). */
	unsigned pool_target;
	unsigned pool_cap;
};

int rt_config_load(struct rt_config *cfg, struct lv_error **err);
void rt_config_free(struct rt_config *cfg);

/* Facts about the host CPU from /proc/cpuinfo. */
struct rt_host_cpu {
	bool hw_virt;          /* vmx or svm: hardware virtualization */
	unsigned tsc_khz;      /* TSC rate when the kernel knows it exactly (tsc_known_freq), else 0 */
};
void rt_host_cpu_probe(struct rt_host_cpu *cpu);

/* Whether /proc/cpuinfo shows vmx or svm (hardware virtualization). */
bool rt_host_has_hw_virt(void);

#endif
