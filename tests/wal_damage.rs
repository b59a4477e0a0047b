//! Damaged WAL files against the real binary: a torn end of the newest
//! segment (the trace of a crash) is cut off with a warning; damage in the
//! middle of a segment, or a missing segment, stops start-up with a message
//! naming file and offset, unless `on_corruption = "truncate"` says to keep
//! what precedes it. `tokenginx check-data` reports each without changing
//! a byte.
//!
//! Every test writes keys `k0, k1, ...` one SET (one record) each into a
//! single shard, so record i of the log is key i and "every record before
//! the damage" is "keys below i".

mod common;

use common::{tokenginx_refuses, tokenginx_with, Options};
use persist::wal::record;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Bytes before the first record of a segment (its header).
const SEGMENT_HEADER: usize = 32;

fn opts(dir: &Path) -> Options {
    Options::shards(1)
        .data_dir(dir)
        .env("TOKENGINX_PERSIST_APPENDFSYNC", "always")
}

fn value(i: usize, len: usize) -> String {
    let mut v = format!("v{i}-");
    while v.len() < len {
        v.push(char::from(b'a' + (i % 26) as u8));
    }
    v
}

/// Writes keys k0..k<n> (values of about `len` bytes) and stops the server
/// cleanly. Returns the shard's segment files, oldest first.
fn write_keys(dir: &Path, n: usize, len: usize, opts: Options) -> Vec<PathBuf> {
    let mut server = tokenginx_with(opts);
    let mut con = common::redis_client(server.port);
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let mut pipe = redis::pipe();
        for &i in chunk {
            pipe.cmd("SET")
                .arg(format!("k{i}"))
                .arg(value(i, len))
                .ignore();
        }
        pipe.exec(&mut con).expect("SET");
    }
    let (status, killed) = server.stop();
    assert!(status.success() && !killed, "{}", server.log_text());
    segments(dir)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("shard-000"))
        .expect("shard dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    files.sort();
    files
}

/// Where each record of a segment starts and ends.
fn records(path: &Path) -> Vec<(usize, usize)> {
    let data = std::fs::read(path).unwrap();
    let (found, _) = record::scan(&data, SEGMENT_HEADER);
    found.iter().map(|r| (r.offset, r.end())).collect()
}

/// The first LSN a segment holds, from its name (`wal-<LSN>.log`).
fn first_lsn(path: &Path) -> usize {
    let name = path.file_stem().unwrap().to_str().unwrap();
    name.trim_start_matches("wal-").parse().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    out
}

/// Runs `tokenginx check-data` on `dir`: exit code and output. Asserts it
/// changed no file.
fn check_data(dir: &Path) -> (i32, String) {
    let before = files(dir);
    let out = Command::new(env!("CARGO_BIN_EXE_tokenginx"))
        .env_clear()
        .arg("check-data")
        .arg(dir)
        .output()
        .expect("run tokenginx check-data");
    assert!(
        files(dir) == before,
        "check-data changed files under {}",
        dir.display()
    );
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().expect("exit code"), text)
}

/// Asserts the server holds exactly k0..k<kept> with their values.
fn assert_holds_first(port: u16, kept: usize, n: usize, len: usize, context: &str) {
    let mut con = common::redis_client(port);
    let size: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, kept, "{context}: DBSIZE");
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("GET").arg(format!("k{i}"));
    }
    let got: Vec<Option<String>> = pipe.query(&mut con).unwrap();
    for (i, got) in got.into_iter().enumerate() {
        let want = (i < kept).then(|| value(i, len));
        assert_eq!(got, want, "{context}: k{i}");
    }
}

/// A line of the log at WARN level that names `path` and `offset`.
fn warning_names(log: &str, path: &Path, offset: usize) -> bool {
    let path = path.display().to_string();
    log.lines()
        .any(|l| l.contains("WARN") && l.contains(&path) && l.contains(&format!("offset {offset}")))
}

