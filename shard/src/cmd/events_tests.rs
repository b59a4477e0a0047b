//! Which keyspace events each write reports, in Redis 7.0's order and with
//! its names (checked against `redis-server` with `notify-keyspace-events
//! AKEn`).

use crate::cmd::testing::run;
use crate::shard::Shard;
use crate::signals::class;

const NOW: u64 = 1_700_000_000_000;

fn shard() -> Shard {
    let mut s = Shard::new(0, 1);
    s.signals.notify = class::ALL | class::NEW | class::KEYEVENT;
    s
}

/// Runs a command and returns the events it recorded as "event key".
fn events(s: &mut Shard, args: &[&str]) -> Vec<String> {
    run(s, NOW, args);
    s.collect_expired();
    s.signals
        .events
        .drain(..)
        .map(|e| format!("{} {}", e.event, String::from_utf8_lossy(&e.key)))
        .collect()
}

#[test]
fn strings() {
    let s = &mut shard();
    assert_eq!(events(s, &["set", "k", "v"]), ["new k", "set k"]);
    assert_eq!(
        events(s, &["set", "k", "v", "ex", "10"]),
        ["set k", "expire k"]
    );
    assert_eq!(events(s, &["set", "k", "v", "keepttl"]), ["set k"]);
    assert_eq!(events(s, &["set", "k", "v", "nx"]), Vec::<String>::new());
    assert_eq!(events(s, &["setex", "k", "5", "v"]), ["set k", "expire k"]);
    assert_eq!(events(s, &["setnx", "n", "1"]), ["new n", "set n"]);
    assert_eq!(events(s, &["incr", "n"]), ["incrby n"]);
    assert_eq!(events(s, &["decrby", "m", "2"]), ["new m", "incrby m"]);
    assert_eq!(events(s, &["incrbyfloat", "n", "1.5"]), ["incrbyfloat n"]);
    assert_eq!(events(s, &["append", "k", "x"]), ["append k"]);
    assert_eq!(events(s, &["append", "a", "x"]), ["new a", "append a"]);
    assert_eq!(events(s, &["setrange", "k", "0", "z"]), ["setrange k"]);
    assert_eq!(events(s, &["setrange", "k", "0", ""]), Vec::<String>::new());
    assert_eq!(events(s, &["getset", "k", "v"]), ["set k"]);
    assert_eq!(
        events(s, &["mset", "k", "1", "b", "2"]),
        ["set k", "new b", "set b"]
    );
    assert_eq!(events(s, &["getdel", "b"]), ["del b"]);
    assert_eq!(events(s, &["getex", "k", "px", "100"]), ["expire k"]);
    assert_eq!(events(s, &["getex", "k", "persist"]), ["persist k"]);
    assert_eq!(events(s, &["getex", "k", "persist"]), Vec::<String>::new());
    assert_eq!(events(s, &["getex", "k", "pxat", "1"]), ["del k"]);
}

#[test]
fn keys() {
    let s = &mut shard();
    events(s, &["mset", "a", "1", "b", "2"]);
    assert_eq!(events(s, &["del", "a", "x", "b"]), ["del a", "del b"]);
    events(s, &["set", "k", "v"]);
    assert_eq!(events(s, &["expire", "k", "100"]), ["expire k"]);
    assert_eq!(
        events(s, &["expire", "k", "100", "nx"]),
        Vec::<String>::new()
    );
    assert_eq!(events(s, &["persist", "k"]), ["persist k"]);
    assert_eq!(events(s, &["persist", "k"]), Vec::<String>::new());
    assert_eq!(
        events(s, &["rename", "k", "j"]),
        ["new j", "rename_from k", "rename_to j"]
    );
    assert_eq!(events(s, &["rename", "j", "j"]), Vec::<String>::new());
    assert_eq!(events(s, &["pexpire", "j", "-1"]), ["del j"]);
    events(s, &["set", "k", "v"]);
    assert_eq!(events(s, &["flushall"]), Vec::<String>::new());
}

#[test]
fn expired_keys_are_reported_before_the_write_over_them() {
    let s = &mut shard();
    s.update_expiry_tracking();
    run(s, NOW, &["set", "k", "v", "px", "10"]);
    s.signals.events.clear();
    let later = NOW + 20;
    run(s, later, &["set", "k", "w"]);
    let got: Vec<&str> = s.signals.events.iter().map(|e| e.event).collect();
    assert_eq!(got, ["expired", "new", "set"]);
}

#[test]
fn hashes() {
    let s = &mut shard();
    assert_eq!(events(s, &["hset", "h", "a", "1"]), ["new h", "hset h"]);
    assert_eq!(events(s, &["hmset", "h", "b", "2"]), ["hset h"]);
    assert_eq!(events(s, &["hsetnx", "h", "a", "1"]), Vec::<String>::new());
    assert_eq!(events(s, &["hincrby", "h", "a", "1"]), ["hincrby h"]);
    assert_eq!(
        events(s, &["hincrbyfloat", "h", "a", "1"]),
        ["hincrbyfloat h"]
    );
    assert_eq!(events(s, &["hdel", "h", "x"]), Vec::<String>::new());
    assert_eq!(events(s, &["hdel", "h", "a"]), ["hdel h"]);
    assert_eq!(events(s, &["hdel", "h", "b"]), ["hdel h", "del h"]);
}

