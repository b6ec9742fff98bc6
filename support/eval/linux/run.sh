#!/usr/bin/env bash
# Boots the evaluation's Linux baseline guest (build/linux/, from build.sh) in the very QEMU
# machine the seL4 system runs in (support/qemu/run.sh: TCG, q35, Haswell, 512 MiB, one CPU,
# an Intel e1000 on netdev net0, -no-reboot), serial console on stdio, so the console protocol
# of support/eval/linux/init (cpu / net lines) can be spoken on stdin/stdout.
#
# usage: run.sh [--dry-run]       (prints the command instead of running it)
# env:   NETDEV  QEMU netdev spec with id=net0 (default: user networking forwarding host UDP
#                port ECHO_PORT to the guest's port 7);  ECHO_PORT default 7007
#        QEMU    the QEMU binary (default qemu-system-x86_64)
#        APPEND  extra kernel command-line words
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
dry=
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) dry=1; shift ;;
        *) echo "linux-guest: error: unknown argument $1 (see the usage at the top of $0)" >&2; exit 2 ;;
    esac
done

ECHO_PORT=${ECHO_PORT:-7007}
NETDEV=${NETDEV:-user,id=net0,hostfwd=udp::${ECHO_PORT}-:7}
QEMU=${QEMU:-qemu-system-x86_64}
case ",$NETDEV," in
    *,id=net0,*) ;;
    *) echo "linux-guest: error: NETDEV='$NETDEV' must name its backend id=net0 (e.g. NETDEV='user,id=net0')" >&2; exit 2 ;;
esac
kernel=$root/build/linux/vmlinuz
initrd=$root/build/linux/initramfs.cpio.gz
# quiet: only warnings on the console; mitigations=off and no kASLR: a faster boot under TCG.
cmdline="console=ttyS0 quiet mitigations=off nokaslr panic=-1${APPEND:+ $APPEND}"

args=(-accel tcg -machine q35 -cpu Haswell -m 512 -no-reboot
      -netdev "$NETDEV" -device e1000,netdev=net0,romfile=
      -kernel "$kernel" -initrd "$initrd" -append "$cmdline"
      -display none -vga none -monitor none -serial stdio)
if [ -n "$dry" ]; then
    printf '%q ' "$QEMU" "${args[@]}"; echo
    exit 0
fi
for f in "$kernel" "$initrd"; do
    [ -s "$f" ] || { echo "linux-guest: error: $f not found (make linux-guest builds it)" >&2; exit 1; }
done
command -v "$QEMU" >/dev/null || { echo "linux-guest: error: $QEMU not found (support/deps.sh installs qemu-system-x86)" >&2; exit 1; }
echo "linux-guest: booting build/linux/vmlinuz under QEMU (TCG, q35, e1000 on $NETDEV); stop with Ctrl-C" >&2
exec "$QEMU" "${args[@]}"
