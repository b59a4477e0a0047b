//! A soak of the stateful commands together on a 2-shard server: many
//! clients mixing BLPOP/BRPOP, RPUSH, MULTI/EXEC, WATCH, SUBSCRIBE and
//! PUBLISH on keys of both shards, some abandoning their blocked commands.
//! At the end every element pushed must have been popped exactly once,
//! every message must have reached every subscriber in order, the WATCH
//! counter must equal the transactions that succeeded, and no blocked
//! client may be left behind. A hang shows as a read timeout.
//!
//! Too slow for `make test`: run it with
//! `SOAK_SECS=60 cargo test --release --test soak -- --ignored --nocapture`.

mod common;

use common::tokenginx;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Queues on both shards of two (`{a}` and `{b}` differ) and untagged ones.
const QUEUES: [&str; 6] = ["{a}q1", "{a}q2", "{b}q1", "{b}q2", "q3", "q4"];
const CHANNELS: [&str; 2] = ["news", "{b}news"];
/// Longer than any wait the soak makes: a read this late is a hang.
const HANG: Duration = Duration::from_secs(20);

fn connect(port: u16) -> redis::Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
    let c = c.get_connection().expect("connect");
    c.set_read_timeout(Some(HANG)).unwrap();
    c
}

/// Pushes unique elements, alone, in transactions spanning shards, and
/// guarded by WATCH; returns every element whose push took effect.
fn producer(port: u16, id: usize, stop: Arc<AtomicBool>, watch_ok: Arc<AtomicU64>) -> Vec<String> {
    let mut c = connect(port);
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9 + id as u64);
    let mut pushed = Vec::new();
    let mut n = 0;
    let mut element = || {
        n += 1;
        format!("p{id}-{n}")
    };
    while !stop.load(Ordering::Relaxed) {
        match rng.usize(..4) {
            0 | 1 => {
                let e = element();
                let _: i64 = redis::cmd("RPUSH")
                    .arg(queue(&mut rng))
                    .arg(&e)
                    .query(&mut c)
                    .expect("RPUSH");
                pushed.push(e);
            }
            2 => {
                let (e1, e2) = (element(), element());
                let _: (i64, i64, i64) = redis::pipe()
                    .atomic()
                    .rpush(queue(&mut rng), &e1)
                    .llen(queue(&mut rng))
                    .lpush(queue(&mut rng), &e2)
                    .query(&mut c)
                    .expect("MULTI/EXEC");
                pushed.extend([e1, e2]);
            }
            _ => {
                // WATCH a counter on one shard, push on either: a conflict
                // with another producer fails the EXEC and pushes nothing.
                let e = element();
                let _: () = redis::cmd("WATCH")
                    .arg("{a}counter")
                    .query(&mut c)
                    .expect("WATCH");
                let v: Option<i64> = redis::cmd("GET")
                    .arg("{a}counter")
                    .query(&mut c)
                    .expect("GET");
                let r: Option<(i64, ())> = redis::pipe()
                    .atomic()
                    .rpush(queue(&mut rng), &e)
                    .set("{a}counter", v.unwrap_or(0) + 1)
                    .query(&mut c)
                    .expect("WATCH/EXEC");
                if r.is_some() {
                    watch_ok.fetch_add(1, Ordering::Relaxed);
                    pushed.push(e);
                }
            }
        }
    }
    pushed
}

/// Pops with BLPOP/BRPOP (short and endless timeouts), in transactions,
/// and sometimes abandons a blocked command by disconnecting.
fn consumer(port: u16, id: usize, stop: Arc<AtomicBool>, abandoned: Arc<AtomicU64>) -> Vec<String> {
    let mut c = connect(port);
    let mut rng = fastrand::Rng::with_seed(0x51ed_2700 + id as u64 * 7919);
    let mut got = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match rng.usize(..10) {
            0 => {
                // Blocked on a key no one pushes, then gone.
                let mut gone = connect(port);
                gone.set_read_timeout(Some(Duration::from_millis(20)))
                    .unwrap();
                let _ = redis::cmd("BLPOP")
                    .arg(format!("{{c}}abandoned{id}"))
                    .arg(0)
                    .query::<()>(&mut gone);
                abandoned.fetch_add(1, Ordering::Relaxed);
            }
            1 => {
                let r: (Option<String>, Option<(String, String)>) = redis::pipe()
                    .atomic()
                    .lpop(queue(&mut rng), None)
                    .cmd("BRPOP")
                    .arg(queue(&mut rng))
                    .arg(queue(&mut rng))
                    .arg(0)
                    .query(&mut c)
                    .expect("MULTI/EXEC of pops");
                got.extend(r.0);
                got.extend(r.1.map(|(_, v)| v));
            }
            n => {
                let name = if n % 2 == 0 { "BLPOP" } else { "BRPOP" };
                let keys: Vec<&str> = (0..1 + rng.usize(..3)).map(|_| queue(&mut rng)).collect();
                let timeout = ["0.05", "0.2", "1"][rng.usize(..3)];
                let r: Option<(String, String)> = redis::cmd(name)
                    .arg(&keys)
                    .arg(timeout)
                    .query(&mut c)
                    .expect("served or timed out before the read timeout");
                got.extend(r.map(|(_, v)| v));
            }
        }
    }
    got
}

