/* The monitor's sandbox: once the VM is built, the process that runs it
 * keeps only what its run loop needs.  A guest that escapes into the
 * monitor (through a device model bug, a KVM exit handler, the noxs channel
 * parser) then holds no capabilities, cannot execute anything, open a
 * socket, create a process or thread, trace or write into another process,
 * map executable memory, or issue ioctls beyond a short list; with
 * write_dirfd, it can write files only beneath the container's state
 * directory.  See runtime/SANDBOX.md for the threat model and the reason
 * behind every allowed system call.
 *
 * Two steps, because capabilities and (before Linux 7.0) Landlock domains
 * belong to a thread; only the seccomp filter can be put on every thread:
 *
 *   rt_sandbox_restrict_thread(&p, err);  -- in the monitor's main thread,
 *                                            before it creates any thread
 *   ... create the VMM's vCPU and device threads (they inherit it) ...
 *   rt_sandbox_apply(&p, err);            -- before the run loop
 *
 * A single-threaded monitor (the QEMU backend) calls rt_sandbox_apply()
 * alone: it restricts the calling thread first.  rt_sandbox_apply() refuses
 * to install the filter while another thread still holds a capability the
 * policy does not keep.
 *
 * Nothing here reads the environment: LIGHTVM_SANDBOX=off|log is the
 * caller's business (see SANDBOX.md). */
#ifndef RT_SANDBOX_H
#define RT_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/error.h"

/* A bit of rt_sandbox_policy.keep_caps, e.g. RT_SANDBOX_CAP(CAP_KILL). */
#define RT_SANDBOX_CAP(c) (1ULL << (c))

struct rt_sandbox_policy {
	/* Rewrites state.json after the sandbox (save_state()): create-only
	 * openat, fsync, renameat, unlinkat, flock. */
	bool state_files;
	/* The in-process VMM: KVM_RUN and the few KVM ioctls used after the VM
	 * is built, epoll for the device thread; wait4/waitid to reap the
	 * virtiofsd of shared directories (never kill). */
	bool kvm;
	/* A terminal on the host side: TIOCGWINSZ to pass resizes on. */
	bool terminal;
	/* A disk image served by the VMM: pread/pwrite and their vector forms,
	 * fdatasync. */
	bool block_image;
	/* > 0: the separate VMM process (QEMU), which may be signalled (pause,
	 * resume, destroy) and reaped.  No other process can be signalled. */
	pid_t child_pid;
	/* > 0: a pidfd of a VMM process that is not our child (an adopted
	 * pool shell), which may be signalled through it: its pid could be
	 * reused once someone else reaps it.  0: none (fd 0 is stdin). */
	int child_pidfd;
	/* >= 0: a directory (the container's state directory) beneath which
	 * the calling thread, and threads it creates later, may still create,
	 * write, rename and remove regular files; everywhere else such writes
	 * fail with EACCES (Landlock).  Needs Landlock (Linux 5.13): without
	 * it the restriction fails with EOPNOTSUPP.  -1: no such restriction
	 * (0 is a valid fd, so say -1). */
	int write_dirfd;
	/* Capabilities to keep; all others leave every set, bounding
	 * included.  The monitor needs none (see SANDBOX.md). */
	uint64_t keep_caps;
	/* Log what the filter would have killed (audit, type=1326) instead
	 * of killing: for finding a missing system call, never in production. */
	bool log_only;
};

/* The policy that allows nothing optional: no state writes, no KVM, no
 * child, write_dirfd -1, no capability kept. */
void rt_sandbox_policy_init(struct rt_sandbox_policy *p);

/* Confines the calling thread, and the threads it creates from now on:
 * drops every capability not in keep_caps (effective, permitted,
 * inheritable, bounding, ambient), sets no_new_privs, makes the process
 * non-dumpable (a core file would hold guest memory), and with write_dirfd
 * installs the Landlock write restriction.  Safe to call more than once. */
int rt_sandbox_restrict_thread(const struct rt_sandbox_policy *p, struct lv_error **err);

/* rt_sandbox_restrict_thread(), then checks that no other thread of the
 * process holds a capability outside keep_caps, then installs the seccomp
 * filter on every thread of the process (TSYNC).  From then on a system
 * call outside the policy kills the whole process with SIGSYS (or is only
 * logged, with log_only).  Threads can no longer be created. */
int rt_sandbox_apply(const struct rt_sandbox_policy *p, struct lv_error **err);

/* The highest Landlock ABI version this kernel supports, or a negative
 * errno (-EOPNOTSUPP when Landlock is disabled, -ENOSYS before 5.13): for
 * the caller to decide whether to ask for write_dirfd. */
int rt_sandbox_landlock_abi(void);

/* For tests that prove the filter is in force in a real monitor (a debug
 * control request the caller wires): makes a system call every policy
 * forbids, socket(AF_INET).  Under an enforcing sandbox the process dies
 * with SIGSYS and this never returns.  Otherwise it returns 0 (no sandbox,
 * or log_only) or the negative errno the call failed with. */
int rt_sandbox_probe_forbidden(void);

#endif
