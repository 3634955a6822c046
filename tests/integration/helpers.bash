#!/usr/bin/env bash
# Shared helpers for lightvm's integration tests (bats), shaped like runc's
# tests/integration/helpers.bash.
#
# Every test gets a fresh temporary directory ($TESTDIR) holding a BusyBox
# bundle ($BUNDLE, rootfs in $BUNDLE/rootfs), a fresh runtime root ($ROOT) and
# a runtime config file ($LIGHTVM_CONFIG).  teardown() force-deletes every
# container left in $ROOT and then fails the test if anything leaked: a
# process whose command line, root or cwd mentions $TESTDIR, a mount under
# it, or a state directory.  In pool mode (LIGHTVM_TEST_POOL=1, see below)
# also a shell of the suite's pool daemon that outlived its monitor.
#
# The CLI mirrors runc's, so the suite also runs against runc:
#   LIGHTVM_BIN=/usr/sbin/runc bats tests/integration/
# Tests about VM-only behaviour call `requires lightvm` and skip there.
#
# Guest boots under TCG cost seconds: tests that need a running container
# say "(one VM)" in their name or a comment; a test never boots more than it
# needs, and checks everything it can from the VM it booted.

# This file is sourced for every test (bats runs each in a new process), so
# its top level avoids execs.
INTEGRATION_ROOT=${BASH_SOURCE[0]%/*}
[ "$INTEGRATION_ROOT" != "${BASH_SOURCE[0]}" ] || INTEGRATION_ROOT=.
INTEGRATION_ROOT=$(cd "$INTEGRATION_ROOT" && pwd)
REPO=${INTEGRATION_ROOT%/tests/integration}
LIGHTVM_BIN=${LIGHTVM_BIN:-$REPO/build/lightvm}
LIGHTVM_KERNEL=${LIGHTVM_KERNEL:-$REPO/build/bzImage}
LIGHTVM_BACKEND=${LIGHTVM_BACKEND:-qemu}
# Upper bound for one runtime command (a run of a short command included).
LIGHTVM_CMD_TIMEOUT=${LIGHTVM_CMD_TIMEOUT:-90}
BUSYBOX=${BUSYBOX:-/bin/busybox}
if [ -z "${PYTHON:-}" ]; then
	PYTHON=/usr/bin/python3
	[ -x "$PYTHON" ] || PYTHON=$(command -v python3)
fi

# Suite-wide directory: the template rootfs, recvtty, the initramfs cache.
# tests/run-integration.sh sets it for a whole run; a bare `bats FILE` gets
# one per bats run.
LIGHTVM_TEST_SUITE_DIR=${LIGHTVM_TEST_SUITE_DIR:-${BATS_RUN_TMPDIR:-/tmp}/lightvm-suite}

# Whether the runtime is runc; tests/run-integration.sh finds out once and
# exports LIGHTVM_TEST_IS_RUNC (1 or 0).
case ${LIGHTVM_TEST_IS_RUNC:-} in
1) IS_RUNC=1 ;;
0) IS_RUNC= ;;
*)
	if [ -x "$LIGHTVM_BIN" ] && "$LIGHTVM_BIN" --version 2>/dev/null | grep -qi '^runc'; then
		IS_RUNC=1
	else
		IS_RUNC=
	fi
	;;
esac
RUNTIME_NAME=${LIGHTVM_BIN##*/}

# Pool mode (LIGHTVM_TEST_POOL=1, run by tests/run-integration.sh, which
# starts one lightvm-poold for the whole run on a root of its own,
# $LIGHTVM_TEST_POOL_ROOT, and stops and checks it at the end).  Every
# test's root gets poold.sock, a symlink to that daemon's socket, so a
# monitor's claim (it connects to ROOT/poold.sock) reaches the suite's
# daemon: one daemon and its few pre-booted shells serve every test, rather
# than a daemon and a shell boot per test.  Each runtime call first gives
# the test's runtime config the pool keys it lacks (__pool_config); see
# "Pool mode" below.
case ${LIGHTVM_TEST_POOL:-0} in
0 | '') POOL_MODE= ;;
*) POOL_MODE=1 ;;
esac
LIGHTVM_TEST_POOL_TARGET=${LIGHTVM_TEST_POOL_TARGET:-2}

# ---------------------------------------------------------------------------
# Running the runtime
#
# Helpers run under bats' per-command trap and, in the lab host (a TCG VM),
# every exec costs ~50 ms: they avoid execs where a builtin does (no mktemp,
# cat or seq; no Python in polling loops).

