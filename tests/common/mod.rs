//! Shared harness for the integration tests: starts the real `tokenginx`
//! binary (and, for differential checks, a reference `redis-server`) on a free
//! loopback port, and talks raw RESP to them.
//!
//! Every wait is bounded: a server that does not answer fails the test within
//! seconds instead of hanging CI.

#![allow(dead_code)]

pub mod keyspace;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
pub const START_DEADLINE: Duration = Duration::from_secs(10);
/// Read/write timeout of every test connection.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to exit after SIGTERM before it is killed.
pub const STOP_DEADLINE: Duration = Duration::from_secs(5);

const START_ATTEMPTS: usize = 5;

/// A Rust `redis` crate connection to a server on `port`, with the
/// harness's I/O timeout.
pub fn redis_client(port: u16) -> redis::Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
    let c = c.get_connection().expect("connect");
    c.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    c
}

/// A port that was free a moment ago. The binary does not report the port it
/// bound when given port 0, so the tests choose one and retry on collision.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

fn log_path(name: &str) -> PathBuf {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}-{n}.log", std::process::id()))
}

/// A random seed, or the one in environment variable `var` to replay a
/// run; printed either way.
pub fn seed(var: &str) -> u64 {
    let seed = std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("seed {seed} ({var}={seed} replays it)");
    seed
}

