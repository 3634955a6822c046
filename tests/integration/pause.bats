#!/usr/bin/env bats
# lightvm pause / resume.

load helpers

@test "pause: paused, resume: running; both fail on a stopped container (one VM)" {
	requires root kernel cgroups
	start_sleeper tp
	lightvm pause tp
	[ "$status" -eq 0 ]
	[ "$(container_status tp)" = paused ]
	lightvm list
	[[ "${lines[1]}" =~ ^tp[[:space:]]+[0-9]+[[:space:]]+paused[[:space:]] ]]

	lightvm resume tp
	[ "$status" -eq 0 ]
	[ "$(container_status tp)" = running ]

	lightvm kill tp KILL
	[ "$status" -eq 0 ]
	wait_for_status tp stopped 15
	lightvm pause tp
	[ "$status" -ne 0 ]
	lightvm resume tp
	[ "$status" -ne 0 ]
}

@test "pause: a paused container is removed by delete --force (one VM)" {
	requires root kernel cgroups
	start_sleeper tpd
	lightvm pause tpd
	[ "$status" -eq 0 ]
	lightvm delete --force tpd
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/tpd" ]
}

@test "pause: an unknown id is an error" {
	lightvm pause nosuch
	[ "$status" -ne 0 ]
	assert_output_contains -i "does not exist"
	lightvm resume nosuch
	[ "$status" -ne 0 ]
}
