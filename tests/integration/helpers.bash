#!/usr/bin/env bash
# Shared helpers for lightvm's integration tests (bats), shaped like runc's
# tests/integration/helpers.bash.
#
# Every test gets a fresh temporary directory ($TESTDIR) holding a BusyBox
# bundle ($BUNDLE, rootfs in $BUNDLE/rootfs), a fresh runtime root ($ROOT) and
# a runtime config file ($LIGHTVM_CONFIG).  teardown() force-deletes every
# container left in $ROOT and then fails the test if anything leaked: a
# process whose command line, root or cwd mentions $TESTDIR, a mount under
# it, or a state directory.
#
# The CLI mirrors runc's, so the suite also runs against runc:
#   LIGHTVM_BIN=/usr/sbin/runc bats tests/integration/
# Tests about VM-only behaviour call `requires lightvm` and skip there.
#
# Guest boots under TCG cost seconds: tests that need a running container
# say "(one VM)" in their name or a comment; a test never boots more than it
# needs, and checks everything it can from the VM it booted.

INTEGRATION_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$INTEGRATION_ROOT/../.." && pwd)
LIGHTVM_BIN=${LIGHTVM_BIN:-$REPO/build/lightvm}
LIGHTVM_KERNEL=${LIGHTVM_KERNEL:-$REPO/build/bzImage}
LIGHTVM_BACKEND=${LIGHTVM_BACKEND:-qemu}
# Upper bound for one runtime command (a run of a short command included).
LIGHTVM_CMD_TIMEOUT=${LIGHTVM_CMD_TIMEOUT:-90}
BUSYBOX=${BUSYBOX:-/bin/busybox}
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}

# Suite-wide directory: the template rootfs, recvtty, the initramfs cache.
# tests/run-integration.sh sets it for a whole run; a bare `bats FILE` gets
# one per bats run.
LIGHTVM_TEST_SUITE_DIR=${LIGHTVM_TEST_SUITE_DIR:-${BATS_RUN_TMPDIR:-/tmp}/lightvm-suite}

if [ -x "$LIGHTVM_BIN" ] && "$LIGHTVM_BIN" --version 2>/dev/null | grep -qi '^runc'; then
	IS_RUNC=1
else
	IS_RUNC=
fi
RUNTIME_NAME=$(basename "$LIGHTVM_BIN")

# ---------------------------------------------------------------------------
# Running the runtime

# The binary with the test's root (and log), no bats `run` around it: use it
# where a test needs its own redirections (stdout and stderr apart, stdin).
function __lightvm() {
	timeout -k 10 "$LIGHTVM_CMD_TIMEOUT" \
		"$LIGHTVM_BIN" --root "$ROOT" --log "$TESTDIR/runtime.log" "$@"
}

# Like bats `run`, but the output goes through a file rather than a pipe, so
# a verb that leaves a process holding its stdout (create, run -d) returns
# without waiting for that process.  Sets $status, $output and $lines, and
# logs the command, status and output: bats prints them if the test fails.
function lightvm() {
	local out
	out=$(mktemp "$TESTDIR/cmd.XXXXXX")
	__lightvm "$@" >"$out" 2>&1 </dev/null && status=0 || status=$?
	output=$(cat "$out")
	mapfile -t lines <"$out"
	echo "$RUNTIME_NAME $* (status=$status):" >&2
	[ -z "$output" ] || printf '%s\n' "$output" >&2
	return 0
}

# A command's exit status, stdout and stderr kept apart: sets $status,
# $stdout and $stderr.  stdin is /dev/null unless redirected by the caller.
function lightvm_split() {
	local o e
	o=$(mktemp "$TESTDIR/out.XXXXXX")
	e=$(mktemp "$TESTDIR/err.XXXXXX")
	__lightvm "$@" >"$o" 2>"$e" && status=0 || status=$?
	stdout=$(cat "$o")
	stderr=$(cat "$e")
	echo "$RUNTIME_NAME $* (status=$status):" >&2
	echo "--- stdout:" >&2
	[ -z "$stdout" ] || printf '%s\n' "$stdout" >&2
	echo "--- stderr:" >&2
	[ -z "$stderr" ] || printf '%s\n' "$stderr" >&2
	return 0
}

function fail() {
	echo "FAIL: $*" >&2
	return 1
}

