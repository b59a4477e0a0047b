//! `tokenginx check-data DIR`: verifies every CRC of the MANIFEST, of the
//! snapshots it names and of the write-ahead log, and prints what each file
//! holds, changing nothing. Meant for an
//! operator before a start-up that refused damage, or after a copy.

use std::path::Path;
use std::process::ExitCode;

pub fn run(dir: &Path) -> ExitCode {
    if !dir.is_dir() {
        eprintln!("error: {} is not a directory", dir.display());
        return ExitCode::from(1);
    }
    let snapshots = persist::snapshot::check_snapshots(dir);
    print!("{snapshots}");
    match persist::wal::check_data(dir) {
        Ok(report) => {
            print!("{report}");
            if report.is_clean() && snapshots.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(err) => {
            eprintln!("error: cannot read {}: {err}", dir.display());
            ExitCode::from(1)
        }
    }
}
