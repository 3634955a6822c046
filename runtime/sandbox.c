/* The monitor's sandbox: see sandbox.h, and SANDBOX.md for why each system
 * call is allowed.  x86-64 only, like the VMM. */
#include "sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/cleanup.h"

/* Landlock ABI 3 (Linux 6.2); the kernel headers we build against may
 * predate it.  The value is UAPI and cannot change. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

/* The kernel reads an ioctl request, a pid or a signal's tgid as a 32-bit
 * int and ignores the upper half of the register; so do we, so that a
 * request some caller passes sign-extended still matches. */
#define LOW32 0xffffffffULL

/* The sanitizers' runtime needs more than the monitor at exit and when it
 * reports (see SANDBOX.md); a sanitizer build is a test build. */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif

static inline void release_filter(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static inline void release_caps(cap_t *c)
{
	if (*c)
		cap_free(*c);
}

#define cleanup_filter __attribute__((cleanup(release_filter)))
#define cleanup_caps __attribute__((cleanup(release_caps)))

void rt_sandbox_policy_init(struct rt_sandbox_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->write_dirfd = -1;
}

static int check_policy(const struct rt_sandbox_policy *p, struct lv_error **err)
{
	unsigned int ncaps = (unsigned int)cap_max_bits();

	if (!p)
		return lv_err_msg(err, EINVAL, "sandbox: no policy");
	if (ncaps < 64 && (p->keep_caps >> ncaps) != 0)
		return lv_err_msg(err, EINVAL, "sandbox: keep_caps 0x%llx names capabilities this kernel lacks (%u known)",
				  (unsigned long long)p->keep_caps, ncaps);
	if (p->child_pid < 0)
		return lv_err_msg(err, EINVAL, "sandbox: child_pid %d", (int)p->child_pid);
	if (p->write_dirfd < -1)
		return lv_err_msg(err, EINVAL, "sandbox: write_dirfd %d", p->write_dirfd);
	return 0;
}

static bool kept(const struct rt_sandbox_policy *p, cap_value_t c)
{
	return c < 64 && (p->keep_caps & RT_SANDBOX_CAP(c));
}

static int cap_error(struct lv_error **err, int errnum, const char *what, cap_value_t c)
{
	char *name = cap_to_name(c);
	int r = lv_err(err, errnum, "sandbox: %s %s", what, name ? name : "a capability");

	cap_free(name);
	return r;
}

/* The bounding set is what an execve could ever grant again.  Changing it
 * takes CAP_SETPCAP: a monitor without it (not root) cannot have regained
 * anything through execve anyway, as no_new_privs forbids that. */
static int drop_bounding(const struct rt_sandbox_policy *p, cap_t cur, struct lv_error **err)
{
	cap_value_t n = (cap_value_t)cap_max_bits();
	cap_flag_value_t setpcap = CAP_CLEAR;

	if (cap_get_flag(cur, CAP_SETPCAP, CAP_EFFECTIVE, &setpcap) < 0 || setpcap != CAP_SET)
		return 0;
	for (cap_value_t c = 0; c < n; c++) {
		if (kept(p, c) || cap_get_bound(c) <= 0)
			continue;
		if (cap_drop_bound(c) < 0)
			return cap_error(err, errno, "drop from the bounding set:", c);
	}
	return 0;
}

static int drop_caps(const struct rt_sandbox_policy *p, struct lv_error **err)
{
	cleanup_caps cap_t cur = cap_get_proc();
	cleanup_caps cap_t want = cap_init();
	cap_value_t n = (cap_value_t)cap_max_bits();
	int r;

	if (!cur || !want)
		return lv_err(err, errno, "sandbox: read the capability sets");
	for (cap_value_t c = 0; c < n; c++) {
		cap_flag_value_t have = CAP_CLEAR;
		if (!kept(p, c))
			continue;
		if (cap_get_flag(cur, c, CAP_PERMITTED, &have) < 0 || have != CAP_SET)
			return cap_error(err, EPERM, "cannot keep", c);
		if (cap_set_flag(want, CAP_PERMITTED, 1, &c, CAP_SET) < 0 ||
		    cap_set_flag(want, CAP_EFFECTIVE, 1, &c, CAP_SET) < 0)
			return lv_err(err, errno, "sandbox: build the capability sets");
	}
	r = drop_bounding(p, cur, err);
	if (r < 0)
		return r;
	/* EINVAL: a kernel without ambient capabilities (< 4.3) has none. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return lv_err(err, errno, "sandbox: clear the ambient capabilities");
	/* Last: the steps above may need what this takes away.  Inheritable
	 * stays empty: only execve reads it, and execve is forbidden. */
	if (cap_set_proc(want) < 0)
		return lv_err(err, errno, "sandbox: set the capability sets");
	return 0;
}

int rt_sandbox_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? -errno : (int)abi;
}

