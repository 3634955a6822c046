#!/usr/bin/env bats
# lightvm events.

load helpers

@test "events --stats: one JSON line of type stats (one VM)" {
	requires root kernel cgroups
	start_sleeper tev
	lightvm events --stats tev
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(json_get 'j["type"]')" = stats ]
	[ "$(json_get 'j["id"]')" = tev ]
	[ "$(json_get 'type(j["data"]).__name__')" = dict ]
}

@test "events: an unknown id is an error" {
	lightvm events --stats nosuch
	[ "$status" -ne 0 ]
	assert_output_contains -i "does not exist"
}
