#!/usr/bin/env python3
"""Interleaved start-up benchmark: lightvm run vs a direct QEMU boot vs runc run.

Called by tests/bench/run.sh, which builds the bundle, writes the runtime
config, warms the initramfs cache and cleans up.  This script only measures
and prints.  Every peer is started with subprocess.Popen (no shell, no
`timeout` wrapper) and timed with time.perf_counter() from just before the
fork/exec to just after waitpid(): wall time from exec to exit.

Arguments are passed as environment variables (see run.sh):
  BENCH_N          samples per peer (default 10)
  BENCH_TMP        the benchmark's temp dir (ids, logs)
  LIGHTVM          lightvm binary          LV_ROOT   its --root
  BUNDLE           the busybox bundle      RUNC      runc binary
  RUNC_ROOT        runc's --root           QEMU      qemu-system-x86_64
  KERNEL           the bzImage             INITRD    lightvm's cached initramfs
  LV_QEMU_CMDLINE  (optional) the QEMU command line lightvm used in warm-up
"""
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

TIMEOUT = 90  # seconds for one start-up; a hang is a failure, not a sample

N = int(os.environ.get("BENCH_N", "10"))
TMP = os.environ["BENCH_TMP"]
LIGHTVM = os.environ["LIGHTVM"]
LV_ROOT = os.environ["LV_ROOT"]
BUNDLE = os.environ["BUNDLE"]
RUNC = os.environ["RUNC"]
RUNC_ROOT = os.environ["RUNC_ROOT"]
QEMU = os.environ["QEMU"]
KERNEL = os.environ["KERNEL"]
INITRD = os.environ["INITRD"]

# lightvm's own QEMU command (from the warm-up run's vmm.log) minus what
# is lightvm's (benchlib.direct_argv): the guest runs `true` under BusyBox
# sh as PID 1 and reboots, which -no-reboot turns into QEMU's exit: QEMU +
# kernel + the same initramfs, the floor.
def lv_qemu_argv():
    return open(os.environ["LV_QEMU_ARGV"]).read().split("\n")[:-1]


def lightvm_cmd(i):
    return [LIGHTVM, "--root", LV_ROOT, "run", "-b", BUNDLE, "bench-lv-%d-%d" % (os.getpid(), i)]


def qemu_cmd(i):
    return [QEMU] + benchlib.direct_argv(lv_qemu_argv(), "true; reboot -f")[1:]


def runc_cmd(i):
    return [RUNC, "--root", RUNC_ROOT, "run", "-b", BUNDLE, "bench-runc-%d-%d" % (os.getpid(), i)]


PEERS = [
    ("lightvm run", lightvm_cmd),
    ("direct qemu", qemu_cmd),
    ("runc run", runc_cmd),
]


CURRENT = None  # the peer being measured, killed if we are told to stop


def on_term(signum, frame):
    if CURRENT is not None and CURRENT.poll() is None:
        CURRENT.kill()
        CURRENT.wait()
    sys.exit(128 + signum)


def timed(name, argv, log):
    global CURRENT
    with open(log, "ab") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                             close_fds=True)
        CURRENT = p
        try:
            rc = p.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            sys.exit("bench: %s timed out after %ds: %s (stderr in %s)" % (name, TIMEOUT, shlex.join(argv), log))
        t1 = time.perf_counter()
        CURRENT = None
    if rc != 0:
        sys.exit("bench: %s exited %d: %s (stderr in %s)" % (name, rc, shlex.join(argv), log))
    return (t1 - t0) * 1000.0


