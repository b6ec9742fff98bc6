#!/usr/bin/env bash
# Installs the Python modules the seL4 5.0 kernel build runs (ply, six: bitfield generator;
# tempita: invocation/syscall header generators) for $PYTHON (default python3), if missing.
# Fails loudly, naming what it could not install. Idempotent.
set -euo pipefail
PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || { echo "kernel deps: error: $PY not found (install python3)" >&2; exit 1; }
if ! "$PY" -c 'import ply, six, tempita' 2>/dev/null; then
    echo "kernel deps: installing Python modules ply, six, tempita for $PY" >&2
    "$PY" -m pip install --quiet ply==3.11 six tempita==0.6.0 2>/dev/null \
        || "$PY" -m pip install --quiet --break-system-packages ply==3.11 six tempita==0.6.0 2>/dev/null \
        || {
            # No pip (a stock Debian python3): Debian packages them too, for /usr/bin/python3.
            if [ "$(command -v "$PY")" = /usr/bin/python3 ] && command -v apt-get >/dev/null; then
                SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
                $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
                    --no-install-recommends python3-ply python3-six python3-tempita >/dev/null
            fi
        }
    "$PY" -c 'import ply, six, tempita' 2>/dev/null \
        || { echo "kernel deps: error: could not install ply, six and tempita for $PY (pip, or apt's python3-ply python3-six python3-tempita)" >&2; exit 1; }
fi
