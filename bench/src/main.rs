//! `tgx-load`: a closed-loop RESP load generator for TokenginX and Redis.
//!
//! Built on io_uring with one ring per thread so that on a small machine the
//! client spends as little CPU per request as possible, leaving the
//! comparison bound by the server rather than by the tool. Key and value
//! shapes match redis-benchmark (`key:` + 12 digits, `x`-filled values) so
//! results from both tools can be cross-checked.

mod cmd;
mod resp;
mod worker;

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;

use cmd::{Encoder, Keys, Op, Rng, MAX_KEYSPACE};
use worker::{Mix, Outcome, Plan, Stop, Worker};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Test {
    Set,
    Get,
    /// GETs and SETs on random keys; see --set-percent.
    Mixed,
}

#[derive(Debug, Parser)]
#[command(
    name = "tgx-load",
    version,
    about = "RESP load generator (io_uring) for TokenginX and Redis"
)]
struct Args {
    /// Server address (loopback).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(short, long, default_value_t = 6379)]
    port: u16,
    /// Connections in total, spread over the threads.
    #[arg(short, long, default_value_t = 50)]
    connections: usize,
    /// Load threads, each with its own io_uring ring.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Requests in flight per connection (sent as one batch).
    #[arg(short = 'P', long, default_value_t = 1)]
    pipeline: usize,
    /// Total requests for the run [default: 100000 unless --duration].
    #[arg(short = 'n', long, conflicts_with = "duration")]
    requests: Option<u64>,
    /// Run for this many seconds instead of a request count.
    #[arg(long)]
    duration: Option<f64>,
    #[arg(short, long, value_enum, default_value_t = Test::Set)]
    test: Test,
    /// Share of SETs in the mixed test, in percent.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=100))]
    set_percent: u32,
    /// Bytes per SET value.
    #[arg(short = 'd', long, default_value_t = 100)]
    value_size: usize,
    /// Keys are drawn uniformly from key:000000000000 .. key:<keyspace-1>.
    #[arg(short = 'r', long, default_value_t = 1_000_000)]
    keyspace: u64,
    /// Fill each SET value with random letters and digits instead of `x`s
    /// (for measuring what servers write to disk: `x`s compress to nothing).
    #[arg(long)]
    random_values: bool,
    /// Give every SET an expiry (SET key value EX ttl).
    #[arg(long)]
    ttl: Option<u64>,
    /// Pin load thread i to core cpu+i.
    #[arg(long)]
    cpu: Option<usize>,
    /// Before the run, SET keys 0..N once each with deep pipelines. Without
    /// an explicit --requests or --duration only the load is done.
    #[arg(long)]
    load: Option<u64>,
    /// Print one JSON object per phase instead of text.
    #[arg(long)]
    json: bool,
    /// Abort if no reply arrives for this many seconds.
    #[arg(long, default_value_t = 10.0)]
    stall_timeout: f64,
    /// Abort any phase that runs longer than this many seconds.
    #[arg(long, default_value_t = 600.0)]
    time_limit: f64,
    /// Seed for key choice (runs with the same seed send the same keys).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Pipeline depth used for --load, however shallow the run's pipeline is:
/// the pre-fill is set-up, not measurement, and should be quick.
const LOAD_PIPELINE: usize = 64;

/// Merged measurements of one phase.
struct Report {
    phase: &'static str,
    test: &'static str,
    requests: u64,
    errors: u64,
    nulls: u64,
    first_error: Option<String>,
    elapsed: Duration,
    latency: Histogram<u64>,
    /// CPU time this process used during the phase, to tell whether the
    /// client rather than the server was the bottleneck.
    client_cpu: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(errors) => {
            if errors > 0 {
                eprintln!("tgx-load: the server answered {errors} requests with errors");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tgx-load: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the requested phases and returns the number of error replies.
fn run(args: &Args) -> Result<u64, String> {
    validate(args)?;
    let addr = resolve(&args.host, args.port)?;
    let mut errors = 0;
    if let Some(n) = args.load {
        let report = phase(args, addr, "load", n)?;
        errors += report.errors;
        print_report(args, &report);
        if args.requests.is_none() && args.duration.is_none() {
            return Ok(errors);
        }
    }
    let requests = args.requests.unwrap_or(100_000);
    let report = phase(args, addr, "run", requests)?;
    errors += report.errors;
    print_report(args, &report);
    Ok(errors)
}

fn validate(args: &Args) -> Result<(), String> {
    if args.threads == 0 || args.connections < args.threads {
        return Err("need at least one connection per thread".into());
    }
    if args.pipeline == 0 {
        return Err("--pipeline must be at least 1".into());
    }
    if args.keyspace == 0 || args.keyspace > MAX_KEYSPACE {
        return Err(format!("--keyspace must be in 1..={MAX_KEYSPACE}"));
    }
    if args.load.is_some_and(|n| n > MAX_KEYSPACE) {
        return Err(format!("--load must be at most {MAX_KEYSPACE}"));
    }
    if args
        .duration
        .is_some_and(|d| !(d > 0.0 && d <= args.time_limit))
    {
        return Err("--duration must be positive and within --time-limit".into());
    }
    Ok(())
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("resolving {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    // The tool is for measuring servers on this machine only.
    if !addr.ip().is_loopback() {
        return Err(format!("{addr} is not a loopback address"));
    }
    Ok(addr)
}

/// One measured phase: connect everything, start all threads together, wait.
/// `count` is the request total (run) or key total (load).
fn phase(args: &Args, addr: SocketAddr, name: &'static str, count: u64) -> Result<Report, String> {
    let is_load = name == "load";
    let (mix, test_name) = if is_load {
        (Mix::Only(Op::Set), "set")
    } else {
        match args.test {
            Test::Set => (Mix::Only(Op::Set), "set"),
            Test::Get => (Mix::Only(Op::Get), "get"),
            Test::Mixed => (
                Mix::Mixed {
                    set_percent: args.set_percent,
                },
                "mixed",
            ),
        }
    };
    let total_conns = args.connections;
    let stall_timeout = Duration::from_secs_f64(args.stall_timeout);
    let time_limit = Duration::from_secs_f64(args.time_limit);
    let cores = core_affinity::get_core_ids().unwrap_or_default();

    // Connect up front so connection set-up is not part of the measurement.
    let mut per_thread: Vec<Vec<(TcpStream, Keys)>> =
        (0..args.threads).map(|_| Vec::new()).collect();
    for g in 0..total_conns {
        let stream = TcpStream::connect_timeout(&addr, stall_timeout)
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        let keys = if is_load {
            // Connection g fills its own contiguous slice of 0..count.
            let slice = |i: u64| i * count / total_conns as u64;
            Keys::Sequential {
                next: slice(g as u64),
                end: slice(g as u64 + 1),
            }
        } else {
            Keys::Random {
                keyspace: args.keyspace,
                rng: Rng::new(args.seed.wrapping_mul(1_000_003) + g as u64),
            }
        };
        per_thread[g % args.threads].push((stream, keys));
    }

    let start_gate = Arc::new(Barrier::new(args.threads + 1));
    let mut handles = Vec::new();
    for (t, streams) in per_thread.into_iter().enumerate() {
        let core = match args.cpu {
            Some(first) => {
                let want = first + t;
                Some(
                    *cores
                        .iter()
                        .find(|c| c.id == want)
                        .ok_or_else(|| format!("--cpu: core {want} is not available"))?,
                )
            }
            None => None,
        };
        let stop_requests = if is_load {
            Stop::Exhausted
        } else {
            // Split the request total over threads as evenly as possible.
            let share =
                count / args.threads as u64 + u64::from((t as u64) < count % args.threads as u64);
            Stop::Requests(share)
        };
        let duration = if is_load { None } else { args.duration };
        let plan_parts = (
            mix,
            if is_load {
                LOAD_PIPELINE.max(args.pipeline)
            } else {
                args.pipeline
            },
            Encoder::new(args.value_size, args.ttl, args.random_values),
            args.seed.wrapping_add(t as u64),
        );
        let gate = Arc::clone(&start_gate);
        let handle = std::thread::Builder::new()
            .name(format!("tgx-load-{t}"))
            .spawn(move || -> Result<Outcome, String> {
                if let Some(core) = core {
                    if !core_affinity::set_for_current(core) {
                        gate.wait();
                        return Err(format!("could not pin to core {}", core.id));
                    }
                }
                let (mix, pipeline, encoder, seed) = plan_parts;
                gate.wait();
                // The deadline starts at the gate so every thread gets the
                // same measured window.
                let stop = match duration {
                    Some(secs) => Stop::At(Instant::now() + Duration::from_secs_f64(secs)),
                    None => stop_requests,
                };
                let plan = Plan {
                    mix,
                    pipeline,
                    stop,
                    encoder,
                    stall_timeout,
                    time_limit,
                    seed,
                };
                Worker::new(streams, plan)
                    .map_err(|e| format!("io_uring setup: {e}"))?
                    .run()
            })
            .map_err(|e| format!("spawning a load thread: {e}"))?;
        handles.push(handle);
    }
    start_gate.wait();
    let started = Instant::now();
    let cpu_before = process_cpu_time();

    let mut latency = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
        .expect("static histogram bounds are valid");
    let (mut requests, mut errors, mut nulls) = (0, 0, 0);
    let mut first_error = None;
    let mut finished = started;
    let mut failure = None;
    for handle in handles {
        match handle.join() {
            Ok(Ok(out)) => {
                requests += out.requests;
                errors += out.errors;
                nulls += out.nulls;
                first_error = first_error.or(out.first_error);
                finished = finished.max(out.finished);
                latency
                    .add(&out.latency)
                    .map_err(|e| format!("merging histograms: {e}"))?;
            }
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(_) => failure = failure.or(Some("a load thread panicked".to_string())),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let client_cpu = process_cpu_time().saturating_sub(cpu_before);
    Ok(Report {
        phase: name,
        test: test_name,
        requests,
        errors,
        nulls,
        first_error,
        elapsed: finished.duration_since(started),
        latency,
        client_cpu,
    })
}

/// User plus system CPU time of the whole process (all threads).
fn process_cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the zero-initialised struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn us(latency: &Histogram<u64>, quantile: f64) -> f64 {
    latency.value_at_quantile(quantile) as f64 / 1000.0
}

fn print_report(args: &Args, r: &Report) {
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    let rps = r.requests as f64 / secs;
    let pipeline = if r.phase == "load" {
        LOAD_PIPELINE.max(args.pipeline)
    } else {
        args.pipeline
    };
    if args.json {
        println!(
            "{{\"phase\":\"{}\",\"test\":\"{}\",\"connections\":{},\"threads\":{},\"pipeline\":{},\
             \"value_size\":{},\"keyspace\":{},\"ttl\":{},\"requests\":{},\"errors\":{},\"nulls\":{},\
             \"elapsed_s\":{:.6},\"rps\":{:.1},\"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\
             \"max_us\":{:.1},\"mean_us\":{:.1},\"client_cpu_s\":{:.3},\"first_error\":{}}}",
            r.phase,
            r.test,
            args.connections,
            args.threads,
            pipeline,
            args.value_size,
            args.keyspace,
            args.ttl.map_or("null".to_string(), |t| t.to_string()),
            r.requests,
            r.errors,
            r.nulls,
            secs,
            rps,
            us(&r.latency, 0.5),
            us(&r.latency, 0.99),
            us(&r.latency, 0.999),
            r.latency.max() as f64 / 1000.0,
            r.latency.mean() / 1000.0,
            r.client_cpu.as_secs_f64(),
            r.first_error.as_deref().map_or("null".to_string(), json_string),
        );
        return;
    }
    let what = if r.phase == "load" {
        "load (SET)".to_string()
    } else {
        r.test.to_uppercase()
    };
    println!(
        "{what}: {} requests in {secs:.3} s, {} connections, {} threads, pipeline {pipeline}, {} B values",
        r.requests, args.connections, args.threads, args.value_size
    );
    println!(
        "  throughput: {rps:.0} requests/s  (client CPU {:.0}% of one core)",
        100.0 * r.client_cpu.as_secs_f64() / secs
    );
    println!(
        "  latency us: p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
        us(&r.latency, 0.5),
        us(&r.latency, 0.99),
        us(&r.latency, 0.999),
        r.latency.max() as f64 / 1000.0
    );
    println!("  errors: {}  nulls (misses): {}", r.errors, r.nulls);
    if let Some(e) = &r.first_error {
        println!("  first error: {e}");
    }
}

/// Quotes a string for JSON.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("ERR \"x\"\\\n"), "\"ERR \\\"x\\\"\\\\\\u000a\"");
    }

    #[test]
    fn flags_parse() {
        let a = Args::try_parse_from([
            "tgx-load", "-c", "8", "-P", "16", "-t", "get", "--ttl", "60",
        ])
        .unwrap();
        assert_eq!(
            (a.connections, a.pipeline, a.test, a.ttl),
            (8, 16, Test::Get, Some(60))
        );
        assert!(Args::try_parse_from(["tgx-load", "-n", "5", "--duration", "1"]).is_err());
    }
}
