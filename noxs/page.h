/* The noxs device page: a versioned, fixed-layout record written by the host
 * and read by the guest init.  It describes the container's process and what
 * the guest must set up before running it.  The format is documented in
 * noxs/README.md; this header is the in-memory form shared by the host-side
 * encoder and the guest-side parser.
 *
 * The page knows nothing of OCI: the runtime translates its validated spec
 * into a struct noxs_proc.  The host is trusted by the guest, but the parser
 * still bounds every offset and count: it is fuzzed, and later transports
 * (shared memory) put the page where a bug elsewhere could scribble on it.
 */
#ifndef NOXS_PAGE_H
#define NOXS_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

#define NOXS_PAGE_MAGIC 0x5058534eu /* "NSXP" little endian */
#define NOXS_PAGE_VERSION 1u
#define NOXS_PAGE_MAX (256u * 1024u) /* whole encoded page, files included */
#define NOXS_MAX_STRINGS 4096u       /* args, env, each */
#define NOXS_MAX_ITEMS 256u          /* mounts, rlimits, gids, sysctls, files */
#define NOXS_SEED_SIZE 32u           /* the host section's RNG seed */
#define NOXS_MAX_DEVICES 64u         /* devices, channels */
#define NOXS_IFNAME_MAX 15u          /* a net device's name, as Linux's IFNAMSIZ - 1 */
#define NOXS_CTL_PORT "org.lightvm.ctl" /* the control port's name (virtio-console) */

/* flags */
#define NOXS_F_TERMINAL (1u << 0)
#define NOXS_F_ROOT_READONLY (1u << 1)
#define NOXS_F_NO_NEW_PRIVS (1u << 2)
#define NOXS_F_HAS_CAPS (1u << 3)
#define NOXS_F_HAS_UMASK (1u << 4)

struct noxs_rlimit {
	uint32_t resource;
	uint64_t soft, hard;
};

struct noxs_mount {
	const char *destination;
	const char *fstype;     /* "tmpfs", "proc", "sysfs", "devpts", "mqueue" */
	const char *source;     /* may be "" */
	uint64_t flags;         /* MS_* */
	const char *data;       /* may be "" */
};

struct noxs_file {              /* a host file copied into the guest */
	const char *path;       /* absolute guest path */
	uint32_t mode;          /* permission bits */
	uint32_t uid, gid;
	const uint8_t *data;
	uint32_t len;
};

struct noxs_sysctl {
	const char *key, *value;
};

/* Device kinds (section 10, version 1.2).  A reader skips kinds it does not
 * know. */
enum noxs_dev_kind {
	NOXS_DEV_CONTROL = 1, /* the control port: name is the virtio-console port's name */
	NOXS_DEV_BLOCK = 2,   /* a disk: name is the guest's disk name ("vda") */
	NOXS_DEV_NET = 3,     /* a NIC: found by mac, named name, mtu set, brought up */
	NOXS_DEV_FS = 4,      /* a shared directory (virtio-fs): name is its tag */
};
#define NOXS_DEVF_READONLY (1u << 0) /* block, fs: attached read-only */

struct noxs_device {
	uint16_t kind;          /* enum noxs_dev_kind */
	uint16_t flags;         /* NOXS_DEVF_* */
	const char *name;
	uint8_t mac[6];         /* net */
	uint16_t mtu;           /* net; 0 = the device's default */
};

/* What travels on which device (section 11).  device is an index into the
 * devices; a reader skips a what it does not know. */
enum noxs_chan_what {
	NOXS_CHAN_PROCESS = 1,  /* the process: stdio, signals, START, its exit status */
	NOXS_CHAN_ROOTFS = 2,   /* the root file system handed over after a claim */
};

struct noxs_channel {
	uint16_t what;          /* enum noxs_chan_what */
	uint16_t device;        /* a NOXS_DEV_CONTROL device */
};

/* Network configuration (sections 13 and 14): applied to net devices,
 * named by their index in the devices.  family is 4 or 6 (not AF_*, so the
 * page does not depend on a libc); IPv4 addresses use the first 4 bytes. */
struct noxs_addr {
	uint16_t device;
	uint8_t family, prefix;
	uint8_t addr[16];
};

struct noxs_route {
	uint16_t device;
	uint8_t family, prefix; /* destination prefix length; 0 = default route */
	uint32_t metric;        /* 0 = the kernel's default */
	uint8_t dst[16];
	uint8_t gateway[16];    /* all zero: on-link (no gateway) */
};

/* The decoded (or to-be-encoded) page.  After noxs_page_decode(), all
 * pointers point into the caller's buffer or into arrays owned by the
 * struct; free with noxs_proc_free(). */
struct noxs_proc {
	uint32_t flags;
	uint32_t uid, gid, umask;
	uint16_t rows, cols;
	uint64_t caps[5]; /* bounding, effective, inheritable, permitted, ambient */
	const char *cwd;
	const char *hostname;   /* "" = leave the kernel default */
	const char **args;      /* NULL-terminated */
	uint32_t nargs;
	const char **env;       /* NULL-terminated */
	uint32_t nenv;
	uint32_t *gids;
	uint32_t ngids;
	struct noxs_rlimit *rlimits;
	uint32_t nrlimits;
	struct noxs_mount *mounts;
	uint32_t nmounts;
	struct noxs_sysctl *sysctls;
	uint32_t nsysctls;
	struct noxs_file *files;
	uint32_t nfiles;
	/* The host section (version 1.1): what a guest restored from a snapshot
	 * cannot know by itself.  Without it (has_host false) the guest keeps
	 * the clock and RNG state it has. */
	bool has_host;
	uint64_t realtime_ns;          /* host CLOCK_REALTIME when the page was built; 0: none */
	uint8_t seed[NOXS_SEED_SIZE];  /* fresh random bytes for the guest's RNG; all zero: none */
	/* Devices, channels and the network (version 1.2). */
	struct noxs_device *devices;
	uint32_t ndevices;
	struct noxs_channel *channels;
	uint32_t nchannels;
	struct noxs_addr *addrs;
	uint32_t naddrs;
	struct noxs_route *routes;
	uint32_t nroutes;
};

/* Encodes proc into a new buffer (*out, *outlen), at most NOXS_PAGE_MAX
 * bytes; larger is an error naming what is too large. */
int noxs_page_encode(const struct noxs_proc *proc, uint8_t **out, size_t *outlen, struct lv_error **err);

/* Parses an encoded page.  buf must outlive proc (strings point into it and
 * must be NUL-terminated inside their declared extent, which is checked).
 * Every offset, length and count is bounded; a bad page is -EINVAL with a
 * message saying which part is wrong. */
int noxs_page_decode(const uint8_t *buf, size_t len, struct noxs_proc *proc, struct lv_error **err);

void noxs_proc_free(struct noxs_proc *proc);

/* Zeroes the host section's seed in place in an encoded page that
 * noxs_page_decode() accepted: the decoded proc has its own copy, and the
 * seed should not outlive its use in buffers nobody reads again.  A page
 * without a host section (or one the decoder would refuse) is left alone. */
void noxs_page_wipe_seed(uint8_t *buf, size_t len);

/* Sets the host section's realtime in place (a page built a while before
 * it is sent: a restored guest's clock should be as close as it can be).
 * Returns 0, or -1 for a page without a host section. */
int noxs_page_stamp_time(uint8_t *buf, size_t len, uint64_t realtime_ns);

#endif
