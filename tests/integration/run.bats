#!/usr/bin/env bats
# lightvm run: create + start + wait, exit statuses, stdio, process settings.

load helpers

@test "run: exit status 0, stdout and stderr kept apart (one VM)" {
	requires root kernel
	set_cmd sh -c 'echo to-stdout; echo to-stderr >&2; exit 0'
	lightvm_split run --bundle "$BUNDLE" t0 </dev/null
	[ "$status" -eq 0 ]
	[ "$stdout" = "to-stdout" ]
	[ "$stderr" = "to-stderr" ]
	# run without --keep deletes the container when it exits.
	[ ! -e "$ROOT/t0" ]
	lightvm list -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "run: exit status 1 (one VM)" {
	requires root kernel
	set_cmd false
	lightvm run --bundle "$BUNDLE" t1
	[ "$status" -eq 1 ]
}

@test "run: killed by SIGKILL gives 137 (one VM)" {
	requires root kernel
	# Without a pid namespace the shell is not an init, so it can die of
	# its own SIGKILL (a namespace's init ignores it: runc then gives 0).
	update_config 'c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]'
	set_cmd sh -c 'kill -9 $$'
	lightvm run --bundle "$BUNDLE" t137
	[ "$status" -eq 137 ]
}

@test "run: stdin reaches the process and EOF ends it (one VM)" {
	requires root kernel
	set_cmd sh -c 'cat; echo "after-eof"'
	lightvm_split run --bundle "$BUNDLE" tstdin < <(printf 'line one\nline two\n')
	[ "$status" -eq 0 ]
	[ "$stdout" = "$(printf 'line one\nline two\nafter-eof')" ]
}

@test "run: env, cwd, uid/gid, additional gids, hostname, PATH lookup, kernel (one VM)" {
	requires root kernel
	update_config '
c["process"]["env"] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FOO=bar baz", "HOME=/home/test"]
c["process"]["cwd"] = "/home/test"
c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [65534]}
c["hostname"] = "lvhost"'
	# One guest prints everything; `id` is found through PATH.
	set_cmd sh -c 'echo "FOO=$FOO"; echo "HOME=$HOME"; echo "cwd=$(pwd)"; echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "groups=$(id -G)"; echo "hostname=$(hostname)"; echo "kernel=$(uname -r)"'
	lightvm_split run --bundle "$BUNDLE" tenv </dev/null
	[ "$status" -eq 0 ]
	grep -qx 'FOO=bar baz' <<<"$stdout"
	grep -qx 'HOME=/home/test' <<<"$stdout"
	grep -qx 'cwd=/home/test' <<<"$stdout"
	grep -qx 'uid=1000' <<<"$stdout"
	grep -qx 'gid=1000' <<<"$stdout"
	grep -Eqx 'groups=1000 65534|groups=65534 1000' <<<"$stdout"
	grep -qx 'hostname=lvhost' <<<"$stdout"
	# lightvm: the process runs on the guest's kernel, not the host's.
	if [ -z "$IS_RUNC" ] && grep -qx "kernel=$(uname -r)" <<<"$stdout"; then
		fail "the process ran on the host kernel"
	fi
}

@test "run -d: the container is running, then stopped after kill (one VM)" {
	requires root kernel
	start_sleeper td run
	lightvm state td
	[ "$status" -eq 0 ]
	[ "$(json_get 'j["status"]')" = running ]
	lightvm kill td KILL
	[ "$status" -eq 0 ]
	wait_for_status td stopped 15
	lightvm delete td
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/td" ]
}

@test "run --keep: the exited container stays, stopped, until delete (one VM)" {
	requires root kernel
	set_cmd true
	lightvm run --keep --bundle "$BUNDLE" tkeep
	[ "$status" -eq 0 ]
	lightvm list
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" =~ ^tkeep[[:space:]]+0[[:space:]]+stopped[[:space:]] ]]
	lightvm state tkeep
	[ "$status" -eq 0 ]
	[ "$(json_get 'j["status"]')" = stopped ]
	lightvm delete tkeep
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/tkeep" ]
}
