//! Exact bytes in, exact bytes out, over raw TCP. Wherever Redis defines the
//! behaviour, the same bytes also go to a reference `redis-server` and the
//! replies must be identical, so each case documents compatibility.

mod common;

use common::{encode, show, Conn, Options, Process};
use std::io::Write;

/// A TokenginX and a redis-server, configured alike.
struct Pair {
    redis: Process,
    tokenginx: Process,
}

impl Pair {
    fn new(shards: usize) -> Pair {
        Pair {
            redis: common::redis_server(&[]),
            tokenginx: common::tokenginx(shards),
        }
    }

    fn with_password(password: &str) -> Pair {
        Pair {
            redis: common::redis_server(&["--requirepass", password]),
            tokenginx: common::tokenginx_with(Options::shards(2).password(password)),
        }
    }

    /// Runs `f` against both servers and asserts identical output; returns
    /// TokenginX's.
    fn same<F: Fn(&Process) -> Vec<u8>>(&self, what: &str, f: F) -> Vec<u8> {
        let ours = f(&self.tokenginx);
        let theirs = f(&self.redis);
        assert_eq!(
            show(&ours),
            show(&theirs),
            "{what}: TokenginX (left) differs from redis-server (right)"
        );
        ours
    }

    /// Sends `input` in one write on a fresh connection and reads `replies`
    /// replies; asserts both servers answer the same bytes.
    fn exchange(&self, input: &[u8], replies: usize) -> Vec<u8> {
        self.same(&show(input), |p| {
            let mut c = p.connect();
            c.send(input);
            c.replies(replies)
        })
    }

    /// Sends `input` on a fresh connection and reads until the server closes
    /// it; asserts both servers send the same bytes before closing.
    fn until_close(&self, input: &[u8]) -> Vec<u8> {
        self.same(&show(input), |p| {
            let mut c = p.connect();
            // The server may close before reading all of a large input.
            let _ = c.stream.write_all(input);
            c.read_to_close()
        })
    }
}

/// Replaces the connection id in a HELLO reply, the one field that
/// legitimately differs between servers.
fn mask_hello_id(reply: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply).into_owned();
    let marker = "$2\r\nid\r\n:";
    let Some(start) = text.find(marker) else {
        return reply.to_vec();
    };
    let from = start + marker.len();
    let end = from + text[from..].find("\r\n").expect("id ends with CRLF");
    assert!(
        text[from..end].parse::<i64>().is_ok(),
        "HELLO id is an integer: {text:?}"
    );
    format!("{}ID{}", &text[..from], &text[end..]).into_bytes()
}

const HELLO3: &[u8] = b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:ID\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";

#[test]
fn inline_ping_and_echo() {
    let pair = Pair::new(2);
    assert_eq!(pair.exchange(b"PING\r\n", 1), b"+PONG\r\n");
    assert_eq!(pair.exchange(b"ping hello\r\n", 1), b"$5\r\nhello\r\n");
    // A bare LF ends an inline command too, and empty lines are skipped.
    assert_eq!(pair.exchange(b"\r\n\r\n   \r\nPING\n", 1), b"+PONG\r\n");
    // Empty and negative multibulk counts are no-ops, as in Redis.
    assert_eq!(pair.exchange(b"*0\r\n*-1\r\nPING\r\n", 1), b"+PONG\r\n");
}

#[test]
fn inline_quoted_arguments() {
    let pair = Pair::new(2);
    let out = pair.exchange(
        b"SET \"a key\" \"tab\\there\\x41\\n\"\r\nGET \"a key\"\r\nECHO 'single \"quoted\"'\r\nECHO \"\"\r\nECHO 'it\\'s'\r\n",
        5,
    );
    assert_eq!(
        out,
        b"+OK\r\n$10\r\ntab\there\x41\n\r\n$15\r\nsingle \"quoted\"\r\n$0\r\n\r\n$4\r\nit's\r\n"
            .as_slice()
    );
    // Two quoted words where one is expected is an arity error, not a
    // protocol error: the connection stays usable.
    let out = pair.exchange(b"ECHO \"a\" \"b\"\r\nPING\r\n", 2);
    assert_eq!(
        out,
        b"-ERR wrong number of arguments for 'echo' command\r\n+PONG\r\n".as_slice()
    );
}

