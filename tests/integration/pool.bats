#!/usr/bin/env bats
# lightvm poold: a pool of pre-booted QEMU shells that create claims
# (runtime/POOL.md).  Channel delivery, qemu backend; each test starts its
# own daemon and stops it, so they skip in the suite's pool mode (whose
# daemon's socket is already in every test's root) and run in the pool-off
# leg.

load helpers
load pool_helpers

function setup() { pool_setup; }

# Every test here starts and stops daemons of its own on its root.
function requires_own_daemon() {
	requires root lightvm kernel
	[ "$LIGHTVM_BACKEND" = qemu ] || skip "shells exist for the qemu backend only so far"
	skip_if_pool "this file runs daemons of its own on the test's root, where the suite's daemon's socket is; it runs in the pool-off leg"
}

# freeze_shells PID...: SIGSTOP the QEMUs of shells, until they are stopped.
# A running shell whose daemon dies may end by itself at a moment no test
# controls (its guest's init finds the control port closed: the daemon held
# the host's end); a frozen one stays until a daemon reclaims it.  The
# daemon stops booted shells itself; this holds a booting one too, and
# keeps the tests about reclaim independent of when the daemon stops them.
function freeze_shells() {
	local p
	kill -STOP "$@"
	for p in "$@"; do
		for _ in {1..50}; do
			[[ $(<"/proc/$p/stat") == *") T "* ]] && break
			sleep 0.02
		done
		[[ $(<"/proc/$p/stat") == *") T "* ]] || fail "qemu $p did not stop"
	done
}

# ready_shells: the READY column of the one pool.
function ready_shells() {
	lightvm pool status
	[ "$status" -eq 0 ] || return 1
	awk 'NR == 2 { print $4 }' <<<"$output"
}

# fill_one: the pool's target to 1, until its shell is ready.
function fill_one() {
	lightvm pool fill --target 1
	[ "$status" -eq 0 ] || fail "pool fill: $output"
	wait_ready 1
}

function wait_ready() {
	local want=$1 n
	for _ in {1..100}; do
		n=$(ready_shells)
		[ "$n" = "$want" ] && return 0
		sleep 0.1
	done
	fail "pool: $n ready shells, wanted $want"
}

# Live QEMUs whose command line names this test's pool.  By comm first:
# the grep itself has "$ROOT/pool" in its command line and may still be
# running when its output is read.
function qemus_of_test() {
	local d comm
	for d in /proc/[0-9]*; do
		comm=$(cat "$d/comm" 2>/dev/null) || continue
		[[ $comm == qemu-system* ]] || continue
		grep -qsaF -- "$ROOT/pool" "$d/cmdline" && pid_alive "${d#/proc/}" && echo "${d#/proc/}"
	done
	return 0 # not the status of the last process looked at (another test's QEMU)
}

@test "pool: a claimed shell runs the container; the pool refills; the monitor is the container's pid (one VM)" {
	requires_own_daemon
	start_poold
	fill_one
	set_cmd sh -c 'echo from-a-shell; exit 5'
	lightvm_split run --bundle "$BUNDLE" pl0 </dev/null
	[ "$status" -eq 5 ]
	[ "$stdout" = "from-a-shell" ]
	grep -q "claimed by monitor" "$TESTDIR/poold.log"
	# Consumed, then refilled.
	wait_ready 1
	# create: the container's pid is its monitor, which holds the claimed QEMU.
	set_cmd sleep 100
	lightvm create --bundle "$BUNDLE" pl1
	[ "$status" -eq 0 ]
	local pid vmm
	pid=$(json_get 'j["pid"]' "$(__lightvm state pl1)")
	[ -n "$pid" ] && [ "$pid" != 0 ]
	grep -q "claimed by monitor $pid" "$TESTDIR/poold.log"
	[ "$(cat /proc/$pid/comm)" != qemu-system-x86 ]
	lightvm delete --force pl1
	[ "$status" -eq 0 ]
	stop_poold
	[ -z "$(qemus_of_test)" ]
	[ ! -e "$ROOT/pool" ]
}

@test "pool: no daemon: create starts cold (one VM)" {
	requires_own_daemon
	set_cmd sh -c 'echo cold'
	lightvm_split run --bundle "$BUNDLE" pl2 </dev/null
	[ "$status" -eq 0 ]
	[ "$stdout" = cold ]
	[ ! -e "$ROOT/pool" ]
}

