//! Opening a shard's log at start-up: replay what it holds, then continue
//! it in a new segment.

use crate::config::AppendFsync;
use crate::event_loop::EventLoop;
use crate::wal::LoopWal;
use persist::wal::{RecordType, WalReader, WalWriter, WriterOptions};
use std::io;

impl EventLoop {
    pub(crate) fn open_wal(&mut self) -> io::Result<()> {
        let Some(cfg) = self.shared.config.persist.clone() else {
            return Ok(());
        };
        let id = self.id as u32;
        let mut reader = WalReader::open(&cfg.dir, id, cfg.on_corruption)?;
        for record in &mut reader {
            let record = record.map_err(io::Error::other)?;
            match record.kind {
                RecordType::Checkpoint => {}
                RecordType::Batch => {
                    let inner =
                        shard::codec::decode_batch(&record.payload).map_err(io::Error::other)?;
                    for r in inner {
                        let r = shard::codec::decode(r).map_err(io::Error::other)?;
                        shard::restore::apply(&mut self.shard, r, self.now);
                    }
                }
                _ => {
                    let r = shard::codec::decode(&record.payload).map_err(io::Error::other)?;
                    shard::restore::apply(&mut self.shard, r, self.now);
                }
            }
        }
        let recovery = reader.into_recovery();
        if let Some(cut) = &recovery.torn_tail {
            tracing::warn!(
                file = %cut.path.display(),
                offset = cut.offset,
                "WAL ends in a torn record (a crash during a write): cut off"
            );
        }
        recovery.repair()?;
        let opts = WriterOptions {
            segment_size: cfg.wal_segment_size,
            direct: cfg.direct_io && cfg.appendfsync == AppendFsync::Always,
        };
        let writer = WalWriter::create(&cfg.dir, id, recovery.next_lsn, opts)?;
        self.shard.start_change_log();
        self.wal = Some(LoopWal::new(writer, cfg.appendfsync));
        Ok(())
    }
}
