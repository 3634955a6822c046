#!/usr/bin/env bats
# A raw image attached read-only through the annotation org.lightvm.disk:
# our VMM's virtio-blk device, seen by a real Linux guest as /dev/vda.

load helpers

function make_image() {
	IMAGE=$TESTDIR/disk.img
	# 1 MiB: a marker at the start and one at 512 KiB, zeros elsewhere.
	head -c 1048576 /dev/zero >"$IMAGE"
	printf 'lightvm-disk-start' | dd of="$IMAGE" conv=notrunc status=none
	printf 'lightvm-disk-middle' | dd of="$IMAGE" bs=1 seek=524288 conv=notrunc status=none
}

@test "disk: the image is /dev/vda, read-only, with its bytes (kvm backend, one VM)" {
	requires root lightvm kernel
	[ "$LIGHTVM_BACKEND" = kvm ] || skip "disks are attached by the kvm backend only"
	make_image
	update_config "c.setdefault('annotations', {})['org.lightvm.disk'] = '$IMAGE'"
	set_cmd sh -c 'cat /sys/block/vda/size /sys/block/vda/ro; head -c 18 /dev/vda; echo;
		dd if=/dev/vda bs=1 skip=524288 count=19 2>/dev/null; echo;
		if echo x >/dev/vda; then echo WRITABLE; else echo refused; fi'
	lightvm_split --debug run --keep --bundle "$BUNDLE" tdisk
	echo "$stdout"
	[ "$status" -eq 0 ]
	local -a out
	mapfile -t out <<<"$stdout"
	[ "${out[0]}" = 2048 ]
	[ "${out[1]}" = 1 ]
	[ "${out[2]}" = lightvm-disk-start ]
	[ "${out[3]}" = lightvm-disk-middle ]
	[[ "$stdout" == *refused* ]]
	[[ "$stdout" != *WRITABLE* ]]
	# The page listed the disk, and the guest found it read-only.
	grep -F 'lightvm-init: page: device 1: disk vda (ro)' "$ROOT/tdisk/console.log"
	lightvm delete tdisk
	[ "$status" -eq 0 ]
}

@test "disk: a relative, missing or non-file image is an error naming the annotation" {
	requires root lightvm
	local bad
	for bad in disk.img /nonexistent/disk.img /dev/null; do
		update_config "c.setdefault('annotations', {})['org.lightvm.disk'] = '$bad'"
		lightvm create --bundle "$BUNDLE" tbad
		[ "$status" -ne 0 ]
		assert_output_contains "org.lightvm.disk"
		[ ! -e "$ROOT/tbad" ]
	done
}

@test "disk: the qemu backend refuses it clearly" {
	requires root lightvm
	make_image
	update_config "c.setdefault('annotations', {})['org.lightvm.disk'] = '$IMAGE'; c['annotations']['org.lightvm.backend'] = 'qemu'"
	lightvm create --bundle "$BUNDLE" tq
	[ "$status" -ne 0 ]
	assert_output_contains "org.lightvm.disk"
	assert_output_contains "kvm backend"
	[ ! -e "$ROOT/tq" ]
}
