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
                lp.start_round_in_background();
                done(Reply::simple(
                    "Background append only file rewriting started",
                ))
            } else {
                ps.scheduled.store(true, Ordering::Release);
                done(Reply::simple(
                    "Background append only file rewriting scheduled",
                ))
            }
        }
    }
}
