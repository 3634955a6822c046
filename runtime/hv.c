#include "hv.h"

#include <string.h>
#include <unistd.h>

/* "auto" is our own VMM wherever /dev/kvm has hardware behind it, QEMU
 * (TCG) everywhere else: a software /dev/kvm runs Linux thousands of times
 * slower than TCG (see ENVIRONMENT.md). */
static const char *auto_backend(void)
{
	return rt_host_has_hw_virt() && access("/dev/kvm", R_OK | W_OK) == 0 ? "kvm" : "qemu";
}

int hv_select(const struct rt_config *cfg, const char *name, const struct hv_ops **out, struct lv_error **err)
{
	const struct hv_ops *ops;
	int r;

	if (!name || strcmp(name, "auto") == 0)
		name = auto_backend();
	if (strcmp(name, "qemu") == 0) {
		ops = &hv_qemu_ops;
	} else if (strcmp(name, "kvm") == 0) {
		if (!rt_host_has_hw_virt())
			return lv_err_msg(err, ENODEV,
					  "backend \"kvm\" needs hardware virtualization (vmx or svm in /proc/cpuinfo) and "
					  "this host has none; a guest would crawl: use the \"qemu\" backend (TCG)");
		ops = &hv_kvm_ops;
	} else if (strcmp(name, "xen") == 0) {
		return lv_err_msg(err, ENOSYS, "backend \"xen\" is not available yet; use the \"qemu\" or \"kvm\" backend");
	} else {
		return lv_err_msg(err, EINVAL, "unknown backend \"%s\" (expected qemu, kvm or xen)", name);
	}
	r = ops->check(cfg, err);
	if (r < 0)
		return r;
	*out = ops;
	return 0;
}
