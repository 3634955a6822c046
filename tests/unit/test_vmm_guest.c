/* vmm on a real /dev/kvm: a few bytes of hand-assembled 64-bit code entered
 * through the boot code's long-mode path (GDT, page tables, sregs), run by
 * vmm_vcpu_run().  The guest's effects prove each piece: a 64-bit-only
 * instruction decodes, paging maps RAM beyond the first 2 MiB page, a store
 * to an address without RAM is an MMIO exit, port I/O both ways, HLT, and a
 * triple fault is a SHUTDOWN exit.  Skipped without a usable /dev/kvm.
 *
 * On the development host /dev/kvm is a software module (~2.5 us per guest
 * instruction): the guests here run a dozen instructions. */
#include "../../vmm/boot.h"
#include "../../vmm/vcpu.h"
#include "../../vmm/vm.h"
#include "tap.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MiB (1ULL << 20)
#define CODE_ADDR  0x100000ULL  /* 1 MiB, where a kernel would go */
#define RAM_PROBE  0x3f00000ULL /* 63 MiB: in the 32nd 2 MiB page */
#define MMIO_PROBE 0x8000000ULL /* 128 MiB: mapped by the page tables, no RAM */

/* 0x00: 48 b8 00 00 00 00 2a 00 00 00   movabs $0x2a00000000, %rax
 *       (in 32-bit mode these bytes are dec %eax; mov $0, %eax; ...)
 * 0x0a: 48 c1 e8 20                     shr    $32, %rax       -> rax = 0x2a
 * 0x0e: 88 04 25 00 00 f0 03            mov    %al, 0x3f00000  (RAM)
 * 0x15: 88 04 25 00 00 00 08            mov    %al, 0x8000000  (MMIO exit)
 * 0x1c: e6 80                           out    %al, $0x80
 * 0x1e: e4 81                           in     $0x81, %al      (we answer 0x55)
 * 0x20: e6 82                           out    %al, $0x82
 * 0x22: f4                              hlt
 * 0x23: 0f 0b                           ud2    (no IDT: triple fault) */
static const uint8_t guest_code[] = {
	0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00,
	0x48, 0xc1, 0xe8, 0x20,
	0x88, 0x04, 0x25, 0x00, 0x00, 0xf0, 0x03,
	0x88, 0x04, 0x25, 0x00, 0x00, 0x00, 0x08,
	0xe6, 0x80,
	0xe4, 0x81,
	0xe6, 0x82,
	0xf4,
	0x0f, 0x0b,
};

/* CPUID as the guest sees it, reported on ports 0x84..0x86.
 * 0x00: b8 01 00 00 00   mov  $1, %eax
 * 0x05: 31 c9            xor  %ecx, %ecx
 * 0x07: 0f a2            cpuid
 * 0x09: 89 c8            mov  %ecx, %eax
 * 0x0b: c1 e8 18         shr  $24, %eax   -> bit 7: hypervisor present
 * 0x0e: e6 84            out  %al, $0x84
 * 0x10: 89 d8            mov  %ebx, %eax
 * 0x12: c1 e8 18         shr  $24, %eax   -> initial APIC id
 * 0x15: e6 85            out  %al, $0x85
 * 0x17: b8 07 00 00 00   mov  $7, %eax
 * 0x1c: 31 c9            xor  %ecx, %ecx
 * 0x1e: 0f a2            cpuid
 * 0x20: 89 d8            mov  %ebx, %eax
 * 0x22: c1 e8 08         shr  $8, %eax    -> leaf 7 EBX[15:8] (bit 0: BMI2)
 * 0x25: e6 86            out  %al, $0x86
 * 0x27: f4               hlt */
static const uint8_t cpuid_code[] = {
	0xb8, 0x01, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x0f, 0xa2,
	0x89, 0xc8, 0xc1, 0xe8, 0x18, 0xe6, 0x84,
	0x89, 0xd8, 0xc1, 0xe8, 0x18, 0xe6, 0x85,
	0xb8, 0x07, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x0f, 0xa2,
	0x89, 0xd8, 0xc1, 0xe8, 0x08, 0xe6, 0x86,
	0xf4,
};

