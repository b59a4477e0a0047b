//! Feeds arbitrary bytes to the RESP request parser, whole and in random
//! chunks, and checks it never panics, never loops, and parses the same
//! requests however the bytes were split.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use proto::parse::{parse_request_resuming, split_args, Limits, Parse, Progress};

fn parse_all(chunks: &[&[u8]], limits: &Limits) -> (Vec<Vec<Vec<u8>>>, bool) {
    let mut buf = BytesMut::new();
    let mut progress = Progress::default();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.len();
            match parse_request_resuming(&mut buf, limits, &mut progress) {
                Ok(Parse::Request(args)) => {
                    assert!(!args.is_empty());
                    assert!(buf.len() < before, "a request must consume input");
                    out.push(args.iter().map(|a| a.to_vec()).collect());
                }
                Ok(Parse::Incomplete(need)) => {
                    assert!(need > buf.len(), "incomplete must ask for more than it has");
                    break;
                }
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_bulk_len: 1 << 20, max_multibulk_len: 1 << 16, unauthenticated: data.len() % 2 == 0 };
    let whole = parse_all(&[data], &limits);
    // Split at a point derived from the data: results must not depend on it.
    if !data.is_empty() {
        let cut = data[0] as usize % data.len();
        let split = parse_all(&[&data[..cut], &data[cut..]], &limits);
        if !whole.1 && !split.1 {
            assert_eq!(whole.0, split.0);
        }
    }
    let _ = split_args(data);
    let _ = proto::parse_int(data);
});
