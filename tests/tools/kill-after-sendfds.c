/* kill-after-sendfds PID SECONDS: SIGKILL a process at the exit of its
 * first sendmsg() that carried a control message (descriptors, SCM_RIGHTS)
 * and succeeded, before it runs one more instruction.
 *
 * The pool tests use it on lightvm-poold: the only message the daemon sends
 * with descriptors is CLAIMED, so the daemon dies exactly after a shell's
 * descriptors left and before it recorded who claimed the shell (a window
 * no sleep can hit reliably, and no test hook in the daemon is needed).
 * The process must be single-threaded (the daemon is); its children are not
 * followed.
 *
 * Prints "attached" once it traces the process, then "killed after
 * sendmsg of N bytes with descriptors" and exits 0 when it killed it.
 * Exits 2 if the process ended otherwise, 3 when SECONDS passed without
 * such a send (the process is left running: exiting detaches it), 1 on
 * bad arguments or a ptrace failure. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_alarm(int sig)
{
	static const char msg[] = "no sendmsg with descriptors in time\n";

	(void)sig;
	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(3);
}

/* Waits for the tracee's next stop; exits when it ended. */
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
			printf("ended by signal %d (%s) on its own\n", WTERMSIG(*status), strsignal(WTERMSIG(*status)));
			exit(2);
		}
		if (WIFEXITED(*status)) {
			printf("exited with %d on its own\n", WEXITSTATUS(*status));
			exit(2);
		}
		return 0;
	}
}

/* The msg_controllen of the struct msghdr at addr in the tracee. */
static int control_len(pid_t pid, unsigned long long addr, unsigned long long *len)
{
	long v;

	errno = 0;
	v = ptrace(PTRACE_PEEKDATA, pid, (void *)(addr + offsetof(struct msghdr, msg_controllen)), 0);
	if (v == -1 && errno) {
		perror("PTRACE_PEEKDATA");
		return -1;
	}
	*len = (unsigned long long)v;
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	bool in_send = false; /* at the entry of a sendmsg with a control message */
	pid_t pid;
	int status, sig = 0;
	char *end;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PID SECONDS\n", argv[0]);
		return 1;
	}
	pid = (pid_t)strtol(argv[1], &end, 10);
	if (*end || pid <= 0) {
		fprintf(stderr, "%s: bad pid %s\n", argv[0], argv[1]);
		return 1;
	}
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)strtoul(argv[2], NULL, 10));

	if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD) < 0) {
		perror("PTRACE_SEIZE");
		return 1;
	}
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0) {
		perror("PTRACE_INTERRUPT");
		return 1;
	}
	if (wait_stop(pid, &status) < 0)
		return 1;
	printf("attached\n");
	fflush(stdout);
	for (;;) {
		struct __ptrace_syscall_info info;

		if (ptrace(PTRACE_SYSCALL, pid, 0, sig) < 0) {
			perror("PTRACE_SYSCALL");
			return 1;
		}
		if (wait_stop(pid, &status) < 0)
			return 1;
		sig = 0;
		if (!WIFSTOPPED(status) || WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			/* A group-stop or event stop: nothing to pass; a signal: pass it. */
			if (WIFSTOPPED(status) && (status >> 16) == 0 && WSTOPSIG(status) != SIGTRAP)
				sig = WSTOPSIG(status);
			continue;
		}
		if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info) < 0) {
			perror("PTRACE_GET_SYSCALL_INFO");
			return 1;
		}
		if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
			unsigned long long clen = 0;

			in_send = false;
			if (info.entry.nr != SYS_sendmsg)
				continue;
			if (control_len(pid, info.entry.args[1], &clen) < 0)
				return 1;
			in_send = clen > 0;
		} else if (info.op == PTRACE_SYSCALL_INFO_EXIT && in_send) {
			in_send = false;
			if (info.exit.is_error || info.exit.rval <= 0)
				continue;
			/* Still in the syscall-exit stop: it runs nothing more. */
			if (kill(pid, SIGKILL) < 0) {
				perror("kill");
				return 1;
			}
			while (waitpid(pid, &status, __WALL) >= 0 && !WIFSIGNALED(status) && !WIFEXITED(status))
				;
			printf("killed after sendmsg of %lld bytes with descriptors\n", (long long)info.exit.rval);
			return 0;
		}
	}
}