/* 0x00: eb fe   jmp . (forever, until the timer kicks the vCPU out) */
static const uint8_t spin_code[] = { 0xeb, 0xfe };

#define MAX_EVENTS 16

struct event {
	uint32_t kind; /* KVM_EXIT_* */
	uint64_t addr; /* port or gpa */
	bool is_write;
	uint32_t len;
	uint8_t value;
};

struct recorder {
	struct event ev[MAX_EVENTS];
	unsigned int n;
	bool stop_at_port_80; /* with the irqchip, HLT never comes back */
	bool continue_after_hlt;
};

static void record(struct recorder *rec, uint32_t kind, uint64_t addr, bool is_write, uint32_t len, uint8_t v)
{
	if (rec->n < MAX_EVENTS)
		rec->ev[rec->n] = (struct event){ kind, addr, is_write, len, v };
	rec->n++;
}

static int on_pio(void *opaque, struct vmm_vcpu *vcpu, uint16_t port, bool is_write, uint8_t *data,
		  uint8_t size, uint32_t count, struct lv_error **err)
{
	struct recorder *rec = opaque;

	if (!is_write)
		memset(data, 0x55, (size_t)size * count);
	record(rec, KVM_EXIT_IO, port, is_write, size, data[0]);
	if (port == 0x80 && rec->stop_at_port_80)
		return VMM_EXIT_STOP;
	return VMM_EXIT_CONTINUE;
}

static int on_mmio(void *opaque, struct vmm_vcpu *vcpu, uint64_t gpa, bool is_write, uint8_t *data,
		   uint32_t len, struct lv_error **err)
{
	record(opaque, KVM_EXIT_MMIO, gpa, is_write, len, data[0]);
	return VMM_EXIT_CONTINUE;
}

static int on_hlt(void *opaque, struct vmm_vcpu *vcpu, struct lv_error **err)
{
	struct recorder *rec = opaque;

	record(rec, KVM_EXIT_HLT, 0, false, 0, 0);
	return rec->continue_after_hlt ? VMM_EXIT_CONTINUE : VMM_EXIT_STOP;
}

static const struct vmm_exit_ops ops = { .pio = on_pio, .mmio = on_mmio, .hlt = on_hlt };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct machine {
	struct vmm_vm *vm;
	struct vmm_memory *mem;
	struct vmm_vcpu *vcpu;
};

static void machine_down(struct machine *m)
{
	vmm_vcpu_destroy(&m->vcpu);
	vmm_vm_destroy(&m->vm);
	vmm_memory_destroy(&m->mem);
}

static int machine_up_with(struct machine *m, bool irqchip, const uint8_t *code, size_t len, unsigned int id)
{
	struct vmm_vm_config cfg = { .irqchip = irqchip };
	struct lv_error *err = NULL;
	int r;

	memset(m, 0, sizeof(*m));
	r = vmm_vm_create(&cfg, &m->vm, &err);
	if (r == 0)
		r = vmm_memory_create(64 * MiB, &m->mem, &err);
	if (r == 0)
		r = vmm_memory_register(m->mem, m->vm->vm_fd, &err);
	if (r == 0)
		r = vmm_vcpu_create(m->vm, id, &m->vcpu, &err);
	if (r == 0)
		r = vmm_memory_write(m->mem, CODE_ADDR, code, len, &err);
	if (r == 0)
		r = vmm_boot_enter_64(m->vcpu, m->mem, CODE_ADDR, 0, &err);
	ok(r == 0, "machine (irqchip %s): VM, 64 MiB RAM, vCPU %u with CPUID/MSRs/FPU%s, long mode at 0x%llx (%s)",
	   irqchip ? "on" : "off", id, irqchip ? "/LAPIC" : "", CODE_ADDR, err ? err->msg : "ok");
	lv_error_free(&err);
	if (r < 0)
		machine_down(m);
	return r;
}

static int machine_up(struct machine *m, bool irqchip)
{
	return machine_up_with(m, irqchip, guest_code, sizeof(guest_code), 0);
}

