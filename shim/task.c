/* The task service's methods (see task.h). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "stats.h"
#include "task.h"

#define SHIM_VERSION "lightvm " LV_VERSION
#define PIDS_MAX 64
#define EXIT_DRAIN_MS 5000 /* how long an exit waits for its terminal's output */

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(tmp, mode) < 0 && errno != EEXIST ? -errno : 0;
}

int shim_ctx_init(struct shim_ctx *ctx, struct lv_error **err)
{
	const char *base = getenv("LIGHTVM_SHIM_ROOT");
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;
	int r;

	for (size_t i = 0; i < SHIM_PROCS_MAX; i++)
		ctx->procs[i].stdin_hold = -1;
	snprintf(ctx->lv_bin, sizeof(ctx->lv_bin), "lightvm");
	if (n > 0) {
		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash && snprintf(ctx->lv_bin, sizeof(ctx->lv_bin), "%.*s/lightvm", (int)(slash - self), self) <
				     (int)sizeof(ctx->lv_bin) &&
		    access(ctx->lv_bin, X_OK) != 0)
			snprintf(ctx->lv_bin, sizeof(ctx->lv_bin), "lightvm");
	}
	if (!base || !*base)
		base = "/run/containerd/lightvm";
	if (strchr(ctx->ns, '/') || !*ctx->ns || strcmp(ctx->ns, ".") == 0 || strcmp(ctx->ns, "..") == 0)
		return lv_err_msg(err, EINVAL, "-namespace: '%s' is not a valid namespace", ctx->ns);
	if (snprintf(ctx->lv_root, sizeof(ctx->lv_root), "%s/%s", base, ctx->ns) >= (int)sizeof(ctx->lv_root))
		return lv_err_msg(err, ENAMETOOLONG, "LIGHTVM_SHIM_ROOT: too long");
	r = mkdir_p(ctx->lv_root, 0700);
	if (r < 0)
		return lv_err(err, -r, "mkdir %s", ctx->lv_root);
	return 0;
}

static void proc_free(struct shim_proc *p)
{
	free(p->exec_id);
	free(p->stdin_path);
	free(p->stdout_path);
	free(p->stderr_path);
	if (p->stdin_hold >= 0)
		close(p->stdin_hold);
	shim_console_free(p->console);
	memset(p, 0, sizeof(*p));
	p->stdin_hold = -1;
}

void shim_ctx_free(struct shim_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nprocs; i++)
		proc_free(&ctx->procs[i]);
	ctx->nprocs = 0;
}

struct shim_proc *shim_task_proc(struct shim_ctx *ctx, const char *id, const char *exec_id, struct lv_error **err)
{
	if (!id || strcmp(id, ctx->id) != 0) {
		lv_err_msg(err, ENOENT, "container %s: not found (this shim serves %s)", id ? id : "''", ctx->id);
		return NULL;
	}
	if (!exec_id)
		exec_id = "";
	for (size_t i = 0; i < ctx->nprocs; i++) {
		if (strcmp(ctx->procs[i].exec_id, exec_id) == 0)
			return &ctx->procs[i];
	}
	if (*exec_id)
		lv_err_msg(err, ENOENT, "exec %s in container %s: not found", exec_id, id);
	else
		lv_err_msg(err, ENOENT, "container %s: no task (not created, or deleted)", id);
	return NULL;
}

/* Mount options that are flags; the rest are the filesystem's data. */
static const struct {
	const char *name;
	unsigned long set, clear;
} mount_flags[] = {
	{ "ro", MS_RDONLY, 0 },	     { "rw", 0, MS_RDONLY },	    { "nosuid", MS_NOSUID, 0 },
	{ "nodev", MS_NODEV, 0 },    { "noexec", MS_NOEXEC, 0 },    { "sync", MS_SYNCHRONOUS, 0 },
	{ "noatime", MS_NOATIME, 0 }, { "relatime", MS_RELATIME, 0 }, { "nodiratime", MS_NODIRATIME, 0 },
	{ "bind", MS_BIND, 0 },	     { "rbind", MS_BIND | MS_REC, 0 },
};

