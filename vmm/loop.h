/* The device thread's event loop: an epoll set whose entries carry a
 * callback.  Devices register their host-side fds (control socket, tap,
 * ioeventfds) and turn interest on and off as their queues fill and drain.
 * Callbacks run on the loop's thread only; they take their device's lock.
 *
 * Threads: vmm_loop_add() and vmm_loop_mod() may be called from any thread
 * (a device changes its interest from a vCPU's QueueNotify); vmm_loop_del()
 * is safe for the loop itself from any thread, but a callback may still be
 * running on the loop's thread when it returns, so devices remove their fds
 * from the loop's thread or once the loop has stopped. */
#ifndef VMM_LOOP_H
#define VMM_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "../lib/error.h"

struct vmm_loop;

/* events: the EPOLL* bits that fired. */
typedef void (*vmm_loop_fn)(void *opaque, uint32_t events);

int vmm_loop_create(struct vmm_loop **out, struct lv_error **err);
/* NULL-safe, sets *l to NULL.  Closes nothing but its own epoll fd and the
 * wake eventfd. */
void vmm_loop_destroy(struct vmm_loop **l);

/* fd must stay open until removed.  events: EPOLLIN/EPOLLOUT (level
 * triggered); 0 registers the fd with no interest yet.  With no interest
 * the fd is kept out of the epoll set, so that not even EPOLLHUP/EPOLLERR
 * (which epoll reports regardless) fire: a hung-up fd cannot spin the loop.
 * Callbacks get EPOLLHUP/EPOLLERR along with whatever else fired. */
int vmm_loop_add(struct vmm_loop *l, int fd, uint32_t events, vmm_loop_fn fn, void *opaque,
		 struct lv_error **err);
int vmm_loop_mod(struct vmm_loop *l, int fd, uint32_t events, struct lv_error **err);
void vmm_loop_del(struct vmm_loop *l, int fd);

/* Waits up to timeout_ms (-1: forever) and runs the callbacks of what fired;
 * returns the number run, 0 on timeout, or a negative errno.  Interrupted by
 * a signal it returns 0. */
int vmm_loop_run_once(struct vmm_loop *l, int timeout_ms, struct lv_error **err);

/* Runs until vmm_loop_stop() (from any thread or a callback). */
int vmm_loop_run(struct vmm_loop *l, struct lv_error **err);
void vmm_loop_stop(struct vmm_loop *l);

#endif
