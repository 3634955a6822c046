#!/usr/bin/env bash
# make check: unit tests, fuzzers, integration tests; one summary at the end.
#
# Environment: BUILD (default build), FUZZ_SECONDS (default 20), and what
# tests/run-integration.sh reads (LIGHTVM_BIN, LIGHTVM_JOBS, ...).
# The very last line is "N passed, N failed" (", N skipped" if any) over
# all three phases; exits non-zero if anything failed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
build=${BUILD:-build}
case $build in /*) ;; *) build=$repo/$build ;; esac
export LIGHTVM_BIN=${LIGHTVM_BIN:-$build/lightvm}
export LIGHTVM_KERNEL=${LIGHTVM_KERNEL:-$build/bzImage}
fuzz_seconds=${FUZZ_SECONDS:-20}
work=$(mktemp -d /tmp/lvcheck.XXXXXX)
trap 'rm -rf "$work"' EXIT

total_p=0 total_f=0 total_s=0
timings=()

# phase NAME COMMAND...: run it with SUMMARY_FILE, add its counts.
phase() {
	local name=$1
	shift
	local start=$SECONDS
	echo "### $name"
	rm -f "$work/summary"
	SUMMARY_FILE=$work/summary "$@"
	local rc=$? p=0 f=0 s=0
	if [ -s "$work/summary" ]; then
		read -r p f s <"$work/summary"
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "# $name exited $rc without reporting a failure: one failure"
		f=1
	fi
	total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
	timings+=("$(printf '%-12s %5ds  %s passed, %s failed, %s skipped' "$name" $((SECONDS - start)) "$p" "$f" "$s")")
}

shopt -s nullglob
unit_bins=("$build"/tests/test_*)
fuzz_bins=("$build"/fuzz/fuzz_*)
shopt -u nullglob

if [ ${#unit_bins[@]} -gt 0 ]; then
	phase unit tests/run-unit.sh "${unit_bins[@]}"
else
	echo "### unit: no binaries in $build/tests"
fi
if [ ${#fuzz_bins[@]} -gt 0 ]; then
	phase fuzz tests/run-fuzz.sh "$fuzz_seconds" "${fuzz_bins[@]}"
else
	echo "### fuzz: no binaries in $build/fuzz"
fi
phase integration tests/run-integration.sh

echo "### durations"
for t in "${timings[@]}"; do echo "#   $t"; done
line="$total_p passed, $total_f failed"
[ "$total_s" -gt 0 ] && line+=", $total_s skipped"
echo "$line"
[ "$total_f" -eq 0 ]
