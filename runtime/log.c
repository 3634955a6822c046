/* The runtime's logger: logrus-compatible text or JSON lines, as runc writes
 * them, because callers (containerd's shim, conmon) read runc's --log file. */
#include "log.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"

int rt_log_open(struct rt_log *log, const char *path, const char *format, bool debug, struct lv_error **err)
{
	bool json;
	int fd;

	log->fd = -1;
	log->json = false;
	log->debug = debug;
	/* Checked before the file is opened, and also without --log, as runc
	 * does: a bad --log-format is an error whatever the destination. */
	if (!format || !*format || strcmp(format, "text") == 0)
		json = false;
	else if (strcmp(format, "json") == 0)
		json = true;
	else
		return lv_err_msg(err, EINVAL, "invalid log-format: %s", format);
	if (path && *path) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0)
			return lv_err(err, errno, "open log file %s", path);
		log->fd = fd;
	}
	log->json = json;
	return 0;
}

void rt_log_close(struct rt_log *log)
{
	if (log->fd >= 0)
		close(log->fd);
	log->fd = -1;
}

/* logrus level names: note "warning", not "warn". */
static const char *level_name(enum rt_log_level level)
{
	switch (level) {
	case RT_LOG_DEBUG:
		return "debug";
	case RT_LOG_INFO:
		return "info";
	case RT_LOG_WARN:
		return "warning";
	case RT_LOG_ERROR:
		return "error";
	}
	return "error";
}

/* logrus quotes a value unless it is made only of these characters. */
static bool needs_quoting(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '.' || c == '_' || c == '/' || c == '@' || c == '^' || c == '+'))
			return true;
	}
	return false;
}

/* Appends key=value with Go %q-style escaping when needed. */
static void put_field(FILE *f, const char *key, const char *value)
{
	const char *s;

	fprintf(f, "%s=", key);
	if (!needs_quoting(value)) {
		fputs(value, f);
		return;
	}
	fputc('"', f);
	for (s = value; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\x%02x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

static char *format_text(const char *when, const char *level, const char *msg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	put_field(f, "time", when);
	fputc(' ', f);
	put_field(f, "level", level);
	fputc(' ', f);
	put_field(f, "msg", msg);
	fputc('\n', f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static char *format_json(const char *when, const char *level, const char *msg)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", when);
	char *body, *line = NULL;

	if (!o)
		return NULL;
	body = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (body && asprintf(&line, "%s\n", body) < 0)
		line = NULL;
	free(body);
	return line;
}

void rt_log(const struct rt_log *log, enum rt_log_level level, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	cleanup_free char *line = NULL;
	char when[32];
	struct tm tm;
	time_t now;
	va_list ap;
	ssize_t w;
	int r;

	if (level == RT_LOG_DEBUG && !log->debug)
		return;
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		msg = NULL;
		return;
	}
	now = time(NULL);
	if (!gmtime_r(&now, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof(when), "unknown");
	/* JSON strings must be UTF-8; jansson refuses anything else, so a
	 * message with stray bytes falls back to the text form rather than
	 * being lost. */
	if (log->json)
		line = format_json(when, level_name(level), msg);
	if (!line)
		line = format_text(when, level_name(level), msg);
	if (!line)
		return;
	/* One write(2) per record: O_APPEND keeps concurrent writers' lines
	 * whole.  A failing log has nowhere to report to. */
	w = write(log->fd >= 0 ? log->fd : STDERR_FILENO, line, strlen(line));
	(void)w;
}
