#!/usr/bin/env python3
"""VMM benchmark: lightvm's kvm backend against its qemu backend and QEMU alone.

Run by tests/bench/vmm.sh on a host with hardware virtualization (inside the
lab host when this machine has none).  One run, one kernel, one initramfs,
one accelerator (KVM), three peers:

  kvm     lightvm, backend kvm: our VMM, in the monitor process; as
          configured in production it boots build/vmlinux (the same
          kernel's uncompressed ELF, through PVH) when it sits next to the
          configured bzImage
  kvm-bz  the same, given a copy of the bzImage with no vmlinux beside it:
          the very image the qemu backend boots (only when a vmlinux exists)
  qemu    lightvm, backend qemu: qemu-system-x86_64 -M microvm -accel kvm,
          a child of the monitor, booting the bzImage
  qemu-elf  the qemu backend given the vmlinux instead (QEMU boots it
          through PVH too): the fair peer of kvm (only when a vmlinux exists)
  direct  the QEMU command line lightvm's qemu backend ran (read from its
          vmm.log), started directly, minus lightvm's control channel, with
          /bin/sh as PID 1 instead of lightvm's init

Measured, BENCH_N rounds, every round running each peer once in a rotating
order (interleaved, so host noise spreads over all of them):

  (1) VM creation -> the guest init is up: for kvm and qemu the monitor's
      CLOCK_MONOTONIC stamps in ROOT/ID/timings, `ready - launch` (READY
      frame: /init runs and found its control port); for direct, from the
      exec of QEMU to the marker /bin/sh prints as its first command on the
      serial console.
  (2) VM creation -> the container process (BusyBox `true`) exited:
      `exit - launch` (EXIT frame); for direct, exec -> QEMU's exit after
      `true; reboot -f`.
  wall `lightvm run` end to end (exec -> exit, deletion included), and
      `run --keep`, whose kept state directory gives (1) and (2).
  (3) host memory beyond guest RAM, with a container running `sleep`: kvm:
      the monitor's Rss (smaps) less the Rss of the guest-RAM memfd mapping
      (/memfd:lightvm-...); qemu: QEMU's Rss less its guest-RAM mapping,
      plus the monitor's Rss.

Environment (set by vmm.sh): LIGHTVM, KERNEL, QEMU, BUSYBOX, BENCH_N,
BENCH_MEM_N, BENCH_TMP.
"""
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

TIMEOUT = 120  # seconds for one sample; a hang fails the benchmark
LIGHTVM = os.environ["LIGHTVM"]
KERNEL = os.environ["KERNEL"]
QEMU = os.environ["QEMU"]
BUSYBOX = os.environ.get("BUSYBOX", "/bin/busybox")
N = int(os.environ.get("BENCH_N", "10"))
MEM_N = int(os.environ.get("BENCH_MEM_N", "3"))
TMP = os.environ["BENCH_TMP"]
MEMORY_MIB = 128  # lightvm's default VM size; pinned in the runtime configs

BUNDLE = os.path.join(TMP, "bundle")
SLEEP_BUNDLE = os.path.join(TMP, "bundle-sleep")
CACHE = os.path.join(TMP, "initramfs-cache")
# kvm-bz only when the kvm backend would otherwise boot a vmlinux.
HAS_VMLINUX = os.path.exists(os.path.join(os.path.dirname(KERNEL), "vmlinux")) and \
    os.path.basename(KERNEL) != "vmlinux"
BACKENDS = ("kvm", "kvm-bz", "qemu", "qemu-elf") if HAS_VMLINUX else ("kvm", "qemu")
ROOTS = {b: os.path.join(TMP, "root-" + b) for b in BACKENDS}
CONFIGS = {b: os.path.join(TMP, "lightvm-%s.json" % b) for b in BACKENDS}
LOG = os.path.join(TMP, "stderr.log")
CURRENT = None  # the process being measured, killed if we are told to stop
TIMINGS_MISSING = set()


def die(msg):
    sys.exit("bench-vmm: " + msg)


def on_term(signum, frame):
    if CURRENT is not None and CURRENT.poll() is None:
        CURRENT.kill()
        CURRENT.wait()
    sys.exit(128 + signum)


