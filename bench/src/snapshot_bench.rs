//! tgx-snapshot-bench: what a snapshot of session data costs.
//!
//! Fills one shard database with session-like entries (a 27-byte key, a
//! 256-byte JSON-ish value holding random tokens, a TTL), then times
//! walking the keyspace, encoding each key with the shard codec and
//! appending it to a snapshot file (lz4 blocks, CRC32C, fsync and rename
//! included), and reading the file back with every checksum verified and
//! every record decoded; then again with values of random bytes, the
//! case compression cannot help. Prints records/s, MB/s of encoded records, and
//! bytes per key on disk.
//!
//! Run with `cargo run --release -p bench --bin tgx-snapshot-bench -- [keys]`
//! (1,000,000 by default); the file goes to the system temporary directory.

use persist::snapshot::{SnapshotHeader, SnapshotReader, SnapshotWriter};
use shard::codec;
use shard::keyspace::Db;
use shard::value::{Entry, Value};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A 256-byte session value: fixed field names, random ids and tokens
/// (about 100 random characters); or, for the worst case, 256 random bytes.
fn session_value(rng: &mut fastrand::Rng, now: u64, random: bool) -> Vec<u8> {
    if random {
        return (0..256).map(|_| rng.u8(..)).collect();
    }
    let mut v = format!(
        r#"{{"sub":"user-{:08}","sid":"{}","iat":{},"amr":["pwd","otp"],"csrf":"{}","ip":"10.{}.{}.{}","ua":"Mozilla/5.0 (X11; Linux x86_64)","refresh":"{}""#,
        rng.u64(..100_000_000),
        token(rng, 22),
        now / 1000,
        token(rng, 32),
        rng.u64(..256),
        rng.u64(..256),
        rng.u64(..256),
        token(rng, 43),
    )
    .into_bytes();
    assert!(v.len() <= 255);
    v.resize(255, b' ');
    v.push(b'}');
    v
}

fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

fn main() {
    let keys: u64 = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("number of keys"))
        .unwrap_or(1_000_000);
    run(keys, false);
    run(keys, true);
}

fn run(keys: u64, random: bool) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut rng = fastrand::Rng::with_seed(0x5E55_1011);
    let mut db = Db::new(0..16384);
    for _ in 0..keys {
        // "session:" and a 19-character id: 27 bytes.
        let key = format!("session:{}", token(&mut rng, 19));
        let ttl = 30 * 60 * 1000 + rng.u64(..(60 * 1000));
        let entry = Entry {
            value: Value::Str(session_value(&mut rng, now, random).into()),
            expire_at: now + ttl,
        };
        db.insert(key.as_bytes(), entry, now);
    }
    let dir = std::env::temp_dir();
    let name = format!("tgx-snapshot-bench-{}.snap", std::process::id());
    let header = SnapshotHeader {
        shard_id: 0,
        shard_count: 1,
        lsn: 0,
        created_ms: now,
    };

    // Encoding alone, for the codec's share.
    let start = Instant::now();
    let mut record = Vec::with_capacity(512);
    let mut encoded = 0u64;
    for slot in 0..16384 {
        for (key, entry) in db.slot_entries(slot) {
            record.clear();
            codec::encode_put(&mut record, 0, key, entry);
            encoded += record.len() as u64;
        }
    }
    let encode_secs = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut writer = SnapshotWriter::create(&dir, &name, header).expect("create snapshot");
    for slot in 0..16384 {
        for (key, entry) in db.slot_entries(slot) {
            record.clear();
            codec::encode_put(&mut record, 0, key, entry);
            writer.append(&record).expect("append");
        }
    }
    let summary = writer.finish().expect("finish snapshot");
    let write_secs = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut reader = SnapshotReader::open(&summary.path).expect("open snapshot");
    let mut decoded = 0u64;
    while let Some(rec) = reader.next_record().expect("read snapshot") {
        codec::decode(rec).expect("decode");
        decoded += 1;
    }
    let read_secs = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&summary.path);
    assert_eq!(decoded, keys);

    let n = keys as f64;
    let kind = if random {
        "random bytes"
    } else {
        "JSON with tokens"
    };
    println!("keys: {keys} (27-byte key, 256-byte value of {kind}, TTL)");
    println!(
        "encode only:              {:>10.0} records/s {:>8.1} MB/s",
        n / encode_secs,
        mb_per_s(encoded, encode_secs)
    );
    println!(
        "encode+lz4+crc+write+sync: {:>9.0} records/s {:>8.1} MB/s  ({:.2} s)",
        n / write_secs,
        mb_per_s(summary.raw_bytes, write_secs),
        write_secs
    );
    println!(
        "read+verify+decode:        {:>9.0} records/s {:>8.1} MB/s  ({:.2} s)",
        n / read_secs,
        mb_per_s(summary.raw_bytes, read_secs),
        read_secs
    );
    println!(
        "bytes per key: {:.1} encoded, {:.1} on disk (ratio {:.2}); file {} bytes in {} blocks",
        summary.raw_bytes as f64 / n,
        summary.file_bytes as f64 / n,
        summary.raw_bytes as f64 / summary.file_bytes as f64,
        summary.file_bytes,
        summary.blocks
    );
}

/// `n` random URL-safe base64 characters, as tokens are printed.
fn token(rng: &mut fastrand::Rng, n: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..n).map(|_| ALPHABET[rng.usize(..64)] as char).collect()
}
