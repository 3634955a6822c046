#!/usr/bin/env python3
"""Density benchmark's measuring half (tests/bench/density.sh sets up,
cleans up and calls this).

  density.py series NAME ROOT N OUT.json [--pool]
      starts N containers one after another with `lightvm --root ROOT run -d
      -b BUNDLE NAME-<i>` and leaves each running; records every start's wall
      time (time.perf_counter() from before the fork/exec to after a blocking
      waitpid(): see benchlib.wait_bounded); then the
      memory (PSS of each container's monitor and QEMU, MemAvailable) and
      the CPU use of the idle VMs.  --pool: a `lightvm poold` runs on ROOT;
      before each start wait for a ready shell whose guest has gone idle
      (booted), so refill is not measured, and check afterwards that the
      container really got a shell.
  density.py report COLD.json POOLED.json
      prints the figures (either file may be "-": series not run).

OUT.json is rewritten after every start, so an interrupted series leaves
its samples so far.

Environment (from density.sh): LIGHTVM, BUNDLE, LIGHTVM_CONFIG,
BENCH_DENSITY_MEM_FLOOR_MIB (stop a series early when MemAvailable falls
below it), BENCH_DENSITY_MAX_START_S (stop it when one start took longer:
the host is saturated), BENCH_DENSITY_MEM_BASE_KIB (MemAvailable before the series' own
processes, e.g. before the pool daemon started; default: read at its start),
BENCH_DENSITY_CPU_S (seconds of idle-CPU sampling, default 10).
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

TIMEOUT = 120  # seconds for one start; a hang ends the series
LIGHTVM = os.environ.get("LIGHTVM", "")
BUNDLE = os.environ.get("BUNDLE", "")
MEM_FLOOR_KIB = int(os.environ.get("BENCH_DENSITY_MEM_FLOOR_MIB", "2048")) * 1024
MAX_START_S = float(os.environ.get("BENCH_DENSITY_MAX_START_S", "30"))
CPU_S = float(os.environ.get("BENCH_DENSITY_CPU_S", "10"))
POINTS = (1, 10, 50, 100, 150, 200)
WINDOW = 5
IN_START = False  # a `run -d` is under way
STOP = 0  # the signal that asked us to stop


def on_term(signum, frame):
    # A start under way is let finish (its watchdog bounds it) rather than
    # killed: a `lightvm run -d` killed early leaves a monitor that brings
    # the container up after the kill, and that `list` does not show yet,
    # so density.sh's clean-up would miss it.  No waiting in here: the
    # interrupted Popen.wait() holds the Popen's lock.
    global STOP
    STOP = signum
    if not IN_START:
        sys.exit(128 + signum)


def say(msg):
    print(msg, flush=True)


def lightvm(root, *args, timeout=30):
    return subprocess.run([LIGHTVM, "--root", root] + list(args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)


def monitor_pid(root, cid):
    with open(os.path.join(root, cid, "state.json")) as f:
        return json.load(f)["pid"]


# ---------------------------------------------------------------------------
# The pool's shells: ROOT/pool/<id>/shell is "qemu PID START\n" and, once
# claimed, "claimed MONITOR START\n" (runtime/poold.c).

def shells(root):
    """[(qemu pid, claiming monitor pid or None)] of the daemon's records."""
    out, d = [], os.path.join(root, "pool")
    if not os.path.isdir(d):
        return out
    for e in os.listdir(d):
        try:
            with open(os.path.join(d, e, "shell")) as f:
                lines = [ln.split() for ln in f.read().splitlines()]
        except (FileNotFoundError, NotADirectoryError):
            continue  # being written or removed
        qemu = next((int(ln[1]) for ln in lines if ln and ln[0] == "qemu"), None)
        mon = next((int(ln[1]) for ln in lines if ln and ln[0] == "claimed"), None)
        if qemu:
            out.append((qemu, mon))
    return out


def pool_ready(root):
    r = lightvm(root, "pool", "status")
    lines = r.stdout.splitlines()
    if r.returncode != 0 or len(lines) < 2:
        return 0
    return int(lines[1].split()[3])


