//! The data directory's manifest: for each shard, its current snapshot
//! file and the WAL position that snapshot covers.
//!
//! A small text file, readable by an operator, ending in a checksum line:
//!
//! ```text
//! tokenginx-manifest 1
//! shards 2
//! shard 0 lsn 4711 file shard-0-4711.snap
//! shard 1 lsn 4700 file shard-1-4700.snap
//! crc32c 1a2b3c4d
//! ```
//!
//! It is replaced whole: written to `MANIFEST.tmp`, fsynced, renamed over
//! `MANIFEST`, and the directory fsynced, so a crash at any point leaves
//! either the old manifest or the new one, never a mix.

use super::format::{fsync_dir, io_at, SnapshotError};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

pub const MANIFEST: &str = "MANIFEST";
const MANIFEST_TMP: &str = "MANIFEST.tmp";
const FIRST_LINE: &str = "tokenginx-manifest 1";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardSnapshot {
    pub shard: u32,
    pub lsn: u64,
    /// A file name in the data directory (no directories).
    pub file: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub shard_count: u32,
    /// At most one per shard; a shard with no snapshot yet is absent.
    pub snapshots: Vec<ShardSnapshot>,
}

/// A name that stays inside the data directory and fits on one line.
fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0', '\n', '\r', ' '])
}

impl Manifest {
    pub fn snapshot_of(&self, shard: u32) -> Option<&ShardSnapshot> {
        self.snapshots.iter().find(|s| s.shard == shard)
    }

    fn render(&self) -> String {
        let mut text = format!("{FIRST_LINE}\nshards {}\n", self.shard_count);
        for s in &self.snapshots {
            text.push_str(&format!(
                "shard {} lsn {} file {}\n",
                s.shard, s.lsn, s.file
            ));
        }
        let crc = crc32c::crc32c(text.as_bytes());
        text.push_str(&format!("crc32c {crc:08x}\n"));
        text
    }

    /// Parses a manifest's text; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let body_end = text
            .trim_end_matches('\n')
            .rfind('\n')
            .map(|i| i + 1)
            .ok_or("no checksum line")?;
        let (body, last) = text.split_at(body_end);
        let crc = last
            .trim_end()
            .strip_prefix("crc32c ")
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or("no checksum line")?;
        if crc != crc32c::crc32c(body.as_bytes()) {
            return Err("checksum mismatch".into());
        }
        let mut lines = body.lines();
        if lines.next() != Some(FIRST_LINE) {
            return Err("not a manifest of this version".into());
        }
        let shard_count = lines
            .next()
            .and_then(|l| l.strip_prefix("shards "))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|&n| n > 0)
            .ok_or("bad shards line")?;
        let mut m = Manifest {
            shard_count,
            snapshots: Vec::new(),
        };
        for line in lines {
            let words: Vec<&str> = line.split(' ').collect();
            let ["shard", shard, "lsn", lsn, "file", file] = words[..] else {
                return Err(format!("bad line {line:?}"));
            };
            let (Ok(shard), Ok(lsn)) = (shard.parse::<u32>(), lsn.parse::<u64>()) else {
                return Err(format!("bad numbers in {line:?}"));
            };
            if shard >= shard_count || m.snapshot_of(shard).is_some() {
                return Err(format!("shard {shard} out of range or repeated"));
            }
            if !plain_file_name(file) {
                return Err(format!("bad file name in {line:?}"));
            }
            m.snapshots.push(ShardSnapshot {
                shard,
                lsn,
                file: file.to_string(),
            });
        }
        Ok(m)
    }
}

/// The manifest in `dir`, None if there is none yet.
pub fn load(dir: &Path) -> Result<Option<Manifest>, SnapshotError> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(&path)(e)),
    };
    let corrupt = |what: String| SnapshotError::Corrupt {
        path: path.clone(),
        offset: 0,
        what,
    };
    let text = String::from_utf8(text).map_err(|_| corrupt("not text".into()))?;
    Manifest::parse(&text).map(Some).map_err(corrupt)
}

