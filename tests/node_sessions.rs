//! Node.js clients against the real binary: an express app keeping its
//! sessions in TokenginX through express-session + connect-redis + ioredis
//! (`tests/node/sessions.js`), and the connection handshakes and everyday
//! commands of ioredis and node-redis (`tests/node/clients.js`).
//!
//! Node.js and the locked npm packages are installed by
//! `scripts/install-test-deps.sh` (`make test`); without them these tests fail.

mod common;

use common::{Conn, Options, Process};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Bounds a script that hangs; no step takes near this long.
const DEADLINE: Duration = Duration::from_secs(120);
/// connect-redis's TTL: the session cookie's maxAge in `sessions.js`.
const SESSION_TTL: i64 = 600;
const PASSWORD: &str = "node-s3cret";

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// A running `node <script>` whose stdout lines arrive on a channel.
struct NodeScript {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr_log: PathBuf,
    started: Instant,
}

impl NodeScript {
    fn start(script: &str, args: &[&str], env: &[(&str, &str)]) -> NodeScript {
        let dir = node_dir();
        assert!(
            dir.join("node_modules").is_dir(),
            "{}/node_modules is missing: run scripts/install-test-deps.sh",
            dir.display()
        );
        let stderr_log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "node-{script}-{}-{}.log",
            std::process::id(),
            args.first().unwrap_or(&"")
        ));
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .envs(env.iter().copied())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr_log).expect("create node log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node ({e}): run scripts/install-test-deps.sh"));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        NodeScript {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            stderr_log,
            started: Instant::now(),
        }
    }

    fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.seen.join("\n"),
            std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
        )
    }

    fn remaining(&self) -> Duration {
        DEADLINE.saturating_sub(self.started.elapsed())
    }

    /// The next stdout line; panics with the script's output if it exits or
    /// hangs instead.
    fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(self.remaining()) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().expect("wait for node");
                panic!("node exited ({status}) early:\n{}", self.output())
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                panic!("node hung for {DEADLINE:?}:\n{}", self.output())
            }
        }
    }

    /// Waits for the checkpoint line `<step> <key>...` and returns the keys.
    fn checkpoint(&mut self, step: &str) -> Vec<String> {
        let line = self.next_line();
        let mut words = line.split_whitespace().map(str::to_owned);
        assert_eq!(
            words.next().as_deref(),
            Some(step),
            "expected checkpoint {step:?}:\n{}",
            self.output()
        );
        words.collect()
    }

    /// Lets the script go on past a checkpoint.
    fn proceed(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(b"next\n").expect("write to node");
        stdin.flush().expect("flush node stdin");
    }

    /// Waits for the script to exit; returns its status.
    fn finish(&mut self) -> ExitStatus {
        drop(self.stdin.take());
        // Collect what is left of stdout (the reader ends at EOF).
        while let Ok(line) = self.lines.recv_timeout(self.remaining()) {
            self.seen.push(line);
        }
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait node") {
                return status;
            }
            if self.remaining().is_zero() {
                let _ = self.child.kill();
                panic!("node did not exit within {DEADLINE:?}:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for NodeScript {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An integer reply's value.
fn int(conn: &mut Conn, args: &[&str]) -> i64 {
    let reply = conn.cmd(args);
    let text = String::from_utf8_lossy(&reply);
    text.strip_prefix(':')
        .and_then(|t| t.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("{args:?} answered {text:?}, not an integer"))
}

fn assert_success(script: &mut NodeScript, server: &Process) {
    let status = script.finish();
    assert!(
        status.success(),
        "node exited with {status}:\n{}\n--- tokenginx log ---\n{}",
        script.output(),
        server.log_text()
    );
}

#[test]
fn express_sessions_through_connect_redis_and_ioredis() {
    let server = common::tokenginx(2);
    let mut conn = server.connect();
    let port = server.port.to_string();
    let mut script = NodeScript::start("sessions.js", &[&port], &[]);

    // Logged in: one session on each shard, stored with connect-redis's TTL.
    let keys = script.checkpoint("logged-in");
    assert_eq!(keys.len(), 2, "{}", script.output());
    for key in &keys {
        assert!(key.starts_with("sess:"), "{key}");
        let ttl = int(&mut conn, &["TTL", key]);
        assert!(ttl > 0 && ttl <= SESSION_TTL, "TTL {key} = {ttl}");
        let value = conn.cmd(&["GET", key]);
        assert!(
            String::from_utf8_lossy(&value).contains(r#""user":"user"#),
            "GET {key} = {}",
            common::show(&value)
        );
        // Cut the TTL short: only a touch by the next request restores it.
        assert_eq!(int(&mut conn, &["EXPIRE", key, "30"]), 1);
    }
    let clients = String::from_utf8_lossy(&conn.cmd(&["CLIENT", "LIST"])).into_owned();
    assert!(
        clients
            .lines()
            .any(|l| l.contains(" name=node-sessions ") && l.contains(" lib-name=ioredis ")),
        "ioredis's connection name and library missing from CLIENT LIST:\n{clients}"
    );
    script.proceed();

    // Read back with the cookie and touched: the TTL is the full one again.
    for key in script.checkpoint("touched") {
        let ttl = int(&mut conn, &["TTL", &key]);
        assert!(
            ttl > 30 && ttl <= SESSION_TTL,
            "TTL {key} = {ttl} after touch"
        );
    }
    script.proceed();

    // Logged out: the sessions are gone.
    for key in script.checkpoint("logged-out") {
        assert_eq!(int(&mut conn, &["EXISTS", &key]), 0, "{key} after logout");
    }
    script.proceed();

    let last = script.next_line();
    assert!(last.starts_with("ok sessions="), "{}", script.output());
    assert_success(&mut script, &server);
    assert_eq!(int(&mut conn, &["DBSIZE"]), 0);
}

#[test]
fn ioredis_and_node_redis_handshakes_and_commands() {
    let server = common::tokenginx_with(Options::shards(2).password(PASSWORD));
    let port = server.port.to_string();
    let mut script = NodeScript::start(
        "clients.js",
        &[&port],
        &[("TEST_TOKENGINX_PASSWORD", PASSWORD)],
    );
    assert_success(&mut script, &server);
    let out = script.seen.join("\n");
    for check in [
        "ok ioredis handshake",
        "ok ioredis pipeline",
        "ok ioredis wrong password rejected",
        "ok node-redis handshake",
        "ok node-redis pipeline",
        "ok node-redis wrong password rejected",
        "ok all ",
    ] {
        assert!(out.contains(check), "{check:?} missing:\n{out}");
    }
    println!("{out}");
}
