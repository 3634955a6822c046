/* lightvm-poold's QEMU shells: launch, boot detection, stop, kill, reap,
 * and the records under ROOT/pool/ that let a restarted daemon reclaim
 * what its predecessor left (see poold.c and runtime/POOL.md). */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/clock.h"
#include "../noxs/chan.h"
#include "guest_blob.h"
#include "hv.h"
#include "poold_internal.h"
#include "state.h"
#include "state_internal.h"

/* Removes ROOT/pool/<id>/ and what the daemon and QEMU put there. */
void poold_record_remove(struct poold *pd, uint64_t id)
{
	char path[PATH_MAX];
	static const char *const files[] = { "shell", "shell.tmp", "vmm.log", "console.log" };

	for (size_t i = 0; i < LV_ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%llu/%s", pd->dir, (unsigned long long)id, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%llu", pd->dir, (unsigned long long)id);
	if (rmdir(path) < 0 && errno != ENOENT)
		rt_log(&pd->ctx->log, RT_LOG_WARN, "poold: cannot remove %s: %s", path, strerror(errno));
}

void poold_record_write(struct poold *pd, const struct pd_shell *sh, pid_t monitor, unsigned long long mstart)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/%llu/shell.tmp", pd->dir, (unsigned long long)sh->id);
	snprintf(path, sizeof(path), "%s/%llu/shell", pd->dir, (unsigned long long)sh->id);
	f = fopen(tmp, "we");
	if (!f)
		goto fail;
	fprintf(f, "qemu %d %llu\n", (int)sh->pid, sh->start);
	if (monitor > 0)
		fprintf(f, "claimed %d %llu\n", (int)monitor, mstart);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		goto fail;
	return;
fail:
	rt_log(&pd->ctx->log, RT_LOG_WARN, "poold: cannot record shell %llu in %s: %s", (unsigned long long)sh->id,
	       path, strerror(errno));
}

void poold_shell_launch(struct poold *pd, unsigned pool)
{
	struct pd_pool *p = &pd->pools[pool];
	struct lv_error *err = NULL;
	struct hv_vm vm = { .exit_fd = -1, .ctl_fd = -1 };
	struct pd_shell *sh;
	char dir[PATH_MAX];
	uint64_t id = pd->next_id++;

	p->next_launch_ms = lv_now_ms() + POOLD_LAUNCH_GAP_MS;
	snprintf(dir, sizeof(dir), "%s/%llu", pd->dir, (unsigned long long)id);
	struct hv_vm_config vc = {
		.kernel = pd->ctx->config.kernel,
		.initrd = pd->initrd,
		.init_path = RT_GUEST_INIT_PATH,
		.mem_mib = p->key.mem_mib,
		.vcpus = p->key.vcpus,
		.debug_log_fd = -1,
		.state_dir = dir,
		.detach_vmm = true,
		.name = dir,
	};
	sh = calloc(1, sizeof(*sh));
	if (!sh) {
		lv_err(&err, ENOMEM, "shell");
		goto fail;
	}
	if (mkdir(dir, 0700) < 0) {
		lv_err(&err, errno, "mkdir %s", dir);
		goto fail;
	}
	if (hv_qemu_ops.launch(&pd->ctx->config, &vc, &vm, &err) < 0) {
		poold_record_remove(pd, id);
		goto fail;
	}
	free(vm.priv); /* the backend's bookkeeping: the daemon keeps its own */
	*sh = (struct pd_shell){ .mon = { .kind = W_MONITOR, .fd = -1, .obj = sh }, .id = id, .pool = pool,
				 .pid = vm.vmm_pid, .start = vm.vmm_start, .pidfd = vm.exit_fd, .ctl = vm.ctl_fd,
				 .boot = { .kind = W_BOOT, .fd = -1, .obj = sh },
				 .boot_deadline_ms = lv_now_ms() + pd->ctx->config.boot_timeout_ms };
	poold_record_write(pd, sh, 0, 0);
	/* Its own copy of the channel: handing the shell out closes ctl. */
	sh->boot.fd = fcntl(sh->ctl, F_DUPFD_CLOEXEC, 0);
	if (sh->boot.fd < 0 || watch_add(pd, &sh->boot, &err) < 0) {
		if (!err)
			lv_err(&err, errno, "dup of the shell's channel");
		if (sh->boot.fd >= 0)
			close(sh->boot.fd);
		sh->boot.fd = -1;
		rt_log(&pd->ctx->log, RT_LOG_ERROR, "poold: watching shell %llu boot: %s", (unsigned long long)id,
		       err->msg);
		lv_error_free(&err);
		sh->boot_deadline_ms = 0; /* the next deadline check ends it */
	}
	struct pd_shell **tail = &pd->shells;
	while (*tail)
		tail = &(*tail)->next;
	*tail = sh;
	rt_debug(&pd->ctx->log, "poold: shell %llu launched (qemu %d, %u MiB, %u vCPUs)", (unsigned long long)id,
		 (int)sh->pid, p->key.mem_mib, p->key.vcpus);
	return;
fail:
	free(sh);
	p->next_launch_ms = lv_now_ms() + POOLD_RETRY_MS;
	rt_log(&pd->ctx->log, RT_LOG_ERROR, "poold: launching a shell: %s", err ? err->msg : "failed");
	lv_error_free(&err);
}