def make_bundle():
    """The bench bundle (benchlib), and the same rootfs running sleep."""
    root = os.path.join(BUNDLE, "rootfs")
    c = benchlib.make_bundle(BUNDLE, BUSYBOX, [LIGHTVM, "spec"])
    # The same rootfs (same inodes: the same cached initramfs), running sleep.
    os.makedirs(SLEEP_BUNDLE)
    c["process"]["args"] = ["sleep", "1000"]
    c["root"]["path"] = root
    with open(os.path.join(SLEEP_BUNDLE, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    os.makedirs(CACHE, mode=0o700)
    if HAS_VMLINUX:
        os.makedirs(os.path.join(TMP, "bzimage-only"))
        shutil.copy(KERNEL, os.path.join(TMP, "bzimage-only", "bzImage"))
    for b in BACKENDS:
        os.makedirs(ROOTS[b], mode=0o700)
        kernel = os.path.join(TMP, "bzimage-only", "bzImage") if b == "kvm-bz" else KERNEL
        if b == "qemu-elf":
            kernel = os.path.join(os.path.dirname(KERNEL), "vmlinux")
        cfg = {"backend": b.split("-")[0], "kernel": kernel, "cache_dir": CACHE, "qemu": QEMU,
               "memory_mib": MEMORY_MIB}
        if b.startswith("qemu"):
            cfg["accel"] = "kvm"  # the same accelerator as the kvm backend
        with open(CONFIGS[b], "w") as f:
            json.dump(cfg, f, indent=2)


def env_for(backend):
    e = dict(os.environ)
    e["LIGHTVM_CONFIG"] = CONFIGS[backend]
    return e


def lightvm(backend, *args, check=True, timeout=TIMEOUT):
    argv = [LIGHTVM, "--root", ROOTS[backend], *args]
    with open(LOG, "ab") as err:
        r = subprocess.run(argv, env=env_for(backend), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=err, timeout=timeout)
    if check and r.returncode != 0:
        die("%s exited %d: LIGHTVM_CONFIG=%s %s (stderr in %s)" % (args[0], r.returncode, CONFIGS[backend],
                                                                   shlex.join(argv), LOG))
    return r.returncode


def timed(argv, env=None, stdout=subprocess.DEVNULL, on_line=None):
    """Wall time (ms) from just before the fork/exec to just after waitpid;
    with on_line, stdout is read line by line and on_line(line) may return
    True to stamp that moment: returns (ms to exit, ms to the stamp)."""
    global CURRENT
    stamp = None
    with open(LOG, "ab") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE if on_line else stdout, stderr=err, close_fds=True)
        CURRENT = p
        watchdog = threading.Timer(TIMEOUT, p.kill)
        watchdog.start()
        if on_line:
            for raw in p.stdout:
                if stamp is None and on_line(raw.decode(errors="replace")):
                    stamp = time.perf_counter()
        rc = p.wait()
        t1 = time.perf_counter()
        watchdog.cancel()
        CURRENT = None
    if not watchdog.is_alive() and rc == -signal.SIGKILL and t1 - t0 >= TIMEOUT:
        die("timed out after %ds: %s (stderr in %s)" % (TIMEOUT, shlex.join(argv), LOG))
    if rc != 0:
        die("exited %d: %s (stderr in %s)" % (rc, shlex.join(argv), LOG))
    ms = (t1 - t0) * 1000.0
    return (ms, None if stamp is None else (stamp - t0) * 1000.0) if on_line else ms


def read_timings(backend, cid):
    path = os.path.join(ROOTS[backend], cid, "timings")
    try:
        with open(path) as f:
            t = {k: int(v) for k, v in (line.split() for line in f if line.strip())}
    except FileNotFoundError:
        TIMINGS_MISSING.add(backend)
        return None
    if not t.get("launch") or not t.get("ready") or not t.get("exit"):
        die("%s: a milestone is missing (0 = did not happen): %s" % (path, t))
    return t


# ---------------------------------------------------------------------------
# The peers

def sample_keep(backend, i, res):
    """`run --keep` (wall), then the kept container's timings, then delete."""
    cid = "k%d" % i
    ms = timed([LIGHTVM, "--root", ROOTS[backend], "run", "--keep", "-b", BUNDLE, cid], env=env_for(backend))
    res[backend + " run --keep"].append(ms)
    if backend == "kvm":
        with open(os.path.join(ROOTS[backend], cid, "vmm.log")) as f:
            us = [int(l.split()[2]) for l in f if l.startswith("built in ")]
        if us:
            res["kvm build"].append(us[0] / 1000.0)
    t = read_timings(backend, cid)
    if t:
        res[backend + " (1) ready"].append((t["ready"] - t["launch"]) / 1e6)
        res[backend + " (2) exit"].append((t["exit"] - t["launch"]) / 1e6)
        if t.get("end"):
            res[backend + " end"].append((t["end"] - t["launch"]) / 1e6)
    lightvm(backend, "delete", cid)
    return "%s %.0f" % (backend, ms)


def sample_run(backend, i, res):
    """Plain `lightvm run`, end to end (the container is deleted by run)."""
    ms = timed([LIGHTVM, "--root", ROOTS[backend], "run", "-b", BUNDLE, "r%d" % i], env=env_for(backend))
    res[backend + " run"].append(ms)
    return "%s-run %.0f" % (backend, ms)


DIRECT_MARK = "BENCH-INIT-UP"


def direct_argv(qemu_argv):
    """lightvm's QEMU command minus its control channel and init: a serial
    console on stdout, /bin/sh as PID 1 printing the marker first."""
    return [QEMU] + benchlib.direct_argv(qemu_argv, "echo %s; true; reboot -f" % DIRECT_MARK, "stdio")[1:]


DIRECT = None  # set in main()


def sample_direct(i, res):
    ms, mark = timed(DIRECT, on_line=lambda line: DIRECT_MARK in line)
    if mark is None:
        die("the direct QEMU boot never printed %s: %s" % (DIRECT_MARK, shlex.join(DIRECT)))
    res["direct (1) init"].append(mark)
    res["direct (2) exit"].append(ms)
    return "direct %.0f" % ms


# ---------------------------------------------------------------------------
# Memory

def smaps(pid):
    """[name, size_kb, rss_kb] per mapping of /proc/PID/smaps."""
    maps, cur = [], None
    head = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if head.match(line):
                parts = line.split(None, 5)
                cur = [parts[5].strip() if len(parts) > 5 else "", 0, 0]
                maps.append(cur)
            elif line.startswith("Size:"):
                cur[1] = int(line.split()[1])
            elif line.startswith("Rss:"):
                cur[2] = int(line.split()[1])
    return maps


def split_rss(maps):
    """Rss (KiB) of file-backed mappings (the binary, shared libraries) and
    of the rest (heap, stacks, anonymous memory, [vdso]...)."""
    files = sum(m[2] for m in maps if m[0].startswith("/") and not m[0].startswith("/memfd:"))
    return files, sum(m[2] for m in maps) - files


def measure_memory(backend, i):
    """Start a container running sleep, let it settle, read smaps."""
    import json
    cid = "m%d" % i
    lightvm(backend, "run", "-d", "-b", SLEEP_BUNDLE, cid)
    state = subprocess.run([LIGHTVM, "--root", ROOTS[backend], "state", cid], env=env_for(backend),
                           stdout=subprocess.PIPE, check=True).stdout
    mon = json.loads(state)["pid"]
    time.sleep(1.0)  # the guest is idle in sleep; let start-up pages settle
    ram_kb = MEMORY_MIB * 1024
    mon_maps = smaps(mon)
    mon_rss = sum(m[2] for m in mon_maps)
    r = {"monitor rss": mon_rss}
    if backend.startswith("kvm"):
        guest = [m for m in mon_maps if m[0].startswith("/memfd:lightvm-")]
        if not guest:
            die("kvm: no /memfd:lightvm-* mapping in the monitor's smaps (pid %d)" % mon)
        g = sum(m[2] for m in guest)
        files, rest = split_rss([m for m in mon_maps if m not in guest])
        r.update({"guest ram rss": g, "beyond": mon_rss - g, "guest mapping": guest[0][0],
                  "files": files, "rest": rest})
    else:
        qemus = [k for k in benchlib.children(mon) if benchlib.comm(k).startswith("qemu")]
        if len(qemus) != 1:
            die("qemu: expected one QEMU child of the monitor %d, found %s" % (mon, qemus))
        qm = smaps(qemus[0])
        q_rss = sum(m[2] for m in qm)
        # QEMU's guest RAM: one anonymous mapping the size of the VM's RAM
        # (QEMU may round it up to a 2 MiB boundary).
        cands = [m for m in qm if m[0] == "" and ram_kb <= m[1] <= ram_kb + 4096]
        if not cands:
            die("qemu: no anonymous mapping of %d KiB in QEMU's smaps (pid %d)" % (ram_kb, qemus[0]))
        gm = max(cands, key=lambda m: m[1])
        files, rest = split_rss([m for m in qm if m is not gm] + mon_maps)
        r.update({"qemu rss": q_rss, "guest ram rss": gm[2], "beyond": q_rss - gm[2] + mon_rss,
                  "files": files, "rest": rest})
    lightvm(backend, "delete", "--force", cid)
    return r


# ---------------------------------------------------------------------------

def main():
    global DIRECT
    signal.signal(signal.SIGTERM, on_term)
    make_bundle()
    # Warm-up (not measured): fills the initramfs cache, and the qemu
    # backend's vmm.log gives its exact QEMU command for the direct peer.
    for b in BACKENDS:
        lightvm(b, "run", "--keep", "-b", BUNDLE, "warmup")
    with open(os.path.join(ROOTS["qemu"], "warmup", "vmm.log")) as f:
        qemu_argv = [l[len("argv: "):].rstrip("\n") for l in f if l.startswith("argv: ")]
    if not qemu_argv:
        die("no QEMU command line in the qemu backend's vmm.log")
    accel = qemu_argv[qemu_argv.index("-accel") + 1] if "-accel" in qemu_argv else ""
    if accel != "kvm":
        die("the qemu backend did not use KVM: " + shlex.join(qemu_argv))
    kernels = {"qemu": qemu_argv[qemu_argv.index("-kernel") + 1]}
    if "qemu-elf" in BACKENDS:
        with open(os.path.join(ROOTS["qemu-elf"], "warmup", "vmm.log")) as f:
            a = [l[len("argv: "):].rstrip("\n") for l in f if l.startswith("argv: ")]
        kernels["qemu-elf"] = a[a.index("-kernel") + 1] if "-kernel" in a else "?"
    for b in BACKENDS:
        if b.startswith("kvm"):
            with open(os.path.join(ROOTS[b], "warmup", "vmm.log")) as f:
                kernels[b] = next((l.split(None, 1)[1].strip() for l in f if l.startswith("kernel:")), "?")
    for b in BACKENDS:
        if read_timings(b, "warmup") is None:
            print("note: %s: no timings file in the kept state directory (%s): (1) and (2) are not "
                  "available for it, only wall-clock times" % (b, os.path.join(ROOTS[b], "warmup", "timings")))
        lightvm(b, "delete", "warmup")
    initrds = [f for f in os.listdir(CACHE) if f.endswith(".cpio.gz")]
    if len(initrds) != 1:
        die("expected one cached initramfs for both backends, found %s" % initrds)
    DIRECT = direct_argv(qemu_argv)
    for b in BACKENDS:
        print("%-6s boots %s" % (b, kernels[b]))
    print("qemu backend's command: %s" % shlex.join(qemu_argv), flush=True)

    res = {"%s %s" % (b, k): [] for b in BACKENDS for k in ("(1) ready", "(2) exit", "end", "run --keep", "run")}
    res.update({"direct (1) init": [], "direct (2) exit": [], "kvm build": []})
    peers = [lambda i, b=b: sample_keep(b, i, res) for b in BACKENDS]
    peers += [lambda i: sample_direct(i, res), lambda i: sample_run("kvm", i, res),
              lambda i: sample_run("qemu", i, res)]
    t_start = time.perf_counter()
    for i in range(N):
        k = i % len(peers)
        row = [p(i) for p in peers[k:] + peers[:k]]
        print("round %2d/%d (ms): %s" % (i + 1, N, ", ".join(row)), flush=True)
    t_total = time.perf_counter() - t_start

    mem = {b: [measure_memory(b, i) for i in range(MEM_N)] for b in ("kvm", "qemu")}

    print()
    print("Results (ms; n=%d each, interleaved; %.0f s)" % (N, t_total))
    print("%-52s %9s %9s %9s" % ("", "median", "min", "max"))
    label = {"kvm": "kvm backend", "kvm-bz": "kvm backend, the qemu backend's bzImage",
             "qemu": "qemu backend", "qemu-elf": "qemu backend, the kvm backend's vmlinux (PVH)"}
    rows = [
        ("(1) VM creation -> guest init up (ready - launch)",
         [(label[b], b + " (1) ready") for b in BACKENDS] +
         [("direct QEMU (exec -> /bin/sh's marker)", "direct (1) init")]),
        ("(2) VM creation -> process exited (exit - launch)",
         [(label[b], b + " (2) exit") for b in BACKENDS] +
         [("direct QEMU (exec -> QEMU exit)", "direct (2) exit")]),
        ("VM creation -> VM destroyed (end - launch)", [(label[b], b + " end") for b in BACKENDS]),
        ("wall: lightvm run, end to end", [(label[b], b + " run") for b in ("kvm", "qemu")]),
        ("wall: lightvm run --keep", [(label[b], b + " run --keep") for b in BACKENDS]),
        ("kvm backend: vmm_create (vmm.log \"built in\")", [("kvm backend", "kvm build")]),
    ]
    for title, items in rows:
        print(title)
        for label, key in items:
            if res[key]:
                print("  %-50s %9.1f %9.1f %9.1f" % ((label,) + benchlib.stats(res[key])))
            else:
                print("  %-50s %9s" % (label, "n/a (no timings file)"))

    def ratio(what, a, b, goal=None):
        if res[a] and res[b]:
            r = statistics.median(res[a]) / statistics.median(res[b])
            verdict = "" if goal is None else "  [goal <= %.1f: %s]" % (goal, "met" if r <= goal else "MISSED")
            print("  %-44s %.2f%s" % (what, r, verdict))
    print()
    print("kvm / qemu (ratio of medians)")
    ratio("(1) to guest init up", "kvm (1) ready", "qemu (1) ready", 0.5)
    ratio("(2) to process exit", "kvm (2) exit", "qemu (2) exit", 0.5)
    ratio("wall lightvm run", "kvm run", "qemu run")
    if HAS_VMLINUX:
        ratio("(1), kvm booting the same bzImage", "kvm-bz (1) ready", "qemu (1) ready", 0.5)
        ratio("(2), kvm booting the same bzImage", "kvm-bz (2) exit", "qemu (2) exit", 0.5)
        ratio("(1), both booting the vmlinux (PVH)", "kvm (1) ready", "qemu-elf (1) ready", 0.5)
        ratio("(2), both booting the vmlinux (PVH)", "kvm (2) exit", "qemu-elf (2) exit", 0.5)
    ratio("kvm (1) / direct QEMU (1)", "kvm (1) ready", "direct (1) init")
    ratio("kvm (2) / direct QEMU (2)", "kvm (2) exit", "direct (2) exit")

    print()
    print("(3) host memory beyond guest RAM, container running `sleep` (%d MiB VM; KiB, median of %d)"
          % (MEMORY_MIB, MEM_N))
    for b in ("kvm", "qemu"):
        med = lambda k: statistics.median(m[k] for m in mem[b])
        beyond = med("beyond")
        if b == "kvm":
            detail = "monitor Rss %d - guest RAM (%s) Rss %d" % (med("monitor rss"), mem[b][0]["guest mapping"],
                                                                   med("guest ram rss"))
        else:
            detail = "QEMU Rss %d - guest RAM Rss %d + monitor Rss %d" % (med("qemu rss"), med("guest ram rss"),
                                                                            med("monitor rss"))
        print("  %-14s %7d KiB = %5.2f MiB  [goal <= 2 MiB: %s]  (%s)"
              % (b + " backend", beyond, beyond / 1024, "met" if beyond <= 2048 else "MISSED", detail))
        print("  %-14s of which file-backed (binaries, libraries) %d KiB, the rest (heap, stacks, anonymous) %d KiB"
              % ("", med("files"), med("rest")))

    print()
    print("Commands (ID fresh per sample; stdin and stdout /dev/null):")
    for b in BACKENDS:
        print("  %s: LIGHTVM_CONFIG=%s %s run --keep -b %s ID; then read ROOT/ID/timings; delete ID"
              % (b, CONFIGS[b], shlex.join([LIGHTVM, "--root", ROOTS[b]]), BUNDLE))
        if b in ("kvm", "qemu"):
            print("      and %s run -b %s ID" % (shlex.join([LIGHTVM, "--root", ROOTS[b]]), BUNDLE))
    print("  direct: %s" % shlex.join(DIRECT))
    if TIMINGS_MISSING:
        print("note: no timings file for %s: only wall-clock figures for it" % ", ".join(sorted(TIMINGS_MISSING)))


if __name__ == "__main__":
    main()
