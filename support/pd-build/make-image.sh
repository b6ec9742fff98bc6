#!/usr/bin/env bash
# `make image`: system file -> build/<stem>/image.elf (the root-task ELF that boots with
# kernel32.elf). Validates the system file FIRST, so a bad file is rejected before anything
# is built or booted; then builds the kernel, the initialiser and every PD the file names
# (program_image NAME.elf = the workspace's cargo bin NAME, copied to build/pds/NAME.elf),
# and packs them with mkimage. A program image with no cargo bin of that name is looked
# up as a prebuilt ELF by mkimage (build/pds, then the system file's folder).
#
# usage: make-image.sh [--pds-only] SYSTEM_FILE [OUT_IMAGE]
# env:   BENCH=1  for the benchmark kernel (support/kernel/build.sh --bench): the image is
#                 marked for it (its monitor serves `cpu`) and goes to build/<stem>-bench/
#        IOMMU=0  build the kernel without IOMMU support (default: with; the image is the same)
set -euo pipefail
cd "$(dirname "$0")/../.."
CARGO=${CARGO:-cargo}

pds_only=
if [ "${1:-}" = --pds-only ]; then pds_only=1; shift; fi
system=${1:?usage: make-image.sh [--pds-only] SYSTEM_FILE [OUT_IMAGE]}
[ -f "$system" ] || { echo "make-image: error: system file $system not found" >&2; exit 1; }
stem=$(basename "$system" .xml)
bench=${BENCH:-}
[ "$bench" != 0 ] || bench=
if [ -n "$bench" ]; then
    out=${2:-build/$stem-bench/image.elf}
else
    out=${2:-build/$stem/image.elf}
fi

echo "image: checking $system" >&2
"$CARGO" run -q -p sdf --bin sdf-check -- "$system"

if [ -z "$pds_only" ]; then
    echo "image: kernel" >&2
    support/kernel/deps.sh
    iommu=${IOMMU:-1}
    [ "$iommu" != 0 ] || iommu=
    support/kernel/build.sh ${bench:+--bench} ${iommu:+--iommu}

    echo "image: initialiser" >&2
    "$CARGO" build -q --release -p initialiser
fi

# The program images the system file names, and which workspace package builds each.
programs=$(python3 - "$system" <<'PY'
import sys, xml.etree.ElementTree as ET
for img in ET.parse(sys.argv[1]).getroot().iter("program_image"):
    path = img.get("path", "")
    if path.endswith(".elf") and "/" not in path:
        print(path[:-4])
PY
)
meta=$("$CARGO" metadata -q --no-deps --format-version 1)
pairs=$(printf '%s' "$meta" | python3 -c '
import json, sys
wanted = set(sys.argv[1].split())
for p in json.load(sys.stdin)["packages"]:
    for t in p["targets"]:
        if "bin" in t["kind"] and t["name"] in wanted:
            print(p["name"], t["name"])
' "$programs")

mkdir -p build/pds
if [ -n "$pairs" ]; then
    pkgs=$(printf '%s\n' "$pairs" | awk '{print "-p " $1}' | sort -u | tr '\n' ' ')
    echo "image: PDs: $(printf '%s\n' "$pairs" | awk '{print $2}' | tr '\n' ' ')" >&2
    # One cargo call for just the PD packages: building them together with host tools
    # would unify features (e.g. spec/alloc) into the freestanding PDs.
    # shellcheck disable=SC2086
    "$CARGO" build -q --release $pkgs
    target_dir=$(printf '%s' "$meta" | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    while read -r _pkg bin; do
        # Copy then rename: a concurrent mkimage never reads a half-written ELF.
        cp "$target_dir/release/$bin" "build/pds/.$bin.elf.$$"
        mv -f "build/pds/.$bin.elf.$$" "build/pds/$bin.elf"
    done <<< "$pairs"
fi

[ -z "$pds_only" ] || exit 0
echo "image: packing $out" >&2
"$CARGO" run -q -p mkimage -- --system "$system" --initialiser "$(printf '%s' "$meta" | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/initialiser" \
    --search build/pds --out "$out" ${bench:+--bench-kernel}
