//! Runs the built `tokenginx` binary the way an operator would.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary with an empty environment, so TOKENGINX_* or RUST_LOG set
/// where the tests run can't change what they see.
fn tokenginx() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokenginx"));
    command.env_clear();
    command
}

fn run(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run tokenginx");
    (
        status.code().expect("exit code, not a signal"),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// A config file unique to one test, removed on drop.
struct ConfigFile(PathBuf);

impl ConfigFile {
    fn new(name: &str, content: &str) -> ConfigFile {
        let path =
            std::env::temp_dir().join(format!("tokenginx-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, content).expect("write config file");
        ConfigFile(path)
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn version_names_the_release_and_commit() {
    let (code, stdout, _) = run(tokenginx().arg("--version"));
    assert_eq!(code, 0);
    let line = stdout.trim();
    let expected = format!("tokenginx {} (git ", env!("CARGO_PKG_VERSION"));
    assert!(line.starts_with(&expected), "{line}");
    assert!(line.ends_with(')'), "{line}");
}

#[test]
fn check_config_shows_the_defaults_and_hides_the_password() {
    let (code, stdout, stderr) = run(tokenginx()
        .arg("--check-config")
        .env("TOKENGINX_SECURITY_REQUIREPASS", "correct-horse-battery"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\nport = 6380\n"), "{stdout}");
    assert!(stdout.contains("bind = \"127.0.0.1\""), "{stdout}");
    assert!(!stdout.contains("correct-horse-battery"), "{stdout}");
    assert!(!stderr.contains("correct-horse-battery"), "{stderr}");
    assert!(stdout.contains("requirepass = \"<redacted>\""), "{stdout}");
}

#[test]
fn check_config_applies_file_env_and_flags() {
    let file = ConfigFile::new("layers.toml", "[server]\nport = 7000\nhz = 20\n");
    let (code, stdout, stderr) = run(tokenginx()
        .arg("--check-config")
        .arg("--config")
        .arg(&file.0)
        .args(["--shards", "2"])
        .env("TOKENGINX_SERVER_PORT", "7001"));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("port = 7001  # from TOKENGINX_SERVER_PORT"),
        "{stdout}"
    );
    assert!(stdout.contains("hz = 20  # from"), "{stdout}");
    assert!(stdout.contains("shards = 2  # from --shards"), "{stdout}");
}

#[test]
fn an_invalid_value_exits_2_naming_the_key() {
    let file = ConfigFile::new("bad-port.toml", "[server]\nport = 70000\n");
    let (code, stdout, stderr) = run(tokenginx().arg("--config").arg(&file.0));
    assert_eq!(code, 2, "{stdout}{stderr}");
    let line = stderr.trim();
    assert!(
        line.starts_with("config error: server.port = 70000"),
        "{line}"
    );
    assert!(line.ends_with("must be 0..=65535"), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");
}

#[test]
fn an_unknown_key_exits_2_naming_it() {
    let file = ConfigFile::new("unknown.toml", "[server]\nportt = 6380\n");
    let (code, _, stderr) = run(tokenginx()
        .arg("--config")
        .arg(&file.0)
        .arg("--check-config"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("config error: server.portt"), "{stderr}");
    assert!(stderr.contains("unknown field `portt`"), "{stderr}");
}

#[test]
fn an_unknown_environment_variable_exits_2() {
    let (code, _, stderr) = run(tokenginx()
        .arg("--check-config")
        .env("TOKENGINX_SERVER_PROT", "1"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("TOKENGINX_SERVER_PROT"), "{stderr}");
}

#[test]
fn a_missing_config_file_exits_2() {
    let (code, _, stderr) = run(tokenginx().args(["--config", "/nonexistent/tokenginx.toml"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("/nonexistent/tokenginx.toml"), "{stderr}");
}

#[test]
fn passwords_are_not_accepted_as_flags() {
    let (code, _, _) = run(tokenginx().args(["--requirepass", "secret", "--check-config"]));
    assert_eq!(code, 2);
}

#[test]
fn a_port_in_use_exits_1_with_advice() {
    // A plain listener (no SO_REUSEPORT) makes the server's bind fail.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let (code, _, stderr) = run(tokenginx()
        .args(["--port", &port, "--shards", "1"])
        .env("TOKENGINX_PERSIST_DIR", ""));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("address already in use"), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
}

/// Starts on a free port, waits for the start-up line, sends SIGTERM and
/// expects a clean exit.
#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut child = tokenginx()
        .args(["--port", "0", "--shards", "1"])
        .env("TOKENGINX_SECURITY_REQUIREPASS", "never-logged")
        .env("TOKENGINX_PERSIST_DIR", "")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tokenginx");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut logged = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).expect("read stderr") == 0 {
            panic!("tokenginx exited before starting: {logged}");
        }
        logged.push_str(&line);
        if line.contains("tokenginx started") {
            break;
        }
    }
    // SAFETY: kill(2) with the pid of our own child, not yet reaped.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent, 0);

    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tokenginx did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
    logged.push_str(&rest);
    assert!(status.success(), "{status}: {logged}");
    assert!(logged.contains("auth=\"required\""), "{logged}");
    assert!(!logged.contains("never-logged"), "{logged}");
}