/// Publishes numbered messages; returns how many.
fn publisher(port: u16, id: usize, stop: Arc<AtomicBool>) -> u64 {
    let mut c = connect(port);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        for ch in CHANNELS {
            let _: i64 = redis::cmd("PUBLISH")
                .arg(ch)
                .arg(format!("{id}:{n}"))
                .query(&mut c)
                .expect("PUBLISH");
        }
        n += 1;
    }
    n
}

fn blocked_clients(c: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

#[test]
#[ignore = "a soak of about a minute; see the module comment"]
fn stateful_commands_soak_without_losses_or_hangs() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let server = tokenginx(2);
    let port: u16 = server.addr().rsplit(':').next().unwrap().parse().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let watch_ok = Arc::new(AtomicU64::new(0));
    let abandoned = Arc::new(AtomicU64::new(0));

    // Subscribers first, so that they see every message.
    const SUBSCRIBERS: usize = 3;
    const PUBLISHERS: usize = 2;
    let received = Arc::new(Mutex::new(Vec::new()));
    let subscribers: Vec<_> = (0..SUBSCRIBERS)
        .map(|_| {
            let received = received.clone();
            thread::spawn(move || {
                let mut c = connect(port);
                let mut ps = c.as_pubsub();
                for ch in CHANNELS {
                    ps.subscribe(ch).unwrap();
                }
                ps.subscribe("done").unwrap();
                received.lock().unwrap().push(());
                // Per channel and publisher, the next number expected.
                let mut next: HashMap<(String, String), u64> = HashMap::new();
                loop {
                    let msg = ps.get_message().expect("a message before the read timeout");
                    let channel = msg.get_channel_name().to_string();
                    let payload: String = msg.get_payload().unwrap();
                    if channel == "done" {
                        return next;
                    }
                    let (publisher, n) = payload.split_once(':').unwrap();
                    let n: u64 = n.parse().unwrap();
                    let want = next.entry((channel.clone(), publisher.into())).or_default();
                    assert_eq!(n, *want, "message out of order or lost on {channel}");
                    *want += 1;
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().len() < SUBSCRIBERS {
        assert!(Instant::now() < deadline, "subscribers never started");
        thread::sleep(Duration::from_millis(5));
    }

    let producers: Vec<_> = (0..4)
        .map(|i| {
            let (stop, ok) = (stop.clone(), watch_ok.clone());
            thread::spawn(move || producer(port, i, stop, ok))
        })
        .collect();
    let consumers: Vec<_> = (0..6)
        .map(|i| {
            let (stop, ab) = (stop.clone(), abandoned.clone());
            thread::spawn(move || consumer(port, i, stop, ab))
        })
        .collect();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|i| {
            let stop = stop.clone();
            thread::spawn(move || publisher(port, i, stop))
        })
        .collect();

    thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut pushed: Vec<String> = producers
        .into_iter()
        .flat_map(|t| t.join().expect("producer"))
        .collect();
    let mut popped: Vec<String> = consumers
        .into_iter()
        .flat_map(|t| t.join().expect("consumer"))
        .collect();
    let published: Vec<u64> = publishers
        .into_iter()
        .map(|t| t.join().expect("publisher"))
        .collect();

    // What no consumer took is still queued.
    let mut c = connect(port);
    for q in QUEUES {
        let rest: Vec<String> = redis::cmd("LRANGE")
            .arg(q)
            .arg(0)
            .arg(-1)
            .query(&mut c)
            .unwrap();
        popped.extend(rest);
    }
    let _: i64 = redis::cmd("PUBLISH")
        .arg("done")
        .arg("")
        .query(&mut c)
        .unwrap();
    for s in subscribers {
        let next = s.join().expect("subscriber");
        for ch in CHANNELS {
            for (p, &count) in published.iter().enumerate() {
                let got = next
                    .get(&(ch.to_string(), p.to_string()))
                    .copied()
                    .unwrap_or(0);
                assert_eq!(got, count, "messages of publisher {p} on {ch}");
            }
        }
    }
    let counter: Option<u64> = redis::cmd("GET").arg("{a}counter").query(&mut c).unwrap();
    assert_eq!(counter.unwrap_or(0), watch_ok.load(Ordering::Relaxed));

    pushed.sort();
    popped.sort();
    let (np, nq) = (pushed.len(), popped.len());
    let dup = popped
        .windows(2)
        .find(|w| w[0] == w[1])
        .map(|w| w[0].clone());
    assert_eq!(dup, None, "an element popped twice");
    assert!(pushed == popped, "pushed {np}, popped or left {nq}");

    let deadline = Instant::now() + Duration::from_secs(10);
    while blocked_clients(&mut c) != 0 {
        assert!(Instant::now() < deadline, "blocked clients left behind");
        thread::sleep(Duration::from_millis(10));
    }
    eprintln!(
        "soak: {secs} s, {np} elements pushed and popped once each, {} WATCH transactions, \
         {} blocked clients abandoned, {} messages per channel",
        watch_ok.load(Ordering::Relaxed),
        abandoned.load(Ordering::Relaxed),
        published.iter().sum::<u64>()
    );
}

fn queue(rng: &mut fastrand::Rng) -> &'static str {
    QUEUES[rng.usize(..QUEUES.len())]
}
