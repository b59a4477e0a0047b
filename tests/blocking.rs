//! BLPOP and BRPOP on a 2-shard server: a blocked client is served when a
//! client on any core pushes, times out with the null array, keeps its
//! pipeline in order, and leaves nothing behind when it disconnects.

mod common;

use common::{show, tokenginx, Conn};
use std::time::{Duration, Instant};

/// `{a}` and `{b}` hash to slots owned by different shards of two.
const A: &str = "{a}queue";
const B: &str = "{b}queue";

fn blocked_clients(c: &mut Conn) -> i64 {
    let info = String::from_utf8(c.cmd(&["INFO", "clients"])).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

/// Polls until `n` clients are blocked, so a push cannot race the block.
fn wait_blocked(c: &mut Conn, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while blocked_clients(c) != n {
        assert!(Instant::now() < deadline, "never saw {n} blocked clients");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_push_on_any_shard_serves_the_blocked_client() {
    let server = tokenginx(2);
    let mut admin = server.connect();
    for key in [A, B] {
        let mut waiter = server.connect();
        waiter.send(&common::encode(&["BLPOP", "{c}none", key, "0"]));
        wait_blocked(&mut admin, 1);
        assert_eq!(admin.cmd(&["RPUSH", key, "token"]), b":1\r\n");
        let expected = format!("*2\r\n$8\r\n{key}\r\n$5\r\ntoken\r\n");
        assert_eq!(show(&waiter.reply()), show(expected.as_bytes()));
        assert_eq!(admin.cmd(&["EXISTS", key]), b":0\r\n", "popped");
        wait_blocked(&mut admin, 0);
    }
}

#[test]
fn keys_on_several_shards_are_served_by_whichever_gets_data() {
    let server = tokenginx(2);
    let mut admin = server.connect();
    let mut waiter = server.connect();
    waiter.send(&common::encode(&["BRPOP", A, B, "0"]));
    wait_blocked(&mut admin, 1);
    admin.cmd(&["LPUSH", B, "x", "y"]);
    assert_eq!(
        show(&waiter.reply()),
        show(format!("*2\r\n$8\r\n{B}\r\n$1\r\nx\r\n").as_bytes())
    );
    assert_eq!(admin.cmd(&["LRANGE", B, "0", "-1"]), b"*1\r\n$1\r\ny\r\n");
}

#[test]
fn one_element_serves_one_waiter_oldest_first() {
    let server = tokenginx(2);
    let mut admin = server.connect();
    let mut first = server.connect();
    first.send(&common::encode(&["BLPOP", A, "0"]));
    wait_blocked(&mut admin, 1);
    let mut second = server.connect();
    second.send(&common::encode(&["BLPOP", A, "0"]));
    wait_blocked(&mut admin, 2);
    admin.cmd(&["RPUSH", A, "one"]);
    let expected = format!("*2\r\n$8\r\n{A}\r\n$3\r\none\r\n");
    assert_eq!(show(&first.reply()), show(expected.as_bytes()));
    wait_blocked(&mut admin, 1);
    assert!(second.read_for(Duration::from_millis(50)).is_empty());
    admin.cmd(&["RPUSH", A, "two"]);
    let expected = format!("*2\r\n$8\r\n{A}\r\n$3\r\ntwo\r\n");
    assert_eq!(show(&second.reply()), show(expected.as_bytes()));
}

#[test]
fn timeouts_answer_null_and_later_commands_wait_their_turn() {
    let server = tokenginx(2);
    let mut c = server.connect();
    let start = Instant::now();
    // A pipeline: the PING is answered only after BLPOP gave up.
    c.send(
        &[
            common::encode(&["BLPOP", A, B, "0.2"]),
            common::encode(&["PING"]),
        ]
        .concat(),
    );
    assert_eq!(c.reply(), b"*-1\r\n");
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!(c.reply(), b"+PONG\r\n");
    c.cmd(&["HELLO", "3"]);
    assert_eq!(c.cmd(&["BRPOP", B, "0.05"]), b"_\r\n");
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn a_client_that_disconnects_while_blocked_takes_nothing() {
    let server = tokenginx(2);
    let mut admin = server.connect();
    {
        let mut gone = server.connect();
        gone.send(&common::encode(&["BLPOP", A, B, "0"]));
        wait_blocked(&mut admin, 1);
    }
    wait_blocked(&mut admin, 0);
    assert_eq!(admin.cmd(&["RPUSH", A, "kept"]), b":1\r\n");
    assert_eq!(admin.cmd(&["RPUSH", B, "kept"]), b":1\r\n");
    assert_eq!(admin.cmd(&["LLEN", A]), b":1\r\n");
    assert_eq!(admin.cmd(&["LLEN", B]), b":1\r\n");
}

#[test]
fn consumers_blocked_on_both_shards_receive_every_element_once() {
    const PER_PRODUCER: usize = 2000;
    const CONSUMERS: usize = 4;
    let server = tokenginx(2);
    let port: u16 = server.addr().rsplit(':').next().unwrap().parse().unwrap();
    let connect = move || {
        let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        let c = c.get_connection().unwrap();
        // A lost wake-up shows as a consumer that never returns.
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c
    };
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = connect();
                let mut got = Vec::new();
                loop {
                    let (_, v): (String, String) = redis::cmd("BLPOP")
                        .arg(A)
                        .arg(B)
                        .arg(0)
                        .query(&mut c)
                        .expect("served before the read timeout");
                    if v == "stop" {
                        return got;
                    }
                    got.push(v);
                }
            })
        })
        .collect();
    let producers: Vec<_> = [A, B]
        .into_iter()
        .map(|key| {
            std::thread::spawn(move || {
                let mut c = connect();
                for i in 0..PER_PRODUCER {
                    let _: i64 = redis::cmd("RPUSH")
                        .arg(key)
                        .arg(format!("{key}-{i}"))
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut c = connect();
    for _ in 0..CONSUMERS {
        let _: i64 = redis::cmd("RPUSH")
            .arg(B)
            .arg("stop")
            .query(&mut c)
            .unwrap();
    }
    let mut all: Vec<String> = consumers
        .into_iter()
        .flat_map(|t| t.join().expect("consumer"))
        .collect();
    all.sort();
    let mut expected: Vec<String> = [A, B]
        .iter()
        .flat_map(|k| (0..PER_PRODUCER).map(move |i| format!("{k}-{i}")))
        .collect();
    expected.sort();
    assert_eq!(
        all.len(),
        expected.len(),
        "every element popped exactly once"
    );
    assert_eq!(all, expected);
}

#[test]
fn lmove_rpoplpush_and_copy_from_another_shard_serve_the_blocked_client() {
    let server = tokenginx(2);
    let mut admin = server.connect();
    for (moving, answer) in [
        (
            &["LMOVE", "{a}src", B, "LEFT", "RIGHT"][..],
            &b"$5\r\ntoken\r\n"[..],
        ),
        (&["RPOPLPUSH", "{a}src", B], b"$5\r\ntoken\r\n"),
        (&["COPY", "{a}src", B], b":1\r\n"),
    ] {
        admin.cmd(&["DEL", "{a}src"]);
        admin.cmd(&["RPUSH", "{a}src", "token"]);
        let mut waiter = server.connect();
        waiter.send(&common::encode(&["BLPOP", B, "0"]));
        wait_blocked(&mut admin, 1);
        assert_eq!(show(&admin.cmd(moving)), show(answer), "{moving:?}");
        let expected = format!("*2\r\n$8\r\n{B}\r\n$5\r\ntoken\r\n");
        assert_eq!(
            show(&waiter.reply()),
            show(expected.as_bytes()),
            "{moving:?}"
        );
        wait_blocked(&mut admin, 0);
    }
}

#[test]
fn blmove_and_brpoplpush_wait_for_a_push_on_another_shard() {
    let server = tokenginx(2);
    let mut admin = server.connect();
    for waiting in [
        &["BLMOVE", A, B, "LEFT", "RIGHT", "0"][..],
        &["BRPOPLPUSH", A, B, "0"],
    ] {
        let mut waiter = server.connect();
        waiter.send(&common::encode(waiting));
        wait_blocked(&mut admin, 1);
        assert_eq!(admin.cmd(&["EXISTS", B]), b":0\r\n", "nothing moved yet");
        admin.cmd(&["RPUSH", A, "token"]);
        assert_eq!(
            show(&waiter.reply()),
            show(b"$5\r\ntoken\r\n"),
            "{waiting:?}"
        );
        assert_eq!(admin.cmd(&["EXISTS", A]), b":0\r\n");
        assert_eq!(admin.cmd(&["LPOP", B]), b"$5\r\ntoken\r\n");
        wait_blocked(&mut admin, 0);
    }
}

#[test]
fn a_transaction_sees_its_own_pushes_before_blocked_clients_are_served() {
    // Waiters spread over both cores: some live on the shard owning their
    // key, where a wake-up could run at once.
    const WAITERS: usize = 16;
    let server = tokenginx(2);
    let mut admin = server.connect();
    let keys: Vec<String> = (0..WAITERS).map(|i| format!("{{a}}w{i}")).collect();
    let mut waiters = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let mut w = server.connect();
        w.send(&common::encode(&["BLPOP", key, "0"]));
        wait_blocked(&mut admin, i as i64 + 1);
        waiters.push(w);
    }
    let mut c = server.connect();
    assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
    for key in &keys {
        assert_eq!(c.cmd(&["RPUSH", key, "x"]), b"+QUEUED\r\n");
    }
    // A key of the other shard makes the transaction hold both.
    assert_eq!(c.cmd(&["SET", B, "1"]), b"+QUEUED\r\n");
    for key in &keys {
        assert_eq!(c.cmd(&["LLEN", key]), b"+QUEUED\r\n");
    }
    let mut expected = format!("*{}\r\n", 2 * WAITERS + 1);
    expected.push_str(&":1\r\n".repeat(WAITERS));
    expected.push_str("+OK\r\n");
    expected.push_str(&":1\r\n".repeat(WAITERS));
    assert_eq!(show(&c.cmd(&["EXEC"])), show(expected.as_bytes()));
    for (w, key) in waiters.iter_mut().zip(&keys) {
        let expected = format!("*2\r\n${}\r\n{key}\r\n$1\r\nx\r\n", key.len());
        assert_eq!(show(&w.reply()), show(expected.as_bytes()));
    }
}

#[test]
fn renaming_a_list_onto_a_waited_key_serves_the_waiter() {
    let server = tokenginx(2);
    let mut admin = server.connect();
    // From the same shard and from the other one.
    for src in ["{a}src", B] {
        let mut waiter = server.connect();
        waiter.send(&common::encode(&["BLPOP", A, "0"]));
        wait_blocked(&mut admin, 1);
        assert_eq!(admin.cmd(&["RPUSH", src, "moved"]), b":1\r\n");
        assert_eq!(admin.cmd(&["RENAME", src, A]), b"+OK\r\n");
        let expected = format!("*2\r\n$8\r\n{A}\r\n$5\r\nmoved\r\n");
        assert_eq!(show(&waiter.reply()), show(expected.as_bytes()));
        wait_blocked(&mut admin, 0);
    }
}

#[test]
fn a_waited_key_that_becomes_another_type_is_passed_over() {
    // Redis 7.0 serves a blocked client from the list that received data;
    // another key of its command holding a string since is no error.
    let server = tokenginx(2);
    let mut admin = server.connect();
    let k = "{a}k";
    let mut first = server.connect();
    first.send(&common::encode(&["BLPOP", k, B, "0"]));
    wait_blocked(&mut admin, 1);
    let mut second = server.connect();
    second.send(&common::encode(&["BLPOP", k, "0.2"]));
    wait_blocked(&mut admin, 2);
    let mut third = server.connect();
    third.send(&common::encode(&["BLPOP", k, "0"]));
    wait_blocked(&mut admin, 3);
    assert_eq!(admin.cmd(&["SET", k, "string"]), b"+OK\r\n");
    admin.cmd(&["RPUSH", B, "x"]);
    let expected = format!("*2\r\n$8\r\n{B}\r\n$1\r\nx\r\n");
    assert_eq!(show(&first.reply()), show(expected.as_bytes()));
    // The second times out; the third, next in line, is not woken to be
    // told WRONGTYPE: it waits on, and is served once the key is a list.
    assert_eq!(second.reply(), b"*-1\r\n");
    wait_blocked(&mut admin, 1);
    admin.cmd(&["DEL", k]);
    admin.cmd(&["RPUSH", k, "y"]);
    assert_eq!(
        show(&third.reply()),
        show(b"*2\r\n$4\r\n{a}k\r\n$1\r\ny\r\n")
    );
}

#[test]
fn a_shorter_timeout_after_a_longer_one_is_kept() {
    // Timeouts are looked at when the earliest is due: a client that
    // blocks for less than those already waiting must move it earlier
    // (else it is answered after 30 s, past the read timeout).
    let server = tokenginx(1);
    let mut admin = server.connect();
    let mut long = server.connect();
    long.send(&common::encode(&["BLPOP", A, "30"]));
    wait_blocked(&mut admin, 1);
    let mut short = server.connect();
    short.send(&common::encode(&["BRPOP", B, "0.1"]));
    assert_eq!(short.reply(), b"*-1\r\n");
    assert_eq!(blocked_clients(&mut admin), 1);
}
