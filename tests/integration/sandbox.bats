#!/usr/bin/env bats
# The monitor's sandbox (runtime/SANDBOX.md): once the VM is built the
# container's monitor holds no capability, has no_new_privs and a seccomp
# filter, and a system call outside its run loop's needs kills it.  The
# forbidden call is made from inside the live monitor's run loop by
# tests/tools/syscall-inject.c (ptrace: the loop's next system call is
# swapped for socket(AF_INET, SOCK_STREAM, 0) before seccomp sees it).

load helpers

SYS_socket=41

function setup_file() {
	INJECT=$BATS_FILE_TMPDIR/syscall-inject
	"${CC:-cc}" -std=gnu11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$INJECT" "$REPO/tests/tools/syscall-inject.c"
	export INJECT
}

function monitor_pid() {
	lightvm state "$1"
	[ "$status" -eq 0 ] || return 1
	[[ "$output" =~ \"pid\":\ ([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}

function proc_field() {
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

@test "sandbox: the monitor has no capability, no_new_privs and a filter; a forbidden call from its run loop kills it (one VM)" {
	requires root lightvm kernel cc
	start_sleeper sb
	local pid
	pid=$(monitor_pid sb)
	[ -n "$pid" ] && pid_alive "$pid"
	[ "$(proc_field "$pid" Seccomp)" = 2 ]
	[ "$(proc_field "$pid" NoNewPrivs)" = 1 ]
	[ "$(proc_field "$pid" CapEff)" = 0000000000000000 ]
	[ "$(proc_field "$pid" CapPrm)" = 0000000000000000 ]
	[ "$(proc_field "$pid" CapBnd)" = 0000000000000000 ]
	# Every thread (the kvm backend's vCPU and device threads too).
	local t
	for t in /proc/"$pid"/task/*; do
		[ "$(awk '$1 == "Seccomp:" { print $2 }' "$t/status")" = 2 ]
		[ "$(awk '$1 == "CapEff:" { print $2 }' "$t/status")" = 0000000000000000 ]
	done

	run "$INJECT" "$pid" "$SYS_socket" 2 1 0
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"killed by signal 31"* ]]
	wait_for_status sb stopped 15
	lightvm delete sb
	[ "$status" -eq 0 ]
}

@test "sandbox: with \"sandbox\": \"off\" the same call succeeds and the container runs on (one VM)" {
	requires root lightvm kernel cc
	local cfg
	cfg=$(<"$LIGHTVM_CONFIG")
	printf '%s' "${cfg%\}*}, \"sandbox\": \"off\"}" >"$LIGHTVM_CONFIG"
	start_sleeper sbo
	local pid
	pid=$(monitor_pid sbo)
	[ "$(proc_field "$pid" Seccomp)" = 0 ]
	run "$INJECT" "$pid" "$SYS_socket" 2 1 0
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" =~ returned\ [0-9]+ ]]
	[ "$(container_status sbo)" = running ]
	lightvm kill sbo KILL
	wait_for_status sbo stopped 15
	lightvm delete sbo
	[ "$status" -eq 0 ]
}

@test "sandbox: an unknown mode in the runtime config is an error naming the field" {
	requires root lightvm
	local cfg
	cfg=$(<"$LIGHTVM_CONFIG")
	printf '%s' "${cfg%\}*}, \"sandbox\": \"maybe\"}" >"$LIGHTVM_CONFIG"
	set_cmd true
	lightvm run --bundle "$BUNDLE" sbx
	[ "$status" -ne 0 ]
	assert_output_contains "sandbox"
	assert_output_contains "maybe"
}
