/* vmm/loop: the device thread's epoll loop: interest changes, fds removed
 * in the middle of a dispatch batch, hung-up fds with no interest, and
 * stopping from another thread. */
#include "../../vmm/loop.h"
#include "tap.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

struct loop_probe {
	struct vmm_loop *loop;
	int fd;
	int calls;
	uint32_t last;
	int del_fd;       /* removed by the callback when >= 0 */
	bool drop_interest;
};

static void probe_cb(void *opaque, uint32_t events)
{
	struct loop_probe *p = opaque;
	uint64_t v;

	p->calls++;
	p->last = events;
	if (events & EPOLLIN)
		(void)!read(p->fd, &v, sizeof(v));
	if (p->drop_interest)
		(void)vmm_loop_mod(p->loop, p->fd, 0, NULL);
	if (p->del_fd >= 0) {
		vmm_loop_del(p->loop, p->del_fd);
		p->del_fd = -1;
	}
}

static void *stopper(void *arg)
{
	usleep(20000);
	vmm_loop_stop(arg);
	return NULL;
}

static void test_loop(void)
{
	struct vmm_loop *l = NULL;
	struct lv_error *err = NULL;
	struct loop_probe a = { .del_fd = -1 }, b = { .del_fd = -1 };
	uint64_t one = 1;
	int sp[2];
	pthread_t t;

	ok(vmm_loop_create(&l, &err) == 0 && l, "loop created");
	if (!l)
		return;
	a.loop = b.loop = l;
	a.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	b.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ok(vmm_loop_run_once(l, 0, &err) == 0, "nothing registered: timeout, 0 run");
	ok(vmm_loop_add(l, a.fd, EPOLLIN, probe_cb, &a, &err) == 0, "eventfd a added");
	ok(vmm_loop_add(l, a.fd, EPOLLIN, probe_cb, &a, &err) == -EEXIST, "adding it twice: EEXIST");
	lv_error_free(&err);
	ok(vmm_loop_add(l, -1, EPOLLIN, probe_cb, &a, &err) == -EINVAL, "fd -1: EINVAL");
	lv_error_free(&err);
	ok(vmm_loop_mod(l, b.fd, EPOLLIN, &err) == -ENOENT, "mod of an unknown fd: ENOENT");
	lv_error_free(&err);
	ok(vmm_loop_add(l, b.fd, 0, probe_cb, &b, &err) == 0, "eventfd b added with no interest");

	(void)!write(a.fd, &one, sizeof(one));
	(void)!write(b.fd, &one, sizeof(one));
	ok(vmm_loop_run_once(l, 100, &err) == 1 && a.calls == 1 && (a.last & EPOLLIN) && b.calls == 0,
	   "a fires, b (no interest) does not");
	ok(vmm_loop_mod(l, b.fd, EPOLLIN, &err) == 0 && vmm_loop_run_once(l, 100, &err) == 1 && b.calls == 1,
	   "b fires once interest is on");

	/* A callback that removes another fd whose event is in the same batch:
	 * the stale event must be skipped, not dispatched to freed memory. */
	a.del_fd = b.fd;
	b.del_fd = a.fd;
	(void)!write(a.fd, &one, sizeof(one));
	(void)!write(b.fd, &one, sizeof(one));
	ok(vmm_loop_run_once(l, 100, &err) == 1 && a.calls + b.calls == 3,
	   "a callback deleting the other fd of its batch: only one runs");
	a.del_fd = b.del_fd = -1;
	vmm_loop_del(l, a.fd);
	vmm_loop_del(l, b.fd);
	vmm_loop_del(l, b.fd);
	close(a.fd);
	close(b.fd);

	/* A hung-up socket with no interest must not wake the loop. */
	ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) == 0, "socketpair");
	a.fd = sp[0];
	a.calls = 0;
	a.drop_interest = true;
	close(sp[1]);
	ok(vmm_loop_add(l, sp[0], EPOLLIN, probe_cb, &a, &err) == 0 && vmm_loop_run_once(l, 100, &err) == 1 &&
	   (a.last & EPOLLHUP), "hung-up socket: the callback sees EPOLLHUP");
	ok(vmm_loop_run_once(l, 50, &err) == 0 && a.calls == 1, "with the interest dropped, it stays quiet");
	vmm_loop_del(l, sp[0]);
	close(sp[0]);

	vmm_loop_stop(l);
	ok(vmm_loop_run(l, &err) == 0, "a stop before run makes run return at once");
	ok(pthread_create(&t, NULL, stopper, l) == 0, "stopper thread");
	ok(vmm_loop_run(l, &err) == 0, "run returns after a stop from another thread");
	pthread_join(t, NULL);
	ok(vmm_loop_run_once(l, 0, &err) == 0, "the wake-up was drained");
	lv_error_free(&err);

	vmm_loop_destroy(&l);
	ok(l == NULL, "destroy resets the pointer");
	vmm_loop_destroy(&l);
}

int main(void)
{
	test_loop();
	return tap_done();
}
