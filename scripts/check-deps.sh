#!/usr/bin/env bash
# Keeps crate dependencies pointing one way: proto, persist <- shard <- net <- tokenginx.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
deny() { # crate, forbidden dependencies...
  local crate=$1; shift
  for dep in "$@"; do
    if grep -Eq "^$dep(\.workspace| *=)" "$crate/Cargo.toml"; then
      echo "dependency direction: $crate must not depend on $dep" >&2; fail=1
    fi
  done
}
deny proto persist shard net
deny persist proto shard net
deny shard net
exit $fail
