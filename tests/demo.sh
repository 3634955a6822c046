#!/usr/bin/env bash
# The main job: an OCI bundle (BusyBox) runs as a VM through `lightvm run`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
work=$(mktemp -d /tmp/lightvm-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/etc"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$work/bundle/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/bundle/rootfs/etc/passwd"
echo 'root:x:0:' >"$work/bundle/rootfs/etc/group"
cd "$work/bundle"
"$build/lightvm" spec
python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", "echo \"hello from a VM: $(uname -sr), hostname $(hostname), pid $$\""]
json.dump(c, open("config.json", "w"), indent=2)
PY
echo "+ lightvm run -b $work/bundle demo-$$"
start=$(date +%s%N)
"$build/lightvm" --root "$work/root" run -b "$work/bundle" "demo-$$"
end=$(date +%s%N)
echo "(container exited with $?, $(( (end - start) / 1000000 )) ms from run to exit)"