/* Every write-like access this ABI knows is handled (denied unless a rule
 * allows it); reading is not, so the run loop may still open its state
 * directories, the VMM's log and what glibc reads. */
static uint64_t landlock_handled(int abi)
{
	uint64_t fs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
		      LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
		      LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
		      LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;

	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return fs;
}

/* Beneath the state directory: what rt_state_write() does (create a
 * temporary file, write it, rename it over state.json, unlink it on
 * failure).  Same-directory renames need no REFER. */
static int landlock_restrict(int dirfd, struct lv_error **err)
{
	int abi = rt_sandbox_landlock_abi();
	struct landlock_ruleset_attr attr = { 0 };
	struct landlock_path_beneath_attr rule = { 0 };
	cleanup_close int ruleset = -1;

	if (abi < 0)
		return lv_err(err, -abi, "sandbox: write_dirfd needs Landlock");
	attr.handled_access_fs = landlock_handled(abi);
	rule.allowed_access = (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_FILE |
			       LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_TRUNCATE) &
			      attr.handled_access_fs;
	rule.parent_fd = dirfd;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		return lv_err(err, errno, "sandbox: create a Landlock ruleset (ABI %d)", abi);
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0)
		return lv_err(err, errno, "sandbox: allow writes beneath fd %d", dirfd);
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		return lv_err(err, errno, "sandbox: enforce the Landlock ruleset");
	return 0;
}

int rt_sandbox_restrict_thread(const struct rt_sandbox_policy *p, struct lv_error **err)
{
	int r = check_policy(p, err);

	if (r < 0)
		return r;
	/* Before the capabilities go: Landlock without CAP_SYS_ADMIN wants it,
	 * and it is what stops execve from regaining anything. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return lv_err(err, errno, "sandbox: set no_new_privs");
	/* A core file of the monitor would hold guest memory; non-dumpable
	 * also keeps other processes of our uid out of /proc/<pid>/mem. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return lv_err(err, errno, "sandbox: make the process non-dumpable");
	if (p->write_dirfd >= 0) {
		r = landlock_restrict(p->write_dirfd, err);
		if (r < 0)
			return r;
	}
	return drop_caps(p, err);
}

/* The "CapXxx:\t<hex>" line of a /proc status file. */
static bool status_caps(const char *status, const char *key, unsigned long long *out)
{
	const char *s = strstr(status, key);

	return s && sscanf(s + strlen(key), " %llx", out) == 1;
}

/* Capabilities are per thread and seccomp's TSYNC does not carry them:
 * a thread created before rt_sandbox_restrict_thread() keeps its own. */
static int check_thread(int taskfd, const char *tid, uint64_t allowed, struct lv_error **err)
{
	static const char *const sets[] = { "CapPrm:", "CapEff:", "CapInh:", "CapAmb:" };
	char path[64], buf[4096];
	cleanup_close int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/status", tid);
	fd = openat(taskfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0; /* exited meanwhile */
	if (fd < 0)
		return lv_err(err, errno, "sandbox: open /proc/self/task/%s", path);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return lv_err(err, errno, "sandbox: read /proc/self/task/%s", path);
	buf[n] = '\0';
	for (size_t i = 0; i < LV_ARRAY_SIZE(sets); i++) {
		unsigned long long v;
		if (!status_caps(buf, sets[i], &v))
			return lv_err_msg(err, EPROTO, "sandbox: no %s line in /proc/self/task/%s", sets[i], path);
		if (v & ~allowed)
			return lv_err_msg(err, EPERM,
					  "sandbox: thread %s still holds capabilities (%s %llx): restrict the "
					  "thread that creates the others before it does",
					  tid, sets[i], v);
	}
	return 0;
}

static int check_threads(const struct rt_sandbox_policy *p, struct lv_error **err)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	char self[16];
	int r = 0;

	if (!d)
		return lv_err(err, errno, "sandbox: list /proc/self/task");
	snprintf(self, sizeof(self), "%d", (int)gettid());
	while (r == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, self) == 0)
			continue;
		r = check_thread(dirfd(d), de->d_name, p->keep_caps, err);
	}
	if (r == 0 && errno != 0)
		r = lv_err(err, errno, "sandbox: list /proc/self/task");
	closedir(d);
	return r;
}

