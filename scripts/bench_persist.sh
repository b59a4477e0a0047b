# Persistence part of `make bench`, sourced by scripts/bench.sh after its
# helpers (log, cli, launch_server, start_server, stop_server, load,
# run_scenario, free_port, dbsize) and settings. TokenginX runs with one
# shard, so that both servers have core 0 and nothing else. Three parts:
#
#   1. SET P1 and P16 (the SET scenarios of the main tables, PERSIST_RUN
#      seconds each) on a fresh server per fsync policy: TokenginX with
#      [persist] appendfsync always / everysec / no and with no data dir,
#      redis-server with appendonly yes and appendfsync always / everysec / no
#      and with `save "" appendonly no`, one after the other per policy, all
#      of it PERSIST_ROUNDS times (the report takes each row's median round:
#      on a shared machine one disturbed run says little). Snapshots and log
#      compaction are off on both (`save ""`; Redis auto-aof-rewrite-percentage
#      0, TokenginX snapshot_wal_size 0): what is measured is the cost of the
#      log and of its fsync policy, not of a background rewrite that happens
#      to start during one run and not another.
#   2. Recovery of RECOVER_KEYS keys (256-byte random alphanumeric values,
#      EX 3600): the server is killed with SIGKILL after the fill, the data
#      dir's files are written back and dropped from the page cache (fsync +
#      posix_fadvise DONTNEED, checked with fincore), and the time from
#      starting the process to the first +PONG is measured (scripts/
#      bench_wait_pong.py polls PING every 2 ms and counts -LOADING answers).
#      Redis: replaying its AOF (aof-use-rdb-preamble no, auto-rewrite off, so
#      the file is the commands as written) and loading its RDB (after SAVE).
#      TokenginX: replaying its WAL (no snapshot taken: save "" and
#      snapshot_wal_size 0) and loading its snapshot (after SAVE). Each
#      server's own log line about the load is kept as well. Also timed: a
#      start on an empty data dir, the floor under every recovery figure.
#      Every timed start is done RECOVER_ROUNDS times; the report shows the
#      median. Then RECOVER_ROUNDS more with the files left in the page cache
#      (warm: a process restart rather than a machine's).
#   3. Disk bytes per key: the data dir (or file) as written by the fill and
#      after compaction: TokenginX after SAVE, Redis's RDB and its AOF after
#      BGREWRITEAOF.
#
# Data dirs live under target/ on the repository's disk: fsync on tmpfs is
# free and would make every policy look the same, so tmpfs is refused.

PERSIST_ROOT=$PWD/target/bench-persist
RECOVER_VALUE=256
RECOVER_TTL=3600
RECOVER_TIMEOUT_S=600
PERSIST_MODES=(off no everysec always)
TGX_NO_AUTO=()

# jrec KEY=VALUE... : appends one JSON record to $RECORDS. A VALUE that is
# valid JSON is kept as such (numbers, objects, null), anything else is a
# string.
jrec() {
  python3 -c '
import json, sys
rec = {}
for arg in sys.argv[1:]:
    key, _, value = arg.partition("=")
    try:
        rec[key] = json.loads(value)
    except ValueError:
        rec[key] = value
print(json.dumps(rec))' "$@" >>"$RECORDS"
}

# Apparent size (what the files hold) and allocated size (what the disk
# gives them: preallocated log segments show here) of a directory or file.
apparent_bytes() { du -sb "$1" | cut -f1; }
allocated_bytes() { du -sB1 "$1" | cut -f1; }
# "name:size ..." of every file under a directory, for the raw records.
file_list() { (cd "$1" && find . -type f -printf '%P:%s ' | sed 's/ $//'); }
# Bytes of the files under a directory that sit in the page cache.
cached_bytes() {
  find "$1" -type f -exec fincore --bytes --noheadings --output RES {} + 2>/dev/null |
    awk '{s += $1} END {print s + 0}'
}

