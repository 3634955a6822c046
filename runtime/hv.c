#include "hv.h"

#include <string.h>

int hv_select(const struct rt_config *cfg, const char *name, const struct hv_ops **out, struct lv_error **err)
{
	int r;

	if (!name || strcmp(name, "auto") == 0)
		name = "qemu"; /* the only backend built so far */
	if (strcmp(name, "qemu") == 0) {
		r = hv_qemu_ops.check(cfg, err);
		if (r < 0)
			return r;
		*out = &hv_qemu_ops;
		return 0;
	}
	if (strcmp(name, "kvm") == 0) {
		if (!rt_host_has_hw_virt())
			return lv_err_msg(err, ENODEV,
					  "backend \"kvm\" needs hardware virtualization (vmx or svm in /proc/cpuinfo) and "
					  "this host has none; a guest would crawl: use the \"qemu\" backend (TCG)");
		return lv_err_msg(err, ENOSYS, "backend \"kvm\": lightvm's own KVM VMM is not available yet; "
					      "use the \"qemu\" backend");
	}
	if (strcmp(name, "xen") == 0)
		return lv_err_msg(err, ENOSYS, "backend \"xen\" is not available yet; use the \"qemu\" backend");
	return lv_err_msg(err, EINVAL, "unknown backend \"%s\" (expected qemu, kvm or xen)", name);
}
