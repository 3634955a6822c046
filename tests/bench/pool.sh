#!/usr/bin/env bash
# Pool benchmark (the third part of `make bench`): `lightvm run` of a BusyBox
# bundle running `true` from a warm pool of pre-booted QEMU shells, cold
# (no daemon; the same channel rootfs delivery, archives cached), and `runc
# run` of the same bundle; BENCH_N rounds, the three interleaved, medians.
# The qemu backend runs natively (TCG here); the kvm backend (a pool keeps
# one snapshotted template, every claim restores from it) needs vmx/svm and
# otherwise runs in the lab host (nested KVM), runc with it.
#
# "Warm" means what it says: before each pooled sample the script waits
# until the daemon reports a ready shell again (refill is not measured).
# Bursts that outrun the refill fall back to cold starts or claim shells
# whose guest is still booting; that is not what this figure shows.
#
# "Warm" for qemu means a booted, stopped shell (the daemon saw its WAITING);
# for kvm, a made template.
#
# Environment: BENCH_N (default 10), BENCH_BACKEND (qemu, default, or kvm),
# BENCH_WHERE (kvm: auto, host or lab), LIGHTVM_BIN, LIGHTVM_KERNEL, RUNC,
# BUSYBOX, LAB_TIMEOUT.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
LIGHTVM=$(readlink -f "${LIGHTVM_BIN:-$REPO/build/lightvm}")
KERNEL=$(readlink -f "${LIGHTVM_KERNEL:-$REPO/build/bzImage}")
RUNC=${RUNC:-/usr/sbin/runc}
BUSYBOX=${BUSYBOX:-/bin/busybox}
BENCH_N=${BENCH_N:-10}
BACKEND=${BENCH_BACKEND:-qemu}
where=${BENCH_WHERE:-auto}

die() { echo "bench-pool: $*" >&2; exit 1; }
[ -x "$LIGHTVM" ] || die "no lightvm binary at $LIGHTVM (run make)"
[ -r "$KERNEL" ] || die "no guest kernel at $KERNEL (run make kernel)"
[ -x "$RUNC" ] || die "no runc at $RUNC"
[ -x "$BUSYBOX" ] || die "no busybox at $BUSYBOX"
[[ "$BENCH_N" =~ ^[1-9][0-9]*$ ]] || die "BENCH_N must be a positive integer"
[ "$(id -u)" = 0 ] || die "run as root"
case $BACKEND in qemu | kvm) ;; *) die "BENCH_BACKEND must be qemu or kvm" ;; esac
if [ "$BACKEND" = kvm ]; then
	. "$BENCH_DIR/kvm_where.bash"
	bench_kvm_where "$where" "pool benchmark, kvm backend" --timeout "${LAB_TIMEOUT:-1800}" \
		--env BENCH_WHERE=host --env BENCH_BACKEND=kvm --env BENCH_N="$BENCH_N" \
		--env LIGHTVM_BIN="$LIGHTVM" --env LIGHTVM_KERNEL="$KERNEL" --env RUNC="$RUNC" \
		--env BUSYBOX="$BUSYBOX" -- "$BENCH_DIR/pool.sh"
fi

