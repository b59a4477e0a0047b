//! Commands about the connection or the whole server, run where the
//! connection lives: PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT COMMAND
//! INFO CONFIG TIME SHUTDOWN, and the pub/sub commands (see `pubsub`).

use crate::conn::Conn;
use crate::event_loop::EventLoop;
use crate::gather::{done, silent, Combine, Plan};
use crate::ops::ShardOp;
use bytes::Bytes;
use proto::{errors, ConnCmd, Protocol, Reply};

/// The Redis version whose behaviour TokenginX implements, as INFO and HELLO report it.
pub const REDIS_VERSION: &str = "7.0.15";

pub fn run(lp: &mut EventLoop, conn: &mut Conn, slot: u32, cmd: ConnCmd, args: Vec<Bytes>) -> Plan {
    use crate::pubsub::Kind;
    match cmd {
        // A RESP2 subscriber reads every reply as a pub/sub array.
        ConnCmd::Ping
            if args.len() <= 2 && conn.subs.is_some() && conn.proto == Protocol::Resp2 =>
        {
            done(Reply::Array(vec![
                Reply::bulk("pong"),
                Reply::Bulk(args.get(1).cloned().unwrap_or_default()),
            ]))
        }
        ConnCmd::Ping => done(match args.len() {
            1 => Reply::simple("PONG"),
            2 => Reply::Bulk(args[1].clone()),
            _ => Reply::error(errors::wrong_arity("ping")),
        }),
        ConnCmd::Subscribe | ConnCmd::Psubscribe | ConnCmd::Ssubscribe => {
            let kind = match cmd {
                ConnCmd::Subscribe => Kind::Channel,
                ConnCmd::Psubscribe => Kind::Pattern,
                _ => Kind::Shard,
            };
            let replies = lp.subscribe(conn, slot, kind, &args[1..]);
            crate::pubsub_cmd::confirmations(conn, replies)
        }
        ConnCmd::Unsubscribe | ConnCmd::Punsubscribe | ConnCmd::Sunsubscribe => {
            let kind = match cmd {
                ConnCmd::Unsubscribe => Kind::Channel,
                ConnCmd::Punsubscribe => Kind::Pattern,
                _ => Kind::Shard,
            };
            let replies = lp.unsubscribe(conn, slot, kind, &args[1..], true);
            crate::pubsub_cmd::confirmations(conn, replies)
        }
        ConnCmd::Publish => crate::pubsub_cmd::publish(lp, conn, slot, &args, false),
        ConnCmd::Spublish => crate::pubsub_cmd::publish(lp, conn, slot, &args, true),
        ConnCmd::Pubsub => crate::pubsub_cmd::pubsub(lp, &args),
        ConnCmd::Echo => done(Reply::Bulk(args[1].clone())),
        ConnCmd::Hello => done(hello(lp, conn, &args)),
        ConnCmd::Auth => done(auth(lp, conn, &args)),
        ConnCmd::Select => done(match select_db(&args[1]) {
            Err(e) => e,
            Ok(db) => {
                conn.db = db;
                Reply::Ok
            }
        }),
        ConnCmd::Quit => {
            conn.close_after_flush = true;
            done(Reply::Ok)
        }
        ConnCmd::Reset => {
            lp.unsubscribe_all(conn, slot);
            conn.multi = None;
            lp.unwatch_all(conn);
            conn.db = 0;
            conn.proto = Protocol::Resp2;
            conn.name = None;
            conn.authenticated = lp.runtime.requirepass.is_none();
            done(Reply::simple("RESET"))
        }
        ConnCmd::Multi | ConnCmd::Exec | ConnCmd::Discard | ConnCmd::Watch | ConnCmd::Unwatch => {
            crate::multi::run(lp, conn, slot, cmd, args)
        }
        ConnCmd::Client => crate::client_cmd::run(lp, conn, &args),
        ConnCmd::Command => done(crate::command_cmd::run(&args)),
        ConnCmd::Info => {
            let request = Box::new(crate::info::InfoRequest::new(&args[1..], lp, conn));
            Plan::all(lp.shard.count, || ShardOp::Stats, Combine::Info(request))
        }
        ConnCmd::Config => crate::config_cmd::run(lp, &args),
        ConnCmd::Time => {
            let micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros())
                .unwrap_or(0);
            done(Reply::Array(vec![
                Reply::bulk((micros / 1_000_000).to_string()),
                Reply::bulk((micros % 1_000_000).to_string()),
            ]))
        }
        ConnCmd::Save
        | ConnCmd::Bgsave
        | ConnCmd::Bgrewriteaof
        | ConnCmd::Lastsave
        | ConnCmd::Backup => crate::persist_cmd::run(lp, cmd, &args),
        ConnCmd::Shutdown => {
            for arg in &args[1..] {
                let ok = [&b"nosave"[..], b"save", b"now", b"force"]
                    .iter()
                    .any(|o| arg.eq_ignore_ascii_case(o));
                if arg.eq_ignore_ascii_case(b"abort") {
                    return done(Reply::error("ERR No shutdown in progress."));
                }
                if !ok {
                    return done(Reply::error(errors::SYNTAX));
                }
            }
            tracing::info!(client = conn.id, "SHUTDOWN requested by a client");
            lp.shared.trigger_shutdown();
            // Like Redis, a successful SHUTDOWN answers by closing the connection.
            conn.close_after_flush = true;
            silent()
        }
    }
}

