//! Pipelines whose commands span shards: replies come back in request
//! order, and a command that takes several steps across shards (RENAME,
//! MSETNX) is complete before the next command of the same client runs.

mod common;

use common::{encode, tokenginx};

/// Keys `{a}...` and `{b}...` hash to different shards of two (slots 15495
/// and 3300), so these pipelines cross shards.
#[test]
fn cross_shard_steps_finish_before_the_next_pipelined_command() {
    let server = tokenginx(2);
    let mut c = server.connect();
    let mut pipeline = Vec::new();
    for round in 0..50 {
        let value = format!("v{round}");
        pipeline.extend(encode(&["SET", "{a}src", value.as_str()]));
        pipeline.extend(encode(&["RENAME", "{a}src", "{b}dst"]));
        pipeline.extend(encode(&["GET", "{b}dst"]));
        pipeline.extend(encode(&["EXISTS", "{a}src"]));
        pipeline.extend(encode(&["MSETNX", "{a}n", "1", "{b}n", "2"]));
        pipeline.extend(encode(&["MGET", "{a}n", "{b}n", "{b}dst"]));
        pipeline.extend(encode(&["DEL", "{a}n", "{b}n"]));
    }
    c.send(&pipeline);
    let replies = c.replies(50 * 7);
    let mut expected = Vec::new();
    for round in 0..50 {
        let value = format!("v{round}");
        expected.extend_from_slice(b"+OK\r\n+OK\r\n");
        expected.extend_from_slice(format!("${}\r\n{value}\r\n", value.len()).as_bytes());
        expected.extend_from_slice(b":0\r\n:1\r\n");
        expected.extend_from_slice(
            format!(
                "*3\r\n$1\r\n1\r\n$1\r\n2\r\n${}\r\n{value}\r\n",
                value.len()
            )
            .as_bytes(),
        );
        expected.extend_from_slice(b":2\r\n");
    }
    assert_eq!(
        String::from_utf8_lossy(&replies),
        String::from_utf8_lossy(&expected)
    );
}

/// A pipeline parsed in one batch still stops at QUIT: nothing after it runs.
#[test]
fn nothing_after_quit_runs() {
    let server = tokenginx(1);
    let mut c = server.connect();
    let mut pipeline = encode(&["SET", "k", "before"]);
    pipeline.extend(encode(&["QUIT"]));
    pipeline.extend(encode(&["SET", "k", "after"]));
    c.send(&pipeline);
    assert_eq!(c.read_to_close(), b"+OK\r\n+OK\r\n");
    let mut d = server.connect();
    assert_eq!(d.cmd(&["GET", "k"]), b"$6\r\nbefore\r\n");
}