/* System calls allowed whatever their arguments, and when. */
enum sandbox_need { NEED_ALWAYS, NEED_STATE, NEED_SYNC, NEED_KVM, NEED_BLOCK, NEED_CHILD };

struct sandbox_call {
	int nr;
	enum sandbox_need need;
};

static bool needed(const struct rt_sandbox_policy *p, enum sandbox_need need)
{
	switch (need) {
	case NEED_ALWAYS:
		return true;
	case NEED_STATE:
		return p->state_files;
	case NEED_SYNC:
		return p->state_files || p->block_image;
	case NEED_KVM:
		return p->kvm;
	case NEED_BLOCK:
		return p->block_image;
	case NEED_CHILD:
		/* kvm: reaping the virtiofsd of shared directories, which end
		 * by themselves when the VMM closes their sockets. */
		return p->child_pid > 0 || p->kvm;
	}
	return false;
}

/* One line each in SANDBOX.md says why. */
static const struct sandbox_call plain_calls[] = {
	/* stdio, the noxs channel, ctl.sock replies, the logger, signalfd */
	{ SCMP_SYS(read), NEED_ALWAYS },
	{ SCMP_SYS(write), NEED_ALWAYS },
	{ SCMP_SYS(readv), NEED_ALWAYS },
	{ SCMP_SYS(writev), NEED_ALWAYS },
	{ SCMP_SYS(sendmsg), NEED_ALWAYS },
	{ SCMP_SYS(recvmsg), NEED_ALWAYS },
	{ SCMP_SYS(accept4), NEED_ALWAYS },
	{ SCMP_SYS(close), NEED_ALWAYS },
	{ SCMP_SYS(poll), NEED_ALWAYS },
	{ SCMP_SYS(ppoll), NEED_ALWAYS },
	{ SCMP_SYS(lseek), NEED_ALWAYS },
	{ SCMP_SYS(fstat), NEED_ALWAYS },
	{ SCMP_SYS(newfstatat), NEED_ALWAYS },
	{ SCMP_SYS(readlink), NEED_ALWAYS },
	/* time, sleeping, and restarting a sleep after SIGSTOP/SIGCONT */
	{ SCMP_SYS(clock_gettime), NEED_ALWAYS },
	{ SCMP_SYS(gettimeofday), NEED_ALWAYS },
	{ SCMP_SYS(time), NEED_ALWAYS },
	{ SCMP_SYS(nanosleep), NEED_ALWAYS },
	{ SCMP_SYS(clock_nanosleep), NEED_ALWAYS },
	{ SCMP_SYS(restart_syscall), NEED_ALWAYS },
	/* malloc, threads that already exist, signal handlers */
	{ SCMP_SYS(brk), NEED_ALWAYS },
	{ SCMP_SYS(munmap), NEED_ALWAYS },
	{ SCMP_SYS(mremap), NEED_ALWAYS },
	{ SCMP_SYS(madvise), NEED_ALWAYS },
	{ SCMP_SYS(futex), NEED_ALWAYS },
	{ SCMP_SYS(sched_yield), NEED_ALWAYS },
	{ SCMP_SYS(sched_getaffinity), NEED_ALWAYS },
	{ SCMP_SYS(getrandom), NEED_ALWAYS },
	{ SCMP_SYS(getpid), NEED_ALWAYS },
	{ SCMP_SYS(gettid), NEED_ALWAYS },
	{ SCMP_SYS(rt_sigprocmask), NEED_ALWAYS },
	{ SCMP_SYS(rt_sigreturn), NEED_ALWAYS },
	{ SCMP_SYS(exit), NEED_ALWAYS },
	{ SCMP_SYS(exit_group), NEED_ALWAYS },
	/* a thread created just before apply may still be in glibc's start-up,
	 * which registers its rseq area and robust futex list */
	{ SCMP_SYS(rseq), NEED_ALWAYS },
	{ SCMP_SYS(set_robust_list), NEED_ALWAYS },
	/* state.json: the lock, the atomic rewrite */
	{ SCMP_SYS(flock), NEED_STATE },
	{ SCMP_SYS(renameat), NEED_STATE },
	{ SCMP_SYS(unlinkat), NEED_STATE },
	{ SCMP_SYS(fsync), NEED_SYNC },
	/* the in-process VMM's device thread */
	{ SCMP_SYS(epoll_wait), NEED_KVM },
	{ SCMP_SYS(epoll_pwait), NEED_KVM },
	{ SCMP_SYS(epoll_ctl), NEED_KVM },
	/* a disk image */
	{ SCMP_SYS(pread64), NEED_BLOCK },
	{ SCMP_SYS(pwrite64), NEED_BLOCK },
	{ SCMP_SYS(preadv), NEED_BLOCK },
	{ SCMP_SYS(pwritev), NEED_BLOCK },
	{ SCMP_SYS(fdatasync), NEED_BLOCK },
	/* reaping the VMM process */
	{ SCMP_SYS(wait4), NEED_CHILD },
	{ SCMP_SYS(waitid), NEED_CHILD },
#ifdef SANDBOX_SANITIZER
	/* LeakSanitizer's check at exit (see add_sanitizer_rules()) */
	{ SCMP_SYS(ptrace), NEED_ALWAYS },
	{ SCMP_SYS(prctl), NEED_ALWAYS },
	{ SCMP_SYS(sigaltstack), NEED_ALWAYS },
	{ SCMP_SYS(rt_sigaction), NEED_ALWAYS },
	{ SCMP_SYS(getdents), NEED_ALWAYS },
	{ SCMP_SYS(getdents64), NEED_ALWAYS },
	{ SCMP_SYS(getppid), NEED_ALWAYS },
#endif
};

