use super::settings::Shards;
use super::*;
use std::path::Path;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn no_env() -> BTreeMap<String, String> {
    BTreeMap::new()
}

/// A file under the system temp dir, unique per test, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, content: &str) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("tokenginx-config-{}-{name}", std::process::id()));
        std::fs::write(&path, content).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn with_file(file: &TempFile) -> Overrides {
    Overrides {
        config_file: Some(file.path().to_path_buf()),
        ..Overrides::default()
    }
}

fn error(overrides: &Overrides, env: &BTreeMap<String, String>) -> String {
    load(overrides, env).unwrap_err().to_string()
}

fn file_error(name: &str, content: &str) -> String {
    let file = TempFile::new(name, content);
    error(&with_file(&file), &no_env())
}

#[test]
fn embedded_defaults_match_the_documented_values() {
    let s = load(&Overrides::default(), &no_env()).unwrap();
    assert_eq!(s.server.bind.to_string(), "127.0.0.1");
    assert_eq!(s.server.port, 6380);
    assert_eq!(s.server.shards, Shards::Auto);
    assert!(s.server.pin_cores);
    assert_eq!(s.server.maxclients, 10_000);
    assert_eq!(s.server.timeout_secs, 0);
    assert_eq!(s.server.tcp_keepalive, 300);
    assert_eq!(s.server.tcp_backlog, 511);
    assert_eq!(s.server.hz, 10);
    assert_eq!(s.server.io_ring_entries, 4096);
    assert_eq!(s.server.http_port, 8080);
    assert_eq!(s.server.grpc_port, 50051);
    assert_eq!(s.limits.proto_max_bulk_len, 512 << 20);
    assert_eq!(s.limits.client_query_buffer_limit, 1 << 30);
    assert!(s.security.requirepass.is_none());
    assert_eq!(s.log.filter, LogFilter::Level("info".into()));
    assert_eq!(s.log.format, LogFormat::Text);
    assert!(s.origins.is_empty());
}

#[test]
fn defaults_agree_with_the_network_layer() {
    let s = load(&Overrides::default(), &no_env()).unwrap();
    let ours = s.server_config(1);
    let theirs = net::ServerConfig::default();
    assert_eq!(ours.bind, theirs.bind);
    assert_eq!(ours.port, theirs.port);
    assert_eq!(ours.maxclients, theirs.maxclients);
    assert_eq!(ours.max_bulk_len, theirs.max_bulk_len);
    assert_eq!(ours.query_buffer_limit, theirs.query_buffer_limit);
    assert_eq!(ours.output_limit_normal, theirs.output_limit_normal);
    assert_eq!(ours.output_limit_pubsub, theirs.output_limit_pubsub);
    assert_eq!(ours.notify_keyspace_events, theirs.notify_keyspace_events);
    assert_eq!(ours.idle_timeout, theirs.idle_timeout);
    assert_eq!(ours.hz, theirs.hz);
    assert_eq!(ours.ring_entries, theirs.ring_entries);
    assert_eq!(ours.tcp_keepalive, theirs.tcp_keepalive);
    assert_eq!(ours.backlog, theirs.backlog);
    assert_eq!(ours.maxmemory, theirs.maxmemory);
    assert_eq!(ours.maxmemory_policy, theirs.maxmemory_policy);
    assert_eq!(ours.requirepass, None);
    assert_eq!(ours.version, env!("CARGO_PKG_VERSION"));
    assert!(!ours.git_sha.is_empty());
}

#[test]
fn pubsub_settings_reach_the_network_layer() {
    let vars = env(&[
        ("TOKENGINX_SERVER_NOTIFY_KEYSPACE_EVENTS", "Ex"),
        (
            "TOKENGINX_LIMITS_CLIENT_OUTPUT_BUFFER_LIMIT_PUBSUB",
            "1mb 512kb 5",
        ),
    ]);
    let net = load(&Overrides::default(), &vars).unwrap().server_config(1);
    assert_eq!(
        net.notify_keyspace_events,
        net::parse_notify_flags(b"xE").unwrap()
    );
    let out = net.output_limit_pubsub;
    assert_eq!(
        (out.hard, out.soft, out.soft_seconds),
        (1 << 20, 512 << 10, 5)
    );
}

