//! Round trips of every value type through the record codec, and decoding
//! of damaged bytes.

use crate::cmd::typed::Collection;
use crate::codec::{self, DecodeError, Record};
use crate::memory::exact_value_bytes;
use crate::value::{Entry, HashValue, ListValue, SetValue, Value, ZSetValue};

fn put(db: usize, key: &[u8], entry: &Entry) -> Vec<u8> {
    let mut out = Vec::new();
    codec::encode_put(&mut out, db, key, entry);
    out
}

fn round_trip(db: usize, key: &[u8], entry: Entry) {
    let bytes = put(db, key, &entry);
    let Ok(Record::Put {
        db: got_db,
        key: got_key,
        entry: got,
    }) = codec::decode(&bytes)
    else {
        panic!("{:?}", codec::decode(&bytes));
    };
    assert_eq!((got_db, &*got_key), (db, key));
    assert_eq!(got, entry);
    // A rebuilt collection is charged what it takes, as after a write.
    let charged = crate::memory::value_bytes(&got);
    assert_eq!(
        charged,
        exact_value_bytes(&got),
        "{}",
        got.value.type_name()
    );
}

fn entry(value: Value, expire_at: u64) -> Entry {
    Entry { value, expire_at }
}

fn hash(pairs: &[(&[u8], &[u8])]) -> Value {
    let h: HashValue = pairs
        .iter()
        .map(|(f, v)| ((*f).into(), (*v).into()))
        .collect();
    h.wrap()
}

fn zset(members: &[(&[u8], f64)]) -> Value {
    let mut z = ZSetValue::default();
    for (m, s) in members {
        z.set(m, *s);
    }
    z.wrap()
}

#[test]
fn strings_with_empty_and_binary_keys() {
    round_trip(0, b"", entry(Value::Str(b"v"[..].into()), 0));
    round_trip(
        15,
        b"\0\xff\r\n",
        entry(Value::Str(b"\0\x01\xfe"[..].into()), u64::MAX),
    );
    round_trip(
        3,
        b"k",
        entry(Value::Str(Box::default()), 1_700_000_000_123),
    );
    round_trip(
        1,
        &[7u8; 300],
        entry(Value::Str(vec![9u8; 70_000].into()), 5),
    );
}

#[test]
fn hashes_sets_lists() {
    round_trip(0, b"h", entry(hash(&[(b"", b""), (b"f\0", b"\xff")]), 0));
    let set: SetValue = [&b""[..], b"a", b"\x00\x01"]
        .iter()
        .map(|m| (*m).into())
        .collect();
    round_trip(2, b"s", entry(set.wrap(), 42));
    let list: ListValue = [&b"x"[..], b"", b"x", b"y"]
        .iter()
        .map(|m| (*m).into())
        .collect();
    round_trip(4, b"l", entry(list.wrap(), 0));
}

#[test]
fn sorted_sets_keep_exact_scores() {
    let z = zset(&[
        (b"inf", f64::INFINITY),
        (b"-inf", f64::NEG_INFINITY),
        (b"negzero", -0.0),
        (b"zero", 0.0),
        (b"", f64::MIN_POSITIVE),
        (b"max", f64::MAX),
        (b"frac", 0.1),
    ]);
    let bytes = put(0, b"z", &entry(z.clone(), 0));
    let Ok(Record::Put { entry: got, .. }) = codec::decode(&bytes) else {
        panic!()
    };
    let Value::ZSet(got) = got.value else {
        panic!()
    };
    assert!(got.score(b"negzero").unwrap().is_sign_negative());
    assert!(got.score(b"zero").unwrap().is_sign_positive());
    assert_eq!(got.score(b"-inf"), Some(f64::NEG_INFINITY));
    assert_eq!(got.score(b"frac"), Some(0.1));
    round_trip(0, b"z", entry(z, 9));
}

#[test]
fn large_collections() {
    let mut rng = fastrand::Rng::with_seed(7);
    let h: HashValue = (0..5000u32)
        .map(|i| (i.to_be_bytes()[..].into(), bytes(&mut rng, 40).into()))
        .collect();
    round_trip(0, b"big-hash", entry(h.wrap(), 0));
    let s: SetValue = (0..5000u32).map(|i| i.to_le_bytes()[..].into()).collect();
    round_trip(0, b"big-set", entry(s.wrap(), 0));
    let l: ListValue = (0..5000).map(|_| bytes(&mut rng, 20).into()).collect();
    round_trip(0, b"big-list", entry(l.wrap(), 0));
    let mut z = ZSetValue::default();
    for i in 0..5000u32 {
        z.set(&i.to_le_bytes(), rng.i64(..) as f64 / 3.0);
    }
    round_trip(0, b"big-zset", entry(z.wrap(), 0));
}

