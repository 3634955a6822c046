/* Running a VM: one thread per vCPU in KVM_RUN, one device thread in the
 * event loop, and the pause/stop protocol between them and the caller.
 *
 * Kicking a vCPU out of KVM_RUN: set run->immediate_exit (covers a vCPU
 * that is about to enter) and send it VMM_SIG_KICK (covers one inside; the
 * handler does nothing, the signal only makes KVM_RUN return EINTR).  The
 * run loop then calls our `interrupted` handler, which parks the vCPU for a
 * pause or leaves the loop for a stop.  Only the vCPU threads unblock the
 * kick signal; every other signal stays blocked in them, so signals sent to
 * the monitor process still reach its signalfd. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm_internal.h"

#define VMM_SIG_KICK (SIGRTMIN + 2)

static void kick_handler(int sig)
{
	(void)sig;
}

/* Records why the VM ended (the first reason wins), signals exit_fd and
 * tells every vCPU to stop.  Called with v->lock held. */
static void end_locked(struct vmm *v, enum vmm_end why, const char *msg)
{
	uint64_t one = 1;

	if (v->end == VMM_END_NONE) {
		snprintf(v->end_msg, sizeof(v->end_msg), "%s", msg);
		__atomic_store_n(&v->end, why, __ATOMIC_RELEASE);
		if (v->cfg.log_fd >= 0)
			dprintf(v->cfg.log_fd, "end: %s\n", msg);
		if (write(v->exit_fd, &one, sizeof(one)) < 0) {
			/* an eventfd write of 1 cannot fail short of overflow */
		}
	}
	v->stop = true;
	pthread_cond_broadcast(&v->cond);
}

static void kick_all(struct vmm *v)
{
	unsigned int i;

	for (i = 0; i < v->nvcpus; i++) {
		if (!v->threads[i].started)
			continue;
		__atomic_store_n(&v->vcpus[i]->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(v->threads[i].thread, VMM_SIG_KICK);
	}
}

static void vm_end(struct vmm *v, enum vmm_end why, const char *msg)
{
	pthread_mutex_lock(&v->lock);
	end_locked(v, why, msg);
	pthread_mutex_unlock(&v->lock);
	kick_all(v);
}

static struct vmm_window *window_of(struct vmm *v, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < v->nwin; i++)
		if (gpa >= v->win[i].base && gpa - v->win[i].base < VMM_VIRTIO_MMIO_SIZE)
			return &v->win[i];
	return NULL;
}

static int on_mmio(void *opaque, struct vmm_vcpu *vcpu, uint64_t gpa, bool is_write, uint8_t *data,
		   uint32_t len, struct lv_error **err)
{
	struct vmm *v = ((struct vmm_vcpu_thread *)opaque)->v;
	struct vmm_window *w = window_of(v, gpa);
	int r;

	(void)vcpu;
	if (!w) {
		/* Nothing lives there: reads float high as on a PC bus. */
		if (!is_write)
			memset(data, 0xff, len);
		__atomic_add_fetch(&v->stray_mmio, 1, __ATOMIC_RELAXED);
		return VMM_EXIT_CONTINUE;
	}
	r = vmm_virtio_mmio_access(w->m, gpa - w->base, is_write, data, len, err);
	return r < 0 ? r : VMM_EXIT_CONTINUE;
}

static int on_pio(void *opaque, struct vmm_vcpu *vcpu, uint16_t port, bool is_write, uint8_t *data, uint8_t size,
		  uint32_t count, struct lv_error **err)
{
	struct vmm *v = ((struct vmm_vcpu_thread *)opaque)->v;

	(void)vcpu;
	(void)err;
	vmm_pio(v, port, is_write, data, size, count);
	return VMM_EXIT_CONTINUE;
}

static int on_shutdown(void *opaque, struct vmm_vcpu *vcpu, struct lv_error **err)
{
	struct vmm_vcpu_thread *t = opaque;
	char msg[64];

	(void)err;
	snprintf(msg, sizeof(msg), "the guest reset (triple fault on vCPU %u)", vcpu->id);
	vm_end(t->v, VMM_END_RESET, msg);
	return VMM_EXIT_STOP;
}

