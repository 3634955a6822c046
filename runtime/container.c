/* create / start / run: bringing a container up.  The verbs that act on a
 * running container live in container_ops.c. */
#include "container.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "console.h"
#include "../lib/sha256.h"
#include "container_internal.h"
#include "ctl.h"
#include "guest_blob.h"
#include "hooks.h"
#include "initramfs.h"
#include "monitor.h"
#include "net.h"
#include "page_build.h"
#include "tty_proxy.h"

/* The monitor's stdin and stdout (and stderr unless the log is there) on
 * /dev/null.  Best effort: a failure leaves the inherited fds, which only
 * delays whoever reads them to their end. */
static void detach_stdio(bool with_stderr)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	if (with_stderr)
		dup2(fd, STDERR_FILENO);
	close(fd);
}

static int write_pid_file(const char *path, pid_t pid, struct lv_error **err)
{
	cleanup_free char *tmp = NULL;
	cleanup_close int fd = -1;
	char buf[32];
	int n;

	if (asprintf(&tmp, "%s.tmp.%d", path, getpid()) < 0) {
		tmp = NULL;
		return lv_err(err, ENOMEM, "pid file");
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return lv_err(err, errno, "--pid-file \"%s\"", path);
	n = snprintf(buf, sizeof(buf), "%d", pid);
	if (write(fd, buf, (size_t)n) != n || fsync(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return lv_err(err, e, "--pid-file \"%s\"", path);
	}
	return 0;
}

/* Reads the monitor's one report: "ok" or "err ERRNO MESSAGE". */
static int read_sync(int fd, struct lv_error **err)
{
	char buf[2048];
	size_t off = 0;
	int errnum = 0, pos = 0;

	while (off < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + off, sizeof(buf) - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	if (strcmp(buf, "ok") == 0)
		return 0;
	if (sscanf(buf, "err %d %n", &errnum, &pos) == 1 && pos > 0 && errnum > 0)
		return lv_err_msg(err, errnum, "%s", buf + pos);
	return lv_err_msg(err, EIO, "the container's monitor exited while creating the VM");
}

static int check_hooks(const struct rt_spec *spec, struct lv_error **err)
{
	if (spec->hooks.n_create_container)
		return lv_err_msg(err, EINVAL, "hooks.createContainer: hooks that run inside the container are not "
					       "supported (the container runs in a VM, the hook binary on the host)");
	if (spec->hooks.n_start_container)
		return lv_err_msg(err, EINVAL, "hooks.startContainer: hooks that run inside the container are not "
					       "supported (the container runs in a VM, the hook binary on the host)");
	return 0;
}

/* Everything create needs, gathered and checked before anything is
 * started, so that bad input leaves nothing behind. */
struct create_plan {
	struct rt_spec *spec;
	const struct hv_ops *ops;
	char *initrd;
	char *rootfs_archive; /* rootfs_delivery "channel": streamed after boot */
	uint8_t *page;
	size_t page_len;
	char *state_dir;
	const char *disk; /* annotation org.lightvm.disk, in spec */
	const char *tap;  /* annotation org.lightvm.tap, in spec */
	uint8_t mac[6];   /* with tap: the guest NIC's */
	enum rt_net_mode net_mode;
	/* createRuntime/prestart hooks: they run once the monitor (the
	 * container's pid) is in the container's network namespace and before
	 * it launches the VM, since they are what puts the engine's interface
	 * there (docker's libnetwork-setkey); status "creating", as runc's. */
	bool hooks_before_launch;
	struct hv_share shares[HV_MAX_SHARES]; /* directory bind mounts */
	size_t nshares;
};

/* A raw disk image given to the VM read-only as its first virtio-blk disk
 * (/dev/vda in the guest): an absolute path to a regular file we can read.
 * Only our own VMM attaches one so far. */
static int plan_disk(struct create_plan *p, struct lv_error **err)
{
	struct stat st;

	p->disk = rt_spec_annotation(p->spec, "org.lightvm.disk");
	if (!p->disk)
		return 0;
	if (p->disk[0] != '/')
		return lv_err_msg(err, EINVAL, "annotation org.lightvm.disk: \"%s\" is not an absolute path", p->disk);
	if (stat(p->disk, &st) < 0)
		return lv_err(err, errno, "annotation org.lightvm.disk: %s", p->disk);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return lv_err_msg(err, EINVAL, "annotation org.lightvm.disk: %s is not a regular file or block device",
				  p->disk);
	if (access(p->disk, R_OK) < 0)
		return lv_err(err, errno, "annotation org.lightvm.disk: %s", p->disk);
	if (p->ops != &hv_kvm_ops)
		return lv_err_msg(err, ENOTSUP, "annotation org.lightvm.disk: the %s backend does not attach disks yet; "
				  "use the kvm backend", p->ops->name);
	return 0;
}

/* A tap interface (created, or attached to if it exists) in the monitor's
 * network namespace, behind the guest's eth0.  Wiring it to an engine's
 * network is issue 5's business; this is the device. */
static int plan_tap(struct create_plan *p, struct lv_error **err)
{
	size_t n;

	p->tap = rt_spec_annotation(p->spec, "org.lightvm.tap");
	if (!p->tap)
		return 0;
	n = strlen(p->tap);
	if (n == 0 || n >= 16 || strspn(p->tap, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != n)
		return lv_err_msg(err, EINVAL, "annotation org.lightvm.tap: \"%s\" is not an interface name "
				  "(1-15 letters, digits, '-', '_', '.')", p->tap);
	if (p->ops != &hv_kvm_ops)
		return lv_err_msg(err, ENOTSUP, "annotation org.lightvm.tap: the %s backend does not attach taps yet; "
				  "use the kvm backend", p->ops->name);
	return 0;
}

/* A locally administered unicast MAC that stays the same for a container
 * (derived from its state directory's name, which holds its id). */
static void guest_mac(const char *state_dir, uint8_t mac[6])
{
	uint8_t h[32];

	lv_sha256(state_dir, strlen(state_dir), h);
	mac[0] = 0x02;
	memcpy(mac + 1, h, 5);
}

/* Directory bind mounts (volumes): each is shared with the guest by its own
 * file server (virtiofsd) over a vhost-user-fs device, under a tag the
 * page's mount names; both backends have the device. */
static int plan_shares(struct create_plan *p, struct lv_error **err)
{
	for (size_t i = 0; i < p->spec->nmounts; i++) {
		const struct rt_mount *m = &p->spec->mounts[i];
		struct hv_share *s;

		if (m->kind != RT_MOUNT_SHARED)
			continue;
		if (p->nshares == HV_MAX_SHARES)
			return lv_err_msg(err, E2BIG, "mounts[%zu]: more than %u directory bind mounts", i, HV_MAX_SHARES);
		s = &p->shares[p->nshares];
		s->source = m->source;
		s->readonly = m->flags & MS_RDONLY;
		snprintf(s->tag, sizeof(s->tag), "lvfs%zu", p->nshares);
		p->nshares++;
	}
	return 0;
}

static void plan_free(struct create_plan *p)
{
	rt_spec_free(p->spec);
	free(p->initrd);
	free(p->rootfs_archive);
	free(p->page);
	free(p->state_dir);
}

static int plan_create(struct rt_context *ctx, const struct rt_create_opts *o, bool foreground,
		       struct create_plan *p, struct lv_error **err)
{
	const char *backend;
	int r;

	r = rt_id_check(o->id, err);
	if (r < 0)
		return r;
	r = rt_spec_load(o->bundle, &p->spec, err);
	if (r < 0)
		return r;
	if (!p->spec->has_process)
		return lv_err_msg(err, EINVAL, "process: a container needs a process to run");
	/* runc's rules, and its words. */
	if (p->spec->process.terminal && !o->console_socket && !foreground)
		return lv_err_msg(err, EINVAL, "cannot allocate tty if lightvm will detach without setting console socket");
	if (o->console_socket && (foreground || !p->spec->process.terminal))
		return lv_err_msg(err, EINVAL, "cannot use console socket if lightvm will not detach or allocate tty");
	r = check_hooks(p->spec, err);
	if (r < 0)
		return r;
	backend = rt_spec_annotation(p->spec, "org.lightvm.backend");
	r = hv_select(&ctx->config, backend ? backend : ctx->config.backend, &p->ops, err);
	if (r < 0)
		return backend ? lv_err_wrap(err, "annotation org.lightvm.backend") : r;
	r = plan_disk(p, err);
	if (r < 0)
		return r;
	r = plan_tap(p, err);
	if (r < 0)
		return r;
	p->net_mode = rt_net_mode(p->spec, p->tap != NULL);
	if (p->net_mode == RT_NET_PATH) {
		r = rt_net_check(p->spec, err);
		if (r < 0)
			return r;
	}
	p->hooks_before_launch = p->spec->hooks.n_create_runtime || p->spec->hooks.n_prestart;
	r = plan_shares(p, err);
	if (r < 0)
		return r;
	{
		struct rt_initramfs_req req = {
			.rootfs = p->spec->rootfs,
			.cache_dir = ctx->config.cache_dir,
			.init = rt_guest_init_start,
			.init_len = (size_t)(rt_guest_init_end - rt_guest_init_start),
			.init_path = RT_GUEST_INIT_PATH,
			.max_bytes = ctx->config.initramfs_max_mib << 20,
			.compress_level = ctx->config.initramfs_compress,
		};
		if (strcmp(ctx->config.rootfs_delivery, "channel") == 0) {
			/* The shared init-only shell boots; the rootfs follows
			 * uncompressed (the channel is local: gzip would only
			 * cost the guest time). */
			req.shell = true;
			r = rt_initramfs_get(&req, &p->initrd, err);
			if (r < 0)
				return r;
			req.shell = false;
			req.rootfs_only = true;
			req.compress_level = 0;
			r = rt_initramfs_get(&req, &p->rootfs_archive, err);
		} else {
			r = rt_initramfs_get(&req, &p->initrd, err);
		}
		if (r < 0)
			return r;
	}
	r = rt_state_path(ctx->root, o->id, &p->state_dir, err);
	if (r < 0)
		return r;
	if (p->tap)
		guest_mac(p->state_dir, p->mac);
	{
		const struct rt_page_devices devs = {
			.rootfs_channel = p->rootfs_archive != NULL,
			.disk = p->disk != NULL,
			.mac = p->tap ? p->mac : NULL,
			.shares = p->shares,
			.nshares = p->nshares,
		};
		return rt_page_build(p->spec, &devs, &p->page, &p->page_len, err);
	}
}

/* The create-time hooks for a monitor that waits for them before it
 * launches the VM (hooks_before_launch): the state they read is ours to
 * give (the monitor has written none yet, and we hold the lock), status
 * "creating" with the monitor's pid, as runc gives its prestart hooks. */
static int run_hooks_early(const struct rt_create_opts *o, const struct create_plan *p, pid_t pid,
			   struct lv_error **err)
{
	struct rt_state st = {
		.id = (char *)o->id, .pid = pid, .status = RT_STATUS_CREATING, .bundle = (char *)o->bundle,
		.rootfs = p->spec->rootfs, .owner = (char *)"", .annotations = p->spec->annotations,
		.nannotations = p->spec->nannotations,
	};
	cleanup_free char *json = NULL;
	json_t *j;
	int r;

	rt_proc_start_time(pid, &st.pid_start, NULL, NULL);
	st.created = rt_now_rfc3339();
	j = rt_state_to_oci_json(&st);
	json = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	free(st.created);
	if (!json)
		return lv_err(err, ENOMEM, "state json");
	r = rt_hooks_run("createRuntime", p->spec->hooks.create_runtime, p->spec->hooks.n_create_runtime, json, err);
	if (r == 0)
		r = rt_hooks_run("prestart", p->spec->hooks.prestart, p->spec->hooks.n_prestart, json, err);
	return r;
}

/* With hooks_before_launch: waits for the monitor to be in its network
 * namespace, runs the hooks, and lets it go on (or, if they fail, ends it
 * with the error). */
static int hooks_handshake(const struct rt_create_opts *o, const struct create_plan *p, pid_t pid, int fd,
			   struct lv_error **err)
{
	char c;
	ssize_t n;

	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		return 0; /* the monitor failed before: read_sync says why */
	if (run_hooks_early(o, p, pid, err) < 0)
		return -1;
	c = 'g';
	if (write(fd, &c, 1) != 1)
		return 0; /* gone meanwhile: read_sync says why */
	return 0;
}

/* Runs the monitor in a child and waits for it to report that the guest
 * is ready (or why not).  On success the container is "created" and
 * *monitor_pid is our child (the caller decides whether to wait for it). */
static int spawn_monitor(struct rt_context *ctx, const struct rt_create_opts *o, struct create_plan *p,
			 bool autostart, pid_t *monitor_pid, int *tty_sock, struct lv_error **err)
{
	cleanup_close int dirfd = -1;
	cleanup_close int console = -1;
	int sync[2] = { -1, -1 };
	int hooks[2] = { -1, -1 };
	pid_t pid;
	int r;

	if (o->console_socket && p->spec->process.terminal) {
		console = rt_console_connect(o->console_socket, err);
		if (console < 0)
			return console;
	} else if (p->spec->process.terminal) {
		/* Foreground run: the pty master comes to us. */
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return lv_err(err, errno, "socketpair for the terminal");
		console = sv[1];
		*tty_sock = sv[0];
	}
	dirfd = rt_state_create(ctx->root, o->id, err);
	if (dirfd < 0)
		return dirfd;
	if (pipe2(sync, O_CLOEXEC) < 0) {
		r = lv_err(err, errno, "pipe");
		goto fail_dir;
	}
	if (p->hooks_before_launch && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hooks) < 0) {
		r = lv_err(err, errno, "socketpair for the hooks");
		close(sync[0]);
		close(sync[1]);
		goto fail_dir;
	}
	pid = fork();
	if (pid < 0) {
		r = lv_err(err, errno, "fork the monitor");
		close(sync[0]);
		close(sync[1]);
		if (hooks[0] >= 0) {
			close(hooks[0]);
			close(hooks[1]);
		}
		goto fail_dir;
	}
	if (pid == 0) {
		struct rt_monitor_args a = {
			.ctx = ctx, .id = o->id, .bundle = o->bundle, .spec = p->spec, .ops = p->ops,
			.vm_config = {
				.kernel = ctx->config.kernel,
				.initrd = p->initrd,
				.init_path = RT_GUEST_INIT_PATH,
				.mem_mib = p->spec->mem_mib ? (unsigned)p->spec->mem_mib : ctx->config.default_mem_mib,
				.vcpus = p->spec->vcpus ? p->spec->vcpus : ctx->config.default_vcpus,
				.debug = ctx->debug,
				.debug_log_fd = -1,
				.state_dir = p->state_dir,
				.disk = p->disk,
				.tap = p->tap,
				.mac = p->mac,
				.shares = p->shares,
				.nshares = p->nshares,
				.rootfs_archive = p->rootfs_archive,
			},
			.page = p->page, .page_len = p->page_len, .sync_fd = sync[1], .console_fd = console,
			.autostart = autostart, .net_mode = p->net_mode, .hooks_fd = hooks[1],
		};
		close(sync[0]);
		if (hooks[0] >= 0)
			close(hooks[0]);
		if (*tty_sock >= 0)
			close(*tty_sock);
		/* The creating process keeps the state lock until we report; our
		 * inherited copy of that fd would hold it for our whole life. */
		close(lv_take_fd(&dirfd));
		/* With a terminal the process's stdio is the pty: the monitor
		 * must not keep the creating command's stdio, which a shim reads
		 * to its end (containerd's runc shim waits for EOF on create's
		 * output pipe before it takes the console: it would wait for
		 * the container's whole life). runc's init does the same. */
		if (console >= 0)
			detach_stdio(ctx->log.fd >= 0);
		setsid();
		_exit(rt_monitor_main(&a));
	}
	close(sync[1]);
	r = 0;
	if (hooks[0] >= 0) {
		close(hooks[1]);
		r = hooks_handshake(o, p, pid, hooks[0], err);
		close(hooks[0]);
	}
	if (r < 0)
		kill(pid, SIGKILL);
	else
		r = read_sync(sync[0], err);
	close(sync[0]);
	if (r < 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto fail_dir;
	}
	*monitor_pid = pid;
	return 0;
fail_dir:
	{
		struct lv_error *e2 = NULL;
		if (rt_state_remove(ctx->root, o->id, &e2) < 0)
			lv_error_free(&e2);
	}
	return r;
}

int rt_container_state_json(struct rt_context *ctx, const char *id, char **out, struct lv_error **err)
{
	struct rt_state *st = NULL;
	json_t *j;
	int r = rt_container_state(ctx, id, &st, err);

	if (r < 0)
		return r;
	j = rt_state_to_oci_json(st);
	*out = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	rt_state_free(st);
	return *out ? 0 : lv_err(err, ENOMEM, "state json");
}

static int run_hooks_with_state(struct rt_context *ctx, const char *id, const char *kind, const struct rt_hook *h,
				size_t n, struct lv_error **err)
{
	cleanup_free char *json = NULL;
	int r;

	if (n == 0)
		return 0;
	r = rt_container_state_json(ctx, id, &json, err);
	if (r < 0)
		return r;
	return rt_hooks_run(kind, h, n, json, err);
}

/* Undo a create whose later step failed: nothing may be left behind. */
static void abort_create(struct rt_context *ctx, const char *id, pid_t pid)
{
	struct lv_error *e = NULL;

	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (rt_container_destroy(ctx, id, &e) < 0)
		lv_error_free(&e);
}

/* With want_start (run), a container without create-time hooks is started
 * by its monitor as soon as the guest is ready: *started tells.  With
 * spec_out, the validated spec is handed on so run need not read it again. */
static int create_common(struct rt_context *ctx, const struct rt_create_opts *o, bool foreground, bool want_start,
			 pid_t *pid_out, int *tty_sock, bool *started, struct rt_spec **spec_out,
			 struct lv_error **err)
{
	struct create_plan p = { 0 };
	pid_t pid = 0;
	int r;

	r = plan_create(ctx, o, foreground, &p, err);
	if (r < 0)
		goto out;
	*started = want_start;
	r = spawn_monitor(ctx, o, &p, *started, &pid, tty_sock, err);
	if (r < 0)
		goto out;
	if (o->pid_file)
		r = write_pid_file(o->pid_file, pid, err);
	if (r < 0) {
		abort_create(ctx, o->id, pid);
		goto out;
	}
	*pid_out = pid;
	if (spec_out)
		*spec_out = lv_take_ptr(&p.spec);
out:
	plan_free(&p);
	return r;
}

int rt_container_create(struct rt_context *ctx, const struct rt_create_opts *opts, struct lv_error **err)
{
	pid_t pid;
	int tty_sock = -1;
	bool started;

	return create_common(ctx, opts, false, false, &pid, &tty_sock, &started, NULL, err);
}

/* poststart hooks: failures are logged, as runc does, not fatal. */
static void run_poststart(struct rt_context *ctx, const char *id, const struct rt_spec *spec)
{
	struct lv_error *e = NULL;

	if (run_hooks_with_state(ctx, id, "poststart", spec->hooks.poststart, spec->hooks.n_poststart, &e) < 0) {
		rt_warn(&ctx->log, "container %s: %s", id, e->msg);
		lv_error_free(&e);
	}
}

/* start, with the spec when the caller holds it (run), else read from the
 * bundle for the poststart hooks. */
static int start_spec(struct rt_context *ctx, const char *id, const struct rt_spec *given, struct lv_error **err)
{
	struct rt_state *st = NULL;
	cleanup_close int dirfd = -1;
	struct rt_spec *spec = NULL;
	int r;

	r = rt_container_open(ctx, id, &dirfd, &st, err);
	if (r < 0)
		return r;
	switch (rt_state_live_status(st)) {
	case RT_STATUS_CREATED:
		break;
	case RT_STATUS_STOPPED:
		r = lv_err_msg(err, EINVAL, "cannot start a container that has stopped");
		goto out;
	case RT_STATUS_CREATING:
		r = lv_err_msg(err, EINVAL, "cannot start a container that is still being created");
		goto out;
	default:
		r = lv_err_msg(err, EINVAL, "cannot start an already running container");
		goto out;
	}
	r = rt_ctl_request(dirfd, "start", err);
	if (r < 0)
		goto out;
	if (given)
		run_poststart(ctx, id, given);
	else if (rt_spec_load(st->bundle, &spec, NULL) == 0)
		run_poststart(ctx, id, spec);
out:
	rt_spec_free(spec);
	rt_state_free(st);
	return r;
}

int rt_container_start(struct rt_context *ctx, const char *id, struct lv_error **err)
{
	return start_spec(ctx, id, NULL, err);
}

/* Foreground run: we are the monitor's parent; pass on every signal we get
 * (the monitor forwards it into the guest) and exit as the container did. */
static int wait_foreground(struct rt_context *ctx, pid_t pid, int sigfd, struct rt_tty_proxy *tty, int *exit_code,
			   struct lv_error **err)
{
	cleanup_close int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int status;

	while (pidfd >= 0) {
		struct pollfd pfd[4] = { { .fd = sigfd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN },
					 { .fd = tty->master, .events = POLLIN },
					 { .fd = tty->master >= 0 && tty->in_open ? 0 : -1, .events = POLLIN } };
		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGWINCH && tty->master >= 0)
					rt_tty_proxy_resize(tty);
				else if (si.ssi_signo != SIGCHLD)
					kill(pid, (int)si.ssi_signo);
			}
		}
		rt_tty_proxy_pump(tty, pfd[3].revents & (POLLIN | POLLHUP), pfd[2].revents & (POLLIN | POLLHUP));
		if (pfd[1].revents & POLLIN)
			break;
	}
	rt_tty_proxy_end(tty);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return lv_err(err, errno, "wait for the container's monitor");
	*exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	rt_debug(&ctx->log, "container exited with %d", *exit_code);
	return 0;
}