#[test]
fn delete_and_flush_records() {
    let mut out = Vec::new();
    codec::encode_delete(&mut out, 7, b"\0gone");
    assert_eq!(
        codec::decode(&out),
        Ok(Record::Delete {
            db: 7,
            key: b"\0gone"[..].into()
        })
    );
    out.clear();
    codec::encode_flush_db(&mut out, 15);
    assert_eq!(codec::decode(&out), Ok(Record::FlushDb { db: 15 }));
    out.clear();
    codec::encode_flush_all(&mut out);
    assert_eq!(codec::decode(&out), Ok(Record::FlushAll));
}

#[test]
fn malformed_records_are_named() {
    let ok = put(0, b"k", &entry(Value::Str(b"v"[..].into()), 0));
    assert_eq!(codec::decode(&[]), Err(DecodeError::Truncated));
    assert_eq!(codec::decode(&[9, 1]), Err(DecodeError::Version(9)));
    assert_eq!(codec::decode(&[1, 99]), Err(DecodeError::Kind(99)));
    assert_eq!(codec::decode(&[1, 3, 16]), Err(DecodeError::Db(16)));
    let mut trailing = ok.clone();
    trailing.push(0);
    assert_eq!(codec::decode(&trailing), Err(DecodeError::Trailing(1)));
    for cut in 0..ok.len() {
        assert_eq!(
            codec::decode(&ok[..cut]),
            Err(DecodeError::Truncated),
            "{cut}"
        );
    }
    // A count of 2^62 elements in a few bytes is refused before reserving.
    let mut huge = vec![1, 1, 0, 1, b'k', 0, 2];
    huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]);
    assert_eq!(codec::decode(&huge), Err(DecodeError::Truncated));
    // An eleven-byte varint.
    let long = [
        1, 3, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0,
    ];
    assert_eq!(codec::decode(&long), Err(DecodeError::Length));
    // Empty collections, repeated members, NaN scores.
    assert_eq!(
        codec::decode(&[1, 1, 0, 1, b'k', 0, 2, 0]),
        Err(DecodeError::EmptyCollection)
    );
    assert_eq!(
        codec::decode(&[1, 1, 0, 1, b'k', 0, 2, 2, 1, b'a', 1, b'a']),
        Err(DecodeError::Duplicate)
    );
    let mut nan = vec![1, 1, 0, 1, b'k', 0, 4, 1, 1, b'a'];
    nan.extend_from_slice(&f64::NAN.to_bits().to_le_bytes());
    assert_eq!(codec::decode(&nan), Err(DecodeError::NaN));
}

/// Random and damaged inputs decode to a record or an error, never a panic
/// or a huge allocation (a corrupt count is checked against the input).
#[test]
fn decoding_garbage_never_panics() {
    let mut rng = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    let samples = [
        put(0, b"k", &entry(hash(&[(b"f", b"v"), (b"g", b"w")]), 77)),
        put(3, b"z", &entry(zset(&[(b"a", 1.0), (b"b", -0.0)]), 0)),
        put(1, b"s", &entry(Value::Str(b"hello"[..].into()), 0)),
    ];
    for round in 0..20_000 {
        let mut bytes = if round % 2 == 0 {
            samples[round % samples.len()].clone()
        } else {
            let mut b = bytes(&mut rng, 40);
            if b.len() >= 2 {
                b[0] = codec::VERSION;
                b[1] = 1 + rng.u64(..4) as u8;
            }
            b
        };
        for _ in 0..rng.u64(..4) {
            if bytes.is_empty() {
                break;
            }
            let i = rng.u64(..bytes.len() as u64) as usize;
            bytes[i] ^= 1 << rng.u64(..8);
        }
        let cut = rng.u64(..bytes.len() as u64 + 1) as usize;
        let _ = codec::decode(&bytes[..cut]);
        let _ = codec::decode(&bytes);
    }
}

/// Up to `max` random bytes.
fn bytes(rng: &mut fastrand::Rng, max: u64) -> Vec<u8> {
    let n = rng.u64(..=max);
    (0..n).map(|_| rng.u8(..)).collect()
}
