/* Unit tests for the shim's Stats (shim/stats.c, TAP): the StatsResponse
 * for this very process and a child, decoded field by field as containerd
 * would (an Any of io.containerd.cgroups.v1.Metrics).
 *
 * stats.c belongs to the shim binary, not to liblightvm.a, so it is
 * compiled in here. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "../../shim/stats.c"
#include "tap.h"

/* The sub-message or varint numbered num in [p, p + len), or false. */
static bool find(const uint8_t *p, size_t len, uint32_t num, struct pb_field *out)
{
	struct pb_reader r;
	struct pb_field f;

	pb_reader_init(&r, p, len);
	while (pb_next(&r, &f, NULL) == 1)
		if (f.num == num) {
			*out = f;
			return true;
		}
	return false;
}

static void burn_cpu(void)
{
	struct timespec t0, t;
	volatile unsigned long x = 0;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	do {
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 30000000L);
}

static void test_self(void)
{
	struct pb_buf resp = { 0 };
	struct lv_error *err = NULL;
	struct pb_field any, url, value, cpu, usage, total, mem, rss, entry, used;
	pid_t child = fork();

	if (child == 0) { /* counted as the monitor's child is */
		pause();
		_exit(0);
	}
	burn_cpu();
	ok(shim_stats(getpid(), &resp, &err) == 0, "stats of this process: %s", err ? err->msg : "ok");
	ok(find(resp.data, resp.len, 1, &any) && any.wire == PB_LEN, "StatsResponse.stats (1) is there");
	ok(find(any.data, any.len, 1, &url) && url.len == strlen(SHIM_METRICS_TYPE) &&
		   memcmp(url.data, SHIM_METRICS_TYPE, url.len) == 0,
	   "its type_url is %s", SHIM_METRICS_TYPE);
	ok(find(any.data, any.len, 2, &value), "and it has a value");
	ok(find(value.data, value.len, 3, &cpu) && find(cpu.data, cpu.len, 1, &usage) &&
		   find(usage.data, usage.len, 1, &total) && total.v >= 10000000ull,
	   "cpu.usage.total counts the CPU burnt here (%llu ns)", (unsigned long long)total.v);
	ok(find(value.data, value.len, 4, &mem) && find(mem.data, mem.len, 2, &rss) && rss.v > 1000000ull,
	   "memory.rss is resident memory (%llu bytes)", (unsigned long long)rss.v);
	ok(find(mem.data, mem.len, 33, &entry) && find(entry.data, entry.len, 2, &used) && used.v == rss.v,
	   "memory.usage.usage is the same figure");
	{
		struct usage u = { 0 };

		add_tree(getpid(), &u, 0);
		ok(u.nprocs == 2, "two processes summed: this one and its child (%u)", u.nprocs);
	}
	pb_buf_free(&resp);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	lv_error_free(&err);
	ok(shim_stats(child, &resp, &err) == -ESRCH && err && strstr(err->msg, "is gone"),
	   "a reaped pid: %s", err ? err->msg : "");
	pb_buf_free(&resp);
	lv_error_free(&err);
}

int main(void)
{
	test_self();
	return tap_done();
}
