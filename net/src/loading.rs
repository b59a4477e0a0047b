//! Start-up: the data directory made ready (re-sharded if the shard count
//! changed), then each shard loading its snapshot and WAL tail a slice at a
//! time inside its own event loop, answering -LOADING meanwhile, and
//! continuing its log in a new segment.

use crate::config::{AppendFsync, PersistConfig};
use crate::event_loop::EventLoop;
use crate::wal::LoopWal;
use persist::wal::{WalWriter, WriterOptions};
use shard::recover::{LoadOptions, Loader};
use std::io;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Time one loop iteration spends loading before it looks at its clients.
const LOAD_SLICE: Duration = Duration::from_millis(5);
/// How often a long load logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct Loading {
    loader: Loader,
    started: Instant,
    next_log: Instant,
}

/// Creates the data directory and brings the data in it to `shards`
/// shards, before any event loop runs.
pub(crate) fn prepare_data_dir(cfg: &PersistConfig, shards: usize) -> io::Result<()> {
    std::fs::create_dir_all(&cfg.dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot create data directory {}: {e}", cfg.dir.display()),
        )
    })?;
    let shards = shards as u32;
    let previous = shard::reshard::previous_shard_count(&cfg.dir)?;
    if let Some(n) = previous.filter(|&n| n != shards) {
        tracing::info!(
            dir = %cfg.dir.display(),
            "the data was written with {n} shards: re-sharding it to {shards}"
        );
    }
    let started = Instant::now();
    let summary = shard::reshard::reshard(
        &cfg.dir,
        shards,
        cfg.on_corruption,
        crate::event_loop::unix_ms(),
        &mut |line| tracing::info!("{line}"),
    )
    .map_err(io::Error::other)?;
    for warning in &summary.warnings {
        tracing::warn!("{warning}");
    }
    if previous.is_some_and(|n| n != shards) {
        tracing::info!(
            "re-sharded {} keys from {} to {} shards in {:.2} s",
            summary.keys,
            summary.from,
            summary.to,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

impl EventLoop {
    /// Opens this shard's snapshot and log; loading happens in
    /// [`EventLoop::load_step`].
    pub(crate) fn begin_loading(&mut self) -> io::Result<()> {
        let Some(cfg) = &self.shared.config.persist else {
            return Ok(());
        };
        let loader = Loader::open(LoadOptions {
            dir: cfg.dir.clone(),
            shard: self.id as u32,
            shards: self.shard.count as u32,
            on_corruption: cfg.on_corruption,
        })
        .map_err(|e| io::Error::other(format!("shard {}: {e}", self.id)))?;
        let now = Instant::now();
        self.loading = Some(Loading {
            loader,
            started: now,
            next_log: now + PROGRESS_EVERY,
        });
        Ok(())
    }

    /// One slice of loading; once everything is in, the log goes on.
    pub(crate) fn load_step(&mut self) -> io::Result<()> {
        let Some(loading) = self.loading.as_mut() else {
            return Ok(());
        };
        let done = loading
            .loader
            .step(&mut self.shard, self.now, LOAD_SLICE)
            .map_err(|e| io::Error::other(format!("shard {}: {e}", self.id)))?;
        if !done {
            if Instant::now() >= loading.next_log {
                loading.next_log = Instant::now() + PROGRESS_EVERY;
                let p = loading.loader.progress();
                let secs = loading.started.elapsed().as_secs_f64();
                tracing::info!(
                    shard = self.id,
                    "loading: {:.0}% ({} keys, {:.1} MB/s)",
                    100.0 * p.bytes_read as f64 / p.bytes_total.max(1) as f64,
                    p.keys,
                    p.bytes_read as f64 / 1e6 / secs.max(1e-9),
                );
            }
            return Ok(());
        }
        let loading = self.loading.take().expect("loading");
        let secs = loading.started.elapsed().as_secs_f64();
        let loaded = loading
            .loader
            .finish()
            .map_err(|e| io::Error::other(format!("shard {}: {e}", self.id)))?;
        for warning in &loaded.warnings {
            tracing::warn!(shard = self.id, "{warning}");
        }
        tracing::info!(
            shard = self.id,
            "loaded {} keys in {secs:.3} s ({:.1} MB/s; {} expired while down)",
            loaded.keys,
            loaded.bytes as f64 / 1e6 / secs.max(1e-9),
            loaded.expired,
        );
        self.open_wal(loaded.next_lsn)?;
        if self.shared.persist.loading.fetch_sub(1, Ordering::AcqRel) == 1 {
            let secs = crate::event_loop::unix_ms().saturating_sub(self.shared.started_ms);
            tracing::info!(
                "data loaded: ready to accept commands ({:.3} s after start)",
                secs as f64 / 1000.0
            );
        }
        Ok(())
    }

    /// (bytes read, bytes in all) while loading.
    pub(crate) fn loading_progress(&self) -> Option<(u64, u64)> {
        self.loading.as_ref().map(|l| {
            let p = l.loader.progress();
            (p.bytes_read, p.bytes_total)
        })
    }

    /// Continues this shard's log in a new segment at `next_lsn`.
    fn open_wal(&mut self, next_lsn: u64) -> io::Result<()> {
        let Some(cfg) = &self.shared.config.persist else {
            return Ok(());
        };
        let opts = WriterOptions {
            segment_size: cfg.wal_segment_size,
            direct: cfg.direct_io && cfg.appendfsync == AppendFsync::Always,
        };
        let writer = WalWriter::create(&cfg.dir, self.id as u32, next_lsn, opts)?;
        self.shard.start_change_log();
        self.wal = Some(LoopWal::new(writer, cfg.appendfsync, self.shared.clone()));
        Ok(())
    }
}
