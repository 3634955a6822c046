/* Guest setup: the fixed mounts every guest gets, the control port, and
 * applying the device page (host clock and RNG seed, mounts, files,
 * hostname, sysctls, read-only root). */
#include "guest.h"

#include <dirent.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"

#define CTL_WAIT_MS 10000 /* the port's name arrives asynchronously */
#define PROPAGATION_FLAGS (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

/* From <linux/random.h>, which the musl toolchain does not ship. */
#ifndef RNDADDENTROPY
#define RNDADDENTROPY _IOW('R', 0x03, int[2])
#endif
#ifndef RNDRESEEDCRNG
#define RNDRESEEDCRNG _IO('R', 0x07)
#endif

/* struct rand_pool_info with room for the seed. */
struct guest_entropy {
	int entropy_count; /* bits credited */
	int buf_size;      /* bytes */
	uint8_t buf[NOXS_SEED_SIZE];
};

int guest_mkdir_p(const char *path, mode_t mode, struct lv_error **err)
{
	cleanup_free char *p = strdup(path);
	char *s;

	if (!p)
		return lv_err(err, ENOMEM, "mkdir %s", path);
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return lv_err(err, errno, "mkdir %s", p);
		*s = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int do_mount(const char *src, const char *dst, const char *type, unsigned long flags,
		    const char *data, struct lv_error **err)
{
	if (mount(src, dst, type, flags, data) < 0)
		return lv_err(err, errno, "mount %s on %s", type, dst);
	return 0;
}

int guest_early_mounts(struct guest_ctx *g, struct lv_error **err)
{
	int r;

	/* devtmpfs may already be there (CONFIG_DEVTMPFS_MOUNT with a disk
	 * root); an initramfs root never has it. */
	mkdir("/dev", 0755);
	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") < 0 && errno != EBUSY)
		return lv_err(err, errno, "mount devtmpfs on /dev");
	guest_fix_stdio();
	r = guest_mkdir_p("/proc", 0555, err);
	if (r >= 0)
		r = do_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err);
	if (r < 0)
		return r;
	if (guest_cmdline_has("lightvm.debug")) {
		g->debug = true;
		g->console = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	}
	r = guest_mkdir_p("/sys", 0555, err);
	if (r >= 0)
		r = do_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err);
	if (r >= 0)
		r = guest_mkdir_p("/dev/pts", 0755, err);
	if (r >= 0)
		r = do_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
			     "newinstance,ptmxmode=0666,mode=0620,gid=5", err);
	if (r < 0)
		return r;
	/* devtmpfs provides /dev/ptmx (5:2), which since Linux 4.7 opens the
	 * devpts instance mounted at the sibling "pts"; without the node,
	 * point it at our instance. */
	if (access("/dev/ptmx", F_OK) < 0 && symlink("pts/ptmx", "/dev/ptmx") < 0)
		return lv_err(err, errno, "symlink /dev/ptmx");
	guest_log(g, "proc, sysfs, devpts mounted");
	return 0;
}

/* Points fds 0, 1, 2 at /dev/null, so that no file init opens later lands on
 * them and the child never inherits the console. */
