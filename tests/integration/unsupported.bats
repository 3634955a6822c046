#!/usr/bin/env bats
# exec, update, checkpoint, restore: lightvm says "not supported yet".
# No VM: the refusal comes before the container is looked at.

load helpers

@test "exec/update/checkpoint/restore: not supported yet, non-zero" {
	requires lightvm
	skip_if_pool "the root holds the link to the suite's pool daemon, and this test checks that the root stays empty (no VM: nothing to claim)"
	local v
	for v in exec update checkpoint restore; do
		if [ "$v" = exec ]; then
			lightvm exec nosuch true
		else
			lightvm $v nosuch
		fi
		[ "$status" -ne 0 ]
		assert_output_contains "not supported yet"
		[ -z "$(ls -A "$ROOT")" ]
	done
}
