/* lightvm-poold's insides, shared by poold.c (the loop, the protocol),
 * poold_shells.c (QEMU shells and their records) and poold_template.c
 * (kvm templates).  Nothing outside the daemon includes this. */
#ifndef RT_POOLD_INTERNAL_H
#define RT_POOLD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pool.h"
#include "poold_template.h"

/* Between two launches for one key: one QEMU boots at a time per key. */
#define POOLD_LAUNCH_GAP_MS 400
#define POOLD_RETRY_MS 2000 /* after a failed launch */

enum watch_kind { W_LISTEN = 1, W_SIGNAL, W_CLIENT, W_MONITOR, W_TEMPLATE, W_BOOT };

struct watch {
	enum watch_kind kind;
	int fd;
	void *obj;
};

struct pd_shell {
	struct watch mon; /* W_MONITOR: pidfd of the claiming monitor, or -1 */
	uint64_t id;
	unsigned pool;
	pid_t pid;
	unsigned long long start;
	int pidfd, ctl;   /* the daemon's copies, until handed out */
	struct watch boot; /* W_BOOT: a copy of ctl until the guest says WAITING */
	uint64_t boot_deadline_ms;
	bool booted;      /* WAITING came, QEMU is stopped (SIGSTOP): claimable */
	bool claimed;
	struct pd_shell *next;
};

struct pd_pool {
	struct pool_key key;
	unsigned target, cap;
	uint64_t next_launch_ms;
	uint64_t tmpl_id, tmpl_t0;  /* ROOT/pool/<tmpl_id>/ while the template is made */
	bool kvm;                 /* a template pool (poold_template.h), else QEMU shells */
	struct pd_template tmpl;
	struct watch tw;          /* W_TEMPLATE: the child making tmpl */
};

struct poold {
	struct rt_context *ctx;
	int ep;
	struct watch lw, sw;
	char *sock_path, *dir, *initrd;
	struct pd_pool pools[POOL_MAX_POOLS];
	unsigned npools;
	struct pd_shell *shells; /* oldest first */
	uint64_t next_id;
	bool stop;
};

/* poold.c */
int watch_add(struct poold *pd, struct watch *w, struct lv_error **err);
void watch_close(struct poold *pd, struct watch *w);

/* poold_shells.c: QEMU shells.  A launched shell boots, says WAITING on
 * its control channel, and is then stopped (SIGSTOP) until a monitor
 * adopts it (and continues it); only then is it ready. */
void poold_shell_launch(struct poold *pd, unsigned pool);
/* Its QEMU ends; the reaper frees it once it is gone. */
void poold_shell_kill(struct poold *pd, struct pd_shell *sh);
/* W_BOOT: the shell's first frame. */
void poold_shell_boot(struct poold *pd, struct pd_shell *sh);
/* Shells past their boot deadline go; *timeout (ms, -1 none) shrinks to
 * the next deadline. */
void poold_shell_deadlines(struct poold *pd, int *timeout);
void poold_reap(struct poold *pd);
void poold_record_remove(struct poold *pd, uint64_t id);
void poold_record_write(struct poold *pd, const struct pd_shell *sh, pid_t monitor, unsigned long long mstart);
/* At start: what a previous daemon left. */
void poold_reclaim(struct poold *pd);

/* poold_template.c: kvm templates. */
void poold_template_launch(struct poold *pd, unsigned pool);
void poold_template_stop(struct poold *pd, struct pd_pool *p);
void poold_template_done(struct poold *pd, struct pd_pool *p);

#endif