static int mount_one(const struct shim_mount *m, const char *target, struct lv_error **err)
{
	char data[4096] = "";
	size_t used = 0;
	unsigned long flags = 0;

	for (size_t i = 0; i < m->noptions; i++) {
		const char *o = m->options[i];
		size_t k, len = strlen(o);

		for (k = 0; k < LV_ARRAY_SIZE(mount_flags); k++) {
			if (strcmp(o, mount_flags[k].name) == 0) {
				flags = (flags | mount_flags[k].set) & ~mount_flags[k].clear;
				break;
			}
		}
		if (k < LV_ARRAY_SIZE(mount_flags))
			continue;
		if (used + len + 2 > sizeof(data))
			return lv_err_msg(err, E2BIG, "rootfs mount %s: options exceed %zu bytes", m->type,
					  sizeof(data) - 1);
		used += (size_t)sprintf(data + used, "%s%s", used ? "," : "", o);
	}
	if (!m->type || !m->source)
		return lv_err_msg(err, EINVAL, "rootfs mount: no %s", m->type ? "source" : "type");
	if (mount(m->source, target, m->type, flags, data) < 0)
		return lv_err(err, errno, "rootfs: mount %s (%s) on %s", m->source, m->type, target);
	return 0;
}

static void unmount_rootfs(struct shim_ctx *ctx)
{
	char rootfs[PATH_MAX + 8];

	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", ctx->bundle);
	/* Each mount stacked on rootfs comes off; EINVAL: nothing left. */
	for (int i = 0; i < SHIM_MOUNTS_MAX; i++) {
		if (umount2(rootfs, 0) < 0 && (errno == EINVAL || errno == ENOENT || umount2(rootfs, MNT_DETACH) < 0))
			break;
	}
	ctx->rootfs_mounted = false;
}

static int mount_rootfs(struct shim_ctx *ctx, const struct shim_req *req, struct lv_error **err)
{
	char rootfs[PATH_MAX + 8];

	if (req->nrootfs == 0)
		return 0;
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", ctx->bundle);
	if (mkdir(rootfs, 0711) < 0 && errno != EEXIST)
		return lv_err(err, errno, "mkdir %s", rootfs);
	ctx->rootfs_mounted = true;
	for (size_t i = 0; i < req->nrootfs; i++) {
		int r = mount_one(&req->rootfs[i], rootfs, err);

		if (r < 0) {
			unmount_rootfs(ctx);
			return r;
		}
	}
	return 0;
}

/* The process's stdio: a file:// log URI is a file appended to; each fifo
 * is opened read-write, which never blocks
 * whether or not containerd has opened its end yet.  stdin is given
 * read-only, and one write end stays with the shim until CloseIO so the
 * container does not read EOF before containerd's writer is there. */
static int open_stdio(struct shim_proc *p, int fds[3], struct lv_error **err)
{
	const char *paths[3] = { p->stdin_path, p->stdout_path, p->stderr_path };

	for (int i = 0; i < 3; i++) {
		fds[i] = -1;
		if (!paths[i] || !*paths[i])
			continue;
		if (i > 0 && strncmp(paths[i], "file://", 7) == 0) /* ctr --log-uri file:///PATH */
			fds[i] = open(paths[i] + 7, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		else if (strstr(paths[i], "://"))
			fds[i] = -1, errno = EOPNOTSUPP; /* binary:// loggers */
		else
			fds[i] = open(paths[i], (i == 0 ? O_RDONLY | O_NONBLOCK : O_RDWR) | O_CLOEXEC);
		if (i == 0 && fds[0] >= 0 && p->stdin_hold < 0)
			p->stdin_hold = open(paths[0], O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (i == 0 && fds[0] >= 0)
			fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) & ~O_NONBLOCK);
		if (fds[i] < 0) {
			int e = errno;

			for (int k = 0; k < i; k++)
				if (fds[k] >= 0)
					close(fds[k]);
			return lv_err(err, e, "open %s", paths[i]);
		}
	}
	return 0;
}

