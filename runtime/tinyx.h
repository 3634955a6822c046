/* Tinyx for applications outside OCI: a minimal bundle made from a host
 * binary, its shared libraries (as ldd resolves them) and BusyBox. */
#ifndef RT_TINYX_H
#define RT_TINYX_H

#include "../lib/error.h"

struct rt_tinyx_opts {
	const char *app;       /* absolute path of the host binary */
	const char *out;       /* bundle directory to create (must not exist or be empty) */
	const char *busybox;   /* static busybox to include, NULL for /bin/busybox */
	char *const *args;     /* extra arguments for the app, NULL-terminated, may be NULL */
};

int rt_tinyx_make(const struct rt_tinyx_opts *o, struct lv_error **err);

#endif
