//! Differential check against the real thing: every script in `tests/diff/`
//! runs against a reference `redis-server` and against TokenginX (with 1 and
//! with 2 shards), and every reply must be identical byte for byte.
//!
//! Script format, one command per line, words split shell-style:
//! - `#` starts a comment line; blank lines are skipped.
//! - `~CMD ...` compares only the reply type (TTL countdowns, ids, INFO).
//! - `^CMD ...` compares replies with the elements of every array, set and
//!   map sorted (KEYS, HGETALL: Redis promises no order).
//! - `@reset` opens new connections; `@resp3` opens new connections and
//!   sends `HELLO 3` on both (the HELLO reply itself is not compared).
//! - `@scanall ARGS...` runs `SCAN cursor ARGS...` until the cursor is 0 and
//!   compares the sorted keys; `@hscanall KEY ARGS...` does the same with
//!   HSCAN. A key returned twice is reported.
//!
//! Every script starts on an empty keyspace (FLUSHALL).
//! `tests/diff/known/` holds scripts for known incompatibilities; they run
//! only with `--ignored` until the server is fixed.

mod common;

use common::{show, Conn, Process};
use std::path::{Path, PathBuf};

/// A parsed reply, kept as the bytes it was sent as.
#[derive(Debug)]
enum Frame {
    /// A one-line reply, CRLF excluded (`+OK`, `:1`, `_`, `$-1`).
    Line(Vec<u8>),
    /// A bulk-like reply: its header line and payload.
    Bulk(Vec<u8>, Vec<u8>),
    /// An aggregate: its header line and elements (maps: keys and values
    /// alternating).
    Aggregate(Vec<u8>, Vec<Frame>),
}

fn parse(bytes: &[u8]) -> Frame {
    fn frame(bytes: &[u8], pos: &mut usize) -> Frame {
        let end = *pos
            + bytes[*pos..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("CRLF");
        let head = bytes[*pos..end].to_vec();
        *pos = end + 2;
        let n: i64 = std::str::from_utf8(&head[1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match head[0] {
            b'$' | b'!' | b'=' if n >= 0 => {
                let body = bytes[*pos..*pos + n as usize].to_vec();
                *pos += n as usize + 2;
                Frame::Bulk(head, body)
            }
            b'*' | b'~' | b'>' | b'%' if n >= 0 => {
                let count = if head[0] == b'%' { 2 * n } else { n };
                let items = (0..count).map(|_| frame(bytes, pos)).collect();
                Frame::Aggregate(head, items)
            }
            _ => Frame::Line(head),
        }
    }
    let mut pos = 0;
    let f = frame(bytes, &mut pos);
    assert_eq!(pos, bytes.len(), "one reply per command");
    f
}

/// The reply's bytes, with aggregates sorted when `sorted` (maps by entry).
fn render(f: &Frame, sorted: bool) -> Vec<u8> {
    match f {
        Frame::Line(head) => [head.as_slice(), b"\r\n"].concat(),
        Frame::Bulk(head, body) => [head.as_slice(), b"\r\n", body, b"\r\n"].concat(),
        Frame::Aggregate(head, items) => {
            let mut parts: Vec<Vec<u8>> = if head[0] == b'%' {
                items
                    .chunks(2)
                    .map(|kv| kv.iter().flat_map(|x| render(x, sorted)).collect())
                    .collect()
            } else {
                items.iter().map(|x| render(x, sorted)).collect()
            };
            if sorted {
                parts.sort();
            }
            [head.as_slice(), b"\r\n", &parts.concat()].concat()
        }
    }
}

/// Words of a script line, split like a shell (and like redis-cli): single
/// quotes literal, double quotes with backslash escapes.
fn split_words(line: &str) -> Vec<Vec<u8>> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return words;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '\'' => {
                    for c in chars.by_ref() {
                        if c == '\'' {
                            break;
                        }
                        word.push(c);
                    }
                }
                '"' => {
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => match chars.next() {
                                Some('n') => word.push('\n'),
                                Some('r') => word.push('\r'),
                                Some('t') => word.push('\t'),
                                Some(other) => word.push(other),
                                None => panic!("dangling backslash in {line:?}"),
                            },
                            c => word.push(c),
                        }
                    }
                }
                c => word.push(c),
            }
        }
        words.push(word.into_bytes());
    }
}

/// All keys (or fields and values) a full SCAN / HSCAN iteration returns,
/// sorted, with duplicates reported.
fn scan_all(conn: &mut Conn, prefix: &[Vec<u8>], args: &[Vec<u8>]) -> Vec<u8> {
    let mut cursor = b"0".to_vec();
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let mut cmd = prefix.to_vec();
        cmd.push(cursor.clone());
        cmd.extend_from_slice(args);
        let reply = conn.cmd(&cmd);
        let Frame::Aggregate(_, items) = parse(&reply) else {
            return reply;
        };
        let [Frame::Bulk(_, next), Frame::Aggregate(_, elements)] = items.as_slice() else {
            return reply;
        };
        seen.extend(elements.iter().map(|e| render(e, false)));
        cursor = next.clone();
        if cursor == b"0" {
            seen.sort();
            let total = seen.len();
            seen.dedup();
            let mut out = format!(
                "{} elements, {} duplicates:",
                seen.len(),
                total - seen.len()
            )
            .into_bytes();
            out.extend(seen.concat());
            return out;
        }
    }
    panic!(
        "{} did not finish in 10000 calls",
        String::from_utf8_lossy(&prefix[0])
    );
}

