#!/usr/bin/env python3
"""What the benchmarks share: the BusyBox bundle they all run, the direct-QEMU
floor derived from lightvm's own QEMU command, reading processes' memory and
CPU time from /proc, and the summary statistics.

  benchlib.py bundle DIR BUSYBOX SPEC_CMD... [-- ARGS...]   (for the shell scripts)
makes DIR/rootfs and DIR/config.json (from SPEC_CMD run in DIR, e.g.
`lightvm spec` or `runc spec`) with terminal false and args ARGS (default
`true`).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading


def make_bundle(bundle, busybox, spec_cmd, args=("true",)):
    """BusyBox rootfs (one symlink per applet, made here: no exec per link);
    config.json from spec_cmd with terminal false and the given args.
    Returns the parsed config, for variants of the same bundle."""
    root = os.path.join(bundle, "rootfs")
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", "usr"):
        os.makedirs(os.path.join(root, d))
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    shutil.copy(busybox, os.path.join(root, "bin/busybox"))
    applets = subprocess.run([busybox, "--list"], stdout=subprocess.PIPE, check=True, text=True).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", os.path.join(root, "bin", a))
    os.symlink("../bin", os.path.join(root, "usr/bin"))
    os.symlink("bin", os.path.join(root, "sbin"))
    with open(os.path.join(root, "etc/passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    with open(os.path.join(root, "etc/group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    subprocess.run(list(spec_cmd), cwd=bundle, check=True)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        c = json.load(f)
    c["process"]["terminal"] = False
    c["process"]["args"] = list(args)
    with open(path, "w") as f:
        json.dump(c, f, indent=2)
    return c


def direct_argv(qemu_argv, script, serial=None):
    """lightvm's QEMU command (argv[0] kept) minus what is lightvm's: the
    virtio-serial control channel and our init.  /bin/sh is PID 1 and runs
    `script`.  serial: None keeps lightvm's (no console); "stdio" or
    "file:PATH" turns the ISA serial port on there with console=ttyS0."""
    out, i = [qemu_argv[0]], 1
    while i < len(qemu_argv):
        a = qemu_argv[i]
        v = qemu_argv[i + 1] if i + 1 < len(qemu_argv) else None
        if a == "-device" and v and v.startswith(("virtio-serial-device", "virtserialport")):
            i += 2
            continue
        if a == "-chardev" and v and v.startswith("socket,id=ctl"):
            i += 2
            continue
        if serial and a == "-M" and v:
            out += [a, v.replace("isa-serial=off", "isa-serial=on")]
            i += 2
            continue
        if serial and a == "-serial":
            out += [a, serial]
            i += 2
            continue
        if a == "-append":
            words = [w for w in v.split() if not w.startswith("rdinit=")]
            if serial:
                words = [w for w in words if w != "8250.nr_uarts=0"] + ["console=ttyS0"]
            out += [a, " ".join(words) + ' rdinit=/bin/sh -- -c "%s"' % script]
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def children(pid):
    """The direct children of PID (all its threads')."""
    kids = []
    for t in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, t)) as f:
            kids += [int(k) for k in f.read().split()]
    return kids


def comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def smaps_rollup(pid):
    """/proc/PID/smaps_rollup as {field: KiB}, e.g. "Pss", "Pss_Anon", "Rss"."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def meminfo(field="MemAvailable"):
    """A /proc/meminfo field in KiB."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def cpu_ticks(pid):
    """utime + stime of PID (all its threads), in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])  # fields 14 and 15 of proc(5)


def wait_bounded(p, timeout):
    """p.wait() with a watchdog that kills p after `timeout` seconds;
    returns (returncode, timed_out).  Not p.wait(timeout=...): CPython
    implements that by polling waitpid(WNOHANG) with sleeps that double up
    to 50 ms, so every wait longer than ~64 ms comes back rounded up to the
    next 50 ms step (a 480 ms child measures 515 ms)."""
    fired = []

    def kill():
        fired.append(True)
        p.kill()
    watchdog = threading.Timer(timeout, kill)
    watchdog.daemon = True
    watchdog.start()
    try:
        rc = p.wait()
    finally:
        watchdog.cancel()
    return rc, bool(fired)


def stats(xs):
    return statistics.median(xs), min(xs), max(xs)


def window_median(xs, point, width=5):
    """Median of `width` samples around the 1-based sample number `point`:
    centred on it where the series allows, shifted inwards at its ends (so
    the first and the last point use the first and the last `width`)."""
    width = min(width, len(xs))
    lo = min(max(point - 1 - width // 2, 0), len(xs) - width)
    return statistics.median(xs[lo:lo + width])


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] != "bundle":
        sys.exit("usage: benchlib.py bundle DIR BUSYBOX SPEC_CMD... [-- ARGS...]")
    spec, args = sys.argv[4:], ["true"]
    if "--" in spec:
        spec, args = spec[:spec.index("--")], spec[spec.index("--") + 1:]
    if not spec or not args:
        sys.exit("benchlib.py bundle: empty SPEC_CMD or ARGS")
    make_bundle(sys.argv[2], sys.argv[3], spec, args)
