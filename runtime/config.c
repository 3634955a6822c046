#include "config.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/cleanup.h"

/* The kernel next to the binary (build tree) or in PREFIX/share/lightvm
 * (installed), so neither tests nor users need a config file. */
static char *default_kernel(void)
{
	char exe[PATH_MAX];
	char cand[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return strdup("/usr/local/share/lightvm/bzImage");
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(cand, sizeof(cand), "%s/bzImage", exe);
	if (access(cand, R_OK) == 0)
		return strdup(cand);
	snprintf(cand, sizeof(cand), "%s/../share/lightvm/bzImage", exe);
	return strdup(cand);
}

static int get_str(json_t *root, const char *key, char **dst, const char *path, struct lv_error **err)
{
	json_t *v = json_object_get(root, key);

	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return lv_err_msg(err, EINVAL, "%s: %s: must be a non-empty string", path, key);
	free(*dst);
	*dst = strdup(json_string_value(v));
	return *dst ? 0 : lv_err(err, ENOMEM, "%s", path);
}

static int get_uint(json_t *root, const char *key, uint64_t min, uint64_t max, uint64_t *dst, const char *path,
		    struct lv_error **err)
{
	json_t *v = json_object_get(root, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)min || (uint64_t)json_integer_value(v) > max)
		return lv_err_msg(err, EINVAL, "%s: %s: must be an integer from %llu to %llu", path, key,
				  (unsigned long long)min, (unsigned long long)max);
	*dst = (uint64_t)json_integer_value(v);
	return 0;
}

static int one_of(const char *v, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (strcmp(v, *allowed) == 0)
			return 1;
	return 0;
}

/* "pool": {"target": N, "cap": M}, both optional, target <= cap <= 4096. */
static int get_pool(json_t *root, struct rt_config *cfg, const char *path, struct lv_error **err)
{
	json_t *pool = json_object_get(root, "pool");
	const char *key;
	json_t *v;
	uint64_t target = cfg->pool_target, cap = cfg->pool_cap;
	int r;

	if (!pool)
		return 0;
	if (!json_is_object(pool))
		return lv_err_msg(err, EINVAL, "%s: pool: must be an object", path);
	json_object_foreach(pool, key, v) {
		if (strcmp(key, "target") != 0 && strcmp(key, "cap") != 0)
			return lv_err_msg(err, EINVAL, "%s: pool: unknown key \"%s\" (target, cap)", path, key);
	}
	if ((r = get_uint(pool, "target", 0, 4096, &target, path, err)) < 0 ||
	    (r = get_uint(pool, "cap", 0, 4096, &cap, path, err)) < 0)
		return lv_err_wrap(err, "pool");
	if (!json_object_get(pool, "cap") && target > cap)
		cap = target;
	if (target > cap)
		return lv_err_msg(err, EINVAL, "%s: pool: target %llu is over cap %llu", path, (unsigned long long)target,
				  (unsigned long long)cap);
	cfg->pool_target = (unsigned)target;
	cfg->pool_cap = (unsigned)cap;
	return 0;
}

