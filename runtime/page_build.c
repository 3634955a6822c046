#include "page_build.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/cleanup.h"
#include "../noxs/page.h"

#define RT_FILE_COPY_MAX 65536

/* The guest init mounts these itself (devtmpfs on /dev, not the tmpfs a
 * runc spec asks for, since the guest's devices live there). */
static bool guest_builtin_mount(const char *dest)
{
	static const char *const builtin[] = { "/proc", "/sys", "/dev", "/dev/pts", NULL };

	for (const char *const *b = builtin; *b; b++)
		if (strcmp(dest, *b) == 0)
			return true;
	return false;
}

static int read_file(const struct rt_mount *m, struct noxs_file *f, struct lv_error **err)
{
	cleanup_close int fd = open(m->source, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;
	size_t off = 0;

	if (fd < 0)
		return lv_err(err, errno, "mount source \"%s\"", m->source);
	if (fstat(fd, &st) < 0)
		return lv_err(err, errno, "stat \"%s\"", m->source);
	if (!S_ISREG(st.st_mode) || st.st_size > RT_FILE_COPY_MAX)
		return lv_err_msg(err, EINVAL, "mount source \"%s\": must be a regular file of at most %d bytes",
				  m->source, RT_FILE_COPY_MAX);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return lv_err(err, ENOMEM, "read \"%s\"", m->source);
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	f->path = m->destination;
	f->mode = (m->flags & 1 /* MS_RDONLY */) ? (st.st_mode & 07555) : (st.st_mode & 07777);
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	f->data = buf;
	f->len = (uint32_t)off;
	return 0;
}

/* The page's host section: the host's wall clock and a fresh seed for the
 * guest's RNG.  A guest restored from a snapshot (or a shell paused since it
 * booted) has a stale clock and its template's RNG state; the guest init
 * applies both before anything of the container runs.  The clock is read
 * last, as close to the encoding as this side can. */
/* The host section's realtime: ns since the epoch, or 0 ("do not set") for
 * a host clock before 1970, which is no better than the guest's. */
static uint64_t host_realtime_ns(void)
{
	struct timespec now;

	if (clock_gettime(CLOCK_REALTIME, &now) < 0 || now.tv_sec <= 0)
		return 0;
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

void rt_page_restamp(uint8_t *page, size_t len)
{
	noxs_page_stamp_time(page, len, host_realtime_ns());
}

static int fill_host(struct noxs_proc *np, struct lv_error **err)
{
	size_t got = 0;

	while (got < sizeof(np->seed)) {
		ssize_t n = getrandom(np->seed + got, sizeof(np->seed) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return lv_err(err, n < 0 ? errno : EIO, "device page: getrandom, for the guest's RNG seed");
		got += (size_t)n;
	}
	np->realtime_ns = host_realtime_ns();
	np->has_host = true;
	return 0;
}

/* The devices and channels sections: the control port (device 0), which
 * carries the process and, with the channel delivery, the root file
 * system; then the disk and the NIC when the VM has them, in the order the
 * guest's kernel names them. */
static void fill_devices(const struct rt_page_devices *devs, struct noxs_device *dv, struct noxs_channel *ch,
			 struct noxs_proc *np)
{
	dv[np->ndevices++] = (struct noxs_device){ .kind = NOXS_DEV_CONTROL, .name = NOXS_CTL_PORT };
	ch[np->nchannels++] = (struct noxs_channel){ .what = NOXS_CHAN_PROCESS, .device = 0 };
	if (devs->rootfs_channel)
		ch[np->nchannels++] = (struct noxs_channel){ .what = NOXS_CHAN_ROOTFS, .device = 0 };
	if (devs->disk)
		dv[np->ndevices++] = (struct noxs_device){ .kind = NOXS_DEV_BLOCK, .flags = NOXS_DEVF_READONLY,
							   .name = "vda" };
	if (devs->mac) {
		struct noxs_device *d = &dv[np->ndevices++];

		*d = (struct noxs_device){ .kind = NOXS_DEV_NET, .name = devs->nic_name ? devs->nic_name : "eth0",
					   .mtu = devs->mtu };
		memcpy(d->mac, devs->mac, sizeof(d->mac));
	}
	for (size_t i = 0; i < devs->nshares; i++)
		dv[np->ndevices++] = (struct noxs_device){ .kind = NOXS_DEV_FS, .name = devs->shares[i].tag,
							   .flags = devs->shares[i].readonly ? NOXS_DEVF_READONLY : 0 };
	np->devices = dv;
	np->channels = ch;
}

int rt_page_fill_process(struct noxs_proc *np, const struct rt_process *p, struct lv_error **err)
{
	np->umask = p->umask >= 0 ? (uint32_t)p->umask : 022;
	np->rows = (uint16_t)p->rows;
	np->cols = (uint16_t)p->cols;
	np->caps[0] = p->caps.bounding;
	np->caps[1] = p->caps.effective;
	np->caps[2] = p->caps.inheritable;
	np->caps[3] = p->caps.permitted;
	np->caps[4] = p->caps.ambient;
	np->rlimits = calloc(p->nrlimits + 1, sizeof(*np->rlimits));
	if (!np->rlimits)
		return lv_err(err, ENOMEM, "device page: rlimits");
	for (size_t i = 0; i < p->nrlimits; i++) {
		np->rlimits[i].resource = (uint32_t)p->rlimits[i].resource;
		np->rlimits[i].soft = p->rlimits[i].soft;
		np->rlimits[i].hard = p->rlimits[i].hard;
	}
	np->nrlimits = (uint32_t)p->nrlimits;
	return 0;
}

int rt_page_build(const struct rt_spec *spec, const struct rt_page_devices *devs, uint8_t **page, size_t *len,
		  struct lv_error **err)
{
	const struct rt_process *p = &spec->process;
	struct noxs_device dv[3 + HV_MAX_SHARES];
	struct noxs_channel ch[2];
	struct noxs_proc np;
	size_t i, share = 0;
	int r;

	if (devs->nshares > HV_MAX_SHARES)
		return lv_err_msg(err, E2BIG, "mounts: %zu directory bind mounts, at most %u", devs->nshares, HV_MAX_SHARES);
	memset(&np, 0, sizeof(np));
	fill_devices(devs, dv, ch, &np);
	if (devs->mac && (devs->naddrs || devs->nroutes)) {
		const uint16_t nic = devs->disk ? 2 : 1; /* as fill_devices lists them */

		np.addrs = calloc(devs->naddrs + 1, sizeof(*np.addrs));
		np.routes = calloc(devs->nroutes + 1, sizeof(*np.routes));
		if (!np.addrs || !np.routes) {
			r = lv_err(err, ENOMEM, "device page");
			goto out;
		}
		for (i = 0; i < devs->naddrs; i++) {
			np.addrs[i] = devs->addrs[i];
			np.addrs[i].device = nic;
		}
		for (i = 0; i < devs->nroutes; i++) {
			np.routes[i] = devs->routes[i];
			np.routes[i].device = nic;
		}
		np.naddrs = devs->naddrs;
		np.nroutes = devs->nroutes;
	}
	np.flags = (p->terminal ? NOXS_F_TERMINAL : 0) | (spec->root_readonly ? NOXS_F_ROOT_READONLY : 0) |
		   (p->no_new_privileges ? NOXS_F_NO_NEW_PRIVS : 0) | (p->caps.present ? NOXS_F_HAS_CAPS : 0) |
		   (p->umask >= 0 ? NOXS_F_HAS_UMASK : 0);
	np.uid = p->uid;
	np.gid = p->gid;
	np.cwd = p->cwd;
	np.hostname = spec->hostname ? spec->hostname : "";
	np.args = (const char **)p->args;
	np.nargs = (uint32_t)p->nargs;
	np.env = (const char **)p->env;
	np.nenv = (uint32_t)p->nenv;
	np.gids = p->additional_gids;
	np.ngids = (uint32_t)p->n_additional_gids;

	np.mounts = calloc(spec->nmounts + 1, sizeof(*np.mounts));
	np.files = calloc(spec->nmounts + 1, sizeof(*np.files));
	np.sysctls = calloc(spec->nsysctls + 1, sizeof(*np.sysctls));
	if (!np.mounts || !np.files || !np.sysctls) {
		r = lv_err(err, ENOMEM, "device page");
		goto out;
	}
	r = rt_page_fill_process(&np, p, err);
	if (r < 0)
		goto out;
	for (i = 0; i < spec->nmounts; i++) {
		const struct rt_mount *m = &spec->mounts[i];

		if (m->kind == RT_MOUNT_FILE) {
			r = read_file(m, &np.files[np.nfiles], err);
			if (r < 0) {
				lv_err_wrap(err, "mounts[%zu]", i);
				goto out;
			}
			np.nfiles++;
		} else if (m->kind == RT_MOUNT_SHARED) {
			struct noxs_mount *nm = &np.mounts[np.nmounts++];

			if (share >= devs->nshares) {
				r = lv_err_msg(err, EINVAL, "mounts[%zu]: no share for this directory bind mount", i);
				goto out;
			}
			/* The bind's own flags (bind, rbind, propagation) mean
			 * nothing to a virtiofs mount; ro, nosuid, nodev, noexec,
			 * the atime flags do. */
			nm->destination = m->destination;
			nm->fstype = "virtiofs";
			nm->source = devs->shares[share++].tag;
			nm->flags = m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME |
						MS_RELATIME | MS_STRICTATIME);
			nm->data = "";
		} else if (m->kind == RT_MOUNT_GUEST && !guest_builtin_mount(m->destination)) {
			struct noxs_mount *nm = &np.mounts[np.nmounts++];

			nm->destination = m->destination;
			nm->fstype = m->type;
			nm->source = m->source ? m->source : m->type;
			nm->flags = m->flags;
			nm->data = m->data ? m->data : "";
		}
	}
	for (i = 0; i < spec->nsysctls; i++) {
		np.sysctls[i].key = spec->sysctls[i].key;
		np.sysctls[i].value = spec->sysctls[i].value;
	}
	np.nsysctls = (uint32_t)spec->nsysctls;
	r = fill_host(&np, err);
	if (r < 0)
		goto out;
	r = noxs_page_encode(&np, page, len, err);
out:
	explicit_bzero(np.seed, sizeof(np.seed));
	for (i = 0; np.files && i < np.nfiles; i++)
		free((void *)np.files[i].data);
	free(np.rlimits);
	free(np.mounts);
	free(np.files);
	free(np.sysctls);
	free(np.addrs);
	free(np.routes);
	return r;
}
