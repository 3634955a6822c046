#!/usr/bin/env bash
# The engines' harness: containerd, dockerd and podman driving lightvm, each
# with private directories under one $ENGINE_DIR per bats file (made in
# setup_file, removed in teardown_file), and the suite's BusyBox tree
# imported offline as an image.  Loaded after helpers.bash by docker.bats,
# containerd.bats and podman.bats.
#
#   engine_setup_file ENGINE...   in setup_file: containerd, docker (which
#                                 needs containerd) and/or podman
#   engine_teardown_file          in teardown_file: everything goes
#   engine_setup / engine_teardown  per test (skip honestly; leak checks)
#
# The engines call $ENGINE_DIR/lightvm, a wrapper that gives the real
# binary this file's runtime config (kernel, initramfs cache, backend and,
# in pool mode, the pool) and, for podman, which passes no --root, a root
# in $ENGINE_DIR.  Daemons are shared by the tests of a file: VM boots and
# daemon starts cost seconds under TCG.
#
# Tests run when the engine is installed, we are root, the runtime is
# lightvm with a kernel, and LIGHTVM_TEST_ENGINES is not "off"
# (tests/check.sh sets it off in the lab host's leg: the engines run in
# the legs on this host).  Otherwise every test skips with the reason.
#
# What a file leaves behind is checked: processes naming $ENGINE_DIR,
# mounts under it, and the files containerd's shims and ctr put outside it
# (/run/containerd/{s,fifo,runc}) when this run made them.

IMAGE_DOCKER=lightvm-busybox:test
IMAGE_CTR=docker.io/library/lightvm-busybox:test
IMAGE_PODMAN=localhost/lightvm-busybox
ENGINE_TIMEOUT=${ENGINE_TIMEOUT:-120}

# Paths outside $ENGINE_DIR that containerd (1.6) writes whatever its
# config says: the shims' sockets, ctr's fifos, runc's default root.
ENGINE_OUTSIDE=(/run/containerd/s /run/containerd/fifo /run/containerd/runc /run/containerd)

function __engine_skip_reason() {
	local e
	[ "$(id -u)" = 0 ] || { echo "engines need root"; return; }
	[ "${LIGHTVM_TEST_ENGINES:-auto}" != off ] || { echo "LIGHTVM_TEST_ENGINES=off (the engines run in the legs on the host)"; return; }
	[ -z "$IS_RUNC" ] || { echo "the engines' tests drive lightvm (runtime is runc)"; return; }
	[ -f "$LIGHTVM_KERNEL" ] || { echo "no guest kernel at $LIGHTVM_KERNEL (make kernel)"; return; }
	for e in "$@"; do
		case $e in
		containerd) command -v containerd >/dev/null && command -v ctr >/dev/null ||
			{ echo "containerd is not installed (make deps)"; return; } ;;
		docker) command -v dockerd >/dev/null && [ -x /usr/bin/docker ] ||
			{ echo "docker.io is not installed (make deps)"; return; } ;;
		podman) command -v podman >/dev/null || { echo "podman is not installed (make deps)"; return; } ;;
		esac
	done
}

# engine_log MSG: to the TAP stream as a comment (setup_file's output is
# otherwise only shown on failure).
function engine_log() { echo "# $*" >&3; }

# __wait_until SECONDS CMD...: poll CMD every 0.1 s.
function __wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

function engine_setup_file() {
	# One engine state per file: tests of a file never run at once.
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	ENGINE_SKIP=$(__engine_skip_reason "$@")
	export ENGINE_SKIP
	[ -z "$ENGINE_SKIP" ] || return 0
	# Short: unix sockets under it must fit 108 bytes.
	ENGINE_DIR=$(mktemp -d /tmp/lve.XXXXXX) || return 1
	chmod 0711 "$ENGINE_DIR"
	export ENGINE_DIR
	local p
	for p in "${ENGINE_OUTSIDE[@]}"; do
		[ -e "$p" ] && echo "$p"
	done >"$ENGINE_DIR/outside.before"
	# The suite's BusyBox tree, as an uncompressed tar (a compressed one
	# gets a layer id docker and ctr reject).
	TESTDIR=$ENGINE_DIR ROOT=$ENGINE_DIR/noroot __template_rootfs || return 1
	tar -C "$LIGHTVM_TEST_SUITE_DIR/rootfs" --exclude=./.done -cf "$ENGINE_DIR/rootfs.tar" . || return 1
	__engine_runtime || return 1
	for p in "$@"; do
		case $p in
		containerd) __containerd_start || return 1 ;;
		docker) __dockerd_start || return 1 ;;
		podman) __podman_import || return 1 ;;
		esac
	done
}

