#!/usr/bin/env bats
# lightvm spec: writes a default config.json.

load helpers

@test "spec: writes a valid config.json; refuses to overwrite it" {
	mkdir "$TESTDIR/s"
	cd "$TESTDIR/s"
	lightvm spec
	[ "$status" -eq 0 ]
	[ -f config.json ]
	local c
	c=$(cat config.json)
	[[ "$(json_get 'j["ociVersion"]' "$c")" =~ ^1\.[0-9]+\.[0-9]+ ]]
	[ "$(json_get 'j["process"]["args"]' "$c")" = '["sh"]' ]
	[ "$(json_get 'j["process"]["terminal"]' "$c")" = true ]
	[ "$(json_get 'j["root"]["path"]' "$c")" = rootfs ]
	[ "$(json_get 'len(j["mounts"]) > 0' "$c")" = true ]
	# The spec version written is the one --version announces.
	local v
	v=$(json_get 'j["ociVersion"]' "$c")
	lightvm --version
	grep -qx "spec: $v" <<<"$output" || fail "spec writes ociVersion $v, --version says: $output"
	lightvm spec
	[ "$status" -ne 0 ]
	assert_output_contains "config.json"
	[ "$(cat config.json)" = "$c" ]
}

@test "spec --bundle DIR writes DIR/config.json" {
	mkdir "$TESTDIR/s2"
	lightvm spec --bundle "$TESTDIR/s2"
	[ "$status" -eq 0 ]
	[ -f "$TESTDIR/s2/config.json" ]
	"$PYTHON" -c 'import json,sys; json.load(open(sys.argv[1]))' "$TESTDIR/s2/config.json"
}

@test "spec: the default spec is accepted by create, terminal made false (one VM)" {
	requires root kernel
	# setup_bundle's config.json is `spec` output; restore it untouched but
	# for terminal, which needs a console socket.
	rm "$BUNDLE/config.json"
	(cd "$BUNDLE" && "$LIGHTVM_BIN" spec)
	update_config 'c["process"]["terminal"] = False'
	lightvm create --bundle "$BUNDLE" tspec
	[ "$status" -eq 0 ]
	[ "$(container_status tspec)" = created ]
	lightvm delete tspec
	[ "$status" -eq 0 ]
}
