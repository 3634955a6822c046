/* syscall-inject PID NR [ARG...]: make a running process execute system
 * call NR with the given arguments from wherever it is, as if its own code
 * had asked for it.  The sandbox tests use it on a container's monitor: the
 * monitor sleeps in its run loop (poll), we stop it at the next syscall
 * entry, swap the call for NR, and watch what happens.
 *
 * Since Linux 4.8 seccomp looks at the system call after the tracer has
 * changed it, so a filter that forbids NR kills the process exactly as if
 * the code had been subverted into making the call.
 *
 * Prints "returned N" (the call ran; the process continues, seeing EINTR
 * from the call we replaced) and exits 0, or "killed by signal S" and exits
 * 2.  Anything else (bad arguments, ptrace failures) exits 1. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

static int wait_stop(pid_t pid, int *status)
{
	for (;;) {
		if (waitpid(pid, status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			perror("waitpid");
			return -1;
		}
		if (WIFSIGNALED(*status)) {
			printf("killed by signal %d (%s)\n", WTERMSIG(*status), strsignal(WTERMSIG(*status)));
			fflush(stdout);
			exit(2);
		}
		if (WIFEXITED(*status)) {
			printf("exited with %d\n", WEXITSTATUS(*status));
			exit(1);
		}
		return 0;
	}
}

/* Continues to the next syscall stop of the given kind
 * (PTRACE_SYSCALL_INFO_ENTRY or _EXIT), passing on any other signal.  The
 * first stop after PTRACE_INTERRUPT may be the exit of the call the process
 * was blocked in; that one is skipped. */
static int next_syscall_stop(pid_t pid, int want)
{
	int status, sig = 0;

	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, 0, sig) < 0) {
			perror("PTRACE_SYSCALL");
			return -1;
		}
		if (wait_stop(pid, &status) < 0)
			return -1;
		if (WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info info;

			if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info) < 0) {
				perror("PTRACE_GET_SYSCALL_INFO");
				return -1;
			}
			if (info.op == want)
				return 0;
			sig = 0;
			continue;
		}
		/* a group-stop or event stop: no signal to pass; a real signal: pass it */
		sig = (WIFSTOPPED(status) && (status >> 16) == 0 && WSTOPSIG(status) != SIGTRAP) ? WSTOPSIG(status) : 0;
	}
}

int main(int argc, char **argv)
{
	struct user_regs_struct regs, saved;
	unsigned long long args[6] = { 0 };
	pid_t pid;
	int status, i;
	long nr;

	if (argc < 3 || argc > 9) {
		fprintf(stderr, "usage: %s PID NR [ARG...]\n", argv[0]);
		return 1;
	}
	pid = (pid_t)strtol(argv[1], NULL, 10);
	nr = strtol(argv[2], NULL, 0);
	for (i = 3; i < argc; i++)
		args[i - 3] = strtoull(argv[i], NULL, 0);

	if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD) < 0) {
		perror("PTRACE_SEIZE");
		return 1;
	}
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0) {
		perror("PTRACE_INTERRUPT");
		return 1;
	}
	if (wait_stop(pid, &status) < 0 || next_syscall_stop(pid, PTRACE_SYSCALL_INFO_ENTRY) < 0)
		return 1;
	/* Syscall entry: swap the call. */
	if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0) {
		perror("PTRACE_GETREGS");
		return 1;
	}
	saved = regs;
	regs.orig_rax = (unsigned long long)nr;
	regs.rdi = args[0];
	regs.rsi = args[1];
	regs.rdx = args[2];
	regs.r10 = args[3];
	regs.r8 = args[4];
	regs.r9 = args[5];
	if (ptrace(PTRACE_SETREGS, pid, 0, &regs) < 0) {
		perror("PTRACE_SETREGS");
		return 1;
	}
	if (next_syscall_stop(pid, PTRACE_SYSCALL_INFO_EXIT) < 0)
		return 1;
	/* Syscall exit: the result, and the replaced call made to look interrupted. */
	if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0) {
		perror("PTRACE_GETREGS");
		return 1;
	}
	saved.rax = (unsigned long long)-EINTR;
	if (ptrace(PTRACE_SETREGS, pid, 0, &saved) < 0) {
		perror("PTRACE_SETREGS");
		return 1;
	}
	/* A seccomp kill is delivered on the way back to user mode, after this
	 * exit stop: let the process go on to its next system call and see
	 * whether it gets there (wait_stop() reports a death and exits). */
	if (next_syscall_stop(pid, PTRACE_SYSCALL_INFO_ENTRY) < 0)
		return 1;
	printf("returned %lld\n", (long long)regs.rax);
	ptrace(PTRACE_DETACH, pid, 0, 0);
	return 0;
}
