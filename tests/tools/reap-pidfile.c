/* reap-pidfile: a subreaper for tests of detached processes, as containerd's
 * shim or conmon is for `runc exec -d --pid-file`.
 *
 *   reap-pidfile PIDFILE CMD [ARGS...]
 *
 * Becomes a child subreaper, runs CMD and waits for it; CMD must exit 0
 * having written a pid to PIDFILE (a process it left behind, now ours).
 * Prints "pid N" (flushed, so a test can signal it), waits for that process
 * and prints "exited N" or "signaled N".  Exits 0 when it could wait, 1 on
 * errors (CMD failing included, with its status). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[32] = { 0 };
	FILE *f;
	pid_t cmd, pid, p;
	int st;

	if (argc < 3) {
		fprintf(stderr, "usage: reap-pidfile PIDFILE CMD [ARGS...]\n");
		return 1;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		perror("reap-pidfile: PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	cmd = fork();
	if (cmd < 0) {
		perror("reap-pidfile: fork");
		return 1;
	}
	if (cmd == 0) {
		execvp(argv[2], argv + 2);
		perror("reap-pidfile: exec");
		_exit(127);
	}
	while ((p = waitpid(cmd, &st, 0)) < 0 && errno == EINTR)
		;
	if (p < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "reap-pidfile: %s failed (status %#x)\n", argv[2], st);
		return 1;
	}
	f = fopen(argv[1], "r");
	if (!f || !fgets(buf, sizeof(buf), f) || (pid = (pid_t)atoi(buf)) <= 0) {
		fprintf(stderr, "reap-pidfile: no pid in %s\n", argv[1]);
		return 1;
	}
	fclose(f);
	printf("pid %d\n", (int)pid);
	fflush(stdout);
	while ((p = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (p < 0) {
		fprintf(stderr, "reap-pidfile: waitpid %d: %s (not our child?)\n", (int)pid, strerror(errno));
		return 1;
	}
	if (WIFEXITED(st))
		printf("exited %d\n", WEXITSTATUS(st));
	else
		printf("signaled %d\n", WTERMSIG(st));
	return 0;
}