int rt_container_run(struct rt_context *ctx, const struct rt_create_opts *o, int *exit_code, struct lv_error **err)
{
	cleanup_close int sigfd = -1;
	cleanup_close int tty_sock = -1;
	struct rt_tty_proxy tty = { .master = -1 };
	struct rt_spec *spec = NULL;
	sigset_t set, old;
	bool started = false;
	pid_t pid;
	int r;

	*exit_code = 0;
	rt_forwardable_signals(&set);
	if (!o->detach) {
		/* Block before forking so no signal sent meanwhile is lost. */
		sigprocmask(SIG_BLOCK, &set, &old);
		sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
		if (sigfd < 0)
			return lv_err(err, errno, "signalfd");
	}
	r = create_common(ctx, o, !o->detach, true, &pid, &tty_sock, &started, &spec, err);
	if (r < 0)
		goto out;
	if (tty_sock >= 0 && rt_tty_proxy_start(&tty, tty_sock, err) < 0) {
		abort_create(ctx, o->id, pid);
		r = -EPROTO;
		goto out;
	}
	if (started)
		run_poststart(ctx, o->id, spec); /* what start would have run */
	else
		r = start_spec(ctx, o->id, spec, err);
	if (r < 0) {
		abort_create(ctx, o->id, pid);
		goto out;
	}
	if (o->detach)
		goto out;
	r = wait_foreground(ctx, pid, sigfd, &tty, exit_code, err);
	if (r == 0 && !o->keep) {
		struct lv_error *e = NULL;
		if (rt_container_delete_spec(ctx, o->id, false, spec, &e) < 0) {
			rt_warn(&ctx->log, "container %s: %s", o->id, e->msg);
			lv_error_free(&e);
		}
	}
out:
	rt_spec_free(spec);
	rt_tty_proxy_end(&tty);
	if (!o->detach)
		sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}
