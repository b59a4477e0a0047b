//! maxmemory and its policies, against the real binary: the OOM error of
//! noeviction, LRU keeping memory under the limit while far more is
//! written, volatile policies sparing keys without a TTL, the counters INFO
//! reports, and the limit set from the environment.

mod common;

use common::{tokenginx, tokenginx_with, Conn, Options};

const OOM: &[u8] = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n";

/// A field of INFO's text, as a number.
fn info_field(c: &mut Conn, section: &str, field: &str) -> u64 {
    let reply = c.cmd(&["INFO", section]);
    let text = String::from_utf8_lossy(&reply).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {text}"))
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{field} is not a number in {text}"))
}

fn set(c: &mut Conn, key: &str, value: &str, ttl: Option<u64>) -> Vec<u8> {
    match ttl {
        Some(t) => c.cmd(&["SET", key, value, "EX", &t.to_string()]),
        None => c.cmd(&["SET", key, value]),
    }
}

#[test]
fn noeviction_answers_with_redis_oom_error() {
    let server = tokenginx(2);
    let mut c = server.connect();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "2mb"]), b"+OK\r\n");
    let value = "v".repeat(1000);
    let mut refused = None;
    for i in 0..10_000 {
        let reply = set(&mut c, &format!("key:{i}"), &value, None);
        if reply != b"+OK\r\n" {
            refused = Some((i, reply));
            break;
        }
    }
    let (written, reply) = refused.expect("writes were refused before 10 MB");
    assert_eq!(reply, OOM);
    assert!(written > 100, "refused after {written} writes");
    // Reads and deletions still work; nothing was evicted.
    assert_eq!(c.cmd(&["GET", "key:0"]).len(), 1000 + 9);
    assert_eq!(info_field(&mut c, "stats", "evicted_keys"), 0);
    assert_eq!(c.cmd(&["DEL", "key:0"]), b":1\r\n");
}

#[test]
fn allkeys_lru_stays_under_the_limit_while_ten_times_more_is_written() {
    let server = tokenginx(2);
    let mut c = server.connect();
    let limit: u64 = 4 << 20;
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "4mb"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory-policy"]),
        b"*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n"
    );
    let value = "x".repeat(500);
    let keys = 10 * limit as usize / 500;
    for i in 0..keys {
        assert_eq!(
            set(&mut c, &format!("session:{i}"), &value, None),
            b"+OK\r\n"
        );
        if i % 5000 == 0 {
            let used = info_field(&mut c, "memory", "used_memory_dataset");
            // Checked before each write: at most one write over, per shard.
            assert!(
                used <= limit + 4096,
                "{used} bytes over a {limit}-byte limit"
            );
        }
    }
    let evicted = info_field(&mut c, "stats", "evicted_keys");
    let dbsize: u64 = String::from_utf8_lossy(&c.cmd(&["DBSIZE"]))[1..]
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        evicted + dbsize,
        keys as u64,
        "every key is either there or evicted"
    );
    assert!(dbsize > 1000, "only {dbsize} keys kept in 4 MB");
    assert_eq!(info_field(&mut c, "memory", "maxmemory"), limit);
    // The newest key is still there.
    assert_eq!(
        c.cmd(&["EXISTS", &format!("session:{}", keys - 1)]),
        b":1\r\n"
    );
}

