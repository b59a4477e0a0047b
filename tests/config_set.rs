//! CONFIG SET takes effect on every shard: a password set through one
//! connection is required on connections served by any shard, and an idle
//! timeout closes idle clients wherever they live.

mod common;

use common::{encode, tokenginx};
use std::time::{Duration, Instant};

#[test]
fn requirepass_set_at_run_time_applies_to_every_shard() {
    let server = tokenginx(2);
    let mut admin = server.connect();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "requirepass", "s3cret"]),
        b"+OK\r\n"
    );
    // Several new connections, so both shards' listeners serve some.
    for _ in 0..8 {
        let mut c = server.connect();
        assert_eq!(
            c.cmd(&["GET", "k"]),
            b"-NOAUTH Authentication required.\r\n"
        );
        assert_eq!(
            c.cmd(&["AUTH", "wrong"]),
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(c.cmd(&["AUTH", "s3cret"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["GET", "k"]), b"$-1\r\n");
    }
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "requirepass"]),
        b"*2\r\n$11\r\nrequirepass\r\n$6\r\ns3cret\r\n"
    );
    assert_eq!(admin.cmd(&["CONFIG", "SET", "requirepass", ""]), b"+OK\r\n");
    let mut c = server.connect();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn idle_clients_are_closed_after_the_timeout() {
    let server = tokenginx(2);
    let mut admin = server.connect();
    assert_eq!(admin.cmd(&["CONFIG", "SET", "timeout", "1"]), b"+OK\r\n");
    let mut idle: Vec<_> = (0..6).map(|_| server.connect()).collect();
    for c in &mut idle {
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    }
    let started = Instant::now();
    for c in &mut idle {
        // Closed by the server: EOF, with no reply bytes.
        assert_eq!(c.read_to_close(), b"");
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed after only {waited:?}"
    );
    assert!(waited < Duration::from_secs(8), "took {waited:?}");
    // A client that keeps talking stays.
    let mut busy = server.connect();
    let until = Instant::now() + Duration::from_millis(1800);
    while Instant::now() < until {
        busy.send(&encode(&["PING"]));
        assert_eq!(busy.reply(), b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn subscribers_are_not_idle_clients() {
    let server = tokenginx(2);
    let mut admin = server.connect();
    assert_eq!(admin.cmd(&["CONFIG", "SET", "timeout", "1"]), b"+OK\r\n");
    // Idle since before the normal client below: the timeout would close
    // it first if it applied to subscribers.
    let mut subscriber = server.connect();
    assert_eq!(
        subscriber.cmd(&["SUBSCRIBE", "news"]),
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    // Several expiry ticks (10 a second) apart, so the subscriber's shard
    // has passed its deadline too, whichever shard each client is on.
    std::thread::sleep(Duration::from_millis(400));
    let mut idle = server.connect();
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(idle.read_to_close(), b"");
    let mut publisher = server.connect();
    assert_eq!(publisher.cmd(&["PUBLISH", "news", "still-here"]), b":1\r\n");
    assert_eq!(
        subscriber.reply(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$10\r\nstill-here\r\n"
    );
}
