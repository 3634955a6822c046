#!/bin/bash
# Self-test of the lab host: boots it (tests/lab/run.sh) and, inside,
#  - checks /dev/kvm, the svm flag and kvm_amd,
#  - runs kvmcheck (tests/lab/kvmcheck.c, compiled here on the host): it
#    creates a VM and runs a few guest instructions through KVM_RUN,
#  - boots lightvm's Tinyx kernel (build/bzImage) with nested KVM N times
#    and prints each boot's time to its first output (NESTED-OK) and to
#    QEMU's exit, and the medians.
#
#   tests/lab/selftest.sh [N]        (N nested boots, default 5)
#
# Exit status 0 when everything passed.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LAB_DIR/../.." && pwd)

if [ "${1:-}" != --inside ]; then
	n=${1:-5}
	[ -f "$REPO/build/bzImage" ] || { echo "selftest: $REPO/build/bzImage missing (make kernel)" >&2; exit 1; }
	cache=$("$LAB_DIR/prepare.sh" --print-dir)
	tmp=$(mktemp -d /var/tmp/lab-selftest.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -o "$tmp/kvmcheck" "$LAB_DIR/kvmcheck.c"
	echo "== on the host (no hardware virtualization expected):"
	"$tmp/kvmcheck" || true
	echo "== in the lab:"
	"$LAB_DIR/run.sh" --timeout $((60 + 70 * n)) --env LAB_NESTED_QUIET --env LAB_NESTED_TIMEOUT -- bash "$LAB_DIR/selftest.sh" --inside "$tmp/kvmcheck" \
		"$cache/nested-initrd.gz" "$REPO/build/bzImage" "$n"
	exit
fi

# Inside the lab.
kvmcheck=$2 initrd=$3 kernel=$4 n=$5
fail=0
check() { if "$@"; then echo "ok: $*"; else echo "FAIL: $*"; fail=1; fi; }
check test -c /dev/kvm
check grep -qw svm /proc/cpuinfo
check test -d /sys/module/kvm_amd
echo "kvm_amd npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null) nested=$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null)"
check "$kvmcheck"

now() { date +%s.%N; }
boot_times=() exit_times=()
for i in $(seq "$n"); do
	t0=$(now) t_ok='' tail_lines=()
	while IFS= read -r line; do
		line=${line%$'\r'}
		tail_lines+=("$line")
		[ ${#tail_lines[@]} -le 15 ] || tail_lines=("${tail_lines[@]:1}")
		if [ "$line" = NESTED-OK ] && [ -z "$t_ok" ]; then t_ok=$(now); fi
	done < <(timeout -s KILL "${LAB_NESTED_TIMEOUT:-60}" qemu-system-x86_64 -enable-kvm -M microvm,x-option-roms=off,rtc=on,acpi=off,isa-serial=on \
		-m 128 -nodefaults -no-user-config -display none -no-reboot -serial stdio \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 reboot=t panic=-1 ${LAB_NESTED_QUIET-quiet} rdinit=/bin/sh -- -c \"echo NESTED-OK; reboot -f\"" \
		</dev/null 2>&1)
	t1=$(now)
	if [ -z "$t_ok" ]; then
		echo "FAIL: nested boot $i: no NESTED-OK within ${LAB_NESTED_TIMEOUT:-60}s; its last lines:"
		printf '  | %s\n' "${tail_lines[@]}"
		fail=1; continue
	fi
	b=$(awk -v a="$t0" -v b="$t_ok" 'BEGIN { printf "%.2f", b - a }')
	e=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	echo "nested boot $i: NESTED-OK after ${b}s, QEMU gone after ${e}s"
	boot_times+=("$b") exit_times+=("$e")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
if [ ${#boot_times[@]} -gt 0 ]; then
	echo "nested boots: n=${#boot_times[@]} median to NESTED-OK $(median "${boot_times[@]}")s" \
		"(min $(printf '%s\n' "${boot_times[@]}" | sort -n | head -n1), max $(printf '%s\n' "${boot_times[@]}" | sort -n | tail -n1))," \
		"median to exit $(median "${exit_times[@]}")s"
fi
[ "$fail" = 0 ] && echo "selftest: PASS" || echo "selftest: FAIL"
exit "$fail"
