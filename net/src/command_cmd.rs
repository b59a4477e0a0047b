//! COMMAND: what the command table says, in Redis 7's reply shapes.

use bytes::Bytes;
use proto::table::{flags, CommandSpec};
use proto::{errors, Reply, COMMANDS};

pub fn run(args: &[Bytes]) -> Reply {
    if args.len() == 1 {
        return Reply::Array(COMMANDS.iter().map(info).collect());
    }
    let sub = args[1].to_ascii_lowercase();
    match &sub[..] {
        b"count" if args.len() == 2 => Reply::Integer(COMMANDS.len() as i64),
        b"info" => {
            if args.len() == 2 {
                return Reply::Array(COMMANDS.iter().map(info).collect());
            }
            Reply::Array(
                args[2..]
                    .iter()
                    .map(|n| proto::lookup(n).map(info).unwrap_or(Reply::NilArray))
                    .collect(),
            )
        }
        b"docs" => {
            let specs: Vec<&CommandSpec> = if args.len() == 2 {
                COMMANDS.iter().collect()
            } else {
                args[2..].iter().filter_map(|n| proto::lookup(n)).collect()
            };
            Reply::Map(
                specs
                    .into_iter()
                    .map(|s| (Reply::bulk(s.name), docs(s)))
                    .collect(),
            )
        }
        b"list" => list(args),
        b"getkeys" if args.len() >= 3 => getkeys(&args[2..]),
        b"help" => Reply::Array(
            [
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)",
                "    Return details about all commands.",
                "COUNT",
                "    Return the total number of commands in this server.",
                "LIST",
                "    Return a list of all commands in this server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple commands.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple commands.",
                "GETKEYS <full-command>",
                "    Return the keys from a full command.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Reply::simple(*l))
            .collect(),
        ),
        b"count" | b"getkeys" => Reply::error(errors::wrong_arity(&format!(
            "command|{}",
            String::from_utf8_lossy(&sub)
        ))),
        _ => Reply::error(errors::unknown_subcommand(&args[1], "command")),
    }
}

fn info(spec: &CommandSpec) -> Reply {
    let flag_names = flags::NAMES
        .iter()
        .filter(|(f, _)| spec.has(*f))
        .map(|(_, n)| Reply::simple(*n))
        .collect();
    let categories = spec
        .acl_categories()
        .into_iter()
        .map(Reply::simple)
        .collect();
    Reply::Array(vec![
        Reply::bulk(spec.name),
        Reply::Integer(spec.arity as i64),
        Reply::Set(flag_names),
        Reply::Integer(spec.first_key as i64),
        Reply::Integer(spec.last_key as i64),
        Reply::Integer(spec.step as i64),
        Reply::Set(categories),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
    ])
}

fn docs(spec: &CommandSpec) -> Reply {
    Reply::Map(vec![
        (Reply::bulk("summary"), Reply::bulk(spec.summary)),
        (Reply::bulk("group"), Reply::bulk(spec.group)),
    ])
}

fn list(args: &[Bytes]) -> Reply {
    let names = COMMANDS.iter();
    match args.len() {
        2 => Reply::Array(names.map(|s| Reply::bulk(s.name)).collect()),
        5 if args[2].eq_ignore_ascii_case(b"filterby") => {
            let (kind, value) = (args[3].to_ascii_lowercase(), &args[4]);
            let keep: Box<dyn Fn(&CommandSpec) -> bool> = match &kind[..] {
                b"module" => Box::new(|_| false),
                b"aclcat" => {
                    let cat = format!("@{}", String::from_utf8_lossy(value).to_ascii_lowercase());
                    Box::new(move |s| s.acl_categories().contains(&cat.as_str()))
                }
                b"pattern" => {
                    let pattern = value.to_ascii_lowercase();
                    Box::new(move |s| shard::cmd::glob::matches(&pattern, s.name.as_bytes()))
                }
                _ => return Reply::error(errors::SYNTAX),
            };
            Reply::Array(
                names
                    .filter(|s| keep(s))
                    .map(|s| Reply::bulk(s.name))
                    .collect(),
            )
        }
        _ => Reply::error(errors::SYNTAX),
    }
}

fn getkeys(call: &[Bytes]) -> Reply {
    let Some(spec) = proto::lookup(&call[0]) else {
        return Reply::error("ERR Invalid command specified");
    };
    if !spec.arity_ok(call.len()) {
        return Reply::error("ERR Invalid number of arguments specified for command");
    }
    let Some(positions) = spec.keys_of(call) else {
        return Reply::error("ERR Invalid arguments specified for command");
    };
    let keys: Vec<Reply> = positions
        .into_iter()
        .filter_map(|i| call.get(i))
        .map(|k| Reply::Bulk(k.clone()))
        .collect();
    if keys.is_empty() {
        return Reply::error("ERR The command has no key arguments");
    }
    Reply::Array(keys)
}
