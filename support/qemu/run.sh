#!/usr/bin/env bash
# `make run` / `make run-iso`: boots an image under QEMU (TCG: q35, Haswell, 512 MiB,
# serial on stdio, -no-reboot, QEMU's Intel VT-d unit in front of an Intel e1000 (QEMU_NIC)
# on netdev net0; IOMMU=0 leaves the VT-d unit out). The one place the interactive
# command line lives; the Rust harness (src/config.rs) builds the same machine for tests, and
# tests/systems/tests/systems.rs runs this script through `make run` too.
#
# usage: run.sh --kernel KERNEL32.ELF --image IMAGE.ELF      (multiboot: kernel + root task)
#        run.sh --cdrom IMAGE.ISO                            (GRUB ISO from `make iso`)
#        run.sh --pxe DIR                                    (network boot of `make pxe`'s DIR:
#                   QEMU's user-network TFTP server serves DIR, its DHCP names boot.ipxe, the
#                   e1000 runs Debian's iPXE ROM; NETDEV must then be a user netdev)
#        add --dry-run to print the command instead of running it
# env:   NETDEV     QEMU netdev spec with id=net0 (default: user networking forwarding host
#                   UDP port ECHO_PORT to the guest's port 7)
#        ECHO_PORT  default 7007;  QEMU  the QEMU binary (default qemu-system-x86_64)
#        IOMMU      1 (default): -device intel-iommu (q35, kernel-irqchip=split); 0: none
#        QEMU_NIC   QEMU's NIC model: e1000 (82540EM, default) or e1000e (82574L)
set -euo pipefail

kernel= image= cdrom= pxe= dry=
while [ $# -gt 0 ]; do
    case $1 in
        --kernel) kernel=${2:?--kernel needs a file}; shift 2 ;;
        --image) image=${2:?--image needs a file}; shift 2 ;;
        --cdrom) cdrom=${2:?--cdrom needs a file}; shift 2 ;;
        --pxe) pxe=${2:?--pxe needs a directory}; shift 2 ;;
        --dry-run) dry=1; shift ;;
        *) echo "run.sh: error: unknown argument $1 (see the usage at the top of $0)" >&2; exit 2 ;;
    esac
done

ECHO_PORT=${ECHO_PORT:-7007}
default_netdev=
if [ -z "${NETDEV:-}" ]; then
    default_netdev=1
    NETDEV=user,id=net0,hostfwd=udp::${ECHO_PORT}-:7
fi
QEMU=${QEMU:-qemu-system-x86_64}
case ",$NETDEV," in
    *,id=net0,*) ;;
    *) echo "run.sh: error: NETDEV='$NETDEV' must name its backend id=net0 (e.g. NETDEV='user,id=net0')" >&2; exit 2 ;;
esac

IOMMU=${IOMMU:-1}
if [ "$IOMMU" != 0 ]; then
    # Before any PCI device, so every device sits behind it (QEMU requires this order).
    args=(-accel tcg -machine q35,kernel-irqchip=split -device intel-iommu)
    iommu_note=", VT-d"
else
    args=(-accel tcg -machine q35)
    iommu_note=", no IOMMU"
fi
QEMU_NIC=${QEMU_NIC:-e1000}
case $QEMU_NIC in
    e1000|e1000e) ;;
    *) echo "run.sh: error: QEMU_NIC='$QEMU_NIC': the driver supports QEMU's e1000 (82540EM) and e1000e (82574L)" >&2; exit 2 ;;
esac
rom=
if [ -n "$pxe" ]; then
    case $NETDEV in
        user,*) ;;
        *) echo "run.sh: error: --pxe needs a user netdev (QEMU's TFTP server), not NETDEV='$NETDEV'" >&2; exit 2 ;;
    esac
    [ -f "$pxe/boot.ipxe" ] || { echo "run.sh: error: $pxe/boot.ipxe not found (make pxe prepares the directory)" >&2; exit 1; }
    case $pxe in *,*) echo "run.sh: error: the directory $pxe has a ',' in its path, which QEMU cannot take" >&2; exit 1 ;; esac
    # The ROM QEMU would pick for the NIC anyway, named so that its absence is a clear error.
    rom=/usr/lib/ipxe/qemu/efi-$QEMU_NIC.rom
    [ -f "$rom" ] || { echo "run.sh: error: $rom not found (support/deps.sh installs ipxe-qemu)" >&2; exit 1; }
    NETDEV="$NETDEV,tftp=$(cd "$pxe" && pwd),bootfile=boot.ipxe"
