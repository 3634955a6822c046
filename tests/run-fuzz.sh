#!/usr/bin/env bash
# Run each libFuzzer target for a while on a copy of its seed corpus.
#
#   tests/run-fuzz.sh SECONDS BIN...
#
# A fuzzer counts as one test: passed if it ran SECONDS without a crash.
# The seed corpus of build/fuzz/fuzz_NAME is tests/fuzz/corpus/NAME/; it is
# copied to a temporary directory so fuzzing never writes into the tree.
# Crash artifacts are kept in $FUZZ_ARTIFACTS (default build/fuzz-artifacts).
# Last line: "N passed, N failed"; SUMMARY_FILE receives "passed failed 0".
set -uo pipefail

if [ $# -lt 1 ]; then
	echo "usage: $0 SECONDS BIN..." >&2
	exit 2
fi
seconds=$1
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
artifacts=${FUZZ_ARTIFACTS:-$repo/build/fuzz-artifacts}
mkdir -p "$artifacts"
work=$(mktemp -d /tmp/lvfuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

passed=0 failed=0
for bin in "$@"; do
	name=$(basename "$bin")
	short=${name#fuzz_}
	corpus=$work/$short
	mkdir -p "$corpus"
	seeds=$repo/tests/fuzz/corpus/$short
	[ -d "$seeds" ] && cp -a "$seeds/." "$corpus/"
	start=$SECONDS
	"$bin" -max_total_time="$seconds" -print_final_stats=0 \
		-artifact_prefix="$artifacts/$name-" "$corpus" >"$work/$name.log" 2>&1 </dev/null
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "ok - $name ($((SECONDS - start))s, corpus $(ls "$corpus" | wc -l) inputs)"
		passed=$((passed + 1))
	else
		echo "not ok - $name exited $rc after $((SECONDS - start))s; artifacts in $artifacts:"
		{ grep -m1 -A14 -E 'ERROR|runtime error' "$work/$name.log" || tail -n 20 "$work/$name.log"
		  grep -E 'Test unit written' "$work/$name.log"; } | sed 's/^/    # /'
		failed=$((failed + 1))
	fi
done

[ -n "${SUMMARY_FILE:-}" ] && echo "$passed $failed 0" >"$SUMMARY_FILE"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