def wait_booted_shell(root, limit=120.0):
    """Wait for a ready shell (the daemon's count: a shell whose guest said
    WAITING, then stopped) and for every unclaimed shell's QEMU to have
    burnt at most 2 clock ticks in each of two consecutive 250 ms windows (a
    booting TCG guest burns ~25; a stopped or idle one ~0).  The second
    check costs 0.5 s; it keeps the figure honest should `ready` ever count
    shells still booting (it did, before the daemon stopped booted shells).
    Returns the seconds waited, or None when the limit passed (the sample
    is then taken anyway and flagged)."""
    t0 = time.monotonic()
    while pool_ready(root) < 1:
        if time.monotonic() - t0 > limit:
            return None
        time.sleep(0.05)
    quiet = 0
    while quiet < 2:
        if time.monotonic() - t0 > limit:
            return None
        free = [q for q, m in shells(root) if m is None]
        if not free:
            quiet = 0
            time.sleep(0.05)
            continue
        try:
            before = [benchlib.cpu_ticks(q) for q in free]
            time.sleep(0.25)
            burnt = max(benchlib.cpu_ticks(q) - b for q, b in zip(free, before))
        except FileNotFoundError:
            quiet = 0
            continue
        quiet = quiet + 1 if burnt <= 2 else 0
    return time.monotonic() - t0


# ---------------------------------------------------------------------------
# Memory and CPU of the running VMs

def vm_processes(root, cids):
    """{cid: [monitor, qemu...]}: the monitor (the container's pid) and its
    QEMU, a child of the monitor after a cold start, of the pool daemon
    (named in the shell record) after a claim."""
    claimed = {}
    for q, m in shells(root):
        if m:
            claimed.setdefault(m, []).append(q)
    out = {}
    for cid in cids:
        mon = monitor_pid(root, cid)
        qemus = [k for k in benchlib.children(mon) if benchlib.comm(k).startswith("qemu")]
        qemus += claimed.get(mon, [])
        out[cid] = [mon] + qemus
    return out


def measure_memory(root, cids, base_kib):
    procs = vm_processes(root, cids)
    per_vm, mon_pss, qemu_pss, qemu_anon, missing = [], [], [], [], []
    for cid, pids in procs.items():
        if len(pids) != 2:
            missing.append(cid)
        total = 0
        for i, p in enumerate(pids):
            r = benchlib.smaps_rollup(p)
            total += r["Pss"]
            if i == 0:
                mon_pss.append(r["Pss"])
            else:
                qemu_pss.append(r["Pss"])
                qemu_anon.append(r.get("Pss_Anon", 0))
        per_vm.append(total)
    avail = benchlib.meminfo("MemAvailable")
    return {
        "pss_sum_kib": sum(per_vm),
        "pss_per_vm_median_kib": statistics.median(per_vm) if per_vm else 0,
        "monitor_pss_median_kib": statistics.median(mon_pss) if mon_pss else 0,
        "qemu_pss_median_kib": statistics.median(qemu_pss) if qemu_pss else 0,
        "qemu_pss_anon_median_kib": statistics.median(qemu_anon) if qemu_anon else 0,
        "memavailable_base_kib": base_kib,
        "memavailable_end_kib": avail,
        "memavailable_drop_kib": base_kib - avail,
        "vms_without_one_qemu": missing,
        "pids": procs,
    }


def measure_cpu(procs, seconds):
    """CPU used by all the VMs' processes while idle, over `seconds`."""
    pids = [p for ps in procs.values() for p in ps]
    hz = os.sysconf("SC_CLK_TCK")
    before = {p: benchlib.cpu_ticks(p) for p in pids}
    t0 = time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    used = sum(benchlib.cpu_ticks(p) - before[p] for p in pids) / hz
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {"cpu_s": used, "wall_s": dt, "cores_busy": used / dt, "loadavg": load, "cores": os.cpu_count()}