#[test]
fn pipeline_of_mixed_commands_in_one_write() {
    let pair = Pair::new(2);
    let mut input = Vec::new();
    for args in [
        &["SET", "p:1", "one"][..],
        &["SET", "p:2", "2"],
        &["GET", "p:1"],
        &["INCR", "p:2"],
        &["INCRBY", "p:1", "1"],
        &["MGET", "p:1", "p:2", "p:missing"],
        &["HSET", "p:h", "f1", "v1", "f2", "v2"],
        &["HGET", "p:h", "f2"],
        &["GET", "p:h"],
        &["EXISTS", "p:1", "p:2", "p:h", "p:missing"],
        &["APPEND", "p:1", "-more"],
        &["STRLEN", "p:1"],
        &["DEL", "p:1", "p:2", "p:missing"],
        &["NOSUCHCOMMAND", "x"],
        &["GET"],
    ] {
        input.extend(encode(args));
    }
    input.extend_from_slice(b"PING\r\nECHO inline\r\n");
    let out = pair.exchange(&input, 17);
    let expected = concat!(
        "+OK\r\n",
        "+OK\r\n",
        "$3\r\none\r\n",
        ":3\r\n",
        "-ERR value is not an integer or out of range\r\n",
        "*3\r\n$3\r\none\r\n$1\r\n3\r\n$-1\r\n",
        ":2\r\n",
        "$2\r\nv2\r\n",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ":3\r\n",
        ":8\r\n",
        ":8\r\n",
        ":2\r\n",
        "-ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' \r\n",
        "-ERR wrong number of arguments for 'get' command\r\n",
        "+PONG\r\n",
        "$6\r\ninline\r\n",
    );
    assert_eq!(show(&out), show(expected.as_bytes()));
}

#[test]
fn request_split_across_many_tiny_writes() {
    let pair = Pair::new(2);
    let mut input = encode(&["SET", "split:key", "a value with spaces"]);
    input.extend(encode(&["GET", "split:key"]));
    input.extend_from_slice(b"ECHO \"inline split\"\r\n");
    input.extend(encode(&["DEL", "split:key"]));
    let out = pair.same("byte-at-a-time request", |p| {
        let mut c = p.connect();
        for chunk in input.chunks(1) {
            c.send(chunk);
            c.stream.flush().unwrap();
        }
        c.replies(4)
    });
    assert_eq!(
        show(&out),
        show(b"+OK\r\n$19\r\na value with spaces\r\n$12\r\ninline split\r\n:1\r\n")
    );

    // Split at every position into two writes: the reply never changes.
    let tokenginx = &pair.tokenginx;
    let mut c = tokenginx.connect();
    let request = encode(&["ECHO", "0123456789"]);
    for at in 1..request.len() {
        c.send(&request[..at]);
        c.send(&request[at..]);
        assert_eq!(c.reply(), b"$10\r\n0123456789\r\n", "split at {at}");
    }
}