# The runtime the engines call: the binary with this file's config.
function __engine_runtime() {
	local cfg=$ENGINE_DIR/lightvm.json pool= p
	if [ -n "$POOL_MODE" ]; then
		pool=", \"rootfs_delivery\": \"channel\", \"pool\": {\"target\": $LIGHTVM_TEST_POOL_TARGET}"
	fi
	printf '{"kernel": "%s", "cache_dir": "%s", "backend": "%s"%s}\n' \
		"$LIGHTVM_KERNEL" "$LIGHTVM_TEST_SUITE_DIR/cache" "$LIGHTVM_BACKEND" "$pool" >"$cfg"
	mkdir -p "$ENGINE_DIR/podroot"
	# podman passes no --root: the wrapper's comes first, so an engine's
	# own --root (containerd's shim, dockerd) overrides it.
	cat >"$ENGINE_DIR/lightvm" <<-EOF
		#!/bin/sh
		export LIGHTVM_CONFIG=$cfg
		exec $LIGHTVM_BIN --root $ENGINE_DIR/podroot "\$@"
	EOF
	chmod 0755 "$ENGINE_DIR/lightvm"
	ENGINE_RUNTIME=$ENGINE_DIR/lightvm
	export ENGINE_RUNTIME
	# The roots the engines will give it (made now, so that in pool mode
	# each links to the suite's daemon like a test's root does).
	__engine_roots
	for p in "${ENGINE_ROOTS[@]}"; do
		mkdir -p "$p" || return 1
		[ -z "$POOL_MODE" ] || ln -sf "$LIGHTVM_TEST_POOL_ROOT/poold.sock" "$p/poold.sock" || return 1
	done
}

# The runtime roots: podman's (the wrapper's), dockerd's (its exec-root's
# runtime-runc, which the shim suffixes with the namespace) and ctr's
# (--runc-root, likewise).
function __engine_roots() {
	ENGINE_ROOTS=("$ENGINE_DIR/podroot" "$ENGINE_DIR/dexec/runtime-runc/moby" "$ENGINE_DIR/ctr-root/lightvm-test")
}

# ---------------------------------------------------------------------------
# containerd

function ctr_() {
	timeout --foreground -k 5 "$ENGINE_TIMEOUT" ctr -a "$ENGINE_DIR/containerd.sock" -n lightvm-test "$@"
}

# ctr_run ARGS...: ctr run through io.containerd.runc.v2 with lightvm as
# its runc (the options go before the image).
function ctr_run() {
	ctr_ run --runc-binary "$ENGINE_RUNTIME" --runc-root "$ENGINE_DIR/ctr-root" "$@"
}

