/* Verbs on an existing container: state, kill, delete, pause, resume, ps,
 * events --stats. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "container_internal.h"
#include "ctl.h"
#include "hooks.h"

#define RT_KILL_WAIT_MS 10000

int rt_container_open(struct rt_context *ctx, const char *id, int *dirfd, struct rt_state **st,
		      struct lv_error **err)
{
	cleanup_free char *dir = NULL;
	cleanup_close int fd = -1;
	int r;

	r = rt_state_path(ctx->root, id, &dir, err);
	if (r < 0)
		return r;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return lv_err_msg(err, ENOENT, "container \"%s\" does not exist", id);
		return lv_err(err, errno, "open %s", dir);
	}
	r = rt_state_read(fd, st, err);
	if (r == -ENOENT) {
		lv_error_free(err);
		return lv_err_msg(err, ENOENT, "container \"%s\" does not exist", id);
	}
	if (r < 0)
		return r;
	*dirfd = lv_take_fd(&fd);
	return 0;
}

int rt_container_state(struct rt_context *ctx, const char *id, struct rt_state **out, struct lv_error **err)
{
	cleanup_close int dirfd = -1;

	return rt_container_open(ctx, id, &dirfd, out, err);
}

/* A pid is ours only while its start time matches what we recorded. */
static bool same_process(int pid, unsigned long long start)
{
	unsigned long long now;
	bool zombie = false;

	if (pid <= 0 || rt_proc_start_time(pid, &now, &zombie, NULL) < 0)
		return false;
	return now == start && !zombie;
}

static void kill_and_wait(int pid, unsigned long long start)
{
	cleanup_close int pidfd = -1;
	struct pollfd pfd;

	if (!same_process(pid, start))
		return;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	kill(pid, SIGKILL);
	if (pidfd < 0)
		return;
	pfd.fd = pidfd;
	pfd.events = POLLIN;
	/* Readable once it has exited: as a zombie if its parent has not reaped it. */
	while (poll(&pfd, 1, RT_KILL_WAIT_MS) < 0 && errno == EINTR)
		;
}

static void end_processes(const struct rt_state *st)
{
	kill_and_wait(st->pid, st->pid_start);
	kill_and_wait(st->vmm_pid, st->vmm_start);
}

int rt_container_destroy(struct rt_context *ctx, const char *id, struct lv_error **err)
{
	struct rt_state *st = NULL;
	cleanup_close int fd = rt_state_lock(ctx->root, id, err);

	if (fd < 0)
		return fd;
	if (rt_state_read(fd, &st, NULL) == 0) {
		end_processes(st);
		rt_state_free(st);
	}
	return rt_state_remove(ctx->root, id, err);
}

int rt_container_kill(struct rt_context *ctx, const char *id, int signo, bool all, struct lv_error **err)
{
	struct rt_state *st = NULL;
	cleanup_close int dirfd = -1;
	char req[64];
	int r;

	r = rt_container_open(ctx, id, &dirfd, &st, err);
	if (r < 0)
		return r;
	if (rt_state_live_status(st) == RT_STATUS_STOPPED) {
		r = lv_err_msg(err, EINVAL, "container not running");
		goto out;
	}
	if (signo == SIGKILL) {
		/* Not a request the monitor could refuse or be too stuck to
		 * serve: the monitor dies (its reaper sees 137 as with runc)
		 * and the VM with it. */
		if (same_process(st->pid, st->pid_start) && kill(st->pid, SIGKILL) < 0) {
			r = lv_err(err, errno, "kill %d", st->pid);
			goto out;
		}
		if (same_process(st->vmm_pid, st->vmm_start))
			kill(st->vmm_pid, SIGKILL);
		goto out;
	}
	snprintf(req, sizeof(req), "kill %d %d", signo, all ? 1 : 0);
	r = rt_ctl_request(dirfd, req, err);
out:
	rt_state_free(st);
	return r;
}

static void run_poststop(struct rt_context *ctx, const struct rt_state *st, const struct rt_spec *given)
{
	struct rt_spec *loaded = NULL;
	const struct rt_spec *spec = given;
	cleanup_free char *json = NULL;
	struct lv_error *e = NULL;
	json_t *j;

	if (!spec) {
		if (rt_spec_load(st->bundle, &loaded, NULL) < 0)
			return;
		spec = loaded;
	}
	if (spec->hooks.n_poststop) {
		j = rt_state_to_oci_json(st);
		json = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (json && rt_hooks_run("poststop", spec->hooks.poststop, spec->hooks.n_poststop, json, &e) < 0) {
			rt_warn(&ctx->log, "container %s: %s", st->id, e->msg);
			lv_error_free(&e);
		}
	}
	rt_spec_free(loaded);
}

