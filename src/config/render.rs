//! `--check-config` output: the effective configuration as TOML, each value
//! that is not a default followed by the layer that set it. Secrets are
//! replaced by a placeholder so the output can be pasted into a ticket.

use super::settings::{LogFilter, LogFormat, Settings, Shards};
use super::size::format_size;
use std::fmt::Write;
use toml::Value;

const REDACTED: &str = "<redacted>";

pub fn render(settings: &Settings, cores: usize) -> String {
    let mut out = String::new();
    let file = match &settings.config_file {
        Some(path) => path.display().to_string(),
        None => "none (built-in defaults)".to_string(),
    };
    let _ = writeln!(out, "# TokenginX effective configuration: valid");
    let _ = writeln!(out, "# config file: {file}");

    let s = &settings.server;
    let mut w = Writer {
        out,
        settings,
        section: "",
    };
    w.section("server");
    w.line("bind", string(&s.bind.to_string()), None);
    w.line("port", s.port.to_string(), None);
    let shards = match s.shards {
        Shards::Auto => string("auto"),
        Shards::Count(n) => n.to_string(),
    };
    let resolved = format!("{} shard(s) on this machine", s.shards.resolve(cores));
    w.line("shards", shards, Some(resolved));
    w.line("pin_cores", s.pin_cores.to_string(), None);
    w.line("maxclients", s.maxclients.to_string(), None);
    w.line("timeout", s.timeout_secs.to_string(), None);
    w.line("tcp_keepalive", s.tcp_keepalive.to_string(), None);
    w.line("tcp_backlog", s.tcp_backlog.to_string(), None);
    w.line("hz", s.hz.to_string(), None);
    w.line("io_ring_entries", s.io_ring_entries.to_string(), None);
    w.line(
        "notify_keyspace_events",
        string(&s.notify_keyspace_events),
        None,
    );
    let planned = Some("planned, not listening yet".to_string());
    w.line("http_port", s.http_port.to_string(), planned.clone());
    w.line("grpc_port", s.grpc_port.to_string(), planned);

    let l = &settings.limits;
    w.section("limits");
    w.line(
        "proto_max_bulk_len",
        string(&format_size(l.proto_max_bulk_len)),
        None,
    );
    w.line(
        "client_query_buffer_limit",
        string(&format_size(l.client_query_buffer_limit)),
        None,
    );
    w.line(
        "client_output_buffer_limit_normal",
        string(&l.client_output_buffer_limit_normal.render()),
        None,
    );
    w.line(
        "client_output_buffer_limit_pubsub",
        string(&l.client_output_buffer_limit_pubsub.render()),
        None,
    );
    w.line(
        "maxmemory",
        string(&format_size(l.maxmemory)),
        (l.maxmemory == 0).then(|| "no limit".to_string()),
    );
    w.line("maxmemory_policy", string(l.maxmemory_policy.name()), None);

    let sec = &settings.security;
    w.section("security");
    let (password, note) = match (&sec.requirepass, &sec.requirepass_file) {
        (None, _) => (string(""), Some("no AUTH required".to_string())),
        (Some(_), Some(_)) => (string(REDACTED), Some("read from requirepass_file".into())),
        (Some(_), None) => (string(REDACTED), None),
    };
    w.line("requirepass", password, note);
    let file = sec
        .requirepass_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    w.line("requirepass_file", string(&file), None);

    let log = &settings.log;
    w.section("log");
    let level = match &log.filter {
        LogFilter::Level(level) | LogFilter::Directives(level) => string(level),
    };
    w.line("level", level, None);
    let format = match log.format {
        LogFormat::Text => "text",
        LogFormat::Json => "json",
    };
    w.line("format", string(format), None);

    let p = &settings.persist;
    w.section("persist");
    let dir = p.dir.as_ref().map(|d| d.display().to_string());
    let memory_only = dir
        .is_none()
        .then(|| "memory only: nothing survives a restart".to_string());
    w.line("dir", string(&dir.unwrap_or_default()), memory_only);
    w.line("appendfsync", string(p.appendfsync.name()), None);
    let on_corruption = if p.truncate_on_corruption {
        "truncate"
    } else {
        "stop"
    };
    w.line("on_corruption", string(on_corruption), None);
    w.line("save", string(&p.save), None);
    w.line(
        "snapshot_wal_size",
        string(&format_size(p.snapshot_wal_size)),
        None,
    );
    w.line(
        "wal_segment_size",
        string(&format_size(p.wal_segment_size)),
        None,
    );
    w.line("direct_io", p.direct_io.to_string(), None);
    w.out
}

fn string(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

struct Writer<'a> {
    out: String,
    settings: &'a Settings,
    section: &'static str,
}

impl Writer<'_> {
    fn section(&mut self, name: &'static str) {
        self.section = name;
        let _ = writeln!(self.out, "\n[{name}]");
    }

    fn line(&mut self, key: &str, value: String, note: Option<String>) {
        let origin = self
            .settings
            .origins
            .get(&format!("{}.{key}", self.section))
            .map(|o| format!("from {o}"));
        let notes: Vec<String> = origin.into_iter().chain(note).collect();
        if notes.is_empty() {
            let _ = writeln!(self.out, "{key} = {value}");
        } else {
            let _ = writeln!(self.out, "{key} = {value}  # {}", notes.join("; "));
        }
    }
}
