/* Small helpers shared by the unit tests. */
#ifndef TESTS_UNIT_TESTUTIL_H
#define TESTS_UNIT_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "../../lib/error.h"

/* Runs a shell command (for checks against real tools such as cpio);
 * a non-zero status is reported as a TAP comment. */
static int sh(const char *fmt, ...) LV_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st != 0)
		printf("# '%s' exited %d\n", cmd, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return st;
}

#endif
