#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for `make test` / `make run`, and fails loudly
# (naming the missing piece) when it cannot. Idempotent: does nothing when all is present.
set -euo pipefail

need_apt=()
command -v qemu-system-x86_64 >/dev/null || need_apt+=(qemu-system-x86)
command -v grub-mkrescue      >/dev/null || need_apt+=(grub-common)
[ -d /usr/lib/grub/i386-pc ]             || need_apt+=(grub-pc-bin)
command -v xorriso            >/dev/null || need_apt+=(xorriso)
[ -f /usr/lib/ipxe/qemu/efi-e1000.rom ]  || need_apt+=(ipxe-qemu)   # the e1000's iPXE ROM (PXE boot test)
[ -f /usr/lib/PXELINUX/pxelinux.0 ]      || need_apt+=(pxelinux)    # make pxe's PXELINUX (and its test)
[ -f /usr/lib/syslinux/modules/bios/mboot.c32 ] || need_apt+=(syslinux-common)
command -v mformat            >/dev/null || need_apt+=(mtools)
command -v socat              >/dev/null || need_apt+=(socat)
command -v nc                 >/dev/null || need_apt+=(netcat-openbsd)
command -v make               >/dev/null || need_apt+=(make)
command -v gcc                >/dev/null || need_apt+=(gcc)
command -v objcopy            >/dev/null || need_apt+=(binutils)

if [ ${#need_apt[@]} -gt 0 ]; then
    echo "deps: installing Debian packages: ${need_apt[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then
        SUDO=sudo; command -v sudo >/dev/null || {
            echo "deps: error: need root (or sudo) to install: ${need_apt[*]}" >&2; exit 1; }
    else
        SUDO=
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null \
        || { echo "deps: error: apt-get could not install: ${need_apt[*]}" >&2; exit 1; }
fi

# Python modules for the seL4 kernel build (pinned there).
"$(dirname "$0")/kernel/deps.sh"
command -v cargo >/dev/null || { echo "deps: error: cargo not found: install the stable Rust toolchain" >&2; exit 1; }
