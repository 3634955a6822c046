#!/usr/bin/env bash
# Engines benchmark (part of `make bench`): `docker run --rm --network none
# IMAGE true` with --runtime=lightvm against --runtime=runc, and the same
# with podman, in one run: BENCH_N rounds (default 10), the four
# interleaved, medians and the lightvm/runc ratio per engine (goal <= 1.5).
#
# The daemons (containerd, dockerd) and podman's storage are private, set
# up and torn down by the integration tests' harness
# (tests/integration/engine_helpers.bash), with the BusyBox image imported
# offline.  lightvm runs with a warm pool: a lightvm-poold (qemu backend,
# channel delivery, target 1) on a root of its own, whose socket is linked
# into each root the engines give lightvm; before each lightvm sample the
# script waits until the daemon has a ready shell again (refill is not
# measured, as in pool.sh).
#
# Environment: BENCH_N, LIGHTVM_BIN, LIGHTVM_KERNEL, BUSYBOX.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
export LIGHTVM_BIN=$(readlink -f "${LIGHTVM_BIN:-$REPO/build/lightvm}")
export LIGHTVM_KERNEL=$(readlink -f "${LIGHTVM_KERNEL:-$REPO/build/bzImage}")
BENCH_N=${BENCH_N:-10}

die() { echo "bench-engines: $*" >&2; exit 1; }
[ -x "$LIGHTVM_BIN" ] || die "no lightvm binary at $LIGHTVM_BIN (run make)"
[ -r "$LIGHTVM_KERNEL" ] || die "no guest kernel at $LIGHTVM_KERNEL (run make kernel)"
[[ "$BENCH_N" =~ ^[1-9][0-9]*$ ]] || die "BENCH_N must be a positive integer"
[ "$(id -u)" = 0 ] || die "run as root"
for b in containerd dockerd podman /usr/bin/docker; do
	command -v "$b" >/dev/null || die "$b is not installed (make deps)"
done

TMP=$(mktemp -d /tmp/lvbe.XXXXXX)
POOLD=
cleanup() {
	trap - EXIT INT TERM
	set +e
	engine_teardown_file
	[ -z "$POOLD" ] || { kill -TERM "$POOLD" 2>/dev/null; wait "$POOLD" 2>/dev/null; }
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# The harness, as the tests use it, in pool mode on this script's daemon.
export LIGHTVM_TEST_SUITE_DIR=$TMP/suite LIGHTVM_BACKEND=qemu
export LIGHTVM_TEST_POOL=1 LIGHTVM_TEST_POOL_TARGET=1 LIGHTVM_TEST_POOL_ROOT=$TMP/poolroot
export LIGHTVM_TEST_IS_RUNC=0
. "$REPO/tests/integration/helpers.bash"
. "$REPO/tests/integration/engine_helpers.bash"
engine_log() { echo "# $*"; }

mkdir -p "$LIGHTVM_TEST_SUITE_DIR/cache" "$LIGHTVM_TEST_POOL_ROOT"
chmod 0700 "$LIGHTVM_TEST_SUITE_DIR/cache"
POOL_CFG=$TMP/poold.json
printf '{"kernel": "%s", "cache_dir": "%s", "backend": "qemu", "rootfs_delivery": "channel", "pool": {"target": 1, "cap": 2}}\n' \
	"$LIGHTVM_KERNEL" "$LIGHTVM_TEST_SUITE_DIR/cache" >"$POOL_CFG"
LIGHTVM_CONFIG=$POOL_CFG "$LIGHTVM_BIN" --root "$LIGHTVM_TEST_POOL_ROOT" --debug poold </dev/null >"$TMP/poold.log" 2>&1 &
POOLD=$!
ready() {
	LIGHTVM_CONFIG=$POOL_CFG "$LIGHTVM_BIN" --root "$LIGHTVM_TEST_POOL_ROOT" pool status 2>/dev/null |
		awk 'NR == 2 { print $4 }'
}
wait_ready() {
	for _ in $(seq 600); do [ "$(ready)" -ge 1 ] 2>/dev/null && return 0; sleep 0.05; done
	die "the pool did not refill within 30 s"
}
for _ in $(seq 200); do [ -S "$LIGHTVM_TEST_POOL_ROOT/poold.sock" ] && break; sleep 0.05; done

engine_setup_file containerd docker podman || die "setting up the engines failed"
[ -z "$ENGINE_SKIP" ] || die "$ENGINE_SKIP"

PODMAN_OPTS=(--network none --ulimit nofile=20000:20000 --ulimit nproc=1024:1024)
ms() {
	local s e
	s=$(date +%s%N)
	"$@" >"$TMP/sample.log" 2>&1 </dev/null || { cat "$TMP/sample.log" >&2; die "failed: $*"; }
	e=$(date +%s%N)
	echo $(((e - s) / 1000000))
}
d_lv() { docker_ run --rm --network none --runtime=lightvm "$IMAGE_DOCKER" true; }
d_runc() { docker_ run --rm --network none --runtime=runc "$IMAGE_DOCKER" true; }
p_lv() { podman_ --runtime "$ENGINE_RUNTIME" run --rm "${PODMAN_OPTS[@]}" "$IMAGE_PODMAN" true; }
p_runc() { podman_ --runtime runc run --rm "${PODMAN_OPTS[@]}" "$IMAGE_PODMAN" true; }

# Warm-up: caches (initramfs archives, image layers) for every peer.
wait_ready
for f in d_lv d_runc p_lv p_runc; do ms "$f" >/dev/null; done

echo "== engines benchmark ($(date -u +%FT%TZ), $(nproc) cores, n=$BENCH_N, qemu backend, TCG unless vmx/svm, warm pool)"
dl=() dr=() pl=() pr=()
for i in $(seq "$BENCH_N"); do
	wait_ready
	a=$(ms d_lv)
	b=$(ms d_runc)
	wait_ready
	c=$(ms p_lv)
	d=$(ms p_runc)
	dl+=("$a") dr+=("$b") pl+=("$c") pr+=("$d")
	echo "round $i/$BENCH_N: docker lightvm $a ms, docker runc $b ms, podman lightvm $c ms, podman runc $d ms"
done
claims=$(grep -c 'claimed by monitor' "$TMP/poold.log" || true)
python3 - "${dl[*]}" "${dr[*]}" "${pl[*]}" "${pr[*]}" <<'EOF'
import statistics, sys
names = ("docker run --runtime=lightvm", "docker run --runtime=runc",
         "podman run --runtime lightvm", "podman run --runtime runc")
vals = [list(map(int, a.split())) for a in sys.argv[1:5]]
print("%-32s %8s %8s %8s" % ("ms", "median", "min", "max"))
for n, v in zip(names, vals):
    print("%-32s %8.1f %8d %8d" % (n, statistics.median(v), min(v), max(v)))
for eng, lv, rc in (("docker", vals[0], vals[1]), ("podman", vals[2], vals[3])):
    r = statistics.median(lv) / statistics.median(rc)
    print("%s lightvm / runc: %.2f  [goal <= 1.5: %s]" % (eng, r, "met" if r <= 1.5 else "MISSED"))
EOF
echo "pool: $claims claims (of $((2 * BENCH_N + 2)) lightvm runs, warm-up included)"
echo "commands: docker run --rm --network none --runtime=lightvm|runc IMAGE true (dockerd --add-runtime lightvm=WRAPPER);" \
	"podman --runtime WRAPPER|runc run --rm --network none IMAGE true; WRAPPER = LIGHTVM_CONFIG=cfg lightvm \"\$@\"" \
	"with channel delivery and a lightvm-poold (target 1) linked into the engines' runtime roots"
