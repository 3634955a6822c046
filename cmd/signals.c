/* Signal names as `runc kill` takes them.  runc: a decimal number is used as
 * is; otherwise the name is upper-cased, "SIG" prefixed when missing and
 * looked up.  We add the real-time signals (RTMIN, RTMIN+n, RTMAX-n) and
 * bound numbers to the signals that exist. */
#include "cmd.h"

#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/cleanup.h"

static const struct {
	const char *name; /* without "SIG" */
	int signo;
} signal_names[] = {
	{ "HUP", SIGHUP },	 { "INT", SIGINT },	  { "QUIT", SIGQUIT },	   { "ILL", SIGILL },
	{ "TRAP", SIGTRAP },	 { "ABRT", SIGABRT },	  { "IOT", SIGIOT },	   { "BUS", SIGBUS },
	{ "FPE", SIGFPE },	 { "KILL", SIGKILL },	  { "USR1", SIGUSR1 },	   { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },	 { "PIPE", SIGPIPE },	  { "ALRM", SIGALRM },	   { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD },	  { "CLD", SIGCHLD },	   { "CONT", SIGCONT },
	{ "STOP", SIGSTOP },	 { "TSTP", SIGTSTP },	  { "TTIN", SIGTTIN },	   { "TTOU", SIGTTOU },
	{ "URG", SIGURG },	 { "XCPU", SIGXCPU },	  { "XFSZ", SIGXFSZ },	   { "VTALRM", SIGVTALRM },
	{ "PROF", SIGPROF },	 { "WINCH", SIGWINCH },	  { "IO", SIGIO },	   { "POLL", SIGPOLL },
	{ "PWR", SIGPWR },	 { "SYS", SIGSYS },
};

/* Decimal digits only (no sign, no spaces), at most 9 of them. */
static bool small_number(const char *s, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 9)
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = v;
	return i > 0;
}

/* "RTMIN", "RTMIN+n", "RTMAX", "RTMAX-n" (name already upper-case, without
 * "SIG"); 0 when it is not one of those or out of range. */
static int realtime_signal(const char *name)
{
	unsigned long n = 0;
	int base, sign;
	const char *rest;

	if (strncmp(name, "RTMIN", 5) == 0) {
		base = SIGRTMIN;
		sign = 1;
	} else if (strncmp(name, "RTMAX", 5) == 0) {
		base = SIGRTMAX;
		sign = -1;
	} else {
		return 0;
	}
	rest = name + 5;
	if (*rest) {
		if (*rest != (sign > 0 ? '+' : '-') || !small_number(rest + 1, &n) ||
		    n > (unsigned long)(SIGRTMAX - SIGRTMIN))
			return 0;
	}
	return base + sign * (int)n;
}

int cmd_parse_signal(const char *s, int *signo, struct lv_error **err)
{
	cleanup_free char *up = NULL;
	unsigned long n;
	const char *name;
	size_t i;
	int rt;

	if (!s || !*s)
		return lv_err_msg(err, EINVAL, "unknown signal \"\"");
	if (small_number(s, &n)) {
		/* 0 is accepted as kill(2) takes it: it probes, sends nothing. */
		if (n > (unsigned long)SIGRTMAX)
			return lv_err_msg(err, EINVAL, "unknown signal \"%s\"", s);
		*signo = (int)n;
		return 0;
	}
	up = strdup(s);
	if (!up)
		return lv_err(err, ENOMEM, "parsing signal");
	for (i = 0; up[i]; i++)
		up[i] = (char)toupper((unsigned char)up[i]);
	name = strncmp(up, "SIG", 3) == 0 ? up + 3 : up;
	for (i = 0; i < LV_ARRAY_SIZE(signal_names); i++) {
		if (strcmp(name, signal_names[i].name) == 0) {
			*signo = signal_names[i].signo;
			return 0;
		}
	}
	rt = realtime_signal(name);
	if (rt > 0) {
		*signo = rt;
		return 0;
	}
	return lv_err_msg(err, EINVAL, "unknown signal \"%s\"", s);
}
