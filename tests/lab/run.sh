#!/bin/bash
# Run one command inside the lab host: a QEMU TCG virtual machine with an
# emulated AMD SVM CPU, so that it has a working nested /dev/kvm.
#
#   tests/lab/run.sh [options] -- COMMAND [ARG...]
#
# Options:
#   --timeout SECONDS       limit for COMMAND, from the ready marker (600)
#   --boot-timeout SECONDS  limit for the lab to boot (60)
#   --share HOSTDIR         mount HOSTDIR read-write at /results and at
#                           HOSTDIR itself in the lab (results come back here)
#   --env NAME[=VALUE]      pass a variable (the caller's value without =)
#   --memory MIB            lab RAM (2048)
#   --cpus N                lab vCPUs (1; more use multi-threaded TCG)
#   --log FILE              also save the raw console to FILE
#   --verbose               show the lab kernel's boot messages
#
# The lab sees the host's / read-only (virtio-fs) under a tmpfs overlay, so
# writes inside it are thrown away; COMMAND runs as root with the caller's
# cwd and PATH, stdin /dev/null, and its output is streamed here.
#
# Exit status: COMMAND's status; 124 when the lab did not boot (no ready
# marker within --boot-timeout, or an init step failed) or COMMAND did not
# finish within --timeout (the message says which); 125 when the lab died
# without reporting a status or run.sh itself failed.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_CACHE=${LAB_CACHE:-/var/cache/lightvm/lab}
LAB_TMP=${LAB_TMP:-/var/tmp}
QEMU=${QEMU:-qemu-system-x86_64}
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
# Features of the EPYC model that TCG does not implement (QEMU warns about
# each one otherwise).
LAB_CPU=${LAB_CPU:-EPYC,+svm,-rdseed,-sha-ni,-fxsr-opt,-misalignsse,-3dnowprefetch,-osvw,-topoext,-perfctr-core,-clzero,-xsaveerptr,-ibpb,-nrip-save,-xsavec,-xsaves}

timeout=600 boot_timeout=60 share='' memory=2048 cpus=${LAB_CPUS:-1} logfile='' verbose=0
envs=()
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "lab: error: $*" >&2; exit 125; }
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout=${2:?--timeout needs SECONDS}; shift 2 ;;
	--boot-timeout) boot_timeout=${2:?--boot-timeout needs SECONDS}; shift 2 ;;
	--share) share=${2:?--share needs HOSTDIR}; shift 2 ;;
	--env) envs+=("${2:?--env needs NAME[=VALUE]}"); shift 2 ;;
	--memory) memory=${2:?--memory needs MIB}; shift 2 ;;
	--cpus) cpus=${2:?--cpus needs N}; shift 2 ;;
	--log) logfile=${2:?--log needs FILE}; shift 2 ;;
	--verbose) verbose=1; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	*) echo "lab: unknown option: $1 (COMMAND goes after --)" >&2; usage >&2; exit 125 ;;
	esac
done
[ $# -gt 0 ] || { usage >&2; exit 125; }
for n in "$timeout" "$boot_timeout" "$memory" "$cpus"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "not a positive integer: $n"
done
[ "$(id -u)" = 0 ] || die "run as root (virtiofsd and its mount namespace need it)"
command -v "$QEMU" >/dev/null || die "$QEMU not found (apt-get install qemu-system-x86)"
[ -x "$VIRTIOFSD" ] || die "$VIRTIOFSD not found (apt-get install qemu-system-common)"
if [ -n "$share" ]; then
	[ -d "$share" ] || die "--share $share: not a directory"
	share=$(realpath "$share")
	[[ $share != *[[:space:]]* ]] || die "--share path must not contain white space"
fi

t_start=$EPOCHREALTIME
cache=$("$LAB_DIR/prepare.sh" --print-dir) || die "tests/lab/prepare.sh failed"

# One lab at a time on this machine: each one keeps a core busy.
if [ -z "${LAB_NO_LOCK:-}" ]; then
	exec 8>"$LAB_CACHE/.run-lock"
	if ! flock -n 8; then
		echo "lab: waiting for another lab run to finish" >&2
		flock 8
		t_start=$EPOCHREALTIME
	fi
fi

run=$(mktemp -d "$LAB_TMP/lab-run.XXXXXX")
# The lab reads $run/ctl through the root share, which is a non-recursive
# bind of /, so $run must be on the root file system.
[ "$(stat -c %d "$run")" = "$(stat -c %d /)" ] || { rm -rf "$run"; die "LAB_TMP=$LAB_TMP is not on the root file system"; }
pids=() qpid=
stop_qemu() { # timeout(1) does not pass SIGKILL on: kill QEMU by its own pid,
	# then let timeout reap it and exit (killing timeout first would leave
	# QEMU a zombie of PID 1)
	local q
	[ -n "$qpid" ] || return 0
	q=$(cat "$run/qemu.pid" 2>/dev/null || true)
	[ -n "$q" ] || q=$(pgrep -P "$(pgrep -P "$qpid" | head -n1)" 2>/dev/null || true)
	[ -z "$q" ] || kill -KILL $q 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.02; done
	pkill -KILL -P "$qpid" 2>/dev/null || true # timeout, if QEMU had not started
	wait "$qpid" 2>/dev/null || true
}
cleanup() {
	local p
	trap - EXIT INT TERM HUP
	stop_qemu
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ -z "$logfile" ] || [ ! -f "$run/console.log" ] || cp "$run/console.log" "$logfile" || true
	rm -rf "$run"
}
trap cleanup EXIT
trap 'echo "lab: interrupted" >&2; exit 130' INT
trap 'echo "lab: terminated" >&2; exit 143' TERM
trap 'echo "lab: hung up" >&2; exit 129' HUP

