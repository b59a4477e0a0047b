//! Restarts on the same data directory: a clean shutdown keeps everything
//! under every `appendfsync` policy, a process crash loses nothing
//! acknowledged under `everysec` and `no` either (the log is in the page
//! cache before replies leave), and FLUSHALL, FLUSHDB, SWAPDB, RENAME and
//! expiries come back as they were, with keys that expired while the
//! server was down gone.

mod common;

use common::keyspace::{assert_same, dump, now_ms, write_every_type, Dump};
use common::{tokenginx_with, Options, Process};
use std::path::Path;

fn start(dir: &Path, policy: &str, shards: usize) -> Process {
    tokenginx_with(
        Options::shards(shards)
            .data_dir(dir)
            .env("TOKENGINX_PERSIST_APPENDFSYNC", policy),
    )
}

/// Restarts on `dir` and asserts the server holds exactly `before`.
fn restart_holds(dir: &Path, policy: &str, shards: usize, before: &Dump, context: &str) -> Process {
    let server = start(dir, policy, shards);
    server.explain(|| {
        let after = dump(&mut common::redis_client(server.port));
        assert_same(before, &after, now_ms(), context);
    });
    server
}

#[test]
fn clean_shutdown_keeps_everything_under_every_policy() {
    let mut rng = fastrand::Rng::with_seed(common::seed("RESTART_SEED"));
    for policy in ["always", "everysec", "no"] {
        let dir = common::scratch_dir(&format!("restart-{policy}"));
        let mut server = start(&dir, policy, 2);
        let mut con = common::redis_client(server.port);
        for db in [0, 1, 7] {
            write_every_type(&mut con, &mut rng, db, &format!("{policy}{db}"), 30);
        }
        let before = dump(&mut con);
        assert!(before.len() > 400, "{policy}: {} keys", before.len());
        server.stop_clean();
        let mut server = restart_holds(&dir, policy, 2, &before, policy);
        // Twice: the second start reads the segment the first one began.
        let mut con = common::redis_client(server.port);
        write_every_type(&mut con, &mut rng, 2, &format!("{policy}-again"), 10);
        let before = dump(&mut con);
        server.stop_clean();
        let mut server = restart_holds(&dir, policy, 2, &before, policy);
        server.stop_clean();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn process_crash_loses_nothing_acknowledged_under_everysec_and_no() {
    let mut rng = fastrand::Rng::with_seed(common::seed("RESTART_SEED"));
    for policy in ["everysec", "no"] {
        let dir = common::scratch_dir(&format!("crash-{policy}"));
        let mut server = start(&dir, policy, 2);
        let mut con = common::redis_client(server.port);
        for db in [0, 3] {
            write_every_type(&mut con, &mut rng, db, &format!("{policy}{db}"), 30);
        }
        let before = dump(&mut con);
        server.kill();
        let mut server = restart_holds(&dir, policy, 2, &before, policy);
        server.stop_clean();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn cmd(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn keys(con: &mut redis::Connection, db: u32) -> Vec<String> {
    let mut k: Vec<String> = common::keyspace::scan_keys(con, db)
        .into_iter()
        .map(|k| String::from_utf8(k).unwrap())
        .collect();
    k.sort();
    redis::cmd("SELECT").arg(0).exec(con).unwrap();
    k
}

#[test]
fn flushes_swapdb_rename_and_expiry_come_back_as_they_were() {
    let mut rng = fastrand::Rng::with_seed(common::seed("RESTART_SEED"));
    let dir = common::scratch_dir("restart-ops");
    let mut server = start(&dir, "everysec", 2);
    let mut con = common::redis_client(server.port);
    for db in 0..4 {
        write_every_type(&mut con, &mut rng, db, &format!("d{db}"), 10);
    }
    // FLUSHDB empties database 2 only.
    cmd(&mut con, &["SELECT", "2"]);
    cmd(&mut con, &["FLUSHDB"]);
    cmd(&mut con, &["SET", "after-flushdb", "x"]);
    // SWAPDB: database 0 now holds d1's keys, database 1 d0's.
    cmd(&mut con, &["SWAPDB", "0", "1"]);
    cmd(&mut con, &["SELECT", "0"]);
    // RENAME across slots (and shards), keeping the expiry.
    cmd(&mut con, &["SET", "old{a}", "renamed", "PX", "3600000"]);
    cmd(&mut con, &["RENAME", "old{a}", "new{b}"]);
    cmd(&mut con, &["RENAME", "d1:h1", "d1:h1-renamed"]);
    // An expiry set, one removed, one changed.
    cmd(&mut con, &["SET", "persisted", "p", "EX", "3600"]);
    cmd(&mut con, &["PERSIST", "persisted"]);
    cmd(&mut con, &["EXPIRE", "d1:l2", "7200"]);
    cmd(&mut con, &["PEXPIREAT", "d1:z3", "4102444800000"]);
    // A key that expires while the server runs: gone before and after.
    cmd(&mut con, &["SET", "short", "s", "PX", "1"]);
    while cmd(&mut con, &["EXISTS", "short"]) != redis::Value::Int(0) {
        std::thread::yield_now();
    }
    let before = dump(&mut con);

    // What the commands did, so that the comparison below compares the
    // right thing.
    assert_eq!(keys(&mut con, 2), vec!["after-flushdb"]);
    let db0 = keys(&mut con, 0);
    assert!(db0.iter().all(|k| !k.starts_with("d0:")), "{db0:?}");
    assert!(db0.contains(&"d1:h1-renamed".to_string()) && !db0.contains(&"d1:h1".to_string()));
    assert!(db0.contains(&"new{b}".to_string()) && !db0.contains(&"old{a}".to_string()));
    assert!(!db0.contains(&"short".to_string()));
    let db1 = keys(&mut con, 1);
    assert!(db1.iter().all(|k| k.starts_with("d0:")), "{db1:?}");

    server.stop_clean();
    let mut server = restart_holds(&dir, "everysec", 2, &before, "after the commands");
    let mut con = common::redis_client(server.port);
    assert_eq!(
        cmd(&mut con, &["PEXPIRETIME", "d1:z3"]),
        redis::Value::Int(4102444800000)
    );
    assert_eq!(
        cmd(&mut con, &["PEXPIRETIME", "persisted"]),
        redis::Value::Int(-1)
    );

    // FLUSHALL, then new keys: only those come back.
    cmd(&mut con, &["FLUSHALL"]);
    write_every_type(&mut con, &mut rng, 5, "after-flushall", 5);
    let before = dump(&mut con);
    assert!(before.keys().all(|(db, _)| *db == 5), "{before:?}");
    server.stop_clean();
    let mut server = restart_holds(&dir, "everysec", 2, &before, "after FLUSHALL");
    server.stop_clean();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keys_that_expired_while_down_are_gone() {
    let dir = common::scratch_dir("restart-expired");
    let mut server = start(&dir, "always", 2);
    let mut con = common::redis_client(server.port);
    // Expiring soon, each kind of way, on both shards.
    for key in ["a", "b", "c", "d"] {
        cmd(&mut con, &["SET", &format!("str-{key}"), "v", "PX", "300"]);
        cmd(&mut con, &["HSET", &format!("hash-{key}"), "f", "v"]);
        cmd(&mut con, &["PEXPIRE", &format!("hash-{key}"), "300"]);
        cmd(&mut con, &["RPUSH", &format!("list-{key}"), "v"]);
        cmd(&mut con, &["EXPIRE", &format!("list-{key}"), "1"]);
        cmd(&mut con, &["SET", &format!("kept-{key}"), "v"]);
        cmd(
            &mut con,
            &["SET", &format!("later-{key}"), "v", "EX", "3600"],
        );
    }
    // Overwritten without expiry: must not expire with its first value.
    cmd(&mut con, &["SET", "overwritten", "1", "PX", "300"]);
    cmd(&mut con, &["SET", "overwritten", "2"]);
    let mut last = 0;
    for key in common::keyspace::scan_keys(&mut con, 0) {
        if key.starts_with(b"later-") {
            continue;
        }
        let at: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(&mut con).unwrap();
        last = last.max(at);
    }
    let before = dump(&mut con);
    server.stop_clean();
    // Waiting for the expiries to pass while the server is down.
    assert!(last > 0 && (last as u64) < now_ms() + 5_000, "{last}");
    while now_ms() <= last as u64 + 1 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut server = restart_holds(&dir, "always", 2, &before, "expired while down");
    let mut con = common::redis_client(server.port);
    let mut left = keys(&mut con, 0);
    left.retain(|k| !k.starts_with("kept-") && !k.starts_with("later-"));
    assert_eq!(left, vec!["overwritten"]);
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(dbsize, 9, "expired keys are not counted");
    server.stop_clean();
    let _ = std::fs::remove_dir_all(&dir);
}
