//! CONFIG GET / SET / RESETSTAT.
//!
//! Every shard keeps its own copy of the settings that can change at run
//! time ([`Runtime`]); CONFIG SET validates on the shard that received it
//! and then sends the change to every shard, so no shard ever reads a
//! setting another thread is writing.

use crate::event_loop::EventLoop;
use crate::gather::{done, Combine, Plan};
use crate::ops::ShardOp;
use bytes::Bytes;
use proto::{errors, Reply};
use shard::evict::Policy;

/// Settings CONFIG SET may change, one copy per shard.
#[derive(Clone, Debug)]
pub struct Runtime {
    pub timeout_secs: u64,
    pub hz: u32,
    pub maxclients: usize,
    pub requirepass: Option<String>,
    /// Keyspace notification classes, as Redis's `notify-keyspace-events` flags.
    pub notify_keyspace_events: u32,
    pub maxmemory: u64,
    pub maxmemory_policy: Policy,
    pub appendfsync: crate::AppendFsync,
    /// Redis's `save` rules, (seconds, changes).
    pub save: Vec<(u64, u64)>,
}

impl Runtime {
    pub fn new(config: &crate::ServerConfig) -> Runtime {
        Runtime {
            timeout_secs: config.idle_timeout.as_secs(),
            hz: config.hz.clamp(1, 500),
            maxclients: config.maxclients,
            requirepass: config.requirepass.clone(),
            notify_keyspace_events: config.notify_keyspace_events,
            maxmemory: config.maxmemory,
            maxmemory_policy: config.maxmemory_policy,
            appendfsync: config
                .persist
                .as_ref()
                .map_or(crate::AppendFsync::EverySec, |p| p.appendfsync),
            save: config
                .persist
                .as_ref()
                .map(|p| p.save.clone())
                .unwrap_or_default(),
        }
    }

    /// Applies a change already checked by [`validate`].
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::Timeout(v) => self.timeout_secs = *v,
            Change::Hz(v) => self.hz = *v,
            Change::Maxclients(v) => self.maxclients = *v,
            Change::Requirepass(v) => self.requirepass = v.clone(),
            Change::NotifyKeyspaceEvents(v) => self.notify_keyspace_events = *v,
            Change::Maxmemory(v) => self.maxmemory = *v,
            Change::MaxmemoryPolicy(v) => self.maxmemory_policy = *v,
            Change::Appendfsync(v) => self.appendfsync = *v,
            Change::Save(v) => self.save = v.clone(),
        }
    }

    /// This shard's share of `maxmemory`.
    pub fn maxmemory_share(&self, shards: usize) -> usize {
        if self.maxmemory == 0 {
            return 0;
        }
        // Never 0, which would mean no limit at all.
        let share = (self.maxmemory / shards.max(1) as u64).max(1);
        usize::try_from(share).unwrap_or(usize::MAX)
    }
}

/// One validated CONFIG SET change.
#[derive(Clone, Debug)]
pub enum Change {
    Timeout(u64),
    Hz(u32),
    Maxclients(usize),
    Requirepass(Option<String>),
    NotifyKeyspaceEvents(u32),
    Maxmemory(u64),
    MaxmemoryPolicy(Policy),
    Appendfsync(crate::AppendFsync),
    Save(Vec<(u64, u64)>),
}

/// Settings that exist but cannot change while running.
const IMMUTABLE: &[&str] = &[
    "bind",
    "port",
    "databases",
    "tcp-keepalive",
    "tcp-backlog",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "client-output-buffer-limit",
    "appendonly",
    "dir",
];

use shard::class::*;