# __slurp VAR FILE: VAR = FILE's contents less trailing newlines, as $(cat
# FILE) would give, without a fork.
function __slurp() {
	local -n __v=$1
	__v=
	IFS= read -r -d '' __v <"$2" || true
	while [[ $__v == *$'\n' ]]; do __v=${__v%$'\n'}; done
}

# A fresh file name in $TESTDIR for a command's output.
declare -i OUT_SEQ=0
function __outfile() {
	OUT_SEQ+=1
	printf -v "$1" '%s/%s.%d' "$TESTDIR" "$2" "$OUT_SEQ"
}

# The binary with the test's root (and log), no bats `run` around it: use it
# where a test needs its own redirections (stdout and stderr apart, stdin).
function __lightvm() {
	[ -z "$POOL_MODE" ] || __pool_config
	timeout -k 10 "$LIGHTVM_CMD_TIMEOUT" \
		"$LIGHTVM_BIN" --root "$ROOT" --log "$TESTDIR/runtime.log" "$@"
}

# Like bats `run`, but the output goes through a file rather than a pipe, so
# a verb that leaves a process holding its stdout (create, run -d) returns
# without waiting for that process.  Sets $status, $output and $lines, and
# logs the command, status and output: bats prints them if the test fails.
function lightvm() {
	local out
	__outfile out cmd
	__lightvm "$@" >"$out" 2>&1 </dev/null && status=0 || status=$?
	__slurp output "$out"
	mapfile -t lines <"$out"
	echo "$RUNTIME_NAME $* (status=$status):" >&2
	[ -z "$output" ] || printf '%s\n' "$output" >&2
	return 0
}

