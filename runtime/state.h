/* The container state store: ROOT/ID/state.json.
 *
 * One directory per container under the runtime root (mode 0700).  The
 * directory itself is the lock: writers (create, start, kill, delete, the
 * monitor) hold an exclusive flock() on it; `state` readers may read without a
 * lock because rt_state_write() replaces state.json by an atomic rename, and
 * may take the shared lock when they need a stable view of several files.
 *
 * The stored status is what the monitor last wrote; the status reported to
 * users is rt_state_live_status(), which also checks that the monitor process
 * is still the one that was recorded (pid plus its start time, so a recycled
 * pid is not mistaken for the container).
 */
#ifndef RT_STATE_H
#define RT_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "../lib/error.h"
#include "spec.h"

#define RT_ID_MAX 1024
#define RT_STATE_FILE "state.json"
/* The runtime-spec version reported by `state` (runc reports its own). */
#define RT_OCI_VERSION "1.1.0" /* the runtime-spec version lightvm implements, everywhere */

enum rt_status {
	RT_STATUS_CREATING,
	RT_STATUS_CREATED,
	RT_STATUS_RUNNING,
	RT_STATUS_PAUSED,
	RT_STATUS_STOPPED,
};

/* "creating", "created", "running", "paused", "stopped"; "unknown" otherwise. */
const char *rt_status_name(enum rt_status status);

/* Parses a status name; -EINVAL for anything else. */
int rt_status_parse(const char *name, enum rt_status *out);

struct rt_state {
	char *id;
	int pid;                      /* monitor process = container pid, 0 if none */
	unsigned long long pid_start; /* /proc/<pid>/stat field 22, to detect pid reuse */
	int vmm_pid;                  /* hypervisor process (qemu) if separate, else 0 */
	unsigned long long vmm_start;
	enum rt_status status;        /* as last written by the monitor */
	int exit_status;              /* -1 unknown; else the monitor's exit code */
	char *bundle;
	char *rootfs;
	char *created;                /* RFC 3339 with nanoseconds, UTC */
	char *owner;                  /* "" or user name */
	char *backend;                /* "qemu", ... */
	struct rt_annotation *annotations;
	size_t nannotations;
};

/* As runc: ^[\w+\-.]+$ (ASCII letters, digits, '_', '+', '-', '.'), not "."
 * or "..", 1..RT_ID_MAX bytes. */
bool rt_id_valid(const char *id);

/* rt_id_valid() with an error: `invalid container id "a/b": ...`. */
int rt_id_check(const char *id, struct lv_error **err);

/* Checks id and returns "ROOT/ID" in *dir_out (caller frees).  Touches no
 * file. */
int rt_state_path(const char *root, const char *id, char **dir_out, struct lv_error **err);

/* Creates ROOT (0700, with parents) and ROOT/ID (0700) exclusively: an
 * existing ID is -EEXIST `container "x" already exists`.  Returns an open
 * O_DIRECTORY fd of ROOT/ID that already holds the exclusive lock, so nobody
 * sees a half-created container unlocked (close it to unlock). */
int rt_state_create(const char *root, const char *id, struct lv_error **err);

/* Opens ROOT/ID and takes an exclusive flock on it (blocking);
 * -ENOENT `container "x" does not exist`, also when the container was removed
 * while we waited for the lock.  Returns the locked dir fd (close to
 * unlock). */
int rt_state_lock(const char *root, const char *id, struct lv_error **err);

/* Shared lock variant for readers. */
int rt_state_lock_shared(const char *root, const char *id, struct lv_error **err);

/* Atomic write of ROOT/ID/state.json: temp file in the same directory, fsync,
 * rename, fsync of the directory.  dirfd comes from create/lock and the
 * caller holds the exclusive lock. */
int rt_state_write(int dirfd, const struct rt_state *st, struct lv_error **err);

/* Reads and validates state.json; a missing file is -ENOENT, a corrupt one
 * -EINVAL naming the file.  *out is owned by the caller (rt_state_free). */
int rt_state_read(int dirfd, struct rt_state **out, struct lv_error **err);

/* STOPPED when pid is 0, gone, a zombie, or its start time differs from
 * pid_start; else the stored status. */
enum rt_status rt_state_live_status(const struct rt_state *st);

/* Reads the start time (field 22 of /proc/<pid>/stat) and whether the process
 * is a zombie.  -ESRCH when there is no such process.  zombie may be NULL. */
int rt_proc_start_time(int pid, unsigned long long *start, bool *zombie, struct lv_error **err);

/* The runc `state` JSON shape: {"ociVersion", "id", "pid", "status",
 * "bundle", "rootfs", "created", "owner", "annotations"}; status is the live
 * status and pid is 0 when stopped.  NULL only on allocation failure.  Caller
 * json_decref()s. */
json_t *rt_state_to_oci_json(const struct rt_state *st);

/* Sorted ids of the containers under ROOT: directories with a valid id that
 * hold state.json or are locked (being created).  A missing ROOT is an empty
 * list.  *ids_out is NULL-terminated and has *n_out entries (rt_strv_free). */
int rt_state_list(const char *root, char ***ids_out, size_t *n_out, struct lv_error **err);

/* Removes ROOT/ID and everything in it, recursively, never following
 * symlinks.  The caller should hold the exclusive lock (from create/lock);
 * waiters on that lock then get -ENOENT.  -ENOENT when ID does not exist. */
int rt_state_remove(const char *root, const char *id, struct lv_error **err);

void rt_state_free(struct rt_state *st);

/* Frees a NULL-terminated string array (NULL is fine).  Defined once, in
 * runtime/spec_json.c, which frees spec string arrays the same way. */
void rt_strv_free(char **v);

/* "2026-11-22T04:23:42.123456789Z" (malloc'd), NULL on allocation failure. */
char *rt_now_rfc3339(void);

#endif