@test "pool: a killed daemon: create still works, a new daemon reclaims its shells (one VM)" {
	requires_own_daemon
	start_poold
	lightvm pool fill --target 2
	[ "$status" -eq 0 ]
	wait_ready 2
	local shells
	shells=$(qemus_of_test)
	[ "$(wc -l <<<"$shells")" -eq 2 ]
	freeze_shells $shells
	kill -KILL "$POOLD_PID"
	wait "$POOLD_PID" 2>/dev/null || true
	[ "$(qemus_of_test)" = "$shells" ]
	set_cmd sh -c 'echo after-the-daemon'
	lightvm_split run --bundle "$BUNDLE" pl3 </dev/null
	[ "$status" -eq 0 ]
	[ "$stdout" = after-the-daemon ]
	start_poold
	[ "$(grep -c "reclaiming shell" "$TESTDIR/poold.log")" -eq 2 ]
	[ -z "$(qemus_of_test)" ]
	stop_poold
	[ ! -e "$ROOT/pool" ]
	[ ! -e "$ROOT/poold.sock" ]
}

@test "pool: SIGKILL of a pooled container's monitor: the daemon ends its QEMU (one VM)" {
	requires_own_daemon
	start_poold
	fill_one
	set_cmd sleep 100
	lightvm create --bundle "$BUNDLE" pl4
	[ "$status" -eq 0 ]
	local pid qemu
	pid=$(json_get 'j["pid"]' "$(__lightvm state pl4)")
	grep -q "claimed by monitor $pid" "$TESTDIR/poold.log"
	lightvm pool drain
	[ "$status" -eq 0 ]
	# Frozen, its guest cannot end it on finding the monitor's port closed:
	# only the daemon's kill can.
	qemu=$(qemus_of_test)
	[ "$(wc -l <<<"$qemu")" -eq 1 ]
	freeze_shells $qemu
	kill -KILL "$pid"
	for _ in {1..100}; do [ -z "$(qemus_of_test)" ] && break; sleep 0.1; done
	[ -z "$(qemus_of_test)" ]
	grep -q "monitor of shell .* is gone" "$TESTDIR/poold.log"
	lightvm delete --force pl4
	stop_poold
	[ ! -e "$ROOT/pool" ]
}

# __pool_connecting: whether ROOT/poold.sock has a connection its daemon has
# not accepted yet.  /proc/net/unix shows such a socket (the kernel's
# embryo of the daemon's end) with the listener's path, flags 0, state 02
# (SS_CONNECTING: no struct socket yet) and inode 0; the listener has flags
# 00010000, an accepted connection state 03.  Builtins only: this is polled.
function __pool_connecting() {
	local net
	__slurp net /proc/net/unix
	[[ $'\n'$net$'\n' =~ $'\n'[^$'\n']*\ 00000000\ 0005\ 02\ +0\ "$ROOT"/poold[.]sock$'\n' ]]
}

