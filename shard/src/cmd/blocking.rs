//! The data side of the blocking list commands. Here they never block:
//! BLPOP and BRPOP pop from the first non-empty list among their keys or
//! answer the null array, which is also what they do inside MULTI. Waiting
//! for data is the connection's business (net/src/blocking.rs), which runs
//! these again whenever a key it waits on receives data.

use crate::cmd::typed;
use crate::exec::Ctx;
use crate::signals::class;
use crate::value::ListValue;
use bytes::Bytes;
use proto::{Reply, ShardCmd};

/// A blocking command's timeout in milliseconds (0: wait forever), parsed
/// like Redis's `getTimeoutFromObjectOrReply`: seconds, fractions allowed.
pub fn timeout_ms(arg: &[u8]) -> Result<u64, Reply> {
    let seconds = std::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.is_empty() && !s.starts_with(char::is_whitespace))
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|v| !v.is_nan())
        .ok_or_else(|| Reply::error("ERR timeout is not a float or out of range"))?;
    // Redis truncates to whole milliseconds (so 0.0001 waits forever), and
    // on x86 a product beyond the i64 range converts to i64::MIN: negative.
    let ms = seconds * 1000.0;
    if ms < 0.0 || ms >= i64::MAX as f64 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    let ms = ms as u64;
    // Redis adds the time now and refuses a sum past i64::MAX.
    if ms > (i64::MAX as u64).saturating_sub(4_102_444_800_000) {
        return Err(Reply::error("ERR timeout is out of range"));
    }
    Ok(ms)
}

/// A blocking call's timeout, after the checks Redis makes before it
/// (BLMOVE's directions), so that a call with several faults gets Redis's
/// error before the client is made to wait.
pub fn checked_timeout(cmd: ShardCmd, args: &[Bytes]) -> Result<u64, Reply> {
    if cmd == ShardCmd::Blmove {
        crate::cmd::listmove::directions(args)?;
    }
    timeout_ms(&args[args.len() - 1])
}

/// `BLPOP key [key ...] timeout`, never blocking.
pub fn blpop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    pop_first(ctx, args, true)
}

/// `BRPOP key [key ...] timeout`, never blocking.
pub fn brpop(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    pop_first(ctx, args, false)
}

/// BLPOP (`head`) or BRPOP run again for a client blocked in it. A key
/// that came to hold another type meanwhile is passed over: Redis 7.0
/// serves a blocked client from the list that received data and never
/// answers it WRONGTYPE once it waits.
pub fn retry(ctx: &mut Ctx, args: &[Bytes], head: bool) -> Reply {
    pop(ctx, args, head, true)
}

fn pop_first(ctx: &mut Ctx, args: &[Bytes], head: bool) -> Reply {
    pop(ctx, args, head, false)
}

fn pop(ctx: &mut Ctx, args: &[Bytes], head: bool, skip_other_types: bool) -> Reply {
    if let Err(e) = timeout_ms(&args[args.len() - 1]) {
        return e;
    }
    let now = ctx.now;
    for key in &args[1..args.len() - 1] {
        let list = match typed::existing::<ListValue>(ctx.db(), key, now) {
            Ok(Some(list)) => list,
            Ok(None) => continue,
            Err(_) if skip_other_types => continue,
            Err(e) => return e,
        };
        let element = if head {
            list.pop_front()
        } else {
            list.pop_back()
        };
        let Some(element) = element else { continue };
        let emptied = list.is_empty();
        ctx.signal(class::LIST, if head { "lpop" } else { "rpop" }, key);
        if emptied {
            ctx.db().remove(key, now);
            ctx.signal(class::GENERIC, "del", key);
        }
        return Reply::Array(vec![
            Reply::Bulk(key.clone()),
            Reply::bulk(Bytes::from(element.into_vec())),
        ]);
    }
    Reply::NilArray
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::*;
    use proto::errors;

    #[test]
    fn pops_from_the_first_non_empty_list_in_key_order() {
        let mut shard = crate::Shard::new(0, 1);
        run(&mut shard, 0, &["RPUSH", "b", "1", "2"]);
        run(&mut shard, 0, &["RPUSH", "c", "3"]);
        assert_eq!(
            run(&mut shard, 0, &["BLPOP", "a", "b", "c", "0"]),
            Reply::Array(vec![bulk("b"), bulk("1")])
        );
        assert_eq!(
            run(&mut shard, 0, &["BRPOP", "a", "c", "b", "0"]),
            Reply::Array(vec![bulk("c"), bulk("3")])
        );
        assert_eq!(
            run(&mut shard, 0, &["EXISTS", "c"]),
            int(0),
            "emptied lists go"
        );
        assert_eq!(
            run(&mut shard, 0, &["BLPOP", "a", "c", "1.5"]),
            Reply::NilArray
        );
        run(&mut shard, 0, &["SET", "s", "x"]);
        assert_eq!(
            run(&mut shard, 0, &["BLPOP", "a", "s", "b", "0"]),
            err(errors::WRONGTYPE)
        );
    }

    #[test]
    fn a_retry_passes_over_keys_of_another_type() {
        let mut shard = crate::Shard::new(0, 1);
        run(&mut shard, 0, &["SET", "s", "x"]);
        run(&mut shard, 0, &["RPUSH", "l", "1"]);
        let args: Vec<Bytes> = ["BLPOP", "s", "l", "0"]
            .iter()
            .map(|a| Bytes::from_static(a.as_bytes()))
            .collect();
        let ctx = &mut Ctx {
            shard: &mut shard,
            db: 0,
            now: 0,
        };
        assert_eq!(
            retry(ctx, &args, true),
            Reply::Array(vec![bulk("l"), bulk("1")])
        );
        assert_eq!(retry(ctx, &args, false), Reply::NilArray);
    }

    #[test]
    fn timeouts_parse_like_redis() {
        assert_eq!(timeout_ms(b"0"), Ok(0));
        assert_eq!(timeout_ms(b"0.1"), Ok(100));
        assert_eq!(timeout_ms(b"2"), Ok(2000));
        assert!(timeout_ms(b"-1").is_err());
        assert!(timeout_ms(b"x").is_err());
        assert!(timeout_ms(b"").is_err());
        assert_eq!(timeout_ms(b"0.0001"), Ok(0), "truncated: waits forever");
        assert_eq!(
            timeout_ms(b"1e300"),
            Err(Reply::error("ERR timeout is negative"))
        );
    }
}
