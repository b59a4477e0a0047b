//! Restarting with another shard count on the same data directory: start-up
//! re-shards the data, and every key of every type, in every database, comes
//! back with its value and expiry; writes made after it survive the next
//! change of shard count too.

mod common;

use common::keyspace::{assert_same, dump, now_ms, write_every_type};
use common::{tokenginx_with, Options, Process};
use std::path::Path;

fn start(dir: &Path, shards: usize) -> Process {
    tokenginx_with(
        Options::shards(shards)
            .data_dir(dir)
            .env("TOKENGINX_PERSIST_APPENDFSYNC", "everysec"),
    )
}

#[test]
fn shard_count_changes_keep_every_key() {
    let seed = common::seed("RESHARD_SEED");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = common::scratch_dir("reshard");

    let mut server = start(&dir, 2);
    let mut con = common::redis_client(server.port);
    for db in [0, 1, 9] {
        write_every_type(&mut con, &mut rng, db, &format!("two{db}"), 60);
    }
    let before = dump(&mut con);
    assert!(before.len() > 1000, "{} keys", before.len());
    server.stop_clean();

    let mut server = start(&dir, 1);
    let mut con = common::redis_client(server.port);
    server.explain(|| assert_same(&before, &dump(&mut con), now_ms(), "2 shards -> 1"));
    for db in [0, 4] {
        write_every_type(&mut con, &mut rng, db, &format!("one{db}"), 40);
    }
    let before = dump(&mut con);
    server.stop_clean();

    let mut server = start(&dir, 2);
    let mut con = common::redis_client(server.port);
    server.explain(|| assert_same(&before, &dump(&mut con), now_ms(), "1 shard -> 2"));
    // And once more, after a crash, so the re-sharded log is a log again.
    write_every_type(&mut con, &mut rng, 3, "two-again", 20);
    let before = dump(&mut con);
    server.kill();
    let mut server = start(&dir, 2);
    let mut con = common::redis_client(server.port);
    server.explain(|| assert_same(&before, &dump(&mut con), now_ms(), "2 shards, crash"));
    server.stop_clean();
    let _ = std::fs::remove_dir_all(&dir);
}
