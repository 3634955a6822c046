/* virtio-console (virtio 1.x, 5.3) with VIRTIO_CONSOLE_F_MULTIPORT and one
 * named port bridged to a host socket: the noxs control channel between
 * the guest's init and the monitor ("org.lightvm.ctl"), in place of QEMU's
 * virtserialport.
 *
 * The named port has id 1, as QEMU numbers its first virtserialport, so the
 * guest sees /dev/vport<N>p1; port 0 (the legacy console port) is never
 * added.  max_nr_ports is 2, hence six queues: port 0 rx/tx (0, 1, unused),
 * control rx/tx (2, 3), port 1 rx/tx (4, 5).
 *
 * The control handshake, as Linux's virtio_console drives it:
 *   guest DEVICE_READY(1)  -> device PORT_ADD(1)
 *   guest PORT_READY(1, 1) -> device PORT_NAME(1, name), then PORT_OPEN(1, 1)
 *                             if the host socket is still connected
 *   guest PORT_OPEN(1, v)  -> host->guest data flows only while v == 1 (Linux
 *                             discards data for a port nobody has open)
 *   host EOF or error      -> device PORT_OPEN(1, 0): the guest's reads see
 *                             end of file once the data before it is read.
 *                             (A host half-close looks like a disconnect too;
 *                             Linux then blocks the guest's writes.)
 * Malformed control messages (short, unknown event, another port id) are
 * counted in bad_control and ignored.
 *
 * Data: guest->host chains are written to host_fd; on EAGAIN the chain is
 * kept and the device waits for EPOLLOUT.  host->guest bytes are read only
 * when the guest has an rx buffer posted and the port open (EPOLLIN interest
 * is off otherwise, so a full guest never spins the loop).  After EOF the
 * host fd is not read again; after a write error guest->host data is
 * dropped (the chains are still returned, so the guest does not hang).
 *
 * Threads: as for every virtio-mmio device (virtio_mmio.h), the state is
 * guarded by the transport's lock; the host fd's callback runs on the
 * loop's thread, QueueNotify on a vCPU thread. */
#ifndef VMM_VIRTIO_CONSOLE_H
#define VMM_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "../lib/error.h"
#include "loop.h"
#include "memory.h"
#include "virtio_mmio.h"

#define VMM_CONSOLE_PORT_ID  1U
#define VMM_CONSOLE_NAME_MAX 64U

struct vmm_console;

struct vmm_console_stats {
	uint64_t to_host;           /* bytes written to host_fd */
	uint64_t to_guest;          /* bytes delivered into rx buffers */
	uint64_t dropped;           /* guest->host bytes dropped after a host write error */
	unsigned long bad_control;  /* malformed or unexpected control messages */
	bool guest_open;            /* the guest has the port open */
	bool host_eof;              /* host_fd reached EOF (or failed reading) */
	bool host_dead;             /* writing to host_fd failed */
};

/* Creates the device and its transport at base/irq (see
 * vmm_virtio_mmio_init()) and registers host_fd (and the transport's
 * notify_fd, when ioeventfd) with loop.  host_fd: a connected SOCK_STREAM
 * socket (any fd readv/writev work on will do); it is set O_NONBLOCK, stays
 * the caller's, and must stay open until vmm_console_destroy().
 * port_name: 1..VMM_CONSOLE_NAME_MAX printable characters, no '/'. */
int vmm_console_create(const struct vmm_memory *mem, uint64_t base, unsigned int irq, bool ioeventfd,
		       struct vmm_loop *loop, int host_fd, const char *port_name, struct vmm_console **out,
		       struct lv_error **err);

/* The transport: for the vCPU's MMIO handler, the irqfd/ioeventfd setup and
 * the command line fragment. */
struct vmm_virtio_mmio *vmm_console_mmio(struct vmm_console *c);

/* A snapshot of the counters and states (takes the lock). */
void vmm_console_get_stats(struct vmm_console *c, struct vmm_console_stats *out);

/* The device in a snapshot: the transport, and whether the guest took and
 * opened the port.  Saving needs a quiet device (-EBUSY while a chain is
 * half sent or a control message waits); what the guest sent before is on
 * the old host fd, and buffers it posted are in its RAM.  Restoring goes
 * to a device just created (its host fd the new one), before the VMM
 * starts. */
struct vmm_console_state {
	struct vmm_virtio_mmio_state mmio;
	uint8_t port_ready, guest_open;
	uint8_t pad[6];
};

int vmm_console_save(struct vmm_console *c, struct vmm_console_state *st, struct lv_error **err);
int vmm_console_restore(struct vmm_console *c, const struct vmm_console_state *st, struct lv_error **err);

/* Removes the fds from the loop (call it from the loop's thread or with the
 * loop stopped), closes the transport's eventfds and frees; host_fd is left
 * open for its owner.  NULL-safe, sets *c to NULL. */
void vmm_console_destroy(struct vmm_console **c);

#endif
