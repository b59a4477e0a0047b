//! INFO: Redis's sections and field names (clients parse them: ioredis
//! waits for `loading:0`, health checks read `redis_version`), plus
//! TokenginX's own version and a line per shard.

use crate::conn::Conn;
use crate::conn_cmd::REDIS_VERSION;
use crate::event_loop::EventLoop;
use crate::ops::ShardStats;
use bytes::Bytes;
use proto::Reply;
use std::fmt::Write;

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "keyspace",
    "shards",
];
/// Sections only `INFO all` / `INFO everything` (or their own name) show.
const NOT_DEFAULT: &[&str] = &["modules", "errorstats", "cluster"];

/// What INFO was asked for, and the server facts known where it was asked.
pub struct InfoRequest {
    sections: Vec<String>,
    port: u16,
    shards: usize,
    hz: u32,
    maxclients: usize,
    started_ms: u64,
    now: u64,
    version: &'static str,
    git_sha: &'static str,
    maxmemory: u64,
    policy: &'static str,
    allocated: Option<fn() -> u64>,
    persist: PersistFacts,
}

/// What the shared persistence state said when INFO was asked.
struct PersistFacts {
    enabled: bool,
    appendfsync: &'static str,
    saving: bool,
    scheduled: bool,
    round_started_ms: u64,
    last_save_ms: u64,
    last_save_ok: bool,
    last_save_secs: Option<u64>,
    loading_started_ms: u64,
    backup_in_progress: bool,
    last_backup_ok: bool,
    last_backup_ms: u64,
    saves: u64,
    rewrites: u64,
}

impl InfoRequest {
    pub fn new(args: &[Bytes], lp: &EventLoop, _conn: &Conn) -> InfoRequest {
        let mut sections = Vec::new();
        for arg in args {
            let name = String::from_utf8_lossy(arg).to_ascii_lowercase();
            match name.as_str() {
                "default" => sections.extend(DEFAULT.iter().map(|s| s.to_string())),
                "all" | "everything" => {
                    sections.extend(DEFAULT.iter().chain(NOT_DEFAULT).map(|s| s.to_string()))
                }
                _ => sections.push(name),
            }
        }
        if args.is_empty() {
            sections = DEFAULT.iter().map(|s| s.to_string()).collect();
        }
        let c = &lp.shared.config;
        InfoRequest {
            sections,
            port: lp.shared.port,
            shards: c.shards,
            hz: c.hz,
            maxclients: c.maxclients,
            started_ms: lp.shared.started_ms,
            now: lp.now,
            version: c.version,
            git_sha: c.git_sha,
            maxmemory: lp.runtime.maxmemory,
            policy: lp.runtime.maxmemory_policy.name(),
            allocated: c.allocated,
            persist: {
                use std::sync::atomic::Ordering::Acquire;
                let ps = &lp.shared.persist;
                let secs = ps.last_save_secs.load(Acquire);
                PersistFacts {
                    enabled: c.persist.is_some(),
                    appendfsync: lp.runtime.appendfsync.name(),
                    saving: ps.saving.load(Acquire),
                    scheduled: ps.scheduled.load(Acquire),
                    round_started_ms: ps.round_started_ms.load(Acquire),
                    last_save_ms: ps.last_save_ms.load(Acquire),
                    last_save_ok: ps.last_save_ok.load(Acquire),
                    last_save_secs: (secs != u64::MAX).then_some(secs),
                    loading_started_ms: lp.shared.started_ms,
                    backup_in_progress: ps.backup_in_progress.load(Acquire),
                    last_backup_ok: ps.last_backup_ok.load(Acquire),
                    last_backup_ms: ps.last_backup_ms.load(Acquire),
                    saves: ps.saves.load(Acquire),
                    rewrites: ps.rewrites.load(Acquire),
                }
            },
        }
    }

    fn wants(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }
}

fn proc_status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn human(bytes: u64) -> String {
    let units = [("G", 1u64 << 30), ("M", 1 << 20), ("K", 1 << 10)];
    for (unit, size) in units {
        if bytes >= size {
            return format!("{:.2}{unit}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes}B")
}

fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage fills the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_stime), secs(usage.ru_utime))
}