static void close_stdio(int fds[3])
{
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int read_pid_file(const char *path, pid_t *pid, struct lv_error **err)
{
	cleanup_fclose FILE *f = fopen(path, "re");
	long v = 0;

	if (!f || fscanf(f, "%ld", &v) != 1 || v <= 0 || v > 4194304)
		return lv_err_msg(err, EIO, "%s: no valid pid", path);
	*pid = (pid_t)v;
	unlink(path);
	return 0;
}

/* A terminal's console socket, before lightvm runs. */
static int console_listen(struct shim_ctx *ctx, struct shim_proc *p, struct lv_error **err)
{
	return shim_console_listen(ctx->lv_root, ++ctx->console_seq, &p->console, err);
}

/* After lightvm ran: the pty master and the relay, then the write end of
 * stdin kept until CloseIO (as open_stdio does). */
static int console_accept(struct shim_proc *p, struct lv_error **err)
{
	int r = shim_console_accept(p->console, p->stdin_path, p->stdout_path, err);

	if (r < 0)
		return r;
	if (*p->stdin_path && p->stdin_hold < 0)
		p->stdin_hold = open(p->stdin_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	return 0;
}

static struct shim_proc *proc_add(struct shim_ctx *ctx, const struct shim_req *req, struct lv_error **err)
{
	struct shim_proc *p;

	if (ctx->nprocs >= SHIM_PROCS_MAX) {
		lv_err_msg(err, ENOSPC, "container %s: more than %d processes", ctx->id, SHIM_PROCS_MAX);
		return NULL;
	}
	p = &ctx->procs[ctx->nprocs];
	p->stdin_hold = -1;
	p->exec_id = strdup(req->exec_id ? req->exec_id : "");
	p->stdin_path = strdup(req->stdin_path ? req->stdin_path : "");
	p->stdout_path = strdup(req->stdout_path ? req->stdout_path : "");
	p->stderr_path = strdup(req->stderr_path ? req->stderr_path : "");
	p->terminal = req->terminal;
	p->status = SHIM_CREATED;
	if (!p->exec_id || !p->stdin_path || !p->stdout_path || !p->stderr_path) {
		proc_free(p);
		lv_err(err, ENOMEM, "container %s", ctx->id);
		return NULL;
	}
	ctx->nprocs++;
	return p;
}

static void proc_remove(struct shim_ctx *ctx, struct shim_proc *p)
{
	size_t i = (size_t)(p - ctx->procs);

	proc_free(p);
	memmove(&ctx->procs[i], &ctx->procs[i + 1], (ctx->nprocs - i - 1) * sizeof(*p));
	ctx->nprocs--;
	/* The vacated slot held a copy of the last one: forget it, so that a
	 * later proc_add starts from nothing (no stale exit, no shared console). */
	memset(&ctx->procs[ctx->nprocs], 0, sizeof(*p));
	ctx->procs[ctx->nprocs].stdin_hold = -1;
}

static int task_create(struct shim_ctx *ctx, const struct shim_req *req, struct pb_buf *resp, struct lv_error **err)
{
	char pid_file[PATH_MAX + 16];
	struct shim_proc *p;
	int fds[3], r;

	if (!req->id || strcmp(req->id, ctx->id) != 0)
		return lv_err_msg(err, EINVAL, "id: '%s', but this shim serves %s", req->id ? req->id : "", ctx->id);
	if (ctx->created)
		return lv_err_msg(err, EEXIST, "container %s: already created", ctx->id);
	if (req->checkpoint && *req->checkpoint)
		return lv_err_msg(err, EOPNOTSUPP, "checkpoint: lightvm cannot restore checkpoints");
	if (req->bundle && *req->bundle && strcmp(req->bundle, ctx->bundle) != 0)
		snprintf(ctx->bundle, sizeof(ctx->bundle), "%s", req->bundle);
	r = mount_rootfs(ctx, req, err);
	if (r < 0)
		return r;
	p = proc_add(ctx, req, err);
	if (!p) {
		r = -ENOMEM;
		goto fail_mount;
	}
	snprintf(pid_file, sizeof(pid_file), "%s/init.pid", ctx->bundle);
	if (p->terminal) {
		r = console_listen(ctx, p, err);
		if (r < 0)
			goto fail_proc;
		r = shim_lightvm(ctx, NULL, NULL, 0, err, "create", "--bundle", ctx->bundle, "--pid-file", pid_file,
				 "--console-socket", shim_console_path(p->console), ctx->id, (char *)NULL);
	} else {
		r = open_stdio(p, fds, err);
		if (r < 0)
			goto fail_proc;
		r = shim_lightvm(ctx, fds, NULL, 0, err, "create", "--bundle", ctx->bundle, "--pid-file", pid_file,
				 ctx->id, (char *)NULL);
		close_stdio(fds);
	}
	if (r == 0)
		r = read_pid_file(pid_file, &p->pid, err);
	if (r < 0)
		goto fail_proc;
	if (p->terminal) {
		r = console_accept(p, err);
		if (r < 0) {
			struct lv_error *ignored = NULL;

			/* The VM is up: take it down, and its monitor with it. */
			shim_lightvm(ctx, NULL, NULL, 0, &ignored, "delete", "--force", ctx->id, (char *)NULL);
			lv_error_free(&ignored);
			waitpid(p->pid, NULL, 0);
			goto fail_proc;
		}
	}
	ctx->created = true;
	shim_publish(ctx, &(struct shim_event){ .kind = SHIM_EV_CREATE, .container_id = ctx->id,
						 .bundle = ctx->bundle, .rootfs = req->rootfs,
						 .nrootfs = req->nrootfs, .stdin_path = p->stdin_path,
						 .stdout_path = p->stdout_path, .stderr_path = p->stderr_path,
						 .terminal = p->terminal, .pid = (uint32_t)p->pid });
	shim_enc_pid(resp, (uint32_t)p->pid);
	return 0;
fail_proc:
	proc_remove(ctx, p);
fail_mount:
	unmount_rootfs(ctx);
	return r;
}

static int exec_start(struct shim_ctx *ctx, struct shim_proc *p, struct lv_error **err)
{
	char spec[PATH_MAX + 64], pid_file[PATH_MAX + 64];
	int fds[3], r;

	snprintf(spec, sizeof(spec), "%s/exec-%s.json", ctx->bundle, p->exec_id);
	snprintf(pid_file, sizeof(pid_file), "%s/exec-%s.pid", ctx->bundle, p->exec_id);
	if (p->terminal) {
		r = console_listen(ctx, p, err);
		if (r < 0)
			return r;
		r = shim_lightvm(ctx, NULL, NULL, 0, err, "exec", "--process", spec, "--detach", "--pid-file", pid_file,
				 "--console-socket", shim_console_path(p->console), ctx->id, (char *)NULL);
	} else {
		r = open_stdio(p, fds, err);
		if (r < 0)
			return r;
		r = shim_lightvm(ctx, fds, NULL, 0, err, "exec", "--process", spec, "--detach", "--pid-file",
				 pid_file, ctx->id, (char *)NULL);
		close_stdio(fds);
	}
	unlink(spec);
	if (r == 0)
		r = read_pid_file(pid_file, &p->pid, err);
	if (r == 0 && p->terminal) {
		r = console_accept(p, err);
		if (r < 0) { /* the exec runs without a terminal anyone reads: end it */
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
			p->pid = 0;
		}
	}
	if (r < 0 && p->console) {
		shim_console_free(p->console);
		p->console = NULL;
	}
	return r;
}

static int task_start(struct shim_ctx *ctx, struct shim_proc *p, struct pb_buf *resp, struct lv_error **err)
{
	int r;

	if (p->status != SHIM_CREATED)
		return lv_err_msg(err, EBUSY, "process %s: already started", *p->exec_id ? p->exec_id : ctx->id);
	if (*p->exec_id) {
		r = exec_start(ctx, p, err);
		if (r < 0)
			return r;
		p->status = SHIM_RUNNING;
		shim_publish(ctx, &(struct shim_event){ .kind = SHIM_EV_EXEC_STARTED, .container_id = ctx->id,
							 .exec_id = p->exec_id, .pid = (uint32_t)p->pid });
	} else {
		r = shim_lightvm(ctx, NULL, NULL, 0, err, "start", ctx->id, (char *)NULL);
		if (r < 0)
			return r;
		if (!p->exited)
			p->status = SHIM_RUNNING;
		shim_publish(ctx, &(struct shim_event){ .kind = SHIM_EV_START, .container_id = ctx->id,
							 .pid = (uint32_t)p->pid });
	}
	shim_enc_pid(resp, (uint32_t)p->pid);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void record_exit(struct shim_ctx *ctx, struct shim_proc *p, int status)
{
	p->exited = true;
	p->status = SHIM_STOPPED;
	p->exit_status = WIFSIGNALED(status) ? 128u + (uint32_t)WTERMSIG(status) : (uint32_t)WEXITSTATUS(status);
	p->exited_at = shim_now();
	p->exit_pending = false;
	if (p->stdin_hold >= 0) {
		close(p->stdin_hold);
		p->stdin_hold = -1;
	}
	if (p->console) { /* its last output first; closing gives the reader EOF */
		shim_console_pump(p->console);
		shim_console_free(p->console);
		p->console = NULL;
	}
	shim_publish(ctx, &(struct shim_event){ .kind = SHIM_EV_EXIT, .container_id = ctx->id,
						 .exec_id = p->exec_id, .pid = (uint32_t)p->pid,
						 .exit_status = p->exit_status, .exited_at = p->exited_at });
}

void shim_task_reap(struct shim_ctx *ctx)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < ctx->nprocs; i++) {
			struct shim_proc *p = &ctx->procs[i];

			if (p->pid != pid || p->exited || p->exit_pending)
				continue;
			if (p->console && !shim_console_done(p->console)) {
				p->exit_pending = true;
				p->pending_status = status;
				p->pending_since_ms = now_ms();
			} else {
				record_exit(ctx, p, status);
			}
		}
	}
}

