#!/usr/bin/env bash
# Side-by-side benchmark of TokenginX against redis-server on this machine
# (DESIGN.md section 6): same box, same pinning, same client, same data.
#
# Every server runs pinned to core 0 and the load generator (tgx-load) to
# core 1, so on a 2-core box neither steals the other's CPU. Each server gets:
#   - memory per key: FLUSHALL, then MEM_KEYS keys with 256-byte values and a
#     TTL, measured first on a fresh process so allocator pages kept from
#     earlier runs do not hide the growth;
#   - SET and GET, 50 connections, pipeline 1 and 16, 100-byte values,
#     uniformly random keys out of 1M (GET after pre-filling all 1M keys, so
#     it measures hits, not misses);
#   - server CPU per op: utime+stime of the server process plus core 0's
#     softirq time (loopback TCP processing), over the run, per request.
# Against redis-server only, the same four scenarios are then run again with
# redis-benchmark, to check that tgx-load agrees with it (within 10%) on the
# same server: a throughput figure is only as good as the client measuring it.
# Then durability, side by side with redis-server (scripts/bench_persist.sh):
# SET throughput and latency under each appendfsync policy, time to recover
# 1M keys from a snapshot/RDB and from the log/AOF alone, disk bytes per key.
# Last, eviction hit ratios of each maxmemory policy against exact LRU, on a
# Zipf trace and a scan-polluted one (tgx-evict-sim, in process, no server).
# Results go to bench/RESULTS.md (see scripts/bench_report.py), raw records
# to bench/results.jsonl.
#
# QUICK=1 runs fewer requests and keys, for trying the script out; PARTS
# picks parts (default "speed persist evict").
# TokenginX candidates are optional: one that does not build or does not
# answer PING within 10 s is reported as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
  REQ_P1=50000 REQ_P16=500000 MEM_KEYS=100000
  PERSIST_ROUNDS=1 PERSIST_RUN=2s RECOVER_KEYS=100000 RECOVER_ROUNDS=3
else
  REQ_P1=300000 REQ_P16=3000000 MEM_KEYS=1000000
  # The persistence runs are repeated (PERSIST_ROUNDS rounds of every policy,
  # RECOVER_ROUNDS of every timed start) and the report takes medians: the
  # machine may be shared, and fsync latency moves with other disk traffic.
  PERSIST_ROUNDS=5 PERSIST_RUN=5s RECOVER_KEYS=1000000 RECOVER_ROUNDS=5
fi
# Which parts run, for trying one out: speed (throughput, memory and the
# load generator check), persist (fsync policies, recovery, disk use), evict.
PARTS=${PARTS:-speed persist evict}
KEYSPACE=1000000
CONNS=50
MEM_VALUE=256
MEM_TTL=3600
SERVER_CORE=0
LOAD_CORE=1
READY_TIMEOUT_S=10

LOAD=target/release/tgx-load
TGX=target/release/tokenginx
OUT=bench/RESULTS.md
WORK=$(mktemp -d)
RECORDS=$WORK/records.jsonl
: >"$RECORDS"
SERVER_PID=

log() { printf '[bench] %s\n' "$*" >&2; }

cleanup() {
  stop_server
  rm -rf "$WORK"
  # Data dirs of the persistence part (scripts/bench_persist.sh): gigabytes.
  [[ -z ${PERSIST_ROOT:-} ]] || rm -rf "$PERSIST_ROOT"
}
trap cleanup EXIT

# ---- prerequisites -------------------------------------------------------

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null ||
  ! command -v redis-benchmark >/dev/null; then
  log "installing redis-server"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  # The package starts its own instance on 6379; it would only add noise.
  service redis-server stop >/dev/null 2>&1 || systemctl stop redis-server >/dev/null 2>&1 || true
fi
if [[ $(nproc) -lt 2 ]]; then
  log "needs at least 2 cores (server on core $SERVER_CORE, load on core $LOAD_CORE)"
  exit 1
fi

log "building (release)"
cargo build --release -p bench
TGX_BUILD_OK=1
if ! cargo build --release --bin tokenginx; then
  log "tokenginx did not build; its candidates will be skipped"
  TGX_BUILD_OK=0
fi

# ---- helpers ---------------------------------------------------------------

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

cli() { redis-cli -h 127.0.0.1 -p "$PORT" "$@"; }

