//! The change log is complete: every command of the differential scripts
//! (tests/diff/*.txt, the same ones compared with redis-server) runs on one
//! shard while a second shard is rebuilt only from the log's records; at
//! the end both hold exactly the same keys, values and expiry times.

use crate::cmd::testing::run_in;
use crate::codec;
use crate::restore;
use crate::shard::Shard;
use crate::value::Value;
use proto::CommandId;

const T0: u64 = 1_700_000_000_000;

/// db, key, expiry, then the type name and the elements.
type Canonical = (usize, Vec<u8>, u64, Vec<Vec<u8>>);

/// Every live key of every database in a canonical form (hash fields and
/// set members sorted: their iteration order is the table's, not data).
fn dump(shard: &Shard, now: u64) -> Vec<Canonical> {
    let mut all = Vec::new();
    for (db, d) in shard.dbs() {
        for slot in d.slots() {
            for (key, entry) in d.slot_entries(slot) {
                if entry.is_expired(now) {
                    continue;
                }
                let mut items: Vec<Vec<u8>> = match &entry.value {
                    Value::Str(s) => vec![s.to_vec()],
                    Value::Hash(h) => h
                        .iter()
                        .map(|(f, v)| [&f[..], b"=", &v[..]].concat())
                        .collect(),
                    Value::Set(m) => m.iter().map(|m| m.to_vec()).collect(),
                    Value::List(l) => l.iter().map(|e| e.to_vec()).collect(),
                    Value::ZSet(z) => z
                        .iter()
                        .map(|(m, s)| [m, &s.to_bits().to_le_bytes()[..]].concat())
                        .collect(),
                };
                if matches!(entry.value, Value::Hash(_) | Value::Set(_)) {
                    items.sort();
                }
                items.insert(0, entry.value.type_name().as_bytes().to_vec());
                all.push((db, key.to_vec(), entry.expire_at, items));
            }
        }
    }
    all.sort();
    all
}

#[test]
fn a_shard_rebuilt_from_its_change_log_is_the_same() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/diff");
    let mut scripts: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/diff")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    scripts.sort();
    assert!(scripts.len() > 10, "scripts found: {}", scripts.len());
    let (mut live, mut replica) = (Shard::new(0, 1), Shard::new(0, 1));
    live.start_change_log();
    let (mut now, mut db, mut commands, mut records) = (T0, 0, 0, 0);
    let mut out = Vec::new();
    for script in &scripts {
        let text = std::fs::read_to_string(script).expect("script");
        for line in text.lines().map(str::trim) {
            let line = line.trim_start_matches(['~', '^']);
            if line.is_empty() || line.starts_with(['#', '@']) {
                continue;
            }
            // Split as redis-cli and Redis's inline commands do.
            let Some(args) = proto::parse::split_args(line.as_bytes()) else {
                continue;
            };
            if args.is_empty() {
                continue;
            }
            let Some(spec) = proto::lookup(&args[0]) else {
                continue;
            };
            // Time moves on, so short TTLs in the scripts do expire.
            now += 3;
            match spec.id {
                CommandId::Shard(_) => {
                    let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                    run_in(&mut live, db, now, &args);
                    commands += 1;
                }
                CommandId::Conn(proto::ConnCmd::Select) => {
                    let n = args
                        .get(1)
                        .and_then(|a| std::str::from_utf8(a).ok()?.parse().ok());
                    db = n.filter(|&n| n < crate::DATABASES).unwrap_or(db);
                    continue;
                }
                CommandId::Conn(_) => continue,
            }
            live.drain_change_records(now, &mut out);
            for payload in out.drain(..) {
                let record = codec::decode(&payload).expect("a record the codec wrote");
                restore::apply(&mut replica, record, now);
                records += 1;
            }
            if std::env::var_os("CHANGELOG_TRACE").is_some()
                && dump(&live, now) != dump(&replica, now)
            {
                panic!("diverged after {}: {line}", script.display());
            }
        }
    }
    assert!(
        commands > 1000 && records > 500,
        "{commands} commands, {records} records"
    );
    for later in [now, now + 10_000_000] {
        assert!(
            dump(&live, later) == dump(&replica, later),
            "the rebuilt shard differs at {later}"
        );
    }
}
