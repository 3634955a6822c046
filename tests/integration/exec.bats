#!/usr/bin/env bats
# lightvm exec: a process in a running container's guest, with its own stdio
# or pty, signals and exit status, and a host-side pid (--pid-file) that an
# engine waits on and signals.  Detached execs are waited on by
# tests/tools/reap-pidfile.c, a subreaper as containerd's shim or conmon is.
# Each test boots one VM and checks everything it can on it.

load helpers

function setup_file() {
	REAPER=$BATS_FILE_TMPDIR/reap-pidfile
	"${CC:-cc}" -std=gnu11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$REAPER" "$REPO/tests/tools/reap-pidfile.c"
	export REAPER
}

# reap_exec OUTFILE ARGS...: `lightvm exec -d --pid-file $TESTDIR/exec.pid
# ARGS` under the reaper, in the background; the reaper's report and the
# process's stdio go to OUTFILE.
function reap_exec() {
	local out=$1
	shift
	[ -z "$POOL_MODE" ] || __pool_config
	"$REAPER" "$TESTDIR/exec.pid" "$LIGHTVM_BIN" --root "$ROOT" --log "$TESTDIR/runtime.log" \
		exec -d --pid-file "$TESTDIR/exec.pid" "$@" >"$out" 2>&1 </dev/null &
	REAPER_PID=$!
	track_bg "$REAPER_PID"
}

# The host pid the reaper reported in FILE.
function reaped_pid() {
	wait_for_file "$1" '^pid [0-9]+' 30 || return 1
	local l
	while read -r l; do [[ $l == "pid "* ]] && echo "${l#pid }" && return 0; done <"$1"
	return 1
}

@test "exec: stdout, stderr, stdin and exit status; -e, --cwd, --user, -g; a missing binary (one VM)" {
	requires root lightvm kernel
	start_sleeper ex

	lightvm_split exec ex echo hello
	[ "$status" -eq 0 ]
	[ "$stdout" = hello ]

	lightvm_split exec ex sh -c 'echo out; echo err >&2; exit 3'
	[ "$status" -eq 3 ]
	[ "$stdout" = out ]
	[ "$stderr" = err ]

	# stdin reaches the process, and its EOF ends cat.
	printf 'line one\nline two\n' >"$TESTDIR/in.txt"
	__lightvm exec ex cat <"$TESTDIR/in.txt" >"$TESTDIR/cat.out" 2>&1
	cmp "$TESTDIR/in.txt" "$TESTDIR/cat.out"

	# Killed by a signal: 128+N, as the monitor reports the container's.
	lightvm exec ex sh -c 'kill -9 $$'
	[ "$status" -eq 137 ]

	lightvm_split exec -e FOO=bar -e HOME=/elsewhere --cwd /tmp ex sh -c 'echo $FOO $HOME; pwd'
	[ "$status" -eq 0 ]
	[ "$stdout" = $'bar /elsewhere\n/tmp' ]

	lightvm_split exec -u 1000:1001 -g 2000 --additional-gids 2001 ex sh -c 'id -u; id -g; id -G'
	[ "$status" -eq 0 ]
	[[ "$stdout" == $'1000\n1001\n'* ]]
	[[ "$stdout" == *2000*2001* ]]

	# --cap adds to the container's sets (runc spec's: no CAP_SYS_ADMIN, bit 21).
	lightvm_split exec ex grep CapBnd /proc/self/status
	[[ "$stdout" =~ CapBnd:[[:space:]]+([0-9a-f]+) ]]
	(((0x${BASH_REMATCH[1]} & (1 << 21)) == 0))
	lightvm_split exec --no-new-privs --cap CAP_SYS_ADMIN ex grep -E '^(NoNewPrivs|CapBnd|CapEff)' /proc/self/status
	[ "$status" -eq 0 ]
	[[ "$stdout" == *$'NoNewPrivs:\t1'* ]]
	[[ "$stdout" =~ CapBnd:[[:space:]]+([0-9a-f]+) ]]
	(((0x${BASH_REMATCH[1]} & (1 << 21)) != 0))
	lightvm exec --cap CAP_NOSUCH ex true
	[ "$status" -eq 255 ]
	assert_output_contains 'CAP_NOSUCH'

	lightvm_split exec ex nosuch-binary
	[ "$status" -eq 255 ]
	[[ "$stderr" == *'exec: "nosuch-binary": executable file not found in $PATH'* ]]

	# Several at once, and the container's own process untouched.
	__lightvm exec ex sh -c 'sleep 1; echo a' >"$TESTDIR/a.out" &
	local a=$!
	__lightvm exec ex sh -c 'sleep 1; echo b' >"$TESTDIR/b.out" &
	local b=$!
	wait "$a"
	wait "$b"
	[ "$(<"$TESTDIR/a.out")" = a ]
	[ "$(<"$TESTDIR/b.out")" = b ]
	[ "$(container_status ex)" = running ]
}

