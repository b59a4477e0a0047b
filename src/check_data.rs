//! `tokenginx check-data DIR`: verifies every CRC of the write-ahead log
//! and prints what each segment file holds, changing nothing. Meant for an
//! operator before a start-up that refused damage, or after a copy.

use std::path::Path;
use std::process::ExitCode;

pub fn run(dir: &Path) -> ExitCode {
    match persist::wal::check_data(dir) {
        Ok(report) => {
            print!("{report}");
            if report.is_clean() {
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
