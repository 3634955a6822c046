#!/bin/bash
# Build (or reuse) the lab host's boot files: an uncompressed vmlinux of
# Debian's cloud kernel and a BusyBox initramfs holding kvm-amd, virtiofs, tun and
# overlayfs modules plus the lab's init.  Also a tiny BusyBox initramfs for
# nested guests (the self-test boots lightvm's Tinyx kernel with it).
#
#   tests/lab/prepare.sh [--print-dir] [--force]
#
# Everything is cached under $LAB_CACHE (default /var/cache/lightvm/lab),
# one directory per kernel package and version, e.g.
#   /var/cache/lightvm/lab/linux-image-6.1.0-56-cloud-amd64_6.1.192-2/
#       vmlinux  initramfs.gz  nested-initrd.gz  kernel.release  modules  *.deb
# and "current" is a symlink to the one in use.  A second run does no work
# unless the Debian archive has a newer kernel or an input file of this
# directory (init, this script) changed.  Without network access the newest
# cached build is used.
#
# Why the cloud kernel: it boots faster under TCG than the standard one
# (fewer drivers to probe; ready 4.6 s vs 5.4 s median in ENVIRONMENT.md) and
# it has virtio-fs, which gives the lab a POSIX-correct view of the host's
# files for overlayfs.  It has no 9p; the standard kernel would be needed for
# that (LAB_KERNEL_META=linux-image-amd64 selects it, run.sh then still uses
# virtio-fs, which the standard kernel has too).
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_CACHE=${LAB_CACHE:-/var/cache/lightvm/lab}
LAB_KERNEL_META=${LAB_KERNEL_META:-linux-image-cloud-amd64}
LINUX_SOURCE_TAR=${LINUX_SOURCE_TAR:-$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n1)}
BUSYBOX_STATIC=${BUSYBOX_STATIC:-/bin/busybox}
# Modules the lab's init loads, in dependency order after resolution.  Add
# more (e.g. tun vhost_net vhost_vsock) with LAB_EXTRA_MODULES="a b".
# veth, sch_ingress, cls_u32, act_mirred: the engines' networking
# (tests/integration/netns.bats, runtime/net.c's TC redirect).
LAB_MODULES="kvm-amd virtio_mmio virtiofs overlay tun veth sch_ingress cls_u32 act_mirred ${LAB_EXTRA_MODULES:-}"

print_dir=0 force=0
for a in "$@"; do
	case $a in
	--print-dir) print_dir=1 ;;
	--force) force=1 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "prepare.sh: unknown argument: $a" >&2; exit 2 ;;
	esac
done