#[test]
fn volatile_policies_never_evict_keys_without_ttl() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let server = tokenginx(2);
        let mut c = server.connect();
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "maxmemory-policy", policy]),
            b"+OK\r\n"
        );
        assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "3mb"]), b"+OK\r\n");
        let value = "p".repeat(500);
        for i in 0..300 {
            assert_eq!(set(&mut c, &format!("keep:{i}"), &value, None), b"+OK\r\n");
        }
        // Keys with a TTL make room for each other until none is left.
        let mut oom = false;
        for i in 0..20_000 {
            let reply = set(&mut c, &format!("ttl:{i}"), &value, Some(3600));
            if reply == OOM {
                oom = true;
                break;
            }
            assert_eq!(reply, b"+OK\r\n", "{policy}");
        }
        for i in 0..300 {
            assert_eq!(
                c.cmd(&["EXISTS", &format!("keep:{i}")]),
                b":1\r\n",
                "{policy} evicted keep:{i}"
            );
        }
        assert!(
            info_field(&mut c, "stats", "evicted_keys") > 1000,
            "{policy}"
        );
        // Writing persistent keys eventually finds nothing it may evict.
        if !oom {
            let mut refused = false;
            for i in 0..20_000 {
                if set(&mut c, &format!("more:{i}"), &value, None) == OOM {
                    refused = true;
                    break;
                }
            }
            assert!(
                refused,
                "{policy}: no OOM once only persistent keys are left"
            );
        }
    }
}

#[test]
fn limit_from_the_environment_and_per_shard_figures() {
    let server = tokenginx_with(
        Options::shards(2)
            .env("TOKENGINX_LIMITS_MAXMEMORY", "8mb")
            .env("TOKENGINX_LIMITS_MAXMEMORY_POLICY", "allkeys-lfu"),
    );
    let mut c = server.connect();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory*"]),
        b"*4\r\n$9\r\nmaxmemory\r\n$7\r\n8388608\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lfu\r\n"
    );
    let info = String::from_utf8_lossy(&c.cmd(&["INFO"])).to_string();
    for field in [
        "used_memory:",
        "used_memory_human:",
        "used_memory_rss:",
        "maxmemory_human:8.00M",
        "maxmemory_policy:allkeys-lfu",
        "mem_fragmentation_ratio:",
    ] {
        assert!(info.contains(field), "{field} missing from {info}");
    }
    // Each shard has half the limit.
    let shard_lines: Vec<&str> = info
        .lines()
        .filter(|l| l.starts_with("shard") && l.contains(":keys="))
        .collect();
    assert_eq!(shard_lines.len(), 2);
    for line in shard_lines {
        assert!(line.contains("maxmemory=4194304"), "{line}");
        assert!(line.contains("hit_ratio="), "{line}");
    }
    assert_eq!(c.cmd(&["OBJECT", "IDLETIME", "nokey"]), b"$-1\r\n");
    set(&mut c, "k", "v", None);
    assert_eq!(
        c.cmd(&["OBJECT", "IDLETIME", "k"]),
        b"-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n".to_vec()
    );
}

#[test]
fn evictions_are_published_as_keyspace_events() {
    let server = tokenginx(2);
    let mut c = server.connect();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ee"]),
        b"+OK\r\n"
    );
    let mut subscriber = server.connect();
    assert_eq!(
        subscriber.cmd(&["SUBSCRIBE", "__keyevent@0__:evicted"]),
        b"*3\r\n$9\r\nsubscribe\r\n$22\r\n__keyevent@0__:evicted\r\n:1\r\n"
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "2mb"]), b"+OK\r\n");
    let value = "e".repeat(1000);
    let mut i = 0;
    while info_field(&mut c, "stats", "evicted_keys") == 0 {
        for _ in 0..500 {
            assert_eq!(set(&mut c, &format!("k:{i}"), &value, None), b"+OK\r\n");
            i += 1;
        }
        assert!(i < 100_000, "nothing evicted after {i} writes");
    }
    // The first eviction's message names a key that is gone.
    let message = String::from_utf8_lossy(&subscriber.reply()).to_string();
    assert!(
        message.starts_with("*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:evicted\r\n"),
        "{message}"
    );
    let key = message.lines().nth(6).expect("the key").to_string();
    assert!(key.starts_with("k:"), "{message}");
    assert_eq!(c.cmd(&["EXISTS", &key]), b":0\r\n");
}

