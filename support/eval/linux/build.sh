#!/usr/bin/env bash
# `make linux-guest`: builds the evaluation's Linux baseline guest from Debian packages:
# build/linux/vmlinuz (the kernel linux-image-amd64 points at) and build/linux/initramfs.cpio.gz
# (busybox-static, that kernel's e1000 module and what it depends on, our static UDP echo from
# support/eval/linux-echo, and support/eval/linux/init). Packages come from `apt-get download`
# into build/linux/debs/ and are unpacked with dpkg-deb; nothing of it is committed.
# Idempotent: rebuilt only when a package version, this script, the init script or the echo
# binary changes (build/linux/stamp). Needs a Debian bookworm host (apt sources with the
# 6.1 kernel), cargo, gzip; root only to run `apt-get update` when the package lists are missing.
#
# usage: build.sh            env: CARGO (default cargo)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=$root/build/linux
debs=$out/debs
CARGO=${CARGO:-cargo}

say() { echo "linux-guest: $*" >&2; }
die() { echo "linux-guest: error: $*" >&2; exit 1; }

for tool in apt-get apt-cache dpkg-deb gzip sha256sum "$CARGO"; do
    command -v "$tool" >/dev/null || die "$tool not found: the Linux guest is built from Debian packages on a Debian host (apt, dpkg, gzip) with the Rust toolchain"
done
mkdir -p "$debs"

# One build at a time (a test and `make linux-guest` may race).
if command -v flock >/dev/null; then
    exec 9>"$out/.lock"
    flock 9
fi

# apt-cache/apt-get download read the package lists; refresh them once if they are missing.
lists_refreshed=
refresh_lists() {
    [ -z "$lists_refreshed" ] || return 1
    lists_refreshed=1
    if [ "$(id -u)" -ne 0 ]; then
        return 1
    fi
    say "package lists missing or stale: apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed (no network, or no Debian sources in /etc/apt?)"
}

candidate() { # package -> candidate version ("" if unknown)
    apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { if ($2 != "(none)") print $2; exit }'
}

kernel_pkg() { # the linux-image-6.1.*-amd64 that linux-image-amd64 depends on
    apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

kpkg=$(kernel_pkg)
if [ -z "$kpkg" ] && refresh_lists; then kpkg=$(kernel_pkg); fi
[ -n "$kpkg" ] || die "apt-cache knows no linux-image-amd64 (missing package lists: run 'apt-get update' as root; or not a Debian host)"
case $kpkg in
    linux-image-6.1.*-amd64) ;;
    *) die "linux-image-amd64 depends on $kpkg, not a linux-image-6.1.*-amd64 (the baseline is Debian bookworm's 6.1 kernel)" ;;
esac
kver=$(candidate "$kpkg")
bver=$(candidate busybox-static)
if { [ -z "$kver" ] || [ -z "$bver" ]; } && refresh_lists; then
    kver=$(candidate "$kpkg"); bver=$(candidate busybox-static)
fi
[ -n "$kver" ] || die "no installable version of $kpkg in the apt package lists"
[ -n "$bver" ] || die "no installable version of busybox-static in the apt package lists"

deb_file() { # package version -> the file name apt-get download writes
    echo "$debs/${1}_${2//:/%3a}_amd64.deb"
}

fetch() { # package version
    local pkg=$1 ver=$2 file
    file=$(deb_file "$pkg" "$ver")
    [ -s "$file" ] && return 0
    say "downloading $pkg $ver"
    local opts=()
    # As root, apt's download sandbox user cannot write here; skip it (just a warning otherwise).
    [ "$(id -u)" -ne 0 ] || opts=(-o APT::Sandbox::User=root)
    if ! (cd "$debs" && apt-get download -q "${opts[@]}" "$pkg=$ver" >&2); then
        refresh_lists || die "could not download $pkg $ver with apt-get download (network? apt sources?)"
        (cd "$debs" && apt-get download -q "${opts[@]}" "$pkg=$ver" >&2) \
            || die "could not download $pkg $ver with apt-get download even after apt-get update"
    fi
    [ -s "$file" ] || die "apt-get download left no $file"
    # Older versions of the same package are of no further use.
    find "$debs" -maxdepth 1 -name "${pkg}_*.deb" ! -path "$file" -delete
}
fetch "$kpkg" "$kver"
fetch busybox-static "$bver"

