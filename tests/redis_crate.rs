//! TokenginX through the Rust `redis` crate, the way Rust services use it:
//! plain commands, big pipelines, RESP3, multi-key commands whose keys live on
//! different shards, full SCAN iteration and many concurrent connections.

mod common;

use common::Process;
use redis::{Commands, Connection, Value};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

fn connect_url(url: &str) -> Connection {
    let client = redis::Client::open(url).expect("client");
    let con = client
        .get_connection_with_timeout(TIMEOUT)
        .expect("connect");
    con.set_read_timeout(Some(TIMEOUT)).unwrap();
    con.set_write_timeout(Some(TIMEOUT)).unwrap();
    con
}

fn connect(server: &Process) -> Connection {
    connect_url(&format!("redis://{}/", server.addr()))
}

#[test]
fn plain_commands() {
    let server = common::tokenginx(2);
    let mut con = connect(&server);
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");

    let () = con.set("session:abc", "user=42").unwrap();
    let v: Option<String> = con.get("session:abc").unwrap();
    assert_eq!(v.as_deref(), Some("user=42"));
    let v: Option<String> = con.get("session:missing").unwrap();
    assert_eq!(v, None);

    let () = con.set_ex("token:1", "t", 300).unwrap();
    let ttl: i64 = con.ttl("token:1").unwrap();
    assert!((290..=300).contains(&ttl), "TTL {ttl}");
    let ok: bool = con.expire("session:abc", 60).unwrap();
    assert!(ok);
    let pttl: i64 = con.pttl("session:abc").unwrap();
    assert!((59_000..=60_000).contains(&pttl), "PTTL {pttl}");
    let ok: bool = con.persist("session:abc").unwrap();
    assert!(ok);
    assert_eq!(con.ttl::<_, i64>("session:abc").unwrap(), -1);
    assert_eq!(con.ttl::<_, i64>("session:missing").unwrap(), -2);

    assert_eq!(con.incr::<_, _, i64>("counter", 1).unwrap(), 1);
    assert_eq!(con.incr::<_, _, i64>("counter", 41).unwrap(), 42);
    assert_eq!(con.decr::<_, _, i64>("counter", 2).unwrap(), 40);
    let f: f64 = con.incr("float", 1.5f64).unwrap();
    assert_eq!(f, 1.5);

    let () = con
        .hset_multiple(
            "hash:1",
            &[("user", "42"), ("scope", "openid"), ("nonce", "n-1")],
        )
        .unwrap();
    let all: HashMap<String, String> = con.hgetall("hash:1").unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all["scope"], "openid");
    let scope: String = con.hget("hash:1", "scope").unwrap();
    assert_eq!(scope, "openid");
    assert_eq!(con.hincr::<_, _, _, i64>("hash:1", "user", 1).unwrap(), 43);
    assert_eq!(
        con.hdel::<_, _, i64>("hash:1", &["nonce", "nofield"])
            .unwrap(),
        1
    );
    assert_eq!(con.hlen::<_, i64>("hash:1").unwrap(), 2);

    let err = con.incr::<_, _, i64>("session:abc", 1).unwrap_err();
    assert_eq!(err.code(), Some("ERR"), "{err}");
    let err = con.get::<_, Option<String>>("hash:1").unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"), "{err}");
    let err = redis::cmd("NOSUCHCOMMAND")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("unknown command"), "{err}");
    // The connection survives errors.
    assert_eq!(
        con.exists::<_, i64>(&["session:abc", "token:1", "hash:1", "nokey"])
            .unwrap(),
        3
    );
    assert_eq!(
        con.del::<_, i64>(&["session:abc", "token:1", "hash:1", "nokey"])
            .unwrap(),
        3
    );
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 2);

    // Binary-safe values.
    let blob: Vec<u8> = (0..=255u8).collect();
    let () = con.set(b"bin\0key".as_slice(), blob.as_slice()).unwrap();
    let back: Vec<u8> = con.get(b"bin\0key".as_slice()).unwrap();
    assert_eq!(back, blob);
}

