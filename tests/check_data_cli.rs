//! `tokenginx check-data DIR` on a sound log and on a damaged one.

use std::process::Command;

use persist::wal::{RecordType, WalWriter, WriterOptions};

fn check_data(dir: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tokenginx"))
        .env_clear()
        .arg("check-data")
        .arg(dir)
        .output()
        .expect("run tokenginx");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn check_data_reports_each_segment_and_fails_on_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        segment_size: 1 << 20,
        direct: false,
    };
    let mut w = WalWriter::create(tmp.path(), 0, 0, opts).unwrap();
    for i in 0..3u8 {
        w.append(RecordType::Put, &[i; 100]).unwrap();
    }
    w.flush_sync().unwrap();
    let path = w.segment_path().to_path_buf();
    drop(w);

    let (code, stdout) = check_data(tmp.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("wal-00000000000000000000.log: 3 records, 4096 bytes\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("1 segment files checked: ok\n"),
        "{stdout}"
    );

    // A flipped bit in the first record (offset 32), the others intact.
    let mut data = std::fs::read(&path).unwrap();
    data[50] ^= 4;
    std::fs::write(&path, data).unwrap();
    let (code, stdout) = check_data(tmp.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("0 records, 4096 bytes, CORRUPT at offset 32: CRC mismatch"),
        "{stdout}"
    );
}

#[test]
fn check_data_verifies_the_manifest_and_its_snapshots() {
    use persist::snapshot::manifest::{self, Manifest, ShardSnapshot};
    use persist::snapshot::{SnapshotHeader, SnapshotWriter};
    let tmp = tempfile::tempdir().unwrap();
    let header = SnapshotHeader {
        shard_id: 0,
        shard_count: 1,
        lsn: 7,
        created_ms: 1,
    };
    let mut w = SnapshotWriter::create(tmp.path(), "shard-000-7.snap", header).unwrap();
    for i in 0..1000u32 {
        w.append(format!("record {i} with some bytes").as_bytes())
            .unwrap();
    }
    let summary = w.finish().unwrap();
    let m = Manifest {
        shard_count: 1,
        snapshots: vec![ShardSnapshot {
            shard: 0,
            lsn: 7,
            file: "shard-000-7.snap".into(),
        }],
    };
    manifest::store(tmp.path(), &m).unwrap();
    let (code, stdout) = check_data(tmp.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.starts_with("MANIFEST: 1 shards, 1 snapshots\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("shard-000-7.snap: shard 0, covers LSNs below 7, 1000 records"),
        "{stdout}"
    );

    // A flipped byte in the middle of the snapshot's blocks.
    let mut data = std::fs::read(&summary.path).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x10;
    std::fs::write(&summary.path, &data).unwrap();
    let (code, stdout) = check_data(tmp.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains(", DAMAGED: "), "{stdout}");

    // A damaged manifest.
    data[mid] ^= 0x10;
    std::fs::write(&summary.path, &data).unwrap();
    let text = std::fs::read_to_string(tmp.path().join("MANIFEST")).unwrap();
    std::fs::write(tmp.path().join("MANIFEST"), text.replace("lsn 7", "lsn 8")).unwrap();
    let (code, stdout) = check_data(tmp.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.starts_with("MANIFEST: DAMAGED: "), "{stdout}");
}
