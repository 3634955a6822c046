#!/usr/bin/env bash
# Density benchmark (the last part of `make bench`, issue 4): start N VMs
# one after another (a BusyBox bundle running `sleep 1000000`, `lightvm run
# -d`), leave each running, and record every start's wall time: is the Nth
# start as fast as the first (LightVM's flat curve)?  Then the host memory
# and CPU per idle VM.  Two series in one run, natively with the qemu backend:
#   cold    no pool daemon;
#   pooled  `lightvm poold` with target 1; before each start the script waits
#           for a ready shell whose guest has booted (refill not measured).
# The cold VMs are all deleted before the pooled series starts.
# tests/bench/density.py measures and prints; this script sets up and cleans
# up (every container deleted, the daemon stopped, no QEMU left), also on
# failure and Ctrl-C.
#
# Environment:
#   BENCH_DENSITY_N             VMs per series (default 100: see README.md for why not 200)
#   BENCH_DENSITY_SERIES        which series (default "cold pooled")
#   BENCH_DENSITY_MEMORY_MIB    guest memory (default 32, the runtime's minimum)
#   BENCH_DENSITY_MEM_FLOOR_MIB stop a series early when MemAvailable falls
#                               below this (default 2048)
#   BENCH_DENSITY_MAX_START_S   stop a series early when one start took longer
#                               than this (default 30): the host is saturated
#   BENCH_DENSITY_OUT           keep the raw results (JSON per series) in this directory
#   LIGHTVM_BIN, LIGHTVM_KERNEL, QEMU, BUSYBOX
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
LIGHTVM=$(readlink -f "${LIGHTVM_BIN:-$REPO/build/lightvm}")
KERNEL=$(readlink -f "${LIGHTVM_KERNEL:-$REPO/build/bzImage}")
QEMU=${QEMU:-$(command -v qemu-system-x86_64 || true)}
BUSYBOX=${BUSYBOX:-/bin/busybox}
N=${BENCH_DENSITY_N:-100}
SERIES=${BENCH_DENSITY_SERIES:-cold pooled}
MEMORY_MIB=${BENCH_DENSITY_MEMORY_MIB:-32}
OUT=${BENCH_DENSITY_OUT:-}

die() { echo "bench-density: $*" >&2; exit 1; }
[ -x "$LIGHTVM" ] || die "no lightvm binary at $LIGHTVM (run make)"
[ -r "$KERNEL" ] || die "no guest kernel at $KERNEL (run make kernel)"
[ -n "$QEMU" ] && [ -x "$QEMU" ] || die "no qemu-system-x86_64 on PATH"
[ -x "$BUSYBOX" ] || die "no busybox at $BUSYBOX"
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "BENCH_DENSITY_N must be a positive integer"
[[ "$MEMORY_MIB" =~ ^[1-9][0-9]*$ ]] || die "BENCH_DENSITY_MEMORY_MIB must be a positive integer"
for s in $SERIES; do [ "$s" = cold ] || [ "$s" = pooled ] || die "unknown series '$s' (cold, pooled)"; done
[ "$(id -u)" = 0 ] || die "run as root"
[ -z "$OUT" ] || mkdir -p "$OUT" || die "cannot make $OUT"

TMP=$(mktemp -d /tmp/lvbd.XXXXXX)
POOLD=
HELPER=
export LIGHTVM_CONFIG=$TMP/cfg.json LIGHTVM BUNDLE=$TMP/bundle

# Deletes every container of ROOT, two at a time.
delete_all() {
	local root=$1
	[ -d "$root" ] || return 0
	"$LIGHTVM" --root "$root" list -q 2>/dev/null |
		xargs -r -P 2 -I{} "$LIGHTVM" --root "$root" delete -f {} >/dev/null 2>&1 || true
}

stop_poold() {
	[ -n "$POOLD" ] || return 0
	kill -TERM "$POOLD" 2>/dev/null || true
	wait "$POOLD" 2>/dev/null || true
	POOLD=
}

# PIDs of the processes this run started that are still alive: every one
# of them (monitor, QEMU, daemon) names $TMP on its command line.
ours() {
	local p c
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		c=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		[[ "$c" == *"$TMP"* ]] && echo "$p"
	done
	return 0
}

