#!/usr/bin/env python3
"""Turns the records written by scripts/bench.sh into bench/RESULTS.md.

Each input line is one JSON object with a "kind":
  server   - a server that started: name, cores, note, version
  skipped  - a server that was not measured (or not fully), and why
  memory   - RSS and INFO used_memory before/after loading N keys
  run      - one scenario: tgx-load's JSON plus the server's CPU ticks
  check    - one scenario run again with redis-benchmark (redis only): its
             requests/s and its own CPU ticks
  check_client - the redis-benchmark version used for the checks
  check_failed - the redis-benchmark check stopped part-way, and why
  persist_*    - the persistence part: see bench_report_persist.py
"""

import argparse
import datetime
import json
import os
import platform

import bench_report_persist

SCENARIOS = ["SET P1", "GET P1", "SET P16", "GET P16"]
BASELINE = "redis"
# How far tgx-load's ops/s may be from redis-benchmark's on the same server.
CHECK_TOLERANCE = 0.10


def load_records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_us_per_op(run):
    """Server CPU per request: process utime+stime plus core 0 softirq."""
    requests = run["load"]["requests"]
    if not requests:
        return None
    ticks = run["proc_ticks"] + run["softirq_ticks"]
    return ticks / run["clk_tck"] * 1e6 / requests


def background_cores(run):
    """CPU used by anything but this server, the load generator and interrupt
    handling, on average over the run, in cores. Near 0 on a quiet machine;
    the machine may be shared, and then this says how disturbed a row is."""
    wall = run["load"]["elapsed_s"]
    if wall <= 0:
        return None
    tck = run["clk_tck"]
    other = (run["all_busy_ticks"] - run["all_irq_ticks"] - run["proc_ticks"]) / tck
    other -= run["load"]["client_cpu_s"]
    return max(other, 0.0) / wall


def ratio(value, base):
    if value is None or base in (None, 0):
        return "-"
    return f"{value / base:.2f}x"


def fmt_num(value, digits=0):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def scenario_table(name, runs, servers):
    """One table: a row per server, a ratio row under each TokenginX row."""
    metrics = [
        ("ops/s", lambda r: r["load"]["rps"], 0),
        ("p50 us", lambda r: r["load"]["p50_us"], 1),
        ("p99 us", lambda r: r["load"]["p99_us"], 1),
        ("p99.9 us", lambda r: r["load"]["p999_us"], 1),
        ("CPU us/op", cpu_us_per_op, 2),
    ]
    lines = [
        f"### {name}",
        "",
        "| server | " + " | ".join(m[0] for m in metrics) + " | errors | client CPU | other load |",
        "|---|" + "---:|" * (len(metrics) + 3),
    ]
    base = runs.get((BASELINE, name))
    for server in servers:
        run = runs.get((server, name))
        if run is None:
            lines.append(f"| {server} | " + " | ".join("-" for _ in metrics) + " | - | - | - |")
            continue
        cells = [fmt_num(get(run), digits) for _, get, digits in metrics]
        errors = run["load"]["errors"]
        if errors and run["load"].get("first_error"):
            errors = f"{errors} ({run['load']['first_error']})"
        client = 100 * run["load"]["client_cpu_s"] / max(run["load"]["elapsed_s"], 1e-9)
        extra = [str(errors), f"{client:.0f}%", fmt_num(background_cores(run), 2)]
        lines.append(f"| {server} | " + " | ".join(cells + extra) + " |")
        if server != BASELINE and base is not None:
            ratios = [ratio(get(run), get(base)) for _, get, _ in metrics]
            lines.append(f"| {server} / {BASELINE} | " + " | ".join(ratios) + " | | | |")
    return lines