bool shim_task_finish_exits(struct shim_ctx *ctx)
{
	bool left = false;
	int64_t now = now_ms();

	for (size_t i = 0; i < ctx->nprocs; i++) {
		struct shim_proc *p = &ctx->procs[i];

		if (!p->exit_pending)
			continue;
		shim_console_pump(p->console);
		if (shim_console_done(p->console) || now - p->pending_since_ms >= EXIT_DRAIN_MS) {
			if (!shim_console_done(p->console))
				shim_log("process %s: terminal output not read in %d ms, dropped",
					 *p->exec_id ? p->exec_id : ctx->id, EXIT_DRAIN_MS);
			record_exit(ctx, p, p->pending_status);
		} else {
			left = true;
		}
	}
	return left;
}

static int task_delete(struct shim_ctx *ctx, struct shim_proc *p, struct pb_buf *resp, struct lv_error **err)
{
	uint32_t pid = (uint32_t)p->pid, exit_status;
	struct shim_time at;
	bool init = !*p->exec_id;
	int r, status;

	if (!p->exited && p->status != SHIM_CREATED)
		return lv_err_msg(err, EBUSY, "process %s: cannot delete a running process; kill it first",
				  init ? ctx->id : p->exec_id);
	if (init) {
		if (!p->exited) { /* created, never started: end its VM */
			r = shim_lightvm(ctx, NULL, NULL, 0, err, "delete", "--force", ctx->id, (char *)NULL);
			if (r < 0)
				return r;
			if (waitpid(p->pid, &status, 0) == p->pid)
				record_exit(ctx, p, status);
			else if (p->exit_pending) /* reaped already, its terminal not drained */
				record_exit(ctx, p, p->pending_status);
		} else {
			r = shim_lightvm(ctx, NULL, NULL, 0, err, "delete", "--force", ctx->id, (char *)NULL);
			if (r < 0)
				return r;
		}
		unmount_rootfs(ctx);
	} else if (!p->exited) {
		char spec[PATH_MAX + 64];

		snprintf(spec, sizeof(spec), "%s/exec-%s.json", ctx->bundle, p->exec_id);
		unlink(spec);
		p->exited_at = shim_now();
	}
	exit_status = p->exit_status;
	at = p->exited_at;
	shim_publish(ctx, &(struct shim_event){ .kind = SHIM_EV_DELETE, .container_id = ctx->id,
						 .exec_id = p->exec_id, .pid = pid, .exit_status = exit_status,
						 .exited_at = at });
	if (init) {
		ctx->deleted = true;
		shim_ctx_free(ctx); /* execs go with their container */
	} else {
		proc_remove(ctx, p);
	}
	shim_enc_exit(resp, SHIM_DELETE, pid, exit_status, at);
	return 0;
}

