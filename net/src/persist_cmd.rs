//! SAVE, BGSAVE, BGREWRITEAOF and LASTSAVE, with Redis's replies. Each
//! starts (or reports on) a snapshot round (snapshots.rs); BGREWRITEAOF
//! compacts the WAL the same way, since a snapshot lets the log before it go.

use crate::event_loop::EventLoop;
use crate::gather::{done, Combine, Plan};
use crate::ops::ShardOp;
use crate::snapshots::PERSISTENCE_OFF;
use bytes::Bytes;
use proto::{errors, ConnCmd, Reply};
use std::sync::atomic::Ordering;

pub fn run(lp: &mut EventLoop, cmd: ConnCmd, args: &[Bytes]) -> Plan {
    let ps = &lp.shared.persist;
    if cmd == ConnCmd::Lastsave {
        return done(Reply::Integer(
            (ps.last_save_ms.load(Ordering::Acquire) / 1000) as i64,
        ));
    }
    if lp.shared.config.persist.is_none() {
        return done(Reply::error(PERSISTENCE_OFF));
    }
    match cmd {
        ConnCmd::Backup => backup(lp, args),
        ConnCmd::Save => {
            if !lp.begin_round() {
                return done(Reply::error("ERR Background save already in progress"));
            }
            // Answered by every shard once its snapshot is committed.
            Plan::all(
                lp.shard.count,
                || ShardOp::Snapshot { answer: true },
                Combine::AllOk,
            )
        }
        ConnCmd::Bgsave => {
            let schedule = match args.get(1) {
                None => false,
                Some(a) if args.len() == 2 && a.eq_ignore_ascii_case(b"schedule") => true,
                Some(_) => return done(Reply::error(errors::SYNTAX)),
            };
            if lp.begin_round() {
                lp.start_round_in_background();
                done(Reply::simple("Background saving started"))
            } else if schedule {
                ps.scheduled.store(true, Ordering::Release);
                done(Reply::simple("Background saving scheduled"))
            } else {
                done(Reply::error("ERR Background save already in progress"))
            }
        }
        _ => {
            if lp.begin_round() {
                ps.round_is_rewrite.store(true, Ordering::Release);
                lp.start_round_in_background();
                done(Reply::simple(
                    "Background append only file rewriting started",
                ))
            } else {
                ps.scheduled_rewrite.store(true, Ordering::Release);
                ps.scheduled.store(true, Ordering::Release);
                done(Reply::simple(
                    "Background append only file rewriting scheduled",
                ))
            }
        }
    }
}

/// BACKUP <dir> [INCREMENTAL]: holds every shard for the cut, then copies
/// in the background (backup.rs); INFO persistence tells when it is done.
fn backup(lp: &mut EventLoop, args: &[Bytes]) -> Plan {
    let incremental = match args.get(2) {
        None => false,
        Some(a) if args.len() == 3 && a.eq_ignore_ascii_case(b"incremental") => true,
        Some(_) => return done(Reply::error(errors::SYNTAX)),
    };
    let Ok(dest) = std::str::from_utf8(&args[1]) else {
        return done(Reply::error(
            "ERR the backup directory must be a UTF-8 path",
        ));
    };
    if dest.is_empty() {
        return done(Reply::error("ERR the backup directory must not be empty"));
    }
    let dest = std::path::PathBuf::from(dest);
    let data = lp.shared.config.persist.as_ref().map(|p| p.dir.clone());
    let same = |a: &std::path::Path, b: &std::path::Path| matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y);
    if data.is_some_and(|d| same(&d, &dest)) {
        return done(Reply::error(
            "ERR the backup directory is the data directory",
        ));
    }
    let non_empty = std::fs::read_dir(&dest).is_ok_and(|mut d| d.next().is_some());
    if !incremental && non_empty {
        return done(Reply::error(
            "ERR the backup directory is not empty: back up into a new one, or add INCREMENTAL",
        ));
    }
    if incremental && non_empty && !dest.join(crate::backup::BACKUP_FILE).is_file() {
        return done(Reply::error(
            "ERR the backup directory holds no backup to add to",
        ));
    }
    let ps = &lp.shared.persist;
    if ps
        .saving
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return done(Reply::error("ERR Background save already in progress"));
    }
    ps.backup_in_progress.store(true, Ordering::Release);
    let shards = lp.shard.count;
    Plan {
        parts: (0..shards).map(|s| (s, ShardOp::BackupCut)).collect(),
        combine: Combine::Backup(Box::new(crate::backup::BackupRequest {
            dest,
            incremental,
            shared: lp.shared.clone(),
        })),
        barrier: false,
        hold: (0..shards).collect(),
    }
}
