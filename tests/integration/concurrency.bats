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
	# (Each reader's output is checked afterwards, by one Python for all
	# twenty: a Python start costs ~0.3 s in the lab.)
	jobs_pids=()
	for i in $(seq 20); do
		( rc=0; __lightvm state tc >"$TESTDIR/state.$i" 2>&1 || rc=$?; echo "$rc" >"$TESTDIR/state.$i.rc" ) &
		jobs_pids+=($!)
	done
	( __lightvm kill tc TERM >/dev/null 2>&1; true ) &
	jobs_pids+=($!)
	( __lightvm delete --force tc >>"$TESTDIR/delete.log" 2>&1; echo "delete=$?" >>"$TESTDIR/delete.log" ) &
	jobs_pids+=($!)
	( __lightvm delete --force tc >>"$TESTDIR/delete.log" 2>&1; echo "delete=$?" >>"$TESTDIR/delete.log" ) &
	jobs_pids+=($!)
	wait "${jobs_pids[@]}"
	local py=0
	"$PYTHON" -S - "$TESTDIR" >"$TESTDIR/state.log" 2>&1 <<-'EOF' || py=$?
		import json, sys
		d = sys.argv[1]
		for i in range(1, 21):
		    out = open("%s/state.%d" % (d, i)).read()
		    rc = open("%s/state.%d.rc" % (d, i)).read().strip()
		    try:
		        if rc == "0":
		            json.loads(out)
		            continue
		    except ValueError:
		        pass
		    if "does not exist" not in out:
		        print("BAD (status %s): %s" % (rc, out))
	EOF
	cat "$TESTDIR/state.log" "$TESTDIR/delete.log"
	[ "$py" -eq 0 ]
	! grep -q BAD "$TESTDIR/state.log" || fail "a state read saw a bad state: $(grep BAD "$TESTDIR/state.log")"
	[ "$(grep -c 'delete=0' "$TESTDIR/delete.log")" -eq 2 ]
	[ ! -e "$ROOT/tc" ]
	! pid_alive "$pid"
}