/// A fresh directory under the test target's scratch space.
pub fn scratch_dir(name: &str) -> PathBuf {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A child server process that is stopped (SIGTERM, then SIGKILL) on drop.
pub struct Process {
    child: Option<Child>,
    pub port: u16,
    pub log: PathBuf,
    what: &'static str,
    /// A data directory the harness made for this server, removed on drop.
    scratch_dir: Option<PathBuf>,
}

impl Process {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// A new raw connection to the server.
    pub fn connect(&self) -> Conn {
        Conn::connect(self.port)
    }

    /// The server's log so far, for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs `f`; if it panics, prints this server's log first, so that a
    /// failure shows what the server did meanwhile.
    pub fn explain<T>(&self, f: impl FnOnce() -> T) -> T {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(v) => v,
            Err(panic) => {
                eprintln!(
                    "--- log of {} on port {}:\n{}---",
                    self.what,
                    self.port,
                    self.log_text()
                );
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on a child we spawned and have not reaped yet, so the
        // pid cannot have been reused.
        let rc = unsafe { libc::kill(self.pid() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill({}, {signal}) failed", self.pid());
    }

    /// Waits up to `deadline` for the process to exit on its own.
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut().expect("running");
        let until = Instant::now() + deadline;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether the process has exited already (without reaping a live one).
    pub fn has_exited(&mut self) -> bool {
        match self.child.as_mut() {
            None => true,
            Some(child) => child.try_wait().expect("try_wait").is_some(),
        }
    }

    /// SIGKILL (a crash: nothing is flushed or synced), then reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        child.wait().expect("wait after SIGKILL")
    }

    /// Stops with SIGTERM and asserts a clean exit (showing the log if not).
    pub fn stop_clean(&mut self) {
        let (status, killed) = self.stop();
        assert!(
            status.success() && !killed,
            "exit {status}, killed {killed}:\n{}",
            self.log_text()
        );
    }

    /// SIGTERM, wait up to [`STOP_DEADLINE`], SIGKILL if it hangs. Returns the
    /// exit status and whether SIGKILL was needed.
    pub fn stop(&mut self) -> (ExitStatus, bool) {
        if self.child.is_none() {
            panic!("{} already stopped", self.what);
        }
        if let Some(status) = self.child.as_mut().unwrap().try_wait().expect("try_wait") {
            self.child = None;
            return (status, false);
        }
        self.signal(libc::SIGTERM);
        if let Some(status) = self.wait_exit(STOP_DEADLINE) {
            return (status, false);
        }
        let mut child = self.child.take().unwrap();
        let _ = child.kill();
        (child.wait().expect("wait after SIGKILL"), true)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(dir) = self.scratch_dir.take() {
            if self.child.is_some() {
                self.stop();
            }
            let _ = std::fs::remove_dir_all(dir);
        }
        if self.child.is_some() {
            let (_, killed) = self.stop();
            if killed && !std::thread::panicking() {
                panic!(
                    "{} on port {} ignored SIGTERM for {STOP_DEADLINE:?}; log: {}",
                    self.what,
                    self.port,
                    self.log_text()
                );
            }
        }
    }
}

/// Options for starting TokenginX.
#[derive(Clone, Debug)]
pub struct Options {
    pub shards: usize,
    pub env: Vec<(String, String)>,
    pub password: Option<String>,
    /// The persistence directory; None gives the server a fresh one of its
    /// own, removed when it stops (tests must not share the default `data`).
    pub data_dir: Option<PathBuf>,
}

impl Options {
    pub fn shards(shards: usize) -> Self {
        Options {
            shards,
            env: Vec::new(),
            password: None,
            data_dir: None,
        }
    }

    /// Sets `security.requirepass` through the environment (never a flag).
    pub fn password(mut self, password: &str) -> Self {
        self.env
            .push(("TOKENGINX_SECURITY_REQUIREPASS".into(), password.into()));
        self.password = Some(password.into());
        self
    }

    /// Keeps the data in `dir`, which outlives the server (restart tests).
    pub fn data_dir(mut self, dir: &std::path::Path) -> Self {
        self.data_dir = Some(dir.to_path_buf());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// Starts TokenginX with `shards` shards and no password.
pub fn tokenginx(shards: usize) -> Process {
    tokenginx_with(Options::shards(shards))
}

/// Starts TokenginX and waits until it answers PING.
pub fn tokenginx_with(opts: Options) -> Process {
    let mut last_log = String::new();
    for _ in 0..START_ATTEMPTS {
        let mut proc = spawn_tokenginx(&opts);
        let port = proc.port;
        if wait_ready(&mut proc) {
            return proc;
        }
        last_log = proc.log_text();
        if proc.has_exited() {
            // Most likely the port was taken in the meantime: try another.
            proc.child = None;
            continue;
        }
        panic!("tokenginx on port {port} did not answer PING within {START_DEADLINE:?}; log:\n{last_log}");
    }
    panic!("tokenginx failed to start {START_ATTEMPTS} times; last log:\n{last_log}");
}

/// Starts TokenginX where it must refuse to start (damaged data, say):
/// waits up to [`START_DEADLINE`] for it to exit and returns its exit
/// status and log. Panics if it is still running by then.
pub fn tokenginx_refuses(opts: Options) -> (ExitStatus, String) {
    let mut proc = spawn_tokenginx(&opts);
    match proc.wait_exit(START_DEADLINE) {
        Some(status) => (status, proc.log_text()),
        None => {
            let log = proc.log_text();
            proc.stop();
            panic!("tokenginx was expected to refuse to start, but ran; log:\n{log}");
        }
    }
}

/// Spawns the binary on a free port with `opts`, without waiting for it.
fn spawn_tokenginx(opts: &Options) -> Process {
    let port = free_port();
    let log = log_path("tokenginx");
    let out = File::create(&log).expect("create log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenginx"));
    cmd.args([
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--shards",
        &opts.shards.to_string(),
    ])
    .args(["--log-level", "info"])
    .stdin(Stdio::null())
    .stdout(out.try_clone().expect("dup log"))
    .stderr(out);
    // Settings the developer's environment might carry must not leak in.
    for (key, _) in std::env::vars() {
        if key.starts_with("TOKENGINX_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_LOG");
    let scratch_dir = opts.data_dir.is_none().then(|| scratch_dir("data"));
    let data_dir = opts.data_dir.clone().or(scratch_dir.clone()).unwrap();
    cmd.env("TOKENGINX_PERSIST_DIR", &data_dir);
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn tokenginx");
    Process {
        child: Some(child),
        port,
        log,
        what: "tokenginx",
        scratch_dir,
    }
}

/// Whether `redis-server` is installed. Tests that compare against it skip
/// (with a message) when it is absent; `scripts/install-test-deps.sh`
/// installs it, so in CI they run.
pub fn have_redis_server() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Starts a reference `redis-server` without persistence. Differential
/// tests are worth nothing without it, so a missing one fails them (`make
/// test` installs it).
pub fn redis_server(extra: &[&str]) -> Process {
    assert!(
        have_redis_server(),
        "redis-server is not installed: run scripts/install-test-deps.sh"
    );
    let mut last_log = String::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port();
        let log = log_path("redis-server");
        let out = File::create(&log).expect("create log file");
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "no", "--protected-mode", "no"])
            .args(extra)
            .current_dir(env!("CARGO_TARGET_TMPDIR"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup log"))
            .stderr(out)
            .spawn()
            .expect("spawn redis-server");
        let mut proc = Process {
            child: Some(child),
            port,
            log,
            what: "redis-server",
            scratch_dir: None,
        };
        if wait_ready(&mut proc) {
            return proc;
        }
        last_log = proc.log_text();
        if proc.has_exited() {
            proc.child = None;
            continue;
        }
        panic!("redis-server on port {port} did not answer PING; log:\n{last_log}");
    }
    panic!("redis-server failed to start {START_ATTEMPTS} times; last log:\n{last_log}");
}

/// Polls with PING until the server answers (`+PONG`, or `-NOAUTH` when a
/// password is set), the process exits, or the deadline passes.
fn wait_ready(proc: &mut Process) -> bool {
    let until = Instant::now() + START_DEADLINE;
    while Instant::now() < until {
        if proc.has_exited() {
            return false;
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", proc.port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 64];
            if s.write_all(b"PING\r\n").is_ok() {
                if let Ok(n) = s.read(&mut buf) {
                    if buf[..n].starts_with(b"+PONG\r\n") || buf[..n].starts_with(b"-NOAUTH") {
                        return true;
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Encodes a command as a RESP multibulk request.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Length of the first complete RESP2/RESP3 reply in `buf`, None if more
/// bytes are needed. Panics on bytes that are not RESP.
pub fn reply_len(buf: &[u8]) -> Option<usize> {
    fn line_end(buf: &[u8], from: usize) -> Option<usize> {
        buf[from..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|i| from + i)
    }
    fn parse(buf: &[u8], at: usize) -> Option<usize> {
        let end = line_end(buf, at)?;
        let kind = *buf.get(at)?;
        let header = std::str::from_utf8(&buf[at + 1..end]).unwrap_or("");
        let next = end + 2;
        match kind {
            b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => Some(next),
            b'$' | b'!' | b'=' => {
                let n: i64 = header
                    .parse()
                    .unwrap_or_else(|_| panic!("bad bulk header {header:?}"));
                if n < 0 {
                    return Some(next);
                }
                let stop = next + n as usize + 2;
                (buf.len() >= stop).then_some(stop)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n: i64 = header
                    .parse()
                    .unwrap_or_else(|_| panic!("bad aggregate header {header:?}"));
                let count = if kind == b'%' || kind == b'|' {
                    n * 2
                } else {
                    n
                };
                let mut pos = next;
                for _ in 0..count.max(0) {
                    pos = parse(buf, pos)?;
                }
                if kind == b'|' {
                    // Attributes come before the reply they describe.
                    return parse(buf, pos);
                }
                Some(pos)
            }
            other => panic!(
                "not a RESP reply: type byte {:?} in {:?}",
                other as char,
                String::from_utf8_lossy(buf)
            ),
        }
    }
    parse(buf, 0)
}

/// A raw RESP connection with bounded reads.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn connect(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
    }

    /// Writes without panicking: the error tells whether the server closed.
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 65536];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The raw bytes of the next complete reply.
    pub fn reply(&mut self) -> Vec<u8> {
        self.try_reply().unwrap_or_else(|e| {
            panic!(
                "reading a reply: {e}; received so far: {:?}",
                show(&self.buf)
            )
        })
    }

    pub fn try_reply(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if !self.buf.is_empty() {
                if let Some(n) = reply_len(&self.buf) {
                    return Ok(self.buf.drain(..n).collect());
                }
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
        }
    }

    /// The raw bytes of the next `n` replies, concatenated.
    pub fn replies(&mut self, n: usize) -> Vec<u8> {
        (0..n).flat_map(|_| self.reply()).collect()
    }

    /// Sends a command and returns the raw bytes of its reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(&encode(args));
        self.reply()
    }

    /// Reads exactly `n` bytes (not necessarily whole replies).
    pub fn read_exact_bytes(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            match self.fill() {
                Ok(0) => panic!(
                    "connection closed after {:?}, expected {n} bytes",
                    show(&self.buf)
                ),
                Ok(_) => {}
                Err(e) => panic!(
                    "reading {n} bytes: {e}; received so far: {:?}",
                    show(&self.buf)
                ),
            }
        }
        self.buf.drain(..n).collect()
    }

    /// Everything the server sends until it closes the connection; panics if
    /// it neither closes nor sends within [`IO_TIMEOUT`].
    pub fn read_to_close(&mut self) -> Vec<u8> {
        loop {
            match self.fill() {
                Ok(0) => return std::mem::take(&mut self.buf),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return std::mem::take(&mut self.buf)
                }
                Err(e) => panic!(
                    "server did not close the connection ({e}); received: {:?}",
                    show(&self.buf)
                ),
            }
        }
    }

    /// Whatever arrives within `wait` (for asserting that nothing does).
    pub fn read_for(&mut self, wait: Duration) -> Vec<u8> {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let until = Instant::now() + wait;
        while Instant::now() < until {
            match self.fill() {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        self.stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        std::mem::take(&mut self.buf)
    }

    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Bytes shown readably in assertion messages.
pub fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if bytes.len() > 600 {
        let head: String = text.chars().take(600).collect();
        format!("{head:?}... ({} bytes)", bytes.len())
    } else {
        format!("{text:?}")
    }
}
