//! Commands on keys of several shards are atomic and isolated, as in Redis:
//! concurrent clients never see half of an MSET or a RENAME. Each test runs
//! writers and readers at once on a 2-shard server, with keys `{a}...` and
//! `{b}...` that live on different shards, and fails on the first torn
//! state a reader observes.

mod common;

use common::{redis_client, tokenginx};
use redis::Commands;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

const ROUNDS: usize = 3000;

#[test]
fn mget_never_sees_half_of_an_mset() {
    let server = tokenginx(2);
    let port = server.port;
    let mut setup = redis_client(port);
    let _: () = setup.mset(&[("{a}x", 0), ("{b}y", 0)]).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let done = done.clone();
            thread::spawn(move || {
                let mut c = redis_client(port);
                for i in 0..ROUNDS {
                    let v = (w * ROUNDS + i) as i64;
                    let _: () = c.mset(&[("{a}x", v), ("{b}y", v)]).unwrap();
                }
                done.store(true, Ordering::Release);
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let done = done.clone();
            thread::spawn(move || {
                let mut c = redis_client(port);
                let mut reads = 0;
                while !done.load(Ordering::Acquire) || reads < 100 {
                    let (x, y): (i64, i64) = c.mget(&["{a}x", "{b}y"]).unwrap();
                    assert_eq!(x, y, "MGET saw half of an MSET after {reads} reads");
                    reads += 1;
                    assert!(reads < 1_000_000, "writers never finished");
                }
            })
        })
        .collect();
    for t in writers.into_iter().chain(readers) {
        t.join().expect("no torn reads");
    }
}

#[test]
fn a_key_renamed_back_and_forth_always_exists_exactly_once() {
    let server = tokenginx(2);
    let port = server.port;
    let mut setup = redis_client(port);
    let _: () = setup.set("{a}k", "token").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let mover = {
        let done = done.clone();
        thread::spawn(move || {
            let mut c = redis_client(port);
            for _ in 0..ROUNDS {
                let _: () = c.rename("{a}k", "{b}k").unwrap();
                let _: () = c.rename("{b}k", "{a}k").unwrap();
            }
            done.store(true, Ordering::Release);
        })
    };
    let mut c = redis_client(port);
    let mut reads = 0;
    while !done.load(Ordering::Acquire) {
        let n: i64 = c.exists(&["{a}k", "{b}k"]).unwrap();
        assert_eq!(n, 1, "a RENAME across shards was seen half done");
        reads += 1;
        assert!(reads < 1_000_000, "mover never finished");
    }
    mover.join().unwrap();
    let v: String = c.get("{a}k").unwrap();
    assert_eq!(v, "token");
}

#[test]
fn racing_msetnx_is_all_or_nothing() {
    let server = tokenginx(2);
    let port = server.port;
    for round in 0..300 {
        let keys = [format!("{{a}}n{round}"), format!("{{b}}n{round}")];
        let racers: Vec<_> = (0..2)
            .map(|who| {
                let keys = keys.clone();
                thread::spawn(move || {
                    let mut c = redis_client(port);
                    let pairs = [(keys[who].clone(), who), (keys[1 - who].clone(), who)];
                    let won: bool = c.mset_nx(&pairs).unwrap();
                    won
                })
            })
            .collect();
        let wins: Vec<bool> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(
            wins.iter().filter(|w| **w).count(),
            1,
            "round {round}: {wins:?}"
        );
        let mut c = redis_client(port);
        let (a, b): (i64, i64) = c.mget(&keys).unwrap();
        assert_eq!(
            a, b,
            "round {round}: the keys came from different MSETNX calls"
        );
    }
}

/// Members moved back and forth between two sets on different shards are
/// always in exactly one of them: a reader's SUNION (one atomic command)
/// always counts them all, and SINTERCARD never finds one in both.
#[test]
fn smove_across_shards_keeps_every_member_in_exactly_one_set() {
    const MEMBERS: usize = 20;
    let server = tokenginx(2);
    let port = server.port;
    let mut setup = redis_client(port);
    let members: Vec<String> = (0..MEMBERS).map(|i| format!("m{i}")).collect();
    let _: () = setup.sadd("{a}s", &members).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let movers: Vec<_> = [("{a}s", "{b}s"), ("{b}s", "{a}s")]
        .into_iter()
        .map(|(from, to)| {
            let (done, members) = (done.clone(), members.clone());
            thread::spawn(move || {
                let mut c = redis_client(port);
                let mut moved = 0;
                for i in 0..ROUNDS {
                    let m = &members[i % MEMBERS];
                    let n: i64 = redis::cmd("SMOVE")
                        .arg(from)
                        .arg(to)
                        .arg(m)
                        .query(&mut c)
                        .unwrap();
                    moved += n;
                }
                done.store(true, Ordering::Release);
                moved
            })
        })
        .collect();
    let mut c = redis_client(port);
    let mut reads = 0;
    while !done.load(Ordering::Acquire) || reads < 100 {
        let union: Vec<String> = c.sunion(&["{a}s", "{b}s"]).unwrap();
        assert_eq!(union.len(), MEMBERS, "an SMOVE was seen half done");
        let both: i64 = redis::cmd("SINTERCARD")
            .arg(2)
            .arg("{a}s")
            .arg("{b}s")
            .query(&mut c)
            .unwrap();
        assert_eq!(both, 0, "a member was seen in both sets");
        reads += 1;
        assert!(reads < 1_000_000, "movers never finished");
    }
    let moved: Vec<i64> = movers.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        moved.iter().all(|&n| n > 0),
        "both directions moved: {moved:?}"
    );
    let (a, b): (usize, usize) = (c.scard("{a}s").unwrap(), c.scard("{b}s").unwrap());
    assert_eq!(a + b, MEMBERS);
}