# The command, as a bash script the lab's init runs with the host's bash.
mkdir -p "$run/ctl" "$run/root"
{
	echo '# generated by tests/lab/run.sh'
	printf 'export PATH=%q\n' "$PATH"
	for e in "${envs[@]}"; do
		if [[ $e == *=* ]]; then printf 'export %q\n' "$e"
		elif [ -n "${!e+set}" ]; then printf 'export %q\n' "$e=${!e}"
		fi
	done
	printf 'cd -- %q || exit 125\n' "$PWD"
	printf 'exec'; printf ' %q' "$@"; echo
} >"$run/ctl/cmd.sh"
[ -z "$share" ] || echo "$share" >"$run/ctl/share"

# virtio-fs daemons.  The host's / is served from a read-only bind in a
# private mount namespace, which disappears with the daemon; a
# non-recursive bind also keeps /proc, /sys, /dev and other mounts out.
nofile=$(ulimit -Hn)
start_virtiofsd() { # SOCKET SOURCE CACHE [ro]
	if [ "${4:-}" = ro ]; then
		unshare -m --propagation private -- sh -c \
			'mount --bind / "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"' sh "$2" \
			"$VIRTIOFSD" --socket-path="$1" -o source="$2" -o cache="$3" --rlimit-nofile="$nofile" \
			>>"$run/virtiofsd.log" 2>&1 8>&- &
	else
		"$VIRTIOFSD" --socket-path="$1" -o source="$2" -o cache="$3" --rlimit-nofile="$nofile" \
			>>"$run/virtiofsd.log" 2>&1 8>&- &
	fi
	pids+=($!)
}
start_virtiofsd "$run/root.sock" "$run/root" "${LAB_ROOT_CACHE:-always}" ro
vfs=(-chardev "socket,id=vfsroot,path=$run/root.sock"
	-device vhost-user-fs-device,chardev=vfsroot,tag=hostroot,queue-size=1024)
socks=("$run/root.sock")
if [ -n "$share" ]; then
	start_virtiofsd "$run/results.sock" "$share" auto
	vfs+=(-chardev "socket,id=vfsres,path=$run/results.sock"
		-device vhost-user-fs-device,chardev=vfsres,tag=results,queue-size=1024)
	socks+=("$run/results.sock")
fi
for s in "${socks[@]}"; do
	for _ in $(seq 100); do [ -S "$s" ] && break; sleep 0.05; done
	[ -S "$s" ] || { cat "$run/virtiofsd.log" >&2; die "virtiofsd did not create $s"; }
done

# The TSC rate, so the lab kernel does not calibrate it against the PIT
# (which sometimes hangs under TCG on the microvm machine).
tsc_khz=${LAB_TSC_KHZ:-$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)}
[ -n "$tsc_khz" ] || die "cannot read the TSC rate from /proc/cpuinfo (set LAB_TSC_KHZ)"
append="console=ttyS0 reboot=t panic=-1 tsc_early_khz=$tsc_khz cryptomgr.notests=1"
append+=" mitigations=off random.trust_cpu=on lab.ctl=$run/ctl"
[ "$verbose" = 1 ] || append+=" quiet lab.loglevel=${LAB_LOGLEVEL:-3}"
append+=${LAB_APPEND:+ $LAB_APPEND}

