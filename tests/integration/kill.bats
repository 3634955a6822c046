#!/usr/bin/env bats
# lightvm kill: signals reach the container's process.

load helpers

@test "kill: KILL stops it; unknown signal and killing a stopped container fail (one VM)" {
	requires root kernel
	start_sleeper tk
	# An unknown signal is refused and the container keeps running.
	lightvm kill tk FOO
	[ "$status" -ne 0 ]
	assert_output_contains "FOO"
	[ "$(container_status tk)" = running ]

	lightvm kill tk SIGKILL
	[ "$status" -eq 0 ]
	wait_for_status tk stopped 15

	# runc refuses to signal a stopped container (without --all).
	lightvm kill tk KILL
	[ "$status" -ne 0 ]
	assert_output_contains -i "not running"
	lightvm delete tk
	[ "$status" -eq 0 ]
}

@test "kill: default TERM reaches a trap; its output and exit status 7 show (one VM)" {
	requires root kernel
	# A shell as the container's init ignores TERM unless it traps it (the
	# kernel protects a pid namespace's init), so trap it, as runc's tests do.
	set_cmd sh -c 'trap "echo got-TERM; exit 7" TERM; echo ready; sleep 1000 & wait'
	__lightvm run --bundle "$BUNDLE" tkt </dev/null >"$TESTDIR/run.out" 2>"$TESTDIR/run.err" &
	local run_pid=$!
	track_bg "$run_pid"
	wait_for_file "$TESTDIR/run.out" '^ready$' 30
	wait_for_status tkt running 5
	lightvm kill tkt
	[ "$status" -eq 0 ]
	local rc=0
	wait "$run_pid" || rc=$?
	echo "run exited $rc; stdout:" >&2
	cat "$TESTDIR/run.out" >&2
	[ "$rc" -eq 7 ]
	grep -qx 'got-TERM' "$TESTDIR/run.out"
	[ ! -e "$ROOT/tkt" ]
}

@test "kill: numeric signal 9 works on a created container (one VM)" {
	requires root kernel
	set_cmd sleep 1000
	lightvm create --bundle "$BUNDLE" tkn
	[ "$status" -eq 0 ]
	lightvm kill tkn 9
	[ "$status" -eq 0 ]
	wait_for_status tkn stopped 15
}

@test "kill: an unknown id is an error" {
	lightvm kill nosuch KILL
	[ "$status" -ne 0 ]
	assert_output_contains -i "does not exist"
}
