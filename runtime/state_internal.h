/* Shared by state.c (records, locks) and state_dir.c (listing, removal). */
#ifndef RT_STATE_INTERNAL_H
#define RT_STATE_INTERNAL_H

#include <dirent.h>
#include <stdbool.h>

#include "../lib/error.h"

/* Opens ROOT (creating it 0700 with its parents when create). */
int rt_state_root_open(const char *root, bool create, struct lv_error **err);
/* flock() that retries on EINTR; 0 or -errno. */
int rt_state_flock(int fd, int op);

static inline void rt_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}
#define cleanup_dir __attribute__((cleanup(rt_closedirp)))

#endif
