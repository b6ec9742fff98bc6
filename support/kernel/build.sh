#!/usr/bin/env bash
# Builds the seL4 5.0.0 kernel (x86_64, pc99, debug + printing) into a multiboot image:
#   build/kernel/<variant>/kernel32.elf   (variant: default; iommu with --iommu; bench, with
#   the per-thread utilisation accounting of the evaluation, with --bench; bench-iommu with
#   both)
# from the source inside the crates.io package sel4-sys 0.0.28 (see sel4-src.sh), a patched
# build copy (patch-source.py) and our config (config/autoconf.h and the variants' config/*/).
# Rebuilds only when an input changed (source version, patches, config, this script,
# compiler); otherwise it says "up to date" and exits at once.
#
# Usage: support/kernel/build.sh [--iommu] [--bench] [--force] [OUTDIR]
# Also kept in OUTDIR: kernel.elf (64-bit, with symbols), config/autoconf.h (the config used)
# and generated/ (the headers the kernel build generates: api/invocation.h,
# arch/api/{invocation,sel4_invocation,syscall}.h).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
iommu=0 bench=0
force=0
out=
for arg in "$@"; do
    case "$arg" in
        --iommu) iommu=1 ;;
        --bench) bench=1 ;;
        --force) force=1 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "kernel: error: unknown option '$arg' (try --help)" >&2; exit 2 ;;
        *) [ -z "$out" ] || { echo "kernel: error: more than one OUTDIR given" >&2; exit 2; }
           out=$arg ;;
    esac
done
case "$bench$iommu" in
    00) variant=default ;;
    01) variant=iommu ;;
    10) variant=bench ;;
    11) variant=bench-iommu ;;
esac
[ -n "$out" ] || out="$repo/build/kernel/$variant"
mkdir -p "$out"
out=$(cd "$out" && pwd)

die() { echo "kernel: error: $*" >&2; exit 1; }
for tool in make gcc cpp objcopy python3 sha256sum; do
    command -v "$tool" >/dev/null || die "'$tool' not found (run support/deps.sh)"
done
# The generators need ply, six and tempita: install them if missing (idempotent), then check.
python3 -c 'import ply, six, tempita' 2>/dev/null || PYTHON=python3 "$here/deps.sh" >&2 || true
python3 -c 'import ply, six, tempita' 2>/dev/null \
    || die "python3 modules ply, six and tempita are needed (run support/kernel/deps.sh, or: python3 -m pip install ply six tempita)"

case "$variant" in
    default) cfgdir="$here/config" ;;
    iommu)   cfgdir="$here/config/iommu" ;;
    bench)   cfgdir="$here/config/bench" ;;
    bench-iommu) cfgdir="$here/config/bench-iommu" ;;
esac

src=$("$here/sel4-src.sh") || die "could not locate the seL4 source (see message above)"
version=$(cat "$src/VERSION" 2>/dev/null || echo unknown)
[ "$version" = "5.0.0" ] || die "expected seL4 5.0.0 in $src, found '$version'"

# Everything the result depends on, hashed. The kernel source is identified by its
# package (sel4-sys 0.0.28, checksummed by cargo) and path.
inputs_hash() {
    {
        echo "src=$src version=$version variant=$variant"
        cat "$here/fetch/Cargo.lock"
        sha256sum "$here/build.sh" "$here/patch-source.py" "$here/config/autoconf.h" \
                  "$here/config/iommu/autoconf.h" "$here/config/bench/autoconf.h" \
                  "$here/config/bench-iommu/autoconf.h" | cut -d' ' -f1
        gcc --version | head -1
        objcopy --version | head -1
    } | sha256sum | cut -d' ' -f1
}
want=$(inputs_hash)
stamp="$out/.inputs"
up_to_date() {
    [ "$force" = 0 ] && [ -f "$out/kernel32.elf" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]
}
if up_to_date; then
    echo "kernel: $variant up to date: $out/kernel32.elf"
    exit 0
fi

# One build at a time per build root (the patched copy is shared by both variants). Check
# again once we hold the lock: a concurrent caller may have just built the same thing.
buildroot="$repo/build/kernel"
mkdir -p "$buildroot"
exec 9>"$buildroot/.lock"
flock 9
if up_to_date; then
    echo "kernel: $variant up to date: $out/kernel32.elf"
    exit 0
fi

start=$(date +%s.%N)
echo "kernel: building seL4 $version ($variant) from $src"

# 1. A patched build copy of the source, redone only when the source or patches change.
copy="$buildroot/src"
copy_want=$( { echo "$src"; sha256sum "$here/patch-source.py"; } | sha256sum | cut -d' ' -f1)
if [ ! -f "$copy/.patched" ] || [ "$(cat "$copy/.patched")" != "$copy_want" ]; then
    rm -rf "$copy" "$copy.tmp"
    cp -R "$src" "$copy.tmp"
    chmod -R u+w "$copy.tmp"
    python3 "$here/patch-source.py" "$copy.tmp" || die "patching the source copy failed"
    echo "$copy_want" > "$copy.tmp/.patched"
    mv "$copy.tmp" "$copy"
fi

# 2. Out-of-tree build from an empty folder.
obj="$out/obj"
rm -rf "$obj" "$stamp"
mkdir -p "$obj" "$out/config"
cp "$here/config/autoconf.h" "$out/config/autoconf.h"
[ "$variant" = default ] || cp "$cfgdir/autoconf.h" "$out/config/autoconf-$variant.h"

extra_cflags="-Wno-address-of-packed-member -Wno-array-bounds -fno-stack-protector -fcf-protection=none"
log="$out/build.log"
# seL4's Makefile reads some environment variables as options (e.g. IOMMU=1 turns on
# CONFIG_IOMMU); our Makefile exports IOMMU and BENCH for its own scripts, so the kernel build
# gets neither: the variant's autoconf.h alone decides the configuration.
if ! env -u IOMMU -u BENCH make -C "$obj" -f "$copy/Makefile" -j"$(nproc)" \
        SOURCE_ROOT="$copy" ARCH=x86 SEL4_ARCH=x86_64 PLAT=pc99 PYTHON=python3 \
        SKIP_PATH_CHECKS=1 DEBUG=1 \
        CONFIG_KERNEL_EXTRA_CPPFLAGS="-I$cfgdir" EXTRA_CFLAGS="$extra_cflags" \
        kernel.elf >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "the kernel build failed (full log: $log)"
fi

# 3. The multiboot loader (QEMU -kernel, GRUB) wants a 32-bit ELF.
# Replaced atomically: a QEMU started meanwhile reads either the old or the new image.
cp "$obj/kernel.elf" "$out/kernel.elf.tmp"
mv "$out/kernel.elf.tmp" "$out/kernel.elf"
objcopy -O elf32-i386 "$obj/kernel.elf" "$out/kernel32.elf.tmp"
mv "$out/kernel32.elf.tmp" "$out/kernel32.elf"

# 4. Keep the generated headers where other tools (ABI tests) can find them.
rm -rf "$out/generated"
mkdir -p "$out/generated/api" "$out/generated/arch/api"
cp "$obj/api/invocation.h" "$out/generated/api/"
cp "$obj/arch/api/invocation.h" "$obj/arch/api/sel4_invocation.h" "$obj/arch/api/syscall.h" \
   "$out/generated/arch/api/"

echo "$want" > "$stamp"
end=$(date +%s.%N)
python3 -c "import sys; print('kernel: built %s in %.1f s' % (sys.argv[1], float(sys.argv[3]) - float(sys.argv[2])))" \
    "$out/kernel32.elf" "$start" "$end"