static int ev_is(const struct recorder *rec, unsigned int i, uint32_t kind, uint64_t addr, bool is_write,
		 uint32_t len, uint8_t value)
{
	const struct event *e = &rec->ev[i];

	if (i >= rec->n)
		return 0;
	if (e->kind != kind || e->addr != addr || e->is_write != is_write || e->len != len || e->value != value) {
		printf("#   event %u: %s addr 0x%llx %s len %u value 0x%x\n", i, vmm_exit_reason_name(e->kind),
		       (unsigned long long)e->addr, e->is_write ? "write" : "read", e->len, e->value);
		return 0;
	}
	return 1;
}

static void test_userspace_irqchip(void)
{
	struct machine m;
	struct recorder rec = { .continue_after_hlt = true };
	struct lv_error *err = NULL;
	struct kvm_sregs sregs;
	const uint8_t *probe;
	double t0 = now(), t1, t2;
	int r;

	if (machine_up(&m, false) < 0)
		return;
	t1 = now();
	r = vmm_vcpu_run(m.vcpu, &ops, &rec, &err);
	t2 = now();
	ok(r == 0, "guest ran to a stop (%s)", err ? err->msg : "ok");
	lv_error_free(&err);
	printf("# setup %.1f ms, run %.1f ms (%u exits to user space)\n", (t1 - t0) * 1e3, (t2 - t1) * 1e3,
	       rec.n + 1);
	ok(ev_is(&rec, 0, KVM_EXIT_MMIO, MMIO_PROBE, true, 1, 0x2a),
	   "MMIO write of 0x2a at 128 MiB (no RAM there): 64-bit movabs/shr worked, page tables map it");
	probe = vmm_gpa_to_hva(m.mem, RAM_PROBE, 1);
	ok(probe && *probe == 0x2a, "the store to 63 MiB landed in RAM (PD entry 31)");
	ok(ev_is(&rec, 1, KVM_EXIT_IO, 0x80, true, 1, 0x2a), "OUT 0x2a to port 0x80");
	ok(ev_is(&rec, 2, KVM_EXIT_IO, 0x81, false, 1, 0x55), "IN from port 0x81");
	ok(ev_is(&rec, 3, KVM_EXIT_IO, 0x82, true, 1, 0x55), "OUT to port 0x82 echoes what IN returned");
	ok(ev_is(&rec, 4, KVM_EXIT_HLT, 0, false, 0, 0), "then HLT");
	ok(rec.n == 5 && m.vcpu->run->exit_reason == KVM_EXIT_SHUTDOWN,
	   "ud2 with no IDT: triple fault, a SHUTDOWN exit stops the loop (exit %s)",
	   vmm_exit_reason_name(m.vcpu->run->exit_reason));
	ok(ioctl(m.vcpu->fd, KVM_GET_SREGS, &sregs) == 0 && (sregs.efer & 0x400) && sregs.cs.l,
	   "EFER.LMA and CS.L were set while it ran");
	machine_down(&m);
}

static void test_inkernel_irqchip(void)
{
	struct machine m;
	struct recorder rec = { .stop_at_port_80 = true };
	struct lv_error *err = NULL;
	struct kvm_lapic_state lapic;
	uint32_t lvt0, lvt1;
	double t0 = now(), t1, t2;
	int r;

	if (machine_up(&m, true) < 0)
		return;
	ok(ioctl(m.vcpu->fd, KVM_GET_LAPIC, &lapic) == 0, "KVM_GET_LAPIC");
	memcpy(&lvt0, &lapic.regs[0x350], 4);
	memcpy(&lvt1, &lapic.regs[0x360], 4);
	ok(((lvt0 >> 8) & 7) == 7 && ((lvt1 >> 8) & 7) == 4, "LINT0 ExtINT, LINT1 NMI (0x%x, 0x%x)", lvt0, lvt1);
	t1 = now();
	r = vmm_vcpu_run(m.vcpu, &ops, &rec, &err);
	t2 = now();
	ok(r == 0, "guest ran to port 0x80 (%s)", err ? err->msg : "ok");
	lv_error_free(&err);
	printf("# setup %.1f ms, run %.1f ms\n", (t1 - t0) * 1e3, (t2 - t1) * 1e3);
	ok(ev_is(&rec, 0, KVM_EXIT_MMIO, MMIO_PROBE, true, 1, 0x2a) &&
	   ev_is(&rec, 1, KVM_EXIT_IO, 0x80, true, 1, 0x2a) && rec.n == 2,
	   "same MMIO and port 0x80 exits with PIC/IOAPIC/LAPIC/PIT in the kernel");
	machine_down(&m);
}

