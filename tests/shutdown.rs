//! Graceful shutdown: the SHUTDOWN command and SIGTERM end the process with
//! exit code 0 promptly, even with clients connected, and a client in the
//! middle of a pipeline receives whole replies for what the server read.

mod common;

use common::{encode, reply_len, show, Conn, Process};
use std::time::{Duration, Instant};

/// How long shutdown may take with clients connected. The server itself
/// gives in-flight replies up to 5 s; the rest is slack for a loaded CI box.
const PROMPT: Duration = Duration::from_secs(10);

fn connected_clients(server: &Process) -> Vec<Conn> {
    (0..20)
        .map(|i| {
            let mut c = server.connect();
            assert_eq!(c.cmd(&["SET", &format!("idle:{i}"), "v"]), b"+OK\r\n");
            c
        })
        .collect()
}

/// Splits `bytes` into complete replies; panics on a truncated tail.
fn complete_replies(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n =
            reply_len(rest).unwrap_or_else(|| panic!("truncated reply at the end: {}", show(rest)));
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    out
}

/// Sends a pipeline of INCRs, waits for the first reply, runs `stop`, and
/// checks the client got a gapless run of whole replies before EOF.
fn pipeline_survives(server: &mut Process, stop: impl FnOnce(&mut Process)) {
    let mut c = server.connect();
    let batch: Vec<u8> = (0..1000)
        .flat_map(|_| encode(&["INCR", "pipelined"]))
        .collect();
    // Keeps writing until the server goes away (bounded), so shutdown lands in
    // the middle of the stream.
    let writer = {
        let mut stream = c.stream.try_clone().unwrap();
        std::thread::spawn(move || {
            use std::io::Write;
            for _ in 0..2000 {
                if stream.write_all(&batch).is_err() {
                    break;
                }
            }
        })
    };
    let first = c.reply();
    assert_eq!(first, b":1\r\n");
    stop(server);
    let rest = c.read_to_close();
    writer.join().unwrap();
    let replies = complete_replies(&rest);
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(
            show(r),
            show(format!(":{}\r\n", i + 2).as_bytes()),
            "reply {}",
            i + 2
        );
    }
    println!("{} replies before shutdown", replies.len() + 1);
}

fn assert_exits_zero(server: &mut Process, started: Instant) {
    let status = server.wait_exit(PROMPT).unwrap_or_else(|| {
        panic!(
            "tokenginx still running {PROMPT:?} after shutdown; log:\n{}",
            server.log_text()
        )
    });
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        server.log_text()
    );
    assert!(started.elapsed() < PROMPT);
}

#[test]
fn shutdown_command_exits_zero_with_clients_connected() {
    let mut server = common::tokenginx(2);
    let mut clients = connected_clients(&server);
    let mut admin = server.connect();
    let started = Instant::now();
    admin.send(&encode(&["SHUTDOWN"]));
    // As in Redis, a successful SHUTDOWN sends no reply: the connection closes.
    assert_eq!(show(&admin.read_to_close()), show(b""));
    assert_exits_zero(&mut server, started);
    for c in &mut clients {
        assert_eq!(show(&c.read_to_close()), show(b""), "idle clients see EOF");
    }
}

#[test]
fn sigterm_exits_zero_with_clients_connected() {
    let mut server = common::tokenginx(2);
    let mut clients = connected_clients(&server);
    let started = Instant::now();
    server.signal(libc::SIGTERM);
    assert_exits_zero(&mut server, started);
    for c in &mut clients {
        assert_eq!(show(&c.read_to_close()), show(b""), "idle clients see EOF");
    }
}

#[test]
fn sigterm_mid_pipeline_sends_whole_replies() {
    let mut server = common::tokenginx(2);
    let mut started = Instant::now();
    pipeline_survives(&mut server, |s| {
        started = Instant::now();
        s.signal(libc::SIGTERM)
    });
    assert_exits_zero(&mut server, started);
}

#[test]
fn shutdown_command_mid_pipeline_of_another_client() {
    let mut server = common::tokenginx(2);
    let mut started = Instant::now();
    pipeline_survives(&mut server, |s| {
        started = Instant::now();
        let mut admin = s.connect();
        admin.send(&encode(&["SHUTDOWN", "NOSAVE"]));
        assert_eq!(show(&admin.read_to_close()), show(b""));
    });
    assert_exits_zero(&mut server, started);
}

#[test]
fn shutdown_errors_leave_the_server_running() {
    let server = common::tokenginx(1);
    let mut c = server.connect();
    assert_eq!(
        show(&c.cmd(&["SHUTDOWN", "BOGUS"])),
        show(b"-ERR syntax error\r\n")
    );
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn shutdown_requires_auth_when_a_password_is_set() {
    let server = common::tokenginx_with(common::Options::shards(1).password("pw"));
    let mut c = server.connect();
    assert_eq!(
        show(&c.cmd(&["SHUTDOWN"])),
        show(b"-NOAUTH Authentication required.\r\n")
    );
    let mut other = server.connect();
    assert_eq!(show(&other.cmd(&["AUTH", "pw"])), show(b"+OK\r\n"));
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn shutdown_closes_blocked_clients_and_open_transactions_unanswered() {
    let mut server = common::tokenginx(2);
    let mut admin = server.connect();
    // Blocked on keys of each shard and of both, as in Redis they see the
    // connection close, not a timeout's null.
    let mut blocked: Vec<Conn> = [&["{a}q"][..], &["{b}q"], &["{a}q", "{b}q"]]
        .iter()
        .map(|keys| {
            let mut c = server.connect();
            let mut args = vec!["BLPOP"];
            args.extend_from_slice(keys);
            args.push("0");
            c.send(&encode(&args));
            c
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = String::from_utf8(admin.cmd(&["INFO", "clients"])).unwrap();
        if info.contains("blocked_clients:3") {
            break;
        }
        assert!(Instant::now() < deadline, "never saw 3 blocked clients");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut in_multi = server.connect();
    assert_eq!(in_multi.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(in_multi.cmd(&["SET", "{a}k", "v"]), b"+QUEUED\r\n");
    let started = Instant::now();
    admin.send(&encode(&["SHUTDOWN"]));
    assert_exits_zero(&mut server, started);
    for c in &mut blocked {
        assert_eq!(show(&c.read_to_close()), show(b""));
    }
    assert_eq!(show(&in_multi.read_to_close()), show(b""));
}