# A command's exit status, stdout and stderr kept apart: sets $status,
# $stdout and $stderr.  stdin is /dev/null unless redirected by the caller.
function lightvm_split() {
	local o e
	__outfile o out
	__outfile e err
	__lightvm "$@" >"$o" 2>"$e" && status=0 || status=$?
	__slurp stdout "$o"
	__slurp stderr "$e"
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

# skip_if_pool REASON: skip the test in pool mode, saying why it cannot
# apply there.
function skip_if_pool() {
	[ -z "$POOL_MODE" ] || skip "pool mode: $*"
}

# ---------------------------------------------------------------------------
# Pool mode
#
# The test's runtime config gets what turns the pool on, unless it says
# otherwise: "rootfs_delivery": "channel" (only a guest that waits for its
# rootfs can be any container, so only such a monitor claims a shell) and
# "pool": {"target": N}.  Added before each runtime call rather than once in
# setup: several files' setup() append keys to the config's text (e.g.
# rootfs_channel.bats adds rootfs_delivery itself) and the runtime refuses a
# duplicate key; a test that sets rootfs_delivery itself keeps its value.
# A config that is not an object's text (a test's deliberately broken one)
# is left alone.  Builtins only: this runs before every runtime call.
function __pool_config() {
	local cfg add=
	[ -f "$LIGHTVM_CONFIG" ] || return 0
	IFS= read -r -d '' cfg <"$LIGHTVM_CONFIG" || true
	[[ $cfg == *'"rootfs_delivery"'* ]] || add+=', "rootfs_delivery": "channel"'
	[[ $cfg == *'"pool"'* ]] || add+=", \"pool\": {\"target\": $LIGHTVM_TEST_POOL_TARGET}"
	[ -n "$add" ] || return 0
	[[ $cfg =~ ^[[:space:]]*\{.*\}[[:space:]]*$ ]] || return 0
	printf '%s' "${cfg%\}*}$add}" >"$LIGHTVM_CONFIG"
}

# __proc_start PID: the process's start time (field 22 of /proc/PID/stat,
# what the daemon's records hold); fails for a missing or zombie process.
function __proc_start() {
	local stat f
	IFS= read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	read -r -a f <<<"${stat##*) }"
	[ "${f[0]}" != Z ] || return 1
	echo "${f[19]}"
}

# Shells of the suite's daemon whose claiming monitor is gone, one line
# each: "QEMU-PID description".  The daemon watches every claiming monitor
# (a pidfd), ends its QEMU when it dies and removes the record once it has
# reaped that QEMU: a record that outlives its monitor is a leaked VM.
function __pool_orphans() {
	local rec k p s q m ms now
	for rec in "$LIGHTVM_TEST_POOL_ROOT"/pool/*/shell; do
		[ -f "$rec" ] || continue
		q= m= ms=
		while read -r k p s; do
			case $k in
			qemu) q=$p ;;
			claimed) m=$p ms=$s ;;
			esac
		done 2>/dev/null <"$rec"
		[ -n "$m" ] || continue
		now=$(__proc_start "$m") && [ "$now" = "$ms" ] && continue
		echo "$q ${rec%/shell}: qemu $q, claimed by monitor $m, which is gone"
	done
}

# ---------------------------------------------------------------------------
# Bundles

# The BusyBox rootfs and the bundle's config.json are made once per suite
# (tests/run-integration.sh makes them before bats starts; a bare `bats FILE`
# makes them on first use), so that a test's bundle costs a few execs, not
# one per BusyBox applet: under the lab's TCG an exec costs ~50 ms.  As root
# with lightvm, a test's rootfs is a read-only bind mount of the template:
# the same inodes every time, so lightvm's initramfs cache (keyed by inode
# and ctime) hits after the suite's first VM instead of building an archive
# per test.  Elsewhere (runc, which writes into the rootfs; non-root;
# LIGHTVM_TEST_ROOTFS=copy) it is a copy (cp -a).  A test that writes into
# its rootfs calls writable_rootfs first.
LIGHTVM_TEST_ROOTFS=${LIGHTVM_TEST_ROOTFS:-auto}

# The suite's template: $LIGHTVM_TEST_SUITE_DIR/{rootfs,config.json,cache}.
function __template_rootfs() {
	local s=$LIGHTVM_TEST_SUITE_DIR tmp
	[ -d "$s/rootfs" ] && [ -f "$s/config.json" ] && return 0
	mkdir -p "$s/cache" || return 1
	# Several bats jobs may race here: build aside, then rename.
	if [ ! -d "$s/rootfs" ]; then
		tmp=$(mktemp -d "$s/rootfs.XXXXXX") || return 1
		"$PYTHON" -S - "$tmp" "$BUSYBOX" <<-'EOF' || { rm -rf "$tmp"; fail "building the template rootfs failed"; return 1; }
			import os, shutil, subprocess, sys
			root, busybox = sys.argv[1:]
			os.chmod(root, 0o755)
			for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", "home/test", "usr"):
			    os.makedirs(os.path.join(root, d), exist_ok=True)
			os.chmod(os.path.join(root, "tmp"), 0o1777)
			shutil.copy(busybox, os.path.join(root, "bin/busybox"))
			applets = subprocess.run([busybox, "--list"], stdout=subprocess.PIPE, check=True, text=True).stdout.split()
			for a in applets:
			    if a != "busybox":
			        os.symlink("busybox", os.path.join(root, "bin", a))
			os.symlink("../bin", os.path.join(root, "usr/bin"))
			os.symlink("bin", os.path.join(root, "sbin"))
			files = {
			    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"
			                  "test:x:1000:1000:test:/home/test:/bin/sh\n"
			                  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
			    "etc/group": "root:x:0:\ntest:x:1000:\nnogroup:x:65534:\n",
			    "etc/hostname": "lightvm-test\n",
			}
			for name, text in files.items():
			    with open(os.path.join(root, name), "w") as f:
			        f.write(text)
			try:
			    os.chown(os.path.join(root, "home/test"), 1000, 1000)
			except PermissionError:
			    pass
		EOF
		# Rename into place unless another job won the race.
		mv -T "$tmp" "$s/rootfs" 2>/dev/null || rm -rf "$tmp"
	fi
	# config.json from `spec`, made non-interactive: terminal false, args
	# `true`, writable root.
	if [ ! -f "$s/config.json" ]; then
		tmp=$(mktemp -d "$s/config.XXXXXX") || return 1
		(cd "$tmp" && "$LIGHTVM_BIN" spec) || { rm -rf "$tmp"; fail "$RUNTIME_NAME spec failed"; return 1; }
		update_config 'c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
c["root"]["readonly"] = False' "$tmp" || { rm -rf "$tmp"; return 1; }
		mv -f "$tmp/config.json" "$s/config.json" && rm -rf "$tmp"
	fi
	[ -d "$s/rootfs" ] && [ -f "$s/config.json" ]
}

# Mount points under DIR, last mounted first (the order to unmount them).
function __mounts_under() {
	local lines=() f i
	mapfile -t lines </proc/self/mountinfo
	for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
		read -r _ _ _ _ f _ <<<"${lines[i]}"
		case $f/ in "$1"/*) echo "$f" ;; esac
	done
}

# The read-only template binds this test made (teardown expects them).
declare -a ROOTFS_BINDS=()

# setup_bundle [DIR]: a BusyBox bundle in DIR (default $BUNDLE), from the
# suite's template.
function setup_bundle() {
	local b=${1:-$BUNDLE} cfg
	__template_rootfs || return 1
	[ -d "$b/rootfs" ] || mkdir -p "$b/rootfs" || return 1
	if [ "$LIGHTVM_TEST_ROOTFS" != copy ] && [ -z "$IS_RUNC" ] && [ "$EUID" = 0 ] &&
		mount -o bind,ro "$LIGHTVM_TEST_SUITE_DIR/rootfs" "$b/rootfs" 2>/dev/null; then
		ROOTFS_BINDS+=("$b/rootfs")
	else
		# (A bind whose read-only remount failed would still be there.)
		[ -z "$(__mounts_under "$b/rootfs")" ] || umount "$b/rootfs" || return 1
		cp -a "$LIGHTVM_TEST_SUITE_DIR/rootfs/." "$b/rootfs/" || return 1
	fi
	IFS= read -r -d '' cfg <"$LIGHTVM_TEST_SUITE_DIR/config.json" || true
	printf '%s' "$cfg" >"$b/config.json"
}

# writable_rootfs [BUNDLE]: the bundle's rootfs as a private, writable copy.
function writable_rootfs() {
	local r=${1:-$BUNDLE}/rootfs i
	for i in "${!ROOTFS_BINDS[@]}"; do
		[ "${ROOTFS_BINDS[i]}" = "$r" ] || continue
		umount "$r" || return 1
		unset 'ROOTFS_BINDS[i]'
		cp -a "$LIGHTVM_TEST_SUITE_DIR/rootfs/." "$r/" || return 1
	done
}

# update_config PYTHON [BUNDLE]: edit config.json with Python statements on
# the dict `c` (runc's update_config takes a jq filter; we avoid jq).
function update_config() {
	local cfg="${2:-$BUNDLE}/config.json"
	"$PYTHON" -S - "$cfg" "$1" <<-'EOF'
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
	"$PYTHON" -S - "$BUNDLE/config.json" "$@" <<-'EOF'
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
	"$PYTHON" -S -c '
import json, sys
j = json.loads(sys.argv[2])
v = eval(sys.argv[1], {"j": j})
print(v if isinstance(v, str) else json.dumps(v))
' "$1" "$src"
}

# ---------------------------------------------------------------------------
# Container state

# The status field of `state ID`, or "" if state fails.  Polled: no Python
# (a Python start costs ~0.3 s in the lab).
function container_status() {
	local s
	s=$(__lightvm state "$1" 2>/dev/null </dev/null) || return 0
	if [[ $s =~ \"status\":[[:space:]]*\"([a-z]+)\" ]]; then
		echo "${BASH_REMATCH[1]}"
	fi
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

# Everything in a directory but . and .. (builtins: a glob).
function __dir_entries() {
	local e
	for e in "$1"/* "$1"/.[!.]* "$1"/..?*; do
		if [ -e "$e" ] || [ -L "$e" ]; then echo "$e"; fi
	done
}

# The ids in the root: its directories, which is what `list` reads (so a
# broken `list` cannot hide a leak).
function __container_ids() {
	local d
	[ -d "$ROOT" ] || return 0
	for d in $(__dir_entries "$ROOT"); do
		if [ -d "$d" ] && [ ! -L "$d" ]; then echo "${d##*/}"; fi
	done
}

