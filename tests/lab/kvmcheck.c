/* kvmcheck: show that /dev/kvm is a real hardware-assisted KVM (inside the
 * lab host: nested SVM).  Opens /dev/kvm, creates a VM and a vCPU, runs a
 * few real-mode instructions (out to a port, then hlt) and reports the
 * API version, some capabilities and the exits seen.
 * Exit status 0 when the guest ran and exited as expected.
 *
 *   cc -O2 -Wall -o kvmcheck tests/lab/kvmcheck.c && ./kvmcheck
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int cap(int kvm, long c)
{
	return ioctl(kvm, KVM_CHECK_EXTENSION, c);
}

static int cpu_vendor_svm(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	int svm = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5) && strstr(line, " svm"))
			svm = 1;
	fclose(f);
	return svm;
}

/* Which module provides /dev/kvm: kvm_amd / kvm_intel are hardware-assisted,
 * anything else (this project's hosts have kvm_pvm) is not. */
static const char *kvm_module(void)
{
	static const char *const mods[] = { "kvm_amd", "kvm_intel", "kvm_pvm" };
	char path[64];
	size_t i;

	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s", mods[i]);
		if (access(path, F_OK) == 0)
			return mods[i];
	}
	return "unknown";
}

int main(void)
{
	/* mov $0x3f8,%dx; mov $'K',%al; out %al,(%dx); mov $'\n',%al;
	 * out %al,(%dx); hlt */
	static const uint8_t code[] = { 0xba, 0xf8, 0x03, 0xb0, 'K', 0xee,
					0xb0, '\n', 0xee, 0xf4 };
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	struct timespec t0, t1;
	int kvm, vm, vcpu, ver, mmap_size, outs = 0;
	uint8_t *mem;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		perror("open /dev/kvm");
		return 1;
	}
	ver = ioctl(kvm, KVM_GET_API_VERSION, 0);
	printf("KVM_GET_API_VERSION     %d\n", ver);
	printf("svm in /proc/cpuinfo    %s\n", cpu_vendor_svm() ? "yes" : "no");
	printf("KVM module              %s\n", kvm_module());
	printf("KVM_CAP_NR_VCPUS        %d\n", cap(kvm, KVM_CAP_NR_VCPUS));
	printf("KVM_CAP_MAX_VCPUS       %d\n", cap(kvm, KVM_CAP_MAX_VCPUS));
	printf("KVM_CAP_NR_MEMSLOTS     %d\n", cap(kvm, KVM_CAP_NR_MEMSLOTS));
	printf("KVM_CAP_IRQCHIP         %d\n", cap(kvm, KVM_CAP_IRQCHIP));
	printf("KVM_CAP_USER_MEMORY     %d\n", cap(kvm, KVM_CAP_USER_MEMORY));
	printf("KVM_CAP_IOEVENTFD       %d\n", cap(kvm, KVM_CAP_IOEVENTFD));
	printf("KVM_CAP_IRQFD           %d\n", cap(kvm, KVM_CAP_IRQFD));
	printf("KVM_CAP_TSC_CONTROL     %d\n", cap(kvm, KVM_CAP_TSC_CONTROL));
#ifdef KVM_CAP_VM_TYPES
	printf("KVM_CAP_VM_TYPES        %#x\n", cap(kvm, KVM_CAP_VM_TYPES));
#endif
	if (ver != KVM_API_VERSION)
		return 1;

	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		perror("KVM_CREATE_VM");
		return 1;
	}
	mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memcpy(mem, code, sizeof(code));
	region = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0x1000, .memory_size = 0x1000,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		perror("KVM_SET_USER_MEMORY_REGION");
		return 1;
	}
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || mmap_size <= 0) {
		perror("KVM_CREATE_VCPU");
		return 1;
	}
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu, 0);
	if (run == MAP_FAILED) {
		perror("mmap vcpu");
		return 1;
	}
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
		perror("KVM_GET_SREGS");
		return 1;
	}
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) {
		perror("KVM_SET_SREGS");
		return 1;
	}
	regs = (struct kvm_regs){ .rip = 0x1000, .rflags = 0x2 };
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
		perror("KVM_SET_REGS");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			perror("KVM_RUN");
			return 1;
		}
		if (run->exit_reason == KVM_EXIT_IO &&
		    run->io.direction == KVM_EXIT_IO_OUT && run->io.port == 0x3f8) {
			putchar(*((char *)run + run->io.data_offset));
			outs++;
			continue;
		}
		break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("guest exits: %d port writes, then exit_reason %u (%s) in %.3f ms\n",
	       outs, run->exit_reason,
	       run->exit_reason == KVM_EXIT_HLT ? "KVM_EXIT_HLT" : "unexpected",
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	return run->exit_reason == KVM_EXIT_HLT && outs == 2 ? 0 : 1;
}