#[test]
fn exec_with_writes_is_refused_whole_when_over_the_limit() {
    let server = tokenginx(1);
    let mut admin = server.connect();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]),
        b"+OK\r\n"
    );
    let mut c = server.connect();
    assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SET", "a", "1"]), b"+QUEUED\r\n");
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", "1"]), b"+OK\r\n");
    // Redis's words; the transaction is gone.
    assert_eq!(
        c.cmd(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n".to_vec()
    );
    assert_eq!(c.cmd(&["EXEC"]), b"-ERR EXEC without MULTI\r\n");
    assert_eq!(c.cmd(&["EXISTS", "a"]), b":0\r\n");
    // Inside MULTI even reads are refused while over (queueing takes memory).
    assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "a"]), OOM);
    assert_eq!(c.cmd(&["DISCARD"]), b"+OK\r\n");
    // A transaction of reads queued before the limit still runs.
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "a"]), b"+QUEUED\r\n");
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", "1"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["EXEC"]), b"*1\r\n$-1\r\n");
}

#[test]
fn cross_shard_commands_that_may_grow_memory_are_refused_whole() {
    let server = tokenginx(2);
    let mut c = server.connect();
    c.cmd(&["SADD", "{a}s", "m", "n"]);
    c.cmd(&["SADD", "{b}s", "n", "o"]);
    c.cmd(&["RPUSH", "{b}l", "x"]);
    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    c.cmd(&["CONFIG", "SET", "maxmemory", "2mb"]);
    // Fill the shard of {a} only, until it refuses.
    let value = "v".repeat(1000);
    let full = (0..10_000)
        .map(|i| set(&mut c, &format!("{{a}}fill:{i}"), &value, None))
        .any(|reply| reply == OOM);
    assert!(full, "the {{a}} shard never filled up");
    assert_eq!(c.cmd(&["SUNIONSTORE", "{b}d", "{a}s", "{b}s"]), OOM);
    assert_eq!(c.cmd(&["LMOVE", "{b}l", "{a}l", "LEFT", "LEFT"]), OOM);
    assert_eq!(c.cmd(&["COPY", "{b}s", "{a}c"]), OOM);
    assert_eq!(c.cmd(&["EXISTS", "{b}d", "{a}l", "{a}c"]), b":0\r\n");
    assert_eq!(c.cmd(&["LLEN", "{b}l"]), b":1\r\n", "nothing taken");
    // Reads, and writes that cannot grow memory, still run.
    assert_eq!(c.cmd(&["SINTERCARD", "2", "{a}s", "{b}s"]), b":1\r\n");
    assert_eq!(c.cmd(&["SMOVE", "{a}s", "{b}s", "m"]), b":1\r\n");
    assert_eq!(c.cmd(&["SCARD", "{b}s"]), b":3\r\n");
}

#[test]
fn a_transaction_sent_whole_to_a_full_shard_is_refused_there() {
    let server = tokenginx(2);
    let mut admin = server.connect();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]),
        b"+OK\r\n"
    );
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "maxmemory", "4mb"]),
        b"+OK\r\n"
    );
    // Fill the shard owning {t} past its share; the other stays empty.
    let value = "v".repeat(1000);
    let filled =
        (0..20_000).any(|i| set(&mut admin, &format!("{{t}}fill:{i}"), &value, None) == OOM);
    assert!(filled, "the {{t}} shard never filled");
    // From either core (sixteen connections reach both), a transaction of
    // {t} writes is refused whole. A connection on the full shard is refused
    // while queueing already, as Redis refuses commands inside MULTI when
    // over the limit; one on the other core has it refused by the full shard.
    let mut queued = 0;
    for i in 0..16 {
        let mut c = server.connect();
        let key = format!("{{t}}new:{i}");
        assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
        let reply = c.cmd(&["SET", &key, "x"]);
        let exec = c.cmd(&["EXEC"]);
        if reply == OOM {
            assert_eq!(
                exec,
                b"-EXECABORT Transaction discarded because of previous errors.\r\n".to_vec()
            );
        } else {
            assert_eq!(reply, b"+QUEUED\r\n");
            queued += 1;
            assert_eq!(
                exec,
                b"-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n".to_vec()
            );
        }
        assert_eq!(c.cmd(&["EXISTS", &key]), b":0\r\n");
    }
    assert!(queued > 0, "no connection landed on the other core");
}
