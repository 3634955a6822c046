#!/usr/bin/env bats
# lightvm poold with the kvm backend: a pool keeps one snapshotted template
# (runtime/poold_template.h) and every claim restores its own VM from it,
# copy-on-write.  Runs where the kvm backend runs (the lab host here).

load helpers
load pool_helpers

function setup() {
	pool_setup
	[ "$LIGHTVM_BACKEND" = kvm ] || skip "kvm templates need the kvm backend (this run: $LIGHTVM_BACKEND)"
	skip_if_pool "this file runs daemons of its own on the test's root"
}

# Until the kvm pool reports READY = want (the template made).
function kpool_wait_ready() {
	local want=$1 n=
	for _ in {1..300}; do
		n=$("$LIGHTVM_BIN" --root "$ROOT" pool status 2>/dev/null | awk '$1 == "kvm" { print $4 }')
		[ "$n" = "$want" ] && return 0
		sleep 0.1
	done
	cat "$TESTDIR/poold.log" >&2
	fail "kvm pool: READY $n, wanted $want"
}

# Live children of the daemon (the template maker while it works).
function poold_children() {
	local p
	for p in $(pgrep -P "$POOLD_PID"); do
		pid_alive "$p" && echo "$p"
	done
	return 0
}

@test "kvm pool: two containers restored from one template, each its own output and status; no template process left (two VMs)" {
	requires root lightvm kernel
	start_poold
	lightvm pool fill --target 1
	[ "$status" -eq 0 ]
	kpool_wait_ready 1
	grep -q "kvm template of .* ready in" "$TESTDIR/poold.log"
	[ -z "$(poold_children)" ]
	set_cmd sh -c 'echo restored-$((6*7)); cat /proc/cpuinfo >/dev/null; exit 7'
	lightvm_split run --bundle "$BUNDLE" k0 </dev/null
	[ "$status" -eq 7 ]
	[ "$stdout" = "restored-42" ]
	# A running one: the container's pid is the monitor, which restored it.
	set_cmd sleep 100
	lightvm create --bundle "$BUNDLE" k1
	[ "$status" -eq 0 ]
	local pid
	pid=$(json_get 'j["pid"]' "$(__lightvm state k1)")
	grep -q "claimed by monitor $pid" "$TESTDIR/poold.log"
	grep -q "restored from the pool's snapshot" "$ROOT/k1/vmm.log"
	[ "$(grep -c "claimed by monitor" "$TESTDIR/poold.log")" -eq 2 ]
	lightvm start k1
	[ "$status" -eq 0 ]
	lightvm kill k1 KILL
	for _ in {1..100}; do
		[ "$(json_get 'j["status"]' "$(__lightvm state k1)")" = stopped ] && break
		sleep 0.1
	done
	lightvm delete --force k1
	[ "$status" -eq 0 ]
	# The pool is not used up by claims.
	[ "$("$LIGHTVM_BIN" --root "$ROOT" pool status | awk '$1 == "kvm" { print $4 }')" = 1 ]
	stop_poold
	[ ! -e "$ROOT/pool" ]
}

@test "kvm pool: drained, create starts cold; a killed daemon takes its template maker with it (one VM)" {
	requires root lightvm kernel
	start_poold
	lightvm pool fill --target 1
	kpool_wait_ready 1
	lightvm pool drain
	[ "$status" -eq 0 ]
	kpool_wait_ready 0
	set_cmd sh -c 'echo cold; exit 3'
	lightvm_split run --bundle "$BUNDLE" k2 </dev/null
	[ "$status" -eq 3 ]
	[ "$stdout" = cold ]
	[ "$(grep -c "claimed by monitor" "$TESTDIR/poold.log")" -eq 0 ]
	grep -q "built in" "$ROOT/k2/vmm.log" 2>/dev/null || [ ! -e "$ROOT/k2" ]
	# Refill, and kill the daemon while the template child boots.
	lightvm pool fill --target 1
	local kids=
	for _ in {1..100}; do kids=$(poold_children); [ -n "$kids" ] && break; sleep 0.01; done
	[ -n "$kids" ]
	kill -KILL "$POOLD_PID"
	wait "$POOLD_PID" 2>/dev/null || true
	POOLD_PID=
	for _ in {1..100}; do
		local left=
		for k in $kids; do pid_alive "$k" && left=1; done
		[ -z "$left" ] && break
		sleep 0.05
	done
	for k in $kids; do ! pid_alive "$k"; done
	# A new daemon cleans what the old one left; create works meanwhile.
	set_cmd sh -c 'exit 4'
	lightvm run --bundle "$BUNDLE" k3 </dev/null
	[ "$status" -eq 4 ]
	start_poold
	stop_poold
	[ ! -e "$ROOT/pool" ]
}

# Without the page's seed both would print the template's next bytes;
# without its time, the template's clock.
@test "kvm pool: two guests restored from one template read different random bytes and the host's time (two VMs)" {
	requires root lightvm kernel
	start_poold
	lightvm pool fill --target 1
	kpool_wait_ready 1
	sleep 2 # the template's clock falls behind
	set_cmd sh -c 'date +%s; head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"'
	local t0 a b t1
	t0=$(date +%s)
	lightvm_split run --bundle "$BUNDLE" r1 </dev/null
	[ "$status" -eq 0 ]
	a=$stdout
	lightvm_split run --bundle "$BUNDLE" r2 </dev/null
	[ "$status" -eq 0 ]
	b=$stdout
	t1=$(date +%s)
	[ "$(grep -c "claimed by monitor" "$TESTDIR/poold.log")" -eq 2 ]
	local ta=${a%%$'\n'*} tb=${b%%$'\n'*} ra=${a#*$'\n'} rb=${b#*$'\n'}
	[ "${#ra}" -eq 32 ] && [ "${#rb}" -eq 32 ]
	[ "$ra" != "$rb" ]
	[ "$ta" -ge "$t0" ] && [ "$ta" -le "$t1" ]
	[ "$tb" -ge "$t0" ] && [ "$tb" -le "$t1" ]
	stop_poold
}