/// Parses `notify-keyspace-events` classes like Redis's `keyspaceEventsStringToFlags`.
pub fn parse_notify_flags(classes: &[u8]) -> Option<u32> {
    let mut flags = 0;
    for c in classes {
        flags |= match c {
            b'A' => ALL,
            b'g' => GENERIC,
            b'$' => STRING,
            b'l' => LIST,
            b's' => SET,
            b'h' => HASH,
            b'z' => ZSET,
            b'x' => EXPIRED,
            b'e' => EVICTED,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b't' => STREAM,
            b'm' => KEY_MISS,
            b'd' => MODULE,
            b'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// Prints flags in Redis's canonical order (`KEA` reads back as `AKE`).
pub fn notify_flags_to_string(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [
        (KEYSPACE, 'K'),
        (KEYEVENT, 'E'),
        (KEY_MISS, 'm'),
        (NEW, 'n'),
    ] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

pub fn run(lp: &mut EventLoop, args: &[Bytes]) -> Plan {
    let sub = args[1].to_ascii_lowercase();
    match &sub[..] {
        b"get" if args.len() >= 3 => done(get(lp, &args[2..])),
        b"set" if args.len() >= 4 && args.len().is_multiple_of(2) => set(lp, &args[2..]),
        b"resetstat" if args.len() == 2 => {
            Plan::all(lp.shard.count, || ShardOp::ResetStats, Combine::AllOk)
        }
        b"get" | b"set" | b"resetstat" => done(Reply::error(errors::wrong_arity(&format!(
            "config|{}",
            String::from_utf8_lossy(&sub)
        )))),
        b"help" => done(Reply::Array(
            [
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Reply::simple(*l))
            .collect(),
        )),
        _ => done(Reply::error(errors::unknown_subcommand(&args[1], "config"))),
    }
}

/// The settings CONFIG GET reports, with Redis's names.
fn values(lp: &EventLoop) -> Vec<(&'static str, String)> {
    let c = &lp.shared.config;
    let r = &lp.runtime;
    vec![
        ("bind", c.bind.to_string()),
        ("port", lp.shared.port.to_string()),
        ("databases", shard::DATABASES.to_string()),
        ("maxclients", r.maxclients.to_string()),
        ("timeout", r.timeout_secs.to_string()),
        ("hz", r.hz.to_string()),
        ("tcp-keepalive", c.tcp_keepalive.to_string()),
        ("tcp-backlog", c.backlog.to_string()),
        ("proto-max-bulk-len", c.max_bulk_len.to_string()),
        (
            "client-query-buffer-limit",
            c.query_buffer_limit.to_string(),
        ),
        (
            "client-output-buffer-limit",
            format!(
                "normal {} {} {} replica 268435456 67108864 60 pubsub {} {} {}",
                c.output_limit_normal.hard,
                c.output_limit_normal.soft,
                c.output_limit_normal.soft_seconds,
                c.output_limit_pubsub.hard,
                c.output_limit_pubsub.soft,
                c.output_limit_pubsub.soft_seconds
            ),
        ),
        ("requirepass", r.requirepass.clone().unwrap_or_default()),
        ("maxmemory", r.maxmemory.to_string()),
        ("maxmemory-policy", r.maxmemory_policy.name().into()),
        (
            "appendonly",
            if c.persist.is_some() { "yes" } else { "no" }.into(),
        ),
        ("appendfsync", r.appendfsync.name().into()),
        (
            "save",
            r.save
                .iter()
                .map(|(secs, changes)| format!("{secs} {changes}"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        (
            "dir",
            c.persist
                .as_ref()
                .and_then(|p| std::fs::canonicalize(&p.dir).ok())
                .or_else(|| std::env::current_dir().ok())
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        ),
        (
            "notify-keyspace-events",
            notify_flags_to_string(r.notify_keyspace_events),
        ),
    ]
}

fn get(lp: &EventLoop, patterns: &[Bytes]) -> Reply {
    let mut out = Vec::new();
    for (name, value) in values(lp) {
        if patterns
            .iter()
            .any(|p| shard::cmd::glob::matches(&p.to_ascii_lowercase(), name.as_bytes()))
        {
            out.push((Reply::bulk(name), Reply::bulk(value)));
        }
    }
    Reply::Map(out)
}

fn failed(name: &str, why: &str) -> Reply {
    Reply::error(format!(
        "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ))
}

fn int_in(name: &str, value: &[u8], min: i64, max: i64) -> Result<i64, Reply> {
    let v = proto::parse_int(value)
        .ok_or_else(|| failed(name, "argument couldn't be parsed into an integer"))?;
    if v < min || v > max {
        return Err(failed(
            name,
            &format!("argument must be between {min} and {max} inclusive"),
        ));
    }
    Ok(v)
}

/// Checks one `name value` pair; the error is the reply to send.
pub fn validate(name: &str, value: &[u8]) -> Result<Change, Reply> {
    Ok(match name {
        "timeout" => Change::Timeout(int_in(name, value, 0, i32::MAX as i64)? as u64),
        // Redis clamps hz rather than refusing it.
        "hz" => {
            Change::Hz(int_in(name, value, i32::MIN as i64, i32::MAX as i64)?.clamp(1, 500) as u32)
        }
        "maxclients" => Change::Maxclients(int_in(name, value, 1, u32::MAX as i64)? as usize),
        "requirepass" => {
            let text = String::from_utf8(value.to_vec())
                .map_err(|_| failed(name, "password must be UTF-8"))?;
            Change::Requirepass((!text.is_empty()).then_some(text))
        }
        "notify-keyspace-events" => {
            Change::NotifyKeyspaceEvents(parse_notify_flags(value).ok_or_else(|| {
                failed(
                    name,
                    "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.",
                )
            })?)
        }
        "maxmemory" => Change::Maxmemory(
            std::str::from_utf8(value)
                .ok()
                .filter(|v| {
                    !v.starts_with(char::is_whitespace) && !v.ends_with(char::is_whitespace)
                })
                .and_then(proto::size::parse_size)
                .filter(|&v| v <= i64::MAX as u64)
                .ok_or_else(|| failed(name, "argument must be a memory value"))?,
        ),
        "maxmemory-policy" => Change::MaxmemoryPolicy(
            std::str::from_utf8(value)
                .ok()
                .and_then(Policy::parse)
                .ok_or_else(|| failed(name, &policy_choices()))?,
        ),
        "appendfsync" => Change::Appendfsync(
            std::str::from_utf8(value)
                .ok()
                .and_then(crate::AppendFsync::parse)
                .ok_or_else(|| {
                    failed(
                        name,
                        "argument(s) must be one of the following: always, everysec, no",
                    )
                })?,
        ),
        "save" => Change::Save(
            std::str::from_utf8(value)
                .ok()
                .and_then(crate::parse_save_rules)
                .ok_or_else(|| failed(name, "Invalid save parameters"))?,
        ),
        _ if IMMUTABLE.contains(&name) => return Err(failed(name, "can't set immutable config")),
        _ => {
            return Err(Reply::error(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )))
        }
    })
}

/// Redis's enumConfigSet error, policies in Redis's order.
fn policy_choices() -> String {
    let order = [
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
        Policy::AllkeysLru,
        Policy::AllkeysLfu,
        Policy::AllkeysRandom,
        Policy::NoEviction,
    ];
    let names: Vec<&str> = order.iter().map(|p| p.name()).collect();
    format!(
        "argument(s) must be one of the following: {}",
        names.join(", ")
    )
}

fn set(lp: &mut EventLoop, pairs: &[Bytes]) -> Plan {
    let mut changes = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for pair in pairs.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        if seen.contains(&name) {
            return done(failed(&name, "duplicate parameter"));
        }
        match validate(&name, &pair[1]) {
            Ok(change) => changes.push(change),
            Err(reply) => return done(reply),
        }
        seen.push(name);
    }
    Plan::all(
        lp.shard.count,
        || ShardOp::ConfigSet(changes.clone()),
        Combine::AllOk,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_flags_round_trip_like_redis() {
        assert_eq!(
            notify_flags_to_string(parse_notify_flags(b"KEA").unwrap()),
            "AKE"
        );
        assert_eq!(
            notify_flags_to_string(parse_notify_flags(b"Ex").unwrap()),
            "xE"
        );
        assert_eq!(
            notify_flags_to_string(parse_notify_flags(b"gn").unwrap()),
            "gn"
        );
        assert_eq!(notify_flags_to_string(parse_notify_flags(b"").unwrap()), "");
        assert!(parse_notify_flags(b"Q").is_none());
    }

    #[test]
    fn validation_texts() {
        let err = |n, v: &str| match validate(n, v.as_bytes()) {
            Err(Reply::Error(e)) => e.to_string(),
            _ => String::new(),
        };
        assert_eq!(err("timeout", "abc"), "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer");
        assert_eq!(err("timeout", "-1"), "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive");
        assert_eq!(err("port", "1"), "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config");
        assert_eq!(
            err("nosuch", "1"),
            "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
        );
        assert!(matches!(validate("hz", b"1000"), Ok(Change::Hz(500))));
        assert!(matches!(
            validate("maxmemory", b"10MB"),
            Ok(Change::Maxmemory(10485760))
        ));
        assert!(matches!(
            validate("maxmemory", b"100"),
            Ok(Change::Maxmemory(100))
        ));
        for bad in ["1.5mb", "-1", "abc", "10 mb", ""] {
            assert_eq!(err("maxmemory", bad), "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value", "{bad}");
        }
        assert!(matches!(
            validate("maxmemory-policy", b"ALLKEYS-LFU"),
            Ok(Change::MaxmemoryPolicy(Policy::AllkeysLfu))
        ));
        assert_eq!(err("maxmemory-policy", "foo"), "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction");
    }
}
