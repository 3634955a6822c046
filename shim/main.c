/* containerd-shim-lightvm-v2: containerd's shim v2 for lightvm.
 *
 *   containerd-shim-lightvm-v2 -namespace NS -address ADDR -publish-binary BIN -id ID [-bundle DIR] start
 *	starts the long-running shim (its own session), prints its ttrpc
 *	address (unix://...) and exits
 *   ... delete
 *	cleans up after a shim that is gone; prints a DeleteResponse
 *
 * containerd runs both with the bundle as the working directory. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../lib/sha256.h"
#include "server.h"

#define SOCKET_DIR "/run/containerd/s"

struct shim_args {
	const char *ns, *address, *publish_bin, *id, *bundle, *action;
	bool version;
};

/* Go's flag syntax, as containerd writes it: -name value, -name=value,
 * --name; the first non-flag word is the action. */
static int parse_args(int argc, char **argv, struct shim_args *a, struct lv_error **err)
{
	static const struct {
		const char *name;
		size_t off;
	} flags[] = {
		{ "namespace", offsetof(struct shim_args, ns) },
		{ "address", offsetof(struct shim_args, address) },
		{ "publish-binary", offsetof(struct shim_args, publish_bin) },
		{ "id", offsetof(struct shim_args, id) },
		{ "bundle", offsetof(struct shim_args, bundle) },
		{ "socket", SIZE_MAX }, /* containerd 1.7+; ignored */
	};

	for (int i = 1; i < argc; i++) {
		const char *s = argv[i], *eq, *val;
		size_t len, k;

		if (s[0] != '-') {
			a->action = s;
			return i + 1 == argc ? 0 : lv_err_msg(err, EINVAL, "unexpected argument '%s'", argv[i + 1]);
		}
		s += s[1] == '-' ? 2 : 1;
		if (strcmp(s, "debug") == 0)
			continue;
		if (strcmp(s, "v") == 0 || strcmp(s, "version") == 0) {
			a->version = true;
			continue;
		}
		eq = strchr(s, '=');
		len = eq ? (size_t)(eq - s) : strlen(s);
		for (k = 0; k < LV_ARRAY_SIZE(flags); k++)
			if (strlen(flags[k].name) == len && strncmp(flags[k].name, s, len) == 0)
				break;
		if (k == LV_ARRAY_SIZE(flags))
			return lv_err_msg(err, EINVAL, "unknown flag '%s'", argv[i]);
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return lv_err_msg(err, EINVAL, "flag '%s' needs a value", argv[i]);
		if (flags[k].off != SIZE_MAX)
			*(const char **)((char *)a + flags[k].off) = val;
	}
	return 0;
}

static void socket_path(const struct shim_args *a, char *out, size_t size)
{
	char hex[LV_SHA256_HEX_LEN + 1];
	uint8_t digest[LV_SHA256_LEN];
	struct lv_sha256 h;

	lv_sha256_init(&h);
	lv_sha256_update(&h, a->address, strlen(a->address));
	lv_sha256_update(&h, "\0", 1);
	lv_sha256_update(&h, a->ns, strlen(a->ns));
	lv_sha256_update(&h, "\0", 1);
	lv_sha256_update(&h, a->id, strlen(a->id));
	lv_sha256_final(&h, digest);
	lv_sha256_hex(digest, hex);
	snprintf(out, size, "%s/lightvm-%.32s", SOCKET_DIR, hex);
}

