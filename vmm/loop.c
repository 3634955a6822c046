/* The device thread's event loop; see loop.h.
 *
 * Each registered fd has an entry whose address is the epoll user data, so
 * dispatch needs no lookup.  An entry with no interest is taken out of the
 * epoll set altogether: epoll reports EPOLLHUP and EPOLLERR whatever the
 * interest, and a hung-up socket that a device has stopped reading would
 * otherwise wake the loop forever.
 *
 * Entries removed while a batch is being dispatched may still be named by
 * a later event of that batch, so they are parked on a graveyard list and
 * freed when the batch is over. */
#include "loop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 32

struct loop_entry {
	struct loop_entry *next;
	int fd;
	uint32_t events;  /* the interest asked for */
	bool in_epoll;    /* whether fd is in the epoll set (events != 0) */
	bool dead;        /* removed during dispatch, waiting to be freed */
	vmm_loop_fn fn;
	void *opaque;
};

struct vmm_loop {
	int epoll_fd;
	int wake_fd;
	atomic_bool stop;
	/* Guards the lists and the entries' fields, so that devices may change
	 * their interest from a vCPU thread (a QueueNotify on the MMIO path). */
	pthread_mutex_t lock;
	struct loop_entry *entries;
	struct loop_entry *graveyard;
	bool dispatching;
};

int vmm_loop_create(struct vmm_loop **out, struct lv_error **err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct vmm_loop *l;
	int r;

	l = calloc(1, sizeof(*l));
	if (!l)
		return lv_err(err, ENOMEM, "allocating the event loop");
	l->wake_fd = -1;
	atomic_init(&l->stop, false);
	l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epoll_fd < 0) {
		r = lv_err(err, errno, "epoll_create1");
		goto fail_free;
	}
	l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->wake_fd < 0) {
		r = lv_err(err, errno, "eventfd for the loop's wake-up");
		goto fail_epoll;
	}
	/* data.ptr NULL marks the wake fd: no entry can have that address. */
	if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->wake_fd, &ev) < 0) {
		r = lv_err(err, errno, "adding the wake eventfd to epoll");
		goto fail_wake;
	}
	r = pthread_mutex_init(&l->lock, NULL);
	if (r) {
		r = lv_err(err, r, "initialising the loop's lock");
		goto fail_wake;
	}
	*out = l;
	return 0;

fail_wake:
	close(l->wake_fd);
fail_epoll:
	close(l->epoll_fd);
fail_free:
	free(l);
	return r;
}

static void free_list(struct loop_entry *e)
{
	while (e) {
		struct loop_entry *next = e->next;

		free(e);
		e = next;
	}
}

void vmm_loop_destroy(struct vmm_loop **lp)
{
	struct vmm_loop *l = lp ? *lp : NULL;

	if (!l)
		return;
	free_list(l->entries);
	free_list(l->graveyard);
	pthread_mutex_destroy(&l->lock);
	close(l->wake_fd);
	close(l->epoll_fd);
	free(l);
	*lp = NULL;
}

static struct loop_entry *find_locked(struct vmm_loop *l, int fd)
{
	struct loop_entry *e;

	for (e = l->entries; e; e = e->next)
		if (e->fd == fd)
			return e;
	return NULL;
}

/* Brings the epoll set in line with e->events. */
static int apply_locked(struct vmm_loop *l, struct loop_entry *e, struct lv_error **err)
{
	struct epoll_event ev = { .events = e->events, .data.ptr = e };
	int op;

	if (!e->events) {
		if (e->in_epoll && epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, e->fd, NULL) < 0)
			return lv_err(err, errno, "removing fd %d from epoll", e->fd);
		e->in_epoll = false;
		return 0;
	}
	op = e->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(l->epoll_fd, op, e->fd, &ev) < 0)
		return lv_err(err, errno, "%s fd %d in epoll (events 0x%x)",
			      op == EPOLL_CTL_ADD ? "adding" : "changing", e->fd, e->events);
	e->in_epoll = true;
	return 0;
}

static uint32_t interest_of(uint32_t events)
{
	/* Level triggered, and only what a callback can act upon. */
	return events & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP);
}

int vmm_loop_add(struct vmm_loop *l, int fd, uint32_t events, vmm_loop_fn fn, void *opaque,
		 struct lv_error **err)
{
	struct loop_entry *e;
	int r;