# The output must contain the fixed string (case-insensitive with -i).
function assert_output_contains() {
	local flags=-F
	if [ "$1" = -i ]; then flags=-Fi; shift; fi
	grep -q $flags -- "$1" <<<"$output" || fail "output does not contain '$1'"
}

# ---------------------------------------------------------------------------
# Skipping honestly

# requires FEATURE...: skip the test unless every feature is present.
#   root     running as root
#   lightvm  the binary is lightvm, not runc (VM-only behaviour); alias not_runc
#   runc     the binary is runc
#   kernel   a guest kernel exists (not needed with runc)
#   podman   podman is installed
#   cc       a C compiler (for tests/tools)
#   cgroups  the runtime can use cgroups here (runc on this host: v1 hybrid)
function requires() {
	local f
	for f in "$@"; do
		case $f in
		root) [ "$(id -u)" = 0 ] || skip "test requires root" ;;
		lightvm | not_runc) [ -z "$IS_RUNC" ] || skip "lightvm-only behaviour (binary is runc)" ;;
		runc) [ -n "$IS_RUNC" ] || skip "test requires runc" ;;
		kernel)
			[ -n "$IS_RUNC" ] || [ -f "$LIGHTVM_KERNEL" ] ||
				skip "test requires a guest kernel at $LIGHTVM_KERNEL (make kernel)"
			;;
		podman) command -v podman >/dev/null || skip "test requires podman" ;;
		cc) command -v "${CC:-cc}" >/dev/null || skip "test requires a C compiler" ;;
		cgroups) [ -d /sys/fs/cgroup ] || skip "test requires cgroups" ;;
		*) fail "requires: unknown feature '$f'" ;;
		esac
	done
}

# ---------------------------------------------------------------------------
# Bundles

# A BusyBox rootfs built once per suite and copied (cp -a keeps mtimes, so a
# content-addressed initramfs cache sees the same tree every time).
function __template_rootfs() {
	local t="$LIGHTVM_TEST_SUITE_DIR/rootfs"
	[ -f "$t/.done" ] && return 0
	mkdir -p "$LIGHTVM_TEST_SUITE_DIR"
	# Several bats jobs may race here: build aside, then rename.
	local tmp
	tmp=$(mktemp -d "$LIGHTVM_TEST_SUITE_DIR/rootfs.XXXXXX")
	chmod 0755 "$tmp"
	mkdir -p "$tmp"/{bin,etc,tmp,proc,sys,dev,root,home/test}
	chmod 1777 "$tmp/tmp"
	cp "$BUSYBOX" "$tmp/bin/busybox"
	local a
	for a in $("$BUSYBOX" --list); do
		[ "$a" = busybox ] || ln -s busybox "$tmp/bin/$a"
	done
	mkdir -p "$tmp/usr"
	ln -s ../bin "$tmp/usr/bin"
	ln -s bin "$tmp/sbin"
	cat >"$tmp/etc/passwd" <<-EOF
		root:x:0:0:root:/root:/bin/sh
		test:x:1000:1000:test:/home/test:/bin/sh
		nobody:x:65534:65534:nobody:/nonexistent:/bin/false
	EOF
	cat >"$tmp/etc/group" <<-EOF
		root:x:0:
		test:x:1000:
		nogroup:x:65534:
	EOF
	echo "lightvm-test" >"$tmp/etc/hostname"
	chown 1000:1000 "$tmp/home/test"
	touch "$tmp/.done"
	# Rename into place unless another job won the race.
	if ! mv -T "$tmp" "$t" 2>/dev/null; then
		rm -rf "$tmp"
	fi
	[ -f "$t/.done" ]
}

# setup_bundle [DIR]: a BusyBox bundle in DIR (default $BUNDLE) whose
# config.json comes from `$LIGHTVM_BIN spec`, made non-interactive:
# terminal false, args `true`, writable root.
function setup_bundle() {
	local b=${1:-$BUNDLE}
	__template_rootfs
	mkdir -p "$b"
	cp -a "$LIGHTVM_TEST_SUITE_DIR/rootfs" "$b/rootfs"
	rm -f "$b/rootfs/.done"
	(cd "$b" && "$LIGHTVM_BIN" spec) || fail "$RUNTIME_NAME spec failed"
	update_config 'c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
c["root"]["readonly"] = False' "$b"
}