void guest_fix_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_NOCTTY);

	if (fd < 0)
		return; /* keep whatever the kernel gave us */
	for (int i = 0; i < 3; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

bool guest_cmdline_has(const char *word)
{
	char buf[4096];
	cleanup_close int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	size_t wlen = strlen(word);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (char *s = buf; (s = strstr(s, word)); s += wlen) {
		bool start = s == buf || s[-1] == ' ';
		char end = s[wlen];
		if (start && (end == '\0' || end == ' ' || end == '\n'))
			return true;
	}
	return false;
}

static bool port_has_name(const char *entry)
{
	char path[300], name[64];
	cleanup_close int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", entry);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, name, sizeof(name) - 1);
	if (n <= 0)
		return false;
	name[n] = '\0';
	name[strcspn(name, "\n")] = '\0';
	return strcmp(name, NOXS_CTL_PORT) == 0;
}

static int open_ctl_port(struct guest_ctx *g)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *de;
	int fd = -ENOENT;

	if (!d)
		return -ENOENT;
	while ((de = readdir(d))) {
		char dev[300];
		if (de->d_name[0] == '.' || !port_has_name(de->d_name))
			continue;
		snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
		/* Blocking on purpose: a blocking write returns only once the
		 * host has taken the data, so EXIT is not lost at power off. */
		fd = open(dev, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
		else
			guest_log(g, "control port %s", dev);
		break;
	}
	closedir(d);
	return fd;
}

int guest_find_ctl(struct guest_ctx *g, struct lv_error **err)
{
	const struct timespec tick = {.tv_nsec = 1000 * 1000};
	int fd = -ENOENT;

	/* virtio-serial announces ports and their names from a workqueue
	 * after the driver probed: they may show up after we start.  A fine
	 * tick: every millisecond here is on every container's start path. */
	for (int waited = 0; waited < CTL_WAIT_MS; waited += 1) {
		fd = open_ctl_port(g);
		if (fd >= 0) {
			g->ctl = fd;
			return 0;
		}
		nanosleep(&tick, NULL);
	}
	return lv_err(err, -fd, "no virtio port named %s", NOXS_CTL_PORT);
}

static bool is_tmp(const char *path)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	return n == 4 && strncmp(path, "/tmp", 4) == 0;
}

static int apply_mount(const struct noxs_mount *m, struct lv_error **err)
{
	unsigned long flags = (unsigned long)m->flags;
	unsigned long prop = flags & PROPAGATION_FLAGS;
	const char *src = m->source[0] ? m->source : m->fstype;
	const char *data = m->data[0] ? m->data : NULL;
	int r;

	if (m->destination[0] != '/')
		return lv_err_msg(err, EINVAL, "mount destination %s is not absolute", m->destination);
	r = guest_mkdir_p(m->destination, 0755, err);
	if (r < 0)
		return r;
	r = do_mount(src, m->destination, m->fstype, flags & ~prop & ~(unsigned long)MS_REMOUNT, data, err);
	if (r < 0)
		return r;
	/* A bind mount ignores MS_RDONLY until remounted. */
	if ((flags & MS_BIND) && (flags & MS_RDONLY) &&
	    mount(NULL, m->destination, NULL, (flags & ~prop) | MS_REMOUNT, NULL) < 0)
		return lv_err(err, errno, "remount %s read-only", m->destination);
	if (prop && mount(NULL, m->destination, NULL, prop, NULL) < 0)
		return lv_err(err, errno, "set propagation of %s", m->destination);
	return 0;
}

static int apply_file(const struct noxs_file *f, struct lv_error **err)
{
	cleanup_free char *dir = strdup(f->path);
	cleanup_close int fd = -1;
	char *slash;
	int r;

	if (!dir)
		return lv_err(err, ENOMEM, "file %s", f->path);
	if (f->path[0] != '/')
		return lv_err_msg(err, EINVAL, "file path %s is not absolute", f->path);
	slash = strrchr(dir, '/');
	if (slash != dir) {
		*slash = '\0';
		r = guest_mkdir_p(dir, 0755, err);
		if (r < 0)
			return r;
	}
	fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, f->mode & 07777);
	if (fd < 0)
		return lv_err(err, errno, "create %s", f->path);
	r = write_all(fd, f->data, f->len);
	if (r < 0)
		return lv_err(err, -r, "write %s", f->path);
	if (fchown(fd, f->uid, f->gid) < 0)
		return lv_err(err, errno, "chown %s", f->path);
	/* After chown, which clears set-id bits; and without our umask. */
	if (fchmod(fd, f->mode & 07777) < 0)
		return lv_err(err, errno, "chmod %s", f->path);
	return 0;
}

static int apply_sysctl(const struct noxs_sysctl *s, struct lv_error **err)
{
	char path[512];
	cleanup_close int fd = -1;
	size_t klen = strlen(s->key);
	int r;

	if (klen == 0 || klen > sizeof(path) - sizeof("/proc/sys/") || strstr(s->key, "..") ||
	    s->key[0] == '.' || s->key[0] == '/')
		return lv_err_msg(err, EINVAL, "sysctl %s: invalid key", s->key);
	snprintf(path, sizeof(path), "/proc/sys/%s", s->key);
	for (char *p = path + sizeof("/proc/sys/") - 1; *p; p++)
		if (*p == '.')
			*p = '/';
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return lv_err(err, errno, "sysctl %s", s->key);
	r = write_all(fd, s->value, strlen(s->value));
	if (r < 0)
		return lv_err(err, -r, "sysctl %s = %s", s->key, s->value);
	return 0;
}

