//! Victim choice of each policy, on real databases.

use super::{segment, segment_of, Policy};
use crate::cmd::testing::{err, run};
use crate::keyspace::Db;
use crate::signals::class;
use crate::value::Entry;
use crate::Shard;
use proto::errors;
use std::collections::HashSet;

const NOW: u64 = 1_700_000_000_000;

fn put(db: &mut Db, key: &str, ttl: u64, now: u64) {
    let entry = Entry {
        value: crate::value::Value::Str(b"value"[..].into()),
        expire_at: if ttl == 0 { 0 } else { now + ttl },
    };
    db.insert(key.as_bytes(), entry, now);
}

/// Evicts `n` keys, returning them.
fn evict(db: &mut Db, policy: Policy, n: usize, now: u64) -> Vec<String> {
    let mut rng = 0x1234_5678_9abc_def1;
    (0..n)
        .map_while(|_| db.evict_one(policy, now, &mut rng))
        .map(|k| String::from_utf8(k.to_vec()).unwrap())
        .collect()
}

#[test]
fn lru_evicts_keys_idle_longest() {
    let mut db = Db::new(0..16384);
    for i in 0..400 {
        put(&mut db, &format!("k{i}"), 0, NOW);
    }
    // The upper half is used again later.
    for i in 200..400 {
        db.get_read(format!("k{i}").as_bytes(), NOW + 60_000);
    }
    let gone = evict(&mut db, Policy::AllkeysLru, 100, NOW + 60_000);
    assert_eq!(gone.len(), 100);
    let recent = gone
        .iter()
        .filter(|k| k[1..].parse::<u32>().unwrap() >= 200)
        .count();
    assert_eq!(recent, 0, "evicted recently used keys: {gone:?}");
    assert_eq!(db.len(), 300);
}

#[test]
fn volatile_policies_never_evict_keys_without_ttl() {
    for policy in [
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ] {
        let mut db = Db::new(0..16384);
        db.set_lfu(policy.is_lfu());
        for i in 0..100 {
            put(&mut db, &format!("keep{i}"), 0, NOW);
            put(&mut db, &format!("ttl{i}"), 10_000, NOW);
        }
        let gone = evict(&mut db, policy, 1000, NOW);
        assert_eq!(gone.len(), 100, "{policy:?}");
        assert!(
            gone.iter().all(|k| k.starts_with("ttl")),
            "{policy:?}: {gone:?}"
        );
        assert_eq!((db.len(), db.volatile_len()), (100, 0), "{policy:?}");
    }
}

#[test]
fn volatile_ttl_evicts_the_nearest_expiry() {
    let mut db = Db::new(0..16384);
    for i in 0..400u64 {
        put(&mut db, &format!("k{i}"), 1000 + i * 1000, NOW);
    }
    let gone = evict(&mut db, Policy::VolatileTtl, 50, NOW);
    let late = gone
        .iter()
        .filter(|k| k[1..].parse::<u32>().unwrap() >= 200)
        .count();
    assert_eq!(late, 0, "{gone:?}");
}

#[test]
fn random_policies_evict_anything_allowed() {
    let mut db = Db::new(0..16384);
    for i in 0..50 {
        put(&mut db, &format!("k{i}"), 0, NOW);
    }
    let gone: HashSet<String> = evict(&mut db, Policy::AllkeysRandom, 100, NOW)
        .into_iter()
        .collect();
    assert_eq!((gone.len(), db.len()), (50, 0));
}

