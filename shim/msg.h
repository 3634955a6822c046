/* The task service's messages (containerd.task.v2, api/runtime/task/v2/
 * shim.proto), the containerd types they carry (containerd.types.Mount,
 * containerd.v1.types.ProcessInfo and Status) and the events the shim
 * publishes (containerd.events.Task*).
 *
 * Every request decodes into one struct shim_req through a per-method field
 * table: the messages share their first fields (id = 1, exec_id = 2). */
#ifndef SHIM_MSG_H
#define SHIM_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pb.h"

#define SHIM_SERVICE "containerd.task.v2.Task"
#define SHIM_ID_MAX 256	       /* container and exec ids */
#define SHIM_PATH_MAX 4096     /* bundle, fifo and mount paths */
#define SHIM_MOUNTS_MAX 16     /* rootfs mounts per CreateTaskRequest */
#define SHIM_OPTIONS_MAX 128   /* options per mount */
#define SHIM_SPEC_MAX (1u << 20) /* an exec's process spec (JSON) */

enum shim_method {
	SHIM_STATE,
	SHIM_CREATE,
	SHIM_START,
	SHIM_DELETE,
	SHIM_PIDS,
	SHIM_PAUSE,
	SHIM_RESUME,
	SHIM_CHECKPOINT,
	SHIM_KILL,
	SHIM_EXEC,
	SHIM_RESIZE_PTY,
	SHIM_CLOSE_IO,
	SHIM_UPDATE,
	SHIM_WAIT,
	SHIM_STATS,
	SHIM_CONNECT,
	SHIM_SHUTDOWN,
	SHIM_METHOD_COUNT
};

/* containerd.v1.types.Status */
enum shim_status { SHIM_UNKNOWN = 0, SHIM_CREATED = 1, SHIM_RUNNING = 2, SHIM_STOPPED = 3, SHIM_PAUSED = 4 };

struct shim_mount {
	char *type, *source, *target;
	char **options;
	size_t noptions;
};

struct shim_req {
	char *id, *exec_id, *bundle;
	char *stdin_path, *stdout_path, *stderr_path;
	char *checkpoint;
	bool terminal, all, close_stdin, now;
	uint32_t signal, width, height;
	struct shim_mount *rootfs;
	size_t nrootfs;
	char *spec_type_url; /* ExecProcessRequest.spec (an Any) */
	char *spec;	     /* its value: the OCI process as JSON, NUL-terminated */
};

/* -ENOENT when `name` is no method of the task service. */
int shim_method_lookup(const char *name, enum shim_method *m);
const char *shim_method_name(enum shim_method m);

/* Decodes the request message of method m; on failure *req is left empty. */
int shim_req_decode(enum shim_method m, const uint8_t *data, size_t len, struct shim_req *req,
		    struct lv_error **err);
void shim_req_free(struct shim_req *req);

/* Responses (and event bodies).  Times are CLOCK_REALTIME. */
struct shim_time {
	int64_t sec;
	int32_t nsec;
};

struct shim_state {
	const char *id, *exec_id, *bundle, *stdin_path, *stdout_path, *stderr_path;
	uint32_t pid, exit_status;
	enum shim_status status;
	bool terminal;
	struct shim_time exited_at;
};

void shim_enc_pid(struct pb_buf *b, uint32_t pid); /* Create/StartResponse */
void shim_enc_exit(struct pb_buf *b, enum shim_method m, uint32_t pid, uint32_t exit_status,
		   struct shim_time at);		      /* Delete/WaitResponse */
void shim_enc_state(struct pb_buf *b, const struct shim_state *s);
void shim_enc_pids(struct pb_buf *b, const uint32_t *pids, size_t n);
void shim_enc_connect(struct pb_buf *b, uint32_t shim_pid, uint32_t task_pid, const char *version);

/* Events: an Any {type_url "containerd.events.X", value} ready for
 * `containerd publish`; the topic is returned in *topic. */
struct shim_event {
	enum {
		SHIM_EV_CREATE,
		SHIM_EV_START,
		SHIM_EV_EXIT,
		SHIM_EV_DELETE,
		SHIM_EV_PAUSED,
		SHIM_EV_RESUMED,
		SHIM_EV_EXEC_ADDED,
		SHIM_EV_EXEC_STARTED
	} kind;
	const char *container_id, *exec_id, *bundle;
	const char *stdin_path, *stdout_path, *stderr_path;
	bool terminal;
	const struct shim_mount *rootfs;
	size_t nrootfs;
	uint32_t pid, exit_status;
	struct shim_time exited_at;
};

void shim_enc_event(struct pb_buf *b, const struct shim_event *ev, const char **topic);

#endif
