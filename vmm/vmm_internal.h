/* The parts of struct vmm shared by vmm.c (construction), vmm_devices.c
 * (optional devices) and vmm_run.c (threads); nothing outside vmm/ sees it. */
#ifndef VMM_INTERNAL_H
#define VMM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "loop.h"
#include "memory.h"
#include "vcpu.h"
#include "virtio_console.h"
#include "virtio_mmio.h"
#include "vm.h"
#include "vmm.h"

struct vmm_window {
	uint64_t base;
	struct vmm_virtio_mmio *m;
};

struct vmm_blk;
struct vmm_fs;
struct vmm_net;
struct vmm_serial;

struct vmm;

struct vmm_vcpu_thread {
	struct vmm *v;
	unsigned int idx;
	pthread_t thread;
	bool started;
};

struct vmm {
	struct vmm_config cfg;        /* the caller's, validated; fds not owned */
	char cmdline[VMM_MAX_CMDLINE];

	struct vmm_loop *loop;
	struct vmm_vm *vm;
	struct vmm_memory *mem;
	struct vmm_vcpu *vcpus[VMM_MAX_VCPUS];
	unsigned int nvcpus;

	struct vmm_serial *serial;
	int serial_irq_fd;
	struct vmm_console *console;
	struct vmm_blk *blk;
	struct vmm_net *net;
	struct vmm_fs *fs[VMM_MAX_FS];
	unsigned int nfs;
	struct vmm_window win[VMM_MAX_DEVICES];
	unsigned int nwin;

	/* Run state, under lock. */
	bool sync_init;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vmm_vcpu_thread threads[VMM_MAX_VCPUS];
	pthread_t io_thread;
	bool io_started;
	bool stop;                    /* the vCPUs must leave their loops */
	bool pause_req;
	unsigned int parked;          /* vCPUs waiting in the pause */
	unsigned int running;         /* vCPU threads still in their loop */
	int exit_fd;
	enum vmm_end end;
	char end_msg[256];
	unsigned long stray_pio, stray_mmio; /* accesses to nothing, answered with all-ones */
};

/* vmm.c: the steps vmm_create() and vmm_restore() share.  vmm_new():
 * the struct, exit_fd, the lock, the loop and the KVM VM (no memory yet). */
int vmm_new(const struct vmm_config *cfg, struct vmm **out, struct lv_error **err);
int vmm_create_devices(struct vmm *v, struct lv_error **err);
int vmm_create_vcpus(struct vmm *v, struct lv_error **err);
int vmm_add_window(struct vmm *v, struct vmm_virtio_mmio *m, struct lv_error **err);
void vmm_next_slot(const struct vmm *v, uint64_t *base, unsigned int *gsi);

/* vmm_devices.c */
int vmm_serial_setup(struct vmm *v, struct lv_error **err);
void vmm_serial_teardown(struct vmm *v);
int vmm_extra_devices(struct vmm *v, struct lv_error **err);
void vmm_extra_devices_destroy(struct vmm *v);
int vmm_pio(struct vmm *v, uint16_t port, bool is_write, uint8_t *data, uint8_t size, uint32_t count);

/* vmm_run.c */
void vmm_stop_threads(struct vmm *v);

#endif
