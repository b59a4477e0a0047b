//! Helpers for executor tests: run a command the way a connection does
//! (table lookup, arity check, then the executor) and build replies.

use crate::exec::{execute, Ctx};
use crate::shard::Shard;
use bytes::Bytes;
use proto::{errors, CommandId, Reply};

/// Runs one command in database `db` at time `now` (Unix ms).
pub fn run_in(shard: &mut Shard, db: usize, now: u64, args: &[&[u8]]) -> Reply {
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let spec = proto::lookup(&args[0]).expect("known command");
    if !spec.arity_ok(args.len()) {
        return Reply::error(errors::wrong_arity(spec.name));
    }
    let CommandId::Shard(cmd) = spec.id else {
        panic!("not a shard command")
    };
    execute(&mut Ctx { shard, db, now }, cmd, &args)
}

/// Runs one command in database `db`, arguments as text.
pub fn run_db(shard: &mut Shard, db: usize, now: u64, args: &[&str]) -> Reply {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    run_in(shard, db, now, &args)
}

/// Runs one command in database 0.
pub fn run(shard: &mut Shard, now: u64, args: &[&str]) -> Reply {
    run_db(shard, 0, now, args)
}

pub fn bulk(s: &str) -> Reply {
    Reply::bulk_from(s.as_bytes())
}

pub fn err(text: &str) -> Reply {
    Reply::error(text.to_string())
}

pub fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

/// The sorted members of an array or set reply (set order is not data).
pub fn members(reply: &Reply) -> Vec<String> {
    let items = match reply {
        Reply::Array(a) | Reply::Set(a) => a,
        other => panic!("not an array or set: {other:?}"),
    };
    let mut out: Vec<String> = items
        .iter()
        .map(|r| match r {
            Reply::Bulk(b) => String::from_utf8(b.to_vec()).expect("utf-8 member"),
            other => panic!("not a bulk: {other:?}"),
        })
        .collect();
    out.sort();
    out
}
