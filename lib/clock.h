/* CLOCK_MONOTONIC in milliseconds and nanoseconds: deadlines, timeouts and
 * the timings the benchmarks read.  Shared by the host and the guest init. */
#ifndef LV_CLOCK_H
#define LV_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t lv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t lv_now_ms(void)
{
	return lv_now_ns() / 1000000u;
}

#endif
