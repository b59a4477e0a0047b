//! The `tokenginx` binary: reads the configuration, starts the shards and
//! their listeners, and stops them on SIGINT or SIGTERM.
//!
//! Exit codes: 0 after a clean shutdown (or `--check-config` on a valid
//! configuration), 2 for an invalid configuration or command line, 1 when the
//! server cannot start or fails while running. `check-data` exits 0 when the
//! log is sound (a torn tail included) and 1 on damage or a read error.

mod alloc_count;
mod backup_cli;
mod build_info;
mod check_data;
mod cli;
mod config;
mod fd_limit;
mod logging;
mod signals;

use anyhow::Context;
use clap::Parser;
use config::{ConfigError, Settings};
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

// mimalloc keeps per-thread heaps, which suits one long-lived thread per
// shard far better than the system allocator's shared arenas. Counted for
// INFO's used_memory.
#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting(mimalloc::MiMalloc);

const EXIT_RUNTIME: u8 = 1;
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    // clap itself exits with 2 on a malformed command line, 0 on --help.
    let cli = cli::Cli::parse();
    match &cli.command {
        Some(cli::Command::CheckData { dir }) => return check_data::run(dir),
        Some(cli::Command::Backup {
            to,
            incremental,
            host,
            port,
        }) => return backup_cli::run(host, *port, to, *incremental),
        None => {}
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(config) = err.downcast_ref::<ConfigError>() {
                eprintln!("config error: {config}");
                return ExitCode::from(EXIT_CONFIG);
            }
            // Once logging is up, the failure goes where the logs go (JSON
            // collectors included); before that only stderr is there.
            if tracing::dispatcher::has_been_set() {
                tracing::error!("{err:#}");
            } else {
                eprintln!("error: {err:#}");
            }
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn run(cli: &cli::Cli) -> anyhow::Result<()> {
    let env = process_env()?;
    let settings = config::load(&cli.overrides(), &env)?;
    let cores = available_cores();

    if cli.check_config {
        print!("{}", config::render(&settings, cores));
        return Ok(());
    }

    logging::init(&settings)?;
    let server_config = settings.server_config(cores);
    fd_limit::ensure(server_config.maxclients);

    // Installed before the server starts so a signal during start-up is
    // queued rather than killing the process half-way.
    let signal_watch = signals::install().context("cannot install signal handlers")?;
    let addr = SocketAddr::new(server_config.bind, server_config.port);
    let handle =
        net::ServerHandle::start(server_config.clone()).map_err(|e| start_error(e, addr))?;
    log_started(&settings, &server_config, handle.port());

    let signal_handle = signal_watch
        .watch(handle.shutdown_trigger())
        .context("cannot start the signal thread")?;
    let result = handle.wait();
    signal_handle.close();
    result.context("server stopped with an error")?;
    tracing::info!("stopped");
    Ok(())
}

/// The environment as UTF-8 strings. A variable meant for TokenginX that is
/// not UTF-8 is refused rather than skipped, since skipping it would silently
/// fall back to a default.
fn process_env() -> Result<BTreeMap<String, String>, ConfigError> {
    let mut env = BTreeMap::new();
    for (key, value) in std::env::vars_os() {
        match (key.into_string(), value.into_string()) {
            (Ok(key), Ok(value)) => {
                env.insert(key, value);
            }
            (Ok(key), Err(_)) if key.starts_with("TOKENGINX_") || key == "RUST_LOG" => {
                return Err(ConfigError::new(format!(
                    "environment variable {key}: value is not valid UTF-8"
                )));
            }
            _ => {}
        }
    }
    Ok(env)
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Turns the common bind failures into advice; anything else keeps the OS message.
fn start_error(err: io::Error, addr: SocketAddr) -> anyhow::Error {
    let advice = match err.kind() {
        io::ErrorKind::AddrInUse => {
            "address already in use: another server holds this port; \
             choose another with --port, TOKENGINX_SERVER_PORT or server.port"
        }
        io::ErrorKind::AddrNotAvailable => {
            "address not available on this host; check --bind or server.bind"
        }
        io::ErrorKind::PermissionDenied => {
            "permission denied; ports below 1024 need CAP_NET_BIND_SERVICE"
        }
        _ => return anyhow::Error::new(err).context(format!("cannot start on {addr}")),
    };
    anyhow::anyhow!("cannot listen on {addr}: {advice}")
}

fn log_started(settings: &Settings, config: &net::ServerConfig, port: u16) {
    let auth = if config.requirepass.is_some() {
        "required"
    } else {
        "disabled"
    };
    let config_file = settings
        .config_file
        .as_ref()
        .map_or_else(|| "built-in".to_string(), |p| p.display().to_string());
    tracing::info!(
        version = config.version,
        git_sha = config.git_sha,
        bind = %config.bind,
        port,
        shards = config.shards,
        pin_cores = config.pin_cores,
        auth,
        config = %config_file,
        "tokenginx started"
    );
    if !config.bind.is_loopback() && config.requirepass.is_none() {
        tracing::warn!(
            bind = %config.bind,
            "listening beyond loopback without a password: anyone who can reach \
             this port can read and revoke tokens; set security.requirepass"
        );
    }
    tracing::debug!(
        http_port = settings.server.http_port,
        grpc_port = settings.server.grpc_port,
        "HTTP and gRPC doors are planned; nothing listens on their ports yet"
    );
}
