#!/usr/bin/env bats
# docker run --runtime=lightvm: dockerd (registered with --add-runtime) on
# its own containerd, both with private directories (engine_helpers.bash),
# started once for the file.  --network none: networking is tested apart.

load helpers
load engine_helpers

R=(--runtime lightvm --network none)

function setup_file() { engine_setup_file containerd docker; }
function teardown_file() { engine_teardown_file; }
function setup() { engine_setup; }
function teardown() { engine_teardown; }

@test "docker run --rm: output, exit code, and nothing left (one VM)" {
	engine_run docker_ run --rm "${R[@]}" "$IMAGE_DOCKER" sh -c 'echo hi; uname -r; exit 7'
	[ "$status" -eq 7 ]
	[ "${lines[0]}" = hi ]
	# In a VM: its kernel is not the host's.
	[ "${lines[1]}" != "$(uname -r)" ]
	# --rm: no container, no state directory in the root docker gave us.
	engine_run docker_ ps -aq
	[ -z "$output" ]
	[ -z "$(engine_state_dirs)" ]
}

@test "docker run -e -w -u --memory --cpus reach the VM (one VM)" {
	engine_run docker_ run --rm "${R[@]}" -e FOO=bar -w /tmp -u 1000:1000 --memory 256m --cpus 2 \
		"$IMAGE_DOCKER" sh -c 'echo "$FOO"; pwd; id -u; id -g; nproc; sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = bar ]
	[ "${lines[1]}" = /tmp ]
	[ "${lines[2]}" = 1000 ]
	[ "${lines[3]}" = 1000 ]
	[ "${lines[4]}" = 2 ]
	# 256 MiB of guest RAM, less what the kernel keeps for itself.
	[ "${lines[5]}" -gt 200000 ] && [ "${lines[5]}" -le 262144 ]
}

@test "docker run -it: a terminal, and its exit code (one VM)" {
	engine_run_tty docker_ run --rm -it "${R[@]}" "$IMAGE_DOCKER" sh -c 'tty; stty size; exit 4'
	[ "$status" -eq 4 ]
	[[ $output == *"/dev/pts/"* ]]
}

@test "docker run -d, logs, kill -s, exec (-it), graceful stop: the app's SIGTERM handler exits 3 (one VM)" {
	engine_run docker_ run -d --name graceful "${R[@]}" "$IMAGE_DOCKER" sh -c \
		'trap "echo got USR1" USR1; trap "echo got TERM; exit 3" TERM; echo started; while :; do sleep 0.1; done'
	[ "$status" -eq 0 ]
	wait_for_output 60 '^started$' docker_ logs graceful
	engine_run docker_ kill -s USR1 graceful
	[ "$status" -eq 0 ]
	wait_for_output 30 '^got USR1$' docker_ logs graceful
	# exec: its own output and exit status, env and cwd; -it on a terminal.
	engine_run docker_ exec -e X=y -w /etc graceful sh -c 'echo "in-exec $X $(pwd)"; exit 6'
	[ "$status" -eq 6 ]
	[ "$output" = "in-exec y /etc" ]
	engine_run_tty docker_ exec -it graceful sh -c 'tty; exit 2'
	[ "$status" -eq 2 ]
	[[ $output == *"/dev/pts/"* ]]
	engine_run docker_ stop -t 30 graceful
	[ "$status" -eq 0 ]
	engine_run docker_ inspect -f '{{.State.Status}} {{.State.ExitCode}}' graceful
	[ "$output" = "exited 3" ]
	engine_run docker_ logs graceful
	[[ $output == *"got TERM"* ]]
	engine_run docker_ rm graceful
	[ "$status" -eq 0 ]
	[ -z "$(engine_state_dirs)" ]
}

@test "docker stop -t 2 of an app ignoring SIGTERM kills it after the timeout (one VM)" {
	engine_run docker_ run -d --name stubborn "${R[@]}" "$IMAGE_DOCKER" sh -c \
		'trap "echo ignored TERM" TERM; echo started; while :; do sleep 0.1; done'
	[ "$status" -eq 0 ]
	wait_for_output 60 '^started$' docker_ logs stubborn
	local t0=$EPOCHREALTIME
	engine_run docker_ stop -t 2 stubborn
	[ "$status" -eq 0 ]
	local ms=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
	echo "stop took $ms ms" >&2
	[ "$ms" -ge 2000 ] && [ "$ms" -lt 15000 ]
	engine_run docker_ inspect -f '{{.State.Status}} {{.State.ExitCode}}' stubborn
	[ "$output" = "exited 137" ]
	engine_run docker_ logs stubborn
	[[ $output == *"ignored TERM"* ]]
}

@test "docker run -v: a bind mount and a named volume, written in the guest, seen on the host; :ro holds (one VM)" {
	local dir=$ENGINE_DIR/vol-bind ro=$ENGINE_DIR/vol-ro mp
	mkdir -p "$dir" "$ro"
	echo from-host >"$dir/in.txt"
	echo read-only >"$ro/ro.txt"
	engine_run docker_ volume create lvvol
	[ "$status" -eq 0 ]
	engine_run docker_ run --rm "${R[@]}" -v "$dir:/data" -v lvvol:/vol -v "$ro:/ro:ro" "$IMAGE_DOCKER" sh -c \
		'cat /data/in.txt; echo from-guest >/data/out.txt; echo in-volume >/vol/v.txt; cat /ro/ro.txt
		 if echo x >/ro/x 2>/dev/null; then echo RO-WRITABLE; fi'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = from-host ]
	[ "${lines[1]}" = read-only ]
	[[ $output != *RO-WRITABLE* ]]
	[ "$(cat "$dir/out.txt")" = from-guest ]
	[ ! -e "$ro/x" ]
	mp=$(docker_ volume inspect -f '{{.Mountpoint}}' lvvol)
	[ "$(cat "$mp/v.txt")" = in-volume ]
	# The volume outlives the container: a second one reads it.
	engine_run docker_ run --rm "${R[@]}" -v lvvol:/vol "$IMAGE_DOCKER" cat /vol/v.txt
	[ "$status" -eq 0 ] && [ "$output" = in-volume ]
	engine_run docker_ volume rm lvvol
	[ "$status" -eq 0 ]
	! pgrep -f "virtiofsd.*source=$dir" >/dev/null || fail "a virtiofsd for $dir is still running"
}
