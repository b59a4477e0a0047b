//! Feeds arbitrary bytes to the WAL record scanner, as a segment body and
//! behind a valid segment header, and checks it never panics, that the
//! records it accepts tile the bytes from the start, that each one re-encodes
//! to exactly the bytes it was read from, and that the end it reports is
//! consistent with them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use persist::wal::record::{self, End};
use persist::wal::segment::{self, SegmentHeader};

fn check(data: &[u8], start: usize) {
    let (found, end) = record::scan(data, start);
    let mut at = start;
    for rec in &found {
        assert_eq!(rec.offset, at, "records are contiguous");
        let bytes = record::encode(rec.kind, rec.payload(data));
        assert_eq!(&data[rec.offset..rec.end()], &bytes[..]);
        at = rec.end();
    }
    match end {
        End::Clean => assert!(at >= data.len()),
        End::Padding { offset } => {
            assert_eq!(offset, at);
            assert!(data[offset..].iter().all(|&b| b == 0));
        }
        End::Torn { offset, .. } | End::Corrupt { offset, .. } => {
            assert_eq!(offset, at);
            assert!(record::parse_at(data, offset).is_err());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data, 0);
    let mut segment = SegmentHeader { shard: 1, first_lsn: 7 }.encode().to_vec();
    segment.extend_from_slice(data);
    assert!(SegmentHeader::decode(&segment).is_ok());
    check(&segment, segment::HEADER_LEN);
    let _ = SegmentHeader::decode(data);
});