/* ioctl requests, by the low 32 bits the kernel reads. */
static const unsigned long tty_requests[] = {
	TCGETS, /* isatty(), from stdio deciding how to buffer */
};
static const unsigned long terminal_requests[] = {
	TIOCGWINSZ, /* SIGWINCH: pass the host terminal's size to the guest */
};
/* Everything else (memory slots, irqfds, ioeventfds, vCPU state) is set up
 * before the threads start: vmm_create() registers them all. */
static const unsigned long kvm_requests[] = {
	KVM_RUN,      /* the vCPU loop */
	KVM_GET_REGS, /* the guest RIP in an exit's error message */
};

static int add_rule(scmp_filter_ctx ctx, int nr, unsigned int n, const struct scmp_arg_cmp *cmp,
		    struct lv_error **err)
{
	int r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, cmp);

	if (r < 0) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		r = lv_err(err, -r, "sandbox: allow %s", name ? name : "a system call");
		free(name);
	}
	return r;
}

static int add_one(scmp_filter_ctx ctx, int nr, struct scmp_arg_cmp cmp, struct lv_error **err)
{
	return add_rule(ctx, nr, 1, &cmp, err);
}

static int add_ioctls(scmp_filter_ctx ctx, const unsigned long *req, size_t n, struct lv_error **err)
{
	for (size_t i = 0; i < n; i++) {
		int r = add_one(ctx, SCMP_SYS(ioctl), SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, req[i] & LOW32), err);
		if (r < 0)
			return r;
	}
	return 0;
}

#ifdef SANDBOX_SANITIZER
/* LeakSanitizer stops the world from a helper that shares our memory but is
 * its own process: it clones it, makes us dumpable, ptraces our threads,
 * lists /proc/self/task with its own raw open() and getdents, and waits for
 * it.  Only in sanitizer builds, which are test builds. */
static int add_sanitizer_rules(scmp_filter_ctx ctx, unsigned long read_only_mask, struct lv_error **err)
{
	int r = add_one(ctx, SCMP_SYS(clone),
			SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_UNTRACED), err);

	r = r ?: add_one(ctx, SCMP_SYS(open), SCMP_A1(SCMP_CMP_MASKED_EQ, read_only_mask, 0), err);
	return r ?: add_one(ctx, SCMP_SYS(wait4), SCMP_A2(SCMP_CMP_MASKED_EQ, LOW32, __WALL), err);
}
#endif

