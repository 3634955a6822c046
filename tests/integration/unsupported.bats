#!/usr/bin/env bats
# update, checkpoint, restore: lightvm says "not supported yet".
# No VM: the refusal comes before the container is looked at.

load helpers

@test "update/checkpoint/restore: not supported yet, non-zero" {
	requires lightvm
	skip_if_pool "the root holds the link to the suite's pool daemon, and this test checks that the root stays empty (no VM: nothing to claim)"
	local v
	for v in update checkpoint restore; do
		lightvm $v nosuch
		[ "$status" -ne 0 ]
		assert_output_contains "not supported yet"
		[ -z "$(ls -A "$ROOT")" ]
	done
}