# Polls PING until the server answers; fails after READY_TIMEOUT_S or as soon
# as the process has exited.
wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT_S))
  while ((SECONDS < deadline)); do
    if [[ $(cli ping 2>/dev/null) == PONG ]]; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# launch_server NAME CPUS CMD... : starts CMD pinned to CPUS, its output in
# $WORK/NAME.log, and returns at once.
launch_server() {
  local name=$1 cpus=$2
  shift 2
  # io_uring buffer rings are locked memory; the default limit is too small
  # for TokenginX. exec keeps the PID that of the server itself.
  (
    ulimit -l unlimited 2>/dev/null || ulimit -l "$(ulimit -Hl)" 2>/dev/null || true
    exec taskset -c "$cpus" "$@"
  ) >"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
}

# start_server NAME CPUS CMD... : starts CMD pinned to CPUS on $PORT and
# waits until it answers PING.
start_server() {
  launch_server "$@"
  wait_ready
}

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

proc_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
# All cores' busy time (user nice system irq softirq steal) and the part of
# it spent in interrupts, to estimate how much unrelated work ran alongside.
busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9, $7 + $8}' /proc/stat; }
softirq_ticks() { awk -v cpu="cpu$SERVER_CORE" '$1 == cpu {print $8}' /proc/stat; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }
# INFO used_memory, or -1 where the server does not report it.
used_memory() {
  local v
  v=$(cli info memory 2>/dev/null | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}')
  echo "${v:--1}"
}
dbsize() {
  local v
  v=$(cli dbsize 2>/dev/null | tr -d '\r')
  [[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo -1
}

load() { taskset -c "$LOAD_CORE" "$LOAD" --host 127.0.0.1 --port "$PORT" --json "$@" | tail -n 1; }

# ---- measurements ----------------------------------------------------------

measure_memory() {
  local server=$1
  cli flushall >/dev/null || return 1
  local rss0 mem0 rss1 mem1 keys loadjson
  rss0=$(rss_kb) mem0=$(used_memory)
  loadjson=$(load --load "$MEM_KEYS" --value-size "$MEM_VALUE" --ttl "$MEM_TTL") || return 1
  rss1=$(rss_kb) mem1=$(used_memory) keys=$(dbsize)
  printf '{"kind":"memory","server":"%s","keys":%d,"value_size":%d,"ttl":%d,"rss_kb_before":%d,"rss_kb_after":%d,"used_memory_before":%d,"used_memory_after":%d,"dbsize":%d,"load":%s}\n' \
    "$server" "$MEM_KEYS" "$MEM_VALUE" "$MEM_TTL" "$rss0" "$rss1" "$mem0" "$mem1" "$keys" "$loadjson" >>"$RECORDS"
  cli flushall >/dev/null
}

# run_scenario SERVER TEST PIPELINE REQUESTS [KIND [EXTRA]]: REQUESTS is a
# count, or seconds with an "s" (5s); KIND is the record's kind ("run" by
# default), EXTRA more JSON fields (`"a":1,`) for it.
run_scenario() {
  local server=$1 test=$2 pipeline=$3 requests=$4 kind=${5:-run} extra=${6:-}
  local limit=(--requests "$requests")
  [[ $requests == *s ]] && limit=(--duration "${requests%s}")
  local t0 s0 b0 t1 s1 b1 busy0 irq0 busy1 irq1 result
  t0=$(proc_ticks) s0=$(softirq_ticks) b0=$(busy_ticks)
  result=$(load --test "$test" --pipeline "$pipeline" "${limit[@]}" \
    --connections "$CONNS" --value-size 100 --keyspace "$KEYSPACE" --cpu "$LOAD_CORE") || return 1
  t1=$(proc_ticks) s1=$(softirq_ticks) b1=$(busy_ticks)
  read -r busy0 irq0 <<<"$b0"
  read -r busy1 irq1 <<<"$b1"
  printf '{"kind":"%s",%s"server":"%s","scenario":"%s P%d","proc_ticks":%d,"softirq_ticks":%d,"all_busy_ticks":%d,"all_irq_ticks":%d,"clk_tck":%d,"load":%s}\n' \
    "$kind" "$extra" "$server" "${test^^}" "$pipeline" "$((t1 - t0))" "$((s1 - s0))" "$((busy1 - busy0))" "$((irq1 - irq0))" \
    "$(getconf CLK_TCK)" "$result" >>"$RECORDS"
  log "$server ${extra:+${extra//\"/} }${test^^} P$pipeline: $(python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print("%.0f ops/s, p50 %s us, errors %d" % (r["rps"], r["p50_us"], r["errors"]))' "$result")"
}

# redis_benchmark SERVER TEST PIPELINE REQUESTS: one redis-benchmark run with
# the settings of the tgx-load scenarios, recorded with its requests/s (from
# --csv: a header line, then one quoted line per test, "SET","<rps>",...) and
# its own CPU time. redis-benchmark does not report its CPU and its /proc
# entry is gone once it exits, so it runs in a subshell that reads its
# children's utime+stime (cutime+cstime) from /proc after waiting for it;
# taskset execs it, so that child is redis-benchmark itself, all threads.
redis_benchmark() {
  local server=$1 test=$2 pipeline=$3 requests=$4
  local csv=$WORK/redis-benchmark.csv t0 t1 ticks rps p0 p1 b0 b1 busy0 irq0 busy1 irq1
  # Server and machine ticks too, so that the report can show how much
  # unrelated work disturbed these runs, as for the tgx-load ones.
  p0=$(proc_ticks) b0=$(busy_ticks)
  t0=$EPOCHREALTIME
  ticks=$(
    taskset -c "$LOAD_CORE" redis-benchmark -h 127.0.0.1 -p "$PORT" -t "$test" -P "$pipeline" \
      -n "$requests" -c "$CONNS" -d 100 -r "$KEYSPACE" --threads 1 --csv >"$csv" || exit 1
    awk '{print $16 + $17}' "/proc/$BASHPID/stat"
  ) || return 1
  t1=$EPOCHREALTIME
  p1=$(proc_ticks) b1=$(busy_ticks)
  read -r busy0 irq0 <<<"$b0"
  read -r busy1 irq1 <<<"$b1"
  rps=$(python3 -c '
import csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if r and r[0] == sys.argv[2]]
print(rows[0][1] if len(rows) == 1 else "")' "$csv" "${test^^}")
  if [[ ! $rps =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    log "redis-benchmark ${test^^} P$pipeline: no requests/s in its output"
    cat "$csv" >&2
    return 1
  fi
  printf '{"kind":"check","server":"%s","scenario":"%s P%d","client":"redis-benchmark","requests":%d,"rps":%s,"client_ticks":%d,"proc_ticks":%d,"all_busy_ticks":%d,"all_irq_ticks":%d,"clk_tck":%d,"elapsed_s":%s}\n' \
    "$server" "${test^^}" "$pipeline" "$requests" "$rps" "$ticks" "$((p1 - p0))" "$((busy1 - busy0))" "$((irq1 - irq0))" \
    "$(getconf CLK_TCK)" \
    "$(python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$t0" "$t1")" >>"$RECORDS"
  log "$server ${test^^} P$pipeline with redis-benchmark: $rps ops/s"
}

# All measurements of one running server; stops at the first failure (a
# crash, a stall) so that one broken candidate does not end the comparison.
bench_steps() {
  local name=$1
  log "$name: memory, $MEM_KEYS keys x ${MEM_VALUE} B with TTL"
  measure_memory "$name" || return 1
  # SETs first, on an empty keyspace, so they are mostly inserts as with
  # redis-benchmark; then every key is written once so that GETs are hits.
  run_scenario "$name" set 1 "$REQ_P1" || return 1
  run_scenario "$name" set 16 "$REQ_P16" || return 1
  log "$name: pre-filling all $KEYSPACE keys for GET"
  load --load "$KEYSPACE" --value-size 100 >/dev/null || return 1
  run_scenario "$name" get 1 "$REQ_P1" || return 1
  run_scenario "$name" get 16 "$REQ_P16" || return 1
}

# The tgx-load scenarios again with redis-benchmark, on a server that has run
# bench_steps. The keyspace goes through the same states as for tgx-load:
# SETs from an empty keyspace, GETs after pre-filling every key. That is why
# SET and GET are separate runs: `-t set,get` in one run would GET keys that
# only its own SETs wrote, mostly misses, which are cheaper than tgx-load's
# hits and would skew the comparison.
load_check() {
  local name=$1
  log "$name: the same scenarios with redis-benchmark ($(redis-benchmark --version))"
  printf '{"kind":"check_client","server":"%s","version":"%s"}\n' \
    "$name" "$(redis-benchmark --version | head -n 1 | tr -d '"\\')" >>"$RECORDS"
  cli flushall >/dev/null || return 1
  redis_benchmark "$name" set 1 "$REQ_P1" || return 1
  redis_benchmark "$name" set 16 "$REQ_P16" || return 1
  load --load "$KEYSPACE" --value-size 100 >/dev/null || return 1
  redis_benchmark "$name" get 1 "$REQ_P1" || return 1
  redis_benchmark "$name" get 16 "$REQ_P16" || return 1
}

# bench_server NAME CPUS NOTE CMD... ; @PORT@ in CMD becomes the chosen port.
bench_server() {
  local name=$1 cpus=$2 note=$3
  shift 3
  PORT=$(free_port)
  local cmd=("${@//@PORT@/$PORT}")
  log "$name: starting on port $PORT, cores $cpus"
  if ! start_server "$name" "$cpus" "${cmd[@]}"; then
    log "$name: no PONG within ${READY_TIMEOUT_S}s, skipped"
    printf '{"kind":"skipped","server":"%s","reason":"did not answer PING within %ds"}\n' "$name" "$READY_TIMEOUT_S" >>"$RECORDS"
    tail -n 5 "$WORK/$name.log" >&2 || true
    stop_server
    return 0
  fi
  # The version comes from the binary: TokenginX answers INFO with the Redis
  # version it is compatible with, not its own.
  printf '{"kind":"server","server":"%s","cpus":"%s","note":"%s","version":"%s","loadavg_before":"%s"}\n' \
    "$name" "$cpus" "$note" "$("${cmd[0]}" --version 2>/dev/null | head -n 1 | tr -d '"\\')" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RECORDS"
  if ! bench_steps "$name"; then
    log "$name: a measurement failed; its remaining steps were skipped"
    printf '{"kind":"skipped","server":"%s","reason":"a measurement failed part-way; later scenarios missing"}\n' "$name" >>"$RECORDS"
  elif [[ $name == redis ]] && ! load_check "$name"; then
    # Only the check is incomplete; the server's own figures stand.
    log "$name: the redis-benchmark check failed part-way"
    printf '{"kind":"check_failed","server":"%s","reason":"a redis-benchmark run failed; later check rows missing"}\n' "$name" >>"$RECORDS"
  fi
  stop_server
}

speed_bench() {
  bench_server redis "$SERVER_CORE" "" \
    redis-server --bind 127.0.0.1 --port @PORT@ --save '' --appendonly no

  # Like redis-server above, TokenginX keeps nothing on disk here (its
  # default config has a data dir); a build without [persist] settings would
  # refuse the variable, and keeps nothing anyway.
  if [[ -x $TGX ]] && tgx_setting_ok TOKENGINX_PERSIST_DIR ""; then
    export TOKENGINX_PERSIST_DIR=
  fi
  local shards name cpus note
  for shards in 1 2; do
    name="tokenginx-${shards}shard"
    cpus=$SERVER_CORE note=""
    if [[ $shards == 2 ]]; then
      # Two shard threads cannot share one core meaningfully: the server gets
      # both cores and so shares core 1 with the load generator.
      cpus="$SERVER_CORE,$LOAD_CORE"
      note="pinned to cores 0,1: shares core 1 with the load generator"
    fi
    if [[ $TGX_BUILD_OK == 0 || ! -x $TGX ]]; then
      printf '{"kind":"skipped","server":"%s","reason":"binary did not build"}\n' "$name" >>"$RECORDS"
      continue
    fi
    bench_server "$name" "$cpus" "$note" \
      "$TGX" --bind 127.0.0.1 --port @PORT@ --shards "$shards"
  done
  unset TOKENGINX_PERSIST_DIR
}

# shellcheck source=scripts/bench_persist.sh
source scripts/bench_persist.sh

[[ " $PARTS " == *" speed "* ]] && speed_bench
[[ " $PARTS " == *" persist "* ]] && persist_bench

# The raw records are kept beside the report so it can be regenerated.
cp "$RECORDS" bench/results.jsonl
python3 scripts/bench_report.py --quick "$QUICK" bench/results.jsonl "$OUT"

# Eviction hit ratios: in process with a fixed trace, so no server and no
# pinning (figures move by hundredths of a point: the keyspace's hasher is
# seeded per process). Alone: cargo run --release -p bench --bin tgx-evict-sim
if [[ " $PARTS " == *" evict "* ]]; then
  log "eviction policies on Zipf and scan traces"
  printf '\n' >>"$OUT"
  target/release/tgx-evict-sim --markdown >>"$OUT"
fi
log "wrote $OUT and bench/results.jsonl"
