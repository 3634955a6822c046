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
#
# Prints TAP, the time each file took, and as its last line
# "N passed, N failed" (", N skipped" when some were skipped).
# Exits non-zero if any test failed or bats itself failed.
set -uo pipefail

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

work=$(mktemp -d /tmp/lvsuite.XXXXXX)
cleanup() { rm -rf "$work"; }
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

bats_args=(--tap --timing --report-formatter junit --output "$work")
# bats --jobs needs GNU parallel; check it is GNU's and runs.
if [ "$jobs" -gt 1 ] && parallel --version 2>/dev/null | grep -q 'GNU parallel' &&
	parallel --will-cite -j2 echo ::: 1 >/dev/null 2>&1; then
	bats_args+=(--jobs "$jobs")
else
	[ "$jobs" -gt 1 ] && echo "# GNU parallel not usable: running serially" >&2
fi

echo "# runtime: ${LIGHTVM_BIN:-$repo/build/lightvm}, backend ${LIGHTVM_BACKEND:-qemu}; bats ${bats_args[*]}"
echo "# template bundle: $LIGHTVM_TEST_SUITE_DIR (${t_template}s)"
start=$SECONDS
bats "${bats_args[@]}" "${files[@]}" | tee "$work/tap" ${results:+"$results/tap"}
bats_rc=${PIPESTATUS[0]}
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