static void test_errors(void)
{
	struct vmm_vm_config cfg = { .kvm_path = "/nonexistent/kvm" };
	struct vmm_vm *vm = NULL;
	struct machine m;
	struct lv_error *err = NULL;
	static const struct vmm_exit_ops no_pio = { 0 };

	ok(vmm_vm_create(&cfg, &vm, &err) == -ENOENT && vm == NULL && err, "missing KVM device: -ENOENT (%s)",
	   err ? err->msg : "");
	lv_error_free(&err);
	cfg.kvm_path = "/dev/null";
	ok(vmm_vm_create(&cfg, &vm, &err) < 0 && err, "not a KVM device: an error (%s)", err ? err->msg : "");
	lv_error_free(&err);

	/* Unwired port I/O is an error naming the port, not a silent drop. */
	if (machine_up(&m, false) < 0)
		return;
	ok(vmm_vcpu_run(m.vcpu, &no_pio, NULL, &err) == -ENODEV && err && strstr(err->msg, "0x8000000"),
	   "MMIO with no handler: -ENODEV (%s)", err ? err->msg : "");
	lv_error_free(&err);
	machine_down(&m);
}

static void test_cpuid(void)
{
	struct machine m;
	struct recorder rec = { 0 };
	struct lv_error *err = NULL;

	/* vCPU 1 alone: without the in-kernel LAPIC nothing holds it in
	 * wait-for-SIPI, so it runs the code directly. */
	if (machine_up_with(&m, false, cpuid_code, sizeof(cpuid_code), 1) < 0)
		return;
	ok(vmm_vcpu_run(m.vcpu, &ops, &rec, &err) == 0 && rec.n == 4, "CPUID guest ran to HLT (%s)",
	   err ? err->msg : "ok");
	lv_error_free(&err);
	ok(rec.n >= 1 && rec.ev[0].addr == 0x84 && (rec.ev[0].value & 0x80),
	   "leaf 1 ECX[31]: the guest sees a hypervisor");
	ok(rec.n >= 2 && rec.ev[1].addr == 0x85 && rec.ev[1].value == 1, "leaf 1 EBX[31:24]: APIC id 1 on vCPU 1 (%u)",
	   rec.n >= 2 ? rec.ev[1].value : 0xff);
	if (rec.n >= 3)
		printf("# leaf 7 EBX[15:8] = 0x%02x (BMI2 %s)\n", rec.ev[2].value, rec.ev[2].value & 1 ? "on" : "off");
	machine_down(&m);
}

/* The kick pattern a monitor will use: a signal handler sets
 * immediate_exit, KVM_RUN returns EINTR (race-free even when the signal
 * lands outside KVM_RUN), the interrupted handler stops the loop.  Test code
 * only: the pointer is how the handler finds the vCPU. */
static struct kvm_run *volatile kick_run;
static volatile sig_atomic_t kicks;

static void on_alarm(int sig)
{
	(void)sig;
	kicks++;
	if (kick_run)
		kick_run->immediate_exit = 1;
}

static int on_interrupted(void *opaque, struct vmm_vcpu *vcpu, struct lv_error **err)
{
	return kicks ? VMM_EXIT_STOP : VMM_EXIT_CONTINUE;
}

static int run_for(struct vmm_vcpu *vcpu, const struct vmm_exit_ops *o, void *opaque, long usec,
		   struct lv_error **err)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	struct itimerval it = { .it_value = { .tv_sec = usec / 1000000, .tv_usec = usec % 1000000 } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	int r;

	kicks = 0;
	kick_run = vcpu->run;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &it, NULL);
	r = vmm_vcpu_run(vcpu, o, opaque, err);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	kick_run = NULL;
	return r;
}

