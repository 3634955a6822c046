/* Stats: what a container costs the host, as containerd's cgroups v1
 * Metrics (io.containerd.cgroups.v1.Metrics, the type `ctr task metrics`
 * and the CRI read).  A lightvm container is a VM: its cost is its host
 * processes, the monitor (the container's pid) and its children (QEMU, a
 * virtiofsd per volume), summed from /proc: CPU time (user, kernel) and
 * resident memory.  No cgroup is read: lightvm puts none around the VM. */
#include "stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/cleanup.h"

#define STATS_PROCS_MAX 64 /* processes summed per container */
#define STATS_DEPTH 3      /* the monitor, its children, theirs */

struct usage {
	uint64_t user_ns, kernel_ns, rss_bytes;
	unsigned nprocs;
};

static ssize_t read_small(const char *path, char *buf, size_t size)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* /proc/PID/stat: utime and stime are fields 14 and 15, counted from the
 * pid; comm (field 2) may hold spaces and parentheses, so fields are
 * counted after its last ')'.  statm's second field is the RSS in pages. */
static int add_proc(pid_t pid, struct usage *u)
{
	char path[64], buf[1024], *p, *save = NULL;
	unsigned long long utime = 0, stime = 0, rss = 0;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	int field = 3;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return -1;
	for (char *t = strtok_r(p + 1, " ", &save); t; t = strtok_r(NULL, " ", &save), field++) {
		if (field == 14)
			utime = strtoull(t, NULL, 10);
		else if (field == 15) {
			stime = strtoull(t, NULL, 10);
			break;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0 || sscanf(buf, "%*u %llu", &rss) != 1)
		return -1;
	if (tick <= 0)
		tick = 100;
	u->user_ns += utime * (1000000000ull / (unsigned long long)tick);
	u->kernel_ns += stime * (1000000000ull / (unsigned long long)tick);
	u->rss_bytes += rss * (unsigned long long)(page > 0 ? page : 4096);
	u->nprocs++;
	return 0;
}

/* pid and its descendants, through /proc/PID/task/TID/children. */
static void add_tree(pid_t pid, struct usage *u, int depth)
{
	char path[64], buf[1024];
	struct dirent *e;
	DIR *d;

	if (u->nprocs >= STATS_PROCS_MAX || add_proc(pid, u) < 0 || depth >= STATS_DEPTH)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d)) && u->nprocs < STATS_PROCS_MAX) {
		char *save = NULL;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", (int)pid, e->d_name);
		if (read_small(path, buf, sizeof(buf)) < 0)
			continue;
		for (char *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
			long child = strtol(t, NULL, 10);

			if (child > 0)
				add_tree((pid_t)child, u, depth + 1);
		}
	}
	closedir(d);
}

int shim_stats(pid_t pid, struct pb_buf *resp, struct lv_error **err)
{
	struct pb_buf cpu_usage = { 0 }, cpu = { 0 }, mem_usage = { 0 }, mem = { 0 }, metrics = { 0 }, any = { 0 };
	struct usage u = { 0 };
	int r;

	add_tree(pid, &u, 0);
	if (u.nprocs == 0)
		return lv_err_msg(err, ESRCH, "stats: the container's process %d is gone", (int)pid);
	/* CPUStat {usage = 1: CPUUsage {total = 1, kernel = 2, user = 3}} */
	pb_put_varint(&cpu_usage, 1, u.user_ns + u.kernel_ns);
	pb_put_varint(&cpu_usage, 2, u.kernel_ns);
	pb_put_varint(&cpu_usage, 3, u.user_ns);
	pb_put_msg(&cpu, 1, &cpu_usage);
	/* MemoryStat {rss = 2, total_rss = 19, usage = 33: MemoryEntry {usage = 2}} */
	pb_put_varint(&mem_usage, 2, u.rss_bytes);
	pb_put_varint(&mem, 2, u.rss_bytes);
	pb_put_varint(&mem, 19, u.rss_bytes);
	pb_put_msg(&mem, 33, &mem_usage);
	/* Metrics {cpu = 3, memory = 4} */
	pb_put_msg(&metrics, 3, &cpu);
	pb_put_msg(&metrics, 4, &mem);
	pb_put_any(&any, SHIM_METRICS_TYPE, &metrics);
	pb_put_msg(resp, 1, &any); /* StatsResponse {stats = 1} */
	{
		struct pb_buf *all[] = { &cpu_usage, &cpu, &mem_usage, &mem, &metrics, &any };

		r = 0;
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
			if (r == 0)
				r = pb_buf_check(all[i], err);
			pb_buf_free(all[i]);
		}
	}
	return r;
}
