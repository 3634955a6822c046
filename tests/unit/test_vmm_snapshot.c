/* vmm/snapshot: the state blob's shape checks (what a restoring monitor
 * verifies before KVM sees anything).  Snapshot and restore themselves need
 * a working /dev/kvm: the kvm-backend pool tests run them in the lab. */
#include "../../vmm/snapshot.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define PORT "org.lightvm.ctl"

static uint8_t *skeleton(unsigned int nvcpus, size_t *len)
{
	*len = vmm_snapshot_state_size(nvcpus);
	uint8_t *b = malloc(*len);

	if (b)
		vmm_snapshot_skeleton(b, nvcpus, 128, PORT);
	return b;
}

/* Corrupts a copy at off with `bytes` and expects a refusal. */
static void refused(const char *what, size_t off, const void *bytes, size_t n)
{
	struct lv_error *err = NULL;
	size_t len;
	uint8_t *b = skeleton(2, &len);

	memcpy(b + off, bytes, n);
	ok(vmm_snapshot_check(b, len, &err) == -EINVAL, "%s: refused (%s)", what, err ? err->msg : "accepted");
	lv_error_free(&err);
	free(b);
}

int main(void)
{
	struct lv_error *err = NULL;
	size_t len;
	uint8_t *b = skeleton(2, &len);
	uint32_t u;
	uint64_t u64;

	ok(b && vmm_snapshot_check(b, len, &err) == 0, "a skeleton of 2 vCPUs passes (%zu bytes)", len);
	lv_error_free(&err);
	ok(vmm_snapshot_check(b, len - 1, &err) == -EINVAL, "one byte short: refused");
	lv_error_free(&err);
	ok(vmm_snapshot_check(b, 16, &err) == -EINVAL, "shorter than the header: refused");
	lv_error_free(&err);
	ok(vmm_snapshot_state_size(1) < len && vmm_snapshot_state_size(64) <= VMM_SNAP_MAX_STATE,
	   "64 vCPUs fit the state limit");

	u = 0x12345678;
	refused("bad magic", 0, &u, 4);
	u = VMM_SNAP_VERSION + 1;
	refused("another version", 4, &u, 4);
	u = 8;
	refused("another header size", 8, &u, 4);
	u = 0;
	refused("0 vCPUs", 16, &u, 4);
	u = 65;
	refused("65 vCPUs", 16, &u, 4);
	u = 3;
	refused("3 vCPUs in a blob sized for 2", 16, &u, 4);
	u = 1;
	refused("16 MiB of RAM", 20, &u, 4);
	u64 = len + 4096;
	refused("a total beyond the blob", 24, &u64, 8);
	{
		char full[VMM_MAX_CMDLINE];
		memset(full, 'x', sizeof(full));
		refused("a command line without its NUL", 32, full, sizeof(full));
	}
	/* The port name follows the command line. */
	refused("an empty port name", 32 + VMM_MAX_CMDLINE, "", 1);
	free(b);
	return tap_done();
}