/// One element moved between two lists on different shards by LMOVE in
/// both directions: at every moment exactly one of the lists exists.
#[test]
fn lmove_across_shards_never_shows_the_element_twice_or_nowhere() {
    let server = tokenginx(2);
    let port = server.port;
    let mut setup = redis_client(port);
    let _: () = setup.rpush("{a}l", "token").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let movers: Vec<_> = [
        ("{a}l", "{b}l", "LEFT", "RIGHT"),
        ("{b}l", "{a}l", "RIGHT", "LEFT"),
    ]
    .into_iter()
    .map(|(from, to, w1, w2)| {
        let done = done.clone();
        thread::spawn(move || {
            let mut c = redis_client(port);
            let mut moved = 0;
            for _ in 0..ROUNDS {
                let got: Option<String> = redis::cmd("LMOVE")
                    .arg(from)
                    .arg(to)
                    .arg(w1)
                    .arg(w2)
                    .query(&mut c)
                    .unwrap();
                moved += got.is_some() as usize;
            }
            done.store(true, Ordering::Release);
            moved
        })
    })
    .collect();
    let mut c = redis_client(port);
    let mut reads = 0;
    while !done.load(Ordering::Acquire) || reads < 100 {
        let n: i64 = c.exists(&["{a}l", "{b}l"]).unwrap();
        assert_eq!(n, 1, "an LMOVE across shards was seen half done");
        reads += 1;
        assert!(reads < 1_000_000, "movers never finished");
    }
    let moved: Vec<usize> = movers.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        moved.iter().all(|&n| n > 0),
        "both directions moved: {moved:?}"
    );
    let (a, b): (Vec<String>, Vec<String>) = (
        c.lrange("{a}l", 0, -1).unwrap(),
        c.lrange("{b}l", 0, -1).unwrap(),
    );
    assert_eq!([a, b].concat(), ["token"]);
}

/// A WATCH on a key that a cross-shard SMOVE or COPY changes fails the
/// EXEC, as a change by a single-shard command does; one it only reads
/// does not.
#[test]
fn cross_shard_multi_key_writes_fail_the_watches_of_what_they_change() {
    let server = tokenginx(2);
    let port = server.port;
    let mut watcher = redis_client(port);
    let mut other = redis_client(port);
    let _: () = other.sadd("{a}s", &["m", "n"]).unwrap();
    let exec = |c: &mut redis::Connection| -> Option<Vec<i64>> {
        let _: () = redis::cmd("MULTI").query(c).unwrap();
        let _: () = redis::cmd("INCR").arg("{a}n").query(c).unwrap();
        redis::cmd("EXEC").query(c).unwrap()
    };
    for (key, change) in [
        ("{b}s", &["SMOVE", "{a}s", "{b}s", "m"][..]),
        ("{a}s", &["SMOVE", "{a}s", "{b}s", "n"]),
        ("{b}c", &["COPY", "{b}s", "{b}c"]),
        ("{a}c", &["COPY", "{b}s", "{a}c"]),
    ] {
        let _: () = redis::cmd("WATCH").arg(key).query(&mut watcher).unwrap();
        let _: redis::Value = redis::cmd(change[0])
            .arg(&change[1..])
            .query(&mut other)
            .unwrap();
        assert_eq!(exec(&mut watcher), None, "{change:?} changed {key}");
    }
    let _: () = redis::cmd("WATCH").arg("{b}s").query(&mut watcher).unwrap();
    let _: Vec<String> = other.sunion(&["{a}c", "{b}s"]).unwrap();
    let _: i64 = redis::cmd("SMOVE")
        .arg("{a}c")
        .arg("{b}s")
        .arg("none")
        .query(&mut other)
        .unwrap();
    assert!(
        exec(&mut watcher).is_some(),
        "reads and no-op moves change nothing"
    );
}