	if (fd < 0 || !fn)
		return lv_err_msg(err, EINVAL, "adding fd %d to the loop: bad fd or no callback", fd);
	e = calloc(1, sizeof(*e));
	if (!e)
		return lv_err(err, ENOMEM, "allocating a loop entry");
	*e = (struct loop_entry){ .fd = fd, .events = interest_of(events), .fn = fn, .opaque = opaque };

	pthread_mutex_lock(&l->lock);
	if (find_locked(l, fd)) {
		pthread_mutex_unlock(&l->lock);
		free(e);
		return lv_err_msg(err, EEXIST, "fd %d is already in the loop", fd);
	}
	r = apply_locked(l, e, err);
	if (r == 0) {
		e->next = l->entries;
		l->entries = e;
	}
	pthread_mutex_unlock(&l->lock);
	if (r < 0)
		free(e);
	return r;
}

int vmm_loop_mod(struct vmm_loop *l, int fd, uint32_t events, struct lv_error **err)
{
	struct loop_entry *e;
	uint32_t old;
	int r = 0;

	pthread_mutex_lock(&l->lock);
	e = find_locked(l, fd);
	if (!e) {
		r = lv_err_msg(err, ENOENT, "fd %d is not in the loop", fd);
	} else if (e->events != interest_of(events)) {
		old = e->events;
		e->events = interest_of(events);
		r = apply_locked(l, e, err);
		if (r < 0)
			e->events = old;
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

void vmm_loop_del(struct vmm_loop *l, int fd)
{
	struct loop_entry **pp, *e = NULL;

	pthread_mutex_lock(&l->lock);
	for (pp = &l->entries; *pp; pp = &(*pp)->next) {
		if ((*pp)->fd == fd) {
			e = *pp;
			*pp = e->next;
			break;
		}
	}
	if (e) {
		if (e->in_epoll)
			(void)epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		e->dead = true;
		if (l->dispatching) {
			e->next = l->graveyard;
			l->graveyard = e;
			e = NULL;
		}
	}
	pthread_mutex_unlock(&l->lock);
	free(e);
}

static void drain_wake(struct vmm_loop *l)
{
	uint64_t v;

	/* Nonblocking: a second reader (none today) must not hang the loop. */
	while (read(l->wake_fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
}

int vmm_loop_run_once(struct vmm_loop *l, int timeout_ms, struct lv_error **err)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	struct loop_entry *graves;
	int n, i, ran = 0, r = 0;

	/* Dispatching starts before the wait: an entry that another thread
	 * removes between epoll_wait() returning and its callback must not
	 * be freed under us. */
	pthread_mutex_lock(&l->lock);
	l->dispatching = true;
	pthread_mutex_unlock(&l->lock);
	n = epoll_wait(l->epoll_fd, evs, LOOP_MAX_EVENTS, timeout_ms);
	if (n < 0) {
		int e = errno;

		n = 0;
		if (e != EINTR)
			r = lv_err(err, e, "epoll_wait");
	}

	for (i = 0; i < n; i++) {
		struct loop_entry *e = evs[i].data.ptr;
		vmm_loop_fn fn = NULL;
		void *opaque = NULL;
		uint32_t fired = 0;

		if (!e) {
			drain_wake(l);
			continue;
		}
		pthread_mutex_lock(&l->lock);
		/* A callback earlier in this batch may have dropped the
		 * interest or the entry: what is no longer asked for is stale. */
		if (!e->dead && e->in_epoll) {
			fired = evs[i].events & (e->events | EPOLLERR | EPOLLHUP);
			fn = e->fn;
			opaque = e->opaque;
		}
		pthread_mutex_unlock(&l->lock);
		if (fn && fired) {
			fn(opaque, fired);
			ran++;
		}
	}

	pthread_mutex_lock(&l->lock);
	l->dispatching = false;
	graves = l->graveyard;
	l->graveyard = NULL;
	pthread_mutex_unlock(&l->lock);
	free_list(graves);
	return r < 0 ? r : ran;
}

int vmm_loop_run(struct vmm_loop *l, struct lv_error **err)
{
	int r = 0;

	/* The flag is consumed on the way out, so that a stop issued before
	 * run starts is not lost and the loop can be run again afterwards. */
	while (!atomic_load(&l->stop)) {
		r = vmm_loop_run_once(l, -1, err);
		if (r < 0)
			break;
	}
	atomic_store(&l->stop, false);
	return r < 0 ? r : 0;
}

void vmm_loop_stop(struct vmm_loop *l)
{
	uint64_t one = 1;

	atomic_store(&l->stop, true);
	/* EAGAIN means the counter is already huge: the loop wakes anyway. */
	(void)!write(l->wake_fd, &one, sizeof(one));
}