cleanup() {
	local rc=$? p left
	trap - EXIT INT TERM
	set +e
	if [ -n "$HELPER" ] && kill -0 "$HELPER" 2>/dev/null; then
		kill -TERM "$HELPER" 2>/dev/null
		wait "$HELPER" 2>/dev/null
	fi
	delete_all "$TMP/cold"
	delete_all "$TMP/pooled"
	stop_poold
	# A start interrupted half-way may show up in `list` only now.
	if [ -n "$(ours)" ]; then
		sleep 2
		delete_all "$TMP/cold"
		delete_all "$TMP/pooled"
	fi
	if [ -n "$OUT" ]; then
		for s in cold pooled; do [ ! -f "$TMP/$s.json" ] || cp "$TMP/$s.json" "$OUT/$s.json"; done
	fi
	left=$(ours)
	if [ -n "$left" ]; then
		echo "bench-density: still running after delete -f: $(echo $left)" >&2
		for p in $left; do kill -KILL "$p" 2>/dev/null; done
		sleep 0.5
		[ $rc -ne 0 ] || rc=1
	fi
	left=$(ours)
	[ -z "$left" ] || echo "bench-density: could not kill $(echo $left)" >&2
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT INT TERM

mkdir -p "$TMP/cache" "$TMP/cold" "$TMP/pooled"
chmod 0700 "$TMP/cache"
# The shared bench bundle (benchlib.py), its process an idle `sleep`.
python3 "$BENCH_DIR/benchlib.py" bundle "$BUNDLE" "$BUSYBOX" "$LIGHTVM" spec -- sleep 1000000
# Channel delivery in both series, so they differ only by the pool.
printf '{"backend": "qemu", "kernel": "%s", "qemu": "%s", "cache_dir": "%s", "rootfs_delivery": "channel", "memory_mib": %s, "pool": {"target": 1, "cap": 2}}\n' \
	"$KERNEL" "$QEMU" "$TMP/cache" "$MEMORY_MIB" >"$LIGHTVM_CONFIG"

# Warm-up, not measured: fills the initramfs cache and checks the bundle runs.
"$LIGHTVM" --root "$TMP/cold" run -d -b "$BUNDLE" warm </dev/null >/dev/null 2>"$TMP/warm.err" ||
	die "warm-up run failed: $(cat "$TMP/warm.err")"
"$LIGHTVM" --root "$TMP/cold" delete -f warm >/dev/null 2>&1 || die "cannot delete the warm-up container"

# Runs the helper in the background (so a TERM reaches cleanup at once)
# and waits for it.  A helper that ended by a signal (status > 128: it got
# the terminal's SIGINT too, and bash runs no INT trap for a child that
# exits by itself) ends the run.
helper() {
	python3 "$BENCH_DIR/density.py" "$@" &
	HELPER=$!
	local rc=0
	wait "$HELPER" || rc=$?
	HELPER=
	[ $rc -le 128 ] || exit $rc
	return $rc
}

echo "== density benchmark ($(date -u +%FT%TZ), $(nproc) cores, N=$N, qemu backend, $(grep -qwE 'vmx|svm' /proc/cpuinfo && echo KVM || echo TCG), guest ${MEMORY_MIB} MiB, MemAvailable $(($(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo) / 1024)) MiB)"
results=() failed=0
for s in $SERIES; do
	t0=$SECONDS
	if [ "$s" = pooled ]; then
		export BENCH_DENSITY_MEM_BASE_KIB
		BENCH_DENSITY_MEM_BASE_KIB=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
		"$LIGHTVM" --root "$TMP/pooled" poold </dev/null >"$TMP/poold.log" 2>&1 &
		POOLD=$!
		for _ in $(seq 200); do "$LIGHTVM" --root "$TMP/pooled" pool status >/dev/null 2>&1 && break; sleep 0.05; done
		"$LIGHTVM" --root "$TMP/pooled" pool status >/dev/null 2>&1 || die "the pool daemon did not come up: $(cat "$TMP/poold.log")"
		helper series pooled "$TMP/pooled" "$N" "$TMP/pooled.json" --pool || failed=1
	else
		unset BENCH_DENSITY_MEM_BASE_KIB
		helper series cold "$TMP/cold" "$N" "$TMP/cold.json" || failed=1
	fi
	[ ! -f "$TMP/$s.json" ] || results+=("$TMP/$s.json")
	t1=$SECONDS
	delete_all "$TMP/$s"
	stop_poold
	echo "$s: series and measuring $((t1 - t0)) s, deleting its containers $((SECONDS - t1)) s"
	left=$(ours)
	[ -z "$left" ] || die "after deleting the $s containers, still running: $(echo $left)"
done
while [ ${#results[@]} -lt 2 ]; do results+=(-); done
helper report "${results[@]}" || failed=1
echo "commands: LIGHTVM_CONFIG=cfg.json lightvm --root ROOT run -d -b BUNDLE ID, i = 1..N, each left running (pooled: with \`lightvm --root ROOT poold\` running, pool target 1; cold: another ROOT, no daemon); cfg.json: $(cat "$LIGHTVM_CONFIG")"
echo "whole density benchmark: ${SECONDS} s"
[ $failed -eq 0 ] || die "a series failed (see above)"