/// Replaces the manifest in `dir` atomically.
pub fn store(dir: &Path, manifest: &Manifest) -> Result<(), SnapshotError> {
    store_with(dir, manifest, |file, bytes| file.write_all(bytes))
}

/// [`store`] with the write of the temporary file given, so tests can make
/// it fail midway.
fn store_with(
    dir: &Path,
    manifest: &Manifest,
    write: impl FnOnce(&mut File, &[u8]) -> io::Result<()>,
) -> Result<(), SnapshotError> {
    for s in &manifest.snapshots {
        if !plain_file_name(&s.file) {
            return Err(SnapshotError::Io {
                path: dir.join(MANIFEST),
                source: io::Error::new(io::ErrorKind::InvalidInput, "bad snapshot file name"),
            });
        }
    }
    let tmp = dir.join(MANIFEST_TMP);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_at(&tmp))?;
    write(&mut file, manifest.render().as_bytes()).map_err(io_at(&tmp))?;
    file.sync_all().map_err(io_at(&tmp))?;
    drop(file);
    let path = dir.join(MANIFEST);
    std::fs::rename(&tmp, &path).map_err(io_at(&path))?;
    fsync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(lsn: u64) -> Manifest {
        Manifest {
            shard_count: 2,
            snapshots: vec![
                ShardSnapshot {
                    shard: 0,
                    lsn,
                    file: format!("shard-0-{lsn}.snap"),
                },
                ShardSnapshot {
                    shard: 1,
                    lsn: lsn + 1,
                    file: format!("shard-1-{lsn}.snap"),
                },
            ],
        }
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tgx-manifest-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn stores_and_loads() {
        let dir = temp_dir("round");
        assert_eq!(load(&dir).unwrap(), None);
        store(&dir, &sample(10)).unwrap();
        assert_eq!(load(&dir).unwrap(), Some(sample(10)));
        store(&dir, &sample(20)).unwrap();
        let m = load(&dir).unwrap().unwrap();
        assert_eq!(m, sample(20));
        assert_eq!(m.snapshot_of(1).unwrap().lsn, 21);
        assert!(!dir.join(MANIFEST_TMP).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_write_failing_midway_keeps_the_old_manifest() {
        let dir = temp_dir("crash");
        store(&dir, &sample(10)).unwrap();
        let failed = store_with(&dir, &sample(20), |file, bytes| {
            file.write_all(&bytes[..bytes.len() / 2])?;
            Err(io::Error::other("disk full"))
        });
        assert!(matches!(failed, Err(SnapshotError::Io { .. })));
        assert_eq!(load(&dir).unwrap(), Some(sample(10)));
        // The half-written temporary file is overwritten by the next store.
        store(&dir, &sample(30)).unwrap();
        assert_eq!(load(&dir).unwrap(), Some(sample(30)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damage_is_reported_not_trusted() {
        let text = sample(5).render();
        assert_eq!(Manifest::parse(&text), Ok(sample(5)));
        // Anything short of the final newline is incomplete.
        for cut in 0..text.len() - 1 {
            assert!(Manifest::parse(&text[..cut]).is_err(), "{cut}");
        }
        let flipped = text.replacen("lsn 5", "lsn 6", 1);
        assert_eq!(Manifest::parse(&flipped), Err("checksum mismatch".into()));
        // Random edits of a valid text: refused or parsed, never a panic.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut bytes = text.clone().into_bytes();
            let at = (seed % bytes.len() as u64) as usize;
            bytes[at] = (seed >> 32) as u8;
            if let Ok(t) = String::from_utf8(bytes) {
                let _ = Manifest::parse(&t);
            }
        }
        let mut bad = sample(5);
        bad.snapshots[0].file = "../etc/passwd".into();
        let dir = temp_dir("names");
        assert!(store(&dir, &bad).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
