//! Feeds the WAL record scanner two kinds of input: arbitrary bytes (a
//! segment body as found on disk), and a log of valid records built from the
//! input and then damaged by a cut, zeros or a flipped bit at a position the
//! input chooses. It checks the scanner never panics, that the records it
//! accepts tile the bytes from the start and re-encode to exactly those
//! bytes, and that after damage it returns every record before the damaged
//! one and nothing else.
#![no_main]

use libfuzzer_sys::fuzz_target;
use persist::wal::record::{self, End, RecordType};
use persist::wal::segment::{self, SegmentHeader};

/// Scans and checks the invariants that hold for any input.
fn check(data: &[u8], start: usize) -> (Vec<record::Found>, End) {
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
    (found, end)
}

/// Valid records from the input: each takes a type byte, a length byte and
/// that many payload bytes.
fn build(mut input: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut log = SegmentHeader { shard: 1, first_lsn: 7 }.encode().to_vec();
    let mut ends = vec![log.len()];
    while input.len() >= 2 {
        let kind = RecordType::from_u8(input[0] % 6 + 1).expect("types 1..=6");
        let len = (input[1] as usize).min(input.len() - 2);
        log.extend(record::encode(kind, &input[2..2 + len]));
        ends.push(log.len());
        input = &input[2 + len..];
    }
    (log, ends)
}

fuzz_target!(|data: &[u8]| {
    let _ = SegmentHeader::decode(data);
    check(data, 0);
    if data.len() < 4 {
        return;
    }
    let (mode, at) = (data[0] % 3, u16::from_le_bytes([data[1], data[2]]) as usize);
    let (mut log, ends) = build(&data[3..]);
    let at = segment::HEADER_LEN + at % (log.len() - segment::HEADER_LEN + 1);
    let before = log.clone();
    match mode {
        0 => log.truncate(at),
        1 => log[at..].fill(0),
        _ if at < log.len() => log[at] ^= 1 << (data[1] % 8),
        _ => {}
    }
    // Records wholly before the first changed byte survive (zeros written
    // over zeros change nothing).
    let changed = (at..log.len()).find(|&i| log[i] != before[i]).unwrap_or(log.len());
    let survivors = ends.iter().filter(|&&e| e <= changed).count() - 1;
    let (found, end) = check(&log, segment::HEADER_LEN);
    // Every byte of a record is under its CRC: the damaged one is never
    // returned, and neither is anything after it.
    assert_eq!(found.len(), survivors);
    if survivors == ends.len() - 1 {
        assert!(matches!(end, End::Clean | End::Padding { .. }), "{end:?}");
    }
});
