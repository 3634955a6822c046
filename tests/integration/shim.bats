#!/usr/bin/env bats
# containerd-shim-lightvm-v2: containerd (started here with a private
# config: root, state and sockets under $CDIR) runs containers through our
# shim (`ctr run --runtime io.containerd.lightvm.v2`), each in a real VM.
# The BusyBox image is imported offline (podman import + save).  Every test
# checks that its containers leave nothing: no shim, no mount, no lightvm
# state; teardown_file stops containerd and removes $CDIR.

load helpers

IMAGE=localhost/lightvm-busybox:latest
SHIM_BIN=${LIGHTVM_SHIM_BIN:-${LIGHTVM_BIN%/*}/containerd-shim-lightvm-v2}

function ctr_() {
	ctr -a "$CDIR/c/containerd.sock" "$@"
}

function setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	[ "${LIGHTVM_TEST_ENGINES:-auto}" != off ] || return 0
	[ "$(id -u)" = 0 ] || return 0
	command -v containerd >/dev/null && command -v ctr >/dev/null && command -v podman >/dev/null || return 0
	[ -x "$SHIM_BIN" ] && [ -f "$LIGHTVM_KERNEL" ] || return 0
	CDIR=$(mktemp -d /tmp/lvshim.XXXXXX)
	export CDIR
	mkdir -p "$CDIR/bin" "$CDIR/c" "$CDIR/lvroot"
	# containerd finds io.containerd.lightvm.v2 as containerd-shim-lightvm-v2
	# on its PATH; the shim runs the lightvm next to it (build/).
	ln -s "$SHIM_BIN" "$CDIR/bin/containerd-shim-lightvm-v2"
	TESTDIR=$CDIR ROOT=$CDIR/noroot __template_rootfs || return 1
	printf '{"kernel": "%s", "cache_dir": "%s", "backend": "%s"}\n' \
		"$LIGHTVM_KERNEL" "$LIGHTVM_TEST_SUITE_DIR/cache" "$LIGHTVM_BACKEND" >"$CDIR/lightvm.json"
	cat >"$CDIR/containerd.toml" <<-EOT
		version = 2
		root = "$CDIR/c/root"
		state = "$CDIR/c/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$CDIR/c/containerd.sock"
		[ttrpc]
		  address = "$CDIR/c/containerd.sock.ttrpc"
	EOT
	PATH=$CDIR/bin:$PATH LIGHTVM_CONFIG=$CDIR/lightvm.json LIGHTVM_SHIM_ROOT=$CDIR/lvroot \
		setsid containerd --config "$CDIR/containerd.toml" >"$CDIR/containerd.log" 2>&1 </dev/null &
	echo $! >"$CDIR/containerd.pid"
	local i
	for i in {1..100}; do
		[ -S "$CDIR/c/containerd.sock" ] && break
		sleep 0.1
	done
	[ -S "$CDIR/c/containerd.sock" ] || { cat "$CDIR/containerd.log" >&2; return 1; }
	# The image: the suite's BusyBox tree through podman (private storage,
	# removed at once) as an OCI archive.
	local p=(podman --root "$CDIR/pod/storage" --runroot "$CDIR/pod/run" --tmpdir "$CDIR/pod/tmp"
		--cgroup-manager cgroupfs --events-backend file)
	tar -C "$LIGHTVM_TEST_SUITE_DIR/rootfs" --exclude=./.done -cf "$CDIR/rootfs.tar" . &&
		"${p[@]}" import "$CDIR/rootfs.tar" "${IMAGE%:*}" >"$CDIR/import.log" 2>&1 &&
		"${p[@]}" save --format oci-archive -o "$CDIR/image.oci" "$IMAGE" >>"$CDIR/import.log" 2>&1 &&
		ctr_ images import "$CDIR/image.oci" >>"$CDIR/import.log" 2>&1 ||
		{ cat "$CDIR/import.log" >&2; return 1; }
	"${p[@]}" rmi -af >/dev/null 2>&1 || true
	__unmount_under "$CDIR/pod"
	rm -rf "$CDIR/pod" "$CDIR/rootfs.tar" "$CDIR/image.oci"
}

function __unmount_under() {
	local m
	for m in $(awk -v d="$1/" 'index($5 "/", d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" || true
	done
}

# Our shims (their command line names this containerd's socket).
function __shim_pids() {
	pgrep -f -- "containerd-shim-lightvm-v2 .*-address $CDIR/c/containerd.sock" || true
}

function teardown_file() {
	[ -n "${CDIR:-}" ] && [ -d "$CDIR" ] || return 0
	local id p
	for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s KILL "$id" >/dev/null 2>&1 || true; done
	sleep 1
	for id in $(ctr_ containers ls -q 2>/dev/null); do
		ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true
		ctr_ containers rm "$id" >/dev/null 2>&1 || true
	done
	ctr_ images rm "$IMAGE" >/dev/null 2>&1 || true
	for p in $(__shim_pids); do kill -KILL "$p" 2>/dev/null || true; done
	if [ -f "$CDIR/containerd.pid" ]; then
		p=$(cat "$CDIR/containerd.pid")
		kill -TERM "$p" 2>/dev/null || true
		for _ in {1..50}; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	fi
	for id in $(ls "$CDIR/lvroot/default" 2>/dev/null); do
		LIGHTVM_CONFIG=$CDIR/lightvm.json "$LIGHTVM_BIN" --root "$CDIR/lvroot/default" delete -f "$id" >/dev/null 2>&1 || true
	done
	__unmount_under "$CDIR"
	rm -rf "$CDIR"
}

function setup() {
	requires root kernel lightvm
	# In the lab host (its / is virtio-fs under a tmpfs overlay) containerd's
	# snapshot mounts fail with EINVAL: the host legs run this file.
	[ "${LIGHTVM_TEST_ENGINES:-auto}" != off ] || skip "LIGHTVM_TEST_ENGINES=off (containerd runs in the legs on the host)"
	command -v containerd >/dev/null && command -v ctr >/dev/null || skip "test requires containerd and ctr (make deps)"
	command -v podman >/dev/null || skip "test requires podman (to build the image offline)"
	[ -x "$SHIM_BIN" ] || fail "no shim at $SHIM_BIN (make)" || return 1
	[ -n "${CDIR:-}" ] || fail "setup_file did not run" || return 1
	ID=lvs$BATS_TEST_NUMBER
}

# What container $1 may leave behind: its shim, its rootfs mount, its
# lightvm state, its bundle.
function __leftovers() {
	local id=$1 p
	for p in $(__shim_pids); do
		grep -qzx -- "$id" "/proc/$p/cmdline" 2>/dev/null && echo "shim process $p"
	done
	grep -F " $CDIR/c/state/io.containerd.runtime.v2.task/default/$id/" /proc/self/mountinfo | sed 's/^/mount: /'
	[ ! -e "$CDIR/lvroot/default/$id" ] || echo "lightvm state $CDIR/lvroot/default/$id"
	[ ! -e "$CDIR/c/state/io.containerd.runtime.v2.task/default/$id" ] || echo "bundle of $id"
}

function assert_nothing_left() {
	local left i
	for i in {1..30}; do
		left=$(__leftovers "$1")
		[ -z "$left" ] && return 0
		sleep 0.2
	done
	fail "container $1 left: $left"
}

function teardown() {
	[ -n "${CDIR:-}" ] && [ -n "${ID:-}" ] || return 0
	ctr_ tasks kill -s KILL "$ID" >/dev/null 2>&1 || true
	ctr_ tasks delete -f "$ID" >/dev/null 2>&1 || true
	ctr_ containers rm "$ID" >/dev/null 2>&1 || true
	assert_nothing_left "$ID"
}

# ctr_run ARGS...: `ctr run` on our runtime with status and output logged.
function ctr_run() {
	output=$(timeout "$LIGHTVM_CMD_TIMEOUT" ctr -a "$CDIR/c/containerd.sock" run \
		--runtime io.containerd.lightvm.v2 "$@" 2>&1 </dev/null) && status=0 || status=$?
	echo "ctr run $* (status=$status):" >&2
	echo "$output" >&2
}

@test "shim: start/delete subcommands refuse bad arguments clearly" {
	run "$SHIM_BIN" -namespace default start
	[ "$status" -eq 1 ] && assert_output_contains "-id: missing"
	run "$SHIM_BIN" -id x -bogus 1 start
	[ "$status" -eq 1 ] && assert_output_contains "unknown flag '-bogus'"
	run "$SHIM_BIN" -id x frobnicate
	[ "$status" -eq 1 ] && assert_output_contains "usage:"
	run "$SHIM_BIN" -namespace ../x -id x start
	[ "$status" -eq 1 ] && assert_output_contains "not a valid namespace"
	run "$SHIM_BIN" -v
	[ "$status" -eq 0 ] && assert_output_contains "Version:"
}

@test "shim: delete of a container that is gone prints a DeleteResponse (137)" {
	local d=$CDIR/del.$ID
	mkdir -p "$d"
	(cd "$d" && LIGHTVM_SHIM_ROOT=$CDIR/lvroot LIGHTVM_CONFIG=$CDIR/lightvm.json "$SHIM_BIN" -namespace default \
		-address "$CDIR/c/containerd.sock" -publish-binary /bin/false -id "$ID" delete >"$d/out")
	# DeleteResponse {exit_status (field 2) = 137 (varint 89 01), exited_at (field 3)}
	[ "$(od -An -tx1 -N4 "$d/out" | tr -d ' ')" = 1089011a ] || fail "unexpected: $(od -An -tx1 "$d/out")"
	rm -rf "$d"
}

@test "shim: ctr run --rm prints the output and leaves nothing (one VM)" {
	ctr_run --rm "$IMAGE" "$ID" echo hi
	[ "$status" -eq 0 ] && [ "$output" = hi ]
	assert_nothing_left "$ID"
}

@test "shim: the exit status propagates through Wait (one VM)" {
	ctr_run --rm "$IMAGE" "$ID" sh -c 'echo out; echo err >&2; exit 7'
	[ "$status" -eq 7 ]
	assert_output_contains out
	assert_output_contains err
	assert_nothing_left "$ID"
}

@test "shim: SIGTERM from ctr task kill reaches a trap in the guest; its status comes back (one VM)" {
	local out=$CDIR/$ID.out
	ctr -a "$CDIR/c/containerd.sock" run --rm --runtime io.containerd.lightvm.v2 "$IMAGE" "$ID" \
		sh -c 'trap "echo got-TERM; exit 42" TERM; echo ready; while :; do sleep 0.2; done' \
		>"$out" 2>&1 </dev/null &
	local pid=$! i
	for i in $(seq 300); do grep -q ready "$out" && break; sleep 0.2; done
	grep -q ready "$out" || fail "container never said ready: $(cat "$out")"
	run ctr_ task kill "$ID"
	[ "$status" -eq 0 ]
	wait "$pid" && status=0 || status=$?
	cat "$out" >&2
	[ "$status" -eq 42 ] && grep -q got-TERM "$out"
	assert_nothing_left "$ID"
}

@test "shim: run -d, task ps, metrics, pause/resume, kill and delete with the status (one VM)" {
	local log=$CDIR/$ID.log
	ctr_run -d --log-uri "file://$log" "$IMAGE" "$ID" \
		sh -c 'trap "exit 43" TERM; echo ready; while :; do sleep 0.2; done'
	[ "$status" -eq 0 ]
	local i
	for i in $(seq 300); do grep -q ready "$log" 2>/dev/null && break; sleep 0.2; done
	grep -q ready "$log" || fail "no 'ready' in the log"
	run ctr_ task ls
	[[ "$output" =~ $ID\ +[0-9]+\ +RUNNING ]] || fail "$output"
	local pid=${BASH_REMATCH[0]}
	pid=$(awk -v id="$ID" '$1 == id { print $2 }' <<<"$output")
	run ctr_ task ps "$ID"
	[ "$status" -eq 0 ] && grep -qw "$pid" <<<"$output" || fail "task ps: $output"
	# Stats: the VM's host processes, as cgroups v1 metrics.
	run ctr_ task metrics "$ID"
	[ "$status" -eq 0 ] || fail "task metrics: $output"
	local mem cpu
	mem=$(awk '$1 == "memory.usage_in_bytes" { print $2 }' <<<"$output")
	cpu=$(awk '$1 == "cpuacct.usage" { print $2 }' <<<"$output")
	[[ $mem =~ ^[0-9]+$ ]] && [ "$mem" -gt 10000000 ] || fail "memory.usage_in_bytes '$mem': $output"
	[[ $cpu =~ ^[0-9]+$ ]] && [ "$cpu" -gt 0 ] || fail "cpuacct.usage '$cpu': $output"
	run ctr_ task pause "$ID"
	[ "$status" -eq 0 ]
	run ctr_ task ls
	[[ "$output" =~ $ID\ +$pid\ +PAUSED ]] || fail "$output"
	run ctr_ task resume "$ID"
	[ "$status" -eq 0 ]
	run ctr_ task ls
	[[ "$output" =~ $ID\ +$pid\ +RUNNING ]] || fail "$output"
	run ctr_ task kill "$ID"
	[ "$status" -eq 0 ]
	for i in $(seq 150); do
		run ctr_ task ls
		[[ "$output" =~ $ID\ +$pid\ +STOPPED ]] && break
		sleep 0.2
	done
	[[ "$output" =~ $ID\ +$pid\ +STOPPED ]] || fail "$output"
	run ctr_ task delete "$ID"
	[ "$status" -eq 0 ] && assert_output_contains "exit code 43"
	run ctr_ containers rm "$ID"
	[ "$status" -eq 0 ]
	assert_nothing_left "$ID"
	! kill -0 "$pid" 2>/dev/null || fail "monitor $pid still alive"
}

@test "shim: exec runs in the guest with its own output and exit status (one VM)" {
	ctr_run -d "$IMAGE" "$ID" sleep 600
	[ "$status" -eq 0 ]
	run ctr_ task exec --exec-id e1 "$ID" echo from-exec
	[ "$status" -eq 0 ] && [ "$output" = from-exec ]
	run ctr_ task exec --exec-id e2 "$ID" sh -c 'exit 5'
	[ "$status" -eq 5 ]
	run ctr_ task kill -s KILL "$ID"
	[ "$status" -eq 0 ]
}

# ctr_pty ROWS COLS [MARKER resize ROWS2 COLS2 | MARKER send TEXT]... -- ARGS...:
# `ctr ARGS` on a pty of its own (ctr -t needs a terminal) of ROWS x COLS;
# once the output shows MARKER, the pty becomes ROWS2 x COLS2 (ctr gets
# SIGWINCH and sends ResizePty), or TEXT is typed.  Sets output (CRs
# removed) and status.
function ctr_pty() {
	cat >"$CDIR/ptyrun.py" <<-'PY'
		import fcntl, os, pty, struct, sys, termios
		a = sys.argv[1:]
		cut = a.index("--")
		opt, cmd = a[:cut], a[cut + 1:]
		def size(fd, rows, cols):
		    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", int(rows), int(cols), 0, 0))
		acts, i = [], 2
		while i < len(opt):
		    n = 4 if opt[i + 1] == "resize" else 3
		    acts.append(opt[i:i + n])
		    i += n
		pid, fd = pty.fork()
		if pid == 0:
		    size(0, opt[0], opt[1])
		    os.execvp(cmd[0], cmd)
		out = b""
		while True:
		    try:
		        data = os.read(fd, 4096)
		    except OSError:
		        break
		    if not data:
		        break
		    out += data
		    while acts and acts[0][0].encode() in out:
		        act = acts.pop(0)
		        if act[1] == "resize":
		            size(fd, act[2], act[3])
		        else:
		            os.write(fd, act[2].encode())
		sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
		_, st = os.waitpid(pid, 0)
		sys.exit(os.waitstatus_to_exitcode(st) & 255)
	PY
	local args=()
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	output=$(timeout "$LIGHTVM_CMD_TIMEOUT" python3 "$CDIR/ptyrun.py" "${args[@]}" -- \
		ctr -a "$CDIR/c/containerd.sock" "$@" 2>&1 </dev/null) && status=0 || status=$?
	echo "ctr $* on a ${args[0]}x${args[1]} pty (status=$status):" >&2
	echo "$output" >&2
}

# In the guest: stty size once the terminal has one (ctr gives its size
# through ResizePty just after Start; BusyBox's stty prints nothing, and
# exits 0, for 0 x 0), at most 10 s.
WAIT_SIZE='i=0; while [ -z "$(stty size 2>/dev/null)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; echo "size $(stty size)"'

@test "shim: ctr run -t: the process has a /dev/pts terminal of ctr's size; its status; nothing left (one VM)" {
	ctr_pty 30 100 -- run -t --rm --runtime io.containerd.lightvm.v2 "$IMAGE" "$ID" \
		sh -c "tty; $WAIT_SIZE; echo done; exit 3"
	[ "$status" -eq 3 ] || fail "status $status"
	grep -qx '/dev/pts/[0-9]*' <<<"$output" || fail "no /dev/pts tty in the output"
	assert_output_contains "size 30 100"
	assert_output_contains done
	assert_nothing_left "$ID"
	[ -z "$(ls "$CDIR/lvroot/default" | grep '^tty-')" ] || fail "console sockets left: $(ls "$CDIR/lvroot/default")"
}

@test "shim: ctr run -t: a resize of ctr's terminal reaches the guest's pty (ResizePty) (one VM)" {
	ctr_pty 30 100 first-size resize 40 120 -- run -t --rm --runtime io.containerd.lightvm.v2 "$IMAGE" "$ID" \
		sh -c "$WAIT_SIZE; echo first-size; i=0; while [ \"\$(stty size)\" != '40 120' ] && [ \$i -lt 150 ]; do sleep 0.2; i=\$((i+1)); done; echo \"now \$(stty size)\""
	[ "$status" -eq 0 ] || fail "status $status"
	assert_output_contains "size 30 100"
	assert_output_contains "now 40 120"
	assert_nothing_left "$ID"
}

@test "shim: ctr run -t: what is typed on ctr's terminal reaches the process (stdin relay) (one VM)" {
	ctr_pty 24 80 ready send $'hello there\r' -- run -t --rm --runtime io.containerd.lightvm.v2 "$IMAGE" "$ID" \
		sh -c 'echo ready; read line; echo "got [$line]"'
	[ "$status" -eq 0 ] || fail "status $status"
	assert_output_contains "got [hello there]"
	assert_nothing_left "$ID"
}

@test "shim: ctr run -t: output larger than every buffer arrives whole before the exit (one VM)" {
	ctr_pty 24 80 -- run -t --rm --runtime io.containerd.lightvm.v2 "$IMAGE" "$ID" sh -c 'seq 1 20000; echo END'
	[ "$status" -eq 0 ] || fail "status $status"
	[ "$(grep -cx '[0-9]*' <<<"$output")" -eq 20000 ] || fail "$(grep -cx '[0-9]*' <<<"$output") lines of 20000"
	[ "$(tail -n 1 <<<"$output")" = END ] || fail "last line: $(tail -n 1 <<<"$output")"
	assert_nothing_left "$ID"
}

@test "shim: ctr task exec -t: a terminal for the exec, its size and status; plain exec still works (one VM)" {
	ctr_run -d "$IMAGE" "$ID" sleep 600
	[ "$status" -eq 0 ]
	ctr_pty 25 90 -- task exec -t --exec-id t1 "$ID" sh -c "tty; $WAIT_SIZE; echo exec-done; exit 4"
	[ "$status" -eq 4 ] || fail "status $status"
	grep -qx '/dev/pts/[0-9]*' <<<"$output" || fail "no /dev/pts tty in the output"
	assert_output_contains "size 25 90"
	assert_output_contains exec-done
	run ctr_ task exec --exec-id e2 "$ID" echo plain
	[ "$status" -eq 0 ] && [ "$output" = plain ]
	[ -z "$(ls "$CDIR/lvroot/default" | grep '^tty-')" ] || fail "console sockets left: $(ls "$CDIR/lvroot/default")"
	run ctr_ task kill -s KILL "$ID"
	[ "$status" -eq 0 ]
}
