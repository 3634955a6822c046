#!/usr/bin/env bats
# The engine's network namespace, taken over for the VM (README.md
# "Networking", runtime/net.c), without an engine: the test plays the
# engine's part with `ip netns` and a veth pair, one end in the namespace
# (eth0, 10.252.N.2/24, default route via .1), the other on the host (.1).
# The guest must come up with eth0, that address and route, reach the host
# end, and serve what the host connects to at .2 (what `-p` relies on);
# nothing of ours (tap, qdisc, filter) may stay behind.

load helpers

NETNS=
VETH_HOST=

# make_netns [bare]: a namespace (lvns-RANDOM) and, unless bare, the veth
# pair and addresses as an engine would set them up.  Sets NETNS, VETH_HOST,
# SUBNET (10.252.N), NETNS_PATH.
function make_netns() {
	local n=$((RANDOM % 250 + 1))
	NETNS=lvns-$RANDOM
	SUBNET=10.252.$n
	NETNS_PATH=/run/netns/$NETNS
	ip netns add "$NETNS"
	[ "${1:-}" = bare ] && return 0
	VETH_HOST=lvh$RANDOM
	local peer=${VETH_HOST}p
	ip link add name "$VETH_HOST" type veth peer name "$peer"
	ip link set "$peer" netns "$NETNS"
	ip -n "$NETNS" link set "$peer" name eth0
	ip -n "$NETNS" addr add "$SUBNET.2/24" dev eth0
	ip -n "$NETNS" link set eth0 up
	ip -n "$NETNS" route add default via "$SUBNET.1"
	ip addr add "$SUBNET.1/24" dev "$VETH_HOST"
	ip link set "$VETH_HOST" up
}

# The kernel pieces the redirect needs (the lab's kernel loads them as
# modules: tests/lab/prepare.sh): skip honestly without them.
function requires_veth_tc() {
	[ -c /dev/net/tun ] || skip "no /dev/net/tun"
	local t=lvchk$$
	ip link add name "$t" type veth peer name "${t}p" 2>/dev/null || skip "no veth in this kernel"
	if ! tc qdisc add dev "$t" ingress 2>/dev/null ||
		! tc filter add dev "$t" parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev "${t}p" 2>/dev/null; then
		ip link del "$t"
		skip "no sch_ingress, cls_u32 or act_mirred in this kernel"
	fi
	ip link del "$t"
}

function set_netns_path() {
	update_config "
ns = [n for n in c['linux']['namespaces'] if n['type'] != 'network']
ns.append({'type': 'network', 'path': '$1'})
c['linux']['namespaces'] = ns"
}

function teardown() {
	teardown_lightvm_test
	local rc=$?
	[ -z "$VETH_HOST" ] || ip link del "$VETH_HOST" 2>/dev/null || true
	[ -z "$NETNS" ] || ip netns del "$NETNS" 2>/dev/null || true
	return $rc
}

# Nothing of the VM's left in the namespace: no tap, no qdisc on eth0.
function assert_netns_clean() {
	local i
	for i in $(seq 50); do
		! ip -n "$NETNS" link show | grep -q lvtap && ! tc -n "$NETNS" qdisc show dev eth0 | grep -q ingress &&
			return 0
		sleep 0.1
	done
	ip -n "$NETNS" link show >&2
	tc -n "$NETNS" qdisc show dev eth0 >&2
	tc -n "$NETNS" filter show dev eth0 ingress >&2
	fail "the VM's tap or TC redirect is still in $NETNS"
}

@test "netns: the guest gets eth0 with the namespace's address and route, pings the host and serves it (one VM)" {
	requires root lightvm kernel
	requires_veth_tc
	make_netns
	set_netns_path "$NETNS_PATH"
	update_config "
for s in ('bounding', 'effective', 'permitted'):
    c['process']['capabilities'][s] += ['CAP_NET_RAW']"
	# The engine's resolv.conf, hosts and hostname: file bind mounts, shaped
	# as docker writes them, copied into the guest at create.
	printf 'nameserver %s.1\nsearch example.test\n' "$SUBNET" >"$TESTDIR/resolv.conf"
	printf '127.0.0.1 localhost\n%s.2 tns-host\n' "$SUBNET" >"$TESTDIR/hosts"
	echo tns-host >"$TESTDIR/hostname"
	update_config "
for f in ('resolv.conf', 'hosts', 'hostname'):
    c['mounts'].append({'destination': '/etc/' + f, 'type': 'bind', 'source': '$TESTDIR/' + f,
                        'options': ['rbind', 'rprivate']})
c['hostname'] = 'tns-host'"
	set_cmd sh -c "cat /etc/resolv.conf /etc/hosts /etc/hostname; hostname
		ip addr show; ip route show; cat /sys/class/net/eth0/address
		ping -c 1 -W 5 $SUBNET.1 >/dev/null && echo ping-ok
		echo served-by-the-guest | nc -l -p 80; echo server-done"
	__lightvm --debug run --keep --bundle "$BUNDLE" tns </dev/null >"$TESTDIR/run.out" 2>"$TESTDIR/run.err" &
	local run_pid=$! i got=
	track_bg "$run_pid"
	# While it runs: the redirect is in place on the namespace's eth0.
	for i in $(seq 600); do
		got=$(timeout 2 busybox nc "$SUBNET.2" 80 </dev/null 2>/dev/null) && [ -n "$got" ] && break
		kill -0 "$run_pid" 2>/dev/null || break
		sleep 0.2
	done
	local rc=0
	wait "$run_pid" || rc=$?
	cat "$TESTDIR/run.out" "$TESTDIR/run.err"
	[ "$rc" -eq 0 ]
	[ "$got" = served-by-the-guest ] || fail "the host could not reach the guest's server at $SUBNET.2:80"
	grep -E "inet $SUBNET\.2/24 .* eth0" "$TESTDIR/run.out"
	grep -E "^default via $SUBNET\.1 dev eth0" "$TESTDIR/run.out"
	grep -Fx "$(ip netns exec "$NETNS" cat /sys/class/net/eth0/address)" "$TESTDIR/run.out"
	grep -qx ping-ok "$TESTDIR/run.out"
	grep -qx server-done "$TESTDIR/run.out"
	grep -qx "nameserver $SUBNET.1" "$TESTDIR/run.out"
	grep -qx "$SUBNET.2 tns-host" "$TESTDIR/run.out"
	[ "$(grep -cx tns-host "$TESTDIR/run.out")" -eq 2 ]
	grep -F "lightvm-init: page: device 1: nic eth0 " "$ROOT/tns/console.log"
	lightvm delete tns
	[ "$status" -eq 0 ]
	assert_netns_clean
}

