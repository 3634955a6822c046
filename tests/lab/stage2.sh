# The lab host's stage 2: PID 1 in the overlay root, run by /run/lab/busybox.
# Mounts the usual kernel file systems and the results share, checks
# /dev/kvm, prints LAB-READY, runs the command that run.sh wrote to
# <lab.ctl>/cmd.sh (a bash script, run with the host's bash), prints
# "LAB-EXIT <status>" and powers off.
bb=/run/lab/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

fail() {
	echo "LAB-FAIL stage2: $*"
	$bb poweroff -f
	$bb reboot -f
	exit 1
}

ctl= loglevel=
for w in $($bb cat /proc/cmdline); do
	case $w in
	lab.ctl=*) ctl=${w#lab.ctl=} ;;
	lab.loglevel=*) loglevel=${w#lab.loglevel=} ;;
	esac
done
[ -n "$ctl" ] && [ -f "$ctl/cmd.sh" ] || fail "no lab.ctl=DIR with cmd.sh on the kernel command line"

$bb mkdir -p /dev/pts /dev/shm
$bb mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts || fail "mount /dev/pts"
$bb mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm || fail "mount /dev/shm"
$bb mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
$bb ln -sf /proc/self/fd /dev/fd
$bb ln -sf /proc/self/fd/0 /dev/stdin
$bb ln -sf /proc/self/fd/1 /dev/stdout
$bb ln -sf /proc/self/fd/2 /dev/stderr
$bb ln -sf /proc/mounts /etc/mtab 2>/dev/null

# The results share: writable, at /results and at its host path.
if [ -f "$ctl/share" ]; then
	share=$($bb cat "$ctl/share")
	$bb mkdir -p /results "$share"
	$bb mount -t virtiofs results /results || fail "mount virtio-fs results"
	$bb mount --bind /results "$share" || fail "bind /results at $share"
fi

$bb hostname lab
$bb ip link set lo up 2>/dev/null

# kvm registers the misc device 10:232; devtmpfs normally makes the node.
[ -c /dev/kvm ] || $bb mknod -m 0666 /dev/kvm c 10 232 || fail "mknod /dev/kvm"
[ -e /sys/module/kvm_amd ] || fail "kvm_amd is not loaded"
$bb grep -q svm /proc/cpuinfo || fail "no svm flag in /proc/cpuinfo"

# Output that stays on the console unchanged: no \n -> \r\n for user output.
$bb stty -F /dev/console -onlcr 2>/dev/null

# While the command runs, kernel messages at lab.loglevel and above stay
# off the console (nested guests make kvm log an unhandled MSR per boot);
# the errors among them are printed after the command.
if [ -n "$loglevel" ]; then
	$bb dmesg -n "$loglevel"
	seen=$($bb dmesg -r | $bb wc -l)
fi
echo "LAB-READY $($bb cat /proc/uptime)"
$bb env -i PATH="$PATH" HOME=/root TERM=dumb LAB=1 /bin/bash "$ctl/cmd.sh" </dev/null
st=$?
$bb sync
if [ -n "$loglevel" ]; then
	$bb dmesg -r | $bb tail -n +$((seen + 1)) | $bb grep -E '^<[0-3]>' | $bb grep -v 'Unhandled WRMSR' |
		$bb sed 's/^/lab kernel: /'
fi
echo "LAB-EXIT $st"
# Wait for the console to drain (stty sets with TCSADRAIN) before power-off.
$bb stty -F /dev/console -onlcr 2>/dev/null
$bb poweroff -f
$bb reboot -f