/* The page's time is when the host built it, so by the time the guest reads
 * it the true time is later by the page's way here (milliseconds from a
 * restored snapshot, up to seconds for a cold boot under TCG): it is a lower
 * bound.  A clock behind it is stale (a restored snapshot, a shell paused
 * since it booted, a VMM without an RTC) and is set to it; a clock ahead of
 * it was read from the RTC or kvm-clock at this boot, is closer to the truth,
 * and stays.  A failing clock_settime() is a bug: PID 1 has CAP_SYS_TIME, and
 * the value is the host's own clock. */
static int apply_clock(uint64_t host_ns, char *msg, size_t size, struct lv_error **err)
{
	struct timespec now, ts;
	int64_t now_ns, step_ms;

	if (host_ns == 0) {
		snprintf(msg, size, "no host time");
		return 0;
	}
	if (clock_gettime(CLOCK_REALTIME, &now) < 0)
		return lv_err(err, errno, "clock_gettime(CLOCK_REALTIME)");
	now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	step_ms = (int64_t)(host_ns / 1000000) - now_ns / 1000000;
	if (now_ns >= 0 && (uint64_t)now_ns >= host_ns) {
		snprintf(msg, size, "clock kept (%lld ms ahead of the page's)", (long long)-step_ms);
		return 0;
	}
	ts.tv_sec = (time_t)(host_ns / 1000000000u);
	ts.tv_nsec = (long)(host_ns % 1000000000u);
	if (clock_settime(CLOCK_REALTIME, &ts) < 0)
		return lv_err(err, errno, "set the clock to the host's (%lld.%09ld s since the epoch)", (long long)ts.tv_sec,
			      ts.tv_nsec);
	snprintf(msg, size, "clock set (+%lld ms)", (long long)step_ms);
	return 0;
}

/* Mixes the seed into the kernel's input pool, credited (the host drew it
 * from its own getrandom()), then has the CRNG reseed at once: without that
 * a restored guest would go on producing its template's stream until the
 * next scheduled reseed, a minute away.  /dev is the devtmpfs mounted at
 * boot (moved, not replaced, when the root arrived over the channel), so
 * /dev/urandom is there; a failure to open it or of RNDADDENTROPY is a bug.
 * A kernel before 4.17 does not know RNDRESEEDCRNG (EINVAL): the seed is in
 * the pool and reaches the CRNG at its next reseed, which is worth a warning,
 * not a failed container. */
static int apply_seed(struct guest_ctx *g, const uint8_t *seed, const char **msg, struct lv_error **err)
{
	static const uint8_t none[NOXS_SEED_SIZE];
	struct guest_entropy ent = { .entropy_count = NOXS_SEED_SIZE * 8, .buf_size = NOXS_SEED_SIZE };
	cleanup_close int fd = -1;
	int r;

	if (memcmp(seed, none, NOXS_SEED_SIZE) == 0) {
		*msg = "no rng seed";
		return 0;
	}
	fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return lv_err(err, errno, "open /dev/urandom");
	memcpy(ent.buf, seed, NOXS_SEED_SIZE);
	r = ioctl(fd, RNDADDENTROPY, &ent);
	explicit_bzero(&ent, sizeof(ent));
	if (r < 0)
		return lv_err(err, errno, "add the host's seed to the kernel RNG (RNDADDENTROPY)");
	if (ioctl(fd, RNDRESEEDCRNG) < 0) {
		if (errno != EINVAL && errno != ENOTTY)
			return lv_err(err, errno, "reseed the kernel CRNG (RNDRESEEDCRNG)");
		guest_console(g, "warning: this kernel cannot reseed its CRNG at once (RNDRESEEDCRNG: %s); "
			      "the host's seed is in the pool for its next reseed", strerror(errno));
		*msg = "rng seeded (reseed pending)";
		return 0;
	}
	*msg = "rng reseeded";
	return 0;
}

