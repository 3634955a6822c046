#!/usr/bin/env bash
# Build the lightvm guest kernel ("Tinyx") and write the bzImage to OUT and
# the same kernel as an uncompressed ELF vmlinux (for the VMM's PVH boot) to
# vmlinux next to it.
#
#   tinyx-kernel/build.sh OUT            (e.g. build/bzImage -> also build/vmlinux)
#
# Kernel = `make tinyconfig` (x86_64) + lightvm.config, from Debian's
# linux-source-6.1 package. Results are cached outside the work tree:
#
#   ${LIGHTVM_CACHE_DIR:-/var/cache/lightvm}/kernel/<key>/{bzImage,vmlinux,config}
#
# key = sha256 over (the fragment(s), this script, the linux-source package
# version). A cache hit copies the cached bzImage to OUT (a real copy, not a
# link: OUT stays valid whatever happens to the cache, and the cache can't be
# corrupted through OUT); OUT is left untouched if it already has the same
# content, so its mtime only changes when the kernel does. The same goes for
# vmlinux.
#
# vmlinux is extracted from the bzImage by vmlinux.sh (the kernel's
# scripts/extract-vmlinux), not kept from the build tree: one way for fresh
# builds and for cache entries made before vmlinux existed, which get theirs
# on their next hit without a rebuild. vmlinux.sh is not part of the key.
#
# A miss unpacks the source into a scratch directory under the cache dir,
# configures, verifies that every `=y` option of the fragment survived, builds
# (~4-8 min on 2 cores), stores the result atomically and deletes the scratch
# tree (a tinyconfig tree is ~1.3 GB; unpacking costs only ~10 s of the 8 min,
# so keeping a pristine tree is not worth it). For iterating on the fragment,
# LIGHTVM_KERNEL_TREE=DIR keeps a persistent, incrementally rebuilt tree in DIR
# instead (not used by default: incremental kbuild across config changes is
# reliable but the tree is big).
#
# Environment:
#   LIGHTVM_CACHE_DIR    cache root (default /var/cache/lightvm)
#   LIGHTVM_KERNEL_TREE  optional persistent build tree (see above)
#   JOBS                 make -j (default: nproc)
set -euo pipefail

