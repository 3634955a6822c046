/* The shell pool seen from the runtime: the key of a pool, the monitor's
 * claim, and lightvm-poold itself (runtime/poold.c).  The wire format is
 * runtime/pool_proto.h; the design is runtime/POOL.md. */
#ifndef RT_POOL_H
#define RT_POOL_H

#include <stdbool.h>

#include "../lib/error.h"
#include "container.h"
#include "hv.h"
#include "pool_proto.h"

#define RT_POOL_SOCK "poold.sock" /* under the runtime root */
#define RT_POOL_DIR "pool"        /* ROOT/pool/<shell-id>/: a shell's record and vmm.log */
#define RT_POOL_CONNECT_MS 50
#define RT_POOL_CLAIM_MS 300

/* The key of the pool whose shells fit a VM of this backend and size:
 * the kernel id is the sha256 (hex) of the kernel's path, size and
 * mtime, so a rebuilt kernel is a new pool. */
int rt_pool_key(const struct rt_config *cfg, const char *backend, unsigned mem_mib, unsigned vcpus,
		struct pool_key *key, struct lv_error **err);

/* ROOT/poold.sock, malloc'ed. */
int rt_pool_sock_path(const char *root, char **out, struct lv_error **err);

/* The monitor's launch: a shell claimed from lightvm-poold when the
 * backend can adopt one and the rootfs comes over the channel, else (no
 * daemon, no fitting shell, anything wrong: logged at debug level) the
 * backend's own launch.  *claimed says which. */
int rt_pool_launch(struct rt_context *ctx, const struct hv_ops *ops, const struct hv_vm_config *vc,
		   struct hv_vm *vm, bool *claimed, struct lv_error **err);

/* lightvm poold: the daemon's loop, until SIGTERM or SIGINT. */
int rt_poold_run(struct rt_context *ctx, struct lv_error **err);

/* lightvm pool status|fill|drain: one request, its reply in *reply. */
int rt_pool_request(struct rt_context *ctx, const struct pool_msg *req, struct pool_msg *reply,
		    struct lv_error **err);

#endif
