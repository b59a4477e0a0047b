//! Commands on keys of several shards are atomic and isolated, as in Redis:
//! concurrent clients never see half of an MSET or a RENAME. Each test runs
//! writers and readers at once on a 2-shard server, with keys `{a}...` and
//! `{b}...` that live on different shards, and fails on the first torn
//! state a reader observes.

mod common;

use common::tokenginx;
use redis::Commands;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

const ROUNDS: usize = 3000;

fn client(port: u16) -> redis::Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
    c.get_connection().expect("connect")
}

fn port(server: &common::Process) -> u16 {
    server.addr().rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn mget_never_sees_half_of_an_mset() {
    let server = tokenginx(2);
    let port = port(&server);
    let mut setup = client(port);
    let _: () = setup.mset(&[("{a}x", 0), ("{b}y", 0)]).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let done = done.clone();
            thread::spawn(move || {
                let mut c = client(port);
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
                let mut c = client(port);
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
    let port = port(&server);
    let mut setup = client(port);
    let _: () = setup.set("{a}k", "token").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let mover = {
        let done = done.clone();
        thread::spawn(move || {
            let mut c = client(port);
            for _ in 0..ROUNDS {
                let _: () = c.rename("{a}k", "{b}k").unwrap();
                let _: () = c.rename("{b}k", "{a}k").unwrap();
            }
            done.store(true, Ordering::Release);
        })
    };
    let mut c = client(port);
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
    let port = port(&server);
    for round in 0..300 {
        let keys = [format!("{{a}}n{round}"), format!("{{b}}n{round}")];
        let racers: Vec<_> = (0..2)
            .map(|who| {
                let keys = keys.clone();
                thread::spawn(move || {
                    let mut c = client(port);
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
        let mut c = client(port);
        let (a, b): (i64, i64) = c.mget(&keys).unwrap();
        assert_eq!(
            a, b,
            "round {round}: the keys came from different MSETNX calls"
        );
    }
}
