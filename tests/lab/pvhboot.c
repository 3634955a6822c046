/* pvhboot: boot a Linux kernel on vmm/'s pieces through vmm_boot_kernel()
 * (an ELF vmlinux through PVH, a bzImage through the 64-bit protocol) with
 * COM1, the legacy ports, the MP table and the in-kernel irqchip, and
 * report how long it took until the guest reset (reboot=t: a triple fault).
 * For the lab host, where /dev/kvm is hardware-style (nested SVM):
 *
 *   cc -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -o pvhboot \
 *      tests/lab/pvhboot.c build/liblightvm.a -ljansson -lz -lseccomp -lcap -lpthread
 *   pvhboot KERNEL INITRD CMDLINE [TIMEOUT_S]
 *
 * In the lab, with the nested guests' BusyBox initramfs (built where the
 * lab sees it, e.g. under /var/tmp):
 *
 *   LAB_NO_LOCK=1 tests/lab/run.sh -- /var/tmp/pvhboot build/vmlinux \
 *      /var/cache/lightvm/lab/current/nested-initrd.gz \
 *      'console=ttyS0 reboot=t panic=-1 rdinit=/bin/sh -- -c "echo hi; reboot -f"'
 *
 * The guest's serial output goes to stdout.  Last line:
 *   PVHBOOT <kernel> reset after <s> s (...)  (exit 0)
 *   PVHBOOT <kernel> FAIL: <why>            (exit 1) */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../../vmm/legacy.h"
#include "../../vmm/mptable.h"
#include "../../vmm/pvh.h"
#include "../../vmm/serial.h"
#include "../../vmm/vm.h"

#define RAM_MIB 128

static struct kvm_run *volatile kick_run;
static volatile sig_atomic_t timed_out;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct guest {
	struct vmm_serial *serial;
	double first_tx; /* when the guest's first serial byte went out, or 0 */
};

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	if (kick_run)
		kick_run->immediate_exit = 1;
}

static int on_pio(void *opaque, struct vmm_vcpu *vcpu, uint16_t port, bool is_write, uint8_t *data,
		  uint8_t size, uint32_t count, struct lv_error **err)
{
	struct guest *g = opaque;
	struct vmm_serial_stats st;
	uint32_t i;

	for (i = 0; i < count; i++, data += size) {
		if (port >= VMM_SERIAL_COM1_BASE && port < VMM_SERIAL_COM1_BASE + VMM_SERIAL_NR_PORTS) {
			vmm_serial_pio(g->serial, (uint16_t)(port - VMM_SERIAL_COM1_BASE), is_write, data, size);
			if (!g->first_tx && is_write && port == VMM_SERIAL_COM1_BASE) {
				vmm_serial_get_stats(g->serial, &st);
				if (st.tx_bytes)
					g->first_tx = now();
			}
		} else if (vmm_legacy_pio(port, is_write, data, size) < 0 && !is_write)
			memset(data, 0xff, size);
	}
	return VMM_EXIT_CONTINUE;
}

static int on_mmio(void *opaque, struct vmm_vcpu *vcpu, uint64_t gpa, bool is_write, uint8_t *data, uint32_t len,
		   struct lv_error **err)
{
	if (!is_write)
		memset(data, 0xff, len);
	return VMM_EXIT_CONTINUE;
}

static int on_interrupted(void *opaque, struct vmm_vcpu *vcpu, struct lv_error **err)
{
	return timed_out ? VMM_EXIT_STOP : VMM_EXIT_CONTINUE;
}

static void *map(const char *path, size_t *size)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
		perror(path);
		exit(1);
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		perror(path);
		exit(1);
	}
	*size = (size_t)st.st_size;
	return p;
}

int main(int argc, char **argv)
{
	static const struct vmm_exit_ops ops = { .pio = on_pio, .mmio = on_mmio, .interrupted = on_interrupted };
	struct vmm_vm_config vc = { .irqchip = true };
	struct vmm_vm *vm = NULL;
	struct vmm_memory *mem = NULL;
	struct vmm_vcpu *vcpu = NULL;
	struct vmm_serial *serial = NULL;
	struct guest g = { 0 };
	struct lv_error *err = NULL;
	struct kvm_irqfd irqfd = { .gsi = VMM_SERIAL_COM1_GSI };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct vmm_boot_config bc;
	const char *name;
	double t0, t1, t2;
	int irq_fd, r;

	if (argc < 4) {
		fprintf(stderr, "usage: %s KERNEL INITRD CMDLINE [TIMEOUT_S]\n", argv[0]);
		return 2;
	}
	name = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
	bc = (struct vmm_boot_config){ .cmdline = argv[3] };
	bc.kernel = map(argv[1], &bc.kernel_size);
	bc.initrd = map(argv[2], &bc.initrd_size);
	irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	t0 = now();
	r = vmm_vm_create(&vc, &vm, &err);
	if (r == 0)
		r = vmm_memory_create((uint64_t)RAM_MIB << 20, &mem, &err);
	if (r == 0)
		r = vmm_memory_register(mem, vm->vm_fd, &err);
	if (r == 0)
		r = vmm_mptable_write(mem, VMM_MPTABLE_ADDR, 1, &err);
	if (r == 0) {
		irqfd.fd = (uint32_t)irq_fd;
		if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
			r = lv_err(&err, errno, "KVM_IRQFD");
	}
	if (r == 0)
		r = vmm_serial_create(STDOUT_FILENO, irq_fd, &serial, &err);
	if (r == 0)
		r = vmm_vcpu_create(vm, 0, &vcpu, &err);
	if (r == 0)
		r = vmm_boot_kernel(vcpu, mem, &bc, &err);
	t1 = now();
	if (r == 0) {
		kick_run = vcpu->run;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		alarm(argc > 4 ? (unsigned int)atoi(argv[4]) : 30);
		g.serial = serial;
		r = vmm_vcpu_run(vcpu, &ops, &g, &err);
		alarm(0);
	}
	t2 = now();
	if (serial)
		vmm_serial_flush(serial);
	fflush(stdout);
	if (r == 0 && !timed_out && vcpu->run->exit_reason == KVM_EXIT_SHUTDOWN) {
		printf("PVHBOOT %s reset after %.3f s (setup %.1f ms, first serial byte after %.3f s)\n", name, t2 - t0,
		       (t1 - t0) * 1e3, g.first_tx ? g.first_tx - t0 : -1.0);
	} else {
		printf("PVHBOOT %s FAIL: %s\n", name,
		       err ? err->msg : timed_out ? "timed out" : vmm_exit_reason_name(vcpu->run->exit_reason));
		r = -1;
	}
	lv_error_free(&err);
	vmm_serial_destroy(&serial);
	vmm_vcpu_destroy(&vcpu);
	vmm_vm_destroy(&vm);
	vmm_memory_destroy(&mem);
	close(irq_fd);
	return r == 0 ? 0 : 1;
}
