#!/usr/bin/env python3
"""What the benchmarks share: the BusyBox bundle they all run, the direct-QEMU
floor derived from lightvm's own QEMU command, and the summary statistics.

  benchlib.py bundle DIR BUSYBOX SPEC_CMD...   (for the shell scripts)
makes DIR/rootfs and DIR/config.json (from SPEC_CMD run in DIR, e.g.
`lightvm spec` or `runc spec`) with terminal false and args `true`.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys


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


def stats(xs):
    return statistics.median(xs), min(xs), max(xs)


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] != "bundle":
        sys.exit("usage: benchlib.py bundle DIR BUSYBOX SPEC_CMD...")
    make_bundle(sys.argv[2], sys.argv[3], sys.argv[4:])
