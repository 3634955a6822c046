#!/usr/bin/env bash
# lightvm start-up benchmark (`make bench`): see tests/bench/README.md.
#
# One run, one host, one kernel, one initramfs:
#   a. lightvm run of a BusyBox bundle running `true` (cold: no pool, the
#      initramfs already in the cache), a fresh id each time;
#   b. the floor: qemu-system-x86_64 booting the same kernel and the same
#      cached initramfs with lightvm's machine options, /bin/sh as PID 1
#      running `true; reboot -f`;
#   c. runc run of the same bundle.
# Median/min/max of BENCH_N (default 10) samples each, interleaved.
#
# Environment:
#   BENCH_N         samples per peer (default 10)
#   LIGHTVM_KERNEL  guest kernel (default build/bzImage, what `make kernel` makes)
#   LIGHTVM_BIN     lightvm binary (default build/lightvm)
#   RUNC            runc binary (default /usr/sbin/runc)
#   QEMU            QEMU binary (default qemu-system-x86_64 on PATH)
#   BUSYBOX         static BusyBox (default /bin/busybox)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
LIGHTVM=${LIGHTVM_BIN:-$REPO/build/lightvm}
KERNEL=${LIGHTVM_KERNEL:-$REPO/build/bzImage}
RUNC=${RUNC:-/usr/sbin/runc}
QEMU=${QEMU:-$(command -v qemu-system-x86_64 || true)}
BUSYBOX=${BUSYBOX:-/bin/busybox}
PYTHON=${PYTHON:-$(command -v python3)}
BENCH_N=${BENCH_N:-10}

die() { echo "bench: $*" >&2; exit 1; }

[ -x "$LIGHTVM" ] || die "no lightvm binary at $LIGHTVM (run make)"
[ -r "$KERNEL" ] || die "no guest kernel at $KERNEL (run make kernel, or set LIGHTVM_KERNEL)"
[ -x "$RUNC" ] || die "no runc at $RUNC"
[ -n "$QEMU" ] && [ -x "$QEMU" ] || die "no qemu-system-x86_64 on PATH"
[ -x "$BUSYBOX" ] || die "no busybox at $BUSYBOX"
[ -n "$PYTHON" ] || die "python3 is needed"
[[ "$BENCH_N" =~ ^[1-9][0-9]*$ ]] || die "BENCH_N must be a positive integer"
KERNEL=$(readlink -f "$KERNEL")

TMP=$(mktemp -d /tmp/lightvm-bench.XXXXXX)
BUNDLE=$TMP/bundle
LV_ROOT=$TMP/lightvm-root
RUNC_ROOT=$TMP/runc-root
CACHE=$TMP/initramfs-cache
export LIGHTVM_CONFIG=$TMP/lightvm.json
MEASURE_PID=

cleanup() {
	local rc=$? id p
	trap - EXIT INT TERM
	set +e
	# The measuring process (it kills its own current child on SIGTERM).
	if [ -n "$MEASURE_PID" ] && kill -0 "$MEASURE_PID" 2>/dev/null; then
		kill -TERM "$MEASURE_PID" 2>/dev/null
		wait "$MEASURE_PID" 2>/dev/null
	fi
	if [ -d "$LV_ROOT" ]; then
		for id in $("$LIGHTVM" --root "$LV_ROOT" list -q 2>/dev/null); do
			"$LIGHTVM" --root "$LV_ROOT" delete --force "$id" >/dev/null 2>&1
		done
	fi
	if [ -d "$RUNC_ROOT" ]; then
		for id in $("$RUNC" --root "$RUNC_ROOT" list -q 2>/dev/null); do
			"$RUNC" --root "$RUNC_ROOT" delete --force "$id" >/dev/null 2>&1
		done
	fi
	# Anything still running that this run started names $TMP on its
	# command line (QEMU's -initrd, lightvm's --root, runc's --root).
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		c=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		[[ "$c" == *"$TMP"* ]] && kill -KILL "$p" 2>/dev/null
	done
	# Mounts under $TMP (none expected: runc mounts in the container's namespace).
	grep -F " $TMP" /proc/self/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== lightvm start-up benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, n=$BENCH_N)"
echo "lightvm: $LIGHTVM ($("$LIGHTVM" --version | head -1))"
echo "kernel:  $KERNEL ($(stat -c %s "$KERNEL") bytes)"
echo "qemu:    $QEMU ($("$QEMU" --version | head -1))"
echo "runc:    $RUNC ($("$RUNC" --version | head -1))"
echo "host:    $(grep -qwE 'vmx|svm' /proc/cpuinfo && echo 'hardware virtualization present (bench still uses TCG)' || echo 'no vmx/svm: TCG'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. The bundle: static BusyBox, its applet links, /etc/passwd; config.json
#    from `lightvm spec`, running `true` (tests/bench/benchlib.py).
"$PYTHON" "$BENCH_DIR/benchlib.py" bundle "$BUNDLE" "$BUSYBOX" "$LIGHTVM" spec

# The runtime config: this kernel, a private initramfs cache, and the QEMU
# backend under TCG so that lightvm and the direct boot use one accelerator.
mkdir -m 0700 "$CACHE" "$LV_ROOT" "$RUNC_ROOT"
"$PYTHON" - "$LIGHTVM_CONFIG" "$KERNEL" "$CACHE" "$QEMU" <<'EOF'
import json, sys
path, kernel, cache, qemu = sys.argv[1:]
json.dump({"backend": "qemu", "accel": "tcg", "kernel": kernel, "cache_dir": cache, "qemu": qemu},
          open(path, "w"), indent=2)
EOF

# 2. Warm the initramfs cache with one run (not measured), kept so that we
# can read the exact QEMU command line lightvm used (ROOT/ID/vmm.log): the
# direct-boot peer runs that same command minus lightvm's init and channel.
echo "warm-up: $LIGHTVM --root $LV_ROOT run --keep -b $BUNDLE warmup"
"$LIGHTVM" --root "$LV_ROOT" run --keep -b "$BUNDLE" warmup </dev/null || die "warm-up lightvm run failed"
LV_QEMU_ARGV=$TMP/lightvm-qemu.argv
sed -n 's/^argv: //p' "$LV_ROOT/warmup/vmm.log" >"$LV_QEMU_ARGV"
[ -s "$LV_QEMU_ARGV" ] || die "no QEMU command line in $LV_ROOT/warmup/vmm.log"
LV_QEMU_CMDLINE=$(tr '\n' ' ' <"$LV_QEMU_ARGV")
"$LIGHTVM" --root "$LV_ROOT" delete warmup || die "delete of the warm-up container failed"
INITRD=$(ls -t "$CACHE"/*.cpio.gz 2>/dev/null | head -1)
[ -n "$INITRD" ] || die "no *.cpio.gz in the initramfs cache $CACHE after the warm-up run"
echo "initramfs: $INITRD ($(stat -c %s "$INITRD") bytes)"
"$RUNC" --root "$RUNC_ROOT" run -b "$BUNDLE" runc-warmup </dev/null || die "warm-up runc run failed"

# 3. Measure (interleaved) and print the table.
export BENCH_N BENCH_TMP=$TMP LIGHTVM LV_ROOT BUNDLE RUNC RUNC_ROOT QEMU KERNEL INITRD LV_QEMU_CMDLINE LV_QEMU_ARGV
"$PYTHON" "$BENCH_DIR/measure.py" &
MEASURE_PID=$!
wait "$MEASURE_PID"
MEASURE_PID=
