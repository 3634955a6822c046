/* config.json "linux" → sysctls, VM size (memory, vCPUs) and the network
 * namespace path; rejection of what a VM cannot take (user namespaces, host
 * devices).  Fields superseded by the VM boundary are listed in spec.c. */
#define RT_SPEC_INTERNAL
#include "spec.h"

#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"

#define MIB (UINT64_C(1) << 20)
#define MAX_CPU_NUMBER 8192 /* the kernel's largest NR_CPUS */
#define DEFAULT_CFS_PERIOD_US 100000

static const char *const namespace_types[] = { "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time" };

static int parse_sysctl(const json_t *v, struct rt_spec *spec, struct lv_error **err)
{
	const char *key;
	json_t *value;
	int r = rt_js_object(v, "linux.sysctl", err);

	if (r < 0 || !rt_js_present(v) || json_object_size(v) == 0)
		return r;
	spec->sysctls = calloc(json_object_size(v), sizeof(*spec->sysctls));
	if (!spec->sysctls)
		return lv_err(err, ENOMEM, "linux.sysctl");
	json_object_foreach((json_t *)v, key, value) {
		struct rt_sysctl *s = &spec->sysctls[spec->nsysctls];
		char p[RT_JPATH_MAX];

		rt_jpath(p, sizeof(p), "linux.sysctl[\"%s\"]", key);
		if (!json_is_string(value))
			return rt_js_fail(err, p, "must be a string");
		if (!key[0])
			return rt_js_fail(err, p, "the name must not be empty");
		s->key = strdup(key);
		if (!s->key)
			return lv_err(err, ENOMEM, "%s", p);
		spec->nsysctls++;
		if ((r = rt_js_string(value, p, &s->value, err)) < 0)
			return r;
	}
	return 0;
}

static int parse_memory(const json_t *v, struct rt_spec *spec, struct lv_error **err)
{
	const char *path = "linux.resources.memory.limit";
	long long limit = 0;
	int r = rt_js_object(v, "linux.resources.memory", err);

	if (r < 0 || !rt_js_present(v))
		return r;
	if ((r = rt_js_int(json_object_get(v, "limit"), path, -1, INT64_MAX, &limit, err)) < 0)
		return r;
	if (limit <= 0)
		return 0; /* -1 is unlimited, 0 unset: the default VM size */
	if ((uint64_t)limit < RT_MIN_MEM_MIB * MIB)
		return rt_js_fail(err, path, "%lld bytes is below the minimum VM size of %u MiB", limit,
				  RT_MIN_MEM_MIB);
	spec->mem_mib = ((uint64_t)limit + MIB - 1) / MIB;
	return 0;
}

/* Counts the CPUs in a cpuset list such as "0-3,5" (each CPU once). */
static int count_cpus(const char *list, unsigned *count)
{
	static const unsigned bits = 8 * sizeof(unsigned long);
	unsigned long set[MAX_CPU_NUMBER / (8 * sizeof(unsigned long))] = { 0 };
	const char *p = list;

	*count = 0;
	if (!*p)
		return 0;
	for (;;) {
		char *end;
		unsigned long lo, hi;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		lo = strtoul(p, &end, 10);
		hi = lo;
		if (*end == '-') {
			p = end + 1;
			if (*p < '0' || *p > '9')
				return -EINVAL;
			hi = strtoul(p, &end, 10);
		}
		if (lo > hi || hi >= MAX_CPU_NUMBER)
			return -EINVAL;
		for (unsigned long c = lo; c <= hi; c++) {
			if (!(set[c / bits] & (1UL << (c % bits)))) {
				set[c / bits] |= 1UL << (c % bits);
				(*count)++;
			}
		}
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -EINVAL;
		p = end + 1;
	}
}

static int parse_cpu(const json_t *v, struct rt_spec *spec, struct lv_error **err)
{
	const char *cpus = NULL, *field = NULL;
	long long quota = 0;
	uint64_t period = 0, n = 0;
	unsigned from_list = 0;
	int r = rt_js_object(v, "linux.resources.cpu", err);

	if (r < 0 || !rt_js_present(v))
		return r;
	if ((r = rt_js_int(json_object_get(v, "quota"), "linux.resources.cpu.quota", INT64_MIN, INT64_MAX, &quota,
			   err)) < 0 ||
	    (r = rt_js_u64(json_object_get(v, "period"), "linux.resources.cpu.period", &period, err)) < 0 ||
	    (r = rt_js_string_ref(json_object_get(v, "cpus"), "linux.resources.cpu.cpus", &cpus, err)) < 0)
		return r;
	if (quota > 0) {
		/* As with cgroups, a quota without a period uses the default. */
		if (period == 0)
			period = DEFAULT_CFS_PERIOD_US;
		n = (uint64_t)quota / period + ((uint64_t)quota % period != 0);
		field = "linux.resources.cpu.quota";
	}
	if (cpus && count_cpus(cpus, &from_list) < 0)
		return rt_js_fail(err, "linux.resources.cpu.cpus", "\"%s\" is not a CPU list such as \"0-3,5\"", cpus);
	if (from_list > 0 && (n == 0 || from_list < n)) {
		n = from_list;
		field = "linux.resources.cpu.cpus";
	}
	if (n > RT_MAX_VCPUS)
		return rt_js_fail(err, field, "%llu CPUs is above the maximum of %u vCPUs", (unsigned long long)n,
				  RT_MAX_VCPUS);
	spec->vcpus = (unsigned)n;
	return 0;
}

