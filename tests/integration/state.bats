#!/usr/bin/env bats
# lightvm state: runc's JSON shape.

load helpers

@test "state: JSON shape of a running, then stopped, container (one VM)" {
	requires root kernel
	update_config 'c["annotations"] = {"org.lightvm.test.note": "kept"}'
	start_sleeper tst
	lightvm state tst
	[ "$status" -eq 0 ]
	local k
	for k in ociVersion id pid status bundle rootfs created owner annotations; do
		[ "$(json_get "'$k' in j")" = true ] || fail "state has no '$k'"
	done
	[ "$(json_get 'j["id"]')" = tst ]
	[ "$(json_get 'j["status"]')" = running ]
	[ "$(json_get 'j["pid"]')" -gt 0 ]
	[ "$(json_get 'j["bundle"]')" = "$BUNDLE" ]
	[ "$(json_get 'j["rootfs"]')" = "$BUNDLE/rootfs" ]
	[ "$(json_get 'j["annotations"]["org.lightvm.test.note"]')" = kept ]
	# runc's state leaves owner empty for root (list fills in "root").
	[ "$(json_get 'j["owner"]')" = "" ]
	[[ "$(json_get 'j["ociVersion"]')" =~ ^1\.[0-9]+\.[0-9]+ ]]
	# RFC 3339 with nanoseconds, as runc prints it.
	[[ "$(json_get 'j["created"]')" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$ ]]

	lightvm kill tst KILL
	[ "$status" -eq 0 ]
	wait_for_status tst stopped 15
	lightvm state tst
	[ "$status" -eq 0 ]
	[ "$(json_get 'j["status"]')" = stopped ]
	[ "$(json_get 'j["pid"]')" -eq 0 ]
}

@test "state: an unknown id is an error" {
	lightvm state nosuch
	[ "$status" -ne 0 ]
	assert_output_contains -i "does not exist"
	# runc does not name the id; lightvm should.
	[ -n "$IS_RUNC" ] || assert_output_contains "nosuch"
}

@test "state: no id is an error" {
	lightvm state
	[ "$status" -ne 0 ]
	[ -n "$output" ]
}
