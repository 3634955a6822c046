/* The monitor: the host process that owns one container's VM and is the
 * container's pid.  It boots the VM, hands the guest its device page,
 * waits for `start`, relays stdio and signals, and exits with the
 * container process's exit status (128+N for signal N), as runc's init
 * process would. */
#ifndef RT_MONITOR_H
#define RT_MONITOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "container.h"
#include "hv.h"
#include "net.h"
#include "spec.h"

struct rt_monitor_args {
	struct rt_context *ctx;
	const char *id;
	const char *bundle;
	const struct rt_spec *spec;
	const struct hv_ops *ops;
	struct hv_vm_config vm_config;
	uint8_t *page;      /* the forked monitor's own copy: re-stamped, its seed wiped once sent */
	size_t page_len;
	int sync_fd;        /* reports "ok" or the error to the creating process */
	int console_fd;     /* connected --console-socket, or -1 */
	bool autostart;     /* `run`: start as soon as the
	                     * guest is ready and report once the process runs */
	enum rt_net_mode net_mode;
	/* -1, or: the createRuntime/prestart hooks run between the monitor's
	 * entering the container's network namespace and the VM's launch
	 * (docker's fill that namespace): the monitor writes one byte here
	 * once it is in the namespace and launches when it reads one back. */
	int hooks_fd;
};

/* Every signal a container's pid can be sent and pass on to the guest:
 * all but the synchronous faults, which must stay deliverable to us. */
void rt_forwardable_signals(sigset_t *set);

/* Runs in the forked monitor process; returns its exit code. */
int rt_monitor_main(const struct rt_monitor_args *args);

#endif
