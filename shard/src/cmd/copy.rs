//! `COPY source destination [DB destination-db] [REPLACE]`, as Redis 7.0's
//! `copyCommand`: the value and its TTL are duplicated, possibly into
//! another database; an existing destination is kept unless REPLACE.
//!
//! Both keys live on the shard that runs the executor; across shards the
//! network layer runs this same executor on a scratch shard holding them.

use crate::exec::Ctx;
use crate::shard::DATABASES;
use crate::signals::class;
use crate::value::Value;
use bytes::Bytes;
use proto::errors;
use proto::Reply;

const SAME_OBJECT: &str = "ERR source and destination objects are the same";
/// Redis reads the database index as a C int.
const NOT_AN_INT: &str = "ERR value is out of range, value must between -2147483648 and 2147483647";

/// COPY's options: the destination database (the selected one by default)
/// and REPLACE, with Redis's errors. The network layer reads the database
/// here too, to know where the destination lives.
pub fn copy_options(args: &[Bytes], db: usize) -> Result<(usize, bool), Reply> {
    let (mut target, mut replace) = (db, false);
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        if opt.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if opt.eq_ignore_ascii_case(b"db") && i + 1 < args.len() {
            let n =
                proto::parse_int(&args[i + 1]).ok_or_else(|| Reply::error(errors::NOT_INTEGER))?;
            if i32::try_from(n).is_err() {
                return Err(Reply::error(NOT_AN_INT));
            }
            if !(0..DATABASES as i64).contains(&n) {
                return Err(Reply::error(errors::DB_OUT_OF_RANGE));
            }
            target = n as usize;
            i += 1;
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
        i += 1;
    }
    Ok((target, replace))
}

/// `COPY source destination [DB destination-db] [REPLACE]`: 1 if copied,
/// 0 if the source is missing or the destination exists (without REPLACE).
pub fn copy(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (target, replace) = match copy_options(args, ctx.db) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let (src, dst) = (&args[1], &args[2]);
    if target == ctx.db && src == dst {
        return Reply::error(SAME_OBJECT);
    }
    let now = ctx.now;
    let Some(entry) = ctx.db().get_read(src, now).map(|e| e.clone()) else {
        return Reply::Integer(0);
    };
    let is_list = matches!(entry.value, Value::List(_));
    let dst_db = ctx.shard.db(target);
    if dst_db.contains(dst, now) && !replace {
        return Reply::Integer(0);
    }
    dst_db.insert(dst, entry, now);
    // Redis deletes a replaced destination first, so the copy is always
    // a new key: `new`, then `copy_to`, in the destination's database.
    let selected = std::mem::replace(&mut ctx.db, target);
    ctx.notify(class::NEW, "new", dst);
    ctx.signal(class::GENERIC, "copy_to", dst);
    if is_list {
        ctx.shard.signals.key_ready(target, dst);
    }
    ctx.db = selected;
    Reply::Integer(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::*;
    use crate::shard::Shard;

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn copies_value_and_ttl_independently() {
        let mut s = Shard::new(0, 1);
        run(&mut s, T0, &["sadd", "s", "a", "b"]);
        s.db(0).set_expiry(b"s", T0 + 5_000, T0);
        assert_eq!(run(&mut s, T0, &["copy", "s", "t"]), int(1));
        assert_eq!(run(&mut s, T0, &["pttl", "t"]), int(5_000));
        run(&mut s, T0, &["sadd", "t", "c"]);
        assert_eq!(run(&mut s, T0, &["scard", "s"]), int(2), "a deep copy");
        assert_eq!(run(&mut s, T0, &["copy", "s", "t"]), int(0), "exists");
        assert_eq!(run(&mut s, T0, &["copy", "s", "t", "replace"]), int(1));
        assert_eq!(run(&mut s, T0, &["scard", "t"]), int(2));
        assert_eq!(run(&mut s, T0, &["copy", "nope", "t", "replace"]), int(0));
        assert_eq!(run(&mut s, T0, &["copy", "s", "s"]), err(SAME_OBJECT));
    }

    #[test]
    fn copies_across_databases() {
        let mut s = Shard::new(0, 1);
        s.signals.notify = class::ALL | class::KEYEVENT;
        run(&mut s, T0, &["rpush", "l", "x"]);
        s.signals.events.clear();
        assert_eq!(run(&mut s, T0, &["copy", "l", "l", "db", "3"]), int(1));
        assert_eq!(
            run_db(&mut s, 3, T0, &["lrange", "l", "0", "-1"]),
            Reply::Array(vec![bulk("x")])
        );
        assert_eq!(
            (s.signals.events[0].db, s.signals.events[0].event),
            (3, "copy_to")
        );
        assert_eq!(run(&mut s, T0, &["copy", "l", "l", "DB", "3"]), int(0));
        assert_eq!(
            run_db(&mut s, 3, T0, &["copy", "l", "m", "db", "3"]),
            int(1)
        );
    }

    #[test]
    fn option_errors() {
        let mut s = Shard::new(0, 1);
        run(&mut s, T0, &["set", "k", "v"]);
        for (args, e) in [
            (&["copy", "k", "t", "db"][..], errors::SYNTAX),
            (&["copy", "k", "t", "db", "x"], errors::NOT_INTEGER),
            (&["copy", "k", "t", "db", "4294967296"], NOT_AN_INT),
            (
                &["copy", "k", "t", "db", "99999999999999999999"],
                errors::NOT_INTEGER,
            ),
            (&["copy", "k", "t", "db", "16"], errors::DB_OUT_OF_RANGE),
            (&["copy", "k", "t", "db", "-1"], errors::DB_OUT_OF_RANGE),
            (&["copy", "k", "t", "nx"], errors::SYNTAX),
            (&["copy", "nope", "t", "bogus"], errors::SYNTAX),
        ] {
            assert_eq!(run(&mut s, T0, args), err(e), "{args:?}");
        }
        assert_eq!(run(&mut s, T0, &["exists", "t"]), int(0));
    }
}