function __containerd_start() {
	local d=$ENGINE_DIR/containerd
	mkdir -p "$d"
	# The CRI plugin would set up CNI and a streaming server: not ours.
	cat >"$d/config.toml" <<-EOF
		version = 2
		root = "$d/root"
		state = "$d/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$ENGINE_DIR/containerd.sock"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$d/opt"
	EOF
	containerd --config "$d/config.toml" </dev/null >"$ENGINE_DIR/containerd.log" 2>&1 &
	echo $! >"$ENGINE_DIR/containerd.pid"
	if ! __wait_until 30 ctr -a "$ENGINE_DIR/containerd.sock" version; then
		echo "containerd did not answer on $ENGINE_DIR/containerd.sock:" >&2
		tail -n 20 "$ENGINE_DIR/containerd.log" >&2
		return 1
	fi
	# ctr imports an OCI archive: one uncompressed layer, made here.
	"$PYTHON" -S - "$ENGINE_DIR/rootfs.tar" "$ENGINE_DIR/image.oci.tar" "$IMAGE_CTR" <<-'EOF' || return 1
		import hashlib, io, json, sys, tarfile, time
		layer_path, out, name = sys.argv[1:]
		layer = open(layer_path, "rb").read()
		def blob(b):
		    return "sha256:" + hashlib.sha256(b).hexdigest(), b
		ld, _ = blob(layer)
		config = json.dumps({"architecture": "amd64", "os": "linux",
		    "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
		    "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
		cd, _ = blob(config)
		manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
		    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}]}).encode()
		md, _ = blob(manifest)
		index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
		    "digest": md, "size": len(manifest), "platform": {"architecture": "amd64", "os": "linux"},
		    "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "test"}}]}).encode()
		with tarfile.open(out, "w") as t:
		    def add(path, data):
		        i = tarfile.TarInfo(path); i.size = len(data); i.mtime = int(time.time())
		        t.addfile(i, io.BytesIO(data))
		    add("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
		    add("index.json", index)
		    for d, b in ((ld, layer), (cd, config), (md, manifest)):
		        add("blobs/sha256/" + d[7:], b)
	EOF
	ctr_ images import "$ENGINE_DIR/image.oci.tar" >"$ENGINE_DIR/ctr-import.log" 2>&1 ||
		{ cat "$ENGINE_DIR/ctr-import.log" >&2; return 1; }
}

# ---------------------------------------------------------------------------
# dockerd (on the file's containerd)

function docker_() {
	DOCKER_CONFIG=$ENGINE_DIR/docker-client timeout --foreground -k 5 "$ENGINE_TIMEOUT" \
		/usr/bin/docker -H "unix://$ENGINE_DIR/docker.sock" "$@"
}

function __dockerd_start() {
	[ -f "$ENGINE_DIR/containerd.pid" ] || __containerd_start || return 1
	mkdir -p "$ENGINE_DIR/docker-client"
	echo '{}' >"$ENGINE_DIR/daemon.json"
	# No iptables, default bridge or masquerading (tests use --network none,
	# or a network of their own): -p is served by docker's userland proxy.
	dockerd --config-file "$ENGINE_DIR/daemon.json" --data-root "$ENGINE_DIR/docker" \
		--exec-root "$ENGINE_DIR/dexec" --pidfile "$ENGINE_DIR/dockerd.pid" \
		-H "unix://$ENGINE_DIR/docker.sock" --containerd "$ENGINE_DIR/containerd.sock" \
		--iptables=false --ip-masq=false --bridge=none \
		--add-runtime "lightvm=$ENGINE_RUNTIME" </dev/null >"$ENGINE_DIR/dockerd.log" 2>&1 &
	echo $! >"$ENGINE_DIR/dockerd.bgpid"
	if ! __wait_until 60 docker_ version; then
		echo "dockerd did not answer on $ENGINE_DIR/docker.sock:" >&2
		tail -n 20 "$ENGINE_DIR/dockerd.log" >&2
		return 1
	fi
	docker_ import "$ENGINE_DIR/rootfs.tar" "$IMAGE_DOCKER" >"$ENGINE_DIR/docker-import.log" 2>&1 ||
		{ cat "$ENGINE_DIR/docker-import.log" >&2; return 1; }
}

# ---------------------------------------------------------------------------
# podman (no daemon: private storage)

function podman_() {
	timeout --foreground -k 5 "$ENGINE_TIMEOUT" podman --root "$ENGINE_DIR/podman/storage" --runroot "$ENGINE_DIR/podman/run" \
		--tmpdir "$ENGINE_DIR/podman/tmp" --cgroup-manager cgroupfs --events-backend file "$@"
}

function __podman_import() {
	podman_ import "$ENGINE_DIR/rootfs.tar" "$IMAGE_PODMAN" >"$ENGINE_DIR/podman-import.log" 2>&1 ||
		{ cat "$ENGINE_DIR/podman-import.log" >&2; return 1; }
}

# ---------------------------------------------------------------------------
# (timeout --foreground: on a terminal the engine must stay in the
# foreground process group.)
#
# Running things: like helpers.bash's lightvm(), sets $status and $output
# (stdout and stderr together) and logs the command for a failing test.

