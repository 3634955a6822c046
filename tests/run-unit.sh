#!/usr/bin/env bash
# Run the C unit test binaries (each prints TAP) and summarise.
#
#   tests/run-unit.sh BIN...
#
# Each binary's TAP is shown with its name; a binary that exits non-zero
# without a failing test line (a crash, a sanitizer report) counts as one
# failure.  Last line: "N passed, N failed" (", N skipped" if any).
# SUMMARY_FILE, if set, receives "passed failed skipped".
set -uo pipefail

passed=0 failed=0 skipped=0
work=$(mktemp -d /tmp/lvunit.XXXXXX)
trap 'rm -rf "$work"' EXIT

for bin in "$@"; do
	name=$(basename "$bin")
	echo "# $name"
	start=$SECONDS
	"$bin" >"$work/out" 2>"$work/err" </dev/null
	rc=$?
	sed 's/^/    /' "$work/out"
	[ -s "$work/err" ] && sed 's/^/    # stderr: /' "$work/err"
	p=$(grep -Ec '^ok [0-9]+' "$work/out")
	s=$(grep -Eic '^ok [0-9]+.*# skip' "$work/out")
	f=$(grep -Ec '^not ok [0-9]+' "$work/out")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$work/out" | head -n1)
	p=$((p - s))
	if [ -n "$plan" ] && [ $((p + s + f)) -lt "$plan" ]; then
		echo "# $name: planned $plan, saw $((p + s + f)): the rest count as failed"
		f=$((f + plan - p - s - f))
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "# $name: exited $rc without a failing test: one failure"
		f=1
	fi
	if [ $((p + s + f)) -eq 0 ]; then
		echo "# $name: no TAP output: one failure"
		f=1
	fi
	echo "# $name: $p passed, $f failed, $s skipped ($((SECONDS - start))s)"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done

[ -n "${SUMMARY_FILE:-}" ] && echo "$passed $failed $skipped" >"$SUMMARY_FILE"
line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line+=", $skipped skipped"
echo "$line"
[ "$failed" -eq 0 ]
