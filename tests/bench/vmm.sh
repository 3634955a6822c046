#!/usr/bin/env bash
# VMM benchmark (the second half of `make bench`): see tests/bench/README.md.
#
# lightvm's kvm backend (our VMM, in the monitor) against its qemu backend
# (qemu-system-x86_64 -M microvm -accel kvm) and that QEMU command run
# directly, in one run with one kernel, one initramfs and KVM for all three:
# time from VM creation to the guest init's READY and to the process's exit
# (the monitor's ROOT/ID/timings), wall-clock `lightvm run`, and the host
# memory beyond guest RAM.  Needs hardware virtualization: on a host without
# vmx/svm it runs inside the lab host (tests/lab/run.sh, nested KVM; root).
#
#   tests/bench/vmm.sh
#
# Environment:
#   BENCH_N         rounds (default 10; each round runs every peer once)
#   BENCH_MEM_N     memory samples per backend (default 3)
#   BENCH_WHERE     auto (default), host, or lab
#   LIGHTVM_BIN, LIGHTVM_KERNEL, QEMU, BUSYBOX   as for tests/bench/run.sh
#   LAB_TIMEOUT     limit for the run in the lab, seconds (default 1800)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
LIGHTVM=${LIGHTVM_BIN:-$REPO/build/lightvm}
KERNEL=${LIGHTVM_KERNEL:-$REPO/build/bzImage}
QEMU=${QEMU:-$(command -v qemu-system-x86_64 || true)}
BUSYBOX=${BUSYBOX:-/bin/busybox}
PYTHON=${PYTHON:-/usr/bin/python3}
BENCH_N=${BENCH_N:-10}
BENCH_MEM_N=${BENCH_MEM_N:-3}
where=${BENCH_WHERE:-auto}

die() { echo "bench-vmm: $*" >&2; exit 1; }

[ -x "$LIGHTVM" ] || die "no lightvm binary at $LIGHTVM (run make)"
[ -r "$KERNEL" ] || die "no guest kernel at $KERNEL (run make kernel, or set LIGHTVM_KERNEL)"
[ -n "$QEMU" ] && [ -x "$QEMU" ] || die "no qemu-system-x86_64 on PATH"
[ -x "$BUSYBOX" ] || die "no busybox at $BUSYBOX"
[ -x "$PYTHON" ] || PYTHON=$(command -v python3) || die "python3 is needed"
[[ $BENCH_N =~ ^[1-9][0-9]*$ ]] && [[ $BENCH_MEM_N =~ ^[1-9][0-9]*$ ]] || die "BENCH_N and BENCH_MEM_N must be positive integers"
LIGHTVM=$(readlink -f "$LIGHTVM")
KERNEL=$(readlink -f "$KERNEL")

. "$BENCH_DIR/kvm_where.bash"
bench_kvm_where "$where" "VMM benchmark" --timeout "${LAB_TIMEOUT:-1800}" \
	--env BENCH_WHERE=host --env BENCH_N="$BENCH_N" --env BENCH_MEM_N="$BENCH_MEM_N" \
	--env LIGHTVM_BIN="$LIGHTVM" --env LIGHTVM_KERNEL="$KERNEL" --env QEMU="$QEMU" \
	--env BUSYBOX="$BUSYBOX" --env PYTHON="$PYTHON" -- "$BENCH_DIR/vmm.sh"
[ "$(id -u)" = 0 ] || die "run as root (lightvm's state and /dev/kvm)"

TMP=$(mktemp -d /tmp/lightvm-bench-vmm.XXXXXX)
MEASURE_PID=
cleanup() {
	local rc=$? root id p c
	trap - EXIT INT TERM
	set +e
	if [ -n "$MEASURE_PID" ] && kill -0 "$MEASURE_PID" 2>/dev/null; then
		kill -TERM "$MEASURE_PID" 2>/dev/null
		wait "$MEASURE_PID" 2>/dev/null
	fi
	for root in "$TMP"/root-*; do
		[ -d "$root" ] || continue
		for id in $("$LIGHTVM" --root "$root" list -q 2>/dev/null); do
			LIGHTVM_CONFIG=$TMP/lightvm-${root##*/root-}.json "$LIGHTVM" --root "$root" delete --force "$id" >/dev/null 2>&1
		done
	done
	# Anything still running that this run started names $TMP on its
	# command line (lightvm's --root, QEMU's -initrd).
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		c=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		[[ $c == *"$TMP"* ]] && kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== lightvm VMM benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPU(s), n=$BENCH_N${LAB:+, inside the lab host: nested KVM under TCG})"
echo "lightvm: $LIGHTVM ($("$LIGHTVM" --version | head -1))"
echo "kernel:  $KERNEL ($(stat -c %s "$KERNEL") bytes)"
echo "qemu:    $QEMU ($("$QEMU" --version | head -1))"
echo "host:    $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"

export LIGHTVM BENCH_N BENCH_MEM_N BENCH_TMP=$TMP KERNEL QEMU BUSYBOX
"$PYTHON" "$BENCH_DIR/vmm.py" &
MEASURE_PID=$!
wait "$MEASURE_PID"
MEASURE_PID=
