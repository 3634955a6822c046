#!/usr/bin/env bats
# podman --runtime lightvm: the runtime as an engine drives it.  Podman's
# storage is private to this file (engine_helpers.bash: --root, --runroot,
# --tmpdir under $ENGINE_DIR/podman) and everything is removed and
# unmounted in teardown_file.  podman passes no --root to the runtime: the
# wrapper it calls gives one under $ENGINE_DIR.

load helpers
load engine_helpers

# This host's limits: the hard nofile limit is 20000, no CAP_SYS_RESOURCE.
P=(--runtime "" --network none --ulimit nofile=20000:20000 --ulimit nproc=1024:1024)

function setup_file() { engine_setup_file podman; }
function teardown_file() { engine_teardown_file; }
function setup() {
	engine_setup
	P[1]=$ENGINE_RUNTIME
}
function teardown() { engine_teardown; }

@test "podman run --rm: output, exit code, and nothing left (one VM)" {
	engine_run podman_ run --rm "${P[@]}" "$IMAGE_PODMAN" sh -c 'echo hi; uname -r; exit 7'
	[ "$status" -eq 7 ]
	[ "${lines[0]}" = hi ]
	[ "${lines[1]}" != "$(uname -r)" ]
	engine_run podman_ ps -aq
	[ -z "$output" ]
	[ -z "$(engine_state_dirs)" ]
}

@test "podman run -e -w -u --memory --cpus reach the VM (one VM)" {
	engine_run podman_ run --rm "${P[@]}" -e FOO=bar -w /tmp -u 1000:1000 --memory 256m --cpus 2 \
		"$IMAGE_PODMAN" sh -c 'echo "$FOO"; pwd; id -u; nproc; sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = bar ]
	[ "${lines[1]}" = /tmp ]
	[ "${lines[2]}" = 1000 ]
	[ "${lines[3]}" = 2 ]
	[ "${lines[4]}" -gt 200000 ] && [ "${lines[4]}" -le 262144 ]
}

@test "podman run -it: a terminal, and its exit code (one VM)" {
	engine_run_tty podman_ run --rm -it "${P[@]}" "$IMAGE_PODMAN" sh -c 'tty; exit 4'
	[ "$status" -eq 4 ]
	[[ $output == *"/dev/pts/"* ]]
}

@test "podman run -d, logs, kill -s, exec, graceful stop: the app's SIGTERM handler exits 3 (one VM)" {
	engine_run podman_ run -d --name graceful "${P[@]}" "$IMAGE_PODMAN" sh -c \
		'trap "echo got USR1" USR1; trap "echo got TERM; exit 3" TERM; echo started; while :; do sleep 0.1; done'
	[ "$status" -eq 0 ]
	wait_for_output 60 '^started$' podman_ logs graceful
	engine_run podman_ kill -s USR1 graceful
	[ "$status" -eq 0 ]
	wait_for_output 30 '^got USR1$' podman_ logs graceful
	# exec: its own output and exit status, env and cwd.
	engine_run podman_ exec -e X=y -w /etc graceful sh -c 'echo "in-exec $X $(pwd)"; exit 6'
	[ "$status" -eq 6 ]
	[ "$output" = "in-exec y /etc" ]
	engine_run podman_ stop -t 30 graceful
	[ "$status" -eq 0 ]
	engine_run podman_ inspect -f '{{.State.Status}} {{.State.ExitCode}}' graceful
	[ "$output" = "exited 3" ]
	engine_run podman_ logs graceful
	[[ $output == *"got TERM"* ]]
	engine_run podman_ rm graceful
	[ "$status" -eq 0 ]
	[ -z "$(engine_state_dirs)" ]
}

@test "podman pause/unpause freeze the VM; stop -t 2 of an app ignoring SIGTERM kills it (one VM)" {
	engine_run podman_ run -d --name frozen "${P[@]}" "$IMAGE_PODMAN" sh -c \
		'trap "echo ignored TERM" TERM; i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.1; done'
	[ "$status" -eq 0 ]
	wait_for_output 60 '^tick 3$' podman_ logs frozen
	engine_run podman_ pause frozen
	[ "$status" -eq 0 ]
	engine_run podman_ inspect -f '{{.State.Status}}' frozen
	[ "$output" = paused ]
	# Frozen: no tick while paused.
	local before after
	before=$(podman_ logs frozen | wc -l)
	sleep 1
	after=$(podman_ logs frozen | wc -l)
	[ "$before" -eq "$after" ]
	engine_run podman_ unpause frozen
	[ "$status" -eq 0 ]
	wait_for_output 30 "^tick $((after + 2))\$" podman_ logs frozen
	local t0=$EPOCHREALTIME
	engine_run podman_ stop -t 2 frozen
	[ "$status" -eq 0 ]
	local ms=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
	echo "stop took $ms ms" >&2
	[ "$ms" -ge 2000 ] && [ "$ms" -lt 15000 ]
	engine_run podman_ inspect -f '{{.State.Status}} {{.State.ExitCode}}' frozen
	[ "$output" = "exited 137" ]
	engine_run podman_ logs frozen
	[[ $output == *"ignored TERM"* ]]
}

@test "podman run -v: a bind mount written in the guest is seen on the host; :ro holds (one VM)" {
	local dir=$ENGINE_DIR/pvol-bind ro=$ENGINE_DIR/pvol-ro
	mkdir -p "$dir" "$ro"
	echo from-host >"$dir/in.txt"
	echo read-only >"$ro/ro.txt"
	engine_run podman_ run --rm "${P[@]}" -v "$dir:/data" -v "$ro:/ro:ro" "$IMAGE_PODMAN" sh -c \
		'cat /data/in.txt; echo from-guest >/data/out.txt; cat /ro/ro.txt
		 if echo x >/ro/x 2>/dev/null; then echo RO-WRITABLE; fi'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = from-host ]
	[ "${lines[1]}" = read-only ]
	[[ $output != *RO-WRITABLE* ]]
	[ "$(cat "$dir/out.txt")" = from-guest ]
	[ ! -e "$ro/x" ]
}
