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
