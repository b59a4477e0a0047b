//! Pub/Sub and keyspace notifications, compared byte for byte with
//! `redis-server`: the same two-connection scenarios run against Redis and
//! against TokenginX with 1 and 2 shards, and every reply and message must
//! be identical.
//!
//! Scenario lines:
//! - `A n CMD ...` / `B n CMD ...`: send CMD on connection A or B and read
//!   `n` replies (pushed messages count as replies); `A n` alone only reads.
//!   `~n` compares only the type of each reply (HELLO carries the client id).
//! - `sync`: B publishes on channel `sync` (A subscribed to it) and A reads
//!   everything up to that message: the keyspace events of the commands
//!   before it, whatever their number. `sync^` compares them sorted (events
//!   of keys on two shards come from two threads).
//!
//! With `PUBSUB_SHOW=1` in the environment, Redis's transcript is printed,
//! which helps when writing a scenario.

mod common;

use common::{show, Conn, Process};

/// Reads replies until one is the `sync` message; returns them all.
fn until_sync(conn: &mut Conn) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    for _ in 0..10_000 {
        let reply = conn.reply();
        let done = reply.ends_with(b"$4\r\nsync\r\n$1\r\n.\r\n");
        got.push(reply);
        if done {
            return got;
        }
    }
    panic!("no sync message among {} replies", got.len());
}

/// Runs a scenario; returns (line, transcript) per line.
fn run(server: &Process, script: &str) -> Vec<(String, Vec<u8>)> {
    let mut conns = [server.connect(), server.connect()];
    let mut out = Vec::new();
    for line in script.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "sync" || line == "sync^" {
            let count = conns[1].cmd(&["PUBLISH", "sync", "."]);
            let mut got = until_sync(&mut conns[0]);
            if line == "sync^" {
                got.sort();
            }
            out.push((line.to_string(), [count, got.concat()].concat()));
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let on = match words[0] {
            "A" => 0,
            "B" => 1,
            other => panic!("bad connection {other:?} in {line:?}"),
        };
        let (typeonly, n) = match words[1].strip_prefix('~') {
            Some(n) => (true, n),
            None => (false, words[1]),
        };
        let n: usize = n.parse().expect("reply count");
        let conn = &mut conns[on];
        if words.len() > 2 {
            conn.send(&common::encode(&words[2..]));
        }
        let replies: Vec<Vec<u8>> = (0..n).map(|_| conn.reply()).collect();
        let bytes = if typeonly {
            replies.iter().map(|r| r[..1].to_vec()).collect()
        } else {
            replies
        };
        out.push((line.to_string(), bytes.concat()));
    }
    out
}

fn check(script: &str) {
    let redis = common::redis_server(&[]);
    let expected = run(&redis, script);
    if std::env::var_os("PUBSUB_SHOW").is_some() {
        for (l, b) in &expected {
            eprintln!("{l}  =>  {}", show(b));
        }
    }
    for shards in [1, 2] {
        let tokenginx = common::tokenginx(shards);
        let got = run(&tokenginx, script);
        let mut report = String::new();
        for ((line, want), (_, have)) in expected.iter().zip(&got) {
            if want != have {
                report.push_str(&format!(
                    "{line}\n    redis    : {}\n    tokenginx: {}\n",
                    show(want),
                    show(have)
                ));
            }
        }
        assert!(
            report.is_empty(),
            "differences from redis-server with {shards} shard(s):\n{report}"
        );
    }
}

