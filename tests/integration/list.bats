#!/usr/bin/env bats
# lightvm list: table, JSON, quiet.

load helpers

@test "list: an empty root" {
	lightvm list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" =~ ^ID[[:space:]]+PID[[:space:]]+STATUS[[:space:]]+BUNDLE[[:space:]]+CREATED[[:space:]]+OWNER$ ]]
	lightvm list -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	lightvm list --format json
	[ "$status" -eq 0 ]
	# runc prints "null" for no containers; [] is as good.
	[[ "$output" = null || "$output" = "[]" ]]
}

@test "list: table, --format json and -q with a running container (one VM)" {
	requires root kernel
	start_sleeper tl
	local pid
	pid=$(json_get 'j["pid"]' "$(__lightvm state tl)")

	lightvm list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" =~ ^ID[[:space:]]+PID[[:space:]]+STATUS[[:space:]]+BUNDLE[[:space:]]+CREATED[[:space:]]+OWNER$ ]]
	[[ "${lines[1]}" =~ ^tl[[:space:]]+${pid}[[:space:]]+running[[:space:]]+${BUNDLE}[[:space:]]+[0-9]{4}-.*[[:space:]]root$ ]]

	lightvm list --format json
	[ "$status" -eq 0 ]
	[ "$(json_get 'len(j)')" -eq 1 ]
	[ "$(json_get 'j[0]["id"]')" = tl ]
	[ "$(json_get 'j[0]["status"]')" = running ]
	[ "$(json_get 'j[0]["pid"]')" -eq "$pid" ]
	[ "$(json_get 'j[0]["bundle"]')" = "$BUNDLE" ]
	[ "$(json_get 'j[0]["owner"]')" = root ]

	lightvm list -q
	[ "$status" -eq 0 ]
	[ "$output" = tl ]
}