# Host processes belonging to this test: command line mentions $TESTDIR
# (lightvm's qemu and monitor name the root or bundle), or, for runc, root
# is one of the test's rootfs dirs (runc's containers; pivot_root'ed, so
# compare inodes).  One grep over all command lines: the pattern has its
# dots as [.], so it does not match grep's own command line.
function __test_pids() {
	local f p r roots=()
	for f in $(grep -lsaE -- "${TESTDIR//./[.]}" /proc/[0-9]*/cmdline); do
		p=${f#/proc/}
		p=${p%/cmdline}
		if [ "$p" != $$ ] && [ "$p" != "$BASHPID" ]; then echo "$p"; fi
	done
	[ -n "$IS_RUNC" ] || return 0
	for r in "$TESTDIR"/*/rootfs "$TESTDIR"/rootfs; do
		[ -d "$r" ] && roots+=("$r")
	done
	[ ${#roots[@]} -gt 0 ] || return 0
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		if [ "$p" = $$ ] || [ "$p" = "$BASHPID" ]; then continue; fi
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
	# Short paths: unix socket paths under the root must fit 108 bytes.
	# (mkdir -m, which fails on any existing name, is mktemp -d + chmod in
	# one exec.)
	local i
	for i in {1..20}; do
		TESTDIR=/tmp/lvt.$RANDOM$RANDOM
		if mkdir -m 0711 "$TESTDIR" 2>/dev/null; then break; fi
		[ "$i" -lt 20 ] || fail "cannot make a test directory in /tmp" || return 1
	done
	ROOT=$TESTDIR/root
	BUNDLE=$TESTDIR/bundle
	mkdir "$ROOT" "$BUNDLE" "$BUNDLE/rootfs"
	export LIGHTVM_CONFIG=$TESTDIR/lightvm.json
	printf '{\n  "kernel": "%s",\n  "cache_dir": "%s",\n  "backend": "%s"\n}\n' \
		"$LIGHTVM_KERNEL" "$LIGHTVM_TEST_SUITE_DIR/cache" "$LIGHTVM_BACKEND" >"$LIGHTVM_CONFIG"
	BG_PIDS=()
	ROOTFS_BINDS=()
	if [ -n "$POOL_MODE" ]; then
		[ -S "${LIGHTVM_TEST_POOL_ROOT:-}/poold.sock" ] ||
			fail "pool mode: no pool daemon at ${LIGHTVM_TEST_POOL_ROOT:-?}/poold.sock (run the suite with tests/run-integration.sh)" ||
			return 1
		ln -s "$LIGHTVM_TEST_POOL_ROOT/poold.sock" "$ROOT/poold.sock" || return 1
	fi
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
		for _ in {1..50}; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done

	# Leak checks.  Give exiting processes a moment.
	for i in {1..30}; do
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
	# Pool mode: the symlink to the suite's daemon goes, and a claimed
	# shell's QEMU (its command line names the daemon's root, not
	# $TESTDIR) must have ended with its monitor.  Under bats --jobs
	# another file's monitor may just have died: a moment's grace.
	if [ -n "$POOL_MODE" ]; then
		[ ! -L "$ROOT/poold.sock" ] || rm -f "$ROOT/poold.sock"
		local orphans=()
		for i in {1..30}; do
			mapfile -t orphans < <(__pool_orphans)
			[ ${#orphans[@]} -eq 0 ] && break
			sleep 0.1
		done
		if [ ${#orphans[@]} -gt 0 ]; then
			echo "LEAK: shells of the pool daemon outlived their monitors:" >&2
			for p in "${orphans[@]}"; do
				echo "  ${p#* }" >&2
				# The daemon's unreaped child while its record is there:
				# end it so that the next tests do not report it again.
				kill -KILL "${p%% *}" 2>/dev/null || true
			done
			failed=1
		fi
	fi
	local left
	left=$(__dir_entries "$ROOT")
	if [ -n "$left" ]; then
		echo "LEAK: left in the root after delete --force: $left" >&2
		failed=1
	fi
	# Mounts: the test's read-only template binds come off, then nothing
	# may be left under $TESTDIR.  (A mount stacked on a bind comes off in
	# its place, and the bind is then the one found left.)
	if [ ${#ROOTFS_BINDS[@]} -gt 0 ]; then umount -l "${ROOTFS_BINDS[@]}" || true; fi
	local mi mounts=()
	__slurp mi /proc/self/mountinfo
	if [[ $mi == *" $TESTDIR/"* || $mi == *" $TESTDIR "* ]]; then
		mapfile -t mounts < <(__mounts_under "$TESTDIR")
	fi
	if [ ${#mounts[@]} -gt 0 ]; then
		echo "LEAK: mounts left under $TESTDIR:" >&2
		printf '%s\n' "${mounts[@]}" >&2
		failed=1
		if ! umount -l "${mounts[@]}"; then
			# Never rm -rf through a mount (the template is behind one).
			echo "teardown: cannot unmount under $TESTDIR; left in place" >&2
			return 1
		fi
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