#[test]
fn subscribe_publish_and_unsubscribe_in_resp2() {
    check(
        "
        A 1 UNSUBSCRIBE
        A 1 PUNSUBSCRIBE
        A 2 SUBSCRIBE news sport
        A 1 SUBSCRIBE news
        A 1 PSUBSCRIBE n*
        B 1 PUBLISH news hi
        A 2
        B 1 PUBLISH sport x
        A 1
        B 1 PUBLISH zzz x
        B 1 PUBSUB NUMSUB news sport other
        B 1 PUBSUB NUMSUB
        B 1 PUBSUB NUMPAT
        B 1 PUBSUB CHANNELS n*
        B 1 PUBSUB CHANNELS nomatch*
        B 1 PUBSUB CHANNELS a b
        B 1 PUBSUB NUMPAT x
        B 1 PUBSUB nosuch
        B 1 PUBSUB HELP
        B 1 PUBSUB SHARDCHANNELS ord*
        B 1 PUBSUB SHARDNUMSUB a
        A 1 PING
        A 1 PING hello
        A 1 GET k
        A 1 CONFIG GET port
        A 1 CLIENT NOSUCH
        A 1 NOSUCH
        A 1 GET
        A 1 UNSUBSCRIBE news
        B 1 PUBLISH news gone
        B 1 PUBLISH nx still
        A 2
        A 1 PUNSUBSCRIBE
        A 1 UNSUBSCRIBE nothere
        A 1 UNSUBSCRIBE
        A 1 UNSUBSCRIBE
        A 1 PING
        A 1 SET k v
        A 1 PSUBSCRIBE a?c [xy]z
        A 1
        B 1 PUBLISH abc 1
        B 1 PUBLISH yz 2
        B 1 PUBLISH ac 3
        A 2
        A 1 RESET
        B 1 PUBLISH abc 1
        B 1 PUBSUB NUMPAT
        ",
    );
}

#[test]
fn shard_channels_are_a_namespace_of_their_own() {
    check(
        "
        A 1 SUNSUBSCRIBE
        A 2 SSUBSCRIBE orders invoices
        A 1 SUBSCRIBE orders
        A 1 SSUBSCRIBE orders
        B 1 SPUBLISH orders x
        A 1
        B 1 PUBLISH orders y
        A 1
        B 1 SPUBLISH nobody x
        B 1 PUBSUB SHARDCHANNELS ord*
        B 1 PUBSUB SHARDCHANNELS inv*
        B 1 PUBSUB SHARDNUMSUB orders invoices nobody
        B 1 PUBSUB NUMSUB orders
        A 1 SPUBLISH orders z
        A 1 UNSUBSCRIBE
        A 1 PING
        A 1 SUNSUBSCRIBE orders
        A 1 SUNSUBSCRIBE
        A 1 SUNSUBSCRIBE
        A 1 PING
        A ~1 HELLO 3
        A 1 SSUBSCRIBE orders
        A 2 SPUBLISH orders self
        A 1 RESET
        B 1 PUBSUB SHARDNUMSUB orders
        ",
    );
}

#[test]
fn resp3_subscribers_get_push_frames_and_may_run_any_command() {
    check(
        "
        A ~1 HELLO 3
        A 1 UNSUBSCRIBE
        A 1 SUBSCRIBE ch
        A 1 PSUBSCRIBE c*
        A 1 GET k
        A 1 PING
        B 1 PUBLISH ch m
        A 2
        A 3 PUBLISH ch self
        A 1 UNSUBSCRIBE
        A 1 PUNSUBSCRIBE
        A 1 PUNSUBSCRIBE
        ",
    );
}

