//! `tokenginx backup --to DIR`: asks a running server for a hot backup
//! (the BACKUP command) and waits until INFO says it is done. The directory
//! is written by the server, so it is a path on the server's machine; a
//! relative one is made absolute here first.
//!
//! A password, if the server needs one, comes from the environment
//! (TOKENGINX_SECURITY_REQUIREPASS), never from a flag.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub fn run(host: &str, port: u16, to: &Path, incremental: bool) -> ExitCode {
    match backup(host, port, to, incremental) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("backup failed: {e}");
            ExitCode::from(1)
        }
    }
}

fn backup(host: &str, port: u16, to: &Path, incremental: bool) -> io::Result<()> {
    let dir = std::path::absolute(to)?;
    let dir = dir
        .to_str()
        .ok_or_else(|| io::Error::other("the directory must be a UTF-8 path"))?;
    let stream = TcpStream::connect((host, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut conn = Conn {
        reader: BufReader::new(stream.try_clone()?),
        writer: stream,
    };
    if let Ok(password) = std::env::var("TOKENGINX_SECURITY_REQUIREPASS") {
        conn.call(&["AUTH", &password])?;
    }
    let mut args = vec!["BACKUP", dir];
    if incremental {
        args.push("INCREMENTAL");
    }
    conn.call(&args)?;
    loop {
        let info = conn.call(&["INFO", "persistence"])?;
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(str::to_string)
        };
        if field("backup_in_progress").as_deref() == Some("0") {
            return match field("backup_last_status").as_deref() {
                Some("ok") => {
                    println!("backup complete: {dir}");
                    Ok(())
                }
                _ => Err(io::Error::other("the server reports an error; see its log")),
            };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Just enough RESP for the commands above: their replies are simple
/// strings, errors and bulk strings.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn call(&mut self, args: &[&str]) -> io::Result<String> {
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.writer.write_all(req.as_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let line = line.trim_end();
        match line.split_at_checked(1) {
            Some(("+", text)) => Ok(text.to_string()),
            Some(("-", text)) => Err(io::Error::other(text.to_string())),
            Some(("$", len)) => {
                let len: usize = len
                    .parse()
                    .map_err(|_| io::Error::other("malformed reply"))?;
                let mut body = vec![0; len + 2];
                io::Read::read_exact(&mut self.reader, &mut body)?;
                body.truncate(len);
                String::from_utf8(body).map_err(|_| io::Error::other("malformed reply"))
            }
            _ => Err(io::Error::other(format!("unexpected reply {line:?}"))),
        }
    }
}
