#!/usr/bin/env bats
# The VM's size from linux.resources, and the backend from the annotation.

load helpers

@test "resources: memory.limit and cpu quota size the VM (one VM)" {
	requires root kernel lightvm
	update_config 'c.setdefault("linux", {}).setdefault("resources", {}).update({"memory": {"limit": 256 << 20}, "cpu": {"quota": 200000, "period": 100000}})'
	set_cmd sh -c 'grep MemTotal /proc/meminfo; grep -c ^processor /proc/cpuinfo'
	lightvm_split run --bundle "$BUNDLE" tres </dev/null
	[ "$status" -eq 0 ]
	# MemTotal is the VM's RAM less what the kernel keeps: well above the
	# 128 MiB default, at most 256 MiB.
	kb=$(echo "$stdout" | awk '/MemTotal/ {print $2}')
	[ "$kb" -gt $((200 * 1024)) ]
	[ "$kb" -le $((256 * 1024)) ]
	[ "$(echo "$stdout" | tail -n 1)" = 2 ]
}

@test "resources: a memory limit below the VM minimum is a clear error" {
	requires root lightvm
	update_config 'c.setdefault("linux", {}).setdefault("resources", {})["memory"] = {"limit": 4 << 20}'
	lightvm create --bundle "$BUNDLE" tsmall
	[ "$status" -ne 0 ]
	assert_output_contains "linux.resources.memory.limit"
	[ ! -e "$ROOT/tsmall" ]
}

@test "backend annotation: kvm without vmx/svm is refused, not run crawling" {
	requires root lightvm
	if grep -qwE 'vmx|svm' /proc/cpuinfo; then
		skip "this host has hardware virtualization"
	fi
	update_config 'c.setdefault("annotations", {})["org.lightvm.backend"] = "kvm"'
	lightvm create --bundle "$BUNDLE" tkvm
	[ "$status" -ne 0 ]
	assert_output_contains "hardware virtualization"
	assert_output_contains "org.lightvm.backend"
	[ ! -e "$ROOT/tkvm" ]
}

@test "backend annotation: an unknown backend is named" {
	requires root lightvm
	update_config 'c.setdefault("annotations", {})["org.lightvm.backend"] = "vmware"'
	lightvm create --bundle "$BUNDLE" tunk
	[ "$status" -ne 0 ]
	assert_output_contains '"vmware"'
	[ ! -e "$ROOT/tunk" ]
}

@test "backend annotation: qemu runs the container" {
	requires root kernel lightvm
	update_config 'c.setdefault("annotations", {})["org.lightvm.backend"] = "qemu"'
	set_cmd sh -c 'echo on-qemu'
	lightvm_split run --bundle "$BUNDLE" tq </dev/null
	[ "$status" -eq 0 ]
	[ "$stdout" = "on-qemu" ]
}