say "building the static UDP echo (support/eval/linux-echo)"
CARGO_TARGET_DIR=$out/target RUSTFLAGS='-C target-feature=+crt-static -C strip=symbols' \
    "$CARGO" build -q --release -p linux-echo --target x86_64-unknown-linux-gnu --manifest-path "$root/Cargo.toml" \
    || die "cargo could not build linux-echo"
echo_bin=$out/target/x86_64-unknown-linux-gnu/release/linux-echo
if command -v file >/dev/null && ! file -L "$echo_bin" | grep -q 'static'; then
    die "$echo_bin is not statically linked: $(file -L "$echo_bin")"
fi

key=$(
    echo "$kpkg $kver busybox-static $bver"
    sha256sum "$here/build.sh" "$here/init" "$echo_bin" | cut -d' ' -f1
)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$key" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initramfs.cpio.gz" ]; then
    say "up to date ($kpkg $kver, busybox-static $bver)"
    exit 0
fi
rm -f "$out/stamp"

say "unpacking $kpkg and busybox-static"
work=$out/work
rm -rf "$work"
mkdir -p "$work/kernel" "$work/busybox" "$work/root"
dpkg-deb -x "$(deb_file "$kpkg" "$kver")" "$work/kernel" || die "dpkg-deb could not unpack $kpkg"
dpkg-deb -x "$(deb_file busybox-static "$bver")" "$work/busybox" || die "dpkg-deb could not unpack busybox-static"
kname=${kpkg#linux-image-}
moddir=$work/kernel/lib/modules/$kname
vmlinuz=$work/kernel/boot/vmlinuz-$kname
busybox=$work/busybox/bin/busybox
[ -s "$vmlinuz" ] || die "$kpkg has no boot/vmlinuz-$kname"
[ -d "$moddir" ] || die "$kpkg has no lib/modules/$kname"
[ -x "$busybox" ] || die "busybox-static has no bin/busybox"

say "collecting e1000 and its dependencies"
r=$work/root
mkdir -p "$r/bin" "$r/lib/modules" "$r/proc" "$r/sys" "$r/dev" "$r/tmp"
order=()
module_file() { # module name -> its file under $moddir (.ko or .ko.xz; - and _ are the same)
    find "$moddir/kernel" \( -name "${1//[-_]/[-_]}.ko" -o -name "${1//[-_]/[-_]}.ko.xz" \) -print -quit
}
add_module() { # name: add its dependencies, then it, to $order (decompressed into the root)
    local name=${1//-/_} file plain dep m
    for m in "${order[@]}"; do [ "$m" != "$name.ko" ] || return 0; done
    file=$(module_file "$1")
    [ -n "$file" ] || die "$kpkg has no module $1 (needed for e1000)"
    plain=$r/lib/modules/$name.ko
    case $file in
        # busybox insmod loads only plain ELF modules.
        *.xz) xz -dc "$file" >"$plain" || die "could not decompress $file (xz missing?)" ;;
        *) cp "$file" "$plain" ;;
    esac
    for dep in $(tr '\0' '\n' <"$plain" | sed -n 's/^depends=//p' | tr ',' ' '); do
        add_module "$dep"
    done
    order+=("$name.ko")
}
add_module e1000
printf '%s\n' "${order[@]}" >"$r/lib/modules/load-order"
say "modules: ${order[*]}"

say "packing initramfs (busybox, modules, linux-echo, init)"
cp "$busybox" "$r/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$r/bin/$applet"
done
cp "$echo_bin" "$r/bin/linux-echo"
cp "$here/init" "$r/init"
chmod 755 "$r/init" "$r/bin/linux-echo"
(cd "$r" && find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null) | gzip -9n >"$out/initramfs.cpio.gz.tmp" \
    || die "could not pack the initramfs"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
cp "$vmlinuz" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
rm -rf "$work"
echo "$key" >"$out/stamp"
say "built build/linux/vmlinuz and build/linux/initramfs.cpio.gz ($kpkg $kver, busybox-static $bver)"