/// The database SELECT's argument names, or its error.
pub fn select_db(arg: &[u8]) -> Result<usize, Reply> {
    match proto::parse_int(arg) {
        None => Err(Reply::error(errors::NOT_INTEGER)),
        Some(db) if !(0..shard::DATABASES as i64).contains(&db) => {
            Err(Reply::error(errors::DB_OUT_OF_RANGE))
        }
        Some(db) => Ok(db as usize),
    }
}

/// Compares secrets in time independent of where they differ.
fn secret_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() != b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// Checks credentials of the default user, the only user until ACLs exist.
fn credentials_ok(lp: &EventLoop, user: &[u8], pass: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match &lp.runtime.requirepass {
        None => true,
        Some(required) => secret_eq(required.as_bytes(), pass),
    }
}

fn auth(lp: &EventLoop, conn: &mut Conn, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return Reply::error(errors::SYNTAX);
    }
    let (user, pass) = if args.len() == 2 {
        if lp.runtime.requirepass.is_none() {
            return Reply::error(errors::AUTH_NOT_CONFIGURED);
        }
        (&b"default"[..], &args[1][..])
    } else {
        (&args[1][..], &args[2][..])
    };
    if credentials_ok(lp, user, pass) {
        conn.authenticated = true;
        Reply::Ok
    } else {
        tracing::info!(client = conn.id, "authentication failed");
        Reply::error(errors::WRONGPASS)
    }
}

fn hello(lp: &EventLoop, conn: &mut Conn, args: &[Bytes]) -> Reply {
    let mut version = None;
    let mut next = 1;
    if args.len() >= 2 {
        match proto::parse_int(&args[1]) {
            None => return Reply::error("ERR Protocol version is not an integer or out of range"),
            Some(v) if !(2..=3).contains(&v) => {
                return Reply::error("NOPROTO unsupported protocol version")
            }
            Some(v) => version = Some(v),
        }
        next = 2;
    }
    let (mut credentials, mut name) = (None, None);
    while next < args.len() {
        let more = args.len() - 1 - next;
        let opt = &args[next];
        if opt.eq_ignore_ascii_case(b"auth") && more >= 2 {
            credentials = Some((args[next + 1].clone(), args[next + 2].clone()));
            next += 3;
        } else if opt.eq_ignore_ascii_case(b"setname") && more >= 1 {
            name = Some(args[next + 1].clone());
            next += 2;
        } else {
            return Reply::error(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(opt)
            ));
        }
    }
    if let Some((user, pass)) = credentials {
        if !credentials_ok(lp, &user, &pass) {
            return Reply::error(errors::WRONGPASS);
        }
        conn.authenticated = true;
    }
    if !conn.authenticated {
        return Reply::error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = name {
        if let Err(e) = crate::client_cmd::set_name(conn, &name) {
            return e;
        }
    }
    if let Some(v) = version {
        conn.proto = if v == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
    }
    let s = |t: &'static str| Reply::bulk(t);
    Reply::Map(vec![
        (s("server"), s("redis")),
        (s("version"), s(REDIS_VERSION)),
        (
            s("proto"),
            Reply::Integer(if conn.proto == Protocol::Resp3 { 3 } else { 2 }),
        ),
        (s("id"), Reply::Integer(conn.id as i64)),
        (s("mode"), s("standalone")),
        (s("role"), s("master")),
        (s("modules"), Reply::Array(vec![])),
    ])
}
