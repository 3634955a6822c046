#!/usr/bin/env bats
# --version / version: no VM.

load helpers

@test "--version: name, version and spec lines as runc prints them" {
	lightvm --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^$RUNTIME_NAME\ version\ [0-9]+\.[0-9]+ ]]
	grep -Eq '^spec: 1\.[0-9]+\.[0-9]+' <<<"$output"
	lightvm -v
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^$RUNTIME_NAME\ version ]]
}

@test "version verb prints the same as --version" {
	requires lightvm
	lightvm --version
	local want=$output
	lightvm version
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
}