int rt_container_delete(struct rt_context *ctx, const char *id, bool force, struct lv_error **err)
{
	return rt_container_delete_spec(ctx, id, force, NULL, err);
}

int rt_container_delete_spec(struct rt_context *ctx, const char *id, bool force, const struct rt_spec *spec,
			     struct lv_error **err)
{
	struct rt_state *st = NULL;
	cleanup_close int fd = -1;
	enum rt_status status;
	int r;

	r = rt_id_check(id, err);
	if (r < 0)
		return r;
	fd = rt_state_lock(ctx->root, id, err);
	if (fd < 0) {
		if (fd == -ENOENT && force) {
			lv_error_free(err);
			return 0;
		}
		return fd;
	}
	if (rt_state_read(fd, &st, NULL) < 0) {
		/* A create that died before writing its state: just clean up. */
		return rt_state_remove(ctx->root, id, err);
	}
	status = rt_state_live_status(st);
	if ((status == RT_STATUS_RUNNING || status == RT_STATUS_PAUSED) && !force) {
		r = lv_err_msg(err, EINVAL, "cannot delete container %s that is not stopped: %s", id,
			       rt_status_name(status));
		goto out;
	}
	end_processes(st);
	st->status = RT_STATUS_STOPPED;
	st->pid = 0;
	run_poststop(ctx, st, spec);
	r = rt_state_remove(ctx->root, id, err);
out:
	rt_state_free(st);
	return r;
}

static int simple_request(struct rt_context *ctx, const char *id, const char *req, enum rt_status need,
			  const char *msg, struct lv_error **err)
{
	struct rt_state *st = NULL;
	cleanup_close int dirfd = -1;
	int r;

	r = rt_container_open(ctx, id, &dirfd, &st, err);
	if (r < 0)
		return r;
	if (rt_state_live_status(st) != need)
		r = lv_err_msg(err, EINVAL, "%s", msg);
	else
		r = rt_ctl_request(dirfd, req, err);
	rt_state_free(st);
	return r;
}

int rt_container_pause(struct rt_context *ctx, const char *id, struct lv_error **err)
{
	return simple_request(ctx, id, "pause", RT_STATUS_RUNNING, "container not running", err);
}

int rt_container_resume(struct rt_context *ctx, const char *id, struct lv_error **err)
{
	return simple_request(ctx, id, "resume", RT_STATUS_PAUSED, "container not paused", err);
}

int rt_container_pids(struct rt_context *ctx, const char *id, int **pids, size_t *n, struct lv_error **err)
{
	struct rt_state *st = NULL;
	int r = rt_container_state(ctx, id, &st, err);

	if (r < 0)
		return r;
	*n = 0;
	*pids = calloc(2, sizeof(int));
	if (!*pids) {
		rt_state_free(st);
		return lv_err(err, ENOMEM, "pids");
	}
	if (same_process(st->pid, st->pid_start))
		(*pids)[(*n)++] = st->pid;
	if (same_process(st->vmm_pid, st->vmm_start))
		(*pids)[(*n)++] = st->vmm_pid;
	rt_state_free(st);
	return 0;
}

/* CPU time (ns) and resident memory (bytes) of one host process. */
static void proc_usage(int pid, unsigned long long *user_ns, unsigned long long *sys_ns, unsigned long long *rss)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, stt = 0, pages = 0;
	long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	cleanup_close int fd = -1;
	ssize_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		return;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* fields after comm: state(3) ... utime(14) stime(15) ... rss(24) */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %*u %*u %llu",
			 &ut, &stt, &pages) != 3)
		return;
	*user_ns += ut * (1000000000ull / (unsigned long long)hz);
	*sys_ns += stt * (1000000000ull / (unsigned long long)hz);
	*rss += pages * (unsigned long long)page;
}

int rt_container_stats(struct rt_context *ctx, const char *id, json_t **stats, struct lv_error **err)
{
	unsigned long long user = 0, sys = 0, rss = 0;
	cleanup_free int *pids = NULL;
	size_t n = 0;
	int r = rt_container_pids(ctx, id, &pids, &n, err);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		proc_usage(pids[i], &user, &sys, &rss);
	*stats = json_pack("{s:{s:{s:I,s:I,s:I}},s:{s:{s:I}},s:{s:I}}",
			   "cpu", "usage", "total", (json_int_t)(user + sys), "kernel", (json_int_t)sys, "user",
			   (json_int_t)user, "memory", "usage", "usage", (json_int_t)rss, "pids", "current",
			   (json_int_t)n);
	return *stats ? 0 : lv_err(err, ENOMEM, "stats");
}
