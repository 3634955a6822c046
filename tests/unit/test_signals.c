/* The CLI's argument parsers: runc kill's signal syntax and Go durations
 * (events --interval).  cmd/ is not in liblightvm.a, so the two parser
 * files are compiled in here; they depend on nothing else in cmd/. */
#include "../../cmd/duration.c"
#include "../../cmd/signals.c"
#include "tap.h"

static int sig(const char *s)
{
	struct lv_error *err = NULL;
	int signo = -100;
	int r = cmd_parse_signal(s, &signo, &err);

	lv_error_free(&err);
	return r < 0 ? r : signo;
}

static const char *sig_error(const char *s)
{
	static char msg[256];
	struct lv_error *err = NULL;
	int signo;

	msg[0] = '\0';
	if (cmd_parse_signal(s, &signo, &err) < 0 && err)
		snprintf(msg, sizeof(msg), "%s", err->msg);
	lv_error_free(&err);
	return msg;
}

static int64_t dur(const char *s)
{
	struct lv_error *err = NULL;
	int64_t ns = -12345;
	int r = cmd_parse_duration(s, &ns, &err);

	lv_error_free(&err);
	return r < 0 ? r : ns;
}

static const char *dur_error(const char *s)
{
	static char msg[256];
	struct lv_error *err = NULL;
	int64_t ns;

	msg[0] = '\0';
	if (cmd_parse_duration(s, &ns, &err) < 0 && err)
		snprintf(msg, sizeof(msg), "%s", err->msg);
	lv_error_free(&err);
	return msg;
}

int main(void)
{
	/* Numbers are taken as they are, names in any case with or without SIG. */
	ok(sig("9") == SIGKILL, "\"9\" is SIGKILL");
	ok(sig("15") == SIGTERM, "\"15\" is SIGTERM");
	ok(sig("0") == 0, "\"0\" probes");
	ok(sig("KILL") == SIGKILL, "KILL");
	ok(sig("SIGKILL") == SIGKILL, "SIGKILL");
	ok(sig("kill") == SIGKILL, "kill");
	ok(sig("sigKill") == SIGKILL, "sigKill");
	ok(sig("TERM") == SIGTERM, "TERM");
	ok(sig("hup") == SIGHUP, "hup");
	ok(sig("USR1") == SIGUSR1 && sig("usr2") == SIGUSR2, "USR1, usr2");
	ok(sig("WINCH") == SIGWINCH, "WINCH");
	ok(sig("SIGCHLD") == SIGCHLD && sig("CLD") == SIGCHLD, "CHLD and its alias CLD");
	ok(sig("IOT") == SIGABRT && sig("POLL") == SIGIO, "IOT and POLL aliases");
	ok(sig("STKFLT") == SIGSTKFLT && sig("PWR") == SIGPWR && sig("SYS") == SIGSYS, "Linux-only names");
	ok(sig("RTMIN") == SIGRTMIN, "RTMIN");
	ok(sig("SIGRTMIN+3") == SIGRTMIN + 3, "SIGRTMIN+3");
	ok(sig("rtmin+1") == SIGRTMIN + 1, "rtmin+1");
	ok(sig("RTMAX") == SIGRTMAX && sig("RTMAX-2") == SIGRTMAX - 2, "RTMAX, RTMAX-2");
	ok(sig("RTMIN+0") == SIGRTMIN, "RTMIN+0");
	ok(sig("64") == SIGRTMAX, "64 is SIGRTMAX");

	/* Everything else is `unknown signal "X"`, quoting what was given. */
	ok(sig("FOO") == -EINVAL, "FOO is refused");
	is_str(sig_error("FOO"), "unknown signal \"FOO\"", "message names the signal as given");
	is_str(sig_error("sigfoo"), "unknown signal \"sigfoo\"", "message keeps the caller's case");
	ok(sig("") == -EINVAL, "empty is refused");
	ok(sig("65") == -EINVAL, "65 is past SIGRTMAX");
	ok(sig("-9") == -EINVAL && sig("+9") == -EINVAL && sig(" 9") == -EINVAL, "signs and spaces are refused");
	ok(sig("9x") == -EINVAL, "trailing garbage");
	ok(sig("RTMIN-1") == -EINVAL && sig("RTMAX+1") == -EINVAL, "real-time offsets point inwards only");
	ok(sig("RTMIN+31") == -EINVAL, "RTMIN+31 is past SIGRTMAX");
	ok(sig("RTMIN+") == -EINVAL && sig("RTMIN+x") == -EINVAL, "RTMIN+ needs a number");
	ok(sig("SIG") == -EINVAL && sig("SIGSIGKILL") == -EINVAL, "SIG alone, SIG twice");
	ok(sig("99999999999999999999") == -EINVAL, "huge number");

	/* Go durations. */
	ok(dur("5s") == 5000000000LL, "5s");
	ok(dur("500ms") == 500000000LL, "500ms");
	ok(dur("1m") == 60000000000LL, "1m");
	ok(dur("1h30m") == 5400000000000LL, "1h30m");
	ok(dur("1.5s") == 1500000000LL, "1.5s");
	ok(dur(".5s") == 500000000LL && dur("5.s") == 5000000000LL, ".5s and 5.s");
	ok(dur("10us") == 10000 && dur("10\xc2\xb5s") == 10000 && dur("10\xce\xbcs") == 10000, "us, µs, μs");
	ok(dur("7ns") == 7, "7ns");
	ok(dur("0") == 0 && dur("-0") == 0, "0 needs no unit");
	ok(dur("-2s") == -2000000000LL && dur("+2s") == 2000000000LL, "signs");
	ok(dur("2562047h") == 2562047LL * 3600 * 1000000000LL, "2562047h fits");
	ok(dur("2562048h") == -EINVAL, "2562048h overflows");
	ok(dur("1") == -EINVAL, "a number needs a unit");
	is_str(dur_error("1"), "time: missing unit in duration \"1\"", "Go's missing-unit message");
	is_str(dur_error("3x"), "time: unknown unit \"x\" in duration \"3x\"", "Go's unknown-unit message");
	is_str(dur_error("xyz"), "time: invalid duration \"xyz\"", "Go's invalid message");
	ok(dur("") == -EINVAL && dur("s") == -EINVAL && dur(".s") == -EINVAL && dur("-") == -EINVAL,
	   "empty, unit only, dot only, sign only");
	ok(dur("1s2") == -EINVAL, "trailing number without unit");
	return tap_done();
}