/* Ends a shell's QEMU; the reaper removes it when it is gone. */
void poold_shell_kill(struct poold *pd, struct pd_shell *sh)
{
	watch_close(pd, &sh->boot);
	kill(sh->pid, SIGKILL); /* our unreaped child: the pid cannot be reused */
	if (sh->pidfd >= 0)
		close(sh->pidfd);
	if (sh->ctl >= 0)
		close(sh->ctl);
	sh->pidfd = sh->ctl = -1;
	sh->claimed = true; /* never handed out again */
	sh->pool = POOL_MAX_POOLS;
}

void poold_shell_boot(struct poold *pd, struct pd_shell *sh)
{
	uint8_t hdr[NOXS_FRAME_HDR];
	ssize_t n = recv(sh->boot.fd, hdr, sizeof(hdr), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	watch_close(pd, &sh->boot);
	/* The guest says nothing else before it has a frame from the host. */
	if (n != (ssize_t)sizeof(hdr) || noxs_get_u16(hdr) != NOXS_MSG_WAITING || noxs_get_u32(hdr + 4) != 0) {
		rt_log(&pd->ctx->log, RT_LOG_WARN, "poold: shell %llu (qemu %d): no WAITING from its guest: ended",
		       (unsigned long long)sh->id, (int)sh->pid);
		poold_shell_kill(pd, sh);
		return;
	}
	/* Booted and idle: stopped until a monitor adopts (and continues) it. */
	if (kill(sh->pid, SIGSTOP) < 0) {
		poold_shell_kill(pd, sh);
		return;
	}
	sh->booted = true;
	rt_debug(&pd->ctx->log, "poold: shell %llu (qemu %d) booted; stopped until claimed", (unsigned long long)sh->id,
		 (int)sh->pid);
}

void poold_shell_deadlines(struct poold *pd, int *timeout)
{
	uint64_t now = lv_now_ms();

	for (struct pd_shell *sh = pd->shells; sh; sh = sh->next) {
		if (sh->booted || sh->claimed)
			continue;
		if (now >= sh->boot_deadline_ms) {
			rt_log(&pd->ctx->log, RT_LOG_WARN, "poold: shell %llu (qemu %d) did not boot in time: ended",
			       (unsigned long long)sh->id, (int)sh->pid);
			poold_shell_kill(pd, sh);
		} else if (*timeout < 0 || sh->boot_deadline_ms - now < (uint64_t)*timeout) {
			*timeout = (int)(sh->boot_deadline_ms - now);
		}
	}
}

void poold_reap(struct poold *pd)
{
	pid_t pid;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
		struct pd_shell **pp = &pd->shells;
		while (*pp && (*pp)->pid != pid)
			pp = &(*pp)->next;
		if (!*pp)
			continue;
		struct pd_shell *sh = *pp;
		*pp = sh->next;
		if (!sh->claimed)
			rt_log(&pd->ctx->log, RT_LOG_WARN, "poold: shell %llu (qemu %d) died unclaimed",
			       (unsigned long long)sh->id, (int)pid);
		else
			rt_debug(&pd->ctx->log, "poold: claimed shell %llu (qemu %d) ended",
				 (unsigned long long)sh->id, (int)pid);
		watch_close(pd, &sh->mon);
		watch_close(pd, &sh->boot);
		if (sh->pidfd >= 0)
			close(sh->pidfd);
		if (sh->ctl >= 0)
			close(sh->ctl);
		poold_record_remove(pd, sh->id);
		free(sh);
	}
}

static bool same_live(pid_t pid, unsigned long long start)
{
	unsigned long long now = 0;
	bool zombie = false;

	return pid > 0 && rt_proc_start_time(pid, &now, &zombie, NULL) == 0 && now == start && !zombie;
}

/* A QEMU of a previous daemon: no longer our child, so watch a pidfd. */
static void kill_foreign(pid_t pid, unsigned long long start)
{
	cleanup_close int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	if (pidfd < 0 || !same_live(pid, start))
		return;
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	poll(&pfd, 1, 2000);
}

void poold_reclaim(struct poold *pd)
{
	cleanup_dir DIR *d = opendir(pd->dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char path[PATH_MAX], line[128];
		cleanup_fclose FILE *f = NULL;
		int qpid = 0, mpid = 0;
		unsigned long long id, qstart = 0, mstart = 0;
		char *end;

		if (de->d_name[0] == '.')
			continue;
		id = strtoull(de->d_name, &end, 10);
		if (*end || id == 0)
			continue;
		if (id >= pd->next_id)
			pd->next_id = id + 1;
		snprintf(path, sizeof(path), "%s/%s/shell", pd->dir, de->d_name);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f)) {
			sscanf(line, "qemu %d %llu", &qpid, &qstart);
			sscanf(line, "claimed %d %llu", &mpid, &mstart);
		}
		if (mpid > 0 && same_live(mpid, mstart)) {
			rt_log(&pd->ctx->log, RT_LOG_INFO, "poold: shell %llu is in use by monitor %d: left alone", id, mpid);
			continue;
		}
		if (qpid > 0) {
			rt_log(&pd->ctx->log, RT_LOG_INFO, "poold: reclaiming shell %llu (qemu %d)", id, qpid);
			kill_foreign(qpid, qstart);
		}
		poold_record_remove(pd, id);
	}
}

