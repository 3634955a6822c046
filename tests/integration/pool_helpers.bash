# Shared by pool.bats and pool_kvm.bats: channel delivery in the test's
# runtime config, a daemon of the test's own on $ROOT, and its teardown.

function pool_setup() {
	setup_lightvm_test
	local cfg
	cfg=$(<"$LIGHTVM_CONFIG")
	printf '%s' "${cfg%\}*}, \"rootfs_delivery\": \"channel\"}" >"$LIGHTVM_CONFIG"
}

# A daemon a failed test left running goes first: it owns the shells.
function teardown() {
	[ -z "${POOLD_PID:-}" ] || stop_poold || true
	teardown_lightvm_test
}

# start_poold: a daemon for $ROOT, in the background, until its socket is up.
function start_poold() {
	"$LIGHTVM_BIN" --root "$ROOT" --debug --log "$TESTDIR/poold.log" poold </dev/null >/dev/null 2>&1 &
	POOLD_PID=$!
	track_bg "$POOLD_PID"
	# Until it answers: a killed daemon's socket file may still be there.
	for _ in {1..200}; do
		"$LIGHTVM_BIN" --root "$ROOT" pool status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "poold did not answer on $ROOT/poold.sock"
}

function stop_poold() {
	kill -TERM "$POOLD_PID" 2>/dev/null || true
	for _ in {1..100}; do kill -0 "$POOLD_PID" 2>/dev/null || break; sleep 0.05; done
	wait "$POOLD_PID" 2>/dev/null || true
	[ ! -e "$ROOT/poold.sock" ] || fail "poold left its socket"
}