@test "exec --process FILE -d --pid-file: the host pid is waitable, forwards signals, exits with the status (one VM)" {
	requires root lightvm kernel cc
	start_sleeper ex
	cat >"$TESTDIR/process.json" <<'JSON'
{
	"args": ["sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.2; done"],
	"env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
	"cwd": "/",
	"user": {"uid": 0, "gid": 0}
}
JSON
	reap_exec "$TESTDIR/reap.out" --process "$TESTDIR/process.json" ex
	local pid
	pid=$(reaped_pid "$TESTDIR/reap.out")
	wait_for_file "$TESTDIR/reap.out" '^ready' 30
	pid_alive "$pid"
	kill -TERM "$pid"
	wait_for_file "$TESTDIR/reap.out" '^(exited|signaled) ' 30
	cat "$TESTDIR/reap.out" >&2
	grep -qx 'exited 42' "$TESTDIR/reap.out"
	wait "$REAPER_PID"

	# SIGKILL cannot be forwarded: the host pid dies, and its process
	# in the guest with it.
	reap_exec "$TESTDIR/reap2.out" ex sh -c 'echo ready; exec sleep 777'
	pid=$(reaped_pid "$TESTDIR/reap2.out")
	wait_for_file "$TESTDIR/reap2.out" '^ready' 30
	kill -KILL "$pid"
	wait_for_file "$TESTDIR/reap2.out" '^signaled 9' 30
	wait "$REAPER_PID"
	local i
	for i in {1..50}; do
		lightvm_split exec ex ps
		[[ "$stdout" == *"sleep 777"* ]] || break
		sleep 0.2
	done
	[[ "$stdout" != *"sleep 777"* ]]
	[ "$(container_status ex)" = running ]
}

@test "exec -t: a pty in the guest, its master to --console-socket; -t on a terminal passes its size and resizes (one VM)" {
	requires root lightvm kernel cc
	build_recvtty
	start_sleeper ex
	local sock=$TESTDIR/tty.sock
	"$RECVTTY" -o "$TESTDIR/tty.out" "$sock" </dev/null 2>"$TESTDIR/recvtty.err" &
	local rpid=$!
	track_bg "$rpid"
	local i
	for i in {1..50}; do [ -S "$sock" ] && break; sleep 0.1; done
	lightvm exec -t -d --console-socket "$sock" --pid-file "$TESTDIR/exec.pid" ex sh -c 'tty; echo done'
	[ "$status" -eq 0 ]
	# recvtty exits when the pty hangs up: the host pid is gone.
	for i in {1..300}; do kill -0 "$rpid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$rpid" 2>/dev/null
	wait "$rpid"
	cat -A "$TESTDIR/tty.out" >&2
	grep -q '^/dev/pts/[0-9]' "$TESTDIR/tty.out"
	grep -q '^done' "$TESTDIR/tty.out"

	# -t on our own terminal: its size at the start, then a resize
	# (SIGWINCH to lightvm exec, WINSIZE to the guest's pty).
	[ -z "$POOL_MODE" ] || __pool_config
	"$PYTHON" - "$LIGHTVM_BIN" --root "$ROOT" --log "$TESTDIR/runtime.log" exec -t ex \
		sh -c 'stty size; read x; stty size' >"$TESTDIR/pty.out" 2>&1 <<-'PY'
		import fcntl, os, pty, signal, struct, sys, termios, time
		signal.alarm(60)
		def size(fd, rows, cols):
		    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
		pid, fd = pty.fork()
		if pid == 0:
		    size(0, 33, 101)
		    os.execv(sys.argv[1], sys.argv[1:])
		out = b""
		def read_until(marker):
		    global out
		    while marker not in out:
		        b = os.read(fd, 1024)
		        if not b:
		            break
		        out += b
		read_until(b"33 101")
		size(fd, 44, 120)
		time.sleep(0.5)
		os.write(fd, b"go\r")
		try:
		    read_until(b"44 120")
		    while True:
		        b = os.read(fd, 1024)
		        if not b:
		            break
		        out += b
		except OSError:
		    pass
		_, st = os.waitpid(pid, 0)
		sys.stdout.write(out.decode(errors="replace"))
		sys.stdout.write("\nstatus %d\n" % os.waitstatus_to_exitcode(st))
	PY
	cat -A "$TESTDIR/pty.out" >&2
	grep -q '33 101' "$TESTDIR/pty.out"
	grep -q '44 120' "$TESTDIR/pty.out"
	grep -q '^status 0' "$TESTDIR/pty.out"

	# -d and -t need somewhere to send the pty.
	lightvm exec -t -d ex true
	[ "$status" -ne 0 ]
	assert_output_contains "console socket"
}

@test "exec: a missing or stopped container is a clear error; execs end with the container's process (one VM)" {
	requires root lightvm kernel cc
	lightvm exec nosuch true
	[ "$status" -eq 255 ]
	assert_output_contains nosuch
	lightvm exec --preserve-fds 2 nosuch true
	[ "$status" -ne 0 ]
	assert_output_contains "preserve-fds"

	start_sleeper ex
	reap_exec "$TESTDIR/reap.out" ex sh -c 'echo ready; exec sleep 1000'
	local pid
	pid=$(reaped_pid "$TESTDIR/reap.out")
	wait_for_file "$TESTDIR/reap.out" '^ready' 30
	lightvm kill ex TERM
	[ "$status" -eq 0 ]
	wait_for_file "$TESTDIR/reap.out" '^(exited|signaled) ' 30
	cat "$TESTDIR/reap.out" >&2
	grep -qx 'exited 137' "$TESTDIR/reap.out"
	wait "$REAPER_PID"
	wait_for_status ex stopped 15
	lightvm exec ex true
	[ "$status" -eq 255 ]
	assert_output_contains "not running"
	lightvm delete ex
	[ "$status" -eq 0 ]
}
