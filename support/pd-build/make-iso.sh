#!/usr/bin/env bash
# `make iso`: a GRUB (BIOS, multiboot) bootable ISO of the seL4 kernel + a system image, for
# USB sticks, CDs or PXE/iPXE on real x86 machines (README "Deploy to hardware"). GRUB and
# seL4 both talk on the first serial port (COM1, 115200 8N1) and on the VGA text screen (GRUB's
# menu, then the kernel's boot log, the monitor's reports and every PD's lines: our kernel
# patch writes what it prints to both, support/kernel/README.md).
#
# usage: make-iso.sh KERNEL32.ELF IMAGE.ELF OUT.ISO
set -euo pipefail
kernel=${1:?usage: make-iso.sh KERNEL32.ELF IMAGE.ELF OUT.ISO}
image=${2:?usage: make-iso.sh KERNEL32.ELF IMAGE.ELF OUT.ISO}
out=${3:?usage: make-iso.sh KERNEL32.ELF IMAGE.ELF OUT.ISO}
for f in "$kernel" "$image"; do
    [ -f "$f" ] || { echo "make-iso: error: $f not found (make image builds it)" >&2; exit 1; }
done
command -v grub-mkrescue >/dev/null && [ -d /usr/lib/grub/i386-pc ] && command -v xorriso >/dev/null \
    || { echo "make-iso: error: needs grub-mkrescue, grub-pc-bin and xorriso (support/deps.sh installs them)" >&2; exit 1; }

staging=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$staging" "$log"' EXIT
mkdir -p "$staging/boot/grub"
cp "$kernel" "$staging/boot/kernel32.elf"
cp "$image" "$staging/boot/image.elf"
cat > "$staging/boot/grub/grub.cfg" <<'CFG'
serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1
terminal_input serial console
terminal_output serial console
set timeout=1
set default=0
menuentry "seL4 user-level driver framework" {
    echo "grub: loading seL4 kernel and system image"
    multiboot /boot/kernel32.elf
    module /boot/image.elf image.elf
    boot
}
CFG
mkdir -p "$(dirname "$out")"
if ! grub-mkrescue -o "$out.tmp" "$staging" >"$log" 2>&1; then
    cat "$log" >&2
    echo "make-iso: error: grub-mkrescue failed" >&2
    exit 1
fi
mv -f "$out.tmp" "$out"
echo "iso: $out ($(du -h "$out" | cut -f1))" >&2
