//! client-output-buffer-limit for normal clients: a client that sends
//! requests but does not read its replies is disconnected once its pending
//! output passes the hard limit, and other clients carry on.

mod common;

use common::{encode, tokenginx_with, Options};

#[test]
fn a_client_that_does_not_read_is_closed_at_the_hard_limit() {
    let server = tokenginx_with(Options::shards(1).env(
        "TOKENGINX_LIMITS_CLIENT_OUTPUT_BUFFER_LIMIT_NORMAL",
        "1mb 0 0",
    ));
    let mut setup = server.connect();
    let value = vec![b'v'; 64 * 1024];
    assert_eq!(setup.cmd(&[b"SET".as_slice(), b"big", &value]), b"+OK\r\n");

    // 256 GETs of 64 KiB: 16 MiB of replies, far more than socket buffers
    // and the 1 MiB limit hold while the client is not reading.
    let mut greedy = server.connect();
    let requests: Vec<u8> = (0..256).flat_map(|_| encode(&["GET", "big"])).collect();
    greedy.send(&requests);
    let received = greedy.read_to_close();
    assert!(
        received.len() < 16 * 1024 * 1024,
        "all {} bytes of replies were sent: the limit did not apply",
        received.len()
    );
    assert!(
        server.log_text().contains("output buffer limit"),
        "{}",
        server.log_text()
    );

    let mut other = server.connect();
    assert_eq!(other.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn a_subscriber_that_does_not_read_is_closed_at_the_pubsub_limit() {
    let server = tokenginx_with(Options::shards(2).env(
        "TOKENGINX_LIMITS_CLIENT_OUTPUT_BUFFER_LIMIT_PUBSUB",
        "1mb 0 0",
    ));
    let mut lazy = server.connect();
    assert_eq!(
        lazy.cmd(&["SUBSCRIBE", "firehose"]),
        b"*3\r\n$9\r\nsubscribe\r\n$8\r\nfirehose\r\n:1\r\n"
    );
    let mut publisher = server.connect();
    let payload = vec![b'x'; 64 * 1024];
    // 64 MiB at most, far above the 1 MiB limit plus socket buffers.
    let gone = (0..1024)
        .any(|_| publisher.cmd(&[b"PUBLISH".as_slice(), b"firehose", &payload]) == b":0\r\n");
    assert!(gone, "the subscriber that never reads is still subscribed");
    assert!(
        server.log_text().contains("output buffer limit"),
        "{}",
        server.log_text()
    );
    // A normal client is not held to the pub/sub limit.
    let mut other = server.connect();
    let big = vec![b'v'; 2 << 20];
    assert_eq!(other.cmd(&[b"SET".as_slice(), b"big", &big]), b"+OK\r\n");
    let reply = other.cmd(&["GET", "big"]);
    assert_eq!(reply.len(), big.len() + 12);
}
