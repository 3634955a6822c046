#!/usr/bin/env bats
# The engines' networks reaching the VM (README.md "Networking"): docker
# on a network of its own (its prestart hook, libnetwork-setkey, moves the
# veth into the monitor's new namespace before the VM is launched), and
# podman on its default CNI bridge with -p (a network namespace path; the
# portmap plugin's DNAT to the container's address).  The harness starts
# dockerd without iptables or the default bridge: docker's -p is served by
# its userland proxy there (podman's by iptables DNAT).  What the engines add to the
# host for this (the CNI bridge and its iptables chains, docker's network)
# is removed again if this file made it.

load helpers
load engine_helpers

function setup_file() {
	engine_setup_file containerd docker podman
	[ -n "$ENGINE_SKIP" ] && return 0
	# Whether CNI's host-wide pieces were there before us.
	{ ip link show cni-podman0 >/dev/null 2>&1 && echo bridge
	  iptables -t nat -S CNI-HOSTPORT-DNAT >/dev/null 2>&1 && echo chains; } >"$ENGINE_DIR/cni.before" || true
}

function teardown_file() {
	if [ -n "${ENGINE_DIR:-}" ] && [ -f "$ENGINE_DIR/cni.before" ]; then
		grep -qx bridge "$ENGINE_DIR/cni.before" || ip link del cni-podman0 2>/dev/null || true
		grep -qx chains "$ENGINE_DIR/cni.before" || __remove_cni_chains
	fi
	engine_teardown_file
}

function setup() { engine_setup; }
function teardown() {
	docker_ network rm lvnet >/dev/null 2>&1 || true
	engine_teardown
}

# The portmap and firewall plugins' chains (empty once their last
# container is gone).
function __remove_cni_chains() {
	local c
	iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null || true
	iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null || true
	iptables -t nat -D POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" \
		-j CNI-HOSTPORT-MASQ 2>/dev/null || true
	for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SETMARK; do
		iptables -t nat -F "$c" 2>/dev/null && iptables -t nat -X "$c" 2>/dev/null || true
	done
	iptables -D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD 2>/dev/null || true
	for c in CNI-FORWARD CNI-ADMIN; do
		iptables -F "$c" 2>/dev/null && iptables -X "$c" 2>/dev/null || true
	done
}

@test "docker run -p on a network of its own: the guest has the veth's address and route, reaches the gateway; its server answers at its address and on the host's port (one VM)" {
	local n=$((RANDOM % 200 + 20)) port=$((RANDOM % 1000 + 19000)) ip got= i
	engine_run docker_ network create --driver bridge --subnet "10.249.$n.0/24" --gateway "10.249.$n.1" lvnet
	[ "$status" -eq 0 ]
	engine_run docker_ run -d --name dnet --runtime lightvm --network lvnet -p "127.0.0.1:$port:80" "$IMAGE_DOCKER" sh -c \
		"ip addr show eth0; ip route; ping -c 1 -W 5 10.249.$n.1 >/dev/null && echo ping-ok
		 while :; do echo served-by-the-vm | nc -l -p 80; done"
	[ "$status" -eq 0 ]
	wait_for_output 60 'ping-ok' docker_ logs dnet
	engine_run docker_ inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' dnet
	ip=$output
	[[ $ip == 10.249.$n.* ]]
	engine_run docker_ logs dnet
	[[ $output == *"inet $ip/24 "* ]] || fail "the guest's eth0 lacks $ip/24"
	[[ $output == *"default via 10.249.$n.1 dev eth0"* ]] || fail "the guest lacks the default route"
	for i in $(seq 100); do
		got=$(timeout 2 busybox nc "$ip" 80 </dev/null 2>/dev/null) && [ -n "$got" ] && break
		sleep 0.2
	done
	[ "$got" = served-by-the-vm ] || fail "the host could not reach the guest's server at $ip:80"
	# -p: without iptables (the harness's dockerd), docker's userland proxy
	# forwards the host's port to the container's address.
	got=
	for i in $(seq 30); do
		got=$(timeout 2 busybox nc 127.0.0.1 "$port" </dev/null 2>/dev/null) && [ -n "$got" ] && break
		sleep 0.2
	done
	[ "$got" = served-by-the-vm ] || fail "nothing answered on the host's port $port"
	engine_run docker_ rm -f dnet
	[ "$status" -eq 0 ]
}

@test "podman run -p on the default bridge: the guest's server answers on the host's port, DNS and outbound work (one VM)" {
	local port=$((RANDOM % 1000 + 18000)) got= i hostip
	hostip=$(ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
	engine_run podman_ run -d --name pnet --runtime "$ENGINE_RUNTIME" --ulimit nofile=20000:20000 \
		--ulimit nproc=1024:1024 -p "$port:80" "$IMAGE_PODMAN" sh -c \
		'cat /etc/resolv.conf; echo ready; while :; do echo served-by-the-vm | nc -l -p 80; done'
	[ "$status" -eq 0 ]
	wait_for_output 60 '^ready$' podman_ logs pnet
	for i in $(seq 100); do
		got=$(timeout 2 busybox nc 127.0.0.1 "$port" </dev/null 2>/dev/null) && [ -n "$got" ] && break
		sleep 0.2
	done
	[ "$got" = served-by-the-vm ] || fail "nothing answered on the host's port $port"
	# The engine's resolv.conf came in; its nameserver answers through the VM's NIC.
	engine_run podman_ logs pnet
	[[ $output == *nameserver* ]]
	engine_run podman_ exec pnet sh -c 'nslookup localhost "$(sed -n "s/^nameserver //p" /etc/resolv.conf | head -n1)"'
	[[ $output == *"Address"* ]] || fail "no DNS answer through the VM's NIC"
	# Outbound: a connection from the guest to the host's address.
	# The host's listener must be up (ss shows it) before the guest
	# connects (a CI run under load once received nothing: the listener
	# was started only 0.3 s before).
	if [ -n "$hostip" ]; then
		local lpid j
		timeout 20 busybox nc -l -p "$((port + 1))" >"$ENGINE_DIR/outbound" &
		lpid=$!
		for j in $(seq 100); do
			ss -Hltn "sport = :$((port + 1))" | grep -q . && break
			sleep 0.1
		done
		engine_run podman_ exec pnet sh -c "echo from-the-vm | nc $hostip $((port + 1))"
		wait "$lpid" || true
		[ "$(cat "$ENGINE_DIR/outbound")" = from-the-vm ] || fail "the guest could not connect to $hostip"
	fi
	engine_run podman_ rm -f -t 2 pnet
	[ "$status" -eq 0 ]
}