static int parse_resources(const json_t *v, struct rt_spec *spec, struct lv_error **err)
{
	int r = rt_js_object(v, "linux.resources", err);

	if (r < 0 || !rt_js_present(v))
		return r;
	if ((r = parse_memory(json_object_get(v, "memory"), spec, err)) < 0)
		return r;
	return parse_cpu(json_object_get(v, "cpu"), spec, err);
}

static int parse_namespaces(const json_t *v, struct rt_spec *spec, struct lv_error **err)
{
	int r = rt_js_array(v, "linux.namespaces", err);

	if (r < 0 || !rt_js_present(v))
		return r;
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *ns = json_array_get(v, i);
		const char *type = NULL, *path = NULL;
		char p[RT_JPATH_MAX], q[RT_JPATH_MAX];
		size_t k;

		rt_jpath(p, sizeof(p), "linux.namespaces[%zu]", i);
		if (!json_is_object(ns))
			return rt_js_fail(err, p, "must be an object");
		rt_jpath(q, sizeof(q), "%s.type", p);
		if (!rt_js_present(json_object_get(ns, "type")))
			return rt_js_fail(err, q, "is required");
		if ((r = rt_js_string_ref(json_object_get(ns, "type"), q, &type, err)) < 0)
			return r;
		for (k = 0; k < LV_ARRAY_SIZE(namespace_types); k++)
			if (strcmp(type, namespace_types[k]) == 0)
				break;
		if (k == LV_ARRAY_SIZE(namespace_types))
			return rt_js_fail(err, q, "unknown namespace type \"%s\"", type);
		rt_jpath(q, sizeof(q), "%s.path", p);
		if ((r = rt_js_string_ref(json_object_get(ns, "path"), q, &path, err)) < 0)
			return r;
		if (strcmp(type, "network") == 0)
			spec->has_netns = true;
		if (!path || !path[0])
			continue;
		if (path[0] != '/')
			return rt_js_fail(err, q, "must be an absolute path, not \"%s\"", path);
		if (strcmp(type, "network") == 0) {
			char *copy = strdup(path);

			if (!copy)
				return lv_err(err, ENOMEM, "%s", q);
			free(spec->netns_path);
			spec->netns_path = copy;
		}
	}
	return 0;
}

/* Rejects key when it holds anything but an empty array (or null). */
static int reject_non_empty(const json_t *lx, const char *key, const char *why, struct lv_error **err)
{
	const json_t *v = json_object_get(lx, key);

	if (!rt_js_present(v) || (json_is_array(v) && json_array_size(v) == 0) ||
	    (json_is_object(v) && json_object_size(v) == 0))
		return 0;
	return rt_js_reject(lx, "linux", key, why, err);
}

int rt_spec_parse_linux(const json_t *v, struct rt_spec *spec, struct lv_error **err)
{
	int r = rt_js_object(v, "linux", err);

	if (r < 0 || !rt_js_present(v))
		return r;
	if ((r = reject_non_empty(v, "uidMappings",
				  "user namespaces are not supported (the VM is the isolation boundary)", err)) < 0 ||
	    (r = reject_non_empty(v, "gidMappings",
				  "user namespaces are not supported (the VM is the isolation boundary)", err)) < 0 ||
	    (r = reject_non_empty(v, "devices", "passing host devices into the VM is not supported yet", err)) < 0 ||
	    (r = reject_non_empty(v, "netDevices", "moving host network devices into the VM is not supported yet",
				  err)) < 0)
		return r;
	if ((r = parse_sysctl(json_object_get(v, "sysctl"), spec, err)) < 0 ||
	    (r = parse_resources(json_object_get(v, "resources"), spec, err)) < 0)
		return r;
	return parse_namespaces(json_object_get(v, "namespaces"), spec, err);
}
