#!/usr/bin/env bats
# lightvm delete: removes the container and everything it held.

load helpers

@test "delete: a running container needs --force, which leaves nothing (one VM)" {
	requires root kernel
	start_sleeper tdel
	local pid
	pid=$(json_get 'j["pid"]' "$(__lightvm state tdel)")
	lightvm delete tdel
	[ "$status" -ne 0 ]
	assert_output_contains -i "running"
	[ "$(container_status tdel)" = running ]

	lightvm delete --force tdel
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/tdel" ]
	if pid_alive "$pid"; then fail "pid $pid still alive"; fi
	[ -z "$(__test_pids)" ]
	lightvm list -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "delete: a stopped container (one VM)" {
	requires root kernel
	set_cmd true
	lightvm run --keep --bundle "$BUNDLE" tdst
	[ "$status" -eq 0 ]
	wait_for_status tdst stopped 5
	lightvm delete tdst
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/tdst" ]
	lightvm state tdst
	[ "$status" -ne 0 ]
}

@test "delete: an unknown id fails, with --force it succeeds" {
	lightvm delete nosuch
	[ "$status" -ne 0 ]
	assert_output_contains -i "does not exist"
	lightvm delete --force nosuch
	[ "$status" -eq 0 ]
}