#[test]
fn error_replies_match_redis() {
    let pair = Pair::new(2);
    let cases: &[(&[&str], &str)] = &[
        (&["GET"], "-ERR wrong number of arguments for 'get' command\r\n"),
        (&["SET", "k"], "-ERR wrong number of arguments for 'set' command\r\n"),
        (&["HSET", "h", "f"], "-ERR wrong number of arguments for 'hset' command\r\n"),
        (&["FOOBAR"], "-ERR unknown command 'FOOBAR', with args beginning with: \r\n"),
        (&["foobar", "a", "b"], "-ERR unknown command 'foobar', with args beginning with: 'a' 'b' \r\n"),
        (&["SET", "k", "v", "XX", "NX"], "-ERR syntax error\r\n"),
        (&["SET", "k", "v", "EX", "0"], "-ERR invalid expire time in 'set' command\r\n"),
        (&["SET", "k", "v", "EX", "ten"], "-ERR value is not an integer or out of range\r\n"),
        (&["INCRBY", "n", "x"], "-ERR value is not an integer or out of range\r\n"),
        (&["INCRBYFLOAT", "n", "x"], "-ERR value is not a valid float\r\n"),
        (&["EXPIRE", "k", "10", "BAD"], "-ERR Unsupported option BAD\r\n"),
        (&["SCAN", "x"], "-ERR invalid cursor\r\n"),
        (&["SELECT", "99"], "-ERR DB index is out of range\r\n"),
        (&["RENAME", "nokey", "other"], "-ERR no such key\r\n"),
        (&["CLIENT", "NOSUCH"], "-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.\r\n"),
        (&["AUTH", "pw"], "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"),
    ];
    for (args, expected) in cases {
        let out = pair.exchange(&encode(args), 1);
        assert_eq!(show(&out), show(expected.as_bytes()), "{args:?}");
    }
    // Scripting does not exist yet: clients that probe with EVAL must get
    // Redis's unknown-command error (and keep the connection), not a
    // disconnect. Redis itself runs the script, so no comparison here.
    let mut c = pair.tokenginx.connect();
    assert_eq!(
        show(&c.cmd(&["EVAL", "return 1", "0"])),
        show(b"-ERR unknown command 'EVAL', with args beginning with: 'return 1' '0' \r\n")
    );
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    // WRONGTYPE in both directions, and not-an-integer on a stored value.
    let mut input = Vec::new();
    for args in [
        &["SET", "e:s", "text"][..],
        &["HSET", "e:h", "f", "v"],
        &["HGET", "e:s", "f"],
        &["GET", "e:h"],
        &["INCR", "e:s"],
        &["HINCRBY", "e:h", "f", "1"],
    ] {
        input.extend(encode(args));
    }
    let out = pair.exchange(&input, 6);
    let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    let expected = format!(
        "+OK\r\n:1\r\n{wrongtype}{wrongtype}-ERR value is not an integer or out of range\r\n-ERR hash value is not an integer\r\n"
    );
    assert_eq!(show(&out), show(expected.as_bytes()));
}

#[test]
fn resp3_shapes_after_hello_3() {
    let pair = Pair::new(2);
    let out = pair.same("RESP3 session", |p| {
        let mut c = p.connect();
        let mut out = mask_hello_id(&c.cmd(&["HELLO", "3"]));
        for args in [
            &["GET", "r3:missing"][..],
            &["HSET", "r3:h", "f", "v"],
            &["HGETALL", "r3:h"],
            &["HGETALL", "r3:missing"],
            &["HGET", "r3:h", "nofield"],
            &["SET", "r3:n", "1"],
            &["INCRBYFLOAT", "r3:n", "0.5"],
            &["HINCRBYFLOAT", "r3:h", "x", "2.5"],
            &["TTL", "r3:n"],
            &["EXISTS", "r3:n"],
            &["ECHO", "x"],
            &["PING"],
            &["GETDEL", "r3:missing"],
        ] {
            out.extend(c.cmd(args));
        }
        out.extend(mask_hello_id(&c.cmd(&["HELLO", "2"])));
        out.extend(c.cmd(&["GET", "r3:missing"]));
        out.extend(c.cmd(&["HGETALL", "r3:missing"]));
        out
    });
    let hello2 = String::from_utf8_lossy(HELLO3)
        .replacen("%7", "*14", 1)
        .replacen(":3", ":2", 1);
    let expected = [
        HELLO3,
        b"_\r\n",
        b":1\r\n",
        b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
        b"%0\r\n",
        b"_\r\n",
        b"+OK\r\n",
        // Redis 7.0 answers INCRBYFLOAT with a bulk string even in RESP3.
        b"$3\r\n1.5\r\n",
        b"$3\r\n2.5\r\n",
        b":-1\r\n",
        b":1\r\n",
        b"$1\r\nx\r\n",
        b"+PONG\r\n",
        b"_\r\n",
        hello2.as_bytes(),
        b"$-1\r\n",
        b"*0\r\n",
    ]
    .concat();
    assert_eq!(show(&out), show(&expected));
}

/// MGET's missing keys are RESP3 nulls (`_`) in Redis; CONFIG GET is a map.
#[test]
fn resp3_nulls_inside_arrays_and_config_get_map() {
    let pair = Pair::new(2);
    let out = pair.same("RESP3 MGET / CONFIG GET", |p| {
        let mut c = p.connect();
        c.cmd(&["HELLO", "3"]);
        let mut out = c.cmd(&["SET", "m:a", "1"]);
        out.extend(c.cmd(&["HSET", "m:h", "f", "v"]));
        // A key of another type reads as missing in MGET.
        out.extend(c.cmd(&["MGET", "m:a", "m:missing", "m:h"]));
        out.extend(c.cmd(&["CONFIG", "GET", "maxclients"]));
        out
    });
    assert_eq!(
        show(&out),
        show(b"+OK\r\n:1\r\n*3\r\n$1\r\n1\r\n_\r\n_\r\n%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n")
    );
}