#[test]
fn memory_limit_settings_reach_the_network_layer() {
    let vars = env(&[
        ("TOKENGINX_LIMITS_MAXMEMORY", "100MB"),
        ("TOKENGINX_LIMITS_MAXMEMORY_POLICY", "Volatile-TTL"),
    ]);
    let net = load(&Overrides::default(), &vars).unwrap().server_config(1);
    assert_eq!(net.maxmemory, 100 << 20);
    assert_eq!(net.maxmemory_policy, shard::evict::Policy::VolatileTtl);
    assert!(net.allocated.is_some(), "INFO reads the allocator's count");
    let e = error(
        &Overrides::default(),
        &env(&[("TOKENGINX_LIMITS_MAXMEMORY", "1.5gb")]),
    );
    assert!(e.contains("limits.maxmemory = \"1.5gb\""), "{e}");
    let e = error(
        &Overrides::default(),
        &env(&[("TOKENGINX_LIMITS_MAXMEMORY_POLICY", "lru")]),
    );
    assert!(e.contains("must be one of noeviction, allkeys-lru"), "{e}");
}

#[test]
fn auto_shards_follow_the_core_count() {
    let s = load(&Overrides::default(), &no_env()).unwrap();
    assert_eq!(s.server_config(6).shards, 6);
    assert_eq!(s.server_config(0).shards, 1);
    let fixed = Overrides {
        shards: Some("3".into()),
        ..Overrides::default()
    };
    assert_eq!(load(&fixed, &no_env()).unwrap().server_config(6).shards, 3);
}

#[test]
fn a_user_file_changes_only_what_it_names() {
    let file = TempFile::new(
        "partial.toml",
        "[server]\nport = 7000\nshards = 2\n[limits]\nclient_output_buffer_limit_normal = \"256mb 64mb 60\"\n",
    );
    let s = load(&with_file(&file), &no_env()).unwrap();
    assert_eq!(s.server.port, 7000);
    assert_eq!(s.server.shards, Shards::Count(2));
    assert_eq!(s.server.maxclients, 10_000);
    let out = s.server_config(1).output_limit_normal;
    assert_eq!(
        (out.hard, out.soft, out.soft_seconds),
        (256 << 20, 64 << 20, 60)
    );
    assert_eq!(
        s.origins.get("server.port").map(String::as_str),
        Some(file.path().to_str().unwrap())
    );
}

#[test]
fn precedence_is_flags_then_env_then_file_then_defaults() {
    let file = TempFile::new(
        "precedence.toml",
        "[server]\nport = 7000\nhz = 20\nmaxclients = 50\n",
    );
    let vars = env(&[
        ("TOKENGINX_SERVER_PORT", "7001"),
        ("TOKENGINX_SERVER_HZ", "30"),
    ]);
    let mut overrides = with_file(&file);
    overrides.port = Some("7002".into());
    let s = load(&overrides, &vars).unwrap();
    assert_eq!(s.server.port, 7002, "flag beats env and file");
    assert_eq!(s.server.hz, 30, "env beats file");
    assert_eq!(s.server.maxclients, 50, "file beats defaults");
    assert_eq!(s.server.tcp_backlog, 511, "defaults fill the rest");
    assert_eq!(s.origins["server.port"], "--port");
    assert_eq!(s.origins["server.hz"], "TOKENGINX_SERVER_HZ");
}

