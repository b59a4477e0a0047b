//! The incremental dataset size against a recount from scratch, after
//! every command of a mix that grows, rewrites in place and shrinks every
//! value type.

use crate::cmd::testing::run;
use crate::shard::Shard;

const NOW: u64 = 1_700_000_000_000;

fn check(s: &mut Shard, step: &str) {
    let db = s.existing_db(0).expect("db 0 in use");
    assert_eq!(db.used_memory(), db.recount(), "after {step}");
}

#[test]
fn accounting_matches_a_recount_for_every_type() {
    let s = &mut Shard::new(0, 1);
    let big = "x".repeat(300);
    let script: Vec<Vec<&str>> = vec![
        vec!["set", "s", "v"],
        vec!["set", "s", &big],
        vec!["append", "s", &big],
        vec!["setrange", "s", "1000", "tail"],
        vec!["incr", "n"],
        vec!["incrbyfloat", "n", "1.5"],
        vec!["set", "sessionkey:with-a-long-name", "v", "EX", "100"],
        vec!["getdel", "s"],
        vec!["hset", "h", "f1", "v1", "f2", &big],
        vec!["hset", "h", "f1", &big],
        vec!["hincrby", "h", "c", "5"],
        vec!["hdel", "h", "f2"],
        vec!["sadd", "st", "a", "b", "c", &big],
        vec!["srem", "st", "a"],
        vec!["spop", "st"],
        vec!["rpush", "l", "a", &big, "c"],
        vec!["lset", "l", "0", &big],
        vec!["lpop", "l"],
        vec!["ltrim", "l", "0", "0"],
        vec!["zadd", "z", "1", "a", "2", &big],
        vec!["zincrby", "z", "5", "a"],
        vec!["zrem", "z", "a"],
        vec!["rename", "z", "z2"],
        vec!["set", "h", "now a string"],
        vec!["del", "st", "l", "z2", "n"],
        vec!["hset", "h2", "f", "v"],
        vec!["expire", "h2", "10"],
        vec!["flushdb"],
        vec!["set", "again", "v"],
    ];
    for args in &script {
        run(s, NOW, args);
        check(s, &args.join(" "));
    }
}

#[test]
fn used_memory_grows_and_shrinks() {
    let s = &mut Shard::new(0, 1);
    run(s, NOW, &["set", "warm", "v"]);
    let base = s.used_memory();
    for i in 0..1000 {
        run(s, NOW, &["set", &format!("k{i}"), &"v".repeat(100)]);
    }
    let full = s.used_memory();
    // 56-byte node, 104-byte value, a share of the tables.
    let per_key = (full - base) / 1000;
    assert!((160..260).contains(&per_key), "{per_key} bytes a key");
    for i in 0..1000 {
        run(s, NOW, &["del", &format!("k{i}")]);
    }
    let after = s.used_memory();
    // Slot tables keep their buckets (56 bytes for a small one), keys go.
    assert!(after < base + 1000 * 64, "{base} -> {after}");
    check(s, "deleting all");
}

#[test]
fn expired_keys_are_uncharged() {
    let s = &mut Shard::new(0, 1);
    for i in 0..100 {
        run(s, NOW, &["set", &format!("k{i}"), "value", "PX", "10"]);
    }
    s.expire_step(NOW + 100, 10_000);
    assert_eq!(s.existing_db(0).unwrap().len(), 0);
    check(s, "active expiry");
    run(s, NOW, &["set", "lazy", "value", "PX", "10"]);
    run(s, NOW + 100, &["get", "lazy"]);
    check(s, "lazy expiry");
}