int rt_config_load(struct rt_config *cfg, struct lv_error **err)
{
	static const char *const backends[] = { "auto", "qemu", "kvm", "xen", NULL };
	static const char *const accels[] = { "auto", "kvm", "tcg", NULL };
	static const char *const sandboxes[] = { "on", "log", "off", NULL };
	static const char *const deliveries[] = { "initramfs", "channel", NULL };
	const char *path = getenv("LIGHTVM_CONFIG");
	json_error_t jerr;
	json_t *root = NULL;
	uint64_t u;
	int r = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->backend = strdup("auto");
	cfg->accel = strdup("auto");
	cfg->kernel = default_kernel();
	cfg->qemu = strdup("qemu-system-x86_64");
	cfg->virtiofsd = strdup("/usr/lib/qemu/virtiofsd"); /* Debian's, in qemu-system-common */
	cfg->cache_dir = strdup("/var/cache/lightvm/initramfs");
	cfg->sandbox = strdup("on");
	cfg->rootfs_delivery = strdup("initramfs");
	cfg->default_mem_mib = 128;
	cfg->default_vcpus = 1;
	cfg->initramfs_max_mib = 64;
	cfg->initramfs_compress = 6;
	cfg->boot_timeout_ms = 60000;
	cfg->pool_target = 0;
	cfg->pool_cap = 8;
	if (!cfg->backend || !cfg->accel || !cfg->kernel || !cfg->qemu || !cfg->virtiofsd || !cfg->cache_dir || !cfg->sandbox ||
	    !cfg->rootfs_delivery)
		return lv_err(err, ENOMEM, "runtime config");

	if (!path || !*path) {
		path = RT_CONFIG_DEFAULT_PATH;
		if (access(path, F_OK) != 0)
			return 0;
	}
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return lv_err_msg(err, EINVAL, "runtime config %s: line %d column %d: %s", path, jerr.line, jerr.column,
				  jerr.text);
	if (!json_is_object(root)) {
		r = lv_err_msg(err, EINVAL, "runtime config %s: must be a JSON object", path);
		goto out;
	}
	cfg->path = strdup(path);
	if ((r = get_str(root, "backend", &cfg->backend, path, err)) < 0 ||
	    (r = get_str(root, "accel", &cfg->accel, path, err)) < 0 ||
	    (r = get_str(root, "kernel", &cfg->kernel, path, err)) < 0 ||
	    (r = get_str(root, "qemu", &cfg->qemu, path, err)) < 0 ||
	    (r = get_str(root, "virtiofsd", &cfg->virtiofsd, path, err)) < 0 ||
	    (r = get_str(root, "cache_dir", &cfg->cache_dir, path, err)) < 0 ||
	    (r = get_str(root, "sandbox", &cfg->sandbox, path, err)) < 0 ||
	    (r = get_str(root, "rootfs_delivery", &cfg->rootfs_delivery, path, err)) < 0)
		goto out;
	if (!one_of(cfg->rootfs_delivery, deliveries)) {
		r = lv_err_msg(err, EINVAL, "runtime config %s: rootfs_delivery: \"%s\" is not one of initramfs, channel",
			       path, cfg->rootfs_delivery);
		goto out;
	}
	if (!one_of(cfg->sandbox, sandboxes)) {
		r = lv_err_msg(err, EINVAL, "runtime config %s: sandbox: \"%s\" is not one of on, log, off", path,
			       cfg->sandbox);
		goto out;
	}
	if (!one_of(cfg->backend, backends)) {
		r = lv_err_msg(err, EINVAL, "runtime config %s: backend: \"%s\" is not one of auto, qemu, kvm, xen", path,
			       cfg->backend);
		goto out;
	}
	if (!one_of(cfg->accel, accels)) {
		r = lv_err_msg(err, EINVAL, "runtime config %s: accel: \"%s\" is not one of auto, kvm, tcg", path,
			       cfg->accel);
		goto out;
	}
	u = cfg->default_mem_mib;
	if ((r = get_uint(root, "memory_mib", 32, 1u << 20, &u, path, err)) < 0)
		goto out;
	cfg->default_mem_mib = (unsigned)u;
	u = cfg->default_vcpus;
	if ((r = get_uint(root, "vcpus", 1, 64, &u, path, err)) < 0)
		goto out;
	cfg->default_vcpus = (unsigned)u;
	if ((r = get_uint(root, "initramfs_max_mib", 1, 1024, &cfg->initramfs_max_mib, path, err)) < 0)
		goto out;
	u = (uint64_t)cfg->initramfs_compress;
	if ((r = get_uint(root, "initramfs_compress", 0, 9, &u, path, err)) < 0)
		goto out;
	cfg->initramfs_compress = (int)u;
	u = cfg->boot_timeout_ms;
	if ((r = get_uint(root, "boot_timeout_ms", 100, 3600000, &u, path, err)) < 0)
		goto out;
	cfg->boot_timeout_ms = (unsigned)u;
	r = get_pool(root, cfg, path, err);
out:
	json_decref(root);
	return r;
}

void rt_config_free(struct rt_config *cfg)
{
	free(cfg->path);
	free(cfg->backend);
	free(cfg->sandbox);
	free(cfg->rootfs_delivery);
	free(cfg->accel);
	free(cfg->kernel);
	free(cfg->qemu);
	free(cfg->virtiofsd);
	free(cfg->cache_dir);
	memset(cfg, 0, sizeof(*cfg));
}

/* Reads the first CPU's entry only: the flags and rate are the same on all. */
void rt_host_cpu_probe(struct rt_host_cpu *cpu)
{
	cleanup_fclose FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];
	double mhz = 0;
	bool known = false;

	memset(cpu, 0, sizeof(*cpu));
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '\n')
			break; /* end of the first CPU */
		if (strncmp(line, "cpu MHz", 7) == 0) {
			const char *colon = strchr(line, ':');
			if (colon)
				mhz = strtod(colon + 1, NULL);
		} else if (strncmp(line, "flags", 5) == 0) {
			cpu->hw_virt = strstr(line, " vmx") || strstr(line, " svm");
			known = strstr(line, " tsc_known_freq") != NULL;
		}
	}
	if (known && mhz > 0 && mhz < 100000)
		cpu->tsc_khz = (unsigned)(mhz * 1000.0 + 0.5);
}

bool rt_host_has_hw_virt(void)
{
	struct rt_host_cpu cpu;

	rt_host_cpu_probe(&cpu);
	return cpu.hw_virt;
}
