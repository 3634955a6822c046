#include "rootfs_stream.h"

#include <stdlib.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../noxs/chan.h"

int rt_rootfs_stream(int ctl_fd, int archive_fd, uint64_t deadline, uint64_t *bytes, struct lv_error **guest_err,
		     struct lv_error **err)
{
	enum { CHUNK = 128 * 1024 };
	cleanup_free uint8_t *buf = malloc(CHUNK);

	*bytes = 0;
	if (!buf)
		return lv_err(err, ENOMEM, "rootfs archive buffer");
	for (;;) {
		size_t have = 0;

		while (have < CHUNK) {
			ssize_t n = read(archive_fd, buf + have, CHUNK - have);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return lv_err(err, errno, "read");
			if (n == 0)
				break;
			have += (size_t)n;
		}
		if (have == 0)
			break;
		if (noxs_send_until(ctl_fd, NOXS_MSG_ROOTFS, buf, (uint32_t)have, deadline, guest_err) < 0)
			return 0;
		*bytes += have;
	}
	noxs_send_until(ctl_fd, NOXS_MSG_ROOTFS_END, NULL, 0, deadline, guest_err);
	return 0;
}