log() { [ "$print_dir" = 1 ] && echo "lab-prepare: $*" >&2 || echo "lab-prepare: $*"; }
die() { echo "lab-prepare: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get download into the cache, dpkg -x)"

# Which kernel package: the candidate version of the meta package's
# dependency, e.g. linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2).
pkg='' ver=''
if dep=$(apt-cache show --no-all-versions "$LAB_KERNEL_META" 2>/dev/null |
		sed -n 's/^Depends: \(linux-image-[^ ,]*\) (= \([^)]*\)).*/\1 \2/p' | head -n1) && [ -n "$dep" ]; then
	read -r pkg ver <<<"$dep"
fi
if [ -z "$pkg" ]; then
	cached=$(ls -d "$LAB_CACHE"/linux-image-*_*/ 2>/dev/null | sort -V | tail -n1 || true)
	[ -n "$cached" ] || die "cannot resolve $LAB_KERNEL_META with apt-cache and nothing is cached"
	log "apt-cache does not know $LAB_KERNEL_META; using cached $(basename "$cached")"
	cached=${cached%/}
	pkg=$(basename "$cached"); ver=${pkg#*_}; pkg=${pkg%%_*}
fi

key=${pkg}_${ver}
out=$LAB_CACHE/$key
# The init script and this script are inputs too: hash them into the stamp.
inputs_hash=$(cat "$LAB_DIR/prepare.sh" "$LAB_DIR/init.sh" "$LAB_DIR/stage2.sh" "$BUSYBOX_STATIC" |
	sha256sum | cut -c1-16)
stamp="$key $inputs_hash $LAB_MODULES"

finish() {
	ln -sfn "$key" "$LAB_CACHE/current"
	if [ "$print_dir" = 1 ]; then echo "$out"; else log "ready: $out"; fi
	exit 0
}

if [ "$force" = 0 ] && [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then
	finish
fi

mkdir -p "$LAB_CACHE"
exec 9>"$LAB_CACHE/.lock"
flock 9
# Somebody else may have built it while we waited for the lock.
if [ "$force" = 0 ] && [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then
	finish
fi

log "building $out"
work=$(mktemp -d /var/tmp/lab-prepare.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# 1. The kernel package: downloaded once per version, unpacked each build.
deb=$(ls "$out"/"${pkg}"_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
	log "apt-get download $pkg=$ver"
	(cd "$work" && apt-get download -q "$pkg=$ver" 2>&1 | grep -v 'unsandboxed' >&2) ||
		die "apt-get download $pkg=$ver failed"
	mv "$work"/"${pkg}"_*.deb "$out"/
	deb=$(ls "$out"/"${pkg}"_*.deb | head -n1)
fi
dpkg -x "$deb" "$work/pkg"
kver=$(ls "$work/pkg/lib/modules" | head -n1)
moddir=$work/pkg/lib/modules/$kver
[ -f "$work/pkg/boot/vmlinuz-$kver" ] || die "no vmlinuz in $deb"
grep -q '^CONFIG_PVH=y' "$work/pkg/boot/config-$kver" || die "$kver lacks CONFIG_PVH: cannot boot the vmlinux directly"

# 2. The uncompressed vmlinux, so QEMU enters it through PVH and skips the
# decompressor (seconds under TCG).  scripts/extract-vmlinux comes from the
# kernel source tarball; only that member is extracted.
if [ -n "$LINUX_SOURCE_TAR" ] && [ -f "$LINUX_SOURCE_TAR" ]; then
	member=$(basename "$LINUX_SOURCE_TAR" .tar.xz)/scripts/extract-vmlinux
	tar -xJf "$LINUX_SOURCE_TAR" -O "$member" >"$work/extract-vmlinux" ||
		die "cannot extract $member from $LINUX_SOURCE_TAR"
	bash "$work/extract-vmlinux" "$work/pkg/boot/vmlinuz-$kver" >"$work/vmlinux" ||
		die "extract-vmlinux failed on vmlinuz-$kver"
else
	# Same method as extract-vmlinux: find the xz stream's magic, unpack it,
	# and keep the first result that is an ELF file.
	for off in $(LC_ALL=C grep -abo $'\xfd7zXZ\x00' "$work/pkg/boot/vmlinuz-$kver" | cut -d: -f1); do
		tail -c +$((off + 1)) "$work/pkg/boot/vmlinuz-$kver" | xz -dc >"$work/vmlinux" 2>/dev/null || true
		readelf -h "$work/vmlinux" >/dev/null 2>&1 && break
	done
fi
readelf -h "$work/vmlinux" >/dev/null 2>&1 || die "could not extract an ELF vmlinux from vmlinuz-$kver"
readelf -n "$work/vmlinux" | grep -q 'Xen.*0x00000012' ||
	readelf -n "$work/vmlinux" | grep -qi 'XEN_ELFNOTE_PHYS32_ENTRY\|Unknown note type: (0x00000012)' ||
	log "warning: no PVH entry note found in vmlinux (QEMU will refuse it)"

# 3. Modules and their dependencies, resolved from each module's .modinfo
# "depends=" (the package has no modules.dep and kmod's depmod is not needed).
declare -A modpath=() seen=()
while IFS= read -r f; do
	n=$(basename "$f" .ko); modpath[${n//-/_}]=$f
done < <(find "$moddir/kernel" -name '*.ko')
order=()
add_module() {
	local n=${1//-/_} f d
	[ -n "${seen[$n]:-}" ] && return 0
	seen[$n]=1
	f=${modpath[$n]:-}
	if [ -z "$f" ]; then
		grep -q "/${n}.ko\$\|/${1}.ko\$" "$moddir/modules.builtin" 2>/dev/null && return 0
		die "module $1 is neither in $pkg nor built in"
	fi
	d=$(objcopy -O binary --only-section=.modinfo "$f" /dev/stdout | tr '\0' '\n' | sed -n 's/^depends=//p')
	for dep in ${d//,/ }; do add_module "$dep"; done
	order+=("$n")
}
for m in $LAB_MODULES; do add_module "$m"; done

# 4. The lab's initramfs: static BusyBox, the modules, /init (init.sh) and
# the second stage that runs from the new root (stage2.sh).
r=$work/initramfs
mkdir -p "$r"/{bin,dev,proc,sys,lib/modules,newroot,lower,rw}
cp "$BUSYBOX_STATIC" "$r/bin/busybox"
for a in sh mount umount insmod mkdir mknod cat echo sleep switch_root poweroff reboot \
	cp ls grep sed stty dmesg; do
	ln -s busybox "$r/bin/$a"
done
for n in "${order[@]}"; do cp "${modpath[$n]}" "$r/lib/modules/$n.ko"; done
printf '%s\n' "${order[@]}" >"$r/lib/modules/order"
install -m 0755 "$LAB_DIR/init.sh" "$r/init"
install -m 0755 "$LAB_DIR/stage2.sh" "$r/stage2"
echo "$kver" >"$r/kernel.release"
(cd "$r" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -1 >"$work/initramfs.gz"

# 5. A tiny initramfs for nested guests: BusyBox only; rdinit=/bin/sh with
# "-c ..." on the kernel command line runs one command.
n=$work/nested
mkdir -p "$n"/{bin,dev,proc,sys}
cp "$BUSYBOX_STATIC" "$n/bin/busybox"
for a in sh echo reboot poweroff mount cat ls sleep; do ln -s busybox "$n/bin/$a"; done
(cd "$n" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -1 >"$work/nested-initrd.gz"

install -m 0644 "$work/vmlinux" "$out/vmlinux"
install -m 0644 "$work/initramfs.gz" "$out/initramfs.gz"
install -m 0644 "$work/nested-initrd.gz" "$out/nested-initrd.gz"
echo "$kver" >"$out/kernel.release"
printf '%s\n' "${order[@]}" >"$out/modules"
echo "$stamp" >"$out/stamp"
log "kernel $kver, modules: ${order[*]}"
finish
