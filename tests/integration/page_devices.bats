#!/usr/bin/env bats
# The device page's devices and channels (noxs/README.md, version 1.2): the
# host lists what it attached and where each conversation runs, and the
# guest init checks the list against the VM it booted in before anything of
# the container runs (guest/devices.c).  Disks and NICs are in disk.bats
# and net.bats (kvm backend).

load helpers

@test "page devices: the control port carries the process and, by channel delivery, the rootfs (two VMs)" {
	requires root lightvm kernel
	local cfg delivery console id
	set_cmd sh -c 'echo ran'
	cfg=$(<"$LIGHTVM_CONFIG")
	for delivery in initramfs channel; do
		id=tpd-$delivery
		printf '%s' "${cfg%\}*}, \"rootfs_delivery\": \"$delivery\"}" >"$LIGHTVM_CONFIG"
		lightvm_split --debug run --keep --bundle "$BUNDLE" "$id" </dev/null
		[ "$status" -eq 0 ] || fail "$delivery: run failed: $stderr"
		[ "$stdout" = ran ]
		console=$ROOT/$id/console.log
		grep -F 'lightvm-init: page: device 0: control port org.lightvm.ctl' "$console" ||
			fail "$delivery: the guest did not log the control port from the page ($console)"
		! grep -F 'lightvm-init: page: device 1:' "$console" || fail "$delivery: a device the VM does not have"
		lightvm delete "$id"
		[ "$status" -eq 0 ]
	done
}
