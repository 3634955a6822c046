/* Unit tests (TAP): the runtime config's "pool" object and the pool key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/config.h"
#include "../../runtime/pool.h"
#include "tap.h"

static char dir[] = "/tmp/lvpoolcfg.XXXXXX";

static int load(const char *json, struct rt_config *cfg, struct lv_error **err)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/config.json", dir);
	f = fopen(path, "w");
	fputs(json, f);
	fclose(f);
	setenv("LIGHTVM_CONFIG", path, 1);
	return rt_config_load(cfg, err);
}

int main(void)
{
	struct rt_config cfg;
	struct lv_error *err = NULL;
	struct pool_key a, b;
	char kernel[300], json[512];

	if (!mkdtemp(dir))
		return 1;
	snprintf(kernel, sizeof(kernel), "%s/bzImage", dir);
	fclose(fopen(kernel, "w"));

	ok(load("{}", &cfg, &err) == 0 && cfg.pool_target == 0 && cfg.pool_cap == 8, "defaults: target 0, cap 8");
	rt_config_free(&cfg);
	ok(load("{\"pool\": {\"target\": 2, \"cap\": 3}}", &cfg, &err) == 0 && cfg.pool_target == 2 && cfg.pool_cap == 3,
	   "target and cap read");
	rt_config_free(&cfg);
	ok(load("{\"pool\": {\"target\": 12}}", &cfg, &err) == 0 && cfg.pool_cap == 12, "a target over the default cap raises it");
	rt_config_free(&cfg);
	ok(load("{\"pool\": {\"target\": 4, \"cap\": 3}}", &cfg, &err) == -EINVAL && strstr(err->msg, "over cap"),
	   "target over an explicit cap refused");
	lv_error_free(&err);
	rt_config_free(&cfg);
	ok(load("{\"pool\": {\"size\": 1}}", &cfg, &err) == -EINVAL && strstr(err->msg, "unknown key"), "unknown key refused");
	lv_error_free(&err);
	rt_config_free(&cfg);
	ok(load("{\"pool\": 3}", &cfg, &err) == -EINVAL, "pool must be an object");
	lv_error_free(&err);
	rt_config_free(&cfg);
	ok(load("{\"pool\": {\"cap\": 5000}}", &cfg, &err) == -EINVAL, "cap over 4096 refused");
	lv_error_free(&err);
	rt_config_free(&cfg);

	snprintf(json, sizeof(json), "{\"kernel\": \"%s\"}", kernel);
	load(json, &cfg, &err);
	ok(rt_pool_key(&cfg, "qemu", 128, 1, &a, &err) == 0 && strlen(a.kernel) == 64 && strcmp(a.backend, "qemu") == 0,
	   "key: the kernel id is a sha256 in hex");
	ok(rt_pool_key(&cfg, "qemu", 128, 1, &b, &err) == 0 && memcmp(&a, &b, sizeof(a)) == 0, "key: stable");
	FILE *f = fopen(kernel, "w");
	fputs("rebuilt", f);
	fclose(f);
	ok(rt_pool_key(&cfg, "qemu", 128, 1, &b, &err) == 0 && strcmp(a.kernel, b.kernel) != 0,
	   "key: a rebuilt kernel is a new pool");
	ok(rt_pool_key(&cfg, "qemu", 128, 65, &b, &err) == -EINVAL, "key: 65 vCPUs refused");
	lv_error_free(&err);
	rt_config_free(&cfg);
	unlink(kernel);
	snprintf(json, sizeof(json), "%s/config.json", dir);
	unlink(json);
	rmdir(dir);
	return tap_done();
}
