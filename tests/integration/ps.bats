#!/usr/bin/env bats
# lightvm ps: the container's processes (for lightvm: its host processes).

load helpers

@test "ps: --format json lists the container's pid; table has a header (one VM)" {
	requires root kernel cgroups
	start_sleeper tps
	local pid
	pid=$(json_get 'j["pid"]' "$(__lightvm state tps)")

	lightvm ps --format json tps
	[ "$status" -eq 0 ]
	[ "$(json_get 'len(j) > 0')" = true ]
	[ "$(json_get "$pid in j")" = true ]

	lightvm ps tps
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^UID[[:space:]]+PID[[:space:]]+PPID ]]
	[ "${#lines[@]}" -ge 2 ]
}

@test "ps: an unknown id is an error" {
	lightvm ps nosuch
	[ "$status" -ne 0 ]
	assert_output_contains -i "does not exist"
}
