#!/usr/bin/env bash
# `make pxe`: a directory to serve over TFTP for booting a system over the network (README
# "Deploy to hardware"): the seL4 kernel, the system image, and two ways to boot them as
# multiboot kernel + module:
#   boot.ipxe                 the iPXE script support/pxe/boot.ipxe (DHCP boot file for iPXE);
#   pxelinux.0, pxelinux.cfg/default (support/pxe/pxelinux.cfg), ldlinux.c32, libcom32.c32,
#   mboot.c32                 PXELINUX for any PXE ROM (DHCP boot file pxelinux.0), from
#                             Debian's pxelinux and syslinux-common packages; left out, with a
#                             warning, when they are not installed.
# tests/systems/tests/pxe.rs boots such a directory both ways, through QEMU's TFTP server and
# the e1000's iPXE ROM.
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
    cp "$src" "$out/$name.tmp"
    mv -f "$out/$name.tmp" "$out/$name"
done
pxelinux=/usr/lib/PXELINUX/pxelinux.0
modules=/usr/lib/syslinux/modules/bios
if [ -f "$pxelinux" ] && [ -f "$modules/mboot.c32" ]; then
    mkdir -p "$out/pxelinux.cfg"
    for pair in "$pxelinux:pxelinux.0" "$modules/ldlinux.c32:ldlinux.c32" "$modules/libcom32.c32:libcom32.c32" \
                "$modules/mboot.c32:mboot.c32" "$here/pxelinux.cfg:pxelinux.cfg/default"; do
        src=${pair%:*} name=${pair##*:}
        cp "$src" "$out/$name.tmp"
        mv -f "$out/$name.tmp" "$out/$name"
    done
    echo "pxe: $out: serve it over TFTP; DHCP boot file boot.ipxe (iPXE) or pxelinux.0 (any PXE ROM)" >&2
else
    echo "pxe: warning: no PXELINUX ($pxelinux, $modules/mboot.c32: apt install pxelinux syslinux-common); iPXE only" >&2
    echo "pxe: $out: serve it over TFTP; DHCP boot file boot.ipxe (iPXE)" >&2
fi
