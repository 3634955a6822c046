/* The one error contract of lightvm.
 *
 * Every fallible function takes `struct lv_error **err` last, returns a
 * negative errno-style value on failure (never a raw -1 from a syscall, never
 * a positive errno) and leaves a message in *err.  Callers add context on the
 * way up with lv_err_wrap(); only main() prints the error and exits.
 */
#ifndef LV_ERROR_H
#define LV_ERROR_H

#include <errno.h>
#include <stdarg.h>

#define LV_PRINTF(a, b) __attribute__((format(printf, a, b)))

struct lv_error {
	int errnum; /* positive errno value, never 0 */
	char *msg;  /* human readable, without trailing newline */
};

/* Records an error and returns -errnum (or -EIO when errnum is 0).  When
 * errnum is non-zero, strerror(errnum) is appended to the message.  If *err
 * already holds an error, the new message becomes context in front of it. */
int lv_err(struct lv_error **err, int errnum, const char *fmt, ...) LV_PRINTF(3, 4);

/* Like lv_err(), but never appends strerror: for validation errors. */
int lv_err_msg(struct lv_error **err, int errnum, const char *fmt, ...) LV_PRINTF(3, 4);

/* Prefixes context ("ctx: old message") to the error in *err and returns its
 * -errnum.  With no error recorded it records one with EIO. */
int lv_err_wrap(struct lv_error **err, const char *fmt, ...) LV_PRINTF(2, 3);

void lv_error_free(struct lv_error **err);

/* Errno of the recorded error, for callers that branch on the kind. */
static inline int lv_err_errno(const struct lv_error *err)
{
	return err ? err->errnum : 0;
}

#endif
