#!/usr/bin/env bash
# Run lightvm's integration tests (bats) and print a summary.
#
#   tests/run-integration.sh [FILE.bats...]    default: tests/integration/*.bats
#
# Environment:
#   LIGHTVM_BIN       runtime under test (default build/lightvm; /usr/sbin/runc
#                     calibrates the suite against runc)
#   LIGHTVM_BACKEND   backend the tests configure (default qemu; kvm)
#   LIGHTVM_JOBS      parallel bats jobs (default 2; needs GNU parallel)
#   LIGHTVM_TEST_SUITE_DIR  suite-wide directory (template bundle, recvtty,
#                     initramfs cache); default a fresh one, removed at exit.
#                     A given one is kept, and a template already in it is
#                     used as is (tests/check.sh builds it on the host before
#                     the lab leg).
#   LIGHTVM_TEST_RESULTS  if set, a directory that receives the TAP stream
#                     (tap, written as it runs), bats' junit report.xml and
#                     the summary line (summary.txt)
#   SUMMARY_FILE      if set, "passed failed skipped" is written there
#   BATS_TEST_TIMEOUT per-test limit in seconds (default 300)
#   LIGHTVM_TEST_POOL 1: pool mode.  One lightvm-poold runs for the whole
#                     run (its root is $LIGHTVM_TEST_SUITE_DIR/poolroot, its
#                     log poold.log there or in LIGHTVM_TEST_RESULTS), every
#                     test's root links to its socket and every test's
#                     runtime config gets "rootfs_delivery": "channel" and a
#                     "pool" target (tests/integration/helpers.bash), so
#                     creates claim pre-booted shells.  At the end the
#                     daemon's claims are counted (fewer than
#                     LIGHTVM_TEST_POOL_MIN_CLAIMS, default half the passed
#                     tests that booted a VM, is a failure), then it is
#                     stopped and must leave no QEMU, socket or shell
#                     record.  qemu backend, lightvm only.
#   LIGHTVM_TEST_POOL_TARGET  the daemon's pool target (default 2)
#   LIGHTVM_TEST_ENGINES  off: the engines' files (docker, containerd,
#                     podman: tests/integration/engine_helpers.bash) skip;
#                     default auto: they run where the engine is installed
#
# Prints TAP, the time each file took, and as its last line
# "N passed, N failed" (", N skipped" when some were skipped).
# Exits non-zero if any test failed or bats itself failed.
set -uo pipefail

caller_pwd=$PWD
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo" || exit 1

