#!/usr/bin/env bats
# --log and --log-format, as containerd's shim reads them.

load helpers

@test "log: --log-format json writes the error as a JSON line" {
	requires lightvm
	run "$LIGHTVM_BIN" --root "$ROOT" --log "$TESTDIR/err.json" --log-format json state nosuch
	[ "$status" -eq 1 ]
	line=$(tail -n 1 "$TESTDIR/err.json")
	[ "$(json_get 'j["level"]' "$line")" = error ]
	[[ "$(json_get 'j["msg"]' "$line")" == *nosuch* ]]
	[ -n "$(json_get 'j["time"]' "$line")" ]
}

@test "log: --log-format text writes logrus-style lines" {
	requires lightvm
	run "$LIGHTVM_BIN" --root "$ROOT" --log "$TESTDIR/err.txt" --log-format text state nosuch
	[ "$status" -eq 1 ]
	grep -q 'level=error msg=".*nosuch' "$TESTDIR/err.txt"
}

@test "log: an unknown --log-format is refused" {
	requires lightvm
	run "$LIGHTVM_BIN" --root "$ROOT" --log-format yaml list
	[ "$status" -ne 0 ]
	[[ "$output" == *log-format* ]]
}
