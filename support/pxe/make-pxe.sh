#!/usr/bin/env bash
# `make pxe`: a directory to serve over TFTP (or HTTP) for booting a system over the network
# with iPXE (README "Deploy to hardware"): the seL4 kernel, the system image and the iPXE
# script boot.ipxe (support/pxe/boot.ipxe), which boots them as multiboot kernel + module.
# Point DHCP's boot file at boot.ipxe. tests/systems/tests/pxe.rs boots such a directory
# through QEMU's TFTP server and the e1000's iPXE ROM.
#
# usage: make-pxe.sh KERNEL32.ELF IMAGE.ELF OUTDIR
set -euo pipefail
kernel=${1:?usage: make-pxe.sh KERNEL32.ELF IMAGE.ELF OUTDIR}
image=${2:?usage: make-pxe.sh KERNEL32.ELF IMAGE.ELF OUTDIR}
out=${3:?usage: make-pxe.sh KERNEL32.ELF IMAGE.ELF OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
for f in "$kernel" "$image"; do
    [ -f "$f" ] || { echo "make-pxe: error: $f not found (make image builds it)" >&2; exit 1; }
done
mkdir -p "$out"
# Each file is replaced whole (copied beside it, then renamed): a TFTP server reading the old
# one never sees it half written.
for pair in "$kernel:kernel32.elf" "$image:image.elf" "$here/boot.ipxe:boot.ipxe"; do
    src=${pair%:*} name=${pair##*:}
    cp "$src" "$out/.$name.tmp"
    mv -f "$out/.$name.tmp" "$out/$name"
done
echo "pxe: $out (boot.ipxe, kernel32.elf, image.elf): serve it over TFTP or HTTP, DHCP boot file boot.ipxe" >&2