if [ $# -gt 0 ]; then
	files=("$@")
else
	files=("$here"/integration/*.bats)
fi

jobs=${LIGHTVM_JOBS:-2}
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-300}

pool=${LIGHTVM_TEST_POOL:-0}
case $pool in
0 | '') pool= ;;
1) ;;
*) echo "# LIGHTVM_TEST_POOL must be 0 or 1" >&2; exit 2 ;;
esac

work=$(mktemp -d /tmp/lvsuite.XXXXXX)
pool_pid=
cleanup() {
	# A pool daemon still running (the script was interrupted): its
	# TERM ends its unclaimed shells.
	if [ -n "$pool_pid" ] && kill -TERM "$pool_pid" 2>/dev/null; then
		for _ in {1..100}; do kill -0 "$pool_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pool_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
# Suite-wide: template bundle, recvtty, and the runtime's initramfs cache,
# so they are made once per suite run.
export LIGHTVM_TEST_SUITE_DIR=${LIGHTVM_TEST_SUITE_DIR:-$work/suite}
results=${LIGHTVM_TEST_RESULTS:-}
if [ -n "$results" ]; then
	mkdir -p "$results" || exit 1
	rm -f "$results/tap" "$results/report.xml" "$results/summary.txt"
fi
# Which runtime, once for all tests (the helpers read it).
if "${LIGHTVM_BIN:-$repo/build/lightvm}" --version 2>/dev/null | grep -qi '^runc'; then
	export LIGHTVM_TEST_IS_RUNC=1
else
	export LIGHTVM_TEST_IS_RUNC=0
fi
t0=$EPOCHREALTIME
# The template now, once, rather than racing in the first tests.
bash -c '. "$1/integration/helpers.bash" && __template_rootfs' sh "$here" ||
	{ echo "# cannot make the suite's template bundle in $LIGHTVM_TEST_SUITE_DIR"; exit 1; }
t_template=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

# Pool mode: the suite's daemon, before the first test.
if [ -n "$pool" ]; then
	bin=${LIGHTVM_BIN:-$repo/build/lightvm}
	[ "$LIGHTVM_TEST_IS_RUNC" = 0 ] || { echo "# LIGHTVM_TEST_POOL=1: the runtime is runc, which has no pool"; exit 2; }
	case ${LIGHTVM_BACKEND:-qemu} in
	qemu | kvm) ;;
	*) echo "# LIGHTVM_TEST_POOL=1: pools exist for the qemu and kvm backends only"; exit 2 ;;
	esac
	# The daemon and the tests must name the kernel alike: the pool key
	# hashes its path (runtime/pool.c).
	kernel=${LIGHTVM_KERNEL:-$repo/build/bzImage}
	case $kernel in /*) ;; *) kernel=$caller_pwd/$kernel ;; esac
	export LIGHTVM_KERNEL=$kernel
	export LIGHTVM_TEST_POOL=1 LIGHTVM_TEST_POOL_TARGET=${LIGHTVM_TEST_POOL_TARGET:-2}
	export LIGHTVM_TEST_POOL_ROOT=$LIGHTVM_TEST_SUITE_DIR/poolroot
	pool_log=${results:-$LIGHTVM_TEST_SUITE_DIR}/poold.log
	pool_cfg=$LIGHTVM_TEST_SUITE_DIR/poold.json
	rm -f "$pool_log"
	# (What an interrupted run left in a kept suite directory, the daemon
	# reclaims; one still running there, it refuses to replace.)
	printf '{"kernel": "%s", "cache_dir": "%s", "backend": "%s", "rootfs_delivery": "channel", "pool": {"target": %s}}\n' \
		"$LIGHTVM_KERNEL" "$LIGHTVM_TEST_SUITE_DIR/cache" "${LIGHTVM_BACKEND:-qemu}" "$LIGHTVM_TEST_POOL_TARGET" >"$pool_cfg"
	LIGHTVM_CONFIG=$pool_cfg "$bin" --root "$LIGHTVM_TEST_POOL_ROOT" --debug --log "$pool_log" poold \
		</dev/null >>"$pool_log" 2>&1 &
	pool_pid=$!
	for _ in {1..100}; do
		LIGHTVM_CONFIG=$pool_cfg "$bin" --root "$LIGHTVM_TEST_POOL_ROOT" pool status >/dev/null 2>&1 && break
		kill -0 "$pool_pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! LIGHTVM_CONFIG=$pool_cfg "$bin" --root "$LIGHTVM_TEST_POOL_ROOT" pool status >/dev/null 2>&1; then
		echo "# pool: the daemon did not answer on $LIGHTVM_TEST_POOL_ROOT/poold.sock; its log:"
		sed 's/^/#   /' "$pool_log"
		exit 1
	fi
	echo "# pool mode: lightvm-poold $pool_pid on $LIGHTVM_TEST_POOL_ROOT, target $LIGHTVM_TEST_POOL_TARGET, log $pool_log"
fi

# pool_finish: after the tests, the daemon's account and its end.  Prints
# what it found; returns the number of failures (0, 1 or 2).
pool_finish() {
	local claims launched templates died gone rc left=() d comm f=0 vm_tests min
	# Tests that booted a VM say "one VM" in their name: at least half of
	# those that passed must have claimed a shell (some start cold on
	# purpose: another VM size, podman's own runtime root).
	vm_tests=$(grep -E '^ok [0-9]+ .*one VM' "$work/tap" | grep -cv '# skip')
	min=${LIGHTVM_TEST_POOL_MIN_CLAIMS:-$(((vm_tests + 1) / 2))}
	[ "$min" -gt 0 ] || min=1
	if ! kill -0 "$pool_pid" 2>/dev/null; then
		wait "$pool_pid"
		echo "# pool: FAIL: the daemon died during the run (status $?)"
		pool_pid=
		f=1
	fi
	claims=$(grep -c 'claimed by monitor' "$pool_log")
	launched=$(grep -c 'poold: shell [0-9]* launched' "$pool_log")
	templates=$(grep -c 'poold: kvm template of .* ready' "$pool_log")
	gone=$(grep -c 'poold: the monitor of shell [0-9]* is gone' "$pool_log")
	died=$(grep -c 'died unclaimed' "$pool_log")
	echo "# pool: $claims shells claimed of $launched QEMU shells launched and $templates kvm templates made," \
		"by $vm_tests passed tests that booted a VM;" \
		"$gone ended by the daemon after their monitor; $died died unclaimed"
	if [ "$claims" -lt "$min" ]; then
		echo "# pool: FAIL: $claims claims, fewer than $min (LIGHTVM_TEST_POOL_MIN_CLAIMS): the creates did not use the pool"
		f=1
	fi
	if [ -n "$pool_pid" ]; then
		kill -TERM "$pool_pid"
		for _ in {1..200}; do kill -0 "$pool_pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pool_pid" 2>/dev/null && echo "# pool: the daemon did not stop in 20 s after TERM: killed"
		kill -KILL "$pool_pid" 2>/dev/null
		wait "$pool_pid"
		rc=$?
		pool_pid=
		[ "$rc" -eq 0 ] || { echo "# pool: FAIL: the daemon exited $rc"; f=1; }
	fi
	# What the daemon must not leave: its socket, records, QEMUs.
	[ ! -e "$LIGHTVM_TEST_POOL_ROOT/poold.sock" ] || left+=("$LIGHTVM_TEST_POOL_ROOT/poold.sock")
	[ ! -e "$LIGHTVM_TEST_POOL_ROOT/pool" ] || left+=("$LIGHTVM_TEST_POOL_ROOT/pool:" "$LIGHTVM_TEST_POOL_ROOT"/pool/*)
	for d in /proc/[0-9]*; do
		comm=$(cat "$d/comm" 2>/dev/null) || continue
		[[ $comm == qemu-system* ]] || continue
		grep -qsaF -- "$LIGHTVM_TEST_POOL_ROOT/" "$d/cmdline" || continue
		[ "$(awk '{ sub(/.*\) /, ""); print $1 }' "$d/stat" 2>/dev/null)" != Z ] || continue
		left+=("qemu ${d#/proc/}")
		kill -KILL "${d#/proc/}" 2>/dev/null
	done
	if [ ${#left[@]} -gt 0 ]; then
		echo "# pool: FAIL: left behind by the daemon: ${left[*]}"
		f=$((f + 1))
	fi
	# What went wrong on its side, if anything (its stderr is in the log too).
	grep -vE 'level=(debug|info)' "$pool_log" | sed 's/^/# pool log: /' | head -n 20
	rm -rf "$LIGHTVM_TEST_POOL_ROOT"
	return "$f"
}

bats_args=(--tap --timing --report-formatter junit --output "$work")
# bats --jobs needs GNU parallel; check it is GNU's and runs.
if [ "$jobs" -gt 1 ] && parallel --version 2>/dev/null | grep -q 'GNU parallel' &&
	parallel --will-cite -j2 echo ::: 1 >/dev/null 2>&1; then
	bats_args+=(--jobs "$jobs")
else
	[ "$jobs" -gt 1 ] && echo "# GNU parallel not usable: running serially" >&2
fi

echo "# runtime: ${LIGHTVM_BIN:-$repo/build/lightvm}, backend ${LIGHTVM_BACKEND:-qemu}${pool:+, pool on}; bats ${bats_args[*]}"
echo "# template bundle: $LIGHTVM_TEST_SUITE_DIR (${t_template}s)"
start=$SECONDS
bats "${bats_args[@]}" "${files[@]}" | tee "$work/tap" ${results:+"$results/tap"}
bats_rc=${PIPESTATUS[0]}
pool_failures=0
if [ -n "$pool" ]; then
	pool_finish
	pool_failures=$?
fi
elapsed=$((SECONDS - start))
[ -z "$results" ] || [ ! -f "$work/report.xml" ] || cp "$work/report.xml" "$results/"

# Counts from the TAP.
planned=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$work/tap" | head -n1)
passed=$(grep -Ec '^ok [0-9]+' "$work/tap" | head -n1)
skipped=$(grep -Ec '^ok [0-9]+ .*# skip' "$work/tap")
failed=$(grep -Ec '^not ok [0-9]+' "$work/tap")
passed=$((passed - skipped))
# Tests that never reported (bats crashed or was killed) count as failed.
missing=$((${planned:-0} - passed - skipped - failed))
if [ "$missing" -gt 0 ]; then
	echo "# $missing planned tests never reported: counted as failed"
	failed=$((failed + missing))
fi
if [ "$bats_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	echo "# bats exited $bats_rc with no failed test: counted as one failure"
	failed=1
fi
if [ "$pool_failures" -gt 0 ]; then
	echo "# pool mode: the daemon's checks failed: counted as $pool_failures failure(s)"
	failed=$((failed + pool_failures))
fi

# Where the time went: per file, from bats' junit report (sum of its tests).
if [ -f "$work/report.xml" ]; then
	echo "# time per file (sum of its tests' durations):"
	sed -n 's/.*<testsuite name="\([^"]*\)" tests="\([0-9]*\)".* time="\([0-9.]*\)".*/\3 \1 \2/p' \
		"$work/report.xml" | sort -rn |
		while read -r t f n; do printf '#   %8.1fs  %-20s (%s tests)\n' "$t" "$f" "$n"; done
fi
echo "# integration wall time: ${elapsed}s"

[ -n "${SUMMARY_FILE:-}" ] && echo "$passed $failed $skipped" >"$SUMMARY_FILE"
line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line+=", $skipped skipped"
[ -z "$results" ] || echo "$line" >"$results/summary.txt"
echo "$line"
[ "$failed" -eq 0 ]
