#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int record(struct lv_error **err, int errnum, int with_strerror, const char *fmt, va_list ap)
{
	char *msg = NULL;
	char *full = NULL;
	int code = errnum > 0 ? errnum : EIO;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (msg && with_strerror && errnum > 0) {
		if (asprintf(&full, "%s: %s", msg, strerror(errnum)) < 0)
			full = NULL;
		free(msg);
		msg = full;
	}
	if (!err)
		goto out;
	if (*err) {
		/* The first recorded error is the cause: keep it, put the new
		 * message in front of it as context. */
		char *chained = NULL;
		if (msg && asprintf(&chained, "%s: %s", msg, (*err)->msg ? (*err)->msg : "") >= 0) {
			free((*err)->msg);
			(*err)->msg = chained;
		}
		code = (*err)->errnum;
		goto out;
	}
	*err = calloc(1, sizeof(**err));
	if (!*err)
		goto out;
	(*err)->errnum = code;
	(*err)->msg = msg;
	msg = NULL;
out:
	free(msg);
	return -code;
}

int lv_err(struct lv_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = record(err, errnum, 1, fmt, ap);
	va_end(ap);
	return r;
}

int lv_err_msg(struct lv_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = record(err, errnum, 0, fmt, ap);
	va_end(ap);
	return r;
}

int lv_err_wrap(struct lv_error **err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = record(err, EIO, 0, fmt, ap);
	va_end(ap);
	return r;
}

void lv_error_free(struct lv_error **err)
{
	if (!err || !*err)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}