static int task_kill(struct shim_ctx *ctx, struct shim_proc *p, const struct shim_req *req, struct lv_error **err)
{
	char sig[16];

	if (req->signal == 0 || req->signal >= 65)
		return lv_err_msg(err, EINVAL, "signal: %u is no signal", req->signal);
	if (p->exited || p->exit_pending)
		return lv_err_msg(err, ESRCH, "process %s: already finished", *p->exec_id ? p->exec_id : ctx->id);
	if (*p->exec_id) {
		if (p->status == SHIM_CREATED)
			return lv_err_msg(err, EBUSY, "exec %s: not started", p->exec_id);
		return kill(p->pid, (int)req->signal) < 0 ? lv_err(err, errno, "exec %s: kill", p->exec_id) : 0;
	}
	snprintf(sig, sizeof(sig), "%u", req->signal);
	if (req->all)
		return shim_lightvm(ctx, NULL, NULL, 0, err, "kill", "--all", ctx->id, sig, (char *)NULL);
	return shim_lightvm(ctx, NULL, NULL, 0, err, "kill", ctx->id, sig, (char *)NULL);
}

static int task_exec(struct shim_ctx *ctx, const struct shim_req *req, struct lv_error **err)
{
	char spec[PATH_MAX + 64];
	struct shim_proc *init = shim_task_proc(ctx, req->id, "", err);
	cleanup_close int fd = -1;
	size_t len;

	if (!init)
		return -ENOENT;
	if (!req->exec_id || !*req->exec_id || strchr(req->exec_id, '/') || req->exec_id[0] == '.')
		return lv_err_msg(err, EINVAL, "exec_id: '%s' is not a valid exec id", req->exec_id ? req->exec_id : "");
	for (size_t i = 0; i < ctx->nprocs; i++)
		if (strcmp(ctx->procs[i].exec_id, req->exec_id) == 0)
			return lv_err_msg(err, EEXIST, "exec %s: already exists", req->exec_id);
	if (init->exited || init->status == SHIM_CREATED)
		return lv_err_msg(err, EBUSY, "container %s: not running", ctx->id);
	if (!req->spec)
		return lv_err_msg(err, EINVAL, "spec: missing (the process to run)");
	snprintf(spec, sizeof(spec), "%s/exec-%s.json", ctx->bundle, req->exec_id);
	fd = open(spec, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	len = strlen(req->spec);
	if (fd < 0 || write(fd, req->spec, len) != (ssize_t)len)
		return lv_err(err, errno ? errno : EIO, "write %s", spec);
	if (!proc_add(ctx, req, err)) {
		unlink(spec);
		return -ENOSPC;
	}
	shim_publish(ctx, &(struct shim_event){ .kind = SHIM_EV_EXEC_ADDED, .container_id = ctx->id,
						 .exec_id = req->exec_id });
	return 0;
}

static int task_pids(struct shim_ctx *ctx, struct shim_proc *p, struct pb_buf *resp, struct lv_error **err)
{
	char out[4096];
	uint32_t pids[PIDS_MAX];
	size_t n = 0;
	int r;

	if (p->exited)
		return 0;
	r = shim_lightvm(ctx, NULL, out, sizeof(out), err, "ps", "--format", "json", ctx->id, (char *)NULL);
	if (r < 0)
		return r;
	for (char *s = out; *s && n < PIDS_MAX;) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s) {
			s++;
			continue;
		}
		if (v > 0 && v <= 4194304)
			pids[n++] = (uint32_t)v;
		s = end;
	}
	shim_enc_pids(resp, pids, n);
	return 0;
}

