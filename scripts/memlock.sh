#!/usr/bin/env bash
# Runs a command with the locked-memory limit raised: io_uring's registered
# buffer rings count against RLIMIT_MEMLOCK (see tuning.md).
set -euo pipefail
ulimit -l unlimited 2>/dev/null || ulimit -l "$(ulimit -Hl)" 2>/dev/null || true
exec "$@"
