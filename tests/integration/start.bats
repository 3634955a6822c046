#!/usr/bin/env bats
# lightvm start: runs the process of a created container.

load helpers

@test "start: the process writes to create's stdout and exits (one VM)" {
	requires root kernel
	set_cmd sh -c 'echo started-out; echo started-err >&2'
	# The container's stdio is the stdio of `create`.
	__lightvm create --bundle "$BUNDLE" ts </dev/null >"$TESTDIR/c.out" 2>"$TESTDIR/c.err"
	wait_for_status ts created 5
	[ ! -s "$TESTDIR/c.out" ]
	lightvm start ts
	[ "$status" -eq 0 ]
	wait_for_status ts stopped 20
	wait_for_file "$TESTDIR/c.out" '^started-out$' 5
	wait_for_file "$TESTDIR/c.err" '^started-err$' 5
	if grep -q started-err "$TESTDIR/c.out"; then fail "stderr went to stdout"; fi
	lightvm delete ts
	[ "$status" -eq 0 ]
}

@test "start: twice is an error, the container keeps running (one VM)" {
	requires root kernel
	start_sleeper ts2 create
	lightvm start ts2
	[ "$status" -ne 0 ]
	[ -n "$output" ]
	lightvm state ts2
	[ "$status" -eq 0 ]
	[ "$(json_get 'j["status"]')" = running ]
}

@test "start: an unknown id is an error" {
	lightvm start nosuch
	[ "$status" -ne 0 ]
	assert_output_contains -i "does not exist"
	# runc does not name the id; lightvm should.
	[ -n "$IS_RUNC" ] || assert_output_contains "nosuch"
	[ ! -e "$ROOT/nosuch" ]
}
