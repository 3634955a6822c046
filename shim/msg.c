/* Task service messages: table-driven request decoding, response and
 * event encoding (see msg.h). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

static const char *const method_names[SHIM_METHOD_COUNT] = {
	[SHIM_STATE] = "State",	      [SHIM_CREATE] = "Create",	    [SHIM_START] = "Start",
	[SHIM_DELETE] = "Delete",     [SHIM_PIDS] = "Pids",	    [SHIM_PAUSE] = "Pause",
	[SHIM_RESUME] = "Resume",     [SHIM_CHECKPOINT] = "Checkpoint", [SHIM_KILL] = "Kill",
	[SHIM_EXEC] = "Exec",	      [SHIM_RESIZE_PTY] = "ResizePty", [SHIM_CLOSE_IO] = "CloseIO",
	[SHIM_UPDATE] = "Update",     [SHIM_WAIT] = "Wait",	    [SHIM_STATS] = "Stats",
	[SHIM_CONNECT] = "Connect",   [SHIM_SHUTDOWN] = "Shutdown",
};

int shim_method_lookup(const char *name, enum shim_method *m)
{
	for (int i = 0; i < SHIM_METHOD_COUNT; i++) {
		if (strcmp(name, method_names[i]) == 0) {
			*m = (enum shim_method)i;
			return 0;
		}
	}
	return -ENOENT;
}

const char *shim_method_name(enum shim_method m)
{
	return (unsigned)m < SHIM_METHOD_COUNT ? method_names[m] : "?";
}

enum kind { K_NONE, K_ID, K_PATH, K_BOOL, K_U32, K_MOUNTS, K_ANY };

struct field_def {
	uint8_t num;
	uint8_t kind;
	uint16_t off; /* into struct shim_req */
	const char *name;
};

#define F(n, k, member) { n, k, offsetof(struct shim_req, member), #member }
#define ID_FIELDS F(1, K_ID, id), F(2, K_ID, exec_id)
#define MAX_FIELDS 10

static const struct field_def layouts[SHIM_METHOD_COUNT][MAX_FIELDS] = {
	[SHIM_STATE] = { ID_FIELDS },
	[SHIM_CREATE] = { F(1, K_ID, id), F(2, K_PATH, bundle), F(3, K_MOUNTS, rootfs), F(4, K_BOOL, terminal),
			  F(5, K_PATH, stdin_path), F(6, K_PATH, stdout_path), F(7, K_PATH, stderr_path),
			  F(8, K_PATH, checkpoint) },
	[SHIM_START] = { ID_FIELDS },
	[SHIM_DELETE] = { ID_FIELDS },
	[SHIM_PIDS] = { F(1, K_ID, id) },
	[SHIM_PAUSE] = { F(1, K_ID, id) },
	[SHIM_RESUME] = { F(1, K_ID, id) },
	[SHIM_CHECKPOINT] = { F(1, K_ID, id), F(2, K_PATH, checkpoint) },
	[SHIM_KILL] = { ID_FIELDS, F(3, K_U32, signal), F(4, K_BOOL, all) },
	[SHIM_EXEC] = { ID_FIELDS, F(3, K_BOOL, terminal), F(4, K_PATH, stdin_path), F(5, K_PATH, stdout_path),
			F(6, K_PATH, stderr_path), F(7, K_ANY, spec) },
	[SHIM_RESIZE_PTY] = { ID_FIELDS, F(3, K_U32, width), F(4, K_U32, height) },
	[SHIM_CLOSE_IO] = { ID_FIELDS, F(3, K_BOOL, close_stdin) },
	[SHIM_UPDATE] = { F(1, K_ID, id) },
	[SHIM_WAIT] = { ID_FIELDS },
	[SHIM_STATS] = { F(1, K_ID, id) },
	[SHIM_CONNECT] = { F(1, K_ID, id) },
	[SHIM_SHUTDOWN] = { F(1, K_ID, id), F(2, K_BOOL, now) },
};