#[test]
fn torn_tail_is_cut_off_with_a_warning_and_everything_before_it_kept() {
    let mut rng = fastrand::Rng::with_seed(common::seed("WAL_DAMAGE_SEED"));
    let pristine = common::scratch_dir("torn-pristine");
    let (n, len) = (40, 60);
    let segs = write_keys(&pristine, n, len, opts(&pristine));
    assert_eq!(segs.len(), 1, "one run, small data: one segment");
    let name = segs[0].strip_prefix(&pristine).unwrap().to_path_buf();
    let recs = records(&segs[0]);
    assert_eq!(recs.len(), n, "one record per SET");

    // Cuts inside random records, plus one inside the segment header (no
    // record of the segment survives, so the whole file goes).
    let mut cuts: Vec<(usize, usize)> = (0..5)
        .map(|_| {
            let k = rng.usize(0..n);
            let (start, end) = recs[k];
            (k, rng.usize(start + 1..end))
        })
        .collect();
    cuts.push((0, rng.usize(1..SEGMENT_HEADER)));
    for (kept, cut) in cuts {
        let context = format!("cut at byte {cut} (in record {kept})");
        let dir = common::scratch_dir("torn");
        copy_dir(&pristine, &dir);
        let seg = dir.join(&name);
        let file = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
        file.set_len(cut as u64).unwrap();
        drop(file);
        let offset = if cut < SEGMENT_HEADER {
            0
        } else {
            recs[kept].0
        };

        let (code, report) = check_data(&dir);
        assert_eq!(code, 0, "{context}: a torn tail is no damage: {report}");
        assert!(
            report.contains(&format!("torn tail at offset {offset}")),
            "{context}: {report}"
        );

        let mut server = tokenginx_with(opts(&dir));
        let log = server.log_text();
        assert!(
            warning_names(&log, &seg, offset),
            "{context}: no warning naming {} and offset {offset}:\n{log}",
            seg.display()
        );
        assert_holds_first(server.port, kept, n, len, &context);
        server.stop();
        let (code, report) = check_data(&dir);
        assert!(
            code == 0 && !report.contains("torn tail"),
            "{context}: after start-up the cut is repaired: {report}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&pristine);
}

#[test]
fn damage_in_the_middle_stops_start_up_unless_on_corruption_is_truncate() {
    let mut rng = fastrand::Rng::with_seed(common::seed("WAL_DAMAGE_SEED"));
    let dir = common::scratch_dir("corrupt");
    let (n, len) = (40, 60);
    let segs = write_keys(&dir, n, len, opts(&dir));
    let seg = segs.last().unwrap().clone();
    let recs = records(&seg);
    assert_eq!(recs.len(), n);

    // A flipped bit in a record that is not the last: valid ones follow,
    // which a crash cannot explain.
    let damaged = rng.usize(0..n - 1);
    let (start, end) = recs[damaged];
    let mut data = std::fs::read(&seg).unwrap();
    data[rng.usize(start..end)] ^= 1 << rng.u8(0..8);
    std::fs::write(&seg, &data).unwrap();
    let context = format!("bit flipped in record {damaged} at offset {start}");

    let (code, report) = check_data(&dir);
    assert_eq!(code, 1, "{context}: {report}");
    assert!(
        report.contains(&format!("CORRUPT at offset {start}")) && report.contains("DAMAGED"),
        "{context}: {report}"
    );

    // Refused twice: the failed start changed nothing that matters.
    for _ in 0..2 {
        let (status, log) = tokenginx_refuses(opts(&dir));
        assert!(!status.success(), "{context}: exit status {status}\n{log}");
        let error = log
            .lines()
            .find(|l| l.contains("ERROR") && l.contains(&seg.display().to_string()))
            .unwrap_or_else(|| panic!("{context}: no error naming the file:\n{log}"));
        assert!(
            error.contains(&format!("offset {start}")) && error.contains("on_corruption"),
            "{context}: the error must name the offset and the way out: {error}"
        );
        assert!(
            std::fs::read(&seg).unwrap() == data,
            "{context}: file changed"
        );
    }

    let mut server = tokenginx_with(opts(&dir).env("TOKENGINX_PERSIST_ON_CORRUPTION", "truncate"));
    let log = server.log_text();
    assert!(
        warning_names(&log, &seg, start),
        "{context}: no warning naming {} and offset {start}:\n{log}",
        seg.display()
    );
    assert_holds_first(server.port, damaged, n, len, &context);
    server.stop();

    // The damage is gone from the files, and a default start works.
    let (code, report) = check_data(&dir);
    assert_eq!(code, 0, "{context}: {report}");
    let mut server = tokenginx_with(opts(&dir));
    assert_holds_first(server.port, damaged, n, len, &context);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_middle_segment_is_reported_as_a_gap() {
    let dir = common::scratch_dir("gap");
    // 4 KiB values into 1 MiB segments: about 250 records a segment.
    let (n, len) = (1000, 4096);
    let segs = write_keys(
        &dir,
        n,
        len,
        opts(&dir)
            .env("TOKENGINX_PERSIST_APPENDFSYNC", "no")
            .env("TOKENGINX_PERSIST_WAL_SEGMENT_SIZE", "1mb"),
    );
    assert!(segs.len() >= 3, "want 3 segments or more, got {segs:?}");
    let missing = &segs[1];
    let after = &segs[2];
    let gap_from = first_lsn(missing);
    let gap_to = first_lsn(after);
    assert!(gap_from > 0 && gap_to > gap_from, "{segs:?}");
    std::fs::remove_file(missing).unwrap();
    let context = format!("{} deleted", missing.display());

    let (code, report) = check_data(&dir);
    assert_eq!(code, 1, "{context}: {report}");
    assert!(
        report.contains(&format!("GAP: LSNs {gap_from}..{gap_to} missing")),
        "{context}: {report}"
    );

    let (status, log) = tokenginx_refuses(opts(&dir));
    assert!(!status.success(), "{context}: exit status {status}\n{log}");
    let error = log
        .lines()
        .find(|l| l.contains("ERROR") && l.contains(&after.display().to_string()))
        .unwrap_or_else(|| panic!("{context}: no error naming the file after the gap:\n{log}"));
    assert!(
        error.contains("missing")
            && error.contains(&gap_from.to_string())
            && error.contains("on_corruption"),
        "{context}: the error must say which records are missing and the way out: {error}"
    );

    let mut server = tokenginx_with(opts(&dir).env("TOKENGINX_PERSIST_ON_CORRUPTION", "truncate"));
    let log = server.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains(&after.display().to_string())),
        "{context}: no warning naming the file after the gap:\n{log}"
    );
    assert_holds_first(server.port, gap_from, n, len, &context);
    server.stop();
    let (code, report) = check_data(&dir);
    assert_eq!(code, 0, "{context}: repaired: {report}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Records in each shard's newest segment under `dir`.
fn record_counts(dir: &Path) -> [usize; 2] {
    [0, 1].map(|shard| {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(format!("shard-00{shard}")))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.last().map_or(0, |f| records(f).len())
    })
}

/// Two hash tags whose keys live on shard 0 and shard 1 respectively,
/// found by watching which shard's log a write lands in (under `always`
/// the record is in the file once the write is acknowledged).
fn tags_of_each_shard() -> [String; 2] {
    let dir = common::scratch_dir("probe");
    let server = tokenginx_with(
        Options::shards(2)
            .data_dir(&dir)
            .env("TOKENGINX_PERSIST_APPENDFSYNC", "always"),
    );
    let mut con = common::redis_client(server.port);
    let mut found: [Option<String>; 2] = [None, None];
    for i in 0.. {
        let tag = format!("{{t{i}}}");
        let before = record_counts(&dir);
        redis::cmd("SET")
            .arg(format!("{tag}probe"))
            .arg("x")
            .exec(&mut con)
            .unwrap();
        let after = record_counts(&dir);
        let shard = usize::from(after[1] > before[1]);
        assert_eq!(after[shard], before[shard] + 1, "{before:?} {after:?}");
        found[shard].get_or_insert(tag);
        if let [Some(a), Some(b)] = &found {
            drop(server);
            let _ = std::fs::remove_dir_all(&dir);
            return [a.clone(), b.clone()];
        }
        assert!(i < 100, "no tag found for each shard: {found:?}");
    }
    unreachable!()
}

#[test]
fn damage_in_one_shard_refuses_start_up_and_truncate_leaves_the_other_alone() {
    let mut rng = fastrand::Rng::with_seed(common::seed("WAL_DAMAGE_SEED"));
    let [tag0, tag1] = tags_of_each_shard();
    let dir = common::scratch_dir("corrupt-two");
    let n = 30;
    let opts = |dir: &Path| {
        Options::shards(2)
            .data_dir(dir)
            .env("TOKENGINX_PERSIST_APPENDFSYNC", "always")
    };
    let mut server = tokenginx_with(opts(&dir));
    let mut con = common::redis_client(server.port);
    let mut pipe = redis::pipe();
    for i in 0..n {
        for tag in [&tag0, &tag1] {
            pipe.cmd("SET")
                .arg(format!("{tag}k{i}"))
                .arg(value(i, 40))
                .ignore();
        }
    }
    pipe.exec(&mut con).unwrap();
    server.stop();
    let shard_files = |shard: usize| {
        let mut f: Vec<PathBuf> = std::fs::read_dir(dir.join(format!("shard-00{shard}")))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        f.sort();
        f
    };
    let seg0 = shard_files(0).pop().unwrap();
    let seg1 = shard_files(1).pop().unwrap();
    assert_eq!(record_counts(&dir), [n, n]);
    let intact = std::fs::read(&seg0).unwrap();

    let recs = records(&seg1);
    let damaged = rng.usize(0..n - 1);
    let (start, end) = recs[damaged];
    let mut data = std::fs::read(&seg1).unwrap();
    data[rng.usize(start..end)] ^= 1 << rng.u8(0..8);
    std::fs::write(&seg1, &data).unwrap();
    let context = format!("shard 1's record {damaged} damaged at offset {start}");

    let (code, report) = check_data(&dir);
    assert_eq!(code, 1, "{context}: {report}");
    let corrupt: Vec<&str> = report.lines().filter(|l| l.contains("CORRUPT")).collect();
    assert!(
        corrupt.len() == 1 && corrupt[0].contains(&seg1.display().to_string()),
        "{context}: {report}"
    );

    let (status, log) = tokenginx_refuses(opts(&dir));
    assert!(!status.success(), "{context}: exit status {status}\n{log}");
    assert!(
        log.lines().any(|l| l.contains("ERROR")
            && l.contains(&seg1.display().to_string())
            && l.contains(&format!("offset {start}"))
            && l.contains("on_corruption")),
        "{context}: no error naming file, offset and on_corruption:\n{log}"
    );

    let mut server = tokenginx_with(opts(&dir).env("TOKENGINX_PERSIST_ON_CORRUPTION", "truncate"));
    let mut con = common::redis_client(server.port);
    let mut pipe = redis::pipe();
    for i in 0..n {
        for tag in [&tag0, &tag1] {
            pipe.cmd("GET").arg(format!("{tag}k{i}"));
        }
    }
    let got: Vec<Option<String>> = pipe.query(&mut con).unwrap();
    for (i, pair) in got.chunks(2).enumerate() {
        assert_eq!(
            pair[0],
            Some(value(i, 40)),
            "{context}: {tag0}k{i} (shard 0)"
        );
        let want = (i < damaged).then(|| value(i, 40));
        assert_eq!(pair[1], want, "{context}: {tag1}k{i} (shard 1)");
    }
    server.stop();
    assert!(
        std::fs::read(&seg0).unwrap() == intact,
        "{context}: shard 0's segment changed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
