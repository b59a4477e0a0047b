//! MULTI/EXEC through the Rust redis crate on a 2-shard server: atomic and
//! isolated also when the keys live on different shards, WATCH failing on
//! expiry, and the state a disconnect leaves behind.

mod common;

use common::{redis_client, tokenginx};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// `{a}` and `{b}` hash to slots owned by different shards of two.
const A: &str = "{a}balance";
const B: &str = "{b}balance";

#[test]
fn transfers_between_shards_keep_the_sum_for_every_reader() {
    let server = tokenginx(2);
    let port = server.port;
    let mut setup = redis_client(port);
    let _: () = redis::pipe()
        .set(A, 1000)
        .set(B, 1000)
        .query(&mut setup)
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let movers: Vec<_> = (0..3)
        .map(|m| {
            thread::spawn(move || {
                let mut c = redis_client(port);
                for i in 0..1500 {
                    let amount = (i % 7 + m) as i64;
                    let (from, to) = if i % 2 == 0 { (A, B) } else { (B, A) };
                    let (_, _): (i64, i64) = redis::pipe()
                        .atomic()
                        .decr(from, amount)
                        .incr(to, amount)
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let done = done.clone();
            thread::spawn(move || {
                let mut c = redis_client(port);
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) || reads < 100 {
                    let (a, b): (i64, i64) =
                        redis::pipe().atomic().get(A).get(B).query(&mut c).unwrap();
                    assert_eq!(
                        a + b,
                        2000,
                        "a reader saw half a transfer after {reads} reads"
                    );
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for m in movers {
        m.join().expect("mover");
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().expect("no torn reads") >= 100);
    }
    let (a, b): (i64, i64) = redis::pipe().get(A).get(B).query(&mut setup).unwrap();
    assert_eq!(a + b, 2000);
}

#[test]
fn pipelines_and_transactions_mix_across_shards() {
    let server = tokenginx(2);
    let mut c = redis_client(server.port);
    let keys: Vec<String> = (0..50).map(|i| format!("session:{i}")).collect();
    let mut tx = redis::pipe();
    tx.atomic();
    for k in &keys {
        tx.set_ex(k, "payload", 60).ignore();
    }
    tx.mget(&keys).del(&keys[..10]).exists(&keys[..20]);
    let (values, deleted, existing): (Vec<String>, i64, i64) = tx.query(&mut c).unwrap();
    assert_eq!(values.len(), 50);
    assert!(values.iter().all(|v| v == "payload"));
    assert_eq!((deleted, existing), (10, 10));
    // A runtime error inside EXEC answers in place; the rest still runs.
    let r: redis::RedisResult<(String, i64)> = redis::pipe()
        .atomic()
        .cmd("LPUSH")
        .arg(&keys[20])
        .arg("x")
        .incr(&keys[49], 1)
        .query(&mut c);
    assert!(r.is_err(), "WRONGTYPE reaches the caller");
    let v: String = redis::cmd("GET").arg(&keys[49]).query(&mut c).unwrap();
    assert_eq!(
        v, "payload",
        "INCR of a non-number failed and changed nothing"
    );
}

#[test]
fn a_watched_key_that_expires_fails_the_transaction() {
    let server = tokenginx(2);
    let mut c = redis_client(server.port);
    let mut other = redis_client(server.port);
    for key in [A, B] {
        // SET, WATCH and PTTL in one pipeline: a positive PTTL after the
        // WATCH proves the key was live when watched, however slow the
        // machine (else try again with a longer TTL).
        let mut ttl = 200;
        loop {
            let (_, _, pttl): ((), (), i64) = redis::pipe()
                .cmd("SET")
                .arg(key)
                .arg("v")
                .arg("PX")
                .arg(ttl)
                .cmd("WATCH")
                .arg(key)
                .cmd("PTTL")
                .arg(key)
                .query(&mut c)
                .unwrap();
            if pttl > 0 {
                break;
            }
            let _: () = redis::cmd("UNWATCH").query(&mut c).unwrap();
            ttl *= 4;
        }
        // Wait, from another connection, until the key has expired; the
        // watching client does not touch it.
        while redis::cmd("EXISTS")
            .arg(key)
            .query::<i64>(&mut other)
            .unwrap()
            == 1
        {
            thread::sleep(Duration::from_millis(10));
        }
        let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
        let _: () = redis::cmd("SET").arg("{c}x").arg(1).query(&mut c).unwrap();
        let r: Option<Vec<String>> = redis::cmd("EXEC").query(&mut c).unwrap();
        assert_eq!(r, None, "EXEC after the watched key {key} expired");
    }
    // A key that was already gone when watched, and stays gone, is no change.
    let _: () = redis::cmd("WATCH").arg(A).query(&mut c).unwrap();
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("{c}x").arg(2).query(&mut c).unwrap();
    let r: Option<Vec<String>> = redis::cmd("EXEC").query(&mut c).unwrap();
    assert_eq!(r, Some(vec!["OK".to_string()]));
}

#[test]
fn client_list_shows_open_transactions_and_blocked_clients() {
    let server = tokenginx(2);
    let mut admin = server.connect();
    let mut tx = server.connect();
    assert_eq!(tx.cmd(&["CLIENT", "SETNAME", "tx"]), b"+OK\r\n");
    assert_eq!(tx.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(tx.cmd(&["SET", "k", "v"]), b"+QUEUED\r\n");
    let mut blocked = server.connect();
    assert_eq!(blocked.cmd(&["CLIENT", "SETNAME", "waiter"]), b"+OK\r\n");
    blocked.send(&common::encode(&["BLPOP", "{x}q", "0"]));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = String::from_utf8(admin.cmd(&["CLIENT", "LIST"])).unwrap();
        let field = |name: &str, key: &str| -> String {
            list.lines()
                .find(|l| l.contains(&format!(" name={name} ")))
                .and_then(|l| l.split(' ').find_map(|f| f.strip_prefix(key)))
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(field("tx", "flags="), "x");
        assert_eq!(field("tx", "multi="), "1");
        if field("waiter", "flags=") == "b" {
            assert_eq!(field("waiter", "cmd="), "blpop");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never blocked: {list}"
        );
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(tx.cmd(&["EXEC"]), b"*1\r\n+OK\r\n");
}

#[test]
fn a_transaction_queue_counts_against_the_query_buffer_limit() {
    let server = common::tokenginx_with(
        common::Options::shards(2).env("TOKENGINX_LIMITS_CLIENT_QUERY_BUFFER_LIMIT", "1mb"),
    );
    let mut c = server.connect();
    assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
    let value = "v".repeat(10_000);
    let mut queued = 0;
    // 10 kB per command: the queue passes 1 MB after about a hundred.
    for i in 0..200 {
        c.send(&common::encode(&["SET", &format!("big:{i}"), &value]));
        match c.try_reply() {
            Ok(reply) => {
                assert_eq!(reply, b"+QUEUED\r\n");
                queued += 1;
            }
            Err(_) => break,
        }
    }
    assert!(
        (90..110).contains(&queued),
        "closed after {queued} queued commands"
    );
    let mut other = server.connect();
    assert_eq!(other.cmd(&["EXISTS", "big:0"]), b":0\r\n", "nothing ran");
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn one_shard_transactions_answer_alike_from_either_core() {
    // Connections land on either core: a transaction whose keys all live
    // on one shard runs in place there, and travels as one batch from the
    // other core. Sixteen connections reach both with near certainty.
    let server = tokenginx(2);
    for i in 0..16 {
        let mut c = server.connect();
        let mut other = server.connect();
        let (k, h) = (format!("{{t}}n{i}"), format!("{{t}}h{i}"));
        let exec = |c: &mut common::Conn| {
            assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
            for cmd in [
                &["INCR", &k][..],
                &["HSET", &h, "f", "v"],
                &["LPUSH", &k, "x"],
                &["GET", &k],
            ] {
                assert_eq!(c.cmd(cmd), b"+QUEUED\r\n");
            }
            c.cmd(&["EXEC"])
        };
        let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value";
        let first = format!("*4\r\n:1\r\n:1\r\n{wrongtype}\r\n$1\r\n1\r\n");
        assert_eq!(common::show(&exec(&mut c)), common::show(first.as_bytes()));
        // A watch on the same shard: broken by another client's write.
        assert_eq!(c.cmd(&["WATCH", &k]), b"+OK\r\n");
        assert_eq!(other.cmd(&["INCR", &k]), b":2\r\n");
        assert_eq!(exec(&mut c), b"*-1\r\n");
        assert_eq!(c.cmd(&["WATCH", &k]), b"+OK\r\n");
        let again = format!("*4\r\n:3\r\n:0\r\n{wrongtype}\r\n$1\r\n3\r\n");
        assert_eq!(common::show(&exec(&mut c)), common::show(again.as_bytes()));
    }
}