#[test]
fn keyspace_events_match_redis() {
    check(
        "
        B 1 CONFIG SET notify-keyspace-events KEA
        A 1 SUBSCRIBE sync
        A 1 PSUBSCRIBE __key*@0__:*
        B 1 SET {t}s v
        B 1 SET {t}s v EX 100
        B 1 SET {t}s v KEEPTTL
        B 1 SETNX {t}s v
        B 1 INCR {t}n
        B 1 INCRBYFLOAT {t}n 1.5
        B 1 APPEND {t}s x
        B 1 SETRANGE {t}s 0 y
        B 1 GETSET {t}s z
        B 1 MSET {t}a 1 {t}b 2
        B 1 GETDEL {t}a
        B 1 GETEX {t}b PX 100000
        B 1 GETEX {t}b PERSIST
        B 1 EXPIRE {t}b 100
        B 1 PERSIST {t}b
        B 1 PEXPIRE {t}b -1
        B 1 DEL {t}s {t}n {t}none
        sync
        B 1 HSET {t}h a 1 b 2
        B 1 HINCRBY {t}h a 1
        B 1 HINCRBYFLOAT {t}h a 1.5
        B 1 HDEL {t}h a b
        B 1 SADD {t}s a b c
        B 1 SREM {t}s a
        B 1 SREM {t}s b
        B 1 SPOP {t}s 5
        B 1 RPUSH {t}l a b c d
        B 1 LPUSH {t}l z
        B 1 LSET {t}l 0 y
        B 1 LINSERT {t}l BEFORE a q
        B 1 LREM {t}l 0 q
        B 1 LTRIM {t}l 0 -1
        B 1 LPOP {t}l
        B 1 RPOP {t}l 5
        B 1 ZADD {t}z 1 a 2 b 3 c 4 d
        B 1 ZINCRBY {t}z 1 a
        B 1 ZREM {t}z a
        B 1 ZREMRANGEBYSCORE {t}z 2 2
        B 1 ZREMRANGEBYRANK {t}z 0 0
        B 1 ZPOPMIN {t}z
        B 1 ZADD {t}z 1 a
        B 1 ZPOPMAX {t}z 3
        sync
        B 1 SET {t}r v
        B 1 RENAME {t}r {t}r2
        B 1 SET {t}x v
        B 1 FLUSHALL
        sync
        # Keys on different shards with two shards: compared as a set.
        B 1 SET k1 v
        B 1 SET k2 v
        B 1 SET k3 v
        B 1 DEL k1 k2 k3
        sync^
        # RENAME from shard 1 to shard 0 (k1 -> k2) with two shards.
        B 1 SET k1 v
        B 1 RENAME k1 k2
        B 1 RENAME k2 k3
        sync^
        B 1 CONFIG SET notify-keyspace-events Eg$n
        B 1 SET {t}s v
        B 1 DEL {t}s
        sync
        B 1 CONFIG SET notify-keyspace-events Kh
        B 1 SET {t}s v
        B 1 HSET {t}h a 1
        sync
        ",
    );
}

#[test]
fn multi_key_set_list_and_copy_events_match_redis() {
    check(
        "
        B 1 CONFIG SET notify-keyspace-events KEAn
        A 1 SUBSCRIBE sync
        A 1 PSUBSCRIBE __key*@*__:*
        B 1 SADD {t}s a b
        B 1 SMOVE {t}s {t}t a
        B 1 SMOVE {t}s {t}t b
        B 1 SADD {t}u 1
        B 1 SUNIONSTORE {t}d {t}t {t}u
        B 1 SINTERSTORE {t}d {t}t {t}none
        B 1 RPUSH {t}l 1
        B 1 LMOVE {t}l {t}m LEFT RIGHT
        B 1 COPY {t}m {t}n
        B 1 COPY {t}m {t}n DB 3
        sync
        # Keys on different shards with two shards (s1 and s4 on one, s2
        # and d2 on the other): events come from both, compared as a set.
        B 1 SADD s1 a b
        B 1 SMOVE s1 s2 a
        B 1 SMOVE s1 s2 b
        B 1 SUNIONSTORE d2 s2 s4
        B 1 SINTERSTORE d2 s2 s4
        B 1 RPOPLPUSH none s2
        B 1 RPUSH s4 x
        B 1 RPOPLPUSH s4 d2
        B 1 COPY d2 s1 DB 2
        sync^
        ",
    );
}

#[test]
fn notify_keyspace_events_can_be_set_at_start_up() {
    let server = common::tokenginx_with(
        common::Options::shards(2).env("TOKENGINX_SERVER_NOTIFY_KEYSPACE_EVENTS", "Ex"),
    );
    let mut admin = server.connect();
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "notify-keyspace-events"]),
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$2\r\nxE\r\n"
    );
    let mut sub = server.connect();
    sub.cmd(&["SUBSCRIBE", "__keyevent@0__:expired"]);
    // Keys on both shards; nobody reads them: the expiry cycles report them.
    for key in ["a", "b", "c", "d"] {
        assert_eq!(admin.cmd(&["SET", key, "v", "PX", "50"]), b"+OK\r\n");
    }
    let mut expired: Vec<Vec<u8>> = (0..4)
        .map(|_| {
            let m = sub.reply();
            let prefix = b"*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:expired\r\n$1\r\n";
            assert!(m.starts_with(prefix), "{}", show(&m));
            m[prefix.len()..prefix.len() + 1].to_vec()
        })
        .collect();
    expired.sort();
    assert_eq!(expired, [b"a", b"b", b"c", b"d"]);
}