#[test]
fn password_noauth_and_wrongpass() {
    let pair = Pair::with_password("s3cret pass");
    let noauth = "-NOAUTH Authentication required.\r\n";
    let wrongpass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    let cases: Vec<(Vec<u8>, usize, String)> = vec![
        (b"PING\r\n".to_vec(), 1, noauth.into()),
        (encode(&["GET", "k"]), 1, noauth.into()),
        (encode(&["SET", "k", "v"]), 1, noauth.into()),
        (encode(&["AUTH", "wrong"]), 1, wrongpass.into()),
        (encode(&["AUTH", "default", "wrong"]), 1, wrongpass.into()),
        (
            encode(&["AUTH", "nobody", "s3cret pass"]),
            1,
            wrongpass.into(),
        ),
        (
            encode(&["AUTH", "a", "b", "c"]),
            1,
            "-ERR syntax error\r\n".into(),
        ),
        (
            encode(&["HELLO", "3", "AUTH", "default", "wrong"]),
            1,
            wrongpass.into(),
        ),
        // Unknown commands are reported as unknown even before AUTH.
        (
            encode(&["NOSUCH"]),
            1,
            "-ERR unknown command 'NOSUCH', with args beginning with: \r\n".into(),
        ),
        (
            [encode(&["AUTH", "s3cret pass"]), encode(&["GET", "k"])].concat(),
            2,
            "+OK\r\n$-1\r\n".into(),
        ),
        (
            [
                encode(&["AUTH", "default", "s3cret pass"]),
                encode(&["SET", "k", "v"]),
                encode(&["GET", "k"]),
            ]
            .concat(),
            3,
            "+OK\r\n+OK\r\n$1\r\nv\r\n".into(),
        ),
        // A failed AUTH leaves the connection unauthenticated.
        (
            [encode(&["AUTH", "bad"]), b"PING\r\n".to_vec()].concat(),
            2,
            format!("{wrongpass}{noauth}"),
        ),
        (b"QUIT\r\n".to_vec(), 1, "+OK\r\n".into()),
    ];
    for (input, replies, expected) in &cases {
        let out = pair.exchange(input, *replies);
        assert_eq!(show(&out), show(expected.as_bytes()), "{}", show(input));
    }
    // HELLO with AUTH authenticates and switches protocol in one step.
    let out = pair.same("HELLO 3 AUTH", |p| {
        let mut c = p.connect();
        let mut out = mask_hello_id(&c.cmd(&["HELLO", "3", "AUTH", "default", "s3cret pass"]));
        out.extend(c.cmd(&["GET", "nokey"]));
        out
    });
    assert_eq!(show(&out), show(&[HELLO3, b"_\r\n"].concat()));
}

