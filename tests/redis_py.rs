//! Runs the redis-py (unittest) suites in `tests/redis_py/` against a
//! TokenginX with two shards, without and with a password.

mod common;

use common::Options;
use std::fs::File;
use std::process::{Command, Stdio};
use std::time::Duration;

const PASSWORD: &str = "py-s3cret";
const DEADLINE: Duration = Duration::from_secs(180);

fn have_redis_py() -> bool {
    Command::new("python3")
        .args(["-c", "import redis"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Runs the given unittest selectors and asserts they pass.
fn run_python_tests(selectors: &[&str]) {
    assert!(
        have_redis_py(),
        "python3 with redis-py is not installed: run scripts/install-test-deps.sh"
    );
    let open = common::tokenginx(2);
    let protected = common::tokenginx_with(Options::shards(2).password(PASSWORD));
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/redis_py");
    let log = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "redis-py-{}-{}.log",
        std::process::id(),
        open.port
    ));
    let out = File::create(&log).unwrap();
    let mut child = Command::new("python3")
        .args(["-m", "unittest", "-v"])
        .args(selectors)
        .current_dir(dir)
        .env("TEST_TOKENGINX_PORT", open.port.to_string())
        .env("TEST_TOKENGINX_AUTH_PORT", protected.port.to_string())
        .env("TEST_TOKENGINX_PASSWORD", PASSWORD)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("spawn python3");
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    match status {
        Some(s) if s.success() => println!("{output}"),
        Some(s) => panic!(
            "redis-py tests failed ({s}):\n{output}\n--- tokenginx log ---\n{}",
            open.log_text()
        ),
        None => panic!("redis-py tests did not finish within {DEADLINE:?}:\n{output}"),
    }
}

#[test]
fn redis_py_session_patterns() {
    run_python_tests(&["test_sessions.SessionStoreTest"]);
}

#[test]
fn redis_py_transactions() {
    run_python_tests(&["test_transactions.TransactionTest"]);
}

#[test]
#[ignore = "needs EVALSHA (redis-py's Lock), not implemented"]
fn redis_py_locks() {
    run_python_tests(&["test_sessions.KnownGapsTest"]);
}

#[test]
fn redis_py_pubsub_and_keyspace_events() {
    run_python_tests(&["test_pubsub.PubSubTest"]);
}
