/* Cleanup attributes for locals: whoever allocates frees, on every path.
 * Hand ownership on with the take_* helpers ("get and reset"). */
#ifndef LV_CLEANUP_H
#define LV_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void lv_freep(void *p)
{
	free(*(void **)p);
}

static inline void lv_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void lv_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define cleanup_free __attribute__((cleanup(lv_freep)))
#define cleanup_close __attribute__((cleanup(lv_closep)))
#define cleanup_fclose __attribute__((cleanup(lv_fclosep)))

static inline int lv_take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

static inline void *lv_take_ptr(void *pp)
{
	void **p = pp;
	void *r = *p;
	*p = NULL;
	return r;
}

#define LV_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