static void test_kick(void)
{
	static const struct vmm_exit_ops kick_ops = { .interrupted = on_interrupted };
	struct machine m;
	struct lv_error *err = NULL;
	struct kvm_regs regs;
	double t0;
	int r;

	if (machine_up_with(&m, true, spin_code, sizeof(spin_code), 0) < 0)
		return;
	t0 = now();
	r = run_for(m.vcpu, &kick_ops, NULL, 50000, &err);
	ok(r == 0 && kicks == 1, "a spinning guest is kicked out by a signal after %.0f ms (%s)", (now() - t0) * 1e3,
	   err ? err->msg : "ok");
	lv_error_free(&err);
	ok(ioctl(m.vcpu->fd, KVM_GET_REGS, &regs) == 0 && regs.rip == CODE_ADDR && m.vcpu->run->immediate_exit == 0,
	   "still at its jmp, immediate_exit cleared for the next run");
	machine_down(&m);
}

static uint8_t *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
		*size = (size_t)n;
	else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* The real Tinyx kernel through vmm_boot_linux(), for 200 ms.  Here that is
 * some 80,000 emulated instructions: startup_64, the decompressor relocating
 * itself to the end of its init_size buffer, its page tables, and into
 * decompression.  What this checks is that the entry state is one the
 * kernel accepts (no entry failure, no triple fault) and that it moves. */
static void test_linux_entry(void)
{
	static const struct vmm_exit_ops linux_ops = { .pio = on_pio, .mmio = on_mmio, .interrupted = on_interrupted };
	const char *path = getenv("LIGHTVM_BZIMAGE") ? getenv("LIGHTVM_BZIMAGE") : "build/bzImage";
	struct vmm_vm_config cfg = { .irqchip = true };
	struct machine m = { 0 };
	struct recorder rec = { 0 };
	struct vmm_boot_layout l;
	struct lv_error *err = NULL;
	struct kvm_regs regs;
	size_t size = 0;
	uint8_t *img = read_file(path, &size);
	struct vmm_boot_config bc = { .kernel = img, .kernel_size = size, .cmdline = "console=ttyS0 panic=-1" };
	int r;

	if (!img) {
		ok(1, "# SKIP no %s: Linux entry", path);
		return;
	}
	r = vmm_vm_create(&cfg, &m.vm, &err);
	if (r == 0)
		r = vmm_memory_create(128 * MiB, &m.mem, &err);
	if (r == 0)
		r = vmm_memory_register(m.mem, m.vm->vm_fd, &err);
	if (r == 0)
		r = vmm_vcpu_create(m.vm, 0, &m.vcpu, &err);
	if (r == 0)
		r = vmm_boot_linux(m.vcpu, m.mem, &bc, &l, &err);
	ok(r == 0 && l.entry == 0x100200, "%s loaded, vCPU at startup_64 0x%llx (%s)", path,
	   (unsigned long long)l.entry, err ? err->msg : "ok");
	lv_error_free(&err);
	if (r == 0) {
		r = run_for(m.vcpu, &linux_ops, &rec, 200000, &err);
		ok(r == 0, "ran 200 ms: stopped by the timer%s (%s)",
		   m.vcpu->run->exit_reason == KVM_EXIT_SHUTDOWN ? " or a guest reboot" : "", err ? err->msg : "ok");
		lv_error_free(&err);
		ok(ioctl(m.vcpu->fd, KVM_GET_REGS, &regs) == 0 && regs.rip != l.entry,
		   "the kernel moved: rip 0x%llx, %u exits to user space", (unsigned long long)regs.rip, rec.n);
	}
	machine_down(&m);
	free(img);
}

int main(void)
{
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		ok(1, "# SKIP no usable /dev/kvm");
		return tap_done();
	}
	test_userspace_irqchip();
	test_inkernel_irqchip();
	test_errors();
	test_cpuid();
	test_kick();
	test_linux_entry();
	return tap_done();
}