static int on_system_event(void *opaque, struct vmm_vcpu *vcpu, uint32_t type, struct lv_error **err)
{
	struct vmm_vcpu_thread *t = opaque;
	char msg[64];

	(void)err;
	switch (type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_end(t->v, VMM_END_POWEROFF, "the guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_end(t->v, VMM_END_RESET, "the guest reset");
		break;
	default:
		snprintf(msg, sizeof(msg), "the guest crashed (system event %u on vCPU %u)", type, vcpu->id);
		vm_end(t->v, VMM_END_CRASH, msg);
		break;
	}
	return VMM_EXIT_STOP;
}

/* With the in-kernel LAPIC, HLT sleeps in the kernel; an HLT exit means a
 * vCPU halted for good (interrupts off), which a Linux guest only does
 * when it has stopped. */
static int on_hlt(void *opaque, struct vmm_vcpu *vcpu, struct lv_error **err)
{
	(void)vcpu;
	(void)err;
	vm_end(((struct vmm_vcpu_thread *)opaque)->v, VMM_END_POWEROFF, "the guest halted");
	return VMM_EXIT_STOP;
}

static int on_interrupted(void *opaque, struct vmm_vcpu *vcpu, struct lv_error **err)
{
	struct vmm *v = ((struct vmm_vcpu_thread *)opaque)->v;
	bool stop;

	(void)vcpu;
	(void)err;
	pthread_mutex_lock(&v->lock);
	while (v->pause_req && !v->stop) {
		v->parked++;
		pthread_cond_broadcast(&v->cond);
		pthread_cond_wait(&v->cond, &v->lock);
		v->parked--;
	}
	stop = v->stop;
	pthread_mutex_unlock(&v->lock);
	return stop ? VMM_EXIT_STOP : VMM_EXIT_CONTINUE;
}

static const struct vmm_exit_ops vmm_exit_ops = {
	.pio = on_pio,
	.mmio = on_mmio,
	.hlt = on_hlt,
	.shutdown = on_shutdown,
	.system_event = on_system_event,
	.interrupted = on_interrupted,
};

static void *vcpu_main(void *arg)
{
	struct vmm_vcpu_thread *t = arg;
	struct vmm *v = t->v;
	struct lv_error *err = NULL;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, VMM_SIG_KICK);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	if (vmm_vcpu_run(v->vcpus[t->idx], &vmm_exit_ops, t, &err) < 0) {
		vm_end(v, VMM_END_ERROR, err->msg);
		lv_error_free(&err);
	}
	pthread_mutex_lock(&v->lock);
	v->running--;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

static void *io_main(void *arg)
{
	struct vmm *v = arg;
	struct lv_error *err = NULL;

	if (vmm_loop_run(v->loop, &err) < 0) {
		vm_end(v, VMM_END_ERROR, err->msg);
		lv_error_free(&err);
	}
	return NULL;
}

/* Threads start with every signal blocked; vCPU threads then open the kick
 * signal for themselves. */
static int spawn(pthread_t *th, void *(*fn)(void *), void *arg, struct lv_error **err)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return lv_err(err, r, "pthread_create");
	return 0;
}

int vmm_start(struct vmm *v, struct lv_error **err)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	unsigned int i;
	int r;

	/* No SA_RESTART: the point of the signal is to make KVM_RUN return. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(VMM_SIG_KICK, &sa, NULL) < 0)
		return lv_err(err, errno, "sigaction for the vCPU kick signal");
	r = spawn(&v->io_thread, io_main, v, err);
	if (r < 0)
		return lv_err_wrap(err, "device thread");
	v->io_started = true;
	for (i = 0; i < v->nvcpus; i++) {
		v->threads[i].v = v;
		v->threads[i].idx = i;
		pthread_mutex_lock(&v->lock);
		v->running++;
		pthread_mutex_unlock(&v->lock);
		r = spawn(&v->threads[i].thread, vcpu_main, &v->threads[i], err);
		if (r < 0) {
			pthread_mutex_lock(&v->lock);
			v->running--;
			pthread_mutex_unlock(&v->lock);
			return lv_err_wrap(err, "vCPU %u thread", i);
		}
		v->threads[i].started = true;
	}
	return 0;
}

int vmm_pause(struct vmm *v, struct lv_error **err)
{
	pthread_mutex_lock(&v->lock);
	if (v->stop) {
		pthread_mutex_unlock(&v->lock);
		return lv_err_msg(err, ESRCH, "pause: the VM has ended");
	}
	v->pause_req = true;
	pthread_mutex_unlock(&v->lock);
	kick_all(v);
	/* Back only when every vCPU still running is parked: a paused VM runs
	 * no guest instruction (the device thread may still move queued data). */
	pthread_mutex_lock(&v->lock);
	while (!v->stop && v->parked < v->running)
		pthread_cond_wait(&v->cond, &v->lock);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

int vmm_resume(struct vmm *v, struct lv_error **err)
{
	(void)err;
	pthread_mutex_lock(&v->lock);
	v->pause_req = false;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

void vmm_stop_threads(struct vmm *v)
{
	unsigned int i;

	if (!v->sync_init)
		return;
	pthread_mutex_lock(&v->lock);
	v->stop = true;
	v->pause_req = false;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	kick_all(v);
	for (i = 0; i < v->nvcpus; i++) {
		if (v->threads[i].started)
			pthread_join(v->threads[i].thread, NULL);
		v->threads[i].started = false;
	}
	if (v->io_started) {
		vmm_loop_stop(v->loop);
		pthread_join(v->io_thread, NULL);
		v->io_started = false;
	}
}

/* end is written once, under the lock, before exit_fd fires; end_msg
 * before end (release), so a reader that sees end set sees the message. */
enum vmm_end vmm_end_reason(const struct vmm *v)
{
	return __atomic_load_n(&v->end, __ATOMIC_ACQUIRE);
}

const char *vmm_end_message(const struct vmm *v)
{
	return vmm_end_reason(v) == VMM_END_NONE ? "the VM is running" : v->end_msg;
}