fn run_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let mut bytes = [0u8; 20];
        if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
            let _ = std::io::Read::read_exact(&mut f, &mut bytes);
        }
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    })
}

/// Redis's field names where they apply: a snapshot round plays the part
/// of both BGSAVE and BGREWRITEAOF, the WAL that of the AOF.
fn persistence(req: &InfoRequest, shards: &[ShardStats]) -> String {
    let p = &req.persist;
    let loading: Vec<(u64, u64)> = shards.iter().filter_map(|s| s.persist.loading).collect();
    let mut out = format!(
        "loading:{}\r\nasync_loading:0\r\n",
        u8::from(!loading.is_empty())
    );
    if !loading.is_empty() {
        let read: u64 = loading.iter().map(|l| l.0).sum();
        let total: u64 = loading.iter().map(|l| l.1).sum();
        let perc = if total == 0 {
            0.0
        } else {
            100.0 * read as f64 / total as f64
        };
        let _ = write!(
            out,
            "loading_start_time:{}\r\nloading_total_bytes:{total}\r\nloading_loaded_bytes:{read}\r\nloading_loaded_perc:{perc:.2}\r\n",
            p.loading_started_ms / 1000
        );
    }
    let changes: u64 = shards.iter().map(|s| s.persist.changes).sum();
    let write_ok = shards.iter().all(|s| s.persist.write_ok);
    let status = |ok: bool| if ok { "ok" } else { "err" };
    let current = if p.saving {
        (req.now.saturating_sub(p.round_started_ms) / 1000) as i64
    } else {
        -1
    };
    let last = p.last_save_secs.map_or(-1, |s| s as i64);
    let _ = write!(
        out,
        "current_cow_peak:0\r\ncurrent_cow_size:0\r\nrdb_changes_since_last_save:{changes}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{last}\r\nrdb_current_bgsave_time_sec:{current}\r\nrdb_saves:{}\r\naof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{last}\r\naof_current_rewrite_time_sec:{current}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_last_write_status:{}\r\n",
        u8::from(p.saving),
        p.last_save_ms / 1000,
        status(p.last_save_ok),
        p.saves,
        u8::from(p.enabled),
        u8::from(p.saving),
        u8::from(p.scheduled),
        status(p.last_save_ok),
        p.rewrites,
        status(write_ok),
    );
    if p.enabled {
        let started: u64 = shards.iter().map(|s| s.persist.groups_started).sum();
        let durable: u64 = shards.iter().map(|s| s.persist.groups_durable).sum();
        let wal_bytes: u64 = shards
            .iter()
            .map(|s| s.persist.wal_bytes_since_snapshot)
            .sum();
        let _ = write!(
            out,
            "wal_appendfsync:{}\r\nwal_bytes_since_snapshot:{wal_bytes}\r\nwal_write_groups:{started}\r\nwal_durable_groups:{durable}\r\nbackup_in_progress:{}\r\nbackup_last_status:{}\r\nbackup_last_time:{}\r\n",
            p.appendfsync,
            u8::from(p.backup_in_progress),
            status(p.last_backup_ok),
            if p.last_backup_ms == 0 { -1 } else { (p.last_backup_ms / 1000) as i64 },
        );
    }
    out
}

