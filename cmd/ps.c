/* lightvm ps [--format table|json] <container-id> [ps options]: json is the
 * pid array; table runs ps(1) (default "-ef") and keeps the header and the
 * lines whose PID column is one of the container's, as runc does. */
#include "cmd.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../lib/cleanup.h"

extern char **environ;

/* Runs ps with args, stdout and stderr together into *out (NUL-terminated). */
static int run_ps(char **args, int nargs, char **out, struct lv_error **err)
{
	cleanup_free char **argv = calloc((size_t)nargs + 2, sizeof(*argv));
	cleanup_free char *buf = NULL;
	posix_spawn_file_actions_t fa;
	size_t len = 0, cap = 0;
	int pipefd[2], status, r, i;
	pid_t pid;
	ssize_t n;

	if (!argv)
		return lv_err(err, ENOMEM, "ps");
	argv[0] = (char *)"ps";
	for (i = 0; i < nargs; i++)
		argv[i + 1] = args[i];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return lv_err(err, errno, "ps: pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	r = posix_spawnp(&pid, "ps", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return lv_err(err, r, "exec ps");
	}
	for (;;) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);
			if (!nb) {
				r = lv_err(err, ENOMEM, "reading ps output");
				break;
			}
			buf = nb;
			cap += 65536;
		}
		n = read(pipefd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = lv_err(err, errno, "reading ps output");
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return r < 0 ? r : lv_err(err, errno, "waiting for ps");
	}
	if (r < 0)
		return r;
	buf[len] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		while (len && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (WIFEXITED(status))
			return lv_err_msg(err, EIO, "ps: exit status %d: %s", WEXITSTATUS(status), buf);
		return lv_err_msg(err, EIO, "ps: killed by signal %d: %s", WTERMSIG(status), buf);
	}
	*out = lv_take_ptr(&buf);
	return 0;
}

/* Index of the whitespace-separated field n of line, NULL if none; *len
 * gets its length. */
static const char *field(const char *line, size_t n, size_t *len)
{
	const char *p = line;

	for (;;) {
		p += strspn(p, " \t");
		if (!*p)
			return NULL;
		*len = strcspn(p, " \t");
		if (n-- == 0)
			return p;
		p += *len;
	}
}

static int print_table(int *pids, size_t npids, char **args, int nargs, struct lv_error **err)
{
	static char *default_args[] = { (char *)"-ef" };
	cleanup_free char *out = NULL;
	char *line, *next;
	size_t idx, flen, i;
	const char *f;
	bool found = false;
	int r;

	if (nargs == 0) {
		args = default_args;
		nargs = 1;
	}
	r = run_ps(args, nargs, &out, err);
	if (r < 0)
		return r;
	next = strchr(out, '\n');
	if (next)
		*next++ = '\0';
	for (idx = 0; (f = field(out, idx, &flen)); idx++) {
		if (flen == 3 && strncmp(f, "PID", 3) == 0) {
			found = true;
			break;
		}
	}
	if (!found)
		return lv_err_msg(err, EINVAL, "couldn't find PID field in ps output");
	printf("%s\n", out);
	for (line = next; line && *line; line = next) {
		char num[24];
		char *end;
		long pid;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		f = field(line, idx, &flen);
		if (!f || flen >= sizeof(num))
			return lv_err_msg(err, EINVAL, "unable to parse pid: %s", line);
		memcpy(num, f, flen);
		num[flen] = '\0';
		pid = strtol(num, &end, 10);
		if (*end || end == num)
			return lv_err_msg(err, EINVAL, "unable to parse pid: \"%s\"", num);
		for (i = 0; i < npids; i++) {
			if (pids[i] == pid) {
				printf("%s\n", line);
				break;
			}
		}
	}
	return 0;
}

static int print_json(int *pids, size_t npids, struct lv_error **err)
{
	json_t *a;
	size_t i;
	int r;

	/* Go encodes the empty (nil) pid slice as null. */
	if (npids == 0) {
		printf("null\n");
		return 0;
	}
	a = json_array();
	for (i = 0; a && i < npids; i++) {
		if (json_array_append_new(a, json_integer(pids[i])) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	if (!a)
		return lv_err(err, ENOMEM, "ps");
	r = cmd_print_json(a, JSON_COMPACT, true, err);
	json_decref(a);
	return r;
}

int cmd_ps(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		CMD_HELP_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	cleanup_free int *pids = NULL;
	const char *format = "table";
	const char *id;
	size_t npids = 0;
	int c, r;

	/* '+': options after the id belong to ps(1), not to us. */
	while ((c = cmd_getopt(call, argc, argv, "+f:h", longopts, err)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case CMD_OPT_HELP:
			return 0;
		default:
			return c < 0 ? c : lv_err_msg(err, EINVAL, "ps: unexpected option");
		}
	}
	r = cmd_operand_id(call, argc, argv, argc, &id, err);
	if (r < 0)
		return r;
	if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
		return cmd_usage_err(call, err, "invalid format option \"%s\" (table or json)", format);
	r = rt_container_pids(call->ctx, id, &pids, &npids, err);
	if (r < 0)
		return r;
	if (strcmp(format, "json") == 0)
		return print_json(pids, npids, err);
	r = print_table(pids, npids, argv + optind + 1, argc - optind - 1, err);
	if (r == 0 && (fflush(stdout) != 0 || ferror(stdout)))
		r = lv_err(err, errno ? errno : EIO, "writing to stdout");
	return r;
}