struct Mismatch {
    place: String,
    line: String,
    redis: Vec<u8>,
    tokenginx: Vec<u8>,
}

/// Runs one script against both servers; returns (commands, mismatches).
fn run_script(path: &Path, redis: &Process, tokenginx: &Process) -> (usize, Vec<Mismatch>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let (mut r, mut t) = (redis.connect(), tokenginx.connect());
    assert_eq!(r.cmd(&["FLUSHALL"]), b"+OK\r\n");
    assert_eq!(t.cmd(&["FLUSHALL"]), b"+OK\r\n");
    let mut mismatches = Vec::new();
    let mut total = 0;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let place = format!("{name}:{}", number + 1);
        if line == "@reset" || line == "@resp3" {
            (r, t) = (redis.connect(), tokenginx.connect());
            if line == "@resp3" {
                for c in [&mut r, &mut t] {
                    let hello = c.cmd(&["HELLO", "3"]);
                    assert!(
                        hello.starts_with(b"%7\r\n"),
                        "{place}: HELLO 3 answered {}",
                        show(&hello)
                    );
                }
            }
            continue;
        }
        total += 1;
        let (typeonly, sorted) = (line.starts_with('~'), line.starts_with('^'));
        let words = split_words(line.trim_start_matches(['~', '^']));
        let exchange = |c: &mut Conn| -> Vec<u8> {
            match words[0].as_slice() {
                b"@scanall" => scan_all(c, &[b"SCAN".to_vec()], &words[1..]),
                b"@hscanall" => scan_all(c, &[b"HSCAN".to_vec(), words[1].clone()], &words[2..]),
                _ => {
                    c.send(&common::encode(&words));
                    match c.try_reply() {
                        Ok(reply) if sorted => render(&parse(&reply), true),
                        Ok(reply) => reply,
                        Err(e) => format!("<no reply: {e}>").into_bytes(),
                    }
                }
            }
        };
        let (a, b) = (exchange(&mut r), exchange(&mut t));
        let same = if typeonly {
            a.first() == b.first()
        } else {
            a == b
        };
        if !same {
            if b.starts_with(b"<no reply") {
                t = tokenginx.connect();
            }
            mismatches.push(Mismatch {
                place,
                line: line.to_string(),
                redis: a,
                tokenginx: b,
            });
        }
    }
    (total, mismatches)
}

fn scripts(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scripts in {}", dir.display());
    files
}

fn check_scripts(dir: &str, shards: usize) {
    let redis = common::redis_server(&[]);
    let tokenginx = common::tokenginx(shards);
    let mut report = String::new();
    let (mut total, mut bad) = (0, 0);
    for script in scripts(dir) {
        let (n, mismatches) = run_script(&script, &redis, &tokenginx);
        total += n;
        bad += mismatches.len();
        for m in mismatches {
            report.push_str(&format!(
                "{} {}\n    redis    : {}\n    tokenginx: {}\n",
                m.place,
                m.line,
                show(&m.redis),
                show(&m.tokenginx)
            ));
        }
    }
    println!(
        "{}/{total} replies identical with {shards} shard(s)",
        total - bad
    );
    assert!(
        bad == 0,
        "{bad}/{total} replies differ from redis-server with {shards} shard(s):\n{report}"
    );
}

#[test]
fn scripts_match_redis_with_one_shard() {
    check_scripts("diff", 1);
}

#[test]
fn scripts_match_redis_with_two_shards() {
    check_scripts("diff", 2);
}

#[test]
#[ignore = "known incompatibilities, listed in tests/diff/known/*.txt"]
fn known_incompatibilities() {
    check_scripts("diff/known", 2);
}

#[test]
fn script_words_split_like_redis_cli() {
    assert_eq!(
        split_words(r#"SET "a b" 'c d' e\x"#),
        vec![
            b"SET".to_vec(),
            b"a b".to_vec(),
            b"c d".to_vec(),
            b"e\\x".to_vec()
        ]
    );
    assert_eq!(
        split_words(r#"ECHO "x\"y\n""#),
        vec![b"ECHO".to_vec(), b"x\"y\n".to_vec()]
    );
    let map = parse(b"%2\r\n$1\r\nb\r\n:2\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(
        render(&map, true),
        b"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n"
    );
    assert_eq!(
        render(&map, false),
        b"%2\r\n$1\r\nb\r\n:2\r\n$1\r\na\r\n:1\r\n"
    );
}