#[test]
fn pipeline_of_a_thousand_commands() {
    let server = common::tokenginx(2);
    let mut con = connect(&server);
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.set(format!("pipe:{i}"), format!("value-{i}"));
        pipe.get(format!("pipe:{i}"));
    }
    let replies: Vec<Value> = pipe.query(&mut con).unwrap();
    assert_eq!(replies.len(), 1000);
    for (i, pair) in replies.chunks(2).enumerate() {
        assert_eq!(pair[0], Value::Okay, "SET #{i}");
        assert_eq!(
            pair[1],
            Value::BulkString(format!("value-{i}").into_bytes()),
            "GET #{i}"
        );
    }
    // Mixed commands; replies stay in order. (The crate turns any error reply
    // into an error for the whole pipeline; errors in pipelines are covered by
    // the raw-bytes tests.)
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        match i % 4 {
            0 => pipe.incr("pipe:counter", 1).ignore(),
            1 => pipe.exists(format!("pipe:{}", i % 500)),
            2 => pipe.hset("pipe:h", format!("f{i}"), i),
            _ => pipe.strlen(format!("pipe:{}", i % 500)),
        };
    }
    let replies: Vec<Value> = pipe.query(&mut con).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(replies.len(), 750);
    for (j, r) in replies.iter().enumerate() {
        match j % 3 {
            0 => assert_eq!(*r, Value::Int(1)),
            1 => assert_eq!(*r, Value::Int(1), "HSET of a new field"),
            _ => assert!(matches!(r, Value::Int(7..=9)), "{r:?}"),
        }
    }
    let n: i64 = con.get("pipe:counter").unwrap();
    assert_eq!(n, 250);
    assert_eq!(con.hlen::<_, i64>("pipe:h").unwrap(), 250);
}

#[test]
fn resp3_replies() {
    let server = common::tokenginx(2);
    let mut con = connect_url(&format!("redis://{}/?protocol=resp3", server.addr()));
    let () = con
        .hset_multiple("r3:h", &[("a", "1"), ("b", "2")])
        .unwrap();
    let all: Value = redis::cmd("HGETALL").arg("r3:h").query(&mut con).unwrap();
    let Value::Map(entries) = all else {
        panic!("HGETALL in RESP3 should be a map, got {all:?}")
    };
    let mut entries: Vec<(Value, Value)> = entries;
    entries.sort_by_key(|(k, _)| format!("{k:?}"));
    assert_eq!(
        entries,
        vec![
            (
                Value::BulkString(b"a".to_vec()),
                Value::BulkString(b"1".to_vec())
            ),
            (
                Value::BulkString(b"b".to_vec()),
                Value::BulkString(b"2".to_vec())
            ),
        ]
    );
    let missing: Value = redis::cmd("GET").arg("r3:missing").query(&mut con).unwrap();
    assert_eq!(missing, Value::Nil);
    let mget: Value = redis::cmd("MGET")
        .arg("r3:h")
        .arg("r3:missing")
        .query(&mut con)
        .unwrap();
    assert_eq!(mget, Value::Array(vec![Value::Nil, Value::Nil]));
    let typed: HashMap<String, i64> = con.hgetall("r3:h").unwrap();
    assert_eq!(typed["b"], 2);
    let hello: Value = redis::cmd("HELLO").arg(3).query(&mut con).unwrap();
    let Value::Map(fields) = hello else {
        panic!("HELLO 3 should be a map, got {hello:?}")
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == Value::BulkString(name.as_bytes().to_vec()))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("HELLO has no {name}"))
    };
    assert_eq!(field("proto"), Value::Int(3));
    assert!(matches!(field("id"), Value::Int(_)));
    assert_eq!(field("mode"), Value::BulkString(b"standalone".to_vec()));
    assert_eq!(field("role"), Value::BulkString(b"master".to_vec()));
    assert_eq!(field("modules"), Value::Array(vec![]));
    let config: Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut con)
        .unwrap();
    assert!(
        matches!(config, Value::Map(_)),
        "CONFIG GET in RESP3: {config:?}"
    );
}