#[test]
fn sets() {
    let s = &mut shard();
    assert_eq!(
        events(s, &["sadd", "s", "a", "b", "c"]),
        ["new s", "sadd s"]
    );
    assert_eq!(events(s, &["sadd", "s", "a"]), Vec::<String>::new());
    assert_eq!(events(s, &["srem", "s", "a"]), ["srem s"]);
    assert_eq!(events(s, &["spop", "s", "0"]), Vec::<String>::new());
    assert_eq!(events(s, &["spop", "s"]), ["spop s"]);
    assert_eq!(events(s, &["spop", "s", "5"]), ["spop s", "del s"]);
}

#[test]
fn lists() {
    let s = &mut shard();
    assert_eq!(
        events(s, &["rpush", "l", "a", "b", "c"]),
        ["new l", "rpush l"]
    );
    assert_eq!(events(s, &["lpush", "l", "z"]), ["lpush l"]);
    assert_eq!(events(s, &["lpushx", "none", "z"]), Vec::<String>::new());
    assert_eq!(events(s, &["lset", "l", "0", "y"]), ["lset l"]);
    assert_eq!(
        events(s, &["linsert", "l", "before", "a", "q"]),
        ["linsert l"]
    );
    assert_eq!(events(s, &["lrem", "l", "0", "q"]), ["lrem l"]);
    assert_eq!(events(s, &["ltrim", "l", "0", "-1"]), ["ltrim l"]);
    assert_eq!(events(s, &["lpop", "l"]), ["lpop l"]);
    assert_eq!(events(s, &["rpop", "l", "1"]), ["rpop l"]);
    assert_eq!(events(s, &["rpop", "l", "5"]), ["rpop l", "del l"]);
}

#[test]
fn list_pushes_wake_blocked_keys() {
    let s = &mut shard();
    s.signals
        .blocking
        .insert((0, bytes::Bytes::from_static(b"q")), 1);
    run(s, NOW, &["rpush", "q", "a"]);
    assert_eq!(s.signals.ready, vec![(0, bytes::Bytes::from_static(b"q"))]);
}

#[test]
fn sorted_sets() {
    let s = &mut shard();
    assert_eq!(
        events(s, &["zadd", "z", "1", "a", "2", "b", "3", "c"]),
        ["new z", "zadd z"]
    );
    assert_eq!(events(s, &["zadd", "z", "1", "a"]), Vec::<String>::new());
    assert_eq!(events(s, &["zincrby", "z", "1", "a"]), ["zincr z"]);
    assert_eq!(events(s, &["zrem", "z", "x"]), Vec::<String>::new());
    assert_eq!(events(s, &["zrem", "z", "a"]), ["zrem z"]);
    assert_eq!(events(s, &["zadd", "z", "4", "d", "5", "e"]), ["zadd z"]);
    assert_eq!(
        events(s, &["zremrangebyscore", "z", "4", "4"]),
        ["zremrangebyscore z"]
    );
    assert_eq!(
        events(s, &["zremrangebyrank", "z", "0", "0"]),
        ["zremrangebyrank z"]
    );
    assert_eq!(events(s, &["zpopmin", "z"]), ["zpopmin z"]);
    assert_eq!(events(s, &["zpopmax", "z", "5"]), ["zpopmax z", "del z"]);
}

#[test]
fn a_read_that_finds_a_key_expired_reports_it() {
    let s = &mut shard();
    s.update_expiry_tracking();
    run(s, NOW, &["set", "k", "v", "px", "10"]);
    s.signals.events.clear();
    assert_eq!(run(s, NOW + 20, &["get", "k"]), proto::Reply::Nil);
    s.collect_expired();
    let got: Vec<&str> = s.signals.events.iter().map(|e| e.event).collect();
    assert_eq!(got, ["expired"]);
}

#[test]
fn multi_key_sets_lists_and_copy() {
    let s = &mut shard();
    events(s, &["sadd", "s", "a", "b"]);
    assert_eq!(
        events(s, &["smove", "s", "t", "a"]),
        ["srem s", "new t", "sadd t"]
    );
    assert_eq!(
        events(s, &["smove", "s", "t", "b"]),
        ["srem s", "del s", "sadd t"]
    );
    events(s, &["sadd", "u", "1"]);
    assert_eq!(
        events(s, &["sinterstore", "d", "t", "u"]),
        Vec::<String>::new()
    );
    assert_eq!(
        events(s, &["sunionstore", "d", "t", "u"]),
        ["new d", "sunionstore d"]
    );
    assert_eq!(events(s, &["sunionstore", "d", "t"]), ["sunionstore d"]);
    assert_eq!(events(s, &["sinterstore", "d", "t", "x"]), ["del d"]);
    assert_eq!(events(s, &["sinter", "t", "u"]), Vec::<String>::new());
    events(s, &["rpush", "l", "1"]);
    assert_eq!(
        events(s, &["lmove", "l", "m", "left", "right"]),
        ["new m", "rpush m", "lpop l", "del l"]
    );
    assert_eq!(events(s, &["copy", "m", "n"]), ["new n", "copy_to n"]);
    assert_eq!(
        events(s, &["copy", "m", "n", "replace"]),
        ["new n", "copy_to n"]
    );
    assert_eq!(events(s, &["swapdb", "0", "3"]), Vec::<String>::new());
}