@test "netns: a namespace with only lo (--network none) gives the guest loopback only (one VM)" {
	requires root lightvm kernel
	make_netns bare
	set_netns_path "$NETNS_PATH"
	set_cmd sh -c 'ls /sys/class/net; ip addr show lo | grep -q "inet 127.0.0.1" && echo lo-ok'
	lightvm_split run --bundle "$BUNDLE" tnone
	[ "$status" -eq 0 ]
	[ "$stdout" = "$(printf 'lo\nlo-ok')" ]
}

@test "netns: no network namespace entry (the host's network under runc): loopback only, the host's untouched (one VM)" {
	requires root lightvm kernel
	update_config "c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'network']"
	set_cmd sh -c 'ls /sys/class/net'
	local before
	before=$(ip -o link show | grep -c lvtap || true)
	lightvm_split run --bundle "$BUNDLE" thost
	[ "$status" -eq 0 ]
	[ "$stdout" = lo ]
	[ "$(ip -o link show | grep -c lvtap || true)" = "$before" ]
}

@test "netns: a second container in a namespace whose interface a VM has is an error; the first keeps it (one VM)" {
	requires root lightvm kernel
	requires_veth_tc
	make_netns
	set_netns_path "$NETNS_PATH"
	set_cmd sleep 60
	lightvm create --bundle "$BUNDLE" tfirst
	[ "$status" -eq 0 ]
	lightvm create --bundle "$BUNDLE" tsecond
	[ "$status" -ne 0 ]
	assert_output_contains "eth0 is taken already"
	[ ! -e "$ROOT/tsecond" ]
	tc -n "$NETNS" filter show dev eth0 ingress | grep -q "Egress Redirect to device lvtap" ||
		fail "the first container's redirect went with the second's failure"
	lightvm delete --force tfirst
	[ "$status" -eq 0 ]
	assert_netns_clean
}

@test "netns: a network namespace path that is not one is an error naming linux.namespaces" {
	requires root lightvm
	set_netns_path /proc/self/ns/pid
	lightvm create --bundle "$BUNDLE" tbadns
	[ "$status" -ne 0 ]
	assert_output_contains "linux.namespaces"
	assert_output_contains "is not a network namespace"
	[ ! -e "$ROOT/tbadns" ]
	set_netns_path /run/netns/lightvm-no-such-namespace
	lightvm create --bundle "$BUNDLE" tbadns
	[ "$status" -ne 0 ]
	assert_output_contains "linux.namespaces"
	assert_output_contains "No such file or directory"
	[ ! -e "$ROOT/tbadns" ]
}

@test "netns: without a path, a prestart hook fills the monitor's new namespace before the VM starts, as docker's does (one VM)" {
	requires root lightvm kernel
	requires_veth_tc
	local n=$((RANDOM % 250 + 1))
	SUBNET=10.251.$n
	VETH_HOST=lvh$RANDOM
	# libnetwork-setkey's part: the state's pid is the monitor, whose
	# network namespace the engine's interface goes into.
	cat >"$TESTDIR/hook.sh" <<-HOOK
		#!/bin/sh -e
		pid=\$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
		ip link add name $VETH_HOST type veth peer name ${VETH_HOST}p
		ip link set ${VETH_HOST}p netns "\$pid"
		nsenter --net=/proc/\$pid/ns/net sh -ec 'ip link set ${VETH_HOST}p name eth0
			ip addr add $SUBNET.2/24 dev eth0; ip link set eth0 up; ip route add default via $SUBNET.1'
		ip addr add $SUBNET.1/24 dev $VETH_HOST
		ip link set $VETH_HOST up
	HOOK
	chmod +x "$TESTDIR/hook.sh"
	update_config "
c['hooks'] = {'prestart': [{'path': '$TESTDIR/hook.sh'}]}
assert any(n['type'] == 'network' and not n.get('path') for n in c['linux']['namespaces'])
for s in ('bounding', 'effective', 'permitted'):
    c['process']['capabilities'][s] += ['CAP_NET_RAW']"
	set_cmd sh -c "ip addr show eth0; ping -c 1 -W 5 $SUBNET.1 >/dev/null && echo ping-ok"
	lightvm_split run --bundle "$BUNDLE" tdocker
	[ "$status" -eq 0 ]
	[[ $stdout == *"inet $SUBNET.2/24 "* ]] || fail "the guest's eth0 lacks $SUBNET.2/24"
	[[ $stdout == *ping-ok* ]] || fail "the guest could not ping $SUBNET.1"
	# The namespace was the monitor's: it went with it, and the veth too.
	local i
	for i in $(seq 50); do ip link show "$VETH_HOST" >/dev/null 2>&1 || break; sleep 0.1; done
	! ip link show "$VETH_HOST" >/dev/null 2>&1 || fail "$VETH_HOST outlived the container's namespace"
}