static int unix_socket(const char *path, bool listen_on, struct lv_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return lv_err(err, errno, "socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (!listen_on)
		return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : lv_take_fd(&fd);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return lv_err(err, errno, "bind %s", path);
	if (chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
		int e = errno;

		unlink(path);
		return lv_err(err, e, "listen %s", path);
	}
	return lv_take_fd(&fd);
}

/* The long-running shim, in its own session.  Its stdout and stderr must
 * not keep containerd's pipe open: containerd reads `start`'s output to
 * the end.  stderr goes to the bundle's "log" fifo, which containerd reads
 * into its own log, when there is one. */
static int daemon_main(struct shim_ctx *ctx, int listen_fd, const char *sock)
{
	struct lv_error *err = NULL;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int log = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	int r;

	if (devnull < 0)
		return 1;
	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	dup2(log >= 0 ? log : devnull, STDERR_FILENO);
	if (log >= 0)
		close(log);
	close(devnull);
	setsid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		shim_log("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
		return 1;
	}
	r = shim_serve(ctx, listen_fd, &err);
	if (r < 0)
		shim_log("%s", err->msg);
	lv_error_free(&err);
	unlink(sock);
	shim_ctx_free(ctx);
	return r < 0 ? 1 : 0;
}

static int cmd_start(struct shim_ctx *ctx, const struct shim_args *a, struct lv_error **err)
{
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd, r;
	pid_t pid;

	socket_path(a, sock, sizeof(sock));
	mkdir("/run/containerd", 0711);
	if (mkdir(SOCKET_DIR, 0711) < 0 && errno != EEXIST)
		return lv_err(err, errno, "mkdir %s", SOCKET_DIR);
	fd = unix_socket(sock, false, err);
	if (fd >= 0) { /* a shim already serves this container */
		close(fd);
		printf("unix://%s", sock);
		return 0;
	}
	unlink(sock);
	fd = unix_socket(sock, true, err);
	if (fd < 0)
		return fd;
	r = shim_ctx_init(ctx, err);
	if (r < 0) {
		close(fd);
		unlink(sock);
		return r;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		r = lv_err(err, errno, "fork");
		close(fd);
		unlink(sock);
		return r;
	}
	if (pid == 0)
		_exit(daemon_main(ctx, fd, sock));
	close(fd);
	printf("unix://%s", sock);
	return 0;
}

/* containerd reads a DeleteResponse from stdout; the process was killed
 * (128 + SIGKILL), as containerd's runc shim reports it. */
static int cmd_delete(struct shim_ctx *ctx, const struct shim_args *a, struct lv_error **err)
{
	struct pb_buf resp = { 0 };
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int r = shim_ctx_init(ctx, err);

	if (r < 0)
		return r;
	shim_task_cleanup(ctx, err);
	socket_path(a, sock, sizeof(sock));
	unlink(sock);
	shim_enc_exit(&resp, SHIM_DELETE, 0, 128 + 9, shim_now());
	r = pb_buf_check(&resp, err);
	if (r == 0 && fwrite(resp.data, 1, resp.len, stdout) != resp.len)
		r = lv_err(err, EIO, "write DeleteResponse");
	pb_buf_free(&resp);
	return r;
}

int main(int argc, char **argv)
{
	struct shim_args a = { .ns = "default", .address = "", .publish_bin = "" };
	struct shim_ctx *ctx = calloc(1, sizeof(*ctx));
	struct lv_error *err = NULL;
	int r;

	if (!ctx)
		return 1;
	r = parse_args(argc, argv, &a, &err);
	if (r == 0 && a.version) {
		printf("containerd-shim-lightvm-v2:\n  Version: %s\n  Revision: %s\n", LV_VERSION, LV_COMMIT);
		free(ctx);
		return 0;
	}
	if (r == 0 && (!a.action || (strcmp(a.action, "start") != 0 && strcmp(a.action, "delete") != 0)))
		r = lv_err_msg(&err, EINVAL, "usage: %s -namespace NS -address ADDR -publish-binary BIN -id ID start|delete",
			       argv[0]);
	if (r == 0 && (!a.id || !*a.id))
		r = lv_err_msg(&err, EINVAL, "-id: missing");
	if (r == 0 && (strlen(a.id) > SHIM_ID_MAX || strchr(a.id, '/')))
		r = lv_err_msg(&err, EINVAL, "-id: '%s' is not a valid container id", a.id);
	if (r == 0) {
		ctx->ns = a.ns, ctx->address = a.address, ctx->publish_bin = a.publish_bin, ctx->id = a.id;
		if (a.bundle)
			snprintf(ctx->bundle, sizeof(ctx->bundle), "%s", a.bundle);
		else if (!getcwd(ctx->bundle, sizeof(ctx->bundle)))
			r = lv_err(&err, errno, "getcwd");
	}
	if (r == 0)
		r = strcmp(a.action, "start") == 0 ? cmd_start(ctx, &a, &err) : cmd_delete(ctx, &a, &err);
	if (r < 0) {
		fprintf(stderr, "containerd-shim-lightvm-v2: %s\n", err && err->msg ? err->msg : "error");
		lv_error_free(&err);
	}
	free(ctx);
	return r < 0 ? 1 : 0;
}
