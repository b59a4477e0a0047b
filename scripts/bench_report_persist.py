"""The persistence section of bench/RESULTS.md, from the persist_* records
that scripts/bench_persist.sh writes (see there for how each is measured):

  persist_fsync    - fsync latency probe of the data dir's disk
  persist_server   - a server taking part, and its version
  persist_config   - TokenginX's [persist] settings in effect
  persist_run      - one SET scenario under one appendfsync policy ("off" =
                     no persistence): tgx-load's JSON and the server's ticks
  persist_state    - INFO persistence and the data dir size after those runs
  persist_fill     - the fill before the recovery measurements
  persist_recovery - one timed start: source (empty, wal, snapshot, aof,
                     rdb), t0, the poller's JSON, DBSIZE, the server's log line
  persist_disk     - bytes on disk of one form of the data set
  persist_skipped  - something not measured, and why
"""

import re

POLICIES = ["off", "no", "everysec", "always"]
SERVERS = ["redis", "tokenginx"]
SCENARIOS = ["SET P1", "SET P16"]
SOURCES = [
    ("tokenginx", "snapshot", "TokenginX: snapshot (after SAVE)"),
    ("redis", "rdb", "Redis: RDB (after SAVE)"),
    ("tokenginx", "wal", "TokenginX: WAL only, no snapshot"),
    ("redis", "aof", "Redis: AOF only, commands (aof-use-rdb-preamble no)"),
    ("tokenginx", "empty", "TokenginX: empty data dir (floor)"),
    ("redis", "empty", "Redis: empty data dir (floor)"),
]
# Issue targets.
ALWAYS_VS_REDIS = 2.0
EVERYSEC_VS_OFF = 0.90


def _fmt(value, digits=0):
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(a, b):
    return None if a is None or not b else a / b


def _fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def _verdict(ok):
    return "-" if ok is None else ("**met**" if ok else "**not met**")


def _cpu_us_per_op(run):
    requests = run["load"]["requests"]
    if not requests:
        return None
    return (run["proc_ticks"] + run["softirq_ticks"]) / run["clk_tck"] * 1e6 / requests


def _other_load(run):
    wall = run["load"]["elapsed_s"]
    if wall <= 0:
        return None
    other = (run["all_busy_ticks"] - run["all_irq_ticks"] - run["proc_ticks"]) / run["clk_tck"]
    return max(other - run["load"]["client_cpu_s"], 0.0) / wall


def _log_seconds(line):
    """The load time a server printed, in seconds, if its line has one."""
    m = re.search(r"([0-9]+(?:\.[0-9]+)?)\s*(seconds?|secs?|s|ms|us|µs)\b", line or "")
    if not m:
        return None
    scale = {"ms": 1e-3, "us": 1e-6, "µs": 1e-6}.get(m.group(2), 1.0)
    return float(m.group(1)) * scale


def _to_pong(rec):
    pong = rec["wait"].get("pong_at")
    return None if pong is None else pong - rec["t0"]


