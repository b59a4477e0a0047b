#!/usr/bin/env bash
# Installs what the integration tests talk to: redis-cli, redis-server (the
# reference for differential checks), redis-py, and Node.js with the npm
# packages pinned in tests/node/package-lock.json. Idempotent and quiet when
# everything is present already.
set -euo pipefail
need_apt=()
command -v redis-cli >/dev/null || need_apt+=(redis-tools)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v node >/dev/null || need_apt+=(nodejs)
# Debian ships npm apart from nodejs; other builds of nodejs bundle it, and
# asking apt for Debian's npm next to them would conflict.
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # The distribution starts a redis-server on 6379; the tests start their own.
  (systemctl stop redis-server || service redis-server stop) >/dev/null 2>&1 || true
fi
# redis-py 5+ for RESP3 (protocol=3). Distributions that mark their Python as
# externally managed (PEP 668) refuse a plain pip install.
if ! python3 -c 'import redis, sys; sys.exit(int(redis.__version__.split(".")[0]) < 5)' 2>/dev/null; then
  python3 -m pip install -q --disable-pip-version-check 'redis>=5' 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages 'redis>=5'
fi

# The Node.js client tests' packages, exactly as locked. `npm ci` wipes and
# rebuilds node_modules, so it runs only when the lock file changed since the
# last install (its hash is kept inside node_modules).
node_dir="$(cd "$(dirname "$0")/../tests/node" && pwd)"
lock_hash="$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)"
stamp="$node_dir/node_modules/.tokenginx-lock-sha256"
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$lock_hash" >"$stamp"
fi