log=$run/console.log
: >"$log"
limit=$((boot_timeout + timeout + 30))
# More than one vCPU: one host thread each (MTTCG), not TCG's round-robin.
accel=tcg
[ "$cpus" = 1 ] || accel=tcg,thread=multi
# In a subshell, so that QEMU's death by SIGKILL (which timeout re-raises on
# itself) is an ordinary exit status here, not a job notice from bash.
( timeout -s KILL "$limit" "$QEMU" \
	-M "microvm,x-option-roms=off,rtc=on,isa-serial=on,memory-backend=mem" \
	-accel "$accel" -cpu "$LAB_CPU" -smp "$cpus" -m "$memory" \
	-object "memory-backend-memfd,id=mem,size=${memory}M,share=on" \
	-nodefaults -no-user-config -display none -no-reboot \
	-global virtio-mmio.force-legacy=false -pidfile "$run/qemu.pid" \
	-chardev "file,id=con,path=$log" -serial chardev:con \
	"${vfs[@]}" \
	-kernel "$cache/vmlinux" -initrd "$cache/initramfs.gz" -append "$append" \
	</dev/null >"$run/qemu.log" 2>&1 8>&-; exit $? ) 2>/dev/null &
qpid=$! # the subshell's pid; QEMU's own is in $run/qemu.pid
pids+=("$qpid")
# Stream the console; tail stops by itself once QEMU has gone.
# (sed -u: line by line even into a file or pipe, where tr would buffer.)
tail -n +1 -s 0.1 -F --pid="$qpid" "$log" 2>/dev/null 8>&- > >(sed -u 's/\r//g') &
tpid=$!
pids+=("$tpid")

elapsed() { echo "$EPOCHREALTIME $t_start" | awk '{ printf "%.1f", $1 - $2 }'; }
last_lines() {
	echo "lab: last console lines:" >&2
	tail -n 25 "$log" | tr -d '\r' | sed 's/^/  | /' >&2
	[ ! -s "$run/qemu.log" ] || { echo "lab: qemu said:" >&2; sed 's/^/  | /' "$run/qemu.log" >&2; }
	[ ! -s "$run/virtiofsd.log" ] || { echo "lab: virtiofsd's last words:" >&2; tail -n 4 "$run/virtiofsd.log" | sed 's/^/  | /' >&2; }
}
finish_stream() { # let tail print what is left, then stop the lab
	stop_qemu
	wait "$tpid" 2>/dev/null || true
}

# Phase 1: boot, until LAB-READY (or LAB-FAIL, or QEMU's exit).
boot_deadline=$(( ${t_start%.*} + boot_timeout ))
ready=
while :; do
	if grep -aq '^LAB-READY' "$log"; then ready=$(elapsed); break; fi
	if grep -aq '^LAB-FAIL' "$log" || ! kill -0 "$qpid" 2>/dev/null; then
		finish_stream
		why=$(grep -a '^LAB-FAIL' "$log" | head -n1 | tr -d '\r' || true)
		echo "lab: the lab did not boot${why:+: ${why#LAB-FAIL }}" >&2
		last_lines; exit 124
	fi
	if [ "${EPOCHREALTIME%.*}" -ge "$boot_deadline" ]; then
		finish_stream
		echo "lab: the lab did not boot: no ready marker within ${boot_timeout}s" >&2
		last_lines; exit 124
	fi
	sleep 0.1
done
echo "lab: ready after ${ready}s" >&2

# Phase 2: the command, until QEMU exits (powered off) or the timeout.
cmd_deadline=$(( ${EPOCHREALTIME%.*} + timeout ))
while kill -0 "$qpid" 2>/dev/null; do
	if [ "${EPOCHREALTIME%.*}" -ge "$cmd_deadline" ]; then
		finish_stream
		echo "lab: the command did not finish within ${timeout}s (hung?); lab killed" >&2
		last_lines; exit 124
	fi
	sleep 0.1
done
wait "$qpid" 2>/dev/null || true
wait "$tpid" 2>/dev/null || true
st=$(grep -a '^LAB-EXIT ' "$log" | tail -n1 | tr -d '\r' | cut -d' ' -f2)
if ! [[ $st =~ ^[0-9]+$ ]]; then
	echo "lab: the lab stopped without reporting the command's status" >&2
	last_lines; exit 125
fi
echo "lab: command exited $st; total $(elapsed)s" >&2
exit "$st"
