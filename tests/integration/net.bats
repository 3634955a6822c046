#!/usr/bin/env bats
# A tap behind the guest's eth0 through the annotation org.lightvm.tap: our
# VMM's virtio-net device, with a real Linux guest on the other side.  The
# host addresses the tap after create; the guest addresses eth0 and pings.

load helpers

@test "net: the guest's eth0 sits on the tap; a ping crosses it both ways (kvm backend, one VM)" {
	requires root lightvm kernel
	[ "$LIGHTVM_BACKEND" = kvm ] || skip "taps are attached by the kvm backend only"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun"
	local tap=lvt$RANDOM
	update_config "c.setdefault('annotations', {})['org.lightvm.tap'] = '$tap'
for s in ('bounding', 'effective', 'permitted'):
    c['process']['capabilities'][s] += ['CAP_NET_ADMIN', 'CAP_NET_RAW']"
	set_cmd sh -c 'cat /sys/class/net/eth0/address; ip addr add 10.251.0.2/30 dev eth0 && ip link set eth0 up || exit 9
		for i in $(seq 30); do ping -c 1 -W 1 10.251.0.1 >/dev/null && { echo ping-ok; exit 0; }; sleep 0.5; done; exit 8'
	__lightvm --debug run --keep --bundle "$BUNDLE" tnet </dev/null >"$TESTDIR/run.out" 2>"$TESTDIR/run.err" &
	local run_pid=$! i
	track_bg "$run_pid"
	for i in $(seq 300); do ip link show "$tap" >/dev/null 2>&1 && break; sleep 0.1; done
	ip addr add 10.251.0.1/30 dev "$tap"
	ip link set "$tap" up
	local rc=0
	wait "$run_pid" || rc=$?
	cat "$TESTDIR/run.out" "$TESTDIR/run.err"
	[ "$rc" -eq 0 ]
	grep -qE '^02(:[0-9a-f]{2}){5}$' "$TESTDIR/run.out"
	grep -qx ping-ok "$TESTDIR/run.out"
	# The page listed the NIC with the MAC the guest saw.
	local mac
	mac=$(grep -E '^02(:[0-9a-f]{2}){5}$' "$TESTDIR/run.out")
	grep -F "lightvm-init: page: device 1: nic eth0 $mac" "$ROOT/tnet/console.log"
	lightvm delete tnet
	[ "$status" -eq 0 ]
	# The tap was the monitor's: it went with it.
	! ip link show "$tap" 2>/dev/null || fail "the tap $tap is still there"
}

@test "net: a bad interface name is an error naming the annotation" {
	requires root lightvm
	update_config "c.setdefault('annotations', {})['org.lightvm.tap'] = 'no/such name'"
	lightvm create --bundle "$BUNDLE" tbad
	[ "$status" -ne 0 ]
	assert_output_contains "org.lightvm.tap"
	[ ! -e "$ROOT/tbad" ]
}
