//! `OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key`, `OBJECT HELP`.
//!
//! TokenginX stores values its own way; ENCODING reports what Redis 7.0
//! would report for a value of the same content with default settings, so
//! that tools which inspect encodings see familiar names.

use crate::evict::idle_ms;
use crate::exec::Ctx;
use crate::value::Value;
use bytes::Bytes;
use proto::{errors, Reply};

const NO_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const LFU_ON: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// Redis's `OBJ_SHARED_REFCOUNT`: what shared small integers report.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis shares the integers 0..OBJ_SHARED_INTEGERS.
const SHARED_INTEGERS: i64 = 10_000;
/// Defaults of Redis 7.0's `*-max-listpack-*` / `set-max-intset-entries`.
const LISTPACK_ENTRIES: usize = 128;
const LISTPACK_VALUE: usize = 64;
const INTSET_ENTRIES: usize = 512;
/// Strings up to this length are embedded in their object header.
const EMBSTR_MAX: usize = 44;

const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// A value Redis would store as an integer: what `string2ll` accepts, in
/// canonical form (no sign for zero, no leading zeros or '+').
fn as_integer(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let v: i64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (v.to_string().as_bytes() == s).then_some(v)
}

fn encoding(value: &Value) -> &'static str {
    let small = |len: usize, mut items: Box<dyn Iterator<Item = usize> + '_>| {
        len <= LISTPACK_ENTRIES && items.all(|l| l <= LISTPACK_VALUE)
    };
    match value {
        Value::Str(s) if as_integer(s).is_some() => "int",
        Value::Str(s) if s.len() <= EMBSTR_MAX => "embstr",
        Value::Str(_) => "raw",
        Value::Hash(h)
            if small(
                h.len(),
                Box::new(h.iter().flat_map(|(k, v)| [k.len(), v.len()])),
            ) =>
        {
            "listpack"
        }
        Value::Hash(_) => "hashtable",
        Value::Set(s) if s.len() <= INTSET_ENTRIES && s.iter().all(|m| as_integer(m).is_some()) => {
            "intset"
        }
        Value::Set(_) => "hashtable",
        Value::ZSet(z) if small(z.len(), Box::new(z.iter().map(|(m, _)| m.len()))) => "listpack",
        Value::ZSet(_) => "skiplist",
        // Redis 7.0 stores every list as a quicklist.
        Value::List(_) => "quicklist",
    }
}

pub fn object(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let sub = args[1].to_ascii_lowercase();
    let known = matches!(&sub[..], b"encoding" | b"freq" | b"idletime" | b"refcount");
    match (&sub[..], args.len()) {
        (b"help", 2) => {
            return Reply::Array(HELP.iter().map(|l| Reply::simple(*l)).collect());
        }
        (b"help", _) => return Reply::error(errors::wrong_arity("object|help")),
        (_, 3) if known => {}
        _ if known => {
            return Reply::error(errors::wrong_arity(&format!(
                "object|{}",
                String::from_utf8_lossy(&sub)
            )))
        }
        _ => return Reply::error(errors::unknown_subcommand(&args[1], "OBJECT")),
    }
    let (now, lfu) = (ctx.now, ctx.shard.policy().is_lfu());
    let db = ctx.db();
    let hash = db.hash(&args[2]);
    let Some(node) = db.peek(&args[2], now) else {
        return Reply::Nil;
    };
    match &sub[..] {
        b"encoding" => Reply::bulk_from(encoding(&node.entry.value).as_bytes()),
        b"refcount" => match &node.entry.value {
            Value::Str(s) if as_integer(s).is_some_and(|v| (0..SHARED_INTEGERS).contains(&v)) => {
                Reply::Integer(SHARED_REFCOUNT)
            }
            _ => Reply::Integer(1),
        },
        b"idletime" if lfu => Reply::error(LFU_ON),
        b"idletime" => Reply::Integer((idle_ms(node.key.stamp(), now) / 1000) as i64),
        b"freq" if !lfu => Reply::error(NO_LFU),
        // The sketch's estimate of recent uses (0..=16), where Redis has
        // its logarithmic 8-bit counter.
        _ => Reply::Integer(db.lfu.as_ref().map_or(0, |l| l.freq.estimate(hash) as i64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing::{bulk, err, int, run};
    use crate::evict::Policy;
    use crate::Shard;

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn encodings_as_redis_reports_them() {
        let s = &mut Shard::new(0, 1);
        let long = "x".repeat(45);
        let wide = "y".repeat(65);
        let cases: &[(&[&str], &str)] = &[
            (&["set", "k", "123"], "int"),
            (&["set", "k", "-5"], "int"),
            (&["set", "k", "+1"], "embstr"),
            (&["set", "k", "12345678901234567890"], "embstr"),
            (&["set", "k", "hello"], "embstr"),
            (&["set", "k", &long], "raw"),
            (&["hset", "h", "f", "v"], "listpack"),
            (&["hset", "h", "g", &wide], "hashtable"),
            (&["sadd", "s", "1", "2"], "intset"),
            (&["sadd", "s", "a"], "hashtable"),
            (&["zadd", "z", "1", "a"], "listpack"),
            (&["zadd", "z", "2", &wide], "skiplist"),
            (&["rpush", "l", "a"], "quicklist"),
        ];
        for (cmd, want) in cases {
            run(s, NOW, cmd);
            assert_eq!(
                run(s, NOW, &["object", "encoding", cmd[1]]),
                bulk(want),
                "{cmd:?}"
            );
        }
    }

    #[test]
    fn refcount_idletime_freq_and_errors() {
        let s = &mut Shard::new(0, 1);
        run(s, NOW, &["set", "n", "42"]);
        run(s, NOW, &["set", "big", "10000"]);
        assert_eq!(
            run(s, NOW, &["object", "refcount", "n"]),
            int(SHARED_REFCOUNT)
        );
        assert_eq!(run(s, NOW, &["object", "refcount", "big"]), int(1));
        assert_eq!(run(s, NOW, &["object", "refcount", "nokey"]), Reply::Nil);
        assert_eq!(run(s, NOW + 7_500, &["object", "idletime", "n"]), int(7));
        // OBJECT itself does not count as an access; TOUCH and reads do.
        assert_eq!(run(s, NOW + 7_500, &["object", "idletime", "n"]), int(7));
        run(s, NOW + 5_000, &["touch", "n"]);
        assert_eq!(run(s, NOW + 7_500, &["object", "idletime", "n"]), int(2));
        assert_eq!(run(s, NOW, &["object", "freq", "n"]), err(NO_LFU));
        s.set_memory_limit(0, Policy::AllkeysLfu);
        assert_eq!(run(s, NOW, &["object", "idletime", "n"]), err(LFU_ON));
        for _ in 0..3 {
            run(s, NOW, &["get", "n"]);
        }
        assert_eq!(run(s, NOW, &["object", "freq", "n"]), int(3));
        assert_eq!(
            run(s, NOW, &["object", "encoding"]),
            err("ERR wrong number of arguments for 'object|encoding' command")
        );
        assert_eq!(
            run(s, NOW, &["object", "foo", "n"]),
            err("ERR unknown subcommand 'foo'. Try OBJECT HELP.")
        );
        assert!(
            matches!(run(s, NOW, &["object", "help"]), Reply::Array(l) if l.len() == HELP.len())
        );
    }
}