# Writes back and drops from the page cache every file under a directory, so
# that a restart reads from the disk whatever the server wrote through (Redis)
# or around (TokenginX's O_DIRECT WAL) the cache. Only these files: dropping
# the whole cache would also slow down whatever else runs on the machine.
evict_cache() {
  python3 - "$1" <<'EOF'
import os, sys
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        fd = os.open(os.path.join(root, name), os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
EOF
}

# SIGKILL: a crash, and no shutdown work (a final snapshot, say) to wait for.
crash_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# INFO persistence as a JSON object ({} where the server has no such section).
persistence_info() {
  cli info persistence 2>/dev/null | tr -d '\r' | python3 -c '
import json, sys
print(json.dumps(dict(l.split(":", 1) for l in sys.stdin.read().splitlines() if ":" in l)))'
}

# Last line of a server log that reports a load, without colour codes.
load_log_line() {
  sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -iE 'loaded|recover|replay' | grep -E '[0-9]' | tail -n 1
}

# Whether the TokenginX binary takes [persist] settings (the env variable
# would stop an older binary at start-up: unknown setting).
tgx_setting_ok() { env "$1=$2" "$TGX" --check-config >/dev/null 2>&1; }

# tgx_cmd FSYNC DIR: the TokenginX command line, in CMD, for one fsync
# policy ("off" = no data dir), with no snapshot but on request.
tgx_cmd() {
  local fsync=$1 dir=$2
  CMD=(env)
  if [[ $fsync == off ]]; then
    CMD+=(TOKENGINX_PERSIST_DIR=)
  else
    CMD+=("TOKENGINX_PERSIST_DIR=$dir" "TOKENGINX_PERSIST_APPENDFSYNC=$fsync" TOKENGINX_PERSIST_SAVE=)
    CMD+=("${TGX_NO_AUTO[@]}")
  fi
  CMD+=("$TGX" --bind 127.0.0.1 --port "$PORT" --shards 1)
}

# redis_cmd FSYNC DIR [ARGS...]: the same for redis-server: no RDB but on
# request, and an AOF that is not rewritten but on request.
redis_cmd() {
  local fsync=$1 dir=$2
  shift 2
  CMD=(redis-server --bind 127.0.0.1 --port "$PORT" --dir "$dir" --save '')
  if [[ $fsync == off ]]; then
    CMD+=(--appendonly no)
  else
    CMD+=(--appendonly yes --appendfsync "$fsync" --auto-aof-rewrite-percentage 0)
  fi
  CMD+=("$@")
}

# One fsync policy on one server: fresh data dir, SET P1 then SET P16.
persist_throughput_one() {
  local server=$1 fsync=$2 round=$3
  local dir=$PERSIST_ROOT/$server-$fsync extra="\"fsync\":\"$fsync\",\"round\":$round,"
  rm -rf "$dir" && mkdir -p "$dir"
  PORT=$(free_port)
  if [[ $server == redis ]]; then redis_cmd "$fsync" "$dir"; else tgx_cmd "$fsync" "$dir"; fi
  if ! start_server "persist-$server-$fsync" "$SERVER_CORE" "${CMD[@]}"; then
    log "$server appendfsync=$fsync: no PONG within ${READY_TIMEOUT_S}s, skipped"
    jrec kind=persist_skipped "server=$server" "fsync=$fsync" "reason=did not answer PING within ${READY_TIMEOUT_S}s"
    crash_server
    return 1
  fi
  local ok=1
  run_scenario "$server" set 1 "$PERSIST_RUN" persist_run "$extra" &&
    run_scenario "$server" set 16 "$PERSIST_RUN" persist_run "$extra" || ok=0
  jrec kind=persist_state "server=$server" "fsync=$fsync" "round=$round" "info=$(persistence_info)" \
    "dir_bytes=$(apparent_bytes "$dir")" "dbsize=$(dbsize)"
  if [[ $ok == 0 ]]; then
    jrec kind=persist_skipped "server=$server" "fsync=$fsync" "reason=a SET run failed part-way"
  fi
  crash_server
  rm -rf "$dir"
}

# Fills RECOVER_KEYS keys into the running server and records the load.
persist_fill() {
  local server=$1 result
  result=$(load --load "$RECOVER_KEYS" --value-size "$RECOVER_VALUE" --ttl "$RECOVER_TTL" --random-values) ||
    return 1
  jrec kind=persist_fill "server=$server" "load=$result" "dbsize=$(dbsize)"
}

# persist_disk SERVER FORM PATH: the size of PATH, per key.
persist_disk() {
  local server=$1 form=$2 path=$3 files=
  [[ -d $path ]] && files=$(file_list "$path")
  jrec kind=persist_disk "server=$server" "form=$form" "keys=$RECOVER_KEYS" \
    "apparent_bytes=$(apparent_bytes "$path")" "allocated_bytes=$(allocated_bytes "$path")" "files=$files"
}

# timed_start SERVER SOURCE DIR CMD...: RECOVER_ROUNDS times, crashes the
# running server (if any), drops DIR's files from the page cache, starts CMD
# and records the time to its first +PONG. Leaves the last server running.
timed_start() {
  local round cache
  for cache in cold warm; do
    for ((round = 1; round <= RECOVER_ROUNDS; round++)); do
      timed_start_once "$cache" "$round" "$@" || return 1
    done
  done
}

timed_start_once() {
  local cache=$1 round=$2 server=$3 source=$4 dir=$5
  shift 5
  crash_server
  [[ $cache == warm ]] || evict_cache "$dir"
  local cached name="recover-$server-$source-$cache-$round" t0 wait_json ready=
  cached=$(cached_bytes "$dir")
  # The poller starts first and says when it is ready, so that its own
  # start-up is not part of the figure; then it gets the server's PID.
  coproc POLLER { taskset -c "$LOAD_CORE" python3 scripts/bench_wait_pong.py "$PORT" "$RECOVER_TIMEOUT_S"; }
  local poller_pid=$POLLER_PID poll_in=${POLLER[1]} poll_out=${POLLER[0]}
  read -r ready <&"$poll_out" || true
  if [[ $ready != ready ]]; then
    log "$server from $source: the PING poller did not start"
    wait "$poller_pid" 2>/dev/null || true
    return 1
  fi
  t0=$EPOCHREALTIME
  launch_server "$name" "$SERVER_CORE" "$@"
  echo "$SERVER_PID" >&"$poll_in"
  read -r wait_json <&"$poll_out" || wait_json=
  wait "$poller_pid" 2>/dev/null || true
  if [[ $wait_json != *'"pong_at": '[0-9]* ]]; then
    log "$server from $source: no PONG within ${RECOVER_TIMEOUT_S}s"
    tail -n 5 "$WORK/$name.log" >&2 || true
    jrec kind=persist_skipped "server=$server" "source=$source" "reason=no PONG after restart: $wait_json"
    crash_server
    return 1
  fi
  jrec kind=persist_recovery "server=$server" "source=$source" "cache=$cache" "round=$round" "keys=$RECOVER_KEYS" "t0=$t0" \
    "wait=$wait_json" "dbsize=$(dbsize)" "cached_bytes_before=$cached" \
    "data_bytes=$(apparent_bytes "$dir")" "log_line=$(load_log_line "$WORK/$name.log")"
  log "$server from $source, $cache ($round/$RECOVER_ROUNDS): $(python3 -c 'import json, sys; w = json.loads(sys.argv[2]); print("%.3f s to PONG" % (w["pong_at"] - float(sys.argv[1])))' "$t0" "$wait_json"), DBSIZE $(dbsize)"
}

persist_recovery_redis() {
  local dir=$PERSIST_ROOT/redis-recovery
  rm -rf "$dir" && mkdir -p "$dir"
  PORT=$(free_port)
  # The AOF as the commands were written: no RDB preamble (and, as always
  # here, no automatic rewrite).
  redis_cmd everysec "$dir" --aof-use-rdb-preamble no
  local aof=("${CMD[@]}")
  timed_start redis empty "$dir" "${aof[@]}" || return 1
  log "redis: filling $RECOVER_KEYS keys x ${RECOVER_VALUE} B with TTL"
  persist_fill redis || return 1
  persist_disk redis "AOF as written" "$dir/appendonlydir"
  timed_start redis aof "$dir" "${aof[@]}" || return 1
  cli bgrewriteaof >/dev/null || return 1
  # The rewrite runs in a forked child; INFO says when it is over.
  while cli info persistence | tr -d '\r' | grep -qE '^aof_rewrite_(in_progress|scheduled):1'; do sleep 0.1; done
  persist_disk redis "AOF after BGREWRITEAOF" "$dir/appendonlydir"
  [[ $(cli save | tr -d '\r') == OK ]] || return 1
  persist_disk redis "RDB after SAVE" "$dir/dump.rdb"
  # Only the RDB is left for the last start, which does not read the AOF.
  crash_server
  rm -rf "$dir/appendonlydir"
  redis_cmd off "$dir"
  timed_start redis rdb "$dir" "${CMD[@]}" || return 1
  crash_server
  rm -rf "$dir"
}

persist_recovery_tgx() {
  local dir=$PERSIST_ROOT/tokenginx-recovery
  rm -rf "$dir" && mkdir -p "$dir"
  PORT=$(free_port)
  tgx_cmd everysec "$dir"
  local wal=("${CMD[@]}")
  timed_start tokenginx empty "$dir" "${wal[@]}" || return 1
  log "tokenginx: filling $RECOVER_KEYS keys x ${RECOVER_VALUE} B with TTL"
  persist_fill tokenginx || return 1
  persist_disk tokenginx "WAL as written" "$dir"
  timed_start tokenginx wal "$dir" "${wal[@]}" || return 1
  local reply
  reply=$(cli save 2>&1 | tr -d '\r')
  if [[ $reply != OK ]]; then
    log "tokenginx: SAVE answered: $reply"
    jrec kind=persist_skipped server=tokenginx source=snapshot "reason=SAVE answered: $reply"
    crash_server
    return 1
  fi
  persist_disk tokenginx "data dir after SAVE" "$dir"
  timed_start tokenginx snapshot "$dir" "${wal[@]}" || return 1
  crash_server
  rm -rf "$dir"
}

# fsync latency of this disk: 500 appends of 128 bytes, each followed
# by fsync, in the data dir root (the cost every `always` write waits for).
persist_fsync_probe() {
  local when=$1 result
  result=$(python3 - "$PERSIST_ROOT/fsync-probe" <<'EOF'
import json, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
lat = []
for _ in range(500):
    os.write(fd, b"x" * 128)
    t = time.perf_counter()
    os.fsync(fd)
    lat.append(time.perf_counter() - t)
os.close(fd)
os.unlink(sys.argv[1])
lat.sort()
q = lambda p: round(lat[min(int(p * len(lat)), len(lat) - 1)] * 1e6, 1)
print(json.dumps({"n": len(lat), "p50_us": q(0.5), "p99_us": q(0.99), "max_us": round(lat[-1] * 1e6, 1)}))
EOF
  )
  jrec kind=persist_fsync "when=$when" "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)" "fs=$(stat -f -c %T "$PERSIST_ROOT")" "device=$(df --output=source "$PERSIST_ROOT" | tail -n 1)" \
    "probe=$result"
  log "fsync of a 128-byte append ($when) on $(df --output=source "$PERSIST_ROOT" | tail -n 1): $result"
}

persist_bench() {
  mkdir -p "$PERSIST_ROOT"
  local fs
  fs=$(stat -f -c %T "$PERSIST_ROOT")
  if [[ $fs == tmpfs || $fs == ramfs ]]; then
    log "persistence: $PERSIST_ROOT is on $fs, where fsync costs nothing; skipped"
    jrec kind=persist_skipped server=all "reason=data dir on $fs, where fsync is free"
    return 0
  fi
  # The disk is shared too: its latency is probed before and after.
  persist_fsync_probe before
  local tgx_ok=1
  if [[ $TGX_BUILD_OK == 0 || ! -x $TGX ]]; then
    tgx_ok=0
    jrec kind=persist_skipped server=tokenginx "reason=binary did not build"
  elif ! tgx_setting_ok TOKENGINX_PERSIST_DIR ""; then
    tgx_ok=0
    jrec kind=persist_skipped server=tokenginx "reason=this build has no [persist] settings"
    log "persistence: this tokenginx has no [persist] settings; redis-server only"
  else
    jrec kind=persist_server server=tokenginx "version=$("$TGX" --version | head -n 1)"
    # No snapshot but on request, however large the WAL grows (a build
    # without the setting takes none by size anyway).
    TGX_NO_AUTO=()
    if tgx_setting_ok TOKENGINX_PERSIST_SNAPSHOT_WAL_SIZE 0; then
      TGX_NO_AUTO=(TOKENGINX_PERSIST_SNAPSHOT_WAL_SIZE=0)
    fi
    # The [persist] settings in effect (for `always`; the others differ only
    # in appendfsync), from --check-config: one line per key.
    PORT=0
    tgx_cmd always "$PERSIST_ROOT/check"
    jrec kind=persist_config server=tokenginx \
      "settings=$("${CMD[@]}" --check-config | sed -n '/^\[persist\]/,/^\[/{/^dir =\|^\[/!p}' | sed 's/  #.*//' | paste -sd ';')"
  fi
  jrec kind=persist_server server=redis "version=$(redis-server --version | head -n 1)"
  local fsync round
  for ((round = 1; round <= PERSIST_ROUNDS; round++)); do
    for fsync in "${PERSIST_MODES[@]}"; do
      log "persistence: round $round/$PERSIST_ROUNDS, appendfsync $fsync"
      persist_throughput_one redis "$fsync" "$round" || true
      if [[ $tgx_ok == 1 ]]; then persist_throughput_one tokenginx "$fsync" "$round" || true; fi
    done
  done
  log "persistence: recovery of $RECOVER_KEYS keys"
  if ! persist_recovery_redis; then
    log "redis recovery: a step failed; later steps skipped"
    jrec kind=persist_skipped server=redis source=recovery "reason=a recovery step failed part-way"
  fi
  crash_server
  if [[ $tgx_ok == 1 ]] && ! persist_recovery_tgx; then
    log "tokenginx recovery: a step failed; later steps skipped"
    jrec kind=persist_skipped server=tokenginx source=recovery "reason=a recovery step failed part-way"
  fi
  crash_server
  persist_fsync_probe after
  rm -rf "$PERSIST_ROOT"
}
