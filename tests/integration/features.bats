#!/usr/bin/env bats
# lightvm features: no VM.

load helpers

@test "features: valid JSON with the OCI version range" {
	lightvm features
	[ "$status" -eq 0 ]
	[[ "$(json_get 'j["ociVersionMin"]')" =~ ^1\.[0-9]+\.[0-9]+ ]]
	[[ "$(json_get 'j["ociVersionMax"]')" =~ ^1\.[0-9]+\.[0-9]+ ]]
	[ "$(json_get 'type(j.get("hooks", [])).__name__')" = list ]
	[ "$(json_get 'type(j.get("mountOptions", [])).__name__')" = list ]
}

@test "features: lightvm announces its backends in annotations" {
	requires lightvm
	lightvm features
	[ "$status" -eq 0 ]
	[ "$(json_get 'type(j.get("annotations", {})).__name__')" = dict ]
}