# update_config PYTHON [BUNDLE]: edit config.json with Python statements on
# the dict `c` (runc's update_config takes a jq filter; we avoid jq).
function update_config() {
	local cfg="${2:-$BUNDLE}/config.json"
	"$PYTHON" - "$cfg" "$1" <<-'EOF'
		import json, sys
		path, code = sys.argv[1], sys.argv[2]
		with open(path) as f:
		    c = json.load(f)
		exec(code, {"c": c})
		with open(path, "w") as f:
		    json.dump(c, f, indent=2)
	EOF
}

# set_cmd ARG...: process.args = the arguments, exactly (no quoting games).
function set_cmd() {
	"$PYTHON" - "$BUNDLE/config.json" "$@" <<-'EOF'
		import json, sys
		path, args = sys.argv[1], sys.argv[2:]
		with open(path) as f:
		    c = json.load(f)
		c["process"]["args"] = args
		with open(path, "w") as f:
		    json.dump(c, f, indent=2)
	EOF
}

# json_get EXPR [JSON]: evaluate a Python expression on the parsed JSON `j`
# (from the argument or $output) and print it (JSON-encoded unless a str).
function json_get() {
	local src=${2-$output}
	"$PYTHON" -c '
import json, sys
j = json.loads(sys.argv[2])
v = eval(sys.argv[1], {"j": j})
print(v if isinstance(v, str) else json.dumps(v))
' "$1" "$src"
}

# ---------------------------------------------------------------------------
# Container state

# The status field of `state ID`, or "" if state fails.
function container_status() {
	local s
	s=$(__lightvm state "$1" 2>/dev/null </dev/null) || return 0
	json_get 'j["status"]' "$s" 2>/dev/null || true
}

# wait_for_status ID STATUS [TIMEOUT_SECONDS]
function wait_for_status() {
	local id=$1 want=$2 timeout=${3:-30} now
	local deadline=$((SECONDS + timeout))
	while :; do
		now=$(container_status "$id")
		[ "$now" = "$want" ] && return 0
		if [ $SECONDS -ge "$deadline" ]; then
			echo "wait_for_status: $id is '$now' after ${timeout}s, wanted '$want'" >&2
			return 1
		fi
		sleep 0.2
	done
}

# wait_for_file FILE PATTERN [TIMEOUT]: until FILE has a line matching the
# extended regex PATTERN.
function wait_for_file() {
	local f=$1 pat=$2 timeout=${3:-30}
	local deadline=$((SECONDS + timeout))
	until [ -f "$f" ] && grep -Eq -- "$pat" "$f"; do
		if [ $SECONDS -ge "$deadline" ]; then
			echo "wait_for_file: no '$pat' in $f after ${timeout}s:" >&2
			cat "$f" >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.1
	done
}

# Start a detached container running `sleep 1000` (one VM); its stdio goes to
# files in $TESTDIR.  Uses `run -d` (or create+start with "create").
function start_sleeper() {
	local id=$1 how=${2:-run}
	set_cmd sleep 1000
	if [ "$how" = create ]; then
		lightvm create --bundle "$BUNDLE" "$id"
		[ "$status" -eq 0 ] || return 1
		lightvm start "$id"
	else
		lightvm run -d --bundle "$BUNDLE" "$id"
	fi
	[ "$status" -eq 0 ] || return 1
	wait_for_status "$id" running 10
}

# The ids in the root: `list -q`, plus any directory in the root (so a
# broken list cannot hide a leak).
function __container_ids() {
	{
		__lightvm list -q 2>/dev/null </dev/null || true
		if [ -d "$ROOT" ]; then
			find "$ROOT" -mindepth 1 -maxdepth 1 -type d -printf '%f\n'
		fi
	} | sort -u
}

