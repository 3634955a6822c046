#!/usr/bin/env bash
# Density with the kvm backend (the fifth part of `make bench`, issue 4):
# N containers started one after another from a warm kvm pool (one
# snapshotted template, every VM restored from it copy-on-write: see
# runtime/POOL.md), each left running `sleep`; the start-time curve (the Nth
# start against the first) and the host memory per idle VM (PSS of each
# monitor, which is the whole VMM, and the MemAvailable drop).  Needs vmx/svm:
# on this machine it runs in the lab host (nested KVM under TCG), given
# enough RAM for N guests' private pages.
#
# Environment: BENCH_DENSITY_N (default 200), BENCH_DENSITY_MEMORY_MIB
# (guest RAM, default 64), BENCH_WHERE (auto, host, lab), LIGHTVM_BIN,
# LIGHTVM_KERNEL, BUSYBOX, RUNC (for `runc spec`), LAB_TIMEOUT.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
LIGHTVM=$(readlink -f "${LIGHTVM_BIN:-$REPO/build/lightvm}")
KERNEL=$(readlink -f "${LIGHTVM_KERNEL:-$REPO/build/bzImage}")
BUSYBOX=${BUSYBOX:-/bin/busybox}
RUNC=${RUNC:-/usr/sbin/runc}
N=${BENCH_DENSITY_N:-200}
MEMORY_MIB=${BENCH_DENSITY_MEMORY_MIB:-64}
where=${BENCH_WHERE:-auto}

die() { echo "bench-density-kvm: $*" >&2; exit 1; }
[ -x "$LIGHTVM" ] || die "no lightvm binary at $LIGHTVM (run make)"
[ -r "$KERNEL" ] || die "no guest kernel at $KERNEL (run make kernel)"
[ -x "$BUSYBOX" ] && [ -x "$RUNC" ] || die "needs $BUSYBOX and $RUNC"
[[ $N =~ ^[1-9][0-9]*$ ]] && [[ $MEMORY_MIB =~ ^[1-9][0-9]*$ ]] || die "N and the memory must be positive integers"
[ "$(id -u)" = 0 ] || die "run as root"
. "$BENCH_DIR/kvm_where.bash"
bench_kvm_where "$where" "density, kvm backend" --memory $((2048 + N * 24)) --timeout "${LAB_TIMEOUT:-2400}" \
	--env BENCH_WHERE=host --env BENCH_DENSITY_N="$N" --env BENCH_DENSITY_MEMORY_MIB="$MEMORY_MIB" \
	--env LIGHTVM_BIN="$LIGHTVM" --env LIGHTVM_KERNEL="$KERNEL" --env BUSYBOX="$BUSYBOX" \
	--env RUNC="$RUNC" -- "$BENCH_DIR/density_kvm.sh"

TMP=$(mktemp -d /tmp/lvbdk.XXXXXX)
ROOT=$TMP/root
POOLD=
cleanup() {
	"$LIGHTVM" --root "$ROOT" list -q 2>/dev/null | xargs -r -P 2 -I{} "$LIGHTVM" --root "$ROOT" delete -f {} \
		>/dev/null 2>&1 || true
	[ -z "$POOLD" ] || { kill -TERM "$POOLD" 2>/dev/null; wait "$POOLD" 2>/dev/null || true; }
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

mkdir -p "$ROOT" "$TMP/cache"
chmod 0700 "$TMP/cache"
python3 "$BENCH_DIR/benchlib.py" bundle "$TMP/bundle" "$BUSYBOX" "$RUNC" spec -- sleep 1000000
printf '{"backend": "kvm", "kernel": "%s", "cache_dir": "%s", "rootfs_delivery": "channel", "memory_mib": %s, "pool": {"target": 1}}\n' \
	"$KERNEL" "$TMP/cache" "$MEMORY_MIB" >"$TMP/cfg.json"
export LIGHTVM_CONFIG=$TMP/cfg.json
"$LIGHTVM" --root "$ROOT" --debug --log "$TMP/poold.log" poold </dev/null >/dev/null 2>&1 &
POOLD=$!
for _ in $(seq 600); do
	[ "$("$LIGHTVM" --root "$ROOT" pool status 2>/dev/null | awk '$1 == "kvm" { print $4 }')" = 1 ] && break
	sleep 0.1
done
[ "$("$LIGHTVM" --root "$ROOT" pool status | awk '$1 == "kvm" { print $4 }')" = 1 ] || die "no kvm template in 60 s"

echo "== density, kvm backend ($(date -u +%FT%TZ), $(nproc) cores, $MEMORY_MIB MiB guests, N=$N, warm pool)"
avail0=$(awk '/MemAvailable/ { print $2 }' /proc/meminfo)
starts=()
for i in $(seq "$N"); do
	s=$(date +%s%N)
	timeout 120 "$LIGHTVM" --root "$ROOT" run -d -b "$TMP/bundle" "d$i" </dev/null >/dev/null 2>&1 || die "start $i failed"
	e=$(date +%s%N)
	starts+=($(((e - s) / 1000000)))
done
sleep 3 # the last guests settle
avail1=$(awk '/MemAvailable/ { print $2 }' /proc/meminfo)
claims=$(grep -c 'claimed by monitor' "$TMP/poold.log" || true)
pids=$("$LIGHTVM" --root "$ROOT" list --format json | python3 -c 'import json, sys; print(" ".join(str(c["pid"]) for c in json.load(sys.stdin)))')
python3 - "$BENCH_DIR" "$N" "$claims" "$avail0" "$avail1" "${starts[*]}" $pids <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import benchlib
n, claims, a0, a1 = (int(x) for x in sys.argv[2:6])
xs = [int(x) for x in sys.argv[6].split()]
pss = sum(benchlib.smaps_rollup(int(p)).get("Pss", 0) for p in sys.argv[7:])
pts = [p for p in (1, 10, 50, 100, 150, 200, n) if p <= n]
print("start ms (median of 5 around each point):", ", ".join("#%d %.0f" % (p, benchlib.window_median(xs, p)) for p in sorted(set(pts))))
r = benchlib.window_median(xs, n) / benchlib.window_median(xs, 1)
print("#%d / #1: %.2f  [goal <= 1.2: %s]   (single samples: %d / %d ms)" % (n, r, "met" if r <= 1.2 else "MISSED", xs[-1], xs[0]))
print("from the pool: %d of %d starts" % (claims, n))
print("host memory per idle VM: PSS %.1f MiB (monitor = VMM + guest pages it wrote), MemAvailable drop %.1f MiB"
      % (pss / 1024 / n, (a0 - a1) / 1024 / n))
EOF
echo "command: BENCH_DENSITY_N=$N tests/bench/density_kvm.sh (lightvm --root ROOT run -d -b BUNDLE dI, I = 1..N, lightvm poold running with a kvm template)"
