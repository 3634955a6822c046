/* The shim's Stats method (stats.c). */
#ifndef SHIM_STATS_H
#define SHIM_STATS_H

#include <sys/types.h>

#include "pb.h"

#define SHIM_METRICS_TYPE "io.containerd.cgroups.v1.Metrics"

/* Writes a StatsResponse for the container whose pid (lightvm's monitor)
 * is pid: the CPU time and resident memory of it and its children. */
int shim_stats(pid_t pid, struct pb_buf *resp, struct lv_error **err);

#endif