def validate_direct_qemu():
    """One boot with a serial console proves the floor really ran the command
    (a failed rdinit would panic, and panic=-1 + -no-reboot also exits 0)."""
    con = os.path.join(TMP, "direct-qemu-console.log")
    argv = [QEMU] + benchlib.direct_argv(lv_qemu_argv(), "true && echo BENCH-TRUE-OK; reboot -f", "file:" + con)[1:]
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=TIMEOUT, check=True)
    text = open(con, errors="replace").read()
    if "BENCH-TRUE-OK" not in text or "Kernel panic" in text:
        sys.exit("bench: the direct QEMU boot did not run `true` under /bin/sh; console:\n" + text[-2000:])
    print("check: direct QEMU boot runs /bin/sh -c 'true; reboot -f' as PID 1 and exits (console marker seen)")


def main():
    signal.signal(signal.SIGTERM, on_term)
    validate_direct_qemu()
    samples = {name: [] for name, _ in PEERS}
    logs = {name: os.path.join(TMP, name.replace(" ", "-") + ".stderr") for name, _ in PEERS}
    t_start = time.perf_counter()
    for i in range(N):
        # Round-robin, rotating the starting peer each round so no peer
        # always follows the same neighbour.
        order = PEERS[i % 3:] + PEERS[:i % 3]
        row = []
        for name, mk in order:
            ms = timed(name, mk(i), logs[name])
            samples[name].append(ms)
            row.append("%s %.0f" % (name, ms))
        print("round %2d/%d: %s" % (i + 1, N, ", ".join(row)), flush=True)
    t_total = time.perf_counter() - t_start

    lv, qm, rc = (samples[n] for n, _ in PEERS)
    print()
    print("Results (ms, n=%d per peer, interleaved round-robin, %.0f s total)" % (N, t_total))
    print("%-34s %9s %9s %9s" % ("", "median", "min", "max"))
    for name, label in (("lightvm run", "a. lightvm run (cold, cached initrd)"),
                        ("direct qemu", "b. direct QEMU boot (floor)"),
                        ("runc run", "c. runc run")):
        m, lo, hi = benchlib.stats(samples[name])
        print("%-37s %6.1f %9.1f %9.1f" % (label, m, lo, hi))
    lv_m, qm_m, rc_m = statistics.median(lv), statistics.median(qm), statistics.median(rc)
    over = lv_m - qm_m
    pct = over / qm_m * 100.0
    paired = statistics.median([a - b for a, b in zip(lv, qm)])
    print()
    print("lightvm overhead over direct QEMU: %.1f ms (%.1f %%)  [goal <= 10 ms and <= 5 %%: %s]"
          % (over, pct, "met" if over <= 10 and pct <= 5 else "MISSED"))
    print("  median of per-round differences (lightvm - qemu): %.1f ms" % paired)
    print("lightvm / runc (medians): %.1fx" % (lv_m / rc_m))

    kb = os.path.getsize(KERNEL)
    ib = os.path.getsize(INITRD)
    print("initramfs (busybox bundle, %s): %d bytes = %.2f MB  [goal <= 1.5 MB: %s]"
          % (os.path.basename(INITRD), ib, ib / 1e6, "met" if ib <= 1.5e6 else "MISSED"))
    print("kernel (%s): %d bytes = %.2f MB  [goal <= 1.5 MB: %s]"
          % (KERNEL, kb, kb / 1e6, "met" if kb <= 1.5e6 else "MISSED"))
    print("(MB = 10^6 bytes; in MiB: initramfs %.2f, kernel %.2f)" % (ib / 2**20, kb / 2**20))

    print()
    print("Commands (ID = a fresh id per sample; each run with stdin/stdout /dev/null):")
    print("  a. LIGHTVM_CONFIG=%s %s" % (shlex.quote(os.environ.get("LIGHTVM_CONFIG", "")),
                                          shlex.join(lightvm_cmd(0)[:-1] + ["ID"])))
    if os.environ.get("LV_QEMU_CMDLINE"):
        print("     (QEMU as lightvm started it: %s)" % os.environ["LV_QEMU_CMDLINE"])
    print("  b. %s" % shlex.join(qemu_cmd(0)))
    print("  c. %s" % shlex.join(runc_cmd(0)[:-1] + ["ID"]))


if __name__ == "__main__":
    main()
