//! Many clients sending large requests at once use up the shared receive
//! buffers of a shard; every request must still be read and answered.

mod common;

use common::tokenginx;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn every_large_request_is_answered_when_receive_buffers_run_out() {
    let server = tokenginx(1);
    let addr = server.addr();
    let value = vec![b'x'; 4 * 1024 * 1024];
    let threads: Vec<_> = (0..48)
        .map(|i| {
            let addr = addr.clone();
            let value = value.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).expect("connect");
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
                let key = format!("big:{i}");
                let mut req = format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n",
                    key.len(),
                    value.len()
                )
                .into_bytes();
                req.extend_from_slice(&value);
                req.extend_from_slice(b"\r\n");
                s.write_all(&req).expect("send");
                let mut reply = [0u8; 5];
                s.read_exact(&mut reply).expect("a reply within 20 s");
                assert_eq!(&reply, b"+OK\r\n");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("every client answered");
    }
    let mut c = server.connect();
    assert_eq!(c.cmd(&["DBSIZE"]), b":48\r\n");
    // The test is only worth something if the shared buffers did run out.
    let info = String::from_utf8(c.cmd(&["INFO", "stats"])).unwrap();
    let exhausted: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("receive_buffers_exhausted:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO stats reports receive_buffers_exhausted");
    assert!(
        exhausted > 0,
        "the load never exhausted the receive buffers:\n{info}"
    );
}