die() { echo "tinyx-kernel: error: $*" >&2; exit 1; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $0 OUT (path of the bzImage to write)"
OUT=$1

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
FRAGMENTS=("$HERE/lightvm.config")
SRC_PKG=linux-source-6.1
SRC_TAR=/usr/src/linux-source-6.1.tar.xz
CACHE_ROOT=${LIGHTVM_CACHE_DIR:-/var/cache/lightvm}
CACHE=$CACHE_ROOT/kernel

SRC_VER=$(dpkg-query -W -f='${Version}' "$SRC_PKG" 2>/dev/null) ||
	die "package $SRC_PKG is not installed (apt-get install $SRC_PKG flex bison bc libelf-dev libssl-dev)"
[ -n "$SRC_VER" ] || die "package $SRC_PKG is not installed"
[ -r "$SRC_TAR" ] || die "$SRC_TAR missing (reinstall $SRC_PKG)"

# Cache key: content hashes of the inputs, named, plus the source version.
KEY=$(
	for f in "${FRAGMENTS[@]}" "$SELF"; do
		printf '%s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$(basename "$f")"
	done
	printf '%s %s\n' "$SRC_PKG" "$SRC_VER"
)
KEY=$(printf '%s' "$KEY" | sha256sum | cut -d' ' -f1)
ENTRY=$CACHE/$KEY

VMLINUX_OUT=$(dirname "$OUT")/vmlinux
[ "$(basename "$OUT")" != vmlinux ] || die "OUT is the bzImage's path; vmlinux is written next to it"

# Copy a cached file to dst (atomically; untouched if identical).
install_file() {
	local src=$1 dst=$2 how=$3 size
	mkdir -p "$(dirname "$dst")"
	if ! cmp -s "$src" "$dst" 2>/dev/null; then
		cp "$src" "$dst.tmp.$$"
		mv -f "$dst.tmp.$$" "$dst"
	fi
	size=$(stat -c %s "$dst")
	printf 'tinyx-kernel: %s %d bytes (%d KiB) [%s, key %.12s]\n' \
		"$dst" "$size" $(((size + 1023) / 1024)) "$how" "$KEY"
}

# An entry from before vmlinux.sh has a bzImage only: add its vmlinux (by
# atomic rename, so concurrent runs are harmless). A read-only cache gets
# none; then vmlinux is extracted straight to VMLINUX_OUT.
install_out() {
	local how=$1
	install_file "$ENTRY/bzImage" "$OUT" "$how"
	if [ ! -f "$ENTRY/vmlinux" ] && [ -w "$ENTRY" ]; then
		echo "tinyx-kernel: extracting vmlinux from the cached bzImage" >&2
		"$HERE/vmlinux.sh" "$ENTRY/bzImage" "$ENTRY/vmlinux"
	fi
	if [ -f "$ENTRY/vmlinux" ]; then
		install_file "$ENTRY/vmlinux" "$VMLINUX_OUT" "$how"
	else
		"$HERE/vmlinux.sh" "$ENTRY/bzImage" "$VMLINUX_OUT.new.$$"
		install_file "$VMLINUX_OUT.new.$$" "$VMLINUX_OUT" "$how, cache read-only"
		rm -f "$VMLINUX_OUT.new.$$"
	fi
}

# Fast path: entries appear by atomic rename, so no lock is needed to read.
if [ -f "$ENTRY/bzImage" ]; then
	install_out cached
	exit 0
fi

for tool in make gcc flex bison bc tar xz zstd flock readelf objcopy; do
	command -v "$tool" >/dev/null || die "missing build tool: $tool"
done

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
	echo "tinyx-kernel: waiting for another kernel build (lock $CACHE/.lock)" >&2
	flock 9
fi
# Someone else may have built it while we waited.
if [ -f "$ENTRY/bzImage" ]; then
	install_out cached
	exit 0
fi

START=$(date +%s)
SCRATCH=$(mktemp -d "$CACHE/.build.XXXXXX")
STAGE=''
cleanup() { rm -rf "$SCRATCH" ${STAGE:+"$STAGE"}; }
trap cleanup EXIT

if [ -n "${LIGHTVM_KERNEL_TREE:-}" ]; then
	SRC=$LIGHTVM_KERNEL_TREE
	STAMP="$SRC/.lightvm-source-version"
	if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$SRC_VER" ]; then
		echo "tinyx-kernel: unpacking $SRC_PKG $SRC_VER into $SRC" >&2
		rm -rf "$SRC"
		mkdir -p "$SRC"
		tar -xJf "$SRC_TAR" -C "$SRC" --strip-components=1
		echo "$SRC_VER" >"$STAMP"
	fi
else
	SRC=$SCRATCH/linux
	mkdir -p "$SRC"
	echo "tinyx-kernel: building kernel (cache miss, key ${KEY:0:12}; ~4-8 min on 2 cores)" >&2
	tar -xJf "$SRC_TAR" -C "$SRC" --strip-components=1
fi

LOG=$SCRATCH/build.log
JOBS=${JOBS:-$(nproc)}
# Reproducible-ish build metadata (shows in /proc/version).
export KBUILD_BUILD_USER=lightvm KBUILD_BUILD_HOST=lightvm
export KBUILD_BUILD_TIMESTAMP="linux-source $SRC_VER"
kmake() { make -C "$SRC" ARCH=x86_64 "$@"; }

fail_log() {
	echo "tinyx-kernel: $1 failed; last lines of the log:" >&2
	tail -n 40 "$LOG" >&2
	exit 1
}

{
	kmake tinyconfig
	(cd "$SRC" && scripts/kconfig/merge_config.sh -m .config "${FRAGMENTS[@]}")
	kmake olddefconfig
} >"$LOG" 2>&1 || fail_log "configuration"

# Every option the fragment turns on must still be on: Kconfig silently drops
# options whose dependencies are not met.
dropped=()
changed=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=y)
		grep -qxF "$line" "$SRC/.config" || dropped+=("${line%%=*}")
		;;
	CONFIG_*=*)
		grep -qxF "$line" "$SRC/.config" ||
			changed+=("$line -> $(grep -E "^(# )?${line%%=*}[= ]" "$SRC/.config" || echo unset)")
		;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		grep -qxF "$opt=y" "$SRC/.config" && changed+=("$line -> $opt=y")
		;;
	esac
done < <(cat "${FRAGMENTS[@]}")
if [ ${#changed[@]} -gt 0 ]; then
	printf 'tinyx-kernel: warning: fragment value not honoured: %s\n' "${changed[@]}" >&2
fi
if [ ${#dropped[@]} -gt 0 ]; then
	printf 'tinyx-kernel: error: option dropped by Kconfig (unmet dependency?): %s\n' "${dropped[@]}" >&2
	exit 1
fi

kmake -j"$JOBS" bzImage >>"$LOG" 2>&1 || fail_log "kernel build"

STAGE=$(mktemp -d "$CACHE/.entry.XXXXXX")
cp "$SRC/arch/x86/boot/bzImage" "$STAGE/bzImage"
cp "$SRC/.config" "$STAGE/config"
KERNEL_SRC=$SRC "$HERE/vmlinux.sh" "$STAGE/bzImage" "$STAGE/vmlinux"
chmod 755 "$STAGE"
mv -T "$STAGE" "$ENTRY" 2>/dev/null || rm -rf "$STAGE" # lost a race: same content
echo "tinyx-kernel: built in $(($(date +%s) - START)) s" >&2
install_out built
