/* Go's time.ParseDuration, for `events --interval` (containerd passes
 * "--interval=5s"): a sequence of decimal numbers with optional fraction,
 * each with a unit: ns, us (µs, μs), ms, s, m, h; an optional sign; "0"
 * alone needs no unit.  Messages are Go's. */
#include "cmd.h"

#include <string.h>

#include "../lib/cleanup.h"

static const struct {
	const char *unit;
	int64_t ns;
} units[] = {
	{ "ns", 1LL },
	{ "us", 1000LL },
	{ "\xc2\xb5s", 1000LL }, /* U+00B5 micro sign */
	{ "\xce\xbcs", 1000LL }, /* U+03BC Greek mu */
	{ "ms", 1000000LL },
	{ "s", 1000000000LL },
	{ "m", 60LL * 1000000000LL },
	{ "h", 3600LL * 1000000000LL },
};

int cmd_parse_duration(const char *s, int64_t *ns, struct lv_error **err)
{
	const char *p = s;
	bool neg = false;
	uint64_t total = 0;

	if (!s)
		return lv_err_msg(err, EINVAL, "time: invalid duration \"\"");
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (strcmp(p, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (!*p)
		return lv_err_msg(err, EINVAL, "time: invalid duration \"%s\"", s);
	while (*p) {
		uint64_t whole = 0, frac = 0, scale = 1, unit_ns = 0, v;
		bool digits = false, overflow = false;
		size_t ulen = 0, i;

		for (; *p >= '0' && *p <= '9'; p++) {
			digits = true;
			if (whole > (UINT64_C(1) << 63) / 10)
				overflow = true;
			whole = whole * 10 + (uint64_t)(*p - '0');
		}
		if (*p == '.') {
			p++;
			for (; *p >= '0' && *p <= '9'; p++) {
				digits = true;
				/* Digits beyond nanosecond precision of any unit
				 * cannot matter; stop scaling before overflow. */
				if (scale < UINT64_C(1000000000000000000)) {
					frac = frac * 10 + (uint64_t)(*p - '0');
					scale *= 10;
				}
			}
		}
		if (!digits || overflow)
			return lv_err_msg(err, EINVAL, "time: invalid duration \"%s\"", s);
		while (p[ulen] && p[ulen] != '.' && (p[ulen] < '0' || p[ulen] > '9'))
			ulen++;
		if (ulen == 0)
			return lv_err_msg(err, EINVAL, "time: missing unit in duration \"%s\"", s);
		for (i = 0; i < LV_ARRAY_SIZE(units); i++) {
			if (strlen(units[i].unit) == ulen && strncmp(p, units[i].unit, ulen) == 0)
				unit_ns = (uint64_t)units[i].ns;
		}
		if (!unit_ns)
			return lv_err_msg(err, EINVAL, "time: unknown unit \"%.*s\" in duration \"%s\"", (int)ulen, p,
					  s);
		p += ulen;
		if (whole > (UINT64_C(1) << 63) / unit_ns)
			return lv_err_msg(err, EINVAL, "time: invalid duration \"%s\"", s);
		v = whole * unit_ns;
		/* The fraction in long double: frac * unit_ns may overflow. */
		if (frac) {
			long double f = (long double)frac / (long double)scale * (long double)unit_ns;
			v += (uint64_t)f;
		}
		total += v;
		if (total > (UINT64_C(1) << 63))
			return lv_err_msg(err, EINVAL, "time: invalid duration \"%s\"", s);
	}
	if (!neg && total > (uint64_t)INT64_MAX)
		return lv_err_msg(err, EINVAL, "time: invalid duration \"%s\"", s);
	*ns = neg ? (int64_t)(0 - total) : (int64_t)total;
	return 0;
}
