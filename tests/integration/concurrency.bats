#!/usr/bin/env bats
# Concurrent callers on one container: the state lock and atomic writes.

load helpers

@test "concurrency: parallel state, kill and delete --force on one container (one VM)" {
	requires root kernel lightvm
	start_sleeper tc
	pid=$(json_get 'j["pid"]' "$(__lightvm state tc)")
	# Twenty readers and a handful of writers at once.  Every `state` must
	# print whole JSON (never a torn file) or report that the container is
	# gone; delete --force must succeed, whichever comes first.
	# (Wait for these jobs by pid: a bare `wait` would also wait for bats'
	# own per-test timeout watchdog.)
	jobs_pids=()
	for i in $(seq 20); do
		( out=$(__lightvm state tc 2>&1) && echo "$out" | "$PYTHON" -c 'import json,sys; json.load(sys.stdin)' \
			|| echo "$out" | grep -q 'does not exist' || echo "BAD: $out" ) >>"$TESTDIR/state.log" 2>&1 &
		jobs_pids+=($!)
	done
	( __lightvm kill tc TERM >/dev/null 2>&1; true ) &
	jobs_pids+=($!)
	( __lightvm delete --force tc >>"$TESTDIR/delete.log" 2>&1; echo "delete=$?" >>"$TESTDIR/delete.log" ) &
	jobs_pids+=($!)
	( __lightvm delete --force tc >>"$TESTDIR/delete.log" 2>&1; echo "delete=$?" >>"$TESTDIR/delete.log" ) &
	jobs_pids+=($!)
	wait "${jobs_pids[@]}"
	cat "$TESTDIR/state.log" "$TESTDIR/delete.log"
	! grep -q BAD "$TESTDIR/state.log"
	[ "$(grep -c 'delete=0' "$TESTDIR/delete.log")" -eq 2 ]
	[ ! -e "$ROOT/tc" ]
	! pid_alive "$pid"
}
