//! CLIENT and its subcommands. LIST and KILL reach every shard, since each
//! shard owns its own connections.

use crate::conn::Conn;
use crate::event_loop::EventLoop;
use crate::gather::{done, Combine, Plan};
use crate::ops::ShardOp;
use bytes::Bytes;
use proto::{errors, Protocol, Reply};

/// Which connections CLIENT KILL closes; every given field must match.
#[derive(Clone, Debug, Default)]
pub struct KillFilter {
    pub id: Option<u64>,
    pub addr: Option<String>,
    pub laddr: Option<String>,
    /// Don't kill the caller (the default for the filter syntax).
    pub skip_id: Option<u64>,
    /// TYPE pubsub (true) or normal (false): whether the client has a subscription.
    pub pubsub: Option<bool>,
}

impl KillFilter {
    fn matches(&self, conn: &Conn) -> bool {
        self.id.is_none_or(|id| id == conn.id)
            && self.addr.as_ref().is_none_or(|a| *a == conn.addr)
            && self.laddr.as_ref().is_none_or(|a| *a == conn.laddr)
            && self.skip_id != Some(conn.id)
            && self.pubsub.is_none_or(|p| p == conn.subs.is_some())
    }
}

pub fn run(lp: &mut EventLoop, conn: &mut Conn, args: &[Bytes]) -> Plan {
    let sub = args[1].to_ascii_lowercase();
    let arity = |n: usize, name: &str| {
        if args.len() != n {
            Some(done(Reply::error(errors::wrong_arity(&format!(
                "client|{name}"
            )))))
        } else {
            None
        }
    };
    match &sub[..] {
        b"id" => arity(2, "id").unwrap_or_else(|| done(Reply::Integer(conn.id as i64))),
        b"getname" => arity(2, "getname").unwrap_or_else(|| {
            done(conn.name.as_ref().map(|n| Reply::bulk_from(n)).unwrap_or(Reply::Nil))
        }),
        b"setname" => arity(3, "setname").unwrap_or_else(|| {
            done(match set_name(conn, &args[2]) {
                Ok(()) => Reply::Ok,
                Err(e) => e,
            })
        }),
        b"setinfo" => arity(4, "setinfo").unwrap_or_else(|| done(set_info(conn, &args[2], &args[3]))),
        b"info" => arity(2, "info").unwrap_or_else(|| {
            let line = format!("{}\n", line(conn, lp.now));
            done(Reply::Verbatim("txt", Bytes::from(line)))
        }),
        b"list" => list(lp, conn, args),
        b"kill" => kill_command(lp, conn, args),
        b"no-evict" | b"no-touch" => arity(3, std::str::from_utf8(&sub).unwrap_or("")).unwrap_or_else(|| {
            let on = args[2].eq_ignore_ascii_case(b"on") || args[2].eq_ignore_ascii_case(b"off");
            done(if on { Reply::Ok } else { Reply::error(errors::SYNTAX) })
        }),
        b"help" => done(Reply::Array(
            [
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>, SKIPME (YES|NO).",
                "LIST [options ...]",
                "    Return information about client connections. Options: TYPE normal, ID <client-id> [...].",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "SETINFO <option> <value>",
                "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Reply::simple(*l))
            .collect(),
        )),
        _ => done(Reply::error(errors::unknown_subcommand(&args[1], "client"))),
    }
}

/// Client names and library attributes: printable, no spaces (Redis's rule).
fn valid_attr(value: &[u8]) -> bool {
    value.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

pub fn set_name(conn: &mut Conn, name: &[u8]) -> Result<(), Reply> {
    if !valid_attr(name) {
        return Err(Reply::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    conn.name = (!name.is_empty()).then(|| name.to_vec());
    Ok(())
}

fn set_info(conn: &mut Conn, attr: &[u8], value: &[u8]) -> Reply {
    let lower = attr.to_ascii_lowercase();
    let target = match &lower[..] {
        b"lib-name" => &mut conn.lib_name,
        b"lib-ver" => &mut conn.lib_ver,
        _ => {
            return Reply::error(format!(
                "ERR Unrecognized option '{}'",
                String::from_utf8_lossy(attr)
            ))
        }
    };
    if !valid_attr(value) {
        return Reply::error(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(&lower)
        ));
    }
    *target = (!value.is_empty()).then(|| value.to_vec());
    Reply::Ok
}

fn list(lp: &mut EventLoop, conn: &Conn, args: &[Bytes]) -> Plan {
    let mut ids: Option<Vec<u64>> = None;
    let mut pubsub = None;
    let mut i = 2;
    while i < args.len() {
        let opt = args[i].to_ascii_lowercase();
        if opt == b"type" && i + 1 < args.len() {
            let t = args[i + 1].to_ascii_lowercase();
            match &t[..] {
                b"normal" => pubsub = Some(false),
                b"pubsub" => pubsub = Some(true),
                b"master" | b"replica" | b"slave" => ids = Some(Vec::new()),
                _ => {
                    return done(Reply::error(format!(
                        "ERR Unknown client type '{}'",
                        String::from_utf8_lossy(&args[i + 1])
                    )))
                }
            }
            i += 2;
        } else if opt == b"id" && i + 1 < args.len() {
            let mut wanted = Vec::new();
            for a in &args[i + 1..] {
                match proto::parse_int(a) {
                    Some(id) if id > 0 => wanted.push(id as u64),
                    _ => return done(Reply::error("ERR Invalid client ID")),
                }
            }
            ids = Some(wanted);
            i = args.len();
        } else {
            return done(Reply::error(errors::SYNTAX));
        }
    }
    let own = format!("{}\n", line(conn, lp.now));
    Plan::all(
        lp.shard.count,
        || ShardOp::ClientList,
        Combine::ClientList { own, ids, pubsub },
    )
}

fn kill_command(lp: &mut EventLoop, conn: &mut Conn, args: &[Bytes]) -> Plan {
    let mut filter = KillFilter::default();
    let old_syntax = args.len() == 3;
    if old_syntax {
        filter.addr = Some(String::from_utf8_lossy(&args[2]).into_owned());
    } else {
        if args.len() < 4 || !args.len().is_multiple_of(2) {
            return done(Reply::error(errors::SYNTAX));
        }
        let mut skip_me = true;
        for pair in args[2..].chunks(2) {
            let value = String::from_utf8_lossy(&pair[1]).into_owned();
            match &pair[0].to_ascii_lowercase()[..] {
                b"id" => match proto::parse_int(&pair[1]) {
                    Some(id) if id > 0 => filter.id = Some(id as u64),
                    _ => return done(Reply::error("ERR client-id should be greater than 0")),
                },
                b"addr" => filter.addr = Some(value),
                b"laddr" => filter.laddr = Some(value),
                b"skipme" => match &pair[1].to_ascii_lowercase()[..] {
                    b"yes" => skip_me = true,
                    b"no" => skip_me = false,
                    _ => return done(Reply::error(errors::SYNTAX)),
                },
                b"user" => {
                    if value != "default" {
                        return done(Reply::error(format!("ERR No such user '{value}'")));
                    }
                }
                b"type" => match &pair[1].to_ascii_lowercase()[..] {
                    b"normal" => filter.pubsub = Some(false),
                    b"pubsub" => filter.pubsub = Some(true),
                    b"master" | b"replica" | b"slave" => filter.id = Some(0),
                    _ => return done(Reply::error(format!("ERR Unknown client type '{value}'"))),
                },
                _ => return done(Reply::error(errors::SYNTAX)),
            }
        }
        if skip_me {
            filter.skip_id = Some(conn.id);
        }
    }
    let own = usize::from(filter.matches(conn));
    if own == 1 {
        conn.close_after_flush = true;
    }
    let f = filter.clone();
    Plan::all(
        lp.shard.count,
        move || ShardOp::ClientKill(f.clone()),
        Combine::ClientKill { old_syntax, own },
    )
}

/// The `id=` of a CLIENT LIST line.
pub fn line_id(line: &str) -> u64 {
    line.strip_prefix("id=")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// One CLIENT LIST line, with Redis 7's fields.
pub fn line(conn: &Conn, now: u64) -> String {
    let text = |v: &Option<Vec<u8>>| {
        v.as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default()
            .into_owned()
    };
    // Redis's flag letters, in its order; N for none.
    let mut flags = String::new();
    if conn.subs.is_some() {
        flags.push('P');
    }
    if conn.multi.is_some() {
        flags.push('x');
    }
    if conn.blocked.is_some() {
        flags.push('b');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let multi = conn.multi.as_ref().map_or(-1, |m| m.queued.len() as i64);
    let multi_mem = conn.multi.as_ref().map_or(0, |m| m.bytes);
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={flags} db={} sub={} psub={} ssub={} multi={multi} qbuf={} qbuf-free={} argv-mem=0 multi-mem={multi_mem} rbs={} rbp=0 obl={} oll=0 omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        conn.id,
        conn.addr,
        conn.laddr,
        conn.fd,
        text(&conn.name),
        now.saturating_sub(conn.created_ms) / 1000,
        now.saturating_sub(conn.last_active_ms) / 1000,
        conn.db,
        conn.subs.as_ref().map_or(0, |s| s.channels.len()),
        conn.subs.as_ref().map_or(0, |s| s.patterns.len()),
        conn.subs.as_ref().map_or(0, |s| s.shard_channels.len()),
        conn.rbuf.len(),
        conn.rbuf.capacity() - conn.rbuf.len(),
        conn.rbuf.capacity(),
        conn.out.len(),
        conn.output_len(),
        conn.rbuf.capacity() + conn.out.capacity() + conn.sending.capacity(),
        conn.last_cmd,
        if conn.proto == Protocol::Resp3 { 3 } else { 2 },
        text(&conn.lib_name),
        text(&conn.lib_ver),
    )
}

/// CLIENT LIST lines of this shard's connections (the caller's, taken out
/// while its command runs, is added by the caller).
pub fn list_lines(lp: &EventLoop) -> String {
    let mut out = String::new();
    for conn in lp.conns.iter().flatten().filter(|c| !c.closing) {
        out.push_str(&line(conn, lp.now));
        out.push('\n');
    }
    out
}

/// Closes this shard's connections that match; returns how many.
pub fn kill(lp: &mut EventLoop, filter: &KillFilter) -> usize {
    let slots: Vec<u32> = lp
        .conns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.as_ref().is_some_and(|c| !c.closing && filter.matches(c)))
        .map(|(i, _)| i as u32)
        .collect();
    for &slot in &slots {
        lp.begin_close(slot);
    }
    slots.len()
}