/* The calls allowed only with some arguments. */
static int add_filtered(scmp_filter_ctx ctx, const struct rt_sandbox_policy *p, struct lv_error **err)
{
	/* Open flags that could write through an existing file (including
	 * /proc/<pid>/mem) or create one. */
	const unsigned long writing = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND;
	const unsigned long fd_cmds[] = { F_GETFD, F_SETFD, F_GETFL, F_SETFL };
	/* Read-only opens: the state root and container directories for the
	 * lock, vmm.log's tail, what glibc reads (CPU count). */
	int r = add_one(ctx, SCMP_SYS(openat), SCMP_A2(SCMP_CMP_MASKED_EQ, writing, 0), err);

	if (p->state_files)
		/* The state file's temporary: only a new file, never an
		 * existing one (O_EXCL also refuses to follow a symlink). */
		r = r ?: add_one(ctx, SCMP_SYS(openat),
				 SCMP_A2(SCMP_CMP_MASKED_EQ, writing | O_EXCL, O_WRONLY | O_CREAT | O_EXCL), err);
	/* No new executable memory: an escape stays data-only. */
	r = r ?: add_one(ctx, SCMP_SYS(mmap), SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0), err);
	r = r ?: add_one(ctx, SCMP_SYS(mprotect), SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0), err);
	/* send()/recv() on ctl.sock clients: connected, no address. */
	r = r ?: add_one(ctx, SCMP_SYS(sendto), SCMP_A4(SCMP_CMP_EQ, 0), err);
	r = r ?: add_one(ctx, SCMP_SYS(recvfrom), SCMP_A4(SCMP_CMP_EQ, 0), err);
	/* O_NONBLOCK and FD_CLOEXEC on fds we hold; not locks, not leases. */
	for (size_t i = 0; i < LV_ARRAY_SIZE(fd_cmds); i++)
		r = r ?: add_one(ctx, SCMP_SYS(fcntl), SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, fd_cmds[i]), err);
	/* Signals to our own threads only: vCPU kicks, raise(), abort(). */
	r = r ?: add_one(ctx, SCMP_SYS(tgkill), SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, (uint32_t)getpid()), err);
	/* And to the VMM process: pause, resume, destroy. */
	if (p->child_pid > 0)
		r = r ?: add_one(ctx, SCMP_SYS(kill), SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, (uint32_t)p->child_pid), err);
	if (p->child_pidfd > 0)
		r = r ?: add_one(ctx, SCMP_SYS(pidfd_send_signal),
				 SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, (uint32_t)p->child_pidfd), err);
	r = r ?: add_ioctls(ctx, tty_requests, LV_ARRAY_SIZE(tty_requests), err);
	if (p->terminal)
		r = r ?: add_ioctls(ctx, terminal_requests, LV_ARRAY_SIZE(terminal_requests), err);
	if (p->kvm)
		r = r ?: add_ioctls(ctx, kvm_requests, LV_ARRAY_SIZE(kvm_requests), err);
#ifdef SANDBOX_SANITIZER
	r = r ?: add_sanitizer_rules(ctx, writing, err);
#endif
	return r;
}

static int build_filter(const struct rt_sandbox_policy *p, scmp_filter_ctx *out, struct lv_error **err)
{
	cleanup_filter scmp_filter_ctx ctx = seccomp_init(p->log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	int r;

	if (!ctx)
		return lv_err(err, ENOMEM, "sandbox: seccomp_init");
	/* i386 (int 0x80) and x32 system calls would bypass a filter written
	 * for x86-64 numbers: they kill too. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, p->log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	/* The VMM's threads exist already: filter them all, atomically. */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r < 0)
		return lv_err(err, -r, "sandbox: seccomp attributes");
	for (size_t i = 0; i < LV_ARRAY_SIZE(plain_calls); i++) {
		if (!needed(p, plain_calls[i].need))
			continue;
		r = add_rule(ctx, plain_calls[i].nr, 0, NULL, err);
		if (r < 0)
			return r;
	}
	r = add_filtered(ctx, p, err);
	if (r < 0)
		return r;
	*out = lv_take_ptr(&ctx);
	return 0;
}

int rt_sandbox_apply(const struct rt_sandbox_policy *p, struct lv_error **err)
{
	cleanup_filter scmp_filter_ctx ctx = NULL;
	int r;

	r = rt_sandbox_restrict_thread(p, err);
	if (r < 0)
		return r;
	r = check_threads(p, err);
	if (r < 0)
		return r;
	/* Built before loading: nothing after seccomp_load() may need a call
	 * the filter refuses (seccomp_release() only frees). */
	r = build_filter(p, &ctx, err);
	if (r < 0)
		return r;
	r = seccomp_load(ctx);
	if (r == -ESRCH)
		return lv_err_msg(err, ESRCH, "sandbox: a thread could not take the filter (it has another one)");
	if (r < 0)
		return lv_err(err, -r, "sandbox: load the seccomp filter");
	return 0;
}

int rt_sandbox_probe_forbidden(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}