/// 10,000 keys over 2 shards: every multi-key command sees all of them,
/// wherever they live.
#[test]
fn multi_key_commands_across_shards() {
    let server = common::tokenginx(2);
    let mut con = connect(&server);
    const N: usize = 10_000;
    let keys: Vec<String> = (0..N).map(|i| format!("k:{i}")).collect();
    for chunk in keys.chunks(1000) {
        let pairs: Vec<(&str, String)> = chunk
            .iter()
            .map(|k| (k.as_str(), format!("v-{k}")))
            .collect();
        let () = con.mset(&pairs).unwrap();
    }
    assert_eq!(redis::cmd("DBSIZE").query::<usize>(&mut con).unwrap(), N);
    for chunk in keys.chunks(2500) {
        let values: Vec<Option<String>> = con.mget(chunk).unwrap();
        for (k, v) in chunk.iter().zip(values) {
            assert_eq!(v, Some(format!("v-{k}")), "MGET {k}");
        }
    }
    let mut probe: Vec<String> = keys[..100].to_vec();
    probe.push("nokey:1".into());
    probe.push("k:0".into());
    assert_eq!(
        con.exists::<_, usize>(&probe).unwrap(),
        101,
        "EXISTS counts repeats"
    );

    // SCAN visits every key exactly once.
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    for calls in 0.. {
        assert!(calls < 20_000, "SCAN did not finish");
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(97)
            .query(&mut con)
            .unwrap();
        for k in batch {
            assert!(seen.insert(k.clone()), "SCAN returned {k} twice");
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen, keys.iter().cloned().collect::<HashSet<_>>());
    let matched: HashSet<String> = con.scan_match::<_, String>("k:99*").unwrap().collect();
    assert_eq!(matched.len(), 111, "k:99, k:990..k:999, k:9900..k:9999");

    // RENAME and RENAMENX between keys that are (mostly) on other shards.
    for i in 0..200 {
        let (from, to) = (format!("k:{i}"), format!("renamed:{i}"));
        let () = con.rename(&from, &to).unwrap();
        assert!(!con.exists::<_, bool>(&from).unwrap());
        assert_eq!(con.get::<_, String>(&to).unwrap(), format!("v-k:{i}"));
    }
    for i in 200..300 {
        // The target exists (k:i+100): nothing happens.
        let moved: bool = con
            .rename_nx(format!("k:{i}"), format!("k:{}", i + 100))
            .unwrap();
        assert!(!moved);
        let moved: bool = con.rename_nx(format!("k:{i}"), format!("nx:{i}")).unwrap();
        assert!(moved);
        assert_eq!(
            con.get::<_, String>(format!("nx:{i}")).unwrap(),
            format!("v-k:{i}")
        );
    }
    let err = con.rename::<_, _, ()>("nokey:1", "x").unwrap_err();
    assert!(err.to_string().contains("no such key"), "{err}");

    // MSETNX is all or nothing across shards.
    let fresh: Vec<(String, &str)> = (0..50).map(|i| (format!("fresh:{i}"), "1")).collect();
    assert!(con.mset_nx::<_, _, bool>(&fresh).unwrap());
    let mut clash = fresh
        .iter()
        .map(|(k, _)| (format!("{k}:other"), "2"))
        .collect::<Vec<_>>();
    clash.push(("fresh:7".into(), "2"));
    assert!(!con.mset_nx::<_, _, bool>(&clash).unwrap());
    let other: Vec<String> = clash[..50].iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(
        con.exists::<_, usize>(&other).unwrap(),
        0,
        "a failed MSETNX set nothing"
    );
    assert_eq!(con.get::<_, String>("fresh:7").unwrap(), "1");

    // DEL over all shards.
    let deleted: usize = con.del(&keys[1000..]).unwrap();
    assert_eq!(deleted, N - 1000);
    assert_eq!(
        redis::cmd("DBSIZE").query::<usize>(&mut con).unwrap(),
        1000 + 50
    );
    assert_eq!(
        redis::cmd("FLUSHALL").query::<String>(&mut con).unwrap(),
        "OK"
    );
    assert_eq!(redis::cmd("DBSIZE").query::<usize>(&mut con).unwrap(), 0);
}

#[test]
fn two_hundred_concurrent_connections() {
    let server = common::tokenginx(2);
    let url = format!("redis://{}/", server.addr());
    let workers: Vec<_> = (0..200)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut con = connect_url(&url);
                for i in 0..50 {
                    let key = format!("c:{w}:{i}");
                    let value = format!("{w}-{i}-{}", "x".repeat(w % 64));
                    let () = con.set(&key, &value).unwrap();
                    let back: String = con.get(&key).unwrap();
                    assert_eq!(back, value, "worker {w} key {key}");
                }
                let counter: i64 = con.incr("c:shared", 1).unwrap();
                assert!(counter >= 1);
                con
            })
        })
        .collect();
    // Keep every connection open until all are done, so they overlap.
    let connections: Vec<Connection> = workers
        .into_iter()
        .map(|h| h.join().expect("worker panicked"))
        .collect();
    assert_eq!(connections.len(), 200);
    let mut con = connect(&server);
    assert_eq!(con.get::<_, i64>("c:shared").unwrap(), 200);
    assert_eq!(
        redis::cmd("DBSIZE").query::<usize>(&mut con).unwrap(),
        200 * 50 + 1
    );
    let clients: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert!(
        clients.lines().count() >= 201,
        "CLIENT LIST shows {} clients",
        clients.lines().count()
    );
}
