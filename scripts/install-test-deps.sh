#!/usr/bin/env bash
# Installs what the integration tests talk to: redis-cli, redis-server (the
# reference for differential checks) and redis-py. Idempotent and quiet when
# everything is present already.
set -euo pipefail
need_apt=()
command -v redis-cli >/dev/null || need_apt+=(redis-tools)
command -v redis-server >/dev/null || need_apt+=(redis-server)
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