#[test]
fn environment_overrides_every_kind_of_value() {
    let vars = env(&[
        ("TOKENGINX_SERVER_BIND", "::1"),
        ("TOKENGINX_SERVER_SHARDS", "4"),
        ("TOKENGINX_SERVER_PIN_CORES", "false"),
        ("TOKENGINX_LIMITS_PROTO_MAX_BULK_LEN", "64mb"),
        ("TOKENGINX_LIMITS_CLIENT_QUERY_BUFFER_LIMIT", "2097152"),
        ("TOKENGINX_SECURITY_REQUIREPASS", "s3cret"),
        ("TOKENGINX_LOG_FORMAT", "json"),
        ("HOME", "/root"),
    ]);
    let s = load(&Overrides::default(), &vars).unwrap();
    assert_eq!(s.server.bind.to_string(), "::1");
    assert_eq!(s.server.shards, Shards::Count(4));
    assert!(!s.server.pin_cores);
    assert_eq!(s.limits.proto_max_bulk_len, 64 << 20);
    assert_eq!(s.limits.client_query_buffer_limit, 2 << 20);
    assert_eq!(s.server_config(1).requirepass.as_deref(), Some("s3cret"));
    assert_eq!(s.log.format, LogFormat::Json);
}

#[test]
fn out_of_range_values_name_key_value_and_range() {
    assert_eq!(
        file_error("port.toml", "[server]\nport = 70000\n"),
        format!(
            "server.port = 70000 (from {}): must be 0..=65535",
            std::env::temp_dir()
                .join(format!("tokenginx-config-{}-port.toml", std::process::id()))
                .display()
        )
    );
    let flag = Overrides {
        port: Some("70000".into()),
        ..Overrides::default()
    };
    assert_eq!(
        error(&flag, &no_env()),
        "server.port = 70000 (from --port): must be 0..=65535"
    );
    let zero = Overrides {
        shards: Some("0".into()),
        ..Overrides::default()
    };
    assert_eq!(
        error(&zero, &no_env()),
        "server.shards = \"0\" (from --shards): must be \"auto\" or 1..=1024"
    );
}

#[test]
fn every_validated_key_rejects_bad_values() {
    let cases = [
        ("[server]\nshards = 0\n", "server.shards = 0"),
        ("[server]\nshards = \"many\"\n", "server.shards = \"many\""),
        ("[server]\nbind = \"localhost:80\"\n", "server.bind"),
        ("[server]\nmaxclients = 0\n", "server.maxclients = 0"),
        ("[server]\ntimeout = -1\n", "server.timeout = -1"),
        ("[server]\ntcp_backlog = 0\n", "server.tcp_backlog = 0"),
        ("[server]\nhz = 501\n", "server.hz = 501"),
        ("[server]\nio_ring_entries = 1000\n", "power of two"),
        (
            "[server]\nio_ring_entries = 65536\n",
            "server.io_ring_entries",
        ),
        (
            "[server]\nhttp_port = 6380\n",
            "must differ from server.port",
        ),
        (
            "[server]\ngrpc_port = 8080\n",
            "must differ from server.http_port",
        ),
        (
            "[limits]\nproto_max_bulk_len = \"12zb\"\n",
            "limits.proto_max_bulk_len = \"12zb\"",
        ),
        ("[limits]\nproto_max_bulk_len = \"1kb\"\n", "at least 1mb"),
        (
            "[limits]\nclient_query_buffer_limit = -5\n",
            "client_query_buffer_limit = -5",
        ),
        (
            "[limits]\nclient_output_buffer_limit_normal = \"1mb\"\n",
            "<hard> <soft>",
        ),
        (
            "[limits]\nclient_output_buffer_limit_pubsub = \"32mb\"\n",
            "limits.client_output_buffer_limit_pubsub",
        ),
        (
            "[server]\nnotify_keyspace_events = \"KEQ\"\n",
            "server.notify_keyspace_events = \"KEQ\"",
        ),
        ("[log]\nlevel = \"loud\"\n", "log.level = \"loud\" (from "),
        ("[log]\nformat = \"xml\"\n", "log.format = \"xml\""),
    ];
    for (i, (content, expected)) in cases.iter().enumerate() {
        let message = file_error(&format!("bad-{i}.toml"), content);
        assert!(message.contains(expected), "{content:?} gave {message:?}");
        assert!(!message.contains('\n'), "{message:?}");
    }
}

