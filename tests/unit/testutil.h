/* Small helpers shared by the unit tests. */
#ifndef TESTS_UNIT_TESTUTIL_H
#define TESTS_UNIT_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../lib/error.h"

/* Runs a shell command (for checks against real tools such as cpio);
 * a non-zero status is reported as a TAP comment. */
static inline int sh(const char *fmt, ...) LV_PRINTF(1, 2);
static inline int sh(const char *fmt, ...)
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

/* The whole of a (non-empty) file in a malloc'ed buffer, or NULL: the
 * kernel images the boot tests parse. */
static inline uint8_t *read_file(const char *path, size_t *size)
{
	struct stat st;
	uint8_t *buf;
	FILE *f = fopen(path, "rb");

	if (!f)
		return NULL;
	if (fstat(fileno(f), &st) < 0 || st.st_size <= 0 || !(buf = malloc((size_t)st.st_size))) {
		fclose(f);
		return NULL;
	}
	if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*size = (size_t)st.st_size;
	return buf;
}

/* Writes a fuzz seed DIR/NAME (the unit tests' --write-seeds mode):
 * 0, or -1 with the reason printed. */
static inline int write_seed_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(data, 1, len, f) != len) {
		perror(path);
		if (f)
			fclose(f);
		return -1;
	}
	if (fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

#endif
