#!/usr/bin/env bats
# containerd through its runc shim (io.containerd.runc.v2) with lightvm as
# the runc binary: `ctr run --runc-binary`.  containerd runs once for the
# file with private directories (engine_helpers.bash).

load helpers
load engine_helpers

function setup_file() { engine_setup_file containerd; }
function teardown_file() { engine_teardown_file; }
function setup() { engine_setup; }
function teardown() { engine_teardown; }

@test "ctr run --rm: output, exit code, and nothing left (one VM)" {
	engine_run ctr_run --rm "$IMAGE_CTR" c1 sh -c 'echo hi; uname -r; exit 7'
	[ "$status" -eq 7 ]
	[ "${lines[0]}" = hi ]
	[ "${lines[1]}" != "$(uname -r)" ]
	engine_run ctr_ containers ls -q
	[ -z "$output" ]
	[ -z "$(engine_state_dirs)" ]
}

@test "ctr run --env --cwd --memory-limit --cpus reach the VM (one VM)" {
	engine_run ctr_run --rm --env FOO=bar --cwd /tmp --memory-limit $((256 << 20)) --cpus 2 \
		"$IMAGE_CTR" c2 sh -c 'echo "$FOO"; pwd; nproc; sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = bar ]
	[ "${lines[1]}" = /tmp ]
	[ "${lines[2]}" = 2 ]
	[ "${lines[3]}" -gt 200000 ] && [ "${lines[3]}" -le 262144 ]
}

@test "ctr run -t: a terminal, and its exit code (one VM)" {
	engine_run_tty ctr_run --rm -t "$IMAGE_CTR" c3 sh -c 'tty; exit 4'
	[ "$status" -eq 4 ]
	[[ $output == *"/dev/pts/"* ]]
}

@test "ctr run -d, tasks kill -s, tasks exec, graceful TERM: exit 3 and the output logged (one VM)" {
	local log=$ENGINE_DIR/c4.log
	engine_run ctr_run -d --log-uri "file://$log" "$IMAGE_CTR" c4 sh -c \
		'trap "echo got USR1" USR1; trap "echo got TERM; exit 3" TERM; echo started; while :; do sleep 0.1; done'
	[ "$status" -eq 0 ]
	wait_for_output 60 '^started$' cat "$log"
	engine_run ctr_ tasks kill -s SIGUSR1 c4
	[ "$status" -eq 0 ]
	wait_for_output 30 '^got USR1$' cat "$log"
	# exec through the runc shim: lightvm exec --process --detach --pid-file.
	engine_run ctr_ tasks exec --exec-id e1 c4 sh -c 'echo in-exec; exit 6'
	[ "$status" -eq 6 ]
	[ "$output" = in-exec ]
	engine_run ctr_ tasks kill c4
	[ "$status" -eq 0 ]
	wait_for_output 30 'STOPPED' ctr_ tasks ls
	# tasks delete reports the task's exit status.
	engine_run ctr_ tasks delete c4
	[ "$status" -eq 0 ]
	[[ $output == *"exit code 3"* ]]
	grep -q '^got TERM$' "$log"
	engine_run ctr_ containers delete c4
	[ "$status" -eq 0 ]
	[ -z "$(engine_state_dirs)" ]
}

@test "ctr run --mount: a directory bind written in the guest is seen on the host (one VM)" {
	local dir=$ENGINE_DIR/cvol
	mkdir -p "$dir"
	echo from-host >"$dir/in.txt"
	engine_run ctr_run --rm --mount "type=bind,src=$dir,dst=/data,options=rbind:rw" "$IMAGE_CTR" c5 sh -c \
		'cat /data/in.txt; echo from-guest >/data/out.txt'
	[ "$status" -eq 0 ]
	[ "$output" = from-host ]
	[ "$(cat "$dir/out.txt")" = from-guest ]
}
