/* vmm/vmm.c: the whole-VM API.  Configuration errors name the field and
 * happen before anything is built; construction failures halfway (a kernel
 * that is missing or not a kernel) unwind without leaking (the sanitizer
 * build checks); a VM built from a real bzImage has the command line with
 * its device announced, and starts, pauses, resumes and is destroyed with
 * its threads joined.  Booting Linux needs hardware KVM (the lab host's
 * bats suite does it); here, with a software /dev/kvm, the guest only gets
 * through its first instructions in the time we give it. */
#include "../../vmm/vmm.h"
#include "tap.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *bzimage(void)
{
	const char *p = getenv("LIGHTVM_BZIMAGE");

	return p ? p : "build/bzImage";
}

static struct vmm_config base_config(int ctl_fd)
{
	return (struct vmm_config){
		.vcpus = 1,
		.mem_mib = 64,
		.kernel_path = bzimage(),
		.cmdline = "quiet",
		.ctl_fd = ctl_fd,
		.ctl_port_name = "org.lightvm.ctl",
		.debug_fd = -1,
		.log_fd = -1,
		.blk_fd = -1,
		.tap_fd = -1,
	};
}

static void expect_error(const struct vmm_config *c, int errnum, const char *needle, const char *what)
{
	struct vmm *v = NULL;
	struct lv_error *err = NULL;
	int r = vmm_create(c, &v, &err);

	ok(r == -errnum && !v && err && strstr(err->msg, needle), "%s: -%d naming \"%s\" (%s)", what, errnum, needle,
	   err ? err->msg : "no error");
	lv_error_free(&err);
}

static void test_config_errors(int ctl_fd)
{
	struct vmm_config c;
	char longline[VMM_MAX_CMDLINE];

	c = base_config(ctl_fd);
	c.vcpus = 0;
	expect_error(&c, EINVAL, "vcpus", "0 vCPUs");
	c.vcpus = VMM_MAX_VCPUS + 1;
	expect_error(&c, EINVAL, "vcpus", "too many vCPUs");
	c = base_config(ctl_fd);
	c.mem_mib = VMM_MIN_MEM_MIB - 1;
	expect_error(&c, EINVAL, "memory", "too little memory");
	c.mem_mib = VMM_MAX_MEM_MIB + 1;
	expect_error(&c, EINVAL, "memory", "too much memory");
	c = base_config(ctl_fd);
	c.kernel_path = NULL;
	expect_error(&c, EINVAL, "kernel", "no kernel");
	c = base_config(-1);
	expect_error(&c, EINVAL, "control channel", "no control fd");
	c = base_config(ctl_fd);
	c.ctl_port_name = "";
	expect_error(&c, EINVAL, "control channel", "empty port name");
	c = base_config(ctl_fd);
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	c.cmdline = longline;
	expect_error(&c, EINVAL, "command line", "command line too long");
	c = base_config(ctl_fd);
	c.nfs = VMM_MAX_FS + 1;
	c.fs = (const struct vmm_fs_config[VMM_MAX_FS + 1]){ { 0 } };
	expect_error(&c, EINVAL, "shared directories", "too many shared directories");
	c.nfs = 1;
	c.fs = NULL;
	expect_error(&c, EINVAL, "shared directories", "a shared directory without its description");
}

/* A share whose backend is gone: the handshake fails at creation, naming
 * the device, and the half-built VM unwinds. */
static void test_fs_without_backend(int ctl_fd)
{
	struct vmm_config c = base_config(ctl_fd);
	struct vmm_fs_config fs = { .tag = "lvfs0" };
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ok(0, "socketpair");
		return;
	}
	close(sv[1]);
	fs.sock_fd = sv[0];
	c.fs = &fs;
	c.nfs = 1;
	expect_error(&c, EPIPE, "virtio-fs 0", "a share whose vhost-user backend hung up");
	close(sv[0]);
}

static bool kvm_usable(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void test_bad_kernels(int ctl_fd)
{
	struct vmm_config c = base_config(ctl_fd);
	char path[] = "/tmp/lv-notakernel.XXXXXX";
	int fd;

	c.kernel_path = "/nonexistent/bzImage";
	expect_error(&c, ENOENT, "/nonexistent/bzImage", "missing kernel");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, "not a kernel at all, just some bytes\n", 37) != 37) {
		ok(0, "temporary file");
		return;
	}
	close(fd);
	c.kernel_path = path;
	expect_error(&c, ENOEXEC, "bzImage", "a file that is no bzImage");
	c = base_config(ctl_fd);
	c.initrd_path = "/nonexistent/initrd";
	if (access(c.kernel_path, R_OK) == 0)
		expect_error(&c, ENOENT, "initrd", "missing initrd");
	unlink(path);
}

static void test_lifecycle(int ctl_fd)
{
	struct vmm_config c = base_config(ctl_fd);
	struct vmm *v = NULL;
	struct lv_error *err = NULL;
	struct pollfd p;
	int r;

	c.vcpus = 2;
	r = vmm_create(&c, &v, &err);
	ok(r == 0 && v, "a 2-vCPU VM is built from %s (%s)", c.kernel_path, err ? err->msg : "ok");
	lv_error_free(&err);
	if (!v)
		return;
	ok(strstr(vmm_cmdline(v), "quiet virtio_mmio.device=0x200@0xd0000000:5") != NULL,
	   "the command line announces the console (%s)", vmm_cmdline(v));
	ok(vmm_end_reason(v) == VMM_END_NONE, "not ended before it started");
	ok(vmm_start(v, &err) == 0, "started");
	lv_error_free(&err);
	usleep(50000);
	ok(vmm_pause(v, &err) == 0, "paused: both vCPUs parked");
	lv_error_free(&err);
	ok(vmm_resume(v, &err) == 0, "resumed");
	lv_error_free(&err);
	p = (struct pollfd){ .fd = vmm_exit_fd(v), .events = POLLIN };
	r = poll(&p, 1, 0);
	ok(r == 0 || vmm_end_reason(v) != VMM_END_NONE, "exit_fd is quiet while the VM runs, or says why it ended (%s)",
	   vmm_end_message(v));
	vmm_destroy(&v);
	ok(v == NULL, "destroyed: threads joined, everything freed");
}

int main(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	test_config_errors(sv[1]);
	if (!kvm_usable()) {
		printf("# /dev/kvm unusable: skipping construction tests\n");
		ok(1, "# SKIP no /dev/kvm");
	} else {
		test_bad_kernels(sv[1]);
		test_fs_without_backend(sv[1]);
		if (access(bzimage(), R_OK) == 0)
			test_lifecycle(sv[1]);
		else
			ok(1, "# SKIP no bzImage at %s", bzimage());
	}
	close(sv[0]);
	close(sv[1]);
	return tap_done();
}
