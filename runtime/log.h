/* One logger for the runtime: text (logrus-like, as runc writes) or JSON
 * lines, to the --log file or stderr.  Each record is one write(2) on an
 * O_APPEND fd, so concurrent writers never interleave within a line.  Never
 * call from a signal handler. */
#ifndef RT_LOG_H
#define RT_LOG_H

#include <stdbool.h>

#include "../lib/error.h"

enum rt_log_level { RT_LOG_DEBUG, RT_LOG_INFO, RT_LOG_WARN, RT_LOG_ERROR };

struct rt_log {
	int fd;      /* -1: stderr */
	bool json;
	bool debug;  /* emit RT_LOG_DEBUG records */
};

/* path NULL or "" logs to stderr; format NULL, "text" or "json". */
int rt_log_open(struct rt_log *log, const char *path, const char *format, bool debug, struct lv_error **err);
void rt_log_close(struct rt_log *log);
void rt_log(const struct rt_log *log, enum rt_log_level level, const char *fmt, ...) LV_PRINTF(3, 4);

#define rt_debug(l, ...) rt_log((l), RT_LOG_DEBUG, __VA_ARGS__)
#define rt_info(l, ...) rt_log((l), RT_LOG_INFO, __VA_ARGS__)
#define rt_warn(l, ...) rt_log((l), RT_LOG_WARN, __VA_ARGS__)

#endif