def _median_run(runs):
    """The round with the median throughput (the lower one of an even count)."""
    ordered = sorted(runs, key=lambda r: r["load"]["rps"])
    return ordered[(len(ordered) - 1) // 2]


def _spread(rounds):
    """min-max ops/s over the rounds, or "" for a single round."""
    if not rounds or len(rounds) < 2:
        return ""
    rps = [r["load"]["rps"] for r in rounds]
    return f" ({min(rps) / 1000:,.0f}k-{max(rps) / 1000:,.0f}k)"


def _median_start(starts):
    """The timed start with the median time to +PONG (the lower of two)."""
    ordered = sorted(starts, key=lambda r: _to_pong(r) or float("inf"))
    return ordered[(len(ordered) - 1) // 2]


def _throughput(runs, rounds, states):
    lines = [
        "### SET throughput by fsync policy",
        "",
        "Fresh server and data dir per policy; SET P1 then SET P16 as in the main tables (50"
        " connections, 100-byte values, random keys out of 1M). `off` is no persistence at all"
        " (TokenginX: no data dir; Redis: `save \"\" appendonly no`). Ratios: TokenginX over Redis"
        " at the same policy, and each server over its own `off` row.",
        "",
    ]
    n = max((len(rs) for rs in rounds.values()), default=0)
    if n > 1:
        lines += [
            f"Every row is the median of {n} rounds by ops/s (all policies and both servers once"
            " per round, in turn), with that round's latency and CPU; in brackets the lowest and"
            " highest ops/s of the rounds. Other load: in that round, Redis then TokenginX; for"
            " the policies that write it also counts the kernel's journal and writeback threads"
            " (jbd2, kworker) that the server's own writes set to work, so there not all of it is"
            " disturbance.",
            "",
        ]
    for scenario in SCENARIOS:
        lines += [
            f"#### {scenario}",
            "",
            "| appendfsync | Redis ops/s | Redis p50 us | Redis p99 us | Redis CPU us/op"
            " | TokenginX ops/s | TokenginX p50 us | TokenginX p99 us | TokenginX CPU us/op"
            " | TokenginX / Redis ops/s | p99 ratio | Redis / its off | TokenginX / its off | other load |",
            "|---|" + "---:|" * 13,
        ]
        for policy in POLICIES:
            r, t = runs.get(("redis", policy, scenario)), runs.get(("tokenginx", policy, scenario))
            r_off, t_off = runs.get(("redis", "off", scenario)), runs.get(("tokenginx", "off", scenario))
            rps = lambda x: x["load"]["rps"] if x else None
            p50 = lambda x: x["load"]["p50_us"] if x else None
            p99 = lambda x: x["load"]["p99_us"] if x else None
            cpu = lambda x: _cpu_us_per_op(x) if x else None
            other = ", ".join(_fmt(_other_load(x), 2) for x in (r, t) if x)
            r_sp = _spread(rounds.get(("redis", policy, scenario)))
            t_sp = _spread(rounds.get(("tokenginx", policy, scenario)))
            lines.append(
                f"| {policy} | {_fmt(rps(r))}{r_sp} | {_fmt(p50(r), 1)} | {_fmt(p99(r), 1)} | {_fmt(cpu(r), 2)}"
                f" | {_fmt(rps(t))}{t_sp} | {_fmt(p50(t), 1)} | {_fmt(p99(t), 1)} | {_fmt(cpu(t), 2)}"
                f" | {_fmt_ratio(_ratio(rps(t), rps(r)))} | {_fmt_ratio(_ratio(p99(t), p99(r)))}"
                f" | {_fmt_ratio(_ratio(rps(r), rps(r_off))) if policy != 'off' else ''}"
                f" | {_fmt_ratio(_ratio(rps(t), rps(t_off))) if policy != 'off' else ''}"
                f" | {other or '-'} |"
            )
        lines.append("")
    # Background compaction during the runs (each server's default).
    notes = []
    for server in SERVERS:
        for policy in POLICIES[1:]:
            infos = [st.get("info") or {} for st in states.get((server, policy), [])]
            counts = [
                f"{k} {'+'.join(i[k] for i in infos)}"
                for k in ("aof_rewrites", "rdb_saves")
                if infos and all(k in i for i in infos)
            ]
            if counts:
                notes.append(f"{server} {policy}: {', '.join(counts)}")
    lines += [
        "No snapshot and no log compaction ran during these runs (`save \"\"` on both, Redis"
        " `auto-aof-rewrite-percentage 0`, TokenginX `snapshot_wal_size 0`): the figures are the"
        " cost of the log and its fsync policy alone."
        + (
            " Rewrites and snapshots counted by INFO persistence after both runs of each round"
            " (rounds joined by +): " + "; ".join(notes) + "."
            if notes
            else ""
        ),
        "",
    ]
    return lines


def _recovery(recs, restarts, fills):
    lines = [
        "### Recovery",
        "",
    ]
    fill = next(iter(fills.values()), None)
    if fill:
        n = max((len(rs) for rs in restarts.values()), default=0)
        lines += [
            f"{fill['load']['requests']:,} keys, {fill['load']['value_size']}-byte random alphanumeric"
            f" values, `EX {fill['load']['ttl']}`, written with tgx-load (pipeline 64) under appendfsync"
            " everysec; then SIGKILL and a timed start: from starting the process to the first +PONG"
            " (PING polled every 2 ms; a loading server answers -LOADING). Cold: the data dir's files"
            " written back and dropped from the page cache before the start (a machine restart);"
            " warm: left in the cache by the start before (a process restart)."
            + (
                f" Each start was done {n} times; a cell is the median by time to +PONG, in brackets"
                " the fastest and slowest."
                if n > 1
                else ""
            )
            + " The floor rows are a start on an empty data dir: process start-up alone. Server log:"
            " the load time the server itself printed (median start).",
            "",
        ]
    lines += [
        "| recovery from | DBSIZE after | cold: to +PONG s | cold: server log | warm: to +PONG s"
        " | warm: server log | -LOADING answers | data dir MB | page cache before, cold / warm |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cells(server, source, cache):
        rec = recs.get((server, source, cache))
        if rec is None:
            return None, "-", "-"
        times = [_to_pong(r) for r in restarts[(server, source, cache)] if _to_pong(r) is not None]
        spread = f" ({min(times):.3f}-{max(times):.3f})" if len(times) > 1 else ""
        log_s = _log_seconds(rec.get("log_line")) if source != "empty" else None
        return rec, f"{_fmt(_to_pong(rec), 3)}{spread}", (f"{log_s:.3f} s" if log_s is not None else "-")

    for server, source, label in SOURCES:
        cold, cold_t, cold_log = cells(server, source, "cold")
        warm, warm_t, warm_log = cells(server, source, "warm")
        rec = cold or warm
        if rec is None:
            lines.append(f"| {label} |" + " - |" * 8)
            continue
        cached = " / ".join(
            "-" if r is None else f"{r['cached_bytes_before'] / 1e6:,.1f} MB" for r in (cold, warm)
        )
        lines.append(
            f"| {label} | {rec['dbsize']:,} | {cold_t} | {cold_log} | {warm_t} | {warm_log}"
            f" | {rec['wait']['loading_replies']} | {rec['data_bytes'] / 1e6:,.1f} | {cached} |"
        )
    lines.append("")
    logged = [
        f"- {label}, {cache}: `{recs[(s, src, cache)]['log_line']}`"
        for s, src, label in SOURCES
        for cache in ("cold", "warm")
        if (s, src, cache) in recs and src != "empty" and recs[(s, src, cache)].get("log_line")
    ]
    if logged:
        lines += ["Server log lines:", ""] + logged + [""]
    return lines


def _disk(disks):
    lines = [
        "### Disk bytes per key",
        "",
        "Apparent size (what the files hold) and allocated size (what the file system gives them,"
        " preallocated log space included) over the keys filled.",
        "",
        "| server | form | keys | apparent B/key | allocated B/key | files |",
        "|---|---|---:|---:|---:|---|",
    ]
    for d in disks:
        files = d.get("files") or "-"
        lines.append(
            f"| {d['server']} | {d['form']} | {d['keys']:,} | {d['apparent_bytes'] / d['keys']:,.1f}"
            f" | {d['allocated_bytes'] / d['keys']:,.1f} | {files} |"
        )
    lines.append("")
    return lines


def _targets(runs, recs, disks):
    lines = [
        "### Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    rps = lambda s, p, sc: runs[(s, p, sc)]["load"]["rps"] if (s, p, sc) in runs else None
    for sc in SCENARIOS:
        r = _ratio(rps("tokenginx", "always", sc), rps("redis", "always", sc))
        lines.append(
            f"| `always` throughput >= {ALWAYS_VS_REDIS:.0f}x Redis `always`, {sc}"
            f" | {_fmt_ratio(r)} | {_verdict(None if r is None else r >= ALWAYS_VS_REDIS)} |"
        )
    for sc in SCENARIOS:
        r = _ratio(rps("tokenginx", "everysec", sc), rps("tokenginx", "off", sc))
        lines.append(
            f"| `everysec` within {1 - EVERYSEC_VS_OFF:.0%} of no persistence, {sc}"
            f" | {_fmt_ratio(r)} of off | {_verdict(None if r is None else r >= EVERYSEC_VS_OFF)} |"
        )
    for cache in ("cold", "warm"):
        snap, rdb = recs.get(("tokenginx", "snapshot", cache)), recs.get(("redis", "rdb", cache))
        r = _ratio(_to_pong(snap), _to_pong(rdb)) if snap and rdb else None
        cell = f"{_fmt(_to_pong(snap), 3)} s vs {_fmt(_to_pong(rdb), 3)} s ({_fmt_ratio(r)})" if r else "-"
        lines.append(
            f"| recovery from snapshot no slower than Redis's RDB load, {cache} cache, time to +PONG"
            f" | {cell} | {_verdict(None if r is None else r <= 1.0)} |"
        )
    lines.append("")
    # Other comparisons, without a target.
    extra = []
    for cache in ("cold", "warm"):
        wal, aof = recs.get(("tokenginx", "wal", cache)), recs.get(("redis", "aof", cache))
        if wal and aof:
            extra.append(
                f"- Log replay, {cache} cache: TokenginX WAL {_fmt(_to_pong(wal), 3)} s vs Redis AOF"
                f" {_fmt(_to_pong(aof), 3)} s ({_fmt_ratio(_ratio(_to_pong(wal), _to_pong(aof)))})."
            )
    by_form = {(d["server"], d["form"]): d for d in disks}
    tsave = by_form.get(("tokenginx", "data dir after SAVE"))
    for form in ("RDB after SAVE", "AOF after BGREWRITEAOF"):
        rd = by_form.get(("redis", form))
        if tsave and rd:
            extra.append(
                f"- Disk after compaction: TokenginX after SAVE / Redis {form}:"
                f" {_fmt_ratio(_ratio(tsave['apparent_bytes'], rd['apparent_bytes']))} (apparent bytes)."
            )
    return lines + extra + ([""] if extra else [])


def section(records):
    """Markdown lines for the persistence section; [] without persist records."""
    recs = [r for r in records if r["kind"].startswith("persist_")]
    if not recs:
        return []
    rounds, states, recovery, fills, disks, skipped, versions = {}, {}, {}, {}, [], [], {}
    probes, config = [], None
    for r in recs:
        kind = r["kind"]
        if kind == "persist_run":
            rounds.setdefault((r["server"], r["fsync"], r["scenario"]), []).append(r)
        elif kind == "persist_state":
            states.setdefault((r["server"], r["fsync"]), []).append(r)
        elif kind == "persist_recovery":
            key = (r["server"], r["source"], r.get("cache", "cold"))
            recovery.setdefault(key, []).append(r)
        elif kind == "persist_fill":
            fills[r["server"]] = r
        elif kind == "persist_disk":
            disks.append(r)
        elif kind == "persist_skipped":
            what = " ".join(str(r[k]) for k in ("server", "fsync", "source") if k in r)
            skipped.append(f"{what}: {r['reason']}")
        elif kind == "persist_server":
            versions[r["server"]] = r["version"]
        elif kind == "persist_fsync":
            probes.append(r)
        elif kind == "persist_config":
            config = r["settings"]
    runs = {key: _median_run(rs) for key, rs in rounds.items()}
    restarts = recovery
    recovery = {key: _median_start(rs) for key, rs in restarts.items()}
    lines = ["## Persistence", ""]
    lines.append(
        "scripts/bench_persist.sh. TokenginX runs with one shard; both servers pinned to core 0,"
        " tgx-load to core 1. Data dirs under `target/` on the same disk as everything else."
    )
    lines.append("")
    for server in SERVERS:
        if server in versions:
            lines.append(f"- {server}: `{versions[server]}`")
    if config:
        lines.append(
            "- TokenginX [persist] settings (besides dir; appendfsync per row):"
            f" `{'`, `'.join(config.split(';'))}`."
        )
    for probe in probes:
        p = probe["probe"]
        lines.append(
            f"- Disk: `{probe['device']}` ({probe['fs']}); fsync after a 128-byte append, {p['n']} times,"
            f" {probe.get('when', 'once')} the runs: p50 {p['p50_us']} us, p99 {p['p99_us']} us,"
            f" max {p['max_us']} us."
            + (f" Load average then: {probe['loadavg']}." if probe.get("loadavg") else "")
        )
    for s in skipped:
        lines.append(f"- **skipped** {s}")
    lines.append("")
    every_run = [r for rs in rounds.values() for r in rs]
    noise = sorted(x for x in (_other_load(r) for r in every_run) if x is not None)
    if noise and noise[len(noise) // 2] > 0.2:
        lines += [
            f"**Caution:** other work used a median of {noise[len(noise) // 2]:.2f} cores during these"
            " runs (other load column): the machine was shared and the figures are disturbed.",
            "",
        ]
    lines += _targets(runs, recovery, disks)
    lines += _throughput(runs, rounds, states)
    lines += _recovery(recovery, restarts, fills)
    lines += _disk(disks)
    return lines
