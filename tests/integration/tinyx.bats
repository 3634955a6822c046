#!/usr/bin/env bats
# lightvm tinyx: an application image (bundle) built around one binary.

load helpers

@test "tinyx: --app /usr/bin/env makes a bundle that run runs (one VM)" {
	requires root lightvm kernel
	lightvm tinyx --app /usr/bin/env -o "$TESTDIR/tx"
	[ "$status" -eq 0 ]
	[ -f "$TESTDIR/tx/config.json" ]
	lightvm_split run --bundle "$TESTDIR/tx" ttx </dev/null
	[ "$status" -eq 0 ]
	grep -q '^PATH=' <<<"$stdout"
}

@test "tinyx: a missing --app is an error naming it" {
	requires lightvm
	lightvm tinyx --app /nonexistent/app -o "$TESTDIR/tx2"
	[ "$status" -ne 0 ]
	assert_output_contains "/nonexistent/app"
}