pub fn render(req: &InfoRequest, mut shards: Vec<ShardStats>) -> Reply {
    shards.sort_by_key(|s| s.shard);
    let sum = |f: fn(&ShardStats) -> u64| shards.iter().map(f).sum::<u64>();
    let mut out = String::new();
    let mut section = |name: &str, title: &str, body: String| {
        if req.wants(name) {
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            let _ = write!(out, "# {title}\r\n{body}");
        }
    };
    let uptime = req.now.saturating_sub(req.started_ms) / 1000;
    let mut s = String::new();
    let _ = write!(
        s,
        "redis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:Linux {}\r\narch_bits:64\r\nmultiplexing_api:io_uring\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nexecutable:{}\r\nconfig_file:\r\ntokenginx_version:{}\r\ntokenginx_git_sha1:{}\r\nshards:{}\r\n",
        std::env::consts::ARCH,
        std::process::id(),
        run_id(),
        req.port,
        req.now * 1000,
        uptime / 86400,
        req.hz,
        req.hz,
        std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
        req.version,
        req.git_sha,
        req.shards,
    );
    section("server", "Server", s);
    // The caller's connection is out of its shard's table while its command
    // runs, so it is counted here.
    let clients = 1 + shards.iter().map(|s| s.connected_clients).sum::<usize>();
    let blocked = shards.iter().map(|s| s.blocked_clients).sum::<usize>();
    section(
        "clients",
        "Clients",
        format!("connected_clients:{clients}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{blocked}\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n", req.maxclients),
    );
    let rss = proc_status_kb("VmRSS:") * 1024;
    let peak = proc_status_kb("VmHWM:") * 1024;
    // The allocator's count when the binary keeps one; else the shards'
    // dataset estimates (what eviction compares against maxmemory).
    let dataset = sum(|s| s.used_memory);
    let used = req.allocated.map_or(dataset, |f| f());
    let fragmentation = if used == 0 {
        0.0
    } else {
        rss as f64 / used as f64
    };
    section(
        "memory",
        "Memory",
        format!(
            "used_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_dataset:{dataset}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{fragmentation:.2}\r\nmem_allocator:mimalloc\r\n",
            human(used),
            human(rss),
            human(peak),
            req.maxmemory,
            human(req.maxmemory),
            req.policy,
        ),
    );
    section("persistence", "Persistence", persistence(req, &shards));
    section(
        "stats",
        "Stats",
        format!(
            "total_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\ncross_shard_requests:{}\r\nreceive_buffers_exhausted:{}\r\n",
            sum(|s| s.total_connections),
            sum(|s| s.total_commands),
            sum(|s| s.net_input_bytes),
            sum(|s| s.net_output_bytes),
            sum(|s| s.rejected_connections),
            sum(|s| s.expired),
            sum(|s| s.evicted),
            sum(|s| s.hits),
            sum(|s| s.misses),
            sum(|s| s.pubsub_channels),
            sum(|s| s.pubsub_patterns),
            sum(|s| s.cross_shard_requests),
            sum(|s| s.receive_buffers_exhausted),
        ),
    );
    section(
        "replication",
        "Replication",
        "role:master\r\nconnected_slaves:0\r\nmaster_repl_offset:0\r\n".into(),
    );
    let (sys, user) = cpu_times();
    section(
        "cpu",
        "CPU",
        format!("used_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n"),
    );
    section("modules", "Modules", String::new());
    section("errorstats", "Errorstats", String::new());
    section("cluster", "Cluster", "cluster_enabled:0\r\n".into());
    let mut dbs: std::collections::BTreeMap<usize, (usize, usize)> = Default::default();
    for s in &shards {
        for &(db, keys, expires) in &s.keyspace {
            let e = dbs.entry(db).or_default();
            e.0 += keys;
            e.1 += expires;
        }
    }
    let mut ks = String::new();
    for (db, (keys, expires)) in dbs {
        let _ = write!(ks, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
    }
    section("keyspace", "Keyspace", ks);
    let mut per_shard = String::new();
    for s in &shards {
        let keys: usize = s.keyspace.iter().map(|k| k.1).sum();
        let expires: usize = s.keyspace.iter().map(|k| k.2).sum();
        let lookups = s.hits + s.misses;
        let ratio = if lookups == 0 {
            0.0
        } else {
            s.hits as f64 / lookups as f64
        };
        let _ = write!(
            per_shard,
            "shard{}:keys={keys},expires={expires},clients={},commands={},keyspace_hits={},keyspace_misses={},hit_ratio={ratio:.4},expired_keys={},evicted_keys={},used_memory={},maxmemory={},cross_shard_requests={}\r\n",
            s.shard, s.connected_clients, s.total_commands, s.hits, s.misses, s.expired, s.evicted, s.used_memory, s.maxmemory, s.cross_shard_requests
        );
    }
    section("shards", "Shards", per_shard);
    Reply::Verbatim("txt", Bytes::from(out))
}
