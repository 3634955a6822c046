#!/usr/bin/env bash
# make check: unit tests, fuzzers, the integration suite with the QEMU
# backend, the same suite again with the shell pool on (a lightvm-poold
# for the run, every create claiming from it: tests/run-integration.sh,
# LIGHTVM_TEST_POOL), and the integration suite with the kvm backend (our
# own VMM); one summary at the end.
#
# The kvm leg needs hardware virtualization.  On a host with vmx or svm in
# /proc/cpuinfo it runs here; elsewhere it runs inside the lab host
# (tests/lab/run.sh: a TCG VM with emulated SVM and a nested /dev/kvm, which
# needs root), and its TAP, junit report and console log come back through
# the lab's --share directory into $CHECK_LOGS/lab/.
#
# Environment:
#   BUILD           build directory (default build)
#   FUZZ_SECONDS    per fuzz target (default 20)
#   KVM_LEG         auto (default: here with vmx/svm, else in the lab),
#                   host, lab, or off
#   LAB_BACKEND     backend of the kvm leg (default kvm; qemu validates the
#                   lab plumbing with the QEMU backend, which uses the lab's
#                   /dev/kvm)
#   LAB_CPUS        the lab's vCPUs (default 1: two vCPUs under MTTCG and
#                   two bats jobs made the suite 1.9x slower on 2 cores)
#   LAB_JOBS        bats jobs in the lab (default LAB_CPUS)
#   LAB_TIMEOUT     limit for the suite in the lab, seconds (default 1500);
#                   LAB_BOOT_TIMEOUT for its boot (default 120)
#   POOL_LEG        on (default) or off: the integration legs with the pool
#                   on: qemu here (its daemon's log is kept in
#                   $CHECK_LOGS/integration-pool/poold.log), and the kvm
#                   leg a second time (in the lab: $CHECK_LOGS/lab-pool/)
#   CHECK_LOGS      where logs are kept (default $BUILD/check-logs)
#   and what tests/run-integration.sh reads (LIGHTVM_BIN, LIGHTVM_JOBS, ...).
# The very last line is "N passed, N failed" (", N skipped" if any) over
# all phases; exits non-zero if anything failed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
build=${BUILD:-build}
case $build in /*) ;; *) build=$repo/$build ;; esac
export LIGHTVM_BIN=${LIGHTVM_BIN:-$build/lightvm}
export LIGHTVM_KERNEL=${LIGHTVM_KERNEL:-$build/bzImage}
fuzz_seconds=${FUZZ_SECONDS:-20}
kvm_leg=${KVM_LEG:-auto}
pool_leg=${POOL_LEG:-on}
lab_backend=${LAB_BACKEND:-kvm}
lab_cpus=${LAB_CPUS:-1}
lab_jobs=${LAB_JOBS:-$lab_cpus}
lab_timeout=${LAB_TIMEOUT:-1500}
lab_boot_timeout=${LAB_BOOT_TIMEOUT:-120}
logs=${CHECK_LOGS:-$build/check-logs}
case $kvm_leg in auto | host | lab | off) ;; *) echo "check: KVM_LEG must be auto, host, lab or off" >&2; exit 2 ;; esac
case $pool_leg in on | off) ;; *) echo "check: POOL_LEG must be on or off" >&2; exit 2 ;; esac
work=$(mktemp -d /tmp/lvcheck.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$logs" || exit 1

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
	timings+=("$(printf '%-28s %5ds  %s passed, %s failed, %s skipped' "$name" $((SECONDS - start)) "$p" "$f" "$s")")
}

# The integration suite inside the lab host (without the engines' files:
# docker, containerd and podman run in the legs on this host).  The lab writes the TAP as it
# goes into the shared directory, so a lab that dies or hangs half-way still
# reports what ran; the tests that never reported count as failed, and the
# lab's own failure (run.sh's message says which: boot, timeout, crash) as
# one more.
lab_suite() {
	local pool=${1:-0} share=$work/lab out=$logs/lab rc p f s planned reported
	[ "$pool" = 0 ] || out=$logs/lab-pool
	rm -rf "$share"
	mkdir -p "$share/results" "$out" || return 1
	rm -f "$out"/*
	tests/lab/run.sh --share "$share" --cpus "$lab_cpus" \
		--timeout "$lab_timeout" --boot-timeout "$lab_boot_timeout" --log "$out/console.log" \
		--env LIGHTVM_BIN="$LIGHTVM_BIN" --env LIGHTVM_KERNEL="$LIGHTVM_KERNEL" \
		--env LIGHTVM_BACKEND="$lab_backend" --env LIGHTVM_JOBS="$lab_jobs" --env LIGHTVM_TEST_POOL="$pool" \
		--env LIGHTVM_TEST_ENGINES=off \
		--env LIGHTVM_TEST_RESULTS="$share/results" --env SUMMARY_FILE="$share/summary" \
		${BATS_TEST_TIMEOUT:+--env BATS_TEST_TIMEOUT="$BATS_TEST_TIMEOUT"} \
		-- tests/run-integration.sh
	rc=$?
	cp -a "$share/results/." "$out/" 2>/dev/null
	if [ -s "$share/summary" ]; then
		cp "$share/summary" "$SUMMARY_FILE"
	elif [ -f "$share/results/tap" ]; then
		planned=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$share/results/tap" | head -n1)
		s=$(grep -Ec '^ok [0-9]+ .*# skip' "$share/results/tap")
		p=$(($(grep -Ec '^ok [0-9]+' "$share/results/tap") - s))
		f=$(grep -Ec '^not ok [0-9]+' "$share/results/tap")
		reported=$((p + s + f))
		echo "# the lab stopped (status $rc) after $reported of ${planned:-?} tests;" \
			"the rest and the lab itself count as failed"
		f=$((f + ${planned:-$reported} - reported + 1))
		echo "$p $f $s" >"$SUMMARY_FILE"
	fi
	echo "# lab logs: $out (console.log, tap, report.xml)"
	return "$rc"
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
phase "integration (qemu)" env LIGHTVM_BACKEND=qemu LIGHTVM_TEST_POOL=0 LIGHTVM_TEST_RESULTS="$logs/integration" tests/run-integration.sh
if [ "$pool_leg" = on ]; then
	phase "integration (qemu, pool on)" env LIGHTVM_BACKEND=qemu LIGHTVM_TEST_POOL=1 \
		LIGHTVM_TEST_RESULTS="$logs/integration-pool" tests/run-integration.sh
else
	echo "### integration (qemu, pool on): skipped (POOL_LEG=off)"
fi

if [ "$kvm_leg" = auto ]; then
	if grep -qwE 'vmx|svm' /proc/cpuinfo; then kvm_leg=host; else kvm_leg=lab; fi
fi
case $kvm_leg in
host)
	phase "integration ($lab_backend)" env LIGHTVM_BACKEND="$lab_backend" LIGHTVM_TEST_POOL=0 \
		LIGHTVM_TEST_RESULTS="$logs/integration-$lab_backend" tests/run-integration.sh
	[ "$pool_leg" = off ] || phase "integration ($lab_backend, pool on)" env LIGHTVM_BACKEND="$lab_backend" \
		LIGHTVM_TEST_POOL=1 LIGHTVM_TEST_RESULTS="$logs/integration-$lab_backend-pool" tests/run-integration.sh
	;;
lab)
	phase "integration ($lab_backend, lab)" lab_suite 0
	[ "$pool_leg" = off ] || phase "integration ($lab_backend, lab, pool on)" lab_suite 1
	;;
off) echo "### integration ($lab_backend): skipped (KVM_LEG=off)" ;;
esac

echo "### durations"
for t in "${timings[@]}"; do echo "#   $t"; done
line="$total_p passed, $total_f failed"
[ "$total_s" -gt 0 ] && line+=", $total_s skipped"
echo "$line"
[ "$total_f" -eq 0 ]