#[test]
fn client_list_and_kill_know_pubsub_clients() {
    let server = common::tokenginx(2);
    let mut sub = server.connect();
    sub.cmd(&["SUBSCRIBE", "a"]);
    sub.cmd(&["PSUBSCRIBE", "b*"]);
    sub.cmd(&["SSUBSCRIBE", "c"]);
    let mut admin = server.connect();
    let text = |reply: Vec<u8>| String::from_utf8_lossy(&reply).into_owned();
    let pubsub = text(admin.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]));
    assert_eq!(pubsub.matches("id=").count(), 1, "{pubsub}");
    assert!(
        pubsub.contains(" flags=P db=0 sub=1 psub=1 ssub=1 "),
        "{pubsub}"
    );
    let normal = text(admin.cmd(&["CLIENT", "LIST", "TYPE", "normal"]));
    assert_eq!(normal.matches("id=").count(), 1, "{normal}");
    assert!(normal.contains(" flags=N "), "{normal}");
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]), b":1\r\n");
    assert_eq!(sub.read_to_close(), b"");
    // Gone from every table: nobody receives, nothing is listed.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while admin.cmd(&["PUBLISH", "a", "x"]) != b":0\r\n" {
        assert!(std::time::Instant::now() < until, "still subscribed");
    }
    assert_eq!(admin.cmd(&["PUBSUB", "NUMPAT"]), b":0\r\n");
    assert_eq!(admin.cmd(&["PUBSUB", "SHARDCHANNELS"]), b"*0\r\n");
}

#[test]
fn a_transaction_publishes_in_command_order_and_a_failed_one_not_at_all() {
    check(
        "
        B 1 CONFIG SET notify-keyspace-events E$
        A 1 SUBSCRIBE sync
        A 1 SUBSCRIBE ch
        A 1 PSUBSCRIBE __keyevent@*__:*
        # A failed WATCH: nothing queued runs, SELECT included.
        B 1 WATCH {t}w
        B 1 SET {t}w 1
        B 1 MULTI
        B 1 PUBLISH ch lost
        B 1 SELECT 5
        B 1 EXEC
        B 1 SET {t}where db0
        sync
        # Watches on both shards, then one transaction's events and
        # messages in the order of its commands.
        B 1 WATCH {t}w {b}w
        B 1 MULTI
        B 1 SET {t}k v
        B 1 PUBLISH ch after-set
        B 1 SELECT 5
        B 1 SET {t}k5 v
        B 1 PUBLISH ch after-set-in-5
        B 1 EXEC
        B 1 SET {t}k5 again
        sync
        ",
    );
}

#[test]
fn a_resp3_client_gets_its_own_events_of_a_transaction_after_the_reply() {
    // Redis 7.0 writes such pushes inside EXEC's array (7.2 defers them
    // after it), so this is checked without redis-server, on both paths:
    // a transaction on one shard and one that spans two.
    for shards in [1, 2] {
        let server = common::tokenginx(shards);
        let mut c = server.connect();
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "E$"]);
        c.cmd(&["HELLO", "3"]);
        c.cmd(&["SUBSCRIBE", "__keyevent@0__:set"]);
        c.cmd(&["MULTI"]);
        c.cmd(&["SET", "{a}k", "v"]);
        c.cmd(&["GET", "{a}k"]);
        c.send(&common::encode(&["EXEC"]));
        assert_eq!(show(&c.reply()), show(b"*2\r\n+OK\r\n$1\r\nv\r\n"));
        let event = b">3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$4\r\n{a}k\r\n";
        assert_eq!(show(&c.reply()), show(event));
        c.cmd(&["MULTI"]);
        c.cmd(&["SET", "{a}k", "w"]);
        c.cmd(&["SET", "{b}k", "w"]);
        c.send(&common::encode(&["EXEC"]));
        assert_eq!(show(&c.reply()), show(b"*2\r\n+OK\r\n+OK\r\n"));
        let mut events = vec![c.reply(), c.reply()];
        events.sort();
        let other = b">3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$4\r\n{b}k\r\n";
        assert_eq!(events, vec![event.to_vec(), other.to_vec()]);
    }
}

#[test]
fn a_resp3_subscriber_waiting_in_blpop_gets_messages_at_once() {
    check(
        "
        A ~1 HELLO 3
        A 1 SUBSCRIBE ch
        A 0 BLPOP {a}k 0
        B 1 PUBLISH ch hi
        A 1
        B 1 RPUSH {a}k v
        A 1
        ",
    );
}