fi
args+=(-cpu Haswell -m 512 -no-reboot -netdev "$NETDEV" -device "$QEMU_NIC,netdev=net0,romfile=$rom")
if [ -n "$pxe" ]; then
    args+=(-boot n)
elif [ -n "$cdrom" ]; then
    [ -f "$cdrom" ] || { echo "run.sh: error: ISO $cdrom not found (make iso builds it)" >&2; exit 1; }
    args+=(-cdrom "$cdrom" -boot d)
else
    [ -n "$kernel" ] && [ -n "$image" ] || { echo "run.sh: error: need --kernel and --image, or --cdrom" >&2; exit 2; }
    [ -f "$kernel" ] || { echo "run.sh: error: kernel $kernel not found (make kernel builds it)" >&2; exit 1; }
    [ -f "$image" ] || { echo "run.sh: error: image $image not found (make image builds it)" >&2; exit 1; }
    args+=(-kernel "$kernel" -initrd "$image")
fi

if [ -t 0 ]; then
    # A terminal: serial and QEMU's monitor multiplexed on it, so Ctrl-A X quits.
    args+=(-nographic -serial mon:stdio)
    how="To leave QEMU: press Ctrl-A, then X."
else
    # No terminal (e.g. stdin from /dev/null, CI): plain serial output, no monitor to read
    # from stdin; QEMU runs until the guest powers off or QEMU is killed.
    args+=(-display none -vga none -monitor none -serial stdio)
    how="stdin is not a terminal: stop QEMU with Ctrl-C or by killing it."
fi

if [ -n "$dry" ]; then
    printf '%q ' "$QEMU" "${args[@]}"; echo
    exit 0
fi
if [ -n "$default_netdev" ] && ! python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(("", int(sys.argv[1])))' "$ECHO_PORT" 2>/dev/null; then
    echo "run.sh: error: host UDP port $ECHO_PORT is already in use (another QEMU running?); pick another with ECHO_PORT=<port>" >&2
    exit 1
fi
command -v "$QEMU" >/dev/null || { echo "run.sh: error: $QEMU not found (support/deps.sh installs qemu-system-x86)" >&2; exit 1; }
echo "run: booting ${pxe:-${cdrom:-$image}} under QEMU (TCG, q35$iommu_note, $QEMU_NIC on $NETDEV). $how" >&2
forwards_echo=
case ",$NETDEV," in
    *,hostfwd=udp::"$ECHO_PORT"-:7,*|*,hostfwd=udp:127.0.0.1:"$ECHO_PORT"-:7,*) forwards_echo=1 ;;
esac
if [ -n "$forwards_echo" ]; then
    # Once the guest's UDP echo answers a probe through the forwarded port, say how to reach
    # it. Gives up quietly after ~2 minutes (a system without the echo never answers) and
    # when QEMU (this process, after the exec below) is gone.
    qemu_pid=$$
    (
        for _ in $(seq 1 200); do
            sleep 0.5
            kill -0 "$qemu_pid" 2>/dev/null || exit 0
            if python3 - "$ECHO_PORT" 2>/dev/null <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
s.sendto(b"run.sh: probe", ("127.0.0.1", int(sys.argv[1])))
sys.exit(0 if s.recv(64) == b"run.sh: probe" else 1)
PY
            then
                echo "run: the echo service answers on host UDP port $ECHO_PORT (guest 10.0.2.15 port 7). From another shell:" >&2
                echo "run:     echo hi | nc -u -w1 127.0.0.1 $ECHO_PORT" >&2
                exit 0
            fi
        done
    ) &
fi
exec "$QEMU" "${args[@]}"
