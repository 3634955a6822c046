#!/usr/bin/env bats
# Bad input: every error exits non-zero with a message that names the field
# or argument, and leaves nothing behind (no state dir for the id, no process,
# no mount: the last two are checked by teardown).  No VM boots here except
# where a test says so.

load helpers

# The failed id must have no state.
function assert_no_state() {
	[ ! -e "$ROOT/$1" ] || fail "state left for $1: $(ls -la "$ROOT/$1")"
	lightvm state "$1"
	[ "$status" -ne 0 ]
}

@test "errors: missing bundle directory" {
	lightvm create --bundle "$TESTDIR/nosuch" tb
	[ "$status" -ne 0 ]
	assert_output_contains "$TESTDIR/nosuch"
	assert_no_state tb
}

@test "errors: invalid JSON in config.json" {
	echo '{"ociVersion": "1.0.2", "process": {' >"$BUNDLE/config.json"
	lightvm create --bundle "$BUNDLE" tj
	[ "$status" -ne 0 ]
	# runc says only "unexpected EOF"; lightvm names the file.
	[ -n "$IS_RUNC" ] || assert_output_contains "config.json"
	assert_no_state tj
}

@test "errors: config.json without process.args" {
	update_config 'del c["process"]["args"]'
	lightvm create --bundle "$BUNDLE" ta
	[ "$status" -ne 0 ]
	assert_output_contains "args"
	[ -n "$IS_RUNC" ] || assert_output_contains "process.args"
	assert_no_state ta
}

@test "errors: empty process.args" {
	update_config 'c["process"]["args"] = []'
	lightvm run --bundle "$BUNDLE" tae
	[ "$status" -ne 0 ]
	assert_output_contains "args"
	assert_no_state tae
}

@test "errors: missing rootfs" {
	update_config 'c["root"]["path"] = "nosuch-rootfs"'
	lightvm create --bundle "$BUNDLE" tr
	[ "$status" -ne 0 ]
	assert_output_contains "nosuch-rootfs"
	assert_no_state tr
}

@test "errors: bad container id a/b" {
	skip_if_pool "the root holds the link to the suite's pool daemon, and this test checks that the root stays empty (no VM: nothing to claim)"
	lightvm create --bundle "$BUNDLE" a/b
	[ "$status" -ne 0 ]
	assert_output_contains -i "id"
	[ ! -e "$ROOT/a" ]
	[ -z "$(ls -A "$ROOT")" ]
}

@test "errors: bad container ids: .., empty" {
	skip_if_pool "the root holds the link to the suite's pool daemon, and this test checks that the root stays empty (no VM: nothing to claim)"
	lightvm create --bundle "$BUNDLE" ..
	[ "$status" -ne 0 ]
	lightvm create --bundle "$BUNDLE" ""
	[ "$status" -ne 0 ]
	[ -z "$(ls -A "$ROOT")" ]
}

@test "errors: missing and extra arguments" {
	skip_if_pool "the root holds the link to the suite's pool daemon, and this test checks that the root stays empty (no VM: nothing to claim)"
	lightvm create --bundle "$BUNDLE"
	[ "$status" -ne 0 ]
	assert_output_contains "create"
	lightvm create --bundle "$BUNDLE" one two
	[ "$status" -ne 0 ]
	[ -z "$(ls -A "$ROOT")" ]
}

@test "errors: unknown verb and unknown flag" {
	lightvm frobnicate
	[ "$status" -ne 0 ]
	assert_output_contains "frobnicate"
	lightvm create --no-such-flag --bundle "$BUNDLE" tf
	[ "$status" -ne 0 ]
	assert_output_contains "no-such-flag"
	assert_no_state tf
}

@test "errors: duplicate id; kill with an unknown signal (one VM)" {
	requires root kernel
	start_sleeper tdup create
	local pid
	pid=$(json_get 'j["pid"]' "$(__lightvm state tdup)")

	lightvm create --bundle "$BUNDLE" tdup
	[ "$status" -ne 0 ]
	assert_output_contains -i "exists"
	lightvm run --bundle "$BUNDLE" tdup
	[ "$status" -ne 0 ]
	# The failed create must not have harmed the original.
	[ "$(container_status tdup)" = running ]
	[ "$(json_get 'j["pid"]' "$(__lightvm state tdup)")" = "$pid" ]

	lightvm kill tdup FOO
	[ "$status" -ne 0 ]
	assert_output_contains "FOO"
	lightvm kill tdup SIGNOPE
	[ "$status" -ne 0 ]
	lightvm kill tdup 99999
	[ "$status" -ne 0 ]
	[ "$(container_status tdup)" = running ]
}

@test "errors: an unknown backend in the runtime config is named" {
	requires lightvm
	"$PYTHON" - "$LIGHTVM_CONFIG" <<-'EOF2'
		import json, sys
		c = json.load(open(sys.argv[1])); c["backend"] = "nosuch-backend"
		json.dump(c, open(sys.argv[1], "w"))
	EOF2
	lightvm create --bundle "$BUNDLE" tbe
	[ "$status" -ne 0 ]
	assert_output_contains "nosuch-backend"
	assert_no_state tbe
}

@test "errors: a missing kernel is named" {
	requires lightvm
	"$PYTHON" - "$LIGHTVM_CONFIG" "$TESTDIR/no-bzImage" <<-'EOF2'
		import json, sys
		c = json.load(open(sys.argv[1])); c["kernel"] = sys.argv[2]
		json.dump(c, open(sys.argv[1], "w"))
	EOF2
	lightvm create --bundle "$BUNDLE" tke
	[ "$status" -ne 0 ]
	assert_output_contains "$TESTDIR/no-bzImage"
	assert_no_state tke
}

@test "errors: a rootfs over the initramfs limit is refused before boot" {
	requires lightvm kernel
	"$PYTHON" - "$LIGHTVM_CONFIG" <<-'EOF2'
		import json, sys
		c = json.load(open(sys.argv[1])); c["initramfs_max_mib"] = 1
		json.dump(c, open(sys.argv[1], "w"))
	EOF2
	# Incompressible, so no compression brings it under the limit.
	writable_rootfs
	head -c 3M /dev/urandom >"$BUNDLE/rootfs/big"
	lightvm create --bundle "$BUNDLE" tbig
	[ "$status" -ne 0 ]
	assert_output_contains -i "initramfs"
	assert_no_state tbig
}

@test "errors: a missing binary fails create as runc's does, leaving nothing (one VM)" {
	requires root kernel lightvm
	set_cmd nosuch-binary
	lightvm create --bundle "$BUNDLE" tnb
	[ "$status" -ne 0 ]
	assert_output_contains 'exec: "nosuch-binary": executable file not found in $PATH'
	assert_no_state tnb
}
