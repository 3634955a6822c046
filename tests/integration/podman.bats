#!/usr/bin/env bats
# podman --runtime lightvm: the runtime as an engine drives it.  Podman's
# storage is private to this file (--root/--runroot/--tmpdir under $PODDIR)
# and everything is removed and unmounted in teardown_file.

load helpers

IMAGE=localhost/lightvm-busybox

function podman_() {
	podman --root "$PODDIR/storage" --runroot "$PODDIR/run" --tmpdir "$PODDIR/tmp" \
		--cgroup-manager cgroupfs --events-backend file "$@"
}

function setup_file() {
	# Tests share the private storage and each teardown runs `rm -af`:
	# never two of them at once under bats --jobs.
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	command -v podman >/dev/null || return 0
	[ "$(id -u)" = 0 ] || return 0
	PODDIR=$(mktemp -d /tmp/lvpod.XXXXXX)
	export PODDIR
	# The same BusyBox tree the other tests use, as an uncompressed tar.
	TESTDIR=$PODDIR ROOT=$PODDIR/noroot __template_rootfs
	tar -C "$LIGHTVM_TEST_SUITE_DIR/rootfs" --exclude=./.done -cf "$PODDIR/rootfs.tar" .
	podman_ import "$PODDIR/rootfs.tar" "$IMAGE" >"$PODDIR/import.log" 2>&1 ||
		{ cat "$PODDIR/import.log" >&2; return 1; }
}

function teardown_file() {
	[ -n "${PODDIR:-}" ] && [ -d "$PODDIR" ] || return 0
	podman_ rm -af -t 0 >/dev/null 2>&1 || true
	podman_ rmi -af >/dev/null 2>&1 || true
	local m
	for m in $(awk -v d="$PODDIR/" 'index($5 "/", d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" || true
	done
	rm -rf "$PODDIR"
}

function setup() {
	setup_lightvm_test
	requires root podman
	[ -n "${PODDIR:-}" ] || fail "setup_file did not run"
}

function teardown() {
	local rc=0
	if [ -n "${PODDIR:-}" ]; then
		podman_ rm -af -t 0 >/dev/null 2>&1 || true
		local p leaked=()
		# conmon or runtime remnants of this file's containers (not podman
		# itself: BATS_NO_PARALLELIZE_WITHIN_FILE keeps other tests out).
		for p in $(pgrep -f -- "$PODDIR/(run|storage)" || true); do
			[ "$(cat /proc/$p/comm 2>/dev/null)" = podman ] && continue
			leaked+=("$p")
		done
		if [ ${#leaked[@]} -gt 0 ]; then
			echo "LEAK: podman processes left: ${leaked[*]}" >&2
			ps -o pid,args -p "${leaked[@]}" >&2 || true
			kill -KILL "${leaked[@]}" 2>/dev/null || true
			rc=1
		fi
	fi
	teardown_lightvm_test || rc=1
	return $rc
}

# podman_run ARGS...: a container on our runtime, logged like lightvm().
function podman_run() {
	local out
	out=$(mktemp "$TESTDIR/podman.XXXXXX")
	podman_ --runtime "$LIGHTVM_BIN" run --rm --network none \
		--ulimit nofile=20000:20000 --ulimit nproc=1024:1024 "$@" \
		>"$out" 2>"$out.err" </dev/null && status=0 || status=$?
	output=$(cat "$out")
	echo "podman --runtime $RUNTIME_NAME run $* (status=$status):" >&2
	cat "$out" "$out.err" >&2
}

@test "podman run echo hi prints hi (one VM)" {
	requires kernel
	podman_run "$IMAGE" echo hi
	[ "$status" -eq 0 ]
	[ "$output" = hi ]
}

@test "podman run false exits 1 (one VM)" {
	requires kernel
	podman_run "$IMAGE" false
	[ "$status" -eq 1 ]
}
