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
