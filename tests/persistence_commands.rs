//! SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, INFO persistence, -LOADING at
//! start-up, and hot backup (BACKUP and `tokenginx backup`) with restore,
//! against the real binary.

mod common;

use common::{redis_client, scratch_dir, tokenginx_with, Options};
use redis::Commands;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn info_field(con: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .to_string()
}

/// Polls INFO until `field` reads `value` (a background job finished).
fn wait_field(con: &mut redis::Connection, field: &str, value: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    while info_field(con, field) != value {
        assert!(Instant::now() < until, "{field} never became {value}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn save_bgsave_lastsave_and_info() {
    let dir = scratch_dir("save");
    let server = tokenginx_with(Options::shards(2).data_dir(&dir));
    let mut con = redis_client(server.port);
    let started: i64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - started).abs() <= 60,
        "LASTSAVE {started} is the start time"
    );
    assert_eq!(info_field(&mut con, "aof_enabled"), "1");
    assert_eq!(info_field(&mut con, "loading"), "0");
    for i in 0..100 {
        let _: () = con.set(format!("k{i}"), i).unwrap();
    }
    assert_eq!(info_field(&mut con, "rdb_changes_since_last_save"), "100");
    let ok: String = redis::cmd("SAVE").query(&mut con).unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(info_field(&mut con, "rdb_changes_since_last_save"), "0");
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
    let saved: i64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
    assert!(saved >= started);
    // One snapshot per shard, named in the MANIFEST; the WAL before it is gone.
    let names = files(&dir);
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".snap")).count(),
        2,
        "{names:?}"
    );
    let manifest = std::fs::read_to_string(dir.join("MANIFEST")).unwrap();
    for n in names.iter().filter(|n| n.ends_with(".snap")) {
        assert!(manifest.contains(n.as_str()), "{manifest} names {n}");
    }
    let _: () = con.del("k0").unwrap();
    let reply: String = redis::cmd("BGSAVE").query(&mut con).unwrap();
    assert_eq!(reply, "Background saving started");
    wait_field(&mut con, "rdb_bgsave_in_progress", "0");
    let reply: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    assert!(
        reply == "Background append only file rewriting started"
            || reply == "Background append only file rewriting scheduled",
        "{reply}"
    );
    wait_field(&mut con, "aof_rewrite_in_progress", "0");
    wait_field(&mut con, "aof_rewrite_scheduled", "0");
    wait_field(&mut con, "rdb_bgsave_in_progress", "0");
    // SAVE, BGSAVE and BGREWRITEAOF (run at once or scheduled).
    assert_eq!(info_field(&mut con, "rdb_saves"), "3");
    assert_eq!(info_field(&mut con, "aof_rewrites"), "1");
    let err = redis::cmd("BGSAVE")
        .arg("NOW")
        .query::<String>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("syntax error"), "{err}");
    drop(server);

    // Snapshot plus WAL tail after a crash-free restart.
    let server = tokenginx_with(Options::shards(2).data_dir(&dir));
    let mut con = redis_client(server.port);
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 99);
    let v: Option<i64> = con.get("k0").unwrap();
    assert_eq!(v, None);
    let v: i64 = con.get("k99").unwrap();
    assert_eq!(v, 99);
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// appendfsync and save change at run time, as in Redis, and writes keep
/// working (and surviving a restart) across the switches.
#[test]
fn config_set_appendfsync_and_save() {
    let dir = scratch_dir("config-set");
    let server = tokenginx_with(Options::shards(2).data_dir(&dir));
    let mut con = redis_client(server.port);
    let get = |con: &mut redis::Connection, name: &str| -> String {
        let v: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(con)
            .unwrap();
        v[1].clone()
    };
    assert_eq!(get(&mut con, "appendfsync"), "everysec");
    assert_eq!(get(&mut con, "appendonly"), "yes");
    let mut n = 0;
    for policy in ["always", "no", "everysec", "always"] {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("appendfsync")
            .arg(policy)
            .query(&mut con)
            .unwrap();
        assert_eq!(get(&mut con, "appendfsync"), policy);
        assert_eq!(info_field(&mut con, "wal_appendfsync"), policy);
        for _ in 0..200 {
            n += 1;
            let _: () = con.set(format!("k{n}"), n).unwrap();
        }
    }
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendfsync")
        .arg("sometimes")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("argument(s) must be one of the following: always, everysec, no"),
        "{err}"
    );
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("save")
        .arg("100 5 10 1")
        .query(&mut con)
        .unwrap();
    assert_eq!(get(&mut con, "save"), "100 5 10 1");
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("save")
        .arg("100")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("Invalid save parameters"), "{err}");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("save")
        .arg("")
        .query(&mut con)
        .unwrap();
    assert_eq!(get(&mut con, "save"), "");
    drop(server);
    let server = tokenginx_with(Options::shards(2).data_dir(&dir));
    let mut con = redis_client(server.port);
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, n);
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn persistence_off_says_so() {
    let server = tokenginx_with(Options::shards(1).env("TOKENGINX_PERSIST_DIR", ""));
    let mut con = redis_client(server.port);
    assert_eq!(info_field(&mut con, "aof_enabled"), "0");
    for cmd in ["SAVE", "BGSAVE", "BGREWRITEAOF"] {
        let err = redis::cmd(cmd).query::<String>(&mut con).unwrap_err();
        assert!(
            err.to_string().contains("persistence is off"),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn commands_get_loading_until_the_data_is_in() {
    let dir = scratch_dir("loading");
    let server = tokenginx_with(Options::shards(1).data_dir(&dir));
    let mut con = redis_client(server.port);
    let value = "v".repeat(200);
    let mut pipe = redis::pipe();
    for i in 0..150_000 {
        pipe.set(format!("session:{i}"), &value).ignore();
        if i % 10_000 == 9_999 {
            pipe.query::<()>(&mut con).unwrap();
            pipe = redis::pipe();
        }
    }
    drop(server);

    let port = common::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenginx"))
        .args(["--port", &port.to_string(), "--shards", "1"])
        .env_clear()
        .env("TOKENGINX_PERSIST_DIR", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "never listened");
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut conn = common::Conn::connect(port);
    let mut loading_seen = 0;
    loop {
        let reply = conn.cmd(&["PING"]);
        if reply == b"+PONG\r\n" {
            break;
        }
        assert_eq!(
            common::show(&reply),
            common::show(b"-LOADING TokenginX is loading the dataset in memory\r\n")
        );
        loading_seen += 1;
        // INFO answers while loading, and says so.
        let info = String::from_utf8_lossy(&conn.cmd(&["INFO", "persistence"])).into_owned();
        assert!(info.contains("loading:"), "{info}");
        assert!(Instant::now() < until, "still loading after 30 s");
    }
    assert!(
        loading_seen > 0,
        "150k keys load in more than one round trip"
    );
    assert_eq!(conn.cmd(&["DBSIZE"]), b":150000\r\n");
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Pairs of keys on different shards always written together (MSET, which
/// is atomic across shards): a consistent backup holds equal values.
#[test]
fn backup_is_consistent_across_shards_and_restores() {
    const BACKUPS: usize = 4;
    const WRITERS: usize = 4;
    let dir = scratch_dir("backup-data");
    let dests: Vec<_> = (0..BACKUPS)
        .map(|_| {
            let d = scratch_dir("backup-dest");
            std::fs::remove_dir_all(&d).unwrap();
            d
        })
        .collect();
    let server = tokenginx_with(Options::shards(2).data_dir(&dir));
    let mut con = redis_client(server.port);
    for i in 0..500 {
        let _: () = con.set(format!("before:{i}"), i).unwrap();
    }
    let _: () = con.set_ex("ttl-key", "x", 1000).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // {a} and {b} hash to different shards of two; each writer has its pair.
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let stop = stop.clone();
            let port = server.port;
            std::thread::spawn(move || {
                let mut con = redis_client(port);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let _: () = redis::cmd("MSET")
                        .arg(format!("pair{w}:{{a}}"))
                        .arg(n)
                        .arg(format!("pair{w}:{{b}}"))
                        .arg(n)
                        .query(&mut con)
                        .unwrap();
                }
                n
            })
        })
        .collect();
    for dest in &dests {
        let reply: String = redis::cmd("BACKUP")
            .arg(dest.to_str().unwrap())
            .query(&mut con)
            .unwrap();
        assert_eq!(reply, "Background backup started");
        wait_field(&mut con, "backup_in_progress", "0");
        assert_eq!(info_field(&mut con, "backup_last_status"), "ok");
    }
    for i in 0..200 {
        let _: () = con.set(format!("after:{i}"), i).unwrap();
    }
    // The command line tool, incremental this time, into the first backup.
    let out = Command::new(env!("CARGO_BIN_EXE_tokenginx"))
        .args([
            "backup",
            "--port",
            &server.port.to_string(),
            "--incremental",
        ])
        .arg("--to")
        .arg(&dests[0])
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A full backup into a used directory is refused.
    let out = Command::new(env!("CARGO_BIN_EXE_tokenginx"))
        .args(["backup", "--port", &server.port.to_string(), "--to"])
        .arg(&dests[1])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    // Nor does an incremental one go into a directory that holds no backup:
    // nothing in it is touched.
    let other = scratch_dir("not-a-backup");
    std::fs::write(other.join("notes.txt"), "keep me").unwrap();
    let err = redis::cmd("BACKUP")
        .arg(other.to_str().unwrap())
        .arg("INCREMENTAL")
        .query::<String>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("holds no backup"), "{err}");
    assert_eq!(
        std::fs::read_to_string(other.join("notes.txt")).unwrap(),
        "keep me"
    );
    std::fs::remove_dir_all(&other).unwrap();
    stop.store(true, Ordering::Relaxed);
    let written: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    drop(server);

    for (b, dest) in dests.iter().enumerate() {
        let check = Command::new(env!("CARGO_BIN_EXE_tokenginx"))
            .arg("check-data")
            .arg(dest)
            .output()
            .unwrap();
        assert!(check.status.success());
        let restored = tokenginx_with(Options::shards(2).data_dir(dest));
        let mut con = redis_client(restored.port);
        for i in 0..500 {
            let v: i64 = con.get(format!("before:{i}")).unwrap();
            assert_eq!(v, i);
        }
        if b == 0 {
            for i in 0..200 {
                let v: i64 = con.get(format!("after:{i}")).unwrap();
                assert_eq!(v, i, "written before the incremental backup");
            }
        }
        let ttl: i64 = con.ttl("ttl-key").unwrap();
        assert!((1..=1000).contains(&ttl), "{ttl}");
        for (w, &n) in written.iter().enumerate() {
            let pair: Vec<Option<u64>> = redis::cmd("MGET")
                .arg(format!("pair{w}:{{a}}"))
                .arg(format!("pair{w}:{{b}}"))
                .query(&mut con)
                .unwrap();
            assert_eq!(
                pair[0], pair[1],
                "backup {b}: one consistent cut across shards"
            );
            assert!(pair[0].unwrap_or(0) <= n);
        }
        drop(restored);
        std::fs::remove_dir_all(dest).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A WAL that cannot be written (here: the file-size limit, EFBIG) makes
/// writes fail with Redis's -MISCONF instead of being acknowledged without
/// reaching the disk; reads go on, and INFO says so.
#[test]
fn writes_are_refused_while_the_wal_cannot_be_written() {
    use std::os::unix::process::CommandExt;
    let dir = scratch_dir("wal-efbig");
    let port = common::free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenginx"));
    cmd.args(["--port", &port.to_string(), "--shards", "1"])
        .env_clear()
        .env("TOKENGINX_PERSIST_DIR", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setrlimit only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 256 * 1024,
                rlim_max: 256 * 1024,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    /// Kills the server even when an assertion fails first.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _child = Killed(cmd.spawn().unwrap());
    let until = Instant::now() + Duration::from_secs(30);
    let mut conn = loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let mut c = common::Conn::connect(port);
            if c.cmd(&["PING"]) == b"+PONG\r\n" {
                break c;
            }
        }
        assert!(Instant::now() < until, "never answered PING");
        std::thread::sleep(Duration::from_millis(5));
    };
    let value = "v".repeat(1000);
    let mut refused = None;
    for i in 0..2000 {
        let reply = conn.cmd(&["SET", &format!("k{i}"), &value]);
        if reply != b"+OK\r\n" {
            refused = Some((i, reply));
            break;
        }
    }
    let (i, reply) = refused.expect("the 256 KiB limit is reached within 2 MB of writes");
    assert!(i > 10, "some writes fit under the limit");
    assert_eq!(
        common::show(&reply),
        common::show(b"-MISCONF Errors writing to the AOF file: File too large\r\n")
    );
    // Reads still work; PING reports the error, as Redis's does.
    assert_eq!(conn.cmd(&["EXISTS", "k0"]), b":1\r\n");
    assert!(conn.cmd(&["PING"]).starts_with(b"-MISCONF"));
    let info = String::from_utf8_lossy(&conn.cmd(&["INFO", "persistence"])).into_owned();
    assert!(info.contains("aof_last_write_status:err"), "{info}");
    drop(_child);
    std::fs::remove_dir_all(&dir).unwrap();
}
