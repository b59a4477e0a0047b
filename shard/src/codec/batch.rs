//! Several records as one WAL payload, and what the WAL and a snapshot need
//! to know of a single record without decoding its value.
//!
//! ```text
//! batch = (len:var record)*      records of one command, in order
//! ```
//!
//! A command that changed several keys (EXEC, MSET, SWAPDB...) is logged as
//! one `Batch` frame, so replay applies all of its records or, when the
//! frame is cut, none of them.

use super::DecodeError;
use super::{put_var, Reader, KIND_DELETE, KIND_FLUSH_ALL, KIND_FLUSH_DB, KIND_PUT, VERSION};
use persist::wal::RecordType;

/// Appends `records` to `out` as one batch payload.
pub fn encode_batch(out: &mut Vec<u8>, records: &[Vec<u8>]) {
    encode_batch_of(out, records.iter().map(Vec::as_slice));
}

/// [`encode_batch`] from borrowed records.
pub fn encode_batch_of<'a>(out: &mut Vec<u8>, records: impl Iterator<Item = &'a [u8]> + Clone) {
    out.reserve(records.clone().map(|r| r.len() + 5).sum());
    for r in records {
        put_var(out, r.len() as u64);
        out.extend_from_slice(r);
    }
}

/// The records of a batch payload, borrowed from it. Each length is checked
/// against the bytes left, and every record takes at least its one-byte
/// prefix, so the vector never holds more entries than the input has bytes.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
    let mut r = Reader { rest: bytes };
    let mut records = Vec::new();
    while !r.rest.is_empty() {
        records.push(r.bytes()?);
    }
    Ok(records)
}

/// The WAL frame type for one encoded record (from its kind byte). The
/// records come from this crate's encoder; bytes of any other shape are
/// logged as `Put`, whose replay decodes them and reports the damage.
pub fn wal_type(record: &[u8]) -> RecordType {
    match record {
        [VERSION, KIND_DELETE, ..] => RecordType::Delete,
        [VERSION, KIND_FLUSH_DB, ..] => RecordType::FlushDb,
        [VERSION, KIND_FLUSH_ALL, ..] => RecordType::FlushAll,
        _ => RecordType::Put,
    }
}

/// The database and key a Put or Delete record is about; None for a flush
/// (or bytes that are not a record). The value is not looked at.
pub fn record_target(record: &[u8]) -> Option<(usize, &[u8])> {
    let mut r = Reader { rest: record };
    if r.u8().ok()? != VERSION || !matches!(r.u8().ok()?, KIND_PUT | KIND_DELETE) {
        return None;
    }
    let db = r.db().ok()?;
    Some((db, r.bytes().ok()?))
}

/// The key of a Put or Delete record, without decoding its value.
pub fn record_key(record: &[u8]) -> Option<&[u8]> {
    record_target(record).map(|(_, key)| key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode_delete, encode_flush_all, encode_flush_db, encode_put};
    use crate::value::{Entry, Value};

    fn samples() -> Vec<Vec<u8>> {
        let entry = Entry {
            value: Value::Str(b"value"[..].into()),
            expire_at: 77,
        };
        let mut put = Vec::new();
        encode_put(&mut put, 3, b"user:{1}", &entry);
        let mut delete = Vec::new();
        encode_delete(&mut delete, 0, b"");
        let mut flush_db = Vec::new();
        encode_flush_db(&mut flush_db, 15);
        let mut flush_all = Vec::new();
        encode_flush_all(&mut flush_all);
        let mut big = Vec::new();
        let large = Entry {
            value: Value::Str(vec![7u8; 300].into()),
            expire_at: 0,
        };
        encode_put(&mut big, 0, &[0xff; 200], &large);
        vec![put, delete, flush_db, flush_all, big]
    }

    #[test]
    fn batches_round_trip() {
        let records = samples();
        let mut bytes = Vec::new();
        encode_batch(&mut bytes, &records);
        let got = decode_batch(&bytes).unwrap();
        assert_eq!(got, records.iter().map(|r| &r[..]).collect::<Vec<_>>());
        for r in got {
            decode(r).unwrap();
        }
        let mut empty = Vec::new();
        encode_batch(&mut empty, &[]);
        assert!(decode_batch(&empty).unwrap().is_empty());
    }

    #[test]
    fn damaged_batches_are_errors() {
        let records = samples();
        let mut bytes = Vec::new();
        let mut boundaries = vec![0];
        for r in &records {
            encode_batch(&mut bytes, std::slice::from_ref(r));
            boundaries.push(bytes.len());
        }
        // Every cut inside a record is caught; a cut between records gives
        // the records before it (the WAL frame's CRC catches that case).
        for cut in 0..bytes.len() {
            match decode_batch(&bytes[..cut]) {
                Ok(got) => assert_eq!(boundaries[got.len()], cut),
                Err(_) => assert!(!boundaries.contains(&cut), "{cut}"),
            }
        }
        assert_eq!(decode_batch(&[0x05, 1, 2]), Err(DecodeError::Truncated));
        // A length that does not fit in a u64, and one far past the end.
        assert_eq!(decode_batch(&[0xff; 11]), Err(DecodeError::Length));
        assert_eq!(
            decode_batch(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
            Err(DecodeError::Truncated)
        );
        let mut rng = fastrand::Rng::with_seed(9);
        for _ in 0..5000 {
            let mut b = bytes.clone();
            let at = rng.usize(..b.len());
            b[at] = rng.u8(..);
            if let Ok(records) = decode_batch(&b) {
                assert!(records.len() <= b.len());
            }
        }
    }

    #[test]
    fn types_and_keys_without_decoding() {
        let s = samples();
        let types: Vec<_> = s.iter().map(|r| wal_type(r)).collect();
        use RecordType::*;
        assert_eq!(types, [Put, Delete, FlushDb, FlushAll, Put]);
        assert_eq!(record_key(&s[0]), Some(&b"user:{1}"[..]));
        assert_eq!(record_target(&s[0]), Some((3, &b"user:{1}"[..])));
        assert_eq!(record_key(&s[1]), Some(&b""[..]));
        assert_eq!(record_key(&s[2]), None);
        assert_eq!(record_key(&s[3]), None);
        assert_eq!(record_key(&s[4]), Some(&[0xff; 200][..]));
        // Cut or foreign bytes: no key, no panic.
        for cut in 0..s[0].len() {
            let key = record_key(&s[0][..cut]);
            assert!(key.is_none() || cut >= 2 + 1 + 1 + 8, "{cut}");
        }
        assert_eq!(record_key(&[9, 1, 0, 0]), None);
        assert_eq!(record_key(&[VERSION, KIND_PUT, 16, 0]), None, "db 16");
        assert_eq!(wal_type(&[]), Put);
    }
}
