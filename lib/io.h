/* Small I/O helpers shared by the runtime's relays. */
#ifndef LV_IO_H
#define LV_IO_H

#include <stdbool.h>
#include <stddef.h>

/* Writes all of p to fd, retrying on EINTR and waiting with poll() on
 * EAGAIN; false when fd fails (a reader that went away loses the output,
 * as a process writing into a closed pipe would). */
bool lv_write_all(int fd, const void *p, size_t len);

#endif