static int task_state(struct shim_ctx *ctx, struct shim_proc *p, struct pb_buf *resp)
{
	shim_enc_state(resp, &(struct shim_state){ .id = ctx->id, .exec_id = p->exec_id, .bundle = ctx->bundle,
						    .pid = (uint32_t)p->pid, .status = p->status,
						    .stdin_path = p->stdin_path, .stdout_path = p->stdout_path,
						    .stderr_path = p->stderr_path, .terminal = p->terminal,
						    .exit_status = p->exit_status, .exited_at = p->exited_at });
	return 0;
}

static int task_pause(struct shim_ctx *ctx, struct shim_proc *p, bool pause, struct lv_error **err)
{
	int r;

	if (p->exited)
		return lv_err_msg(err, EBUSY, "container %s: not running", ctx->id);
	r = shim_lightvm(ctx, NULL, NULL, 0, err, pause ? "pause" : "resume", ctx->id, (char *)NULL);
	if (r < 0)
		return r;
	p->status = pause ? SHIM_PAUSED : SHIM_RUNNING;
	shim_publish(ctx, &(struct shim_event){ .kind = pause ? SHIM_EV_PAUSED : SHIM_EV_RESUMED,
						 .container_id = ctx->id });
	return 0;
}

int shim_task_call(struct shim_ctx *ctx, enum shim_method m, const struct shim_req *req, struct pb_buf *resp,
		   struct lv_error **err)
{
	struct shim_proc *p = NULL;

