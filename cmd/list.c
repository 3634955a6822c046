/* lightvm list [--format table|json] [--quiet]: the table is laid out as
 * runc's (Go tabwriter: minimum width 12, padding 3, last column unpadded);
 * json is one line, an array of state objects, or null when empty. */
#include "cmd.h"

#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>

#include <string.h>

#include "../lib/cleanup.h"

#define LIST_COLUMNS 6
#define LIST_MIN_WIDTH 12
#define LIST_PADDING 3

/* Width in characters as tabwriter counts them (UTF-8 runes). */
static size_t runes(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void print_table(json_t *states)
{
	static const char *const header[LIST_COLUMNS] = { "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER" };
	size_t nrows = json_array_size(states) + 1;
	size_t width[LIST_COLUMNS] = { 0 };
	char pid[32];
	size_t r, c;
	const char *cells[LIST_COLUMNS];

	/* Two passes over the same cells: widths, then output. */
	for (int pass = 0; pass < 2; pass++) {
		for (r = 0; r < nrows; r++) {
			json_t *o = r ? json_array_get(states, r - 1) : NULL;

			if (o) {
				snprintf(pid, sizeof(pid), "%lld", (long long)json_integer_value(json_object_get(o, "pid")));
				cells[0] = jstr(o, "id");
				cells[1] = pid;
				cells[2] = jstr(o, "status");
				cells[3] = jstr(o, "bundle");
				cells[4] = jstr(o, "created");
				cells[5] = jstr(o, "owner");
			} else {
				memcpy(cells, header, sizeof(cells));
			}
			for (c = 0; c < LIST_COLUMNS; c++) {
				size_t w = runes(cells[c]);

				if (pass == 0) {
					if (w + LIST_PADDING > width[c])
						width[c] = w + LIST_PADDING;
					continue;
				}
				fputs(cells[c], stdout);
				if (c + 1 < LIST_COLUMNS)
					printf("%*s", (int)(width[c] - w), "");
			}
			if (pass == 1)
				fputc('\n', stdout);
		}
		for (c = 0; pass == 0 && c < LIST_COLUMNS; c++)
			if (width[c] < LIST_MIN_WIDTH)
				width[c] = LIST_MIN_WIDTH;
	}
}

/* The state objects of all containers under the root.  A container that
 * vanishes between listing and reading is skipped; one that cannot be read
 * is reported on stderr and skipped, as runc does. */
/* As runc's list: the owner is the user owning the container's state
 * directory (`state` itself reports it empty). */
static const char *owner_of(struct rt_context *ctx, const char *id, char *buf, size_t size)
{
	char path[PATH_MAX];
	struct passwd *pw = NULL;
	struct stat st;
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", ctx->root, id) >= sizeof(path) || stat(path, &st) < 0)
		return "";
	/* /etc/passwd itself, as runc reads it: no NSS, which a static binary
	 * could only reach by loading the host's glibc modules. */
	f = fopen("/etc/passwd", "re");
	while (f && (pw = fgetpwent(f)))
		if (pw->pw_uid == st.st_uid)
			break;
	if (f && pw)
		snprintf(buf, size, "%s", pw->pw_name);
	else
		snprintf(buf, size, "#%u", (unsigned)st.st_uid);
	if (f)
		fclose(f);
	return buf;
}

static int collect(struct rt_context *ctx, json_t **out, struct lv_error **err)
{
	char **ids = NULL;
	size_t n = 0, i;
	json_t *states;
	int r;

	r = rt_state_list(ctx->root, &ids, &n, err);
	if (r < 0)
		return r;
	states = json_array();
	if (!states) {
		rt_strv_free(ids);
		return lv_err(err, ENOMEM, "listing containers");
	}
	for (i = 0; i < n; i++) {
		struct lv_error *e = NULL;
		struct rt_state *st = NULL;
		json_t *j;

		r = rt_container_state(ctx, ids[i], &st, &e);
		if (r < 0) {
			if (r != -ENOENT)
				fprintf(stderr, "load container %s: %s\n", ids[i], e && e->msg ? e->msg : "error");
			lv_error_free(&e);
			continue;
		}
		j = rt_state_to_oci_json(st);
		rt_state_free(st);
		if (j) {
			char uidbuf[32];
			json_object_set_new(j, "owner", json_string(owner_of(ctx, ids[i], uidbuf, sizeof(uidbuf))));
		}
		if (!j || json_array_append_new(states, j) < 0) {
			json_decref(states);
			rt_strv_free(ids);
			return lv_err(err, ENOMEM, "listing containers");
		}
	}
	rt_strv_free(ids);
	*out = states;
	return 0;
}

int cmd_list(struct cmd_call *call, int argc, char **argv, struct lv_error **err)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		CMD_HELP_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	const char *format = "table";
	bool quiet = false;
	json_t *states = NULL;
	size_t i;
	int c, r;

	while ((c = cmd_getopt(call, argc, argv, "f:qh", longopts, err)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case CMD_OPT_HELP:
			return 0;
		default:
			return c < 0 ? c : lv_err_msg(err, EINVAL, "list: unexpected option");
		}
	}
	r = cmd_no_operands(call, argc, argv, err);
	if (r < 0)
		return r;
	/* runc checks the format only when it is used: --quiet ignores it. */
	if (!quiet && strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
		return cmd_usage_err(call, err, "invalid format option \"%s\" (table or json)", format);
	r = collect(call->ctx, &states, err);
	if (r < 0)
		return r;
	if (quiet) {
		for (i = 0; i < json_array_size(states); i++)
			printf("%s\n", jstr(json_array_get(states, i), "id"));
	} else if (strcmp(format, "json") == 0) {
		/* Go encodes an empty (nil) slice as null. */
		if (json_array_size(states) == 0)
			printf("null\n");
		else
			r = cmd_print_json(states, JSON_COMPACT, true, err);
	} else {
		print_table(states);
	}
	json_decref(states);
	if (r == 0 && (fflush(stdout) != 0 || ferror(stdout)))
		r = lv_err(err, errno ? errno : EIO, "writing to stdout");
	return r;
}
