/* OCI hooks run on the host, as runc runs them: the container's state JSON
 * on stdin, the hook's args and env, killed after its timeout. */
#ifndef RT_HOOKS_H
#define RT_HOOKS_H

#include <stddef.h>

#include "../lib/error.h"
#include "spec.h"

int rt_hooks_run(const char *kind, const struct rt_hook *hooks, size_t n, const char *state_json,
		 struct lv_error **err);

#endif