def host_busy_cores(seconds):
    """Cores the whole host kept busy over `seconds` (/proc/stat)."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return os.cpu_count() * (1.0 - (i1 - i0) / max(t1 - t0, 1))


# ---------------------------------------------------------------------------

def save(res, out):
    with open(out + ".tmp", "w") as f:
        json.dump(res, f, indent=1)
    os.rename(out + ".tmp", out)


def series(name, root, n, out, pool):
    global IN_START
    base = int(os.environ.get("BENCH_DENSITY_MEM_BASE_KIB") or benchlib.meminfo("MemAvailable"))
    res = {"name": name, "n_asked": n, "ms": [], "ids": [], "pool_hits": 0, "pool_not_idle": 0,
           "pool_wait_s": [], "stopped": None, "failed": None, "loadavg": []}
    log = open(out + ".stderr", "w")
    # What the rest of the host is doing (other users): the start times
    # below compete with it.  The pool's first shell has booted by then.
    if pool:
        wait_booted_shell(root)
    res["background_cores"] = host_busy_cores(3)
    t_series = time.monotonic()
    for i in range(1, n + 1):
        avail = benchlib.meminfo("MemAvailable")
        if avail < MEM_FLOOR_KIB:
            res["stopped"] = "MemAvailable %d MiB < floor %d MiB before start %d" % (
                avail // 1024, MEM_FLOOR_KIB // 1024, i)
            say("%s: stopping: %s" % (name, res["stopped"]))
            break
        if pool:
            w = wait_booted_shell(root)
            if w is None:
                res["pool_not_idle"] += 1
            else:
                res["pool_wait_s"].append(w)
        cid = "%s-%d" % (name, i)
        argv = [LIGHTVM, "--root", root, "run", "-d", "-b", BUNDLE, cid]
        IN_START = True
        t0 = time.perf_counter()
        # Its own session: a Ctrl-C on the terminal reaches this helper,
        # which lets the start finish, and not `lightvm` itself.
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                             start_new_session=True)
        rc, timed_out = benchlib.wait_bounded(p, TIMEOUT)
        ms = (time.perf_counter() - t0) * 1000.0
        IN_START = False
        if STOP:
            sys.exit(128 + STOP)
        if timed_out:
            rc = "timeout after %d s" % TIMEOUT
        if rc != 0:
            log.flush()
            with open(out + ".stderr") as f:
                tail = f.read()[-600:]
            res["failed"] = "start %d (%s) failed: %s; stderr: %s" % (i, cid, rc, tail.strip())
            res["ids"].append(cid)  # may exist half-made: density.sh deletes it
            say("%s: %s" % (name, res["failed"]))
            break
        res["ms"].append(ms)
        res["ids"].append(cid)
        with open("/proc/loadavg") as f:
            res["loadavg"].append(float(f.read().split()[0]))
        hit = ""
        if pool:
            mon = monitor_pid(root, cid)
            if any(m == mon for _, m in shells(root)):
                res["pool_hits"] += 1
            else:
                hit = " (NOT from the pool)"
        if i == 1 or i % 10 == 0 or hit:
            say("%s: start %d/%d: %.1f ms%s, load %.2f, MemAvailable %d MiB" % (
                name, i, n, ms, hit, res["loadavg"][-1], benchlib.meminfo("MemAvailable") // 1024))
        res["series_s"] = time.monotonic() - t_series
        save(res, out)
        if ms > MAX_START_S * 1000 and i < n:
            res["stopped"] = "start %d took %.1f s > %.0f s (BENCH_DENSITY_MAX_START_S): the host is saturated" % (
                i, ms / 1000, MAX_START_S)
            say("%s: stopping: %s" % (name, res["stopped"]))
            break
    res["series_s"] = time.monotonic() - t_series
    ok = res["ids"][:len(res["ms"])]
    if pool:
        # The unclaimed shell is no container's: end it before measuring.
        r = lightvm(root, "pool", "drain")
        if r.returncode != 0:
            say("%s: pool drain failed: %s" % (name, r.stderr.strip()))
        t0 = time.monotonic()
        while any(m is None for _, m in shells(root)) and time.monotonic() - t0 < 10:
            time.sleep(0.1)
    if ok:
        time.sleep(5)  # the last guest settles into its idle loop
        res["memory"] = measure_memory(root, ok, base)
        res["cpu"] = measure_cpu(res["memory"]["pids"], CPU_S)
        del res["memory"]["pids"]
    save(res, out)
    return 0


# ---------------------------------------------------------------------------

def mib(kib):
    return kib / 1024.0


def summary(res):
    ms = res["ms"]
    n = len(ms)
    pts = [p for p in POINTS if p <= n]
    if n and n not in pts:
        pts.append(n)
    curve = {p: benchlib.window_median(ms, p, WINDOW) for p in pts}
    return n, pts, curve


def report(paths):
    runs = {}
    for p in paths:
        if p != "-":
            with open(p) as f:
                r = json.load(f)
            runs[r["name"]] = r
    say("")
    say("== density: N VMs started one after another and left running (BusyBox `sleep`)")
    say("   start time = wall time of `lightvm run -d` (create + start) of container i while i-1 run;")
    say("   curve points are the median of a %d-sample window around the point (centred; the first" % WINDOW)
    say("   and the last point use the first and the last %d samples), not single samples." % WINDOW)
    sums = {}
    for name in ("cold", "pooled"):
        r = runs.get(name)
        if not r:
            continue
        n, pts, curve = summary(r)
        say("")
        say("-- %s (%s)" % (name, "no pool daemon" if name == "cold" else
                             "lightvm poold, target 1; before each start: a ready shell whose guest is idle"))
        if r["background_cores"] > 0.5:
            say("   WARNING: other processes kept %.2f cores busy before this series: its start times"
                " compete with them" % r["background_cores"])
        if r.get("failed"):
            say("   FAILED: %s" % r["failed"])
        if r.get("stopped"):
            say("   stopped early: %s" % r["stopped"])
        say("   VMs started and left running: %d of %d asked (series took %.0f s); host busy before: %.2f of %d cores" % (
            n, r["n_asked"], r.get("series_s", 0), r["background_cores"], os.cpu_count()))
        if not n:
            continue
        first, last = curve[1], curve[n]
        say("   first start: %.1f ms (window median; the single 1st sample %.1f ms)" % (first, r["ms"][0]))
        say("   start #%d: %.1f ms (window median; the single sample %.1f ms)" % (n, last, r["ms"][-1]))
        ratio = last / first
        say("   ratio #%d / #1: %.2f  [goal <= 1.2: %s] (single samples: %.2f)" % (
            n, ratio, "met" if ratio <= 1.2 else "MISSED", r["ms"][-1] / r["ms"][0]))
        say("   curve (ms): " + ", ".join("#%d %.1f" % (p, curve[p]) for p in pts))
        say("   all starts: median %.1f, min %.1f, max %.1f ms" % benchlib.stats(r["ms"]))
        if name == "pooled":
            say("   from the pool: %d of %d starts%s; waited %.1f s median for a booted shell" % (
                r["pool_hits"], n, "" if r["pool_hits"] == n else " (the others cold-started)",
                statistics.median(r["pool_wait_s"]) if r["pool_wait_s"] else float("nan")))
            if r["pool_not_idle"]:
                say("   %d starts did not find an idle shell within 120 s (taken anyway)" % r["pool_not_idle"])
        m = r.get("memory")
        if m:
            say("   memory per idle VM (PSS of monitor + QEMU, sum / %d): %.1f MiB (median VM %.1f MiB:"
                " QEMU %.1f MiB of which anonymous %.1f, monitor %.2f MiB)" % (
                    n, mib(m["pss_sum_kib"]) / n, mib(m["pss_per_vm_median_kib"]), mib(m["qemu_pss_median_kib"]),
                    mib(m["qemu_pss_anon_median_kib"]), mib(m["monitor_pss_median_kib"])))
            say("   memory per idle VM (MemAvailable drop / %d): %.1f MiB (%d -> %d MiB; host-wide: other"
                " processes count too)" % (n, mib(m["memavailable_drop_kib"]) / n, m["memavailable_base_kib"] // 1024,
                                           m["memavailable_end_kib"] // 1024))
            if m["vms_without_one_qemu"]:
                say("   WARNING: no single QEMU found for %s" % ", ".join(m["vms_without_one_qemu"]))
        c = r.get("cpu")
        if c:
            say("   CPU of the %d idle VMs: %.2f cores busy (%.2f %% of a core per VM) over %.0f s; load average %s"
                " on %d cores" % (n, c["cores_busy"], 100.0 * c["cores_busy"] / n, c["wall_s"],
                                   " ".join(c["loadavg"]), c["cores"]))
        sums[name] = (n, first, last, m)
    if "cold" in sums and "pooled" in sums:
        (nc, fc, lc, mc), (np_, fp, lp, mp) = sums["cold"], sums["pooled"]
        say("")
        say("-- pooled / cold, same run")
        say("   first start: %.2f; start #%d: %.2f%s" % (
            fp / fc, min(nc, np_), benchlib.window_median(runs["pooled"]["ms"], min(nc, np_), WINDOW) /
            benchlib.window_median(runs["cold"]["ms"], min(nc, np_), WINDOW),
            "" if nc == np_ else " (the series reached different N: compared at the smaller)"))
        if mc and mp:
            say("   memory per idle VM (PSS): %.2f" % ((mp["pss_sum_kib"] / np_) / (mc["pss_sum_kib"] / nc)))
    return 1 if any(r.get("failed") for r in runs.values()) else 0


def main():
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    a = sys.argv[1:]
    if len(a) >= 5 and a[0] == "series":
        return series(a[1], a[2], int(a[3]), a[4], "--pool" in a[5:])
    if len(a) == 3 and a[0] == "report":
        return report(a[1:])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
