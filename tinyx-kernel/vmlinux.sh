#!/usr/bin/env bash
# Derive the uncompressed ELF vmlinux from a Tinyx bzImage, for lightvm's
# PVH boot (vmm/pvh.c): the VMM loads its segments where they run, so the
# guest skips its own decompressor.
#
#   tinyx-kernel/vmlinux.sh BZIMAGE OUT
#
# The bzImage's payload is the kernel's `objcopy -R .comment -S vmlinux`,
# compressed; the kernel source's scripts/extract-vmlinux finds the stream
# and unpacks it. That script comes from KERNEL_SRC (a build tree, when
# build.sh has one at hand) or else, as the only member read, from the
# linux-source-6.1 tarball (~12 s: the tarball is xz). The result is checked
# (an x86-64 ELF executable with the Xen PVH entry note, CONFIG_PVH), stripped
# should it carry symbols, and written to OUT atomically.
#
# build.sh runs this for every kernel it builds or finds in its cache; the
# output is a function of the bzImage alone, so this script is not part of
# the kernel cache key (editing it does not rebuild the kernel).
#
# Environment:
#   KERNEL_SRC   a kernel tree to take scripts/extract-vmlinux from (optional)
#   SRC_TAR      the source tarball otherwise (default /usr/src/linux-source-6.1.tar.xz)
set -euo pipefail

die() { echo "tinyx-kernel: error: $*" >&2; exit 1; }

[ $# -eq 2 ] && [ -n "$1" ] && [ -n "$2" ] || die "usage: $0 BZIMAGE OUT"
BZ=$1 OUT=$2
SRC_TAR=${SRC_TAR:-/usr/src/linux-source-6.1.tar.xz}
[ -f "$BZ" ] || die "$BZ: no such bzImage"
for tool in readelf objcopy zstd tar; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tinyx-vmlinux.XXXXXX")
trap 'rm -rf "$work" "$OUT.tmp.$$"' EXIT

if [ -n "${KERNEL_SRC:-}" ] && [ -f "$KERNEL_SRC/scripts/extract-vmlinux" ]; then
	cp "$KERNEL_SRC/scripts/extract-vmlinux" "$work/extract-vmlinux"
else
	[ -r "$SRC_TAR" ] || die "$SRC_TAR missing (apt-get install linux-source-6.1)"
	member=$(basename "$SRC_TAR" .tar.xz)/scripts/extract-vmlinux
	tar -xJf "$SRC_TAR" -O "$member" >"$work/extract-vmlinux" 2>"$work/tar.err" ||
		die "cannot read $member from $SRC_TAR: $(cat "$work/tar.err")"
fi
bash "$work/extract-vmlinux" "$BZ" >"$work/vmlinux" 2>"$work/extract.err" ||
	die "extract-vmlinux found no kernel in $BZ: $(cat "$work/extract.err")"

# extract-vmlinux exits 0 even when it finds nothing: readelf decides.
hdr=$(readelf -hW "$work/vmlinux" 2>/dev/null) ||
	die "no ELF kernel found in $BZ ($(tr '\n' ' ' <"$work/extract.err"))"
grep -q 'Class:[[:space:]]*ELF64' <<<"$hdr" && grep -q 'Type:[[:space:]]*EXEC' <<<"$hdr" &&
	grep -q 'Machine:[[:space:]]*Advanced Micro Devices X86-64' <<<"$hdr" ||
	die "the vmlinux in $BZ is not an x86-64 ELF executable"
# Symbols are useless to a loader; the kernel's own payload has none, but a
# vmlinux from elsewhere might.
if readelf -SW "$work/vmlinux" | grep -q ' \.symtab '; then
	objcopy -R .comment -S "$work/vmlinux" "$work/vmlinux.stripped"
	mv -f "$work/vmlinux.stripped" "$work/vmlinux"
fi
# The PVH entry note as Linux emits it: namesz 4, descsz 8, type 18
# (XEN_ELFNOTE_PHYS32_ENTRY), "Xen\0". A byte pattern, not readelf's
# wording, which differs between binutils versions.
LC_ALL=C grep -qaP '\x04\x00\x00\x00\x08\x00\x00\x00\x12\x00\x00\x00Xen\x00' "$work/vmlinux" ||
	die "the vmlinux in $BZ has no PVH entry note (is CONFIG_PVH=y in the config?)"

mkdir -p "$(dirname "$OUT")"
cp "$work/vmlinux" "$OUT.tmp.$$"
mv -f "$OUT.tmp.$$" "$OUT"