#[test]
fn tinylfu_keeps_frequent_keys_through_a_scan() {
    let mut db = Db::new(0..16384);
    db.set_lfu(true);
    let mut now = NOW;
    for i in 0..100 {
        put(&mut db, &format!("hot{i}"), 0, now);
    }
    for round in 0..5 {
        for i in 0..100 {
            now += 1;
            db.get_read(format!("hot{i}").as_bytes(), now);
        }
        let _ = round;
    }
    // A scan of one-time keys, the database held at 150 keys.
    let mut rng = 99;
    for i in 0..2000 {
        now += 1;
        put(&mut db, &format!("scan{i}"), 0, now);
        while db.len() > 150 {
            db.evict_one(Policy::AllkeysLfu, now, &mut rng).unwrap();
        }
    }
    let hot = (0..100)
        .filter(|i| db.contains(format!("hot{i}").as_bytes(), now))
        .count();
    // LRU keeps none of them (every scan key is newer). The sketch's hash
    // is seeded per process, so collisions vary from run to run: 91-100
    // survived over many runs.
    assert!(
        hot >= 80,
        "only {hot} of 100 frequent keys survived the scan"
    );
}

#[test]
fn tinylfu_segments_follow_accesses() {
    let mut db = Db::new(0..16384);
    db.set_lfu(true);
    put(&mut db, "k", 0, NOW);
    let seg = |db: &Db| segment_of(db.peek(b"k", NOW).unwrap().key.stamp());
    assert_eq!(seg(&db), segment::WINDOW, "new keys enter the window");
    db.get_read(b"k", NOW);
    assert_eq!(
        seg(&db),
        segment::WINDOW,
        "window keys stay until they leave it"
    );
    for i in 0..300 {
        put(&mut db, &format!("o{i}"), 0, NOW);
    }
    // Eviction moves old window keys on; "k" is admitted to probation
    // (it was used twice, the probation victims once) or evicted.
    let mut rng = 5;
    for _ in 0..10 {
        db.evict_one(Policy::AllkeysLfu, NOW, &mut rng);
    }
    if db.peek(b"k", NOW).is_some() {
        assert_eq!(seg(&db), segment::PROBATION);
        db.get_read(b"k", NOW);
        assert_eq!(seg(&db), segment::PROTECTED, "a second use promotes");
    }
}

#[test]
fn noeviction_refuses_denyoom_commands_over_the_limit() {
    let s = &mut Shard::new(0, 1);
    run(s, NOW, &["set", "a", "1"]);
    s.set_memory_limit(1, Policy::NoEviction);
    assert_eq!(run(s, NOW, &["set", "b", "1"]), err(errors::OOM));
    // Reads and deletions still run.
    assert_eq!(run(s, NOW, &["get", "a"]), crate::cmd::testing::bulk("1"));
    assert_eq!(run(s, NOW, &["del", "a"]), crate::cmd::testing::int(1));
}

#[test]
fn eviction_keeps_the_shard_under_its_share_and_signals() {
    let s = &mut Shard::new(0, 1);
    run(s, NOW, &["set", "warm", "v"]);
    let limit = s.used_memory() + 100_000;
    s.set_memory_limit(limit, Policy::AllkeysLru);
    s.signals.notify = class::KEYEVENT | class::EVICTED;
    for i in 0..5000 {
        let reply = run(s, NOW + i, &["set", &format!("key{i}"), &"v".repeat(200)]);
        assert_eq!(reply, proto::Reply::Ok);
        // Checked before each write: at most one write's worth over.
        assert!(
            s.used_memory() <= limit + 1024,
            "{} > {limit}",
            s.used_memory()
        );
    }
    assert!(s.evicted > 3000, "{}", s.evicted);
    let events = s
        .signals
        .events
        .iter()
        .filter(|e| e.event == "evicted")
        .count();
    assert_eq!(events as u64, s.evicted);
    // The newest keys are there.
    assert_eq!(
        run(s, NOW + 5000, &["exists", "key4999"]),
        crate::cmd::testing::int(1)
    );
}

#[test]
fn tinylfu_window_queue_stays_bounded_under_churn() {
    let mut db = Db::new(0..16384);
    db.set_lfu(true);
    for i in 0..10_000 {
        let key = format!("s{i}");
        put(&mut db, &key, 0, NOW);
        db.remove(key.as_bytes(), NOW);
    }
    let lfu = db.lfu.as_ref().unwrap();
    assert!(
        lfu.window.len() <= 2 + 64,
        "{} stale window entries",
        lfu.window.len()
    );
    assert_eq!(lfu.window_len, 0);
}
