#include "hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"

static int run_one(const char *kind, size_t i, const struct rt_hook *h, const char *state_json,
		   struct lv_error **err)
{
	char *const empty[] = { NULL };
	char *const argv_default[] = { h->path, NULL };
	cleanup_close int pidfd = -1;
	int in[2];
	int status, r;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return lv_err(err, errno, "hooks.%s[%zu]: pipe", kind, i);
	pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		return lv_err(err, errno, "hooks.%s[%zu]: fork", kind, i);
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(in[0], 0) < 0)
			_exit(127);
		execve(h->path, h->args ? h->args : argv_default, h->env ? h->env : empty);
		_exit(127);
	}
	close(in[0]);
	/* The state is small (< pipe buffer): one write does not block. */
	(void)!write(in[1], state_json, strlen(state_json));
	close(in[1]);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (h->timeout > 0 && pidfd >= 0) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		do
			r = poll(&pfd, 1, h->timeout * 1000);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return lv_err_msg(err, ETIMEDOUT, "hooks.%s[%zu] (%s): timed out after %d s", kind, i, h->path,
					  h->timeout);
		}
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return lv_err(err, errno, "hooks.%s[%zu]: wait", kind, i);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return lv_err_msg(err, EIO, "hooks.%s[%zu] (%s): exited with status %d", kind, i, h->path,
				  WEXITSTATUS(status));
	return lv_err_msg(err, EIO, "hooks.%s[%zu] (%s): killed by signal %d", kind, i, h->path, WTERMSIG(status));
}

int rt_hooks_run(const char *kind, const struct rt_hook *hooks, size_t n, const char *state_json,
		 struct lv_error **err)
{
	for (size_t i = 0; i < n; i++) {
		int r = run_one(kind, i, &hooks[i], state_json, err);
		if (r < 0)
			return r;
	}
	return 0;
}