# __proc_gone PID: the process is gone or a zombie (builtins only).
function __proc_gone() {
	local stat
	IFS= read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
	stat=${stat##*) }
	[ "${stat%% *}" = Z ]
}

@test "pool: the daemon killed while a claim waits for its reply: create starts cold, a new daemon reclaims, nothing leaks (one VM)" {
	requires_own_daemon
	start_poold
	fill_one
	local shell
	shell=$(qemus_of_test)
	[ -n "$shell" ]
	freeze_shells "$shell"
	# A stopped daemon: connect() still succeeds (the kernel queues the
	# connection on the listener) and CLAIM waits in the socket, unread,
	# for as long as the monitor waits for the reply.
	kill -STOP "$POOLD_PID"
	for _ in {1..50}; do
		[[ $(<"/proc/$POOLD_PID/stat") == *") T "* ]] && break
		sleep 0.02
	done
	[[ $(<"/proc/$POOLD_PID/stat") == *") T "* ]]
	! __pool_connecting || fail "a connection was pending before create"

	set_cmd sh -c 'echo after-mid-claim; exit 3'
	__lightvm create --bundle "$BUNDLE" pm0 </dev/null >"$TESTDIR/c.out" 2>"$TESTDIR/c.err" &
	local cpid=$! t_before t_none t_dead
	track_bg "$cpid"
	# Until the monitor's claim has connected; t_none: when a look last
	# found no connection, so the claim connected after it.
	t_none=$EPOCHREALTIME
	local deadline=$((SECONDS + 60))
	while :; do
		t_before=$EPOCHREALTIME
		__pool_connecting && break
		t_none=$t_before
		[ $SECONDS -lt $deadline ] || fail "no claim reached the stopped daemon in 60 s" || return 1
		kill -0 "$cpid" 2>/dev/null || fail "create ended before its claim connected" || return 1
	done
	kill -KILL "$POOLD_PID"
	until __proc_gone "$POOLD_PID"; do
		[ $SECONDS -lt $deadline ] || fail "the daemon outlived SIGKILL" || return 1
	done
	t_dead=$EPOCHREALTIME
	# The monitor waits RT_POOL_CLAIM_MS (300 ms) for the reply from
	# after its connect, which came after t_none: a daemon gone (its
	# sockets closed: it is a zombie) sooner than that after t_none died
	# while the claim was still waiting.
	local waited_ms
	waited_ms=$(awk -v a="$t_none" -v b="$t_dead" 'BEGIN { printf "%d", (b - a) * 1000 }')
	echo "# the daemon was dead ${waited_ms} ms after the last look without a claim" >&2
	[ "$waited_ms" -lt 300 ] || fail "the kill came ${waited_ms} ms late: the claim may have timed out first"
	wait "$POOLD_PID" 2>/dev/null || true

	# create went on cold: its own QEMU, its log in the container's state.
	wait "$cpid"
	[ -f "$ROOT/pm0/vmm.log" ]
	[ "$(container_status pm0)" = created ]
	local vmm
	vmm=$(json_get 'j["vmmPid"]' "$(<"$ROOT/pm0/state.json")")
	pid_alive "$vmm"
	[ "$vmm" != "$shell" ]
	lightvm start pm0
	[ "$status" -eq 0 ]
	wait_for_status pm0 stopped 20
	wait_for_file "$TESTDIR/c.out" '^after-mid-claim$' 5
	[ "$(json_get 'j["exitStatus"]' "$(<"$ROOT/pm0/state.json")")" = 3 ]
	[ ! -s "$TESTDIR/c.err" ]

	# The dead daemon's shell and its record are still there ...
	[ "$(qemus_of_test)" = "$shell" ]
	ls "$ROOT/pool"/*/shell
	# ... until a new daemon reclaims both, before it listens.
	start_poold
	grep -q "reclaiming shell .* (qemu $shell)" "$TESTDIR/poold.log"
	[ -z "$(qemus_of_test)" ]
	[ -z "$(__dir_entries "$ROOT/pool")" ]
	stop_poold
	lightvm delete pm0
	[ "$status" -eq 0 ]
	# Nothing left: no QEMU, process, socket, record or state.
	[ -z "$(qemus_of_test)" ]
	[ -z "$(__test_pids)" ]
	[ ! -e "$ROOT/poold.sock" ]
	[ ! -e "$ROOT/pool" ]
	[ -z "$(__dir_entries "$ROOT")" ]
}

@test "pool: the daemon killed just after it sent CLAIMED: the container keeps its shell (one VM)" {
	requires_own_daemon
	requires cc
	local tool=$BATS_FILE_TMPDIR/kill-after-sendfds
	"${CC:-cc}" -std=gnu11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$tool" "$REPO/tests/tools/kill-after-sendfds.c"
	start_poold
	fill_one
	local shell
	shell=$(qemus_of_test)
	[ -n "$shell" ]
	# CLAIMED is the only message the daemon sends with descriptors: the
	# tool kills the daemon in the stop at that sendmsg's return, so the
	# monitor has the shell and the daemon did nothing after sending.
	"$tool" "$POOLD_PID" 60 >"$TESTDIR/kill.out" 2>&1 &
	local kpid=$!
	track_bg "$kpid"
	wait_for_file "$TESTDIR/kill.out" '^attached$' 10
	set_cmd sh -c 'echo on-the-claimed-shell; exit 4'
	__lightvm create --bundle "$BUNDLE" pm1 </dev/null >"$TESTDIR/c.out" 2>"$TESTDIR/c.err"
	wait "$kpid"
	grep -q '^killed after sendmsg' "$TESTDIR/kill.out"
	wait "$POOLD_PID" 2>/dev/null || true
	# The claim went through: the container's VM is the shell, and the
	# record, written before the send, names its monitor.
	[ "$(container_status pm1)" = created ]
	[ "$(json_get 'j["vmmPid"]' "$(<"$ROOT/pm1/state.json")")" = "$shell" ]
	[ ! -e "$ROOT/pm1/vmm.log" ]
	grep -q "^qemu $shell " "$ROOT"/pool/*/shell
	grep -q "^claimed $(json_get 'j["pid"]' "$(<"$ROOT/pm1/state.json")") " "$ROOT"/pool/*/shell ||
		fail "the shell's record does not name the claiming monitor"
	# A new daemon must not take the VM from its container.
	start_poold
	pid_alive "$shell" || fail "the new daemon killed the container's VM (qemu $shell)"
	[ "$(container_status pm1)" = created ]
	lightvm start pm1
	[ "$status" -eq 0 ]
	wait_for_status pm1 stopped 20
	wait_for_file "$TESTDIR/c.out" '^on-the-claimed-shell$' 5
	[ "$(json_get 'j["exitStatus"]' "$(<"$ROOT/pm1/state.json")")" = 4 ]
	lightvm delete pm1
	[ "$status" -eq 0 ]
	stop_poold
	[ -z "$(qemus_of_test)" ]
	# A record the daemon kept for a container's shell goes at the next
	# daemon's start, once its container is gone.
	start_poold
	stop_poold
	[ -z "$(__test_pids)" ]
	[ ! -e "$ROOT/pool" ]
	[ -z "$(__dir_entries "$ROOT")" ]
}
