//! `redis-cli` against TokenginX: a scripted session read from stdin (the
//! output compared with redis-server's for the same script), `--pipe` mass
//! insertion, formatted output and password options.

mod common;

use common::{Options, Process};
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

fn have_redis_cli() -> bool {
    let ok = Command::new("redis-cli")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED: redis-cli is not installed; run scripts/install-test-deps.sh");
    }
    ok
}

/// Runs redis-cli against `server` with `args`, feeding `stdin`; fails the
/// test if it runs longer than [`DEADLINE`].
fn redis_cli(server: &Process, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &server.port.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn redis-cli");
    let pid = child.id();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(DEADLINE) {
        Ok(output) => output.expect("redis-cli output"),
        Err(_) => {
            // SAFETY: the child has not been reaped (wait_with_output is still
            // blocked on it), so the pid is still ours.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("redis-cli {args:?} did not finish within {DEADLINE:?}");
        }
    };
    writer.join().unwrap();
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const SCRIPT: &str = r#"PING
SET session:1 "user 42"
GET session:1
SET counter 10
INCRBY counter 5
GET missing
MSET a 1 b 2 c 3
MGET a b missing c
HSET h user 42
HGET h user
HGETALL h
EXISTS a b missing
EXPIRE a 100
TTL b
DEL a b c
DBSIZE
GET h
INCR session:1
NOSUCHCOMMAND x
ECHO "multi word"
"#;

/// What redis-cli prints for [`SCRIPT`] when stdout is not a terminal: raw
/// values, an empty line for nil, and errors followed by an empty line.
const EXPECTED: &str = "PONG
OK
user 42
OK
15

OK
1
2

3
1
42
user
42
2
1
-1
3
3
WRONGTYPE Operation against a key holding the wrong kind of value

ERR value is not an integer or out of range

ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' 

multi word
";

#[test]
fn scripted_session_from_stdin() {
    if !have_redis_cli() {
        return;
    }
    let server = common::tokenginx(2);
    let out = redis_cli(&server, &[], SCRIPT.as_bytes());
    assert!(
        out.status.success(),
        "redis-cli failed: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), EXPECTED);
    let redis = common::redis_server(&[]);
    let reference = redis_cli(&redis, &[], SCRIPT.as_bytes());
    assert_eq!(
        text(&out.stdout),
        text(&reference.stdout),
        "TokenginX (left) vs redis-server (right)"
    );
}

#[test]
fn formatted_output_like_redis() {
    if !have_redis_cli() {
        return;
    }
    let server = common::tokenginx(1);
    let script =
        "SET k v\nGET k\nGET missing\nINCR n\nMGET k missing\nHSET h f v\nHGETALL h\nGET h\n";
    let out = redis_cli(&server, &["--no-raw"], script.as_bytes());
    let expected =
        "OK\n\"v\"\n(nil)\n(integer) 1\n1) \"v\"\n2) (nil)\n(integer) 1\n1) \"f\"\n2) \"v\"\n\
                    (error) WRONGTYPE Operation against a key holding the wrong kind of value\n";
    assert_eq!(text(&out.stdout), expected);
    // RESP3 through redis-cli -3: maps and nulls are printed as such.
    let out = redis_cli(&server, &["-3", "--no-raw"], b"HGETALL h\nGET missing\n");
    assert_eq!(text(&out.stdout), "1# \"f\" => \"v\"\n(nil)\n");
}

#[test]
fn pipe_mass_insertion_of_ten_thousand_keys() {
    if !have_redis_cli() {
        return;
    }
    let server = common::tokenginx(2);
    let mut input = Vec::new();
    for i in 0..10_000 {
        input.extend(common::encode(&[
            "SET",
            &format!("mass:{i}"),
            &format!("value-{i}"),
        ]));
    }
    let out = redis_cli(&server, &["--pipe", "--pipe-timeout", "30"], &input);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "redis-cli --pipe failed: {stdout}{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("errors: 0, replies: 10000"),
        "unexpected --pipe output: {stdout}"
    );
    let out = redis_cli(&server, &["DBSIZE"], b"");
    assert_eq!(text(&out.stdout), "10000\n");
    let out = redis_cli(&server, &["GET", "mass:9999"], b"");
    assert_eq!(text(&out.stdout), "value-9999\n");
    // --scan walks every key.
    let out = redis_cli(&server, &["--scan", "--pattern", "mass:*"], b"");
    let mut keys: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 10_000);
}

#[test]
fn password_options() {
    if !have_redis_cli() {
        return;
    }
    let server = common::tokenginx_with(Options::shards(2).password("cli-pw"));
    let out = redis_cli(&server, &["PING"], b"");
    assert_eq!(text(&out.stdout), "NOAUTH Authentication required.\n\n");
    let out = redis_cli(&server, &["-a", "wrong", "--no-auth-warning", "PING"], b"");
    // As with Redis, the failed AUTH is reported on stderr and the command
    // then runs unauthenticated.
    assert!(
        text(&out.stderr).contains("AUTH failed: WRONGPASS"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "NOAUTH Authentication required.\n\n");
    let out = redis_cli(
        &server,
        &["-a", "cli-pw", "--no-auth-warning"],
        b"SET k v\nGET k\n",
    );
    assert_eq!(text(&out.stdout), "OK\nv\n");
    let out = redis_cli(
        &server,
        &[
            "--user",
            "default",
            "--pass",
            "cli-pw",
            "--no-auth-warning",
            "GET",
            "k",
        ],
        b"",
    );
    assert_eq!(text(&out.stdout), "v\n");
}
