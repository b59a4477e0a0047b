//! tgx-evict-sim: hit ratios of the eviction policies on synthetic traces.
//!
//! Replays, in process and with a fixed seed, two traces through each policy's real eviction structures (a
//! shard database holding at most 10% of the working set, evicting with
//! `Db::evict_one` on every miss that overflows it), beside an exact LRU:
//!
//! - Zipf(0.99) over 100,000 keys, 2,000,000 accesses;
//! - the same Zipf trace polluted by scans: every 50,000 accesses, a
//!   sequential run of 20,000 keys that are never seen again (a batch job,
//!   a crawler, a KEYS-like sweep through an application cache).
//!
//! The traces are the same on every run; the figures move by a few
//! hundredths of a point, because the keyspace's hasher (which decides
//! where keys sit, hence what sampling sees) is seeded per process.
//!
//! Run alone with `cargo run --release -p bench --bin tgx-evict-sim`;
//! `--markdown` prints the table `make bench` puts in bench/RESULTS.md.

use shard::evict::Policy;
use shard::keyspace::{string_entry, Db};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

const KEYS: u64 = 100_000;
const ACCESSES: usize = 2_000_000;
const CACHE: usize = (KEYS / 10) as usize;
const SKEW: f64 = 0.99;
const SCAN_EVERY: usize = 50_000;
const SCAN_LEN: usize = 20_000;
const SEED: u64 = 0x005E_ED0F_7E57;

/// Zipf ranks by inverse transform over the cumulative weights.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: u64, skew: f64) -> Zipf {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(skew);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut fastrand::Rng) -> u64 {
        let target = rng.f64() * self.cumulative.last().copied().unwrap_or(0.0);
        self.cumulative.partition_point(|&c| c < target) as u64
    }
}

/// The accesses of a trace, as key ids (scan keys are ids above KEYS).
fn trace(scans: bool) -> Vec<u64> {
    let zipf = Zipf::new(KEYS, SKEW);
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut out = Vec::with_capacity(ACCESSES + ACCESSES / SCAN_EVERY * SCAN_LEN);
    let mut next_scan_key = KEYS;
    for i in 0..ACCESSES {
        if scans && i > 0 && i % SCAN_EVERY == 0 {
            out.extend(next_scan_key..next_scan_key + SCAN_LEN as u64);
            next_scan_key += SCAN_LEN as u64;
        }
        // Popular ranks scattered over the id space, hence over slots.
        out.push(zipf.sample(&mut rng).wrapping_mul(0x9E37_79B9) % KEYS);
    }
    out
}

/// Exact LRU: the baseline the approximations are measured against.
fn exact_lru(trace: &[u64]) -> f64 {
    let mut last_use: HashMap<u64, u64> = HashMap::new();
    let mut by_age: BTreeMap<u64, u64> = BTreeMap::new();
    let mut hits = 0;
    for (tick, &key) in trace.iter().enumerate() {
        let tick = tick as u64;
        if let Some(old) = last_use.insert(key, tick) {
            by_age.remove(&old);
            hits += 1;
        } else if last_use.len() > CACHE {
            let (_, victim) = by_age.pop_first().expect("cache is not empty");
            last_use.remove(&victim);
        }
        by_age.insert(tick, key);
    }
    hits as f64 / trace.len() as f64
}

/// One policy through a real database.
fn policy(trace: &[u64], policy: Policy) -> f64 {
    let mut db = Db::new(0..16384);
    db.set_lfu(policy.is_lfu());
    let mut rng = SEED | 1;
    let mut hits = 0;
    let mut key = Vec::with_capacity(24);
    // Stamps keep 4 ms; one access every 4 ms keeps the order exact.
    let mut now = 1_700_000_000_000u64;
    for &id in trace {
        now += 4;
        key.clear();
        write!(key, "key:{id}").expect("writing to a Vec");
        if db.get_read(&key, now).is_some() {
            hits += 1;
            continue;
        }
        db.insert(&key, string_entry(b"v"), now);
        while db.len() > CACHE {
            db.evict_one(policy, now, &mut rng)
                .expect("a full cache has a victim");
        }
    }
    hits as f64 / trace.len() as f64
}

fn main() {
    let markdown = std::env::args().any(|a| a == "--markdown");
    let policies = [
        Policy::AllkeysLru,
        Policy::AllkeysLfu,
        Policy::AllkeysRandom,
    ];
    let traces = [
        ("Zipf 0.99", trace(false)),
        ("Zipf 0.99 + scans", trace(true)),
    ];
    let mut rows = Vec::new();
    for (name, t) in &traces {
        let lru = exact_lru(t);
        let mut row = vec![
            name.to_string(),
            t.len().to_string(),
            format!("{:.2}%", lru * 100.0),
        ];
        for p in policies {
            let ratio = policy(t, p);
            row.push(format!(
                "{:.2}% ({:+.2})",
                ratio * 100.0,
                (ratio - lru) * 100.0
            ));
        }
        rows.push(row);
    }
    let mut header = vec!["trace".to_string(), "accesses".into(), "exact LRU".into()];
    header.extend(policies.iter().map(|p| p.name().to_string()));
    if markdown {
        println!("## Eviction: hit ratios\n");
        println!("Generated by `tgx-evict-sim` (bench/src/evict_sim.rs; run alone with `cargo run --release -p bench --bin tgx-evict-sim`). In process, fixed trace seed (figures move by a few hundredths of a point between runs: the keyspace's hasher is seeded per process): {KEYS} keys, cache of {CACHE} keys (10% of the working set), every miss inserts the key and evicts through the shard's own structures until the cache fits. Scans: every {SCAN_EVERY} accesses, {SCAN_LEN} one-time keys in a row. allkeys-lru samples 16 keys per eviction (Redis: 5 per round into a 16-key pool); allkeys-lfu is W-TinyLFU (sampled main area). In brackets: percentage points against exact LRU.\n");
        println!("| {} |", header.join(" | "));
        println!("|---|---:|{}", "---:|".repeat(header.len() - 2));
        for row in rows {
            println!("| {} |", row.join(" | "));
        }
    } else {
        println!("{}", header.join("\t"));
        for row in rows {
            println!("{}", row.join("\t"));
        }
    }
}