/* The host section, before anything else of the page: mounts, files and the
 * process then see the host's time and an RNG no other guest shares. */
static int apply_host(struct guest_ctx *g, struct lv_error **err)
{
	struct noxs_proc *p = &g->proc;
	const char *rng = "";
	char clock_msg[80];
	int r;

	if (!p->has_host) {
		guest_log(g, "page: no host section: clock and rng as booted");
		return 0;
	}
	r = apply_clock(p->realtime_ns, clock_msg, sizeof(clock_msg), err);
	if (r >= 0)
		r = apply_seed(g, p->seed, &rng, err);
	explicit_bzero(p->seed, sizeof(p->seed));
	if (r < 0)
		return r;
	guest_log(g, "page: %s, %s", clock_msg, rng);
	return 0;
}

int guest_apply_page(struct guest_ctx *g, struct lv_error **err)
{
	const struct noxs_proc *p = &g->proc;
	bool page_tmp = false;
	int r;

	r = apply_host(g, err);
	if (r < 0)
		return r;

	for (uint32_t i = 0; i < p->nmounts; i++)
		page_tmp |= is_tmp(p->mounts[i].destination);
	if (!page_tmp) {
		r = guest_mkdir_p("/tmp", 01777, err);
		if (r >= 0)
			r = do_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", err);
		if (r < 0)
			return r;
	}
	for (uint32_t i = 0; i < p->nmounts; i++) {
		r = apply_mount(&p->mounts[i], err);
		if (r < 0)
			return r;
		guest_log(g, "mounted %s on %s", p->mounts[i].fstype, p->mounts[i].destination);
	}
	for (uint32_t i = 0; i < p->nfiles; i++) {
		r = apply_file(&p->files[i], err);
		if (r < 0)
			return r;
		guest_log(g, "wrote %s (%u bytes)", p->files[i].path, p->files[i].len);
	}
	if (p->hostname && p->hostname[0] && sethostname(p->hostname, strlen(p->hostname)) < 0)
		return lv_err(err, errno, "sethostname %s", p->hostname);
	r = guest_apply_net(g, err);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < p->nsysctls; i++) {
		r = apply_sysctl(&p->sysctls[i], err);
		if (r < 0)
			return r;
	}
	/* The working directory must exist before the root turns read-only;
	 * the child creates it again only if this was not possible. */
	if (p->cwd && p->cwd[0] == '/')
		guest_mkdir_p(p->cwd, 0755, NULL);
	if (p->flags & NOXS_F_ROOT_READONLY) {
		if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
			return lv_err(err, errno, "remount / read-only");
		guest_log(g, "root is read-only");
	}
	return 0;
}

int guest_switch_root(struct guest_ctx *g, const char *newroot, struct lv_error **err)
{
	static const char *const moved[] = { "/dev", "/proc", "/sys" };
	char path[PATH_MAX];
	struct stat st;
	int r;

	for (size_t i = 0; i < LV_ARRAY_SIZE(moved); i++) {
		snprintf(path, sizeof(path), "%s%s", newroot, moved[i]);
		/* The archive may hold a symlink here: it would resolve in the
		 * initramfs, not in the new root. */
		if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode))
			return lv_err_msg(err, ENOTDIR, "rootfs: %s is not a directory", moved[i]);
		r = guest_mkdir_p(path, 0755, err);
		if (r < 0)
			return r;
		if (mount(moved[i], path, NULL, MS_MOVE, NULL) < 0)
			return lv_err(err, errno, "move %s to %s", moved[i], path);
	}
	if (chdir(newroot) < 0)
		return lv_err(err, errno, "chdir %s", newroot);
	if (mount(newroot, "/", NULL, MS_MOVE, NULL) < 0)
		return lv_err(err, errno, "move %s to /", newroot);
	if (chroot(".") < 0 || chdir("/") < 0)
		return lv_err(err, errno, "chroot into the new root");
	guest_log(g, "switched root to the received file system");
	return 0;
}
