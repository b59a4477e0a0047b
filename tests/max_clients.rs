//! maxclients: one connection too many gets Redis's error and is closed;
//! the others carry on, and a freed place can be taken again.

mod common;

use common::{encode, tokenginx_with, Options};
use std::time::{Duration, Instant};

#[test]
fn the_connection_over_maxclients_is_refused_with_redis_error() {
    let server = tokenginx_with(Options::shards(2).env("TOKENGINX_SERVER_MAXCLIENTS", "3"));
    // The start-up probe's connection may still be closing: wait until
    // three clients fit.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut clients = loop {
        let mut cs: Vec<_> = (0..3).map(|_| server.connect()).collect();
        if cs
            .iter_mut()
            .all(|c| c.cmd(&["PING"]) == b"+PONG\r\n".to_vec())
        {
            break cs;
        }
        assert!(
            Instant::now() < deadline,
            "three clients never fitted under maxclients 3"
        );
        drop(cs);
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut extra = server.connect();
    assert_eq!(
        extra.read_to_close(),
        b"-ERR max number of clients reached\r\n"
    );
    for c in &mut clients {
        assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    }
    drop(clients.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = server.connect();
        again.send(&encode(&["PING"]));
        match again.try_reply() {
            Ok(reply) if reply == b"+PONG\r\n" => break,
            _ => assert!(
                Instant::now() < deadline,
                "the freed place was never given back"
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
