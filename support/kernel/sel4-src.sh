#!/usr/bin/env bash
# Prints the path of the seL4 5.0.0 kernel source: the `seL4/` folder of the crates.io package
# sel4-sys 0.0.28, downloaded (never built) by cargo through the fetch-only manifest beside us.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
manifest=$(cargo metadata --format-version 1 --locked --manifest-path "$here/fetch/Cargo.toml" 2>/dev/null \
    || cargo metadata --format-version 1 --manifest-path "$here/fetch/Cargo.toml") \
    || { echo "sel4-src: error: cargo could not fetch sel4-sys 0.0.28 (is crates.io reachable?)" >&2; exit 1; }
path=$(printf '%s' "$manifest" | python3 -c '
import json, sys, os
m = json.load(sys.stdin)
for p in m["packages"]:
    if p["name"] == "sel4-sys" and p["version"] == "0.0.28":
        print(os.path.join(os.path.dirname(p["manifest_path"]), "seL4"))
        break
')
[ -n "$path" ] && [ -f "$path/Makefile" ] \
    || { echo "sel4-src: error: sel4-sys 0.0.28 fetched, but no seL4/Makefile inside it" >&2; exit 1; }
echo "$path"
