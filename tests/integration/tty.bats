#!/usr/bin/env bats
# terminal: true through --console-socket (tests/tools/recvtty.c receives the
# pty master as runc's contrib/cmd/recvtty does).

load helpers

function setup() {
	setup_lightvm_test
	requires cc
	build_recvtty
}

# start_recvtty OUTFILE: listen on $TESTDIR/tty.sock, copy the pty to OUTFILE.
function start_recvtty() {
	CONSOLE_SOCKET=$TESTDIR/tty.sock
	"$RECVTTY" -o "$1" "$CONSOLE_SOCKET" </dev/null 2>"$TESTDIR/recvtty.err" &
	RECVTTY_PID=$!
	track_bg "$RECVTTY_PID"
	local i
	for i in $(seq 50); do [ -S "$CONSOLE_SOCKET" ] && return 0; sleep 0.1; done
	fail "recvtty did not listen"
}

@test "tty: run -d with a console socket: tty is a pts, consoleSize shows in stty (one VM)" {
	requires root kernel
	update_config '
c["process"]["terminal"] = True
c["process"]["consoleSize"] = {"height": 33, "width": 111}'
	set_cmd sh -c 'tty; stty size; echo done'
	start_recvtty "$TESTDIR/tty.out"
	lightvm run -d --console-socket "$CONSOLE_SOCKET" --bundle "$BUNDLE" ttty
	[ "$status" -eq 0 ]
	# recvtty exits when the pty hangs up, i.e. when the process is gone.
	local i
	for i in $(seq 300); do kill -0 "$RECVTTY_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$RECVTTY_PID" 2>/dev/null; then fail "recvtty still running: no hang-up"; fi
	wait "$RECVTTY_PID"
	echo "tty output:" >&2
	cat -A "$TESTDIR/tty.out" >&2
	tr -d '\r' <"$TESTDIR/tty.out" >"$TESTDIR/tty.txt"
	grep -Eqx '/dev/pts/[0-9]+' "$TESTDIR/tty.txt"
	grep -qx '33 111' "$TESTDIR/tty.txt"
	grep -qx 'done' "$TESTDIR/tty.txt"
	wait_for_status ttty stopped 10
}

@test "tty: terminal without --console-socket on a detached container is an error" {
	update_config 'c["process"]["terminal"] = True'
	lightvm create --bundle "$BUNDLE" tnosock
	[ "$status" -ne 0 ]
	assert_output_contains -i "console"
	[ ! -e "$ROOT/tnosock" ]
}

@test "tty: --console-socket without terminal is an error" {
	lightvm create --console-socket "$TESTDIR/nosuch.sock" --bundle "$BUNDLE" tnoterm
	[ "$status" -ne 0 ]
	assert_output_contains -i "console socket"
	[ ! -e "$ROOT/tnoterm" ]
}
