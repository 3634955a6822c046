#!/bin/busybox sh
# The lab host's /init (stage 1, in the initramfs; built in by prepare.sh).
# Loads kvm-amd and the file system modules, mounts the host's root (virtio-fs
# tag "hostroot", read-only) under a tmpfs overlay, and switches to it; the
# second stage (stage2.sh) runs the command there.  Any failure prints
# "LAB-FAIL <why>" on the console and powers off, so run.sh need not wait for
# its boot timeout.
export PATH=/bin

fail() {
	echo "LAB-FAIL stage1: $*"
	poweroff -f
	reboot -f
	exit 1
}

mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
exec </dev/console >/dev/console 2>&1

for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m.ko" || fail "insmod $m"
done

# Host root: read-only lower layer; writes go to a tmpfs upper layer.
mount -t virtiofs -o ro hostroot /lower || fail "mount virtio-fs hostroot"
mount -t tmpfs -o mode=0755 lab-rw /rw || fail "mount tmpfs for the overlay"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work lab-root /newroot ||
	fail "mount overlay"

# Fresh /run for the new root holds stage 2 and its BusyBox, so stage 2
# does not depend on the host's userland.
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run || fail "mount /run"
mkdir -p /newroot/run/lab
cp /bin/busybox /stage2 /kernel.release /newroot/run/lab/ || fail "copy stage 2"
for d in dev proc sys; do
	mount --move "/$d" "/newroot/$d" || fail "move /$d"
done
exec switch_root /newroot /run/lab/busybox sh /run/lab/stage2
fail "switch_root"