/* containerd.types.Mount {type = 1, source = 2, target = 3, options = 4}. */
static int decode_mount(const struct pb_field *mf, struct shim_req *req, struct lv_error **err)
{
	struct shim_mount *m;
	struct pb_reader r;
	struct pb_field f;
	int rc;

	if (req->nrootfs >= SHIM_MOUNTS_MAX)
		return lv_err_msg(err, EPROTO, "rootfs: more than %d mounts", SHIM_MOUNTS_MAX);
	m = realloc(req->rootfs, (req->nrootfs + 1) * sizeof(*m));
	if (!m)
		return lv_err(err, ENOMEM, "rootfs");
	req->rootfs = m;
	m = &req->rootfs[req->nrootfs++];
	memset(m, 0, sizeof(*m));
	pb_reader_init(&r, mf->data, mf->len);
	while ((rc = pb_next(&r, &f, err)) > 0) {
		char **o;

		switch (f.num) {
		case 1:
			rc = pb_string(&f, 64, "rootfs[].type", &m->type, err);
			break;
		case 2:
			rc = pb_string(&f, SHIM_PATH_MAX, "rootfs[].source", &m->source, err);
			break;
		case 3:
			rc = pb_string(&f, SHIM_PATH_MAX, "rootfs[].target", &m->target, err);
			break;
		case 4:
			if (m->noptions >= SHIM_OPTIONS_MAX)
				return lv_err_msg(err, EPROTO, "rootfs[].options: more than %d", SHIM_OPTIONS_MAX);
			o = realloc(m->options, (m->noptions + 1) * sizeof(*o));
			if (!o)
				return lv_err(err, ENOMEM, "rootfs[].options");
			m->options = o;
			o[m->noptions] = NULL;
			rc = pb_string(&f, SHIM_PATH_MAX * 4, "rootfs[].options[]", &o[m->noptions], err);
			if (rc == 0)
				m->noptions++;
			break;
		default:
			break;
		}
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* google.protobuf.Any {type_url = 1, value = 2}, value kept as a string. */
static int decode_spec(const struct pb_field *af, struct shim_req *req, struct lv_error **err)
{
	struct pb_reader r;
	struct pb_field f;
	int rc;

	pb_reader_init(&r, af->data, af->len);
	while ((rc = pb_next(&r, &f, err)) > 0) {
		if (f.num == 1)
			rc = pb_string(&f, 512, "spec.type_url", &req->spec_type_url, err);
		else if (f.num == 2)
			rc = pb_string(&f, SHIM_SPEC_MAX, "spec.value", &req->spec, err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

static int decode_field(const struct field_def *d, const struct pb_field *f, struct shim_req *req,
			struct lv_error **err)
{
	void *p = (char *)req + d->off;

	switch (d->kind) {
	case K_ID:
		return pb_string(f, SHIM_ID_MAX, d->name, p, err);
	case K_PATH:
		return pb_string(f, SHIM_PATH_MAX, d->name, p, err);
	case K_BOOL:
		if (pb_expect(f, PB_VARINT, d->name, err) < 0)
			return -EPROTO;
		*(bool *)p = f->v != 0;
		return 0;
	case K_U32:
		if (pb_expect(f, PB_VARINT, d->name, err) < 0)
			return -EPROTO;
		if (f->v > UINT32_MAX)
			return lv_err_msg(err, EPROTO, "%s: %llu does not fit 32 bits", d->name,
					  (unsigned long long)f->v);
		*(uint32_t *)p = (uint32_t)f->v;
		return 0;
	case K_MOUNTS:
		if (pb_expect(f, PB_LEN, d->name, err) < 0)
			return -EPROTO;
		return decode_mount(f, req, err);
	case K_ANY:
		if (pb_expect(f, PB_LEN, d->name, err) < 0)
			return -EPROTO;
		return decode_spec(f, req, err);
	default:
		return 0;
	}
}

int shim_req_decode(enum shim_method m, const uint8_t *data, size_t len, struct shim_req *req,
		    struct lv_error **err)
{
	struct pb_reader r;
	struct pb_field f;
	int rc;

	memset(req, 0, sizeof(*req));
	if ((unsigned)m >= SHIM_METHOD_COUNT)
		return lv_err_msg(err, EINVAL, "unknown method %d", (int)m);
	pb_reader_init(&r, data, len);
	while ((rc = pb_next(&r, &f, err)) > 0) {
		for (const struct field_def *d = layouts[m]; d < layouts[m] + MAX_FIELDS && d->num; d++) {
			if (d->num != f.num)
				continue;
			rc = decode_field(d, &f, req, err);
			break;
		}
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		shim_req_free(req);
		return lv_err_wrap(err, "%sRequest", shim_method_name(m));
	}
	return 0;
}

void shim_req_free(struct shim_req *req)
{
	free(req->id);
	free(req->exec_id);
	free(req->bundle);
	free(req->stdin_path);
	free(req->stdout_path);
	free(req->stderr_path);
	free(req->checkpoint);
	free(req->spec_type_url);
	free(req->spec);
	for (size_t i = 0; i < req->nrootfs; i++) {
		struct shim_mount *mt = &req->rootfs[i];

		free(mt->type);
		free(mt->source);
		free(mt->target);
		for (size_t j = 0; j < mt->noptions; j++)
			free(mt->options[j]);
		free(mt->options);
	}
	free(req->rootfs);
	memset(req, 0, sizeof(*req));
}

void shim_enc_pid(struct pb_buf *b, uint32_t pid)
{
	pb_put_varint(b, 1, pid);
}

void shim_enc_exit(struct pb_buf *b, enum shim_method m, uint32_t pid, uint32_t exit_status, struct shim_time at)
{
	if (m == SHIM_DELETE) { /* DeleteResponse {pid, exit_status, exited_at} */
		pb_put_varint(b, 1, pid);
		pb_put_varint(b, 2, exit_status);
		pb_put_timestamp(b, 3, at.sec, at.nsec);
	} else { /* WaitResponse {exit_status, exited_at} */
		pb_put_varint(b, 1, exit_status);
		pb_put_timestamp(b, 2, at.sec, at.nsec);
	}
}

void shim_enc_state(struct pb_buf *b, const struct shim_state *s)
{
	pb_put_str(b, 1, s->id);
	pb_put_str(b, 2, s->bundle);
	pb_put_varint(b, 3, s->pid);
	pb_put_varint(b, 4, s->status);
	pb_put_str(b, 5, s->stdin_path);
	pb_put_str(b, 6, s->stdout_path);
	pb_put_str(b, 7, s->stderr_path);
	pb_put_varint(b, 8, s->terminal);
	pb_put_varint(b, 9, s->exit_status);
	pb_put_timestamp(b, 10, s->exited_at.sec, s->exited_at.nsec);
	pb_put_str(b, 11, s->exec_id);
}

void shim_enc_pids(struct pb_buf *b, const uint32_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pb_buf info = { 0 }; /* ProcessInfo {pid = 1, info = 2} */

		pb_put_varint(&info, 1, pids[i]);
		pb_put_msg(b, 1, &info);
		pb_buf_free(&info);
	}
}

void shim_enc_connect(struct pb_buf *b, uint32_t shim_pid, uint32_t task_pid, const char *version)
{
	pb_put_varint(b, 1, shim_pid);
	pb_put_varint(b, 2, task_pid);
	pb_put_str(b, 3, version);
}

static void enc_mounts(struct pb_buf *b, uint32_t num, const struct shim_mount *mounts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pb_buf m = { 0 };

		pb_put_str(&m, 1, mounts[i].type);
		pb_put_str(&m, 2, mounts[i].source);
		pb_put_str(&m, 3, mounts[i].target);
		for (size_t j = 0; j < mounts[i].noptions; j++)
			pb_put_str(&m, 4, mounts[i].options[j]);
		pb_put_msg(b, num, &m);
		pb_buf_free(&m);
	}
}

void shim_enc_event(struct pb_buf *b, const struct shim_event *ev, const char **topic)
{
	struct pb_buf v = { 0 }, io = { 0 };
	const char *type = "";
	const char *proc_id = ev->exec_id && *ev->exec_id ? ev->exec_id : ev->container_id;

	pb_put_str(&v, 1, ev->container_id);
	switch (ev->kind) {
	case SHIM_EV_CREATE: /* {container_id, bundle, rootfs, io, checkpoint, pid} */
		*topic = "/tasks/create", type = "containerd.events.TaskCreate";
		pb_put_str(&v, 2, ev->bundle);
		enc_mounts(&v, 3, ev->rootfs, ev->nrootfs);
		pb_put_str(&io, 1, ev->stdin_path);
		pb_put_str(&io, 2, ev->stdout_path);
		pb_put_str(&io, 3, ev->stderr_path);
		pb_put_varint(&io, 4, ev->terminal);
		pb_put_msg(&v, 4, &io);
		pb_put_varint(&v, 6, ev->pid);
		break;
	case SHIM_EV_START: /* {container_id, pid} */
		*topic = "/tasks/start", type = "containerd.events.TaskStart";
		pb_put_varint(&v, 2, ev->pid);
		break;
	case SHIM_EV_EXIT: /* {container_id, id, pid, exit_status, exited_at} */
		*topic = "/tasks/exit", type = "containerd.events.TaskExit";
		pb_put_str(&v, 2, proc_id);
		pb_put_varint(&v, 3, ev->pid);
		pb_put_varint(&v, 4, ev->exit_status);
		pb_put_timestamp(&v, 5, ev->exited_at.sec, ev->exited_at.nsec);
		break;
	case SHIM_EV_DELETE: /* {container_id, pid, exit_status, exited_at, id} */
		*topic = "/tasks/delete", type = "containerd.events.TaskDelete";
		pb_put_varint(&v, 2, ev->pid);
		pb_put_varint(&v, 3, ev->exit_status);
		pb_put_timestamp(&v, 4, ev->exited_at.sec, ev->exited_at.nsec);
		pb_put_str(&v, 5, proc_id);
		break;
	case SHIM_EV_PAUSED:
		*topic = "/tasks/paused", type = "containerd.events.TaskPaused";
		break;
	case SHIM_EV_RESUMED:
		*topic = "/tasks/resumed", type = "containerd.events.TaskResumed";
		break;
	case SHIM_EV_EXEC_ADDED: /* {container_id, exec_id} */
		*topic = "/tasks/exec-added", type = "containerd.events.TaskExecAdded";
		pb_put_str(&v, 2, ev->exec_id);
		break;
	case SHIM_EV_EXEC_STARTED: /* {container_id, exec_id, pid} */
		*topic = "/tasks/exec-started", type = "containerd.events.TaskExecStarted";
		pb_put_str(&v, 2, ev->exec_id);
		pb_put_varint(&v, 3, ev->pid);
		break;
	}
	pb_put_any(b, type, &v);
	pb_buf_free(&v);
	pb_buf_free(&io);
}
