#!/usr/bin/env bash
# `make lint`: clippy with warnings as errors on every crate, then rustfmt --check.
# Two clippy runs, because cargo unifies the features of everything one invocation builds: the
# host crates (the workspace's default members: libraries, tools, tests) pull std into shared
# dependencies (e.g. byteorder through hdrhistogram), which the freestanding PD crates, with
# their own panic handler, must never see. The PD crates are the members that are not default
# members; they are checked together, as `make image` builds them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo clippy --all-targets -- -D warnings
pds=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
m = json.load(sys.stdin)
default = set(m["workspace_default_members"])
names = {p["id"]: p["name"] for p in m["packages"]}
print(" ".join("-p " + names[i] for i in sorted(m["workspace_members"]) if i not in default))
')
# shellcheck disable=SC2086 # one -p per crate
cargo clippy $pds -- -D warnings
cargo fmt --all --check
