//! Command-line flags. Passwords are deliberately not flags: any user can
//! read another process's arguments with `ps`.

use crate::build_info::VERSION_LINE;
use crate::config::Overrides;
use clap::Parser;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tokenginx",
    version = VERSION_LINE,
    about = "Session and token store for single sign-on, speaking the Redis protocol",
    after_help = "Precedence: flags > TOKENGINX_<SECTION>_<KEY> environment variables > \
                  --config file > built-in defaults.\n\
                  Passwords: security.requirepass in the file, TOKENGINX_SECURITY_REQUIREPASS, \
                  or TOKENGINX_SECURITY_REQUIREPASS_FILE."
)]
pub struct Cli {
    /// TOML file laid over the built-in defaults; it only needs the keys it changes.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on (server.bind).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,

    /// RESP port, 0 for any free port (server.port).
    #[arg(long, value_name = "PORT")]
    pub port: Option<String>,

    /// "auto" (one per core) or a number (server.shards).
    #[arg(long, value_name = "N")]
    pub shards: Option<String>,

    /// trace, debug, info, warn, error or off (log.level).
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// Validate the configuration, print the effective values with secrets
    /// redacted, and exit.
    #[arg(long)]
    pub check_config: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Tools that run instead of the server.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Verify every record of the write-ahead log under DIR (every shard-NNN
    /// in it) without changing anything; exit 1 if damage is found.
    CheckData {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Take a hot backup of a running server into DIR (a new, empty
    /// directory on the server's machine), consistent across shards; with
    /// --incremental, add the WAL written since the last backup in DIR.
    /// Start a server with persist.dir = DIR to restore. A password comes
    /// from TOKENGINX_SECURITY_REQUIREPASS.
    Backup {
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        #[arg(long)]
        incremental: bool,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 6380)]
        port: u16,
    },
}

impl Cli {
    /// Flags go through the same conversion and validation as every other
    /// layer (hence strings here), so `--port 70000` gets the same message as
    /// `port = 70000` in a file.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            bind: self.bind.clone(),
            port: self.port.clone(),
            shards: self.shards.clone(),
            log_level: self.log_level.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::path::Path;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn check_data_takes_a_directory() {
        let cli = Cli::try_parse_from(["tokenginx", "check-data", "/var/lib/tgx"]).unwrap();
        assert!(
            matches!(cli.command, Some(Command::CheckData { dir }) if dir == Path::new("/var/lib/tgx"))
        );
        assert!(Cli::try_parse_from(["tokenginx", "check-data"]).is_err());
    }

    #[test]
    fn there_is_no_password_flag() {
        assert!(Cli::try_parse_from(["tokenginx", "--requirepass", "x"]).is_err());
    }

    #[test]
    fn flags_become_overrides() {
        let cli = Cli::try_parse_from(["tokenginx", "--port", "7000", "--shards", "auto"]).unwrap();
        let o = cli.overrides();
        assert_eq!(o.port.as_deref(), Some("7000"));
        assert_eq!(o.shards.as_deref(), Some("auto"));
        assert!(o.bind.is_none() && o.config_file.is_none());
    }
}