# engine_run ENGINE ARGS...: ENGINE is docker_, ctr_, ctr_run or podman_.
function engine_run() {
	local out
	out=$(mktemp "$ENGINE_DIR/out.XXXXXX")
	"$@" >"$out" 2>&1 </dev/null && status=0 || status=$?
	__slurp output "$out"
	mapfile -t lines <"$out"
	rm -f "$out"
	echo "${1%_} ${*:2} (status=$status):" >&2
	[ -z "$output" ] || printf '%s\n' "$output" >&2
	return 0
}

# engine_run_tty ENGINE ARGS...: the same on a terminal (script(1) gives
# one: bats has none); \r's are dropped from $output.
function engine_run_tty() {
	local out cmd
	out=$(mktemp "$ENGINE_DIR/out.XXXXXX")
	printf -v cmd '%q ' "$@"
	# script runs CMD through $SHELL: the functions must be there.
	SHELL=/bin/bash ENGINE_DIR=$ENGINE_DIR ENGINE_TIMEOUT=$ENGINE_TIMEOUT ENGINE_RUNTIME=$ENGINE_RUNTIME \
		script -qec "$(declare -f docker_ ctr_ ctr_run podman_); $cmd" /dev/null >"$out" 2>&1 </dev/null &&
		status=0 || status=$?
	__slurp output "$out"
	output=${output//$'\r'/}
	mapfile -t lines <<<"$output"
	rm -f "$out"
	echo "(tty) ${1%_} ${*:2} (status=$status):" >&2
	[ -z "$output" ] || printf '%s\n' "$output" >&2
	return 0
}

# wait_for_output SECONDS PATTERN ENGINE ARGS...: until the command's output
# has a line matching the extended regex.
function wait_for_output() {
	local t=$1 pat=$2 deadline
	shift 2
	deadline=$((SECONDS + t))
	while :; do
		output=$("$@" 2>&1) || true
		grep -Eq -- "$pat" <<<"$output" && return 0
		if [ $SECONDS -ge "$deadline" ]; then
			echo "wait_for_output: no '$pat' from ${*} after ${t}s: $output" >&2
			return 1
		fi
		sleep 0.2
	done
}

# The lightvm state directories left in the engines' runtime roots.
function engine_state_dirs() {
	local r d
	for r in "${ENGINE_ROOTS[@]}"; do
		[ -d "$r" ] || continue
		for d in "$r"/*; do
			[ -d "$d" ] && [ ! -L "$d" ] && echo "$d"
		done
	done
	return 0
}

# Processes naming $ENGINE_DIR, other than the daemons.
function __engine_pids() {
	local f p keep=()
	for f in containerd.pid dockerd.bgpid; do
		[ -f "$ENGINE_DIR/$f" ] && keep+=("$(<"$ENGINE_DIR/$f")")
	done
	for f in $(grep -lsaF -- "$ENGINE_DIR" /proc/[0-9]*/cmdline); do
		p=${f#/proc/}
		p=${p%/cmdline}
		[ "$p" != $$ ] && [ "$p" != "$BASHPID" ] || continue
		[[ " ${keep[*]} " == *" $p "* ]] && continue
		pid_alive "$p" && echo "$p"
	done
	return 0
}

# ---------------------------------------------------------------------------
# Per test

function engine_setup() {
	[ -z "${ENGINE_SKIP:-}" ] || skip "$ENGINE_SKIP"
	[ -n "${ENGINE_DIR:-}" ] || fail "setup_file did not run" || return 1
	__engine_roots
	ENGINE_RUNTIME=$ENGINE_DIR/lightvm
}

# Removes every container of the file's engines, then fails if a lightvm
# state directory, a monitor, a QEMU or a shim is left.
function engine_teardown() {
	[ -z "${ENGINE_SKIP:-}" ] && [ -n "${ENGINE_DIR:-}" ] || return 0
	local rc=0 left=() i p
	__engine_remove_all
	for i in {1..50}; do
		mapfile -t left < <(__engine_pids)
		[ ${#left[@]} -eq 0 ] && break
		sleep 0.1
	done
	if [ ${#left[@]} -gt 0 ]; then
		echo "LEAK: processes left after removing the containers:" >&2
		for p in "${left[@]}"; do echo "  $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" >&2; done
		kill -KILL "${left[@]}" 2>/dev/null || true
		rc=1
	fi
	mapfile -t left < <(engine_state_dirs)
	if [ ${#left[@]} -gt 0 ]; then
		echo "LEAK: lightvm state left: ${left[*]}" >&2
		rm -rf "${left[@]}"
		rc=1
	fi
	return $rc
}

function __engine_remove_all() {
	local ids
	if [ -S "$ENGINE_DIR/docker.sock" ]; then
		ids=$(docker_ ps -aq 2>/dev/null) || true
		[ -z "$ids" ] || docker_ rm -f $ids >/dev/null 2>&1 || true
	fi
	if [ -S "$ENGINE_DIR/containerd.sock" ]; then
		for ids in $(ctr_ tasks ls -q 2>/dev/null); do
			ctr_ tasks kill -s KILL "$ids" >/dev/null 2>&1 || true
			ctr_ tasks delete -f "$ids" >/dev/null 2>&1 || true
		done
		for ids in $(ctr_ containers ls -q 2>/dev/null); do
			ctr_ containers delete "$ids" >/dev/null 2>&1 || true
		done
	fi
	if [ -d "$ENGINE_DIR/podman" ]; then
		podman_ rm -af -t 0 >/dev/null 2>&1 || true
	fi
}

# ---------------------------------------------------------------------------
# teardown_file: containers, daemons, mounts, files outside, the directory.

function __stop_pid() {
	local p=$1 i
	kill -TERM "$p" 2>/dev/null || return 0
	for i in {1..200}; do
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "teardown: $p did not stop in 20 s after TERM: killed" >&2
	kill -KILL "$p" 2>/dev/null || true
}

function engine_teardown_file() {
	[ -n "${ENGINE_DIR:-}" ] && [ -d "$ENGINE_DIR" ] || return 0
	local rc=0 p m left=()
	__engine_remove_all
	if [ -S "$ENGINE_DIR/docker.sock" ] || [ -S "$ENGINE_DIR/containerd.sock" ]; then
		docker_ rmi -f "$IMAGE_DOCKER" >/dev/null 2>&1 || true
	fi
	[ ! -d "$ENGINE_DIR/podman" ] || podman_ rmi -af >/dev/null 2>&1 || true
	[ ! -f "$ENGINE_DIR/dockerd.bgpid" ] || __stop_pid "$(<"$ENGINE_DIR/dockerd.bgpid")"
	[ ! -f "$ENGINE_DIR/containerd.pid" ] || __stop_pid "$(<"$ENGINE_DIR/containerd.pid")"
	# Anything still naming the directory (a shim, a monitor) is a leak.
	rm -f "$ENGINE_DIR/containerd.pid" "$ENGINE_DIR/dockerd.bgpid"
	mapfile -t left < <(__engine_pids)
	if [ ${#left[@]} -gt 0 ]; then
		echo "LEAK: processes left after the daemons stopped:" >&2
		for p in "${left[@]}"; do echo "  $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" >&2; done
		kill -KILL "${left[@]}" 2>/dev/null || true
		rc=1
	fi
	# dockerd's and containerd's mounts (overlays, shm, netns binds), and
	# podman's storage.
	for m in $(__mounts_under "$ENGINE_DIR"); do
		umount "$m" 2>/dev/null || umount -l "$m" || true
	done
	if [ -n "$(__mounts_under "$ENGINE_DIR")" ]; then
		echo "teardown: mounts left under $ENGINE_DIR: not removing it" >&2
		return 1
	fi
	# What containerd put outside its directories and was not there before
	# (other users of /run/containerd may be running: empty ones only).
	for p in "${ENGINE_OUTSIDE[@]}"; do
		grep -qxF -- "$p" "$ENGINE_DIR/outside.before" && continue
		[ -d "$p" ] || continue
		rmdir "$p" 2>/dev/null || echo "teardown: $p (made during this file) is not empty: $(ls "$p")" >&2
	done
	rm -rf "$ENGINE_DIR"
	return $rc
}