TMP=$(mktemp -d /tmp/lvbp.XXXXXX)
POOLD=
cleanup() {
	[ -z "$POOLD" ] || { kill -TERM "$POOLD" 2>/dev/null; wait "$POOLD" 2>/dev/null || true; }
	for r in "$TMP/pooled" "$TMP/cold"; do
		LIGHTVM_CONFIG=$TMP/cfg.json "$LIGHTVM" --root "$r" list -q 2>/dev/null | while read -r id; do
			LIGHTVM_CONFIG=$TMP/cfg.json "$LIGHTVM" --root "$r" delete -f "$id" >/dev/null 2>&1 || true
		done
	done
	"$RUNC" --root "$TMP/runc" list -q 2>/dev/null | while read -r id; do
		"$RUNC" --root "$TMP/runc" delete -f "$id" >/dev/null 2>&1 || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

mkdir -p "$TMP/pooled" "$TMP/cold" "$TMP/runc" "$TMP/cache"
# The same bundle as the other benchmarks (config.json from `runc spec`).
python3 "$BENCH_DIR/benchlib.py" bundle "$TMP/bundle" "$BUSYBOX" "$RUNC" spec
chmod 0700 "$TMP/cache"
printf '{"backend": "%s", "kernel": "%s", "cache_dir": "%s", "rootfs_delivery": "channel", "pool": {"target": 1, "cap": 2}}\n' \
	"$BACKEND" "$KERNEL" "$TMP/cache" >"$TMP/cfg.json"
export LIGHTVM_CONFIG=$TMP/cfg.json

ready() { "$LIGHTVM" --root "$TMP/pooled" pool status 2>/dev/null | awk 'NR == 2 { print $4 }'; }
wait_ready() {
	for _ in $(seq 600); do [ "$(ready)" -ge 1 ] 2>/dev/null && return 0; sleep 0.05; done
	die "the pool did not refill within 30 s"
}
# A sample that hangs (a nested boot in the lab host once in ~100) fails the run rather than stalling it.
ms() { local s e; s=$(date +%s%N); timeout 120 "$@" >/dev/null 2>&1 </dev/null || die "failed: $*"; e=$(date +%s%N); echo $(((e - s) / 1000000)); }

"$LIGHTVM" --root "$TMP/pooled" poold </dev/null >"$TMP/poold.log" 2>&1 &
POOLD=$!
for _ in $(seq 200); do "$LIGHTVM" --root "$TMP/pooled" pool status >/dev/null 2>&1 && break; sleep 0.05; done
# Warm-up: fills the archive cache for both lightvm peers.
"$LIGHTVM" --root "$TMP/cold" run -b "$TMP/bundle" warm >/dev/null 2>&1 </dev/null || die "warm-up run failed"

echo "== pool benchmark ($(date -u +%FT%TZ), $(nproc) cores, n=$BENCH_N, $BACKEND backend$([ "$BACKEND" = qemu ] && echo ", TCG unless vmx/svm"))"
pooled=() cold=() runc=()
for i in $(seq "$BENCH_N"); do
	wait_ready
	p=$(ms "$LIGHTVM" --root "$TMP/pooled" run -b "$TMP/bundle" "p$i")
	c=$(ms env LIGHTVM_CONFIG="$TMP/cfg.json" "$LIGHTVM" --root "$TMP/cold" run -b "$TMP/bundle" "c$i")
	r=$(ms "$RUNC" --root "$TMP/runc" run -b "$TMP/bundle" "r$i")
	pooled+=("$p") cold+=("$c") runc+=("$r")
	echo "round $i/$BENCH_N: pooled $p ms, cold $c ms, runc $r ms"
done
python3 - "${pooled[*]}" "${cold[*]}" "${runc[*]}" <<'EOF'
import statistics, sys
names = ("lightvm run, pooled", "lightvm run, cold (channel)", "runc run")
vals = [list(map(int, a.split())) for a in sys.argv[1:4]]
print("%-30s %8s %8s %8s" % ("ms", "median", "min", "max"))
for n, v in zip(names, vals):
    print("%-30s %8.1f %8d %8d" % (n, statistics.median(v), min(v), max(v)))
r = statistics.median(vals[0]) / statistics.median(vals[2])
print("pooled / runc: %.2f  [goal <= 1.0: %s]" % (r, "met" if r <= 1.0 else "MISSED"))
print("pooled / cold: %.2f" % (statistics.median(vals[0]) / statistics.median(vals[1])))
EOF
echo "commands: LIGHTVM_CONFIG=cfg.json lightvm --root ROOT run -b BUNDLE ID (pooled: with \`lightvm --root ROOT poold\` running, pool target 1; cold: another ROOT, no daemon); runc --root R run -b BUNDLE ID"
