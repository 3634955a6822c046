# Sourced by the kvm benchmarks (vmm.sh, pool.sh with BENCH_BACKEND=kvm,
# density_kvm.sh): they need KVM with vmx or svm, and on a host without it
# run themselves inside the lab host (tests/lab/run.sh: nested KVM under
# TCG).  Needs REPO and die() from the caller.

# bench_kvm_where WHERE WHAT LAB_ARGS...: WHERE is BENCH_WHERE (auto, host or
# lab).  lab (auto without vmx/svm) says so and execs tests/lab/run.sh
# LAB_ARGS, which re-run the caller there with BENCH_WHERE=host; host
# returns, after checking that the CPU has vmx or svm.
bench_kvm_where() {
	local where=$1 what=$2
	shift 2
	case $where in
	auto) if grep -qwE 'vmx|svm' /proc/cpuinfo; then where=host; else where=lab; fi ;;
	host | lab) ;;
	*) die "BENCH_WHERE must be auto, host or lab, not \"$where\"" ;;
	esac
	if [ "$where" = lab ]; then
		echo "== $what: this host has no vmx/svm, so it runs in the lab host (nested KVM under TCG)"
		exec "$REPO/tests/lab/run.sh" "$@"
	fi
	grep -qwE 'vmx|svm' /proc/cpuinfo || die "BENCH_WHERE=host needs vmx or svm in /proc/cpuinfo"
}