#[test]
fn hello_before_auth_error_text() {
    let pair = Pair::with_password("pw");
    let out = pair.exchange(&encode(&["HELLO", "3"]), 1);
    assert_eq!(
        show(&out),
        show(b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n")
    );
}

/// Each malformed request gets Redis's exact protocol error, then the
/// connection is closed; another client on the same server is unaffected.
#[test]
fn protocol_errors_close_only_the_offending_connection() {
    let pair = Pair::new(2);
    let mut bystander = pair.tokenginx.connect();
    assert_eq!(
        bystander.cmd(&["SET", "bystander", "still here"]),
        b"+OK\r\n"
    );

    let too_big_inline = vec![b'A'; 70_000];
    let too_big_mbulk_count = [b"*".as_slice(), &[b'1'; 70_000]].concat();
    let too_big_bulk_count = [b"*1\r\n$".as_slice(), &[b'1'; 70_000]].concat();
    let cases: &[(&[u8], &str)] = &[
        (b"*x\r\n", "invalid multibulk length"),
        (b"*1\r\n$-5\r\n", "invalid bulk length"),
        (b"*1\r\n$abc\r\n", "invalid bulk length"),
        (b"*1\r\n:5\r\n", "expected '$', got ':'"),
        (b"*2\r\n$3\r\nGET\r\n+k\r\n", "expected '$', got '+'"),
        (b"SET \"unbalanced\r\n", "unbalanced quotes in request"),
        (b"SET 'unbalanced\r\n", "unbalanced quotes in request"),
        (b"SET \"a\"b c\r\n", "unbalanced quotes in request"),
        (&too_big_inline, "too big inline request"),
        (&too_big_mbulk_count, "too big mbulk count string"),
        (&too_big_bulk_count, "too big bulk count string"),
        // Larger than the default proto-max-bulk-len of 512mb.
        (b"*2\r\n$3\r\nGET\r\n$536870913\r\n", "invalid bulk length"),
    ];
    for (input, message) in cases {
        // A valid command before the garbage is still answered.
        let input = [b"PING\r\n".as_slice(), input].concat();
        let out = pair.until_close(&input);
        let expected = format!("+PONG\r\n-ERR Protocol error: {message}\r\n");
        assert_eq!(
            show(&out),
            show(expected.as_bytes()),
            "input {}",
            show(&input)
        );
        assert_eq!(
            bystander.cmd(&["GET", "bystander"]),
            b"$10\r\nstill here\r\n",
            "after {}",
            show(&input)
        );
    }
}

#[test]
fn bulk_longer_than_configured_proto_max_bulk_len() {
    let redis = common::redis_server(&["--proto-max-bulk-len", "1mb"]);
    let tokenginx = common::tokenginx_with(
        Options::shards(2).env("TOKENGINX_LIMITS_PROTO_MAX_BULK_LEN", "1mb"),
    );
    let pair = Pair { redis, tokenginx };
    let out = pair.until_close(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n");
    assert_eq!(
        show(&out),
        show(b"-ERR Protocol error: invalid bulk length\r\n")
    );
    // Exactly the limit is accepted.
    let value = vec![b'v'; 1 << 20];
    let out = pair.exchange(
        &[
            encode(&[b"SET".as_slice(), b"k", &value]),
            encode(&["STRLEN", "k"]),
        ]
        .concat(),
        2,
    );
    assert_eq!(out, b"+OK\r\n:1048576\r\n");
}

/// Redis 7.0 refuses large multibulk and bulk headers from a client that has
/// not authenticated yet, so an anonymous peer cannot make it buffer much.
#[test]
fn unauthenticated_clients_get_small_limits() {
    let pair = Pair::with_password("pw");
    let out = pair.until_close(b"*11\r\n");
    assert_eq!(
        show(&out),
        show(b"-ERR Protocol error: unauthenticated multibulk length\r\n")
    );
    let out = pair.until_close(b"*1\r\n$20000\r\n");
    assert_eq!(
        show(&out),
        show(b"-ERR Protocol error: unauthenticated bulk length\r\n")
    );
}

#[test]
fn quit_replies_ok_then_closes() {
    let pair = Pair::new(1);
    let out = pair.until_close(&[encode(&["PING"]), encode(&["QUIT"]), encode(&["PING"])].concat());
    assert_eq!(out, b"+PONG\r\n+OK\r\n");
}

#[test]
fn large_values_round_trip() {
    let pair = Pair::new(2);
    let value: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut c = pair.tokenginx.connect();
    assert_eq!(c.cmd(&[b"SET".as_slice(), b"big", &value]), b"+OK\r\n");
    let reply = c.cmd(&["GET", "big"]);
    let header = b"$3000000\r\n";
    assert_eq!(&reply[..header.len()], header);
    assert!(
        reply[header.len()..reply.len() - 2] == value[..],
        "GET big returned different bytes"
    );
    // Binary keys and values, including CR, LF and NUL.
    let key = b"bin\r\n\0key";
    let val = b"\0\r\n$3\r\n*1\r\n";
    let out = pair.same("binary-safe key and value", |p| {
        let mut c: Conn = p.connect();
        let mut out = c.cmd(&[b"SET".as_slice(), key, val]);
        out.extend(c.cmd(&[b"GET".as_slice(), key]));
        out.extend(c.cmd(&[b"EXISTS".as_slice(), key]));
        out
    });
    assert_eq!(
        out,
        [b"+OK\r\n$11\r\n".as_slice(), val, b"\r\n:1\r\n"].concat()
    );
}