def memory_table(memory, servers):
    lines = [
        "### Memory per key",
        "",
        "| server | keys loaded | DBSIZE | RSS delta B/key | used_memory delta B/key | RSS ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    def per_key(m):
        rss = (m["rss_kb_after"] - m["rss_kb_before"]) * 1024 / m["keys"]
        used = None
        if m["used_memory_before"] >= 0 and m["used_memory_after"] >= 0:
            used = (m["used_memory_after"] - m["used_memory_before"]) / m["keys"]
        return rss, used

    base = memory.get(BASELINE)
    base_rss = per_key(base)[0] if base else None
    for server in servers:
        m = memory.get(server)
        if m is None:
            lines.append(f"| {server} | - | - | - | - | - |")
            continue
        rss, used = per_key(m)
        dbsize = m["dbsize"] if m["dbsize"] >= 0 else "n/a"
        rss_ratio = ratio(rss, base_rss) if server != BASELINE else ""
        used_cell = fmt_num(used, 1) if used is not None else "n/a"
        lines.append(
            f"| {server} | {m['keys']:,} | {dbsize} | {rss:,.1f} | {used_cell} | {rss_ratio} |"
        )
    return lines


def client_cpu_pct(run):
    """tgx-load's CPU time over the run, in percent of one core."""
    return 100 * run["load"]["client_cpu_s"] / max(run["load"]["elapsed_s"], 1e-9)


def check_background_cores(check):
    """background_cores() for a redis-benchmark run."""
    if check["elapsed_s"] <= 0:
        return None
    tck = check["clk_tck"]
    other = check["all_busy_ticks"] - check["all_irq_ticks"] - check["proc_ticks"] - check["client_ticks"]
    return max(other / tck, 0.0) / check["elapsed_s"]


def check_section(runs, checks, check_client, check_failed):
    """tgx-load against redis-benchmark on the same redis-server.

    A throughput comparison is only as good as its client: if tgx-load were
    slower than redis-benchmark, every server would look slower than it is.
    """
    lines = [
        "## Load generator check",
        "",
        f"tgx-load against `{check_client or 'redis-benchmark'}` on the same redis-server, one after"
        " the other, with the same settings: 50 connections, 100-byte values, `-r 1000000` random"
        " keys, one client thread pinned to core 1, the same request counts and the same keyspace"
        " states: SETs starting from an empty keyspace, GETs after every key was pre-filled"
        " (redis-benchmark runs SET and GET separately for that). Ratio is tgx-load ops/s / redis-benchmark ops/s; client CPU is each"
        " client's utime+stime over its run (from /proc), in percent of one core; other load is as"
        " above, for the tgx-load and the redis-benchmark run.",
        "",
        "| scenario | tgx-load ops/s | redis-benchmark ops/s | ratio | verdict | tgx-load client CPU"
        " | redis-benchmark client CPU | other load |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    verdicts = {}
    rb_cpu = {}
    for name in SCENARIOS:
        run, check = runs.get((BASELINE, name)), checks.get(name)
        if run is None or check is None:
            lines.append(f"| {name} | " + " | ".join("-" for _ in range(7)) + " |")
            continue
        ours, theirs = run["load"]["rps"], check["rps"]
        rb_cpu[name] = 100 * check["client_ticks"] / check["clk_tck"] / max(check["elapsed_s"], 1e-9)
        off = ours / theirs - 1 if theirs else None
        verdicts[name] = off is not None and abs(off) <= CHECK_TOLERANCE
        if verdicts[name]:
            verdict = f"within {CHECK_TOLERANCE:.0%}"
        elif off is None:
            verdict = "-"
        else:
            verdict = f"**not** within {CHECK_TOLERANCE:.0%} ({off:+.0%})"
        lines.append(
            f"| {name} | {fmt_num(ours)} | {fmt_num(theirs)} | {ratio(ours, theirs)} | {verdict}"
            f" | {client_cpu_pct(run):.0f}% | {rb_cpu[name]:.0f}%"
            f" | {fmt_num(background_cores(run), 2)}, {fmt_num(check_background_cores(check), 2)} |"
        )
    p1_cpu = ", ".join(f"{rb_cpu[s]:.0f}%" for s in ("SET P1", "GET P1") if s in rb_cpu)
    lines += [
        "",
        "Without pipelining redis-benchmark itself saturates its core first"
        + (f" (its client CPU at P1: {p1_cpu})" if p1_cpu else "")
        + ", so the P1 rows only bound the client: tgx-load drives the server at least as hard as"
        " redis-benchmark can there. The P16 rows, where the server is the bottleneck for both"
        " clients, are the check."
        # Client CPU well below 100% at P1 means redis-benchmark was not
        # running all the time: another process shared its core.
        + (
            " Here redis-benchmark's client CPU at P1 stayed below 90%, so it was not even"
            " saturated: something else shared its core, and the rows are disturbed."
            if rb_cpu and min(rb_cpu.get(s, 100) for s in ("SET P1", "GET P1")) < 90
            else ""
        ),
        "",
    ]
    p16 = [verdicts.get(s) for s in ("SET P16", "GET P16")]
    if check_failed:
        lines.append(f"**Check incomplete:** {check_failed}.")
    elif all(v is True for v in p16):
        lines.append(f"**Check passed:** tgx-load agrees with redis-benchmark within {CHECK_TOLERANCE:.0%} at P16.")
    elif any(v is None for v in p16):
        lines.append("**Check incomplete:** a P16 row is missing.")
    else:
        lines.append(
            f"**Check failed:** tgx-load and redis-benchmark differ by more than {CHECK_TOLERANCE:.0%}"
            " at P16; the throughput figures above may say as much about the client as about the"
            " servers."
        )
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("records")
    ap.add_argument("out")
    ap.add_argument("--quick", default="0")
    args = ap.parse_args()

    records = load_records(args.records)
    servers, info, skipped = [], {}, []
    runs, memory = {}, {}
    checks, check_client, check_failed = {}, None, None
    for r in records:
        kind = r["kind"]
        if kind.startswith("persist_"):
            continue  # bench_report_persist.py
        server = r["server"]
        if server not in servers:
            servers.append(server)
        if kind == "server":
            info[server] = r
        elif kind == "skipped":
            skipped.append((server, r["reason"]))
        elif kind == "memory":
            memory[server] = r
        elif kind == "run":
            runs[(server, r["scenario"])] = r
        elif kind == "check":
            checks[r["scenario"]] = r
        elif kind == "check_client":
            check_client = r["version"]
        elif kind == "check_failed":
            check_failed = r["reason"]

    any_run = next(iter(runs.values()), None)
    mem_any = next(iter(memory.values()), None)
    uname = os.uname()
    out = [
        "# TokenginX vs Redis: side-by-side benchmark",
        "",
        "Generated by `make bench` (scripts/bench.sh)"
        + (" in QUICK mode (fewer requests; indicative only)." if args.quick == "1" else "."),
        "",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- Machine: {os.cpu_count()} cores, {cpu_model()}, kernel {uname.release} ({uname.machine})",
    ]
    for server in servers:
        if server in info:
            i = info[server]
            line = f"- {server}: `{i['version'] or 'version unknown'}`, pinned to core(s) {i['cpus']}"
            if i["note"]:
                line += f" ({i['note']})"
            out.append(line)
    for server, reason in skipped:
        out.append(f"- {server}: **skipped**: {reason}")
    out += [
        "",
        "## Method",
        "",
        "- Load: `tgx-load` (bench/, io_uring, one thread) pinned to core 1; servers pinned to core 0"
        " with `taskset` unless noted. Loopback TCP.",
    ]
    if any_run:
        l = any_run["load"]
        out.append(
            f"- Throughput scenarios: {l['connections']} connections, {l['value_size']}-byte values,"
            f" keys uniformly random out of {l['keyspace']:,} (`key:` + 12 digits);"
            " GET runs after all keys were pre-filled, so they are hits."
            " Requests per scenario: "
            + ", ".join(
                f"{s} {runs[(BASELINE, s)]['load']['requests']:,}" for s in SCENARIOS if (BASELINE, s) in runs
            )
            + "."
        )
    out += [
        "- Latency: per request, from sending its pipeline batch to receiving its reply (HDR histogram).",
        "- CPU us/op: (utime + stime of the server process from /proc/PID/stat + softirq time of core 0"
        " from /proc/stat) over the run / requests. Clock ticks are 10 ms, so short runs are coarse."
        " With the load generator being the bottleneck at pipeline 1, this is the fairer comparison"
        " there.",
    ]
    if mem_any:
        out.append(
            f"- Memory: fresh server, FLUSHALL, then {mem_any['keys']:,} keys with"
            f" {mem_any['value_size']}-byte values and `EX {mem_any['ttl']}`. The RSS column is the VmRSS"
            " delta from /proc/PID/status (comparable across servers: it includes allocator overhead);"
            " used_memory is Redis's own INFO accounting, shown where the server reports it."
        )
    out.append(
        "- client CPU: tgx-load's own CPU time over the run, in percent of one core; near 100% the"
        " client, not the server, limited throughput. other load: CPU used on the machine by anything"
        " but the server, tgx-load and interrupts, in cores (0 = quiet; above ~0.2 the row was"
        " disturbed by unrelated work)."
    )
    noise = sorted(b for b in (background_cores(r) for r in runs.values()) if b is not None)
    if noise and noise[len(noise) // 2] > 0.2:
        out += [
            "",
            f"**Caution:** other work used a median of {noise[len(noise) // 2]:.2f} cores during the"
            " runs (see the other load column); throughput and latency here are disturbed. Rerun on a"
            " quiet machine for figures to quote.",
        ]
    out += ["", "## Throughput and latency", ""]
    for name in SCENARIOS:
        out += scenario_table(name, runs, servers) + [""]
    out += ["## Memory", ""] + memory_table(memory, servers) + [""]
    # Records from before the check existed have none; their report is unchanged.
    if checks or check_client or check_failed:
        out += check_section(runs, checks, check_client, check_failed) + [""]
    out += bench_report_persist.section(records)

    with open(args.out, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
