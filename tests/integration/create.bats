#!/usr/bin/env bats
# lightvm create: the container exists, "created", its process not started.

load helpers

@test "create: created, pid-file is state's pid, start runs it, kill stops it (one VM)" {
	requires root kernel
	set_cmd sleep 1000
	lightvm create --bundle "$BUNDLE" --pid-file "$TESTDIR/pid" tc
	[ "$status" -eq 0 ]
	[ -d "$ROOT/tc" ] || [ -n "$(ls -A "$ROOT")" ]

	lightvm state tc
	[ "$status" -eq 0 ]
	[ "$(json_get 'j["status"]')" = created ]
	local pid
	pid=$(json_get 'j["pid"]')
	[ "$pid" -gt 0 ]
	[ -f "$TESTDIR/pid" ]
	# runc writes the pid without a newline; accept either.
	[ "$(cat "$TESTDIR/pid")" = "$pid" ]
	kill -0 "$pid"

	lightvm list
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" =~ ^tc[[:space:]]+${pid}[[:space:]]+created[[:space:]] ]]

	lightvm start tc
	[ "$status" -eq 0 ]
	wait_for_status tc running 10

	lightvm kill tc KILL
	[ "$status" -eq 0 ]
	wait_for_status tc stopped 15
	lightvm delete tc
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/tc" ]
}

@test "create: a created container is deleted without --force, leaving nothing (one VM)" {
	requires root kernel
	set_cmd sleep 1000
	lightvm create --bundle "$BUNDLE" tcd
	[ "$status" -eq 0 ]
	wait_for_status tcd created 5
	lightvm delete tcd
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/tcd" ]
	lightvm state tcd
	[ "$status" -ne 0 ]
}

@test "create: --bundle relative to the current directory (one VM)" {
	requires root kernel
	set_cmd sleep 1000
	cd "$TESTDIR"
	lightvm create --bundle bundle trel
	[ "$status" -eq 0 ]
	lightvm state trel
	[ "$status" -eq 0 ]
	[ "$(json_get 'j["bundle"]')" = "$BUNDLE" ]
	lightvm delete --force trel
	[ "$status" -eq 0 ]
}
