#!/usr/bin/env bats
# Directory bind mounts (volumes): shared with the guest over virtio-fs, one
# virtiofsd per mount (runtime/virtiofsd.c) behind the VMM's vhost-user-fs
# device (QEMU's, or vmm/virtio_fs.c with the kvm backend), mounted by the
# guest init with -t virtiofs.  Writes on either side are the other's at once; "ro" is
# enforced on the host, so not even a guest with CAP_SYS_ADMIN gets past it.

load helpers

function no_virtiofsd_for() { # DIR...
	local d
	for d in "$@"; do
		! pgrep -f "virtiofsd.*source=$d( |\$)" >/dev/null || fail "a virtiofsd for $d is still running"
	done
}

@test "volumes: a directory is shared both ways while the container runs; ro holds against the guest (one VM)" {
	requires root lightvm kernel
	local rw=$TESTDIR/vol-rw ro=$TESTDIR/vol-ro i rc=0
	mkdir -p "$rw/sub" "$ro"
	echo hello-from-host >"$rw/sub/hello.txt"
	echo read-only-data >"$ro/ro.txt"
	update_config "
c['mounts'] += [
    {'destination': '/data', 'type': 'bind', 'source': '$rw', 'options': ['rbind', 'rw']},
    {'destination': '/srv/ro', 'type': 'bind', 'source': '$ro', 'options': ['rbind', 'ro', 'nosuid']},
]
for s in ('bounding', 'effective', 'permitted'):
    c['process']['capabilities'][s] += ['CAP_SYS_ADMIN']"
	set_cmd sh -c 'cat /data/sub/hello.txt; echo from-guest >/data/out.txt
		cat /srv/ro/ro.txt
		if echo x >/srv/ro/x 2>/dev/null; then echo RO-WRITABLE; fi
		if mount -o remount,rw /srv/ro 2>/dev/null && echo x >/srv/ro/x 2>/dev/null; then echo REMOUNT-WRITABLE; fi
		grep -E " /(data|srv/ro) virtiofs " /proc/mounts | cut -d" " -f1-4
		for i in $(seq 200); do [ -e /data/late.txt ] && break; sleep 0.1; done
		cat /data/late.txt'
	__lightvm run --bundle "$BUNDLE" tvol </dev/null >"$TESTDIR/run.out" 2>"$TESTDIR/run.err" &
	local run_pid=$!
	track_bg "$run_pid"
	# The guest's write shows on the host while it runs; ours shows there.
	for i in $(seq 300); do [ -s "$rw/out.txt" ] && break; sleep 0.1; done
	[ "$(cat "$rw/out.txt" 2>/dev/null)" = from-guest ] ||
		{ cat "$TESTDIR/run.out" "$TESTDIR/run.err"; fail "the guest's write did not reach the host"; }
	echo late-from-host >"$rw/late.txt"
	wait "$run_pid" || rc=$?
	cat "$TESTDIR/run.out" "$TESTDIR/run.err"
	[ "$rc" -eq 0 ]
	grep -qx hello-from-host "$TESTDIR/run.out"
	grep -qx read-only-data "$TESTDIR/run.out"
	grep -qx late-from-host "$TESTDIR/run.out"
	! grep -q WRITABLE "$TESTDIR/run.out"
	[ ! -e "$ro/x" ]
	grep -qE '^lvfs[0-9]+ /data virtiofs rw' "$TESTDIR/run.out"
	grep -qE '^lvfs[0-9]+ /srv/ro virtiofs (ro|rw),nosuid' "$TESTDIR/run.out"
	no_virtiofsd_for "$rw" "$ro"
}

@test "volumes: KILL ends the container and its virtiofsd with it; nothing is left (one VM)" {
	requires root lightvm kernel
	local vol=$TESTDIR/vol-kill
	mkdir -p "$vol"
	update_config "c['mounts'].append({'destination': '/data', 'type': 'bind', 'source': '$vol', 'options': ['rbind']})"
	set_cmd sh -c 'echo up >/data/up; exec sleep 1000'
	lightvm run -d --bundle "$BUNDLE" tvk
	[ "$status" -eq 0 ]
	wait_for_status tvk running 10
	wait_for_file "$vol/up" up 30
	pgrep -f "virtiofsd.*source=$vol( |\$)" >/dev/null || fail "no virtiofsd serves $vol"
	lightvm kill tvk KILL
	[ "$status" -eq 0 ]
	wait_for_status tvk stopped 15
	lightvm delete tvk
	[ "$status" -eq 0 ]
	for i in $(seq 50); do pgrep -f "virtiofsd.*source=$vol( |\$)" >/dev/null || break; sleep 0.1; done
	no_virtiofsd_for "$vol"
	[ ! -e "$ROOT/tvk" ]
}

@test "volumes: a missing virtiofsd is a clear error and leaves nothing" {
	requires root lightvm kernel
	local cfg
	mkdir -p "$TESTDIR/vol"
	cfg=$(<"$LIGHTVM_CONFIG")
	printf '%s' "${cfg%\}*}, \"virtiofsd\": \"/nonexistent/virtiofsd\"}" >"$LIGHTVM_CONFIG"
	update_config "c['mounts'].append({'destination': '/data', 'type': 'bind', 'source': '$TESTDIR/vol', 'options': ['rbind']})"
	lightvm create --bundle "$BUNDLE" tvm
	[ "$status" -ne 0 ]
	assert_output_contains "virtiofsd"
	assert_output_contains "/nonexistent/virtiofsd"
	[ ! -e "$ROOT/tvm" ]
}
