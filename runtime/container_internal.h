/* Shared between container.c (bring-up) and container_ops.c. */
#ifndef RT_CONTAINER_INTERNAL_H
#define RT_CONTAINER_INTERNAL_H

#include "container.h"

/* Opens ROOT/ID (unlocked) and reads its state. */
int rt_container_open(struct rt_context *ctx, const char *id, int *dirfd, struct rt_state **st,
		      struct lv_error **err);
/* Ends whatever is left of a container (monitor, VMM) and removes its
 * state directory; for aborted creates and delete. */
int rt_container_destroy(struct rt_context *ctx, const char *id, struct lv_error **err);
/* delete, with the container's spec when the caller already holds it (run),
 * or NULL to read it from the bundle for the poststop hooks. */
int rt_container_delete_spec(struct rt_context *ctx, const char *id, bool force, const struct rt_spec *spec,
			     struct lv_error **err);
/* The state as runc's `state` prints it, compact. */
int rt_container_state_json(struct rt_context *ctx, const char *id, char **out, struct lv_error **err);

#endif
