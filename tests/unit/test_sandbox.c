/* Unit tests for the monitor's sandbox (runtime/sandbox.c).  Every test runs
 * in a forked child, since a sandbox cannot be undone; the child reports
 * through its exit status (0, or the number of the step that failed, with a
 * "#" line saying why) or dies by SIGSYS where that is the point. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/kvm.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/cleanup.h"
#include "../../noxs/chan.h"
#include "../../runtime/ctl.h"
#include "../../runtime/log.h"
#include "../../runtime/sandbox.h"
#include "../../runtime/state.h"
#include "tap.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static char tmpdir[] = "/tmp/lv-test-sandbox-XXXXXX";

/* A "#" line from a child, with write(2): allowed in every sandbox. */
static void say(const char *fmt, ...) LV_PRINTF(1, 2);
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(STDOUT_FILENO, buf, (size_t)n);
}

#define STEP(n, cond) do { \
	if (!(cond)) { \
		say("#   step %d: %s (errno %d)", (n), #cond, errno); \
		return (n); \
	} \
} while (0)

static int run_child(int (*fn)(void *), void *arg)
{
	int st;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0)
		_exit(fn(arg));
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			abort();
	return st;
}

/* Whether a child ended as expected: signo 0 for exit status 0. */
static bool ended(int st, int signo)
{
	if (signo ? WIFSIGNALED(st) && WTERMSIG(st) == signo : WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return true;
	if (WIFEXITED(st))
		printf("#   child exited %d (the step that failed)\n", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("#   child killed by signal %d\n", WTERMSIG(st));
	return false;
}
#define exited0(st) ended((st), 0)
#define died_sigsys(st) ended((st), SIGSYS)

static int apply(const struct rt_sandbox_policy *p)
{
	struct lv_error *err = NULL;
	int r = rt_sandbox_apply(p, &err);

	if (r < 0)
		say("#   rt_sandbox_apply: %s", err->msg);
	lv_error_free(&err);
	return r;
}

/* Value of a "Key:\t<number>" line of /proc/self/status or a task's. */
static long long status_value(const char *path, const char *key, int base)
{
	char buf[4096];
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	char *s;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	s = strstr(buf, key);
	return s ? strtoll(s + strlen(key), NULL, base) : -1;
}

static void policy_full(struct rt_sandbox_policy *p)
{
	rt_sandbox_policy_init(p);
	p->state_files = p->kvm = p->terminal = p->block_image = true;
}

/* ---- capabilities, no_new_privs, dumpable: rt_sandbox_restrict_thread ---- */

static bool caps_exactly(uint64_t want)
{
	cleanup_free char *text = NULL;
	cap_t c = cap_get_proc();
	bool same = true;

	for (cap_value_t v = 0; c && v < (cap_value_t)cap_max_bits(); v++) {
		cap_flag_value_t e, pm, i;
		bool w = v < 64 && (want & RT_SANDBOX_CAP(v));
		cap_get_flag(c, v, CAP_EFFECTIVE, &e);
		cap_get_flag(c, v, CAP_PERMITTED, &pm);
		cap_get_flag(c, v, CAP_INHERITABLE, &i);
		if ((e == CAP_SET) != w || (pm == CAP_SET) != w || i == CAP_SET || (cap_get_bound(v) == 1) != w ||
		    cap_get_ambient(v) == 1)
			same = false;
	}
	if (c && !same && (text = cap_to_text(c, NULL)) != NULL)
		say("#   capabilities: %s", text);
	cap_free(c);
	return c && same;
}

static int child_restrict(void *arg)
{
	const uint64_t *keep = arg;
	struct rt_sandbox_policy p;
	struct lv_error *err = NULL;
	char file[sizeof(tmpdir) + 32];

	snprintf(file, sizeof(file), "%s/owned-by-other", tmpdir);
	rt_sandbox_policy_init(&p);
	p.keep_caps = *keep;
	STEP(1, rt_sandbox_restrict_thread(&p, &err) == 0);
	STEP(2, caps_exactly(*keep));
	STEP(3, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
	STEP(4, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
	/* The file belongs to uid 12345: only CAP_CHOWN lets root take it. */
	if (*keep & RT_SANDBOX_CAP(CAP_CHOWN))
		STEP(5, chown(file, 12345, 12345) == 0);
	else
		STEP(6, chown(file, 0, 0) < 0 && errno == EPERM);
	/* Again: already dropped is not an error. */
	STEP(7, rt_sandbox_restrict_thread(&p, &err) == 0);
	STEP(8, caps_exactly(*keep));
	return 0;
}

static int child_keep_missing(void *arg)
{
	struct rt_sandbox_policy p;
	struct lv_error *err = NULL;

	rt_sandbox_policy_init(&p);
	STEP(1, rt_sandbox_restrict_thread(&p, &err) == 0);
	p.keep_caps = RT_SANDBOX_CAP(CAP_KILL);
	STEP(2, rt_sandbox_restrict_thread(&p, &err) == -EPERM);
	STEP(3, err && strstr(err->msg, "cap_kill"));
	lv_error_free(&err);
	return 0;
}

static int child_invalid(void *arg)
{
	struct rt_sandbox_policy p[3];
	struct lv_error *err = NULL;

	for (int i = 0; i < 3; i++)
		rt_sandbox_policy_init(&p[i]);
	p[0].keep_caps = 1ULL << 63;
	p[1].write_dirfd = -2;
	p[2].child_pid = -1;
	STEP(1, rt_sandbox_apply(NULL, &err) == -EINVAL);
	for (int i = 0; i < 3; i++) {
		lv_error_free(&err);
		STEP(2 + i, rt_sandbox_apply(&p[i], &err) == -EINVAL && rt_sandbox_restrict_thread(&p[i], NULL) == -EINVAL);
	}
	lv_error_free(&err);
	/* Refused before anything changed. */
	STEP(5, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
	STEP(6, status_value("/proc/self/status", "Seccomp:", 10) == 0);
	return 0;
}

/* ---- what the monitor's run loop does, under the sandbox ---- */

/* A signal handler's only way out; the child is single-purpose. */
static volatile sig_atomic_t handled_signal;

static void on_signal(int signo)
{
	handled_signal = signo;
}

static int child_run_loop(void *arg)
{
	const char *status = "/proc/self/status";
	struct rt_sandbox_policy p;
	struct lv_error *err = NULL;
	struct noxs_rx rx;
	struct rt_log lg = { .fd = -1 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int pipefd[2], sv[2], sigfd, listen_fd, client, dirfd, cfd, logfd;
	char buf[256], logpath[sizeof(tmpdir) + 16];
	struct pollfd pfd;
	sigset_t set;
	const uint8_t *payload;
	uint16_t type;
	uint32_t len;
	void *big;
	ssize_t n;

	/* Everything the run loop holds, set up as monitor_setup() does. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	STEP(1, sigprocmask(SIG_BLOCK, &set, NULL) == 0 && signal(SIGUSR2, on_signal) != SIG_ERR);
	STEP(2, (sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) >= 0);
	STEP(3, pipe2(pipefd, O_CLOEXEC) == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	STEP(4, (dirfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
	STEP(5, (listen_fd = rt_ctl_listen(dirfd, &err)) >= 0);
	/* A ctl.sock client queued in the backlog now: connect() is forbidden later. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, RT_CTL_SOCK);
	STEP(6, (client = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) >= 0);
	STEP(7, connect(client, (struct sockaddr *)&sa, sizeof(sa)) == 0 && send(client, "pause", 5, 0) == 5);
	snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	STEP(8, rt_log_open(&lg, logpath, "json", true, &err) == 0 && noxs_rx_init(&rx, &err) == 0);
	rt_sandbox_policy_init(&p);
	p.state_files = true;
	STEP(9, apply(&p) == 0);

	/* Plain I/O, polling, time (the syscalls, not the vDSO). */
	STEP(10, write(pipefd[1], "x", 1) == 1);
	pfd = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
	STEP(11, poll(&pfd, 1, 1000) == 1 && read(pipefd[0], buf, 1) == 1);
	STEP(12, syscall(SYS_clock_gettime, CLOCK_MONOTONIC, buf) == 0 && syscall(SYS_gettimeofday, buf, NULL) == 0);
	STEP(13, nanosleep(&(struct timespec){ .tv_nsec = 1000 }, NULL) == 0);
	STEP(14, clock_nanosleep(CLOCK_MONOTONIC, 0, &(struct timespec){ .tv_nsec = 1000 }, NULL) == 0);
	STEP(15, getpid() > 0 && gettid() > 0 && sched_yield() == 0 && getrandom(buf, 16, GRND_NONBLOCK) == 16);
	/* malloc's large blocks come from mmap, grow by mremap, go by munmap. */
	STEP(16, (big = malloc(8 << 20)) != NULL);
	memset(big, 1, 8 << 20);
	STEP(17, (big = realloc(big, 32 << 20)) != NULL);
	free(big);
	big = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	STEP(18, big != MAP_FAILED && mprotect(big, 4096, PROT_READ) == 0 && munmap(big, 4096) == 0);
	/* fds: O_NONBLOCK, isatty, stat, a path for a message. */
	STEP(19, fcntl(pipefd[0], F_SETFL, fcntl(pipefd[0], F_GETFL) | O_NONBLOCK) == 0);
	STEP(20, !isatty(pipefd[0]) && errno == ENOTTY && fstat(pipefd[0], &(struct stat){ 0 }) == 0);
	STEP(21, readlink("/proc/self/fd/0", buf, sizeof(buf)) > 0);
	/* The sandbox itself, read as the run loop reads files. */
	STEP(22, status_value(status, "Seccomp:", 10) == 2 && status_value(status, "NoNewPrivs:", 10) == 1);
	STEP(23, status_value(status, "CapEff:", 16) == 0 && status_value(status, "CapBnd:", 16) == 0);
	/* A signal to ourselves reaches the signalfd (tgkill to our tgid); a
	 * handler runs and returns (rt_sigreturn). */
	STEP(24, raise(SIGUSR1) == 0);
	STEP(25, read(sigfd, buf, sizeof(struct signalfd_siginfo)) == (ssize_t)sizeof(struct signalfd_siginfo));
	STEP(26, raise(SIGUSR2) == 0 && handled_signal == SIGUSR2);
	/* The guest channel: sendmsg on a socket, writev on a pipe, read. */
	STEP(27, noxs_send(sv[0], NOXS_MSG_START, "ab", 2, &err) == 0 && noxs_rx_fill(&rx, sv[1], &err) > 0);
	STEP(28, noxs_rx_next(&rx, &type, &payload, &len, &err) == 1 && type == NOXS_MSG_START && len == 2);
	STEP(29, noxs_send(pipefd[1], NOXS_MSG_STDIN, "cd", 2, &err) == 0 && read(pipefd[0], buf, sizeof(buf)) > 2);
	/* ctl.sock: accept4, recv, the reply (send), as handle_client(). */
	STEP(30, (cfd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0);
	STEP(31, recv(cfd, buf, sizeof(buf), 0) == 5 && memcmp(buf, "pause", 5) == 0);
	rt_ctl_reply(cfd, EINVAL, "container not running");
	STEP(32, (n = recv(client, buf, sizeof(buf) - 1, 0)) > 0 && strncmp(buf, "err 22 ", 7) == 0);
	close(cfd);
	/* The logger, in JSON and text, to its file; read back as
	 * vmm_log_tail() reads vmm.log. */
	rt_log(&lg, RT_LOG_ERROR, "container %s: %s", "c1", "logged under the sandbox");
	lg.json = false;
	rt_log(&lg, RT_LOG_DEBUG, "text \"quoted\" %d", 42);
	STEP(33, (logfd = open(logpath, O_RDONLY | O_CLOEXEC)) >= 0 && lseek(logfd, 0, SEEK_END) > 0);
	STEP(34, lseek(logfd, 0, SEEK_SET) == 0 && (n = read(logfd, buf, sizeof(buf) - 1)) > 0);
	buf[n] = '\0';
	STEP(35, strstr(buf, "\"msg\":\"container c1: logged under the sandbox\"") != NULL);
	noxs_rx_free(&rx);
	rt_log_close(&lg);
	return 0;
}

/* save_state() as the monitor does it: lock the container's directory by
 * path, rewrite state.json atomically, unlock; then read it back. */
static int child_state_files(void *arg)
{
	struct rt_sandbox_policy p;
	struct lv_error *err = NULL;
	struct rt_state st = { .id = (char *)"c1", .pid = getpid(), .exit_status = -1, .owner = (char *)"",
			       .backend = (char *)"qemu", .created = (char *)"2024-01-01T00:00:00Z" };
	struct rt_state *back = NULL;
	int fd;

	fd = rt_state_create(tmpdir, "c1", &err);
	STEP(1, fd >= 0);
	close(fd);
	rt_sandbox_policy_init(&p);
	p.state_files = true;
	STEP(2, apply(&p) == 0);
	for (int i = 0; i < 3; i++) {
		st.status = i == 2 ? RT_STATUS_STOPPED : RT_STATUS_RUNNING;
		STEP(3, (fd = rt_state_lock(tmpdir, "c1", &err)) >= 0);
		STEP(4, rt_state_write(fd, &st, &err) == 0);
		close(fd);
	}
	STEP(5, (fd = rt_state_lock(tmpdir, "c1", &err)) >= 0);
	STEP(6, rt_state_read(fd, &back, &err) == 0 && back->status == RT_STATUS_STOPPED);
	rt_state_free(back);
	close(fd);
	return 0;
}

/* The in-process VMM's calls, on stand-in fds: the filter looks at the
 * request number, not at what the fd is. */
static int child_kvm(void *arg)
{
	struct rt_sandbox_policy p;
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t one = 1;
	int ep, efd;

	STEP(1, (ep = epoll_create1(EPOLL_CLOEXEC)) >= 0 && (efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) >= 0);
	rt_sandbox_policy_init(&p);
	p.kvm = true;
	STEP(2, apply(&p) == 0);
	STEP(3, epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0);
	STEP(4, write(efd, &one, sizeof(one)) == (ssize_t)sizeof(one));
	STEP(5, epoll_wait(ep, &ev, 1, 1000) == 1 && read(efd, &one, sizeof(one)) == (ssize_t)sizeof(one));
	STEP(6, epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev) == 0);
	STEP(7, ioctl(efd, KVM_RUN, 0) < 0 && errno == ENOTTY);
	STEP(8, ioctl(efd, KVM_GET_REGS, NULL) < 0 && errno == ENOTTY);
	return 0;
}

static int child_terminal(void *arg)
{
	struct rt_sandbox_policy p;
	struct winsize ws;
	int master;

	STEP(1, (master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0);
	rt_sandbox_policy_init(&p);
	p.terminal = true;
	STEP(2, apply(&p) == 0);
	STEP(3, ioctl(master, TIOCGWINSZ, &ws) == 0);
	STEP(4, isatty(master));
	return 0;
}

static int child_block(void *arg)
{
	struct rt_sandbox_policy p;
	char path[sizeof(tmpdir) + 16], buf[8] = "abcdefg";
	struct iovec iov = { .iov_base = buf, .iov_len = 4 };
	int fd;

	snprintf(path, sizeof(path), "%s/disk.img", tmpdir);
	STEP(1, (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) >= 0);
	rt_sandbox_policy_init(&p);
	p.block_image = true;
	STEP(2, apply(&p) == 0);
	STEP(3, pwrite(fd, buf, 8, 4096) == 8 && pwritev(fd, &iov, 1, 0) == 4);
	STEP(4, pread(fd, buf, 8, 4096) == 8 && preadv(fd, &iov, 1, 0) == 4);
	STEP(5, fdatasync(fd) == 0 && fsync(fd) == 0);
	return 0;
}

/* The QEMU backend: pause, resume and destroy signal the VMM process,
 * which is then reaped. */
static int child_vmm_process(void *arg)
{
	struct rt_sandbox_policy p;
	pid_t vmm = fork();
	int st;

	if (vmm == 0) {
		pause();
		_exit(0);
	}
	STEP(1, vmm > 0);
	rt_sandbox_policy_init(&p);
	p.child_pid = vmm;
	STEP(2, apply(&p) == 0);
	STEP(3, kill(vmm, SIGSTOP) == 0 && kill(vmm, SIGCONT) == 0 && kill(vmm, SIGKILL) == 0);
	STEP(4, waitpid(vmm, &st, 0) == vmm && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	return 0;
}

/* ---- threads ---- */

struct thread_probe {
	int go[2];     /* main -> thread: the sandbox is on */
	int report;    /* thread -> test process: what the thread saw */
	bool forbid;   /* then make a forbidden call */
};

static void *thread_main(void *arg)
{
	struct thread_probe *t = arg;
	char c, ok = 'n';
	void *p;

	if (read(t->go[0], &c, 1) != 1)
		return NULL;
	/* Filtered and no_new_privs through TSYNC; a first malloc() in a new
	 * thread sets up an arena. */
	p = malloc(200000);
	if (p && status_value("/proc/thread-self/status", "Seccomp:", 10) == 2 &&
	    status_value("/proc/thread-self/status", "NoNewPrivs:", 10) == 1 &&
	    status_value("/proc/thread-self/status", "CapEff:", 16) == 0)
		ok = 'y';
	free(p);
	(void)!write(t->report, &ok, 1);
	if (t->forbid)
		rt_sandbox_probe_forbidden();
	return NULL;
}

/* A thread created after rt_sandbox_restrict_thread() and before
 * rt_sandbox_apply(), as the VMM's vCPU and device threads will be. */
static int child_tsync(void *arg)
{
	struct thread_probe *t = arg;
	struct rt_sandbox_policy p;
	pthread_t th;

	rt_sandbox_policy_init(&p);
	STEP(1, rt_sandbox_restrict_thread(&p, NULL) == 0);
	STEP(2, pipe2(t->go, O_CLOEXEC) == 0 && pthread_create(&th, NULL, thread_main, t) == 0);
	STEP(3, apply(&p) == 0);
	STEP(4, write(t->go[1], "g", 1) == 1);
	pthread_join(th, NULL);
	return 0;
}

/* A thread that predates the restriction still holds its capabilities:
 * the filter must not go on as if the process were confined. */
static int child_thread_with_caps(void *arg)
{
	struct thread_probe t = { .report = -1 };
	struct rt_sandbox_policy p;
	struct lv_error *err = NULL;
	pthread_t th;

	STEP(1, pipe2(t.go, O_CLOEXEC) == 0 && pthread_create(&th, NULL, thread_main, &t) == 0);
	rt_sandbox_policy_init(&p);
	STEP(2, rt_sandbox_apply(&p, &err) == -EPERM);
	STEP(3, err && strstr(err->msg, "still holds capabilities"));
	STEP(4, status_value("/proc/self/status", "Seccomp:", 10) == 0);
	lv_error_free(&err);
	close(t.go[1]);
	pthread_join(th, NULL);
	return 0;
}

/* ---- Landlock: writes beneath write_dirfd only ---- */

static int child_landlock(void *arg)
{
	struct rt_sandbox_policy p;
	struct lv_error *err = NULL;
	char in[sizeof(tmpdir) + 16], out[sizeof(tmpdir) + 16], a[80], b[80];
	int dirfd, fd;

	snprintf(in, sizeof(in), "%s/in", tmpdir);
	snprintf(out, sizeof(out), "%s/out", tmpdir);
	STEP(1, mkdir(in, 0700) == 0 && mkdir(out, 0700) == 0);
	snprintf(b, sizeof(b), "%s/old", out);
	STEP(2, (fd = open(b, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0 && close(fd) == 0);
	STEP(3, (dirfd = open(in, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
	rt_sandbox_policy_init(&p);
	p.state_files = true;
	p.write_dirfd = dirfd;
	STEP(4, rt_sandbox_apply(&p, &err) == 0);
	/* Inside: create, rename over, unlink, as rt_state_write() does. */
	STEP(5, (fd = openat(dirfd, "tmp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0);
	STEP(6, write(fd, "{}", 2) == 2 && fsync(fd) == 0 && close(fd) == 0);
	STEP(7, renameat(dirfd, "tmp", dirfd, "state.json") == 0);
	STEP(8, (fd = openat(dirfd, "tmp2", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0 && close(fd) == 0);
	STEP(9, unlinkat(dirfd, "tmp2", 0) == 0);
	/* Outside: refused with an errno, not by the seccomp filter. */
	snprintf(a, sizeof(a), "%s/new", out);
	STEP(10, open(a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) < 0 && errno == EACCES);
	STEP(11, unlinkat(AT_FDCWD, b, 0) < 0 && errno == EACCES);
	STEP(12, renameat(dirfd, "state.json", AT_FDCWD, a) < 0 && (errno == EACCES || errno == EXDEV));
	STEP(13, renameat(AT_FDCWD, b, dirfd, "stolen") < 0 && (errno == EACCES || errno == EXDEV));
	/* Reading stays possible. */
	STEP(14, (fd = open(b, O_RDONLY | O_CLOEXEC)) >= 0);
	return 0;
}

/* ---- log_only, the probe, a normal exit ---- */

static int child_log_only(void *arg)
{
	struct rt_sandbox_policy p;

	rt_sandbox_policy_init(&p);
	p.log_only = true;
	STEP(1, apply(&p) == 0);
	STEP(2, rt_sandbox_probe_forbidden() == 0);
	STEP(3, unshare(0) == 0);
	return 0;
}

static int child_probe(void *arg)
{
	struct rt_sandbox_policy p;

	policy_full(&p);
	STEP(1, apply(&p) == 0);
	rt_sandbox_probe_forbidden();
	return 99;
}

static void at_exit_write(void)
{
	(void)!write(STDOUT_FILENO, "# atexit ran under the sandbox\n", 31);
}

/* exit() as the monitor's main returns: atexit handlers, stdio, and in a
 * sanitizer build LeakSanitizer's check. */
static int child_normal_exit(void *arg)
{
	struct rt_sandbox_policy p;

	rt_sandbox_policy_init(&p);
	STEP(1, atexit(at_exit_write) == 0);
	STEP(2, apply(&p) == 0);
	printf("# stdio under the sandbox\n");
	exit(0);
}

/* ---- what no policy allows, or a policy without the flag ---- */

/* Each makes one call that must kill; arguments are harmless should the
 * filter ever let one through (signal 0, bad fds, nonexistent paths). */
static char scratch[sizeof(tmpdir) + 8]; /* an existing file */
static char *const no_args[] = { NULL };
static void *scratch_page; /* an anonymous page of the child's own */
static void *idle_thread(void *arg) { return arg; }
static void call_execve(void) { execve("/bin/true", no_args, no_args); }
static void call_execveat(void) { syscall(SYS_execveat, AT_FDCWD, "/bin/true", no_args, no_args, 0); }
static void call_fork(void) { if (fork() == 0) _exit(0); }
static void call_clone3(void) { syscall(SYS_clone3, NULL, 0); }
static void call_thread(void) { pthread_t t; if (!pthread_create(&t, NULL, idle_thread, NULL)) pthread_join(t, NULL); }
static void call_socket_inet(void) { socket(AF_INET, SOCK_STREAM, 0); }
static void call_socket_unix(void) { socket(AF_UNIX, SOCK_SEQPACKET, 0); }
static void call_socketpair(void) { socketpair(AF_UNIX, SOCK_STREAM, 0, (int[2]){ 0 }); }
static void call_connect(void) { connect(-1, NULL, 0); }
static void call_sendto(void) { sendto(-1, "", 0, 0, &(struct sockaddr){ AF_UNIX, "" }, sizeof(struct sockaddr)); }
static void call_ptrace(void) { syscall(SYS_ptrace, 0x4206 /* PTRACE_SEIZE */, getppid(), 0, 0); }
static void call_vm_writev(void) { syscall(SYS_process_vm_writev, getppid(), NULL, 0, NULL, 0, 0); }
static void call_by_handle(void) { syscall(SYS_open_by_handle_at, -1, NULL, 0); }
static void call_mount(void) { mount("none", "/nonexistent", "tmpfs", 0, NULL); }
static void call_unshare(void) { unshare(0); }
static void call_setuid(void) { syscall(SYS_setuid, 0); }
static void call_capset(void) { syscall(SYS_capset, NULL, NULL); }
static void call_prctl(void) { prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }
static void call_sigaction(void) { signal(SIGUSR1, SIG_IGN); }
static void call_bpf(void) { syscall(SYS_bpf, -1, NULL, 0); }
static void call_memfd(void) { syscall(SYS_memfd_create, "x", 0); }
static void call_io_uring(void) { syscall(SYS_io_uring_setup, 0, NULL); }
static void call_userfaultfd(void) { syscall(SYS_userfaultfd, 0); }
static void call_pidfd_open(void) { syscall(SYS_pidfd_open, getppid(), 0); }
static void call_kill_other(void) { kill(getppid(), 0); }
static void call_kill_self(void) { kill(getpid(), 0); }
static void call_tgkill_other(void) { syscall(SYS_tgkill, getppid(), getppid(), 0); }
static void call_proc_mem(void) { open("/proc/self/mem", O_RDWR | O_CLOEXEC); }
static void call_truncate(void) { open(scratch, O_WRONLY | O_TRUNC | O_CLOEXEC); }
static void call_creat(void) { open(scratch, O_WRONLY | O_CREAT | O_CLOEXEC, 0600); }
static void call_append(void) { open(scratch, O_RDONLY | O_APPEND | O_CLOEXEC); }
static void call_mmap_exec(void) { mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); }
static void call_mprotect_exec(void) { mprotect(scratch_page, 4096, PROT_READ | PROT_EXEC); }
static void call_create_vm(void) { ioctl(0, KVM_CREATE_VM, 0); }
static void call_set_regs(void) { ioctl(0, KVM_SET_REGS, NULL); }
static void call_set_memory(void) { ioctl(0, KVM_SET_USER_MEMORY_REGION, NULL); }
static void call_irqfd(void) { ioctl(0, KVM_IRQFD, NULL); }
static void call_tiocsti(void) { ioctl(-1, TIOCSTI, "x"); }
static void call_setlk(void) { fcntl(-1, F_SETLK, &(struct flock){ .l_type = F_WRLCK }); }
static void call_dupfd(void) { fcntl(0, F_DUPFD_CLOEXEC, 100); }
static void call_fchmod(void) { fchmod(-1, 0); }
static void call_x32(void) { syscall(0x40000000 | SYS_getpid); }
/* Allowed only with the matching policy flag. */
static void call_renameat(void) { renameat(AT_FDCWD, "/nonexistent-a", AT_FDCWD, "/nonexistent-b"); }
static void call_unlinkat(void) { unlinkat(AT_FDCWD, "/nonexistent-a", 0); }
static void call_flock(void) { flock(-1, LOCK_EX); }
static void call_excl(void) { open("/nonexistent/x", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600); }
static void call_kvm_run(void) { ioctl(-1, KVM_RUN, 0); }
static void call_epoll_wait(void) { epoll_wait(-1, &(struct epoll_event){ 0 }, 1, 0); }
static void call_winsz(void) { ioctl(-1, TIOCGWINSZ, &(struct winsize){ 0 }); }
static void call_pread(void) { pread(-1, scratch, 1, 0); }
static void call_wait4(void) { wait4(-1, NULL, WNOHANG, NULL); }

struct forbidden {
	const char *what;
	void (*call)(void);
	bool narrow;          /* under the policy without optional flags */
	bool sanitizer_needs; /* allowed in sanitizer builds, for LeakSanitizer */
};

static const struct forbidden forbidden[] = {
	{ "execve", call_execve, false, false },
	{ "execveat", call_execveat, false, false },
	{ "fork (clone)", call_fork, false, false },
	{ "clone3", call_clone3, false, false },
	{ "pthread_create", call_thread, false, false },
	{ "socket(AF_INET)", call_socket_inet, false, false },
	{ "socket(AF_UNIX)", call_socket_unix, false, false },
	{ "socketpair", call_socketpair, false, false },
	{ "connect", call_connect, false, false },
	{ "sendto with an address", call_sendto, false, false },
	{ "ptrace", call_ptrace, false, true },
	{ "process_vm_writev", call_vm_writev, false, false },
	{ "open_by_handle_at", call_by_handle, false, false },
	{ "mount", call_mount, false, false },
	{ "unshare", call_unshare, false, false },
	{ "setuid", call_setuid, false, false },
	{ "capset", call_capset, false, false },
	{ "prctl", call_prctl, false, true },
	{ "rt_sigaction", call_sigaction, false, true },
	{ "bpf", call_bpf, false, false },
	{ "memfd_create", call_memfd, false, false },
	{ "io_uring_setup", call_io_uring, false, false },
	{ "userfaultfd", call_userfaultfd, false, false },
	{ "pidfd_open", call_pidfd_open, false, false },
	{ "kill of a process that is not the VMM", call_kill_other, false, false },
	{ "kill of ourselves by pid", call_kill_self, false, false },
	{ "tgkill into another process", call_tgkill_other, false, false },
	{ "open /proc/self/mem read-write", call_proc_mem, false, false },
	{ "open O_WRONLY|O_TRUNC of an existing file", call_truncate, false, false },
	{ "open O_CREAT without O_EXCL", call_creat, false, false },
	{ "open O_APPEND", call_append, false, false },
	{ "mmap PROT_EXEC", call_mmap_exec, false, false },
	{ "mprotect PROT_EXEC", call_mprotect_exec, false, false },
	{ "ioctl KVM_CREATE_VM", call_create_vm, false, false },
	{ "ioctl KVM_SET_REGS", call_set_regs, false, false },
	{ "ioctl KVM_SET_USER_MEMORY_REGION", call_set_memory, false, false },
	{ "ioctl KVM_IRQFD", call_irqfd, false, false },
	{ "ioctl TIOCSTI", call_tiocsti, false, false },
	{ "fcntl F_SETLK", call_setlk, false, false },
	{ "fcntl F_DUPFD_CLOEXEC", call_dupfd, false, false },
	{ "fchmod", call_fchmod, false, false },
	{ "an x32 system call", call_x32, false, false },
	{ "renameat without state_files", call_renameat, true, false },
	{ "unlinkat without state_files", call_unlinkat, true, false },
	{ "flock without state_files", call_flock, true, false },
	{ "open O_CREAT|O_EXCL without state_files", call_excl, true, false },
	{ "ioctl KVM_RUN without kvm", call_kvm_run, true, false },
	{ "epoll_wait without kvm", call_epoll_wait, true, false },
	{ "ioctl TIOCGWINSZ without terminal", call_winsz, true, false },
	{ "pread without block_image", call_pread, true, false },
	{ "wait4 without a VMM process", call_wait4, true, false },
};

static int child_forbidden(void *arg)
{
	const struct forbidden *f = arg;
	struct rt_sandbox_policy p;

	if (f->narrow)
		rt_sandbox_policy_init(&p);
	else
		policy_full(&p);
	scratch_page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	STEP(1, scratch_page != MAP_FAILED && apply(&p) == 0);
	f->call();
	return 0; /* survived: the test fails */
}

static void test_forbidden(void)
{
	for (size_t i = 0; i < LV_ARRAY_SIZE(forbidden); i++) {
		const struct forbidden *f = &forbidden[i];
		if (SANITIZED && f->sanitizer_needs) {
			ok(1, "# SKIP %s: a sanitizer build allows it", f->what);
			continue;
		}
		ok(died_sigsys(run_child(child_forbidden, (void *)f)), "SIGSYS: %s", f->what);
	}
}

int main(void)
{
	uint64_t none = 0, chown_only = RT_SANDBOX_CAP(CAP_CHOWN);
	struct thread_probe t = { .forbid = false };
	char file[sizeof(tmpdir) + 32], c = 0;
	int report[2], fd, st;

	/* The monitor runs as root; what it drops is what root has. */
	if (geteuid() != 0) {
		printf("1..0 # SKIP the sandbox tests need root\n");
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(tmpdir))
		abort();
	snprintf(scratch, sizeof(scratch), "%s/f", tmpdir);
	snprintf(file, sizeof(file), "%s/owned-by-other", tmpdir);
	if ((fd = open(scratch, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0 || close(fd) < 0 ||
	    (fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0 || fchown(fd, 12345, 12345) < 0 || close(fd) < 0)
		abort();

	/* Capabilities, no_new_privs, dumpable. */
	ok(exited0(run_child(child_restrict, &none)),
	   "restrict_thread: no capability left in any set, no_new_privs, not dumpable, chown refused");
	ok(exited0(run_child(child_restrict, &chown_only)), "restrict_thread: keep_caps keeps CAP_CHOWN alone");
	ok(exited0(run_child(child_keep_missing, NULL)), "keeping a capability we no longer hold is -EPERM");
	ok(exited0(run_child(child_invalid, NULL)), "invalid policies are -EINVAL and change nothing");

	/* What the run loop does keeps working. */
	ok(exited0(run_child(child_run_loop, NULL)),
	   "run loop: I/O, poll, time, malloc, signals, noxs channel, ctl.sock, logger");
	ok(exited0(run_child(child_state_files, NULL)), "state_files: lock, atomic rewrite and read of state.json");
	ok(exited0(run_child(child_kvm, NULL)), "kvm: epoll, eventfd, KVM_RUN and KVM_GET_REGS reach the kernel");
	ok(exited0(run_child(child_terminal, NULL)), "terminal: TIOCGWINSZ on a pty");
	ok(exited0(run_child(child_block, NULL)), "block_image: pread/pwrite, vectors, fdatasync");
	ok(exited0(run_child(child_vmm_process, NULL)), "child_pid: stop, continue, kill and reap the VMM process");

	/* Threads.  Non-blocking: a child that died early wrote nothing. */
	if (pipe2(report, O_CLOEXEC | O_NONBLOCK) < 0)
		abort();
	t.report = report[1];
	t.forbid = false;
	st = run_child(child_tsync, &t);
	ok(exited0(st) && read(report[0], &c, 1) == 1 && c == 'y',
	   "TSYNC: a thread created before apply is filtered, no_new_privs, without capabilities");
	t.forbid = true;
	st = run_child(child_tsync, &t);
	ok(died_sigsys(st), "TSYNC: a forbidden call from that thread kills the process");
	ok(read(report[0], &c, 1) == 1 && c == 'y', "TSYNC: the thread's allowed calls ran first");
	close(report[0]);
	close(report[1]);
	ok(exited0(run_child(child_thread_with_caps, NULL)),
	   "apply refuses while another thread holds capabilities, and installs no filter");

	if (rt_sandbox_landlock_abi() > 0)
		ok(exited0(run_child(child_landlock, NULL)),
		   "write_dirfd: writes beneath it only (Landlock ABI %d), reads anywhere", rt_sandbox_landlock_abi());
	else
		ok(1, "# SKIP no Landlock on this kernel");

	ok(exited0(run_child(child_log_only, NULL)), "log_only: forbidden calls are logged, not fatal");
	ok(died_sigsys(run_child(child_probe, NULL)), "rt_sandbox_probe_forbidden kills a sandboxed process");
	ok(rt_sandbox_probe_forbidden() == 0, "rt_sandbox_probe_forbidden returns 0 without a sandbox");
	ok(exited0(run_child(child_normal_exit, NULL)), "exit() with atexit handlers and stdio after apply");

	test_forbidden();

	sh("rm -rf %s", tmpdir);
	return tap_done();
}