	switch (m) {
	case SHIM_CREATE:
		return task_create(ctx, req, resp, err);
	case SHIM_EXEC:
		return task_exec(ctx, req, err);
	case SHIM_CONNECT:
		shim_enc_connect(resp, (uint32_t)getpid(), ctx->nprocs ? (uint32_t)ctx->procs[0].pid : 0,
				 SHIM_VERSION);
		return 0;
	case SHIM_SHUTDOWN:
		/* Another task still here (not deleted): stay, unless told now. */
		if (req->now || ctx->nprocs == 0)
			ctx->shutdown = true;
		return 0;
	case SHIM_UPDATE:
	case SHIM_CHECKPOINT:
		return lv_err_msg(err, EOPNOTSUPP, "%s: not implemented by containerd-shim-lightvm-v2",
				  shim_method_name(m));
	default:
		break;
	}
	p = shim_task_proc(ctx, req->id, req->exec_id, err);
	if (!p)
		return -ENOENT;
	switch (m) {
	case SHIM_STATE:
		return task_state(ctx, p, resp);
	case SHIM_START:
		return task_start(ctx, p, resp, err);
	case SHIM_DELETE:
		return task_delete(ctx, p, resp, err);
	case SHIM_KILL:
		return task_kill(ctx, p, req, err);
	case SHIM_PIDS:
		return task_pids(ctx, p, resp, err);
	case SHIM_PAUSE:
	case SHIM_RESUME:
		return task_pause(ctx, p, m == SHIM_PAUSE, err);
	case SHIM_STATS:
		if (p->exited || p->pid <= 0)
			return lv_err_msg(err, EBUSY, "process %s: not running", *p->exec_id ? p->exec_id : ctx->id);
		return shim_stats(p->pid, resp, err);
	case SHIM_CLOSE_IO:
		if (req->close_stdin && p->stdin_hold >= 0) {
			close(p->stdin_hold);
			p->stdin_hold = -1;
		}
		return 0;
	case SHIM_RESIZE_PTY:
		if (!p->console)
			return 0; /* no terminal (containerd sends one anyway), or not started yet */
		return shim_console_resize(p->console, req->width, req->height, err);
	default:
		return lv_err_msg(err, EINVAL, "%s: not handled here", shim_method_name(m));
	}
}

int shim_task_cleanup(struct shim_ctx *ctx, struct lv_error **err)
{
	struct lv_error *ignored = NULL;

	/* Nothing to delete is not an error: the shim may have done it. */
	shim_lightvm(ctx, NULL, NULL, 0, &ignored, "delete", "--force", ctx->id, (char *)NULL);
	lv_error_free(&ignored);
	unmount_rootfs(ctx);
	return 0;
}