#[test]
fn type_errors_and_unknown_keys_name_the_key() {
    let message = file_error("type.toml", "[server]\nport = \"high\"\n");
    assert!(message.starts_with("server.port (from "), "{message}");
    assert!(message.contains("expected an integer"), "{message}");

    let message = file_error("bool.toml", "[server]\npin_cores = \"yes\"\n");
    assert!(message.starts_with("server.pin_cores"), "{message}");

    let message = file_error("unknown.toml", "[server]\nprot = 1\n");
    assert!(message.contains("unknown field `prot`"), "{message}");
    assert!(message.contains("server"), "{message}");

    let message = file_error("section.toml", "[sever]\nport = 1\n");
    assert!(message.contains("unknown field `sever`"), "{message}");
}

#[test]
fn syntax_errors_and_missing_files_are_reported() {
    let message = file_error("syntax.toml", "[server\nport = 1\n");
    assert!(message.contains("line 1: invalid TOML"), "{message}");
    let missing = Overrides {
        config_file: Some("/nonexistent/tokenginx.toml".into()),
        ..Overrides::default()
    };
    assert!(error(&missing, &no_env())
        .starts_with("--config /nonexistent/tokenginx.toml: cannot read:"));
}

#[test]
fn requirepass_comes_from_a_file_without_its_newline() {
    let secret = TempFile::new("secret", "from-file\n");
    let vars = env(&[(
        "TOKENGINX_SECURITY_REQUIREPASS_FILE",
        secret.path().to_str().unwrap(),
    )]);
    let s = load(&Overrides::default(), &vars).unwrap();
    assert_eq!(s.server_config(1).requirepass.as_deref(), Some("from-file"));
    assert!(!format!("{s:?}").contains("from-file"), "Debug must redact");
}

#[test]
fn requirepass_file_problems_stop_start_up() {
    let vars = env(&[("TOKENGINX_SECURITY_REQUIREPASS_FILE", "/nonexistent/secret")]);
    let message = error(&Overrides::default(), &vars);
    assert!(
        message.starts_with("security.requirepass_file = \"/nonexistent/secret\" (from TOKENGINX_SECURITY_REQUIREPASS_FILE): cannot read"),
        "{message}"
    );

    let empty = TempFile::new("empty-secret", "\n");
    let vars = env(&[(
        "TOKENGINX_SECURITY_REQUIREPASS_FILE",
        empty.path().to_str().unwrap(),
    )]);
    assert!(error(&Overrides::default(), &vars).contains("file is empty"));

    let secret = TempFile::new("both-secret", "x");
    let vars = env(&[
        ("TOKENGINX_SECURITY_REQUIREPASS", "y"),
        (
            "TOKENGINX_SECURITY_REQUIREPASS_FILE",
            secret.path().to_str().unwrap(),
        ),
    ]);
    assert!(error(&Overrides::default(), &vars).contains("not both"));
}

#[test]
fn rust_log_sets_directives_unless_a_flag_does() {
    let vars = env(&[("RUST_LOG", "info,net=debug")]);
    let s = load(&Overrides::default(), &vars).unwrap();
    assert_eq!(s.log.filter, LogFilter::Directives("info,net=debug".into()));

    let flag = Overrides {
        log_level: Some("warn".into()),
        ..Overrides::default()
    };
    let s = load(&flag, &vars).unwrap();
    assert_eq!(s.log.filter, LogFilter::Level("warn".into()));

    let bad = env(&[("RUST_LOG", "net=loudest")]);
    assert!(error(&Overrides::default(), &bad).starts_with("RUST_LOG = "));
}

#[test]
fn check_config_output_redacts_secrets_and_shows_origins() {
    let vars = env(&[("TOKENGINX_SECURITY_REQUIREPASS", "hunter2")]);
    let flag = Overrides {
        port: Some("7100".into()),
        ..Overrides::default()
    };
    let s = load(&flag, &vars).unwrap();
    let text = render(&s, 4);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("requirepass = \"<redacted>\""), "{text}");
    assert!(text.contains("port = 7100  # from --port"), "{text}");
    assert!(text.contains("4 shard(s) on this machine"), "{text}");
    // The output is itself a valid configuration.
    assert!(text.parse::<toml::Table>().is_ok(), "{text}");
}
