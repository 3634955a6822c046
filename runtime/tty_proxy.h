/* `run` in the foreground with process.terminal and no --console-socket:
 * as runc does, lightvm receives the pty master itself and copies between
 * it and its own stdio, its own terminal (if any) in raw mode. */
#ifndef RT_TTY_PROXY_H
#define RT_TTY_PROXY_H

#include <stdbool.h>
#include <termios.h>

#include "../lib/error.h"

struct rt_tty_proxy {
	int master;          /* -1 when not proxying */
	bool in_open;
	bool raw;            /* our stdin's settings were changed */
	struct termios saved;
};

/* Receives the master sent over sock (SCM_RIGHTS) and prepares our stdin. */
int rt_tty_proxy_start(struct rt_tty_proxy *t, int sock, struct lv_error **err);
/* One round of copying after poll: stdin_ready / master_ready from revents. */
void rt_tty_proxy_pump(struct rt_tty_proxy *t, bool stdin_ready, bool master_ready);
/* Our terminal was resized: pass the size on. */
void rt_tty_proxy_resize(struct rt_tty_proxy *t);
/* Copies what is left from the master, restores our terminal, closes. */
void rt_tty_proxy_end(struct rt_tty_proxy *t);

#endif