# Host processes belonging to this test: command line mentions $TESTDIR
# (lightvm's qemu and monitor name the root or bundle), or root is one of
# the test's rootfs dirs (runc's containers; pivot_root'ed, so compare
# inodes).  Builtins only: this runs over every process, repeatedly.
function __test_pids() {
	local p r cmd roots=()
	for r in "$TESTDIR"/*/rootfs "$TESTDIR"/rootfs; do
		[ -d "$r" ] && roots+=("$r")
	done
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		if [ "$p" = $$ ] || [ "$p" = "$BASHPID" ]; then continue; fi
		cmd=()
		mapfile -d '' cmd 2>/dev/null <"/proc/$p/cmdline" || continue
		[ ${#cmd[@]} -gt 0 ] || continue # kernel threads, zombies
		case "${cmd[*]}" in
		*"$TESTDIR"*) echo "$p"; continue ;;
		esac
		for r in "${roots[@]}"; do
			if [ "/proc/$p/root" -ef "$r" ]; then echo "$p"; break; fi
		done
	done
}

# Whether PID is a live process (a zombie is not: a runc container's init
# can linger unreaped under whatever subreaper adopted it).
function pid_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Our own helpers (recvtty, background runtime calls) are not leaks if the
# test still holds them: they are reaped here first.
declare -a BG_PIDS=()
function track_bg() { BG_PIDS+=("$1"); }

# ---------------------------------------------------------------------------
# setup / teardown

function setup_lightvm_test() {
	[ -x "$LIGHTVM_BIN" ] || fail "no runtime binary at $LIGHTVM_BIN (make, or set LIGHTVM_BIN)" || return 1
	[ -x "$BUSYBOX" ] || skip "needs busybox-static at $BUSYBOX"
	mkdir -p "$LIGHTVM_TEST_SUITE_DIR/cache"
	# Short paths: unix socket paths under the root must fit 108 bytes.
	TESTDIR=$(mktemp -d /tmp/lvt.XXXXXX)
	ROOT=$TESTDIR/root
	BUNDLE=$TESTDIR/bundle
	mkdir -p "$ROOT"
	chmod 0711 "$TESTDIR"
	export LIGHTVM_CONFIG=$TESTDIR/lightvm.json
	cat >"$LIGHTVM_CONFIG" <<-EOF
		{
		  "kernel": "$LIGHTVM_KERNEL",
		  "cache_dir": "$LIGHTVM_TEST_SUITE_DIR/cache",
		  "backend": "$LIGHTVM_BACKEND"
		}
	EOF
	BG_PIDS=()
	setup_bundle "$BUNDLE"
}

# Default setup for files that do not define their own.
function setup() {
	setup_lightvm_test
}

function teardown_lightvm_test() {
	local leaks=() id p i
	cd / || true
	[ -n "${TESTDIR:-}" ] && [ -d "$TESTDIR" ] || return 0

	for id in $(__container_ids); do
		__lightvm delete --force "$id" </dev/null >/dev/null 2>&1 || true
	done
	# Background helpers of the test (recvtty, foreground `run &`).
	for p in "${BG_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || continue
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done

	# Leak checks.  Give exiting processes a moment.
	for i in $(seq 30); do
		mapfile -t leaks < <(__test_pids)
		[ ${#leaks[@]} -eq 0 ] && break
		sleep 0.1
	done
	local failed=
	if [ ${#leaks[@]} -gt 0 ]; then
		echo "LEAK: processes still running after teardown:" >&2
		for p in "${leaks[@]}"; do
			echo "  $p: $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")" >&2
		done
		kill -KILL "${leaks[@]}" 2>/dev/null || true
		failed=1
	fi
	local left
	left=$(find "$ROOT" -mindepth 1 -maxdepth 1 2>/dev/null)
	if [ -n "$left" ]; then
		echo "LEAK: left in the root after delete --force: $left" >&2
		failed=1
	fi
	local mounts
	mounts=$(awk -v d="$TESTDIR/" 'index($5 "/", d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	if [ -n "$mounts" ]; then
		echo "LEAK: mounts left under $TESTDIR:" >&2
		echo "$mounts" >&2
		for p in $mounts; do umount -l "$p" 2>/dev/null || true; done
		failed=1
	fi
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -s "$TESTDIR/runtime.log" ]; then
		echo "--- runtime log ($TESTDIR/runtime.log), last 40 lines:" >&2
		tail -n 40 "$TESTDIR/runtime.log" >&2
	fi
	rm -rf "$TESTDIR"
	[ -z "$failed" ]
}

function teardown() {
	teardown_lightvm_test
}

# recvtty: built once per suite from tests/tools/recvtty.c.
function build_recvtty() {
	RECVTTY=$LIGHTVM_TEST_SUITE_DIR/recvtty
	local src=$REPO/tests/tools/recvtty.c
	if [ ! -x "$RECVTTY" ] || [ "$src" -nt "$RECVTTY" ]; then
		local tmp
		tmp=$(mktemp "$LIGHTVM_TEST_SUITE_DIR/recvtty.XXXXXX")
		"${CC:-cc}" -std=gnu11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$tmp" "$src" || return 1
		mv -f "$tmp" "$RECVTTY"
	fi
}
