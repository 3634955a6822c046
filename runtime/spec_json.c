/* Typed access to config.json values with JSON-path error messages, shared by
 * the spec parser files.  Every getter treats a missing value and JSON null
 * alike (Go's encoding/json, which writes most config.json files, emits null
 * for nil slices and maps), so callers only check presence for required
 * fields. */
#define RT_SPEC_INTERNAL
#include "spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"

/* Integers in (INT64_MAX, UINT64_MAX] do not fit jansson's json_int_t, yet
 * runc accepts them for uint64 fields (docker writes RLIM_INFINITY as
 * 18446744073709551615).  rt_spec_parse() rewrites such literals into
 * strings starting with a NUL byte, which no genuine string can contain (all
 * string getters reject NUL), and rt_js_u64() decodes them. */
#define BIG_PREFIX "u64:"

static bool is_big_marker(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) > strlen(BIG_PREFIX) + 1 &&
	       json_string_value(v)[0] == '\0' &&
	       memcmp(json_string_value(v) + 1, BIG_PREFIX, strlen(BIG_PREFIX)) == 0;
}

static const char *big_digits(const json_t *v)
{
	return json_string_value(v) + 1 + strlen(BIG_PREFIX);
}

void rt_jpath(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(buf, size, fmt, ap) < 0 && size > 0)
		buf[0] = '\0';
	va_end(ap);
}

int rt_js_fail(struct lv_error **err, const char *path, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		msg = NULL;
		return lv_err_msg(err, ENOMEM, "%s: invalid (out of memory formatting the error)", path);
	}
	return lv_err_msg(err, EINVAL, "%s: %s", path, msg);
}

bool rt_js_present(const json_t *v)
{
	return v && !json_is_null(v);
}

int rt_js_object(const json_t *v, const char *path, struct lv_error **err)
{
	if (rt_js_present(v) && !json_is_object(v))
		return rt_js_fail(err, path, "must be an object");
	return 0;
}

int rt_js_array(const json_t *v, const char *path, struct lv_error **err)
{
	if (rt_js_present(v) && !json_is_array(v))
		return rt_js_fail(err, path, "must be an array");
	return 0;
}

int rt_js_string_ref(const json_t *v, const char *path, const char **out, struct lv_error **err)
{
	if (!rt_js_present(v))
		return 0;
	if (!json_is_string(v) || is_big_marker(v))
		return rt_js_fail(err, path, "must be a string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return rt_js_fail(err, path, "must not contain NUL characters");
	*out = json_string_value(v);
	return 0;
}

int rt_js_string(const json_t *v, const char *path, char **out, struct lv_error **err)
{
	const char *s = NULL;
	int r = rt_js_string_ref(v, path, &s, err);

	if (r < 0 || !s)
		return r;
	*out = strdup(s);
	if (!*out)
		return lv_err(err, ENOMEM, "%s", path);
	return 0;
}

int rt_js_bool(const json_t *v, const char *path, bool *out, struct lv_error **err)
{
	if (!rt_js_present(v))
		return 0;
	if (!json_is_boolean(v))
		return rt_js_fail(err, path, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

int rt_js_int(const json_t *v, const char *path, long long min, long long max, long long *out,
	      struct lv_error **err)
{
	long long x;

	if (!rt_js_present(v))
		return 0;
	if (is_big_marker(v))
		return rt_js_fail(err, path, "%s is out of range (%lld..%lld)", big_digits(v), min, max);
	if (!json_is_integer(v))
		return rt_js_fail(err, path, "must be an integer");
	x = json_integer_value(v);
	if (x < min || x > max)
		return rt_js_fail(err, path, "%lld is out of range (%lld..%lld)", x, min, max);
	*out = x;
	return 0;
}

int rt_js_u64(const json_t *v, const char *path, uint64_t *out, struct lv_error **err)
{
	if (!rt_js_present(v))
		return 0;
	if (is_big_marker(v)) {
		/* Only rt_spec_parse() writes markers, and only for digit runs
		 * that fit uint64. */
		*out = strtoull(big_digits(v), NULL, 10);
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return rt_js_fail(err, path, "must be an unsigned integer");
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

void rt_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int rt_js_strv(const json_t *v, const char *path, char ***out, size_t *n, struct lv_error **err)
{
	char **strv;
	size_t len;

	if (!rt_js_present(v))
		return 0;
	if (!json_is_array(v))
		return rt_js_fail(err, path, "must be an array of strings");
	len = json_array_size(v);
	strv = calloc(len + 1, sizeof(*strv));
	if (!strv)
		return lv_err(err, ENOMEM, "%s", path);
	for (size_t i = 0; i < len; i++) {
		char p[RT_JPATH_MAX];
		int r;

		rt_jpath(p, sizeof(p), "%s[%zu]", path, i);
		if (!json_is_string(json_array_get(v, i)))
			r = rt_js_fail(err, p, "must be a string");
		else
			r = rt_js_string(json_array_get(v, i), p, &strv[i], err);
		if (r < 0) {
			rt_strv_free(strv);
			return r;
		}
	}
	*out = strv;
	if (n)
		*n = len;
	return 0;
}

int rt_js_reject(const json_t *obj, const char *parent, const char *key, const char *why,
		 struct lv_error **err)
{
	char p[RT_JPATH_MAX];

	if (!rt_js_present(json_object_get(obj, key)))
		return 0;
	rt_jpath(p, sizeof(p), "%s%s%s", parent, parent[0] ? "." : "", key);
	return rt_js_fail(err, p, "%s", why);
}
