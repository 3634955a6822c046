/* Running lightvm's CLI and containerd's publish binary from the shim. */
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "task.h"

#define ARGS_MAX 32
#define LOG_READ_MAX (64 * 1024)

void shim_log(const char *fmt, ...)
{
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	fprintf(stderr, "time=\"%s\" level=info msg=\"containerd-shim-lightvm-v2: ", ts);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\"\n");
}

struct shim_time shim_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (struct shim_time){ .sec = ts.tv_sec, .nsec = (int32_t)ts.tv_nsec };
}

/* In the child: stdio, an empty signal mask, no inherited descriptors. */
static void child_exec(const int stdio[3], char *const argv[])
{
	sigset_t none;
	int devnull = open("/dev/null", O_RDWR);

	for (int i = 0; i < 3; i++) {
		int fd = stdio && stdio[i] >= 0 ? stdio[i] : devnull;

		if (fd < 0 || dup2(fd, i) < 0)
			_exit(127);
	}
	close_range(3, ~0U, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], argv);
	_exit(127);
}

static int wait_child(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* The last error lightvm wrote to its JSON log, or NULL. */
static char *log_error(const char *path)
{
	cleanup_fclose FILE *f = fopen(path, "re");
	char line[4096];
	char *msg = NULL;

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *level = json_string_value(json_object_get(j, "level"));
		const char *m = json_string_value(json_object_get(j, "msg"));

		if (level && m && strcmp(level, "error") == 0) {
			free(msg);
			msg = strdup(m);
		}
		json_decref(j);
	}
	return msg;
}

int shim_lightvm(struct shim_ctx *ctx, const int stdio[3], char *out, size_t out_max, struct lv_error **err,
		 const char *verb, ...)
{
	char log_path[PATH_MAX + 32];
	char *argv[ARGS_MAX];
	int fds[3] = { stdio ? stdio[0] : -1, stdio ? stdio[1] : -1, stdio ? stdio[2] : -1 };
	int pipefd[2] = { -1, -1 };
	size_t n = 0, got = 0;
	const char *a;
	va_list ap;
	pid_t pid;
	int status, r, logfd;

	snprintf(log_path, sizeof(log_path), "%s/lightvm-log.json", ctx->bundle);
	logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (logfd >= 0)
		close(logfd);
	argv[n++] = ctx->lv_bin;
	argv[n++] = (char *)"--root";
	argv[n++] = ctx->lv_root;
	argv[n++] = (char *)"--log";
	argv[n++] = log_path;
	argv[n++] = (char *)"--log-format";
	argv[n++] = (char *)"json";
	argv[n++] = (char *)verb;
	va_start(ap, verb);
	while ((a = va_arg(ap, const char *)) && n < ARGS_MAX - 1)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	if (a)
		return lv_err_msg(err, E2BIG, "lightvm %s: too many arguments", verb);
	if (out && pipe2(pipefd, O_CLOEXEC) < 0)
		return lv_err(err, errno, "lightvm %s: pipe", verb);
	if (out)
		fds[1] = pipefd[1];
	pid = fork();
	if (pid < 0) {
		r = lv_err(err, errno, "lightvm %s: fork", verb);
		goto out;
	}
	if (pid == 0)
		child_exec(fds, argv);
	if (out) {
		ssize_t k;

		close(pipefd[1]);
		pipefd[1] = -1;
		while (got + 1 < out_max && (k = read(pipefd[0], out + got, out_max - 1 - got)) != 0) {
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				break;
			got += (size_t)k;
		}
		out[got] = 0;
		close(pipefd[0]); /* more output than we take: the writer gets EPIPE */
		pipefd[0] = -1;
	}
	r = wait_child(pid, &status);
	if (r < 0) {
		lv_err(err, -r, "lightvm %s: waitpid", verb);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cleanup_free char *msg = log_error(log_path);

		if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !msg)
			r = lv_err_msg(err, ENOENT, "lightvm %s: cannot run %s", verb, ctx->lv_bin);
		else
			r = lv_err_msg(err, EIO, "lightvm %s: %s", verb, msg ? msg : "failed without a message");
		goto out;
	}
	r = 0;
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return r;
}

/* Best effort: an event containerd misses is logged, never fatal. */
void shim_publish(struct shim_ctx *ctx, const struct shim_event *ev)
{
	struct pb_buf any = { 0 };
	const char *topic = "";
	int pipefd[2], status;
	pid_t pid;

	if (!ctx->publish_bin || !*ctx->publish_bin || !ctx->address)
		return;
	shim_enc_event(&any, ev, &topic);
	if (any.failed || pipe2(pipefd, O_CLOEXEC) < 0) {
		shim_log("event %s: cannot build or send it", topic);
		pb_buf_free(&any);
		return;
	}
	pid = fork();
	if (pid == 0) {
		char *argv[] = { (char *)ctx->publish_bin, (char *)"--address", (char *)ctx->address,
				 (char *)"publish", (char *)"--topic", (char *)topic,
				 (char *)"--namespace", (char *)ctx->ns, NULL };
		int fds[3] = { pipefd[0], -1, STDERR_FILENO };

		child_exec(fds, argv);
	}
	close(pipefd[0]);
	if (pid > 0) {
		size_t off = 0;

		while (off < any.len) {
			ssize_t k = write(pipefd[1], any.data + off, any.len - off);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			off += (size_t)k;
		}
	}
	close(pipefd[1]);
	if (pid < 0 || wait_child(pid, &status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		shim_log("event %s: %s failed", topic, ctx->publish_bin);
	pb_buf_free(&any);
}
