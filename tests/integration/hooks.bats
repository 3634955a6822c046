#!/usr/bin/env bats
# OCI hooks run on the host with the container's state on stdin, as runc runs them.

load helpers

# A hook script that appends "KIND <state json>" to $TESTDIR/hooks.log.
function make_hook() {
	cat >"$TESTDIR/hook.sh" <<-EOF2
		#!/bin/sh
		printf '%s ' "\$1" >>"$TESTDIR/hooks.log"
		cat >>"$TESTDIR/hooks.log"
		echo >>"$TESTDIR/hooks.log"
	EOF2
	chmod +x "$TESTDIR/hook.sh"
}

@test "hooks: prestart, poststart and poststop run on the host with the state (one VM)" {
	requires root kernel lightvm
	make_hook
	update_config "
h = '$TESTDIR/hook.sh'
c['hooks'] = {k: [{'path': h, 'args': [h, k]}] for k in ('createRuntime', 'prestart', 'poststart', 'poststop')}
"
	set_cmd true
	lightvm run --bundle "$BUNDLE" th </dev/null
	[ "$status" -eq 0 ]
	cat "$TESTDIR/hooks.log"
	[ "$(cut -d' ' -f1 "$TESTDIR/hooks.log" | tr '\n' ' ')" = "createRuntime prestart poststart poststop " ]
	while read -r kind json; do
		[ "$(json_get 'j["id"]' "$json")" = th ]
		[ "$(json_get 'j["bundle"]' "$json")" = "$BUNDLE" ]
		case $kind in
		# As runc gives them (process_linux.go): the VM is not launched yet
		# (runtime/net.c: the hooks fill the network namespace first).
		createRuntime | prestart) [ "$(json_get 'j["status"]' "$json")" = creating ] ;;
		poststart) [ "$(json_get 'j["status"]' "$json")" = running ] ;;
		poststop) [ "$(json_get 'j["status"]' "$json")" = stopped ] ;;
		esac
	done <"$TESTDIR/hooks.log"
}

@test "hooks: a failing prestart hook fails create and leaves nothing (one VM)" {
	requires root kernel lightvm
	update_config "c['hooks'] = {'prestart': [{'path': '/bin/false'}]}"
	lightvm create --bundle "$BUNDLE" thf
	[ "$status" -ne 0 ]
	assert_output_contains "hooks.prestart[0]"
	[ ! -e "$ROOT/thf" ]
}

@test "hooks: hooks that would run inside the container are refused" {
	requires root lightvm
	update_config "c['hooks'] = {'createContainer': [{'path': '/bin/true'}]}"
	lightvm create --bundle "$BUNDLE" thc
	[ "$status" -ne 0 ]
	assert_output_contains "hooks.createContainer"
	[ ! -e "$ROOT/thc" ]
}
