//! The local stores: one [`ShardLog`] per shard behind the process-wide [`GroupCommit`], and
//! the catalog as files written atomically. This is the engine's storage as it was before
//! the boundary, moved here unchanged: the segment format (`FORMAT.md`), torn-tail
//! recovery, the fsync policies, and "served only once synced" with `fsync = "always"`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use weir_support::lock;

use super::{AppendItem, MetaStore, Pending, PendingAppend, ShardPage, ShardStore, StoreFactory};
use crate::backend::{SegmentFile, StorageBackend};
use crate::commit::{key_of, Durable, GroupCommit, SegmentDurable};
use crate::log::{self, LogConfig, ShardLog};
use crate::types::Catalog;
use crate::{FsyncPolicy, Result, ShardMeta, StreamMeta, StreamsError};

/// One shard on the local disk: its segment log, and the watch its subscribers wait on.
/// Cheap to clone (a handle).
#[derive(Clone)]
pub struct LocalShard(Arc<LocalInner>);

struct LocalInner {
    dir: PathBuf,
    log: Mutex<LogState>,
    /// The next readable counter; subscribers wait on changes. With `fsync = "always"` it
    /// moves when a sync lands, not on append, so subscribers wake for readable records.
    tip: watch::Sender<u64>,
    /// Appended since the last flush (interval and never policies).
    dirty: AtomicBool,
    fsync: FsyncPolicy,
}

struct LogState {
    log: ShardLog,
    /// A reshard fenced this shard's writers; set and checked under the log lock, so no
    /// append lands after the end the seal returned.
    sealed: bool,
}

/// A local append waiting for its group-commit round: the file to sync and the counter
/// below which a successful sync makes every record durable.
pub(crate) struct LocalPending {
    shard: LocalShard,
    file: Arc<dyn SegmentFile>,
    upto: u64,
    pub(super) written: Vec<(u64, i64)>,
}

impl LocalShard {
    /// Opens (recovering) or creates the log in `dir`; `initial_counter` is used only for a
    /// brand new log.
    pub fn open(
        backend: Arc<dyn StorageBackend>,
        dir: &Path,
        config: LogConfig,
        initial_counter: u64,
        fsync: FsyncPolicy,
    ) -> Result<LocalShard> {
        let log = ShardLog::open(backend, dir, config, initial_counter)?;
        let (tip, _) = watch::channel(log.next_counter());
        Ok(LocalShard(Arc::new(LocalInner {
            dir: dir.to_path_buf(),
            log: Mutex::new(LogState { log, sealed: false }),
            tip,
            dirty: AtomicBool::new(false),
            fsync,
        })))
    }

    /// The counter below which records may be served: below the first record past a failed
    /// sync, and with `fsync = "always"` below what the group commit made durable, so no
    /// reader acts on a record that a restart would not show. `None`: no bound.
    fn servable_below(&self, log: &ShardLog) -> Option<u64> {
        let below = log.readable_below();
        if self.0.fsync == FsyncPolicy::Always {
            let durable = log.synced_below();
            return Some(below.map_or(durable, |b| b.min(durable)));
        }
        below
    }

    fn sealed_error(&self) -> StreamsError {
        StreamsError::Sealed(format!(
            "shard log {} is sealed by a reshard",
            self.0.dir.display()
        ))
    }

    fn pending(&self, log: &ShardLog, written: Vec<(u64, i64)>) -> PendingAppend {
        match log.sync_point() {
            Ok((file, upto)) => PendingAppend(Pending::Local(LocalPending {
                shard: self.clone(),
                file,
                upto,
                written,
            })),
            Err(e) => PendingAppend(Pending::Broken(written, e)),
        }
    }
}

impl ShardStore for LocalShard {
    /// Appends in one write under the log lock. With `fsync = "always"` the sync point (this
    /// append's file and counter) is taken under that same lock, so the later round covers
    /// exactly these records, and readers see them once it lands; otherwise they are
    /// readable at once: the tip moves and the shard is dirty for the interval flusher.
    fn append(&self, items: &[AppendItem<'_>], min_counter: Option<u64>) -> Result<PendingAppend> {
        let mut st = lock(&self.0.log);
        if st.sealed {
            return Err(self.sealed_error());
        }
        let written = st.log.append(items, min_counter)?;
        if self.0.fsync == FsyncPolicy::Always {
            return Ok(self.pending(&st.log, written));
        }
        self.0.tip.send_replace(st.log.next_counter());
        self.0.dirty.store(true, Ordering::Release);
        Ok(PendingAppend::done(written))
    }

    fn flush(&self) -> Result<Option<PendingAppend>> {
        if !self.0.dirty.swap(false, Ordering::AcqRel) {
            return Ok(None);
        }
        let st = lock(&self.0.log);
        let (file, upto) = st.log.sync_point()?;
        Ok(Some(PendingAppend(Pending::Local(LocalPending {
            shard: self.clone(),
            file,
            upto,
            written: Vec::new(),
        }))))
    }

    fn tip(&self) -> Result<u64> {
        Ok(lock(&self.0.log).log.next_counter())
    }

    /// The time plan is taken under the lock and walked outside it.
    fn counter_at_time(&self, ts_ms: i64) -> Result<u64> {
        let (plan, next) = {
            let st = lock(&self.0.log);
            (st.log.time_plan(ts_ms), st.log.next_counter())
        };
        Ok(log::first_at_time(&plan, ts_ms)?.unwrap_or(next))
    }

    /// A snapshot of the spans under the lock, read outside it, so a slow reader never
    /// blocks a writer; records past what may be served are cut.
    fn read(&self, from: u64, limit: usize, max_bytes: usize) -> Result<ShardPage> {
        let (plan, first, last, below) = {
            let st = lock(&self.0.log);
            (
                st.log.read_plan(from),
                st.log.first_counter(),
                st.log.last_record(),
                self.servable_below(&st.log),
            )
        };
        let start = from.max(first);
        let mut out = log::read_spans(&plan, start, limit, max_bytes)?;
        // Records past the last good sync (an fsync failed, or with `fsync = "always"` one is
        // still running) may not be on disk: they are not served, so no reader acts on a
        // record a restart would not show.
        if let Some(below) = below {
            if out.records.iter().any(|r| r.counter >= below) {
                out.records.retain(|r| r.counter < below);
                out.reached_tip = true;
            }
        }
        Ok(ShardPage {
            records: out.records,
            reached_tip: out.reached_tip,
            start,
            newest_arrival_ms: last.map(|(_, a)| a),
        })
    }

    fn newest(&self) -> Result<Option<(u64, i64)>> {
        Ok(lock(&self.0.log).log.last_record())
    }

    /// Fences the writers under the log lock, then syncs what they appended (one
    /// group-commit round), so the end is durable before the catalog names it.
    fn seal(&self) -> Result<u64> {
        let (point, end) = {
            let mut st = lock(&self.0.log);
            st.sealed = true;
            (st.log.sync_point(), st.log.next_counter())
        };
        let synced = point.and_then(|(file, upto)| {
            commit(vec![LocalPending {
                shard: self.clone(),
                file,
                upto,
                written: Vec::new(),
            }])
            .pop()
            .unwrap_or_else(|| Err(StreamsError::Io(std::io::Error::other("no sync outcome"))))
        });
        if let Err(e) = synced {
            lock(&self.0.log).sealed = false;
            return Err(e);
        }
        Ok(end)
    }

    /// The seal lives in memory only: the catalog's `end_counter` is what a restart reads.
    fn unseal(&self) -> Result<()> {
        lock(&self.0.log).sealed = false;
        Ok(())
    }

    fn expire(&self, cutoff_ms: i64) -> Result<usize> {
        lock(&self.0.log).log.drop_before(cutoff_ms)
    }

    fn watch(&self) -> watch::Receiver<u64> {
        self.0.tip.subscribe()
    }

    fn notify(&self) {
        self.0.tip.send_modify(|_| {});
    }
}

/// Syncs the given appends' files in one round of the process-wide group commit (outside
/// every log lock) and records each outcome in its log: how far it is durable, or that it
/// failed for good (`ShardLog::sync_failed`; a sync that succeeds after an earlier one failed
/// is still a failure). Returns each append's counters once durable.
pub(crate) fn commit(points: Vec<LocalPending>) -> Vec<Result<Vec<(u64, i64)>>> {
    // Writeback starts now, while an earlier round may still be syncing: the round that
    // takes these files then waits mostly for the journal commit, not for the data.
    for p in &points {
        p.file.start_writeback();
    }
    let files = points
        .iter()
        .map(|p| {
            let durable: Arc<dyn Durable> = Arc::new(SegmentDurable(p.file.clone()));
            (key_of(&p.file), durable)
        })
        .collect();
    let outcomes = GroupCommit::global().sync(files);
    points
        .into_iter()
        .zip(outcomes)
        .map(|(p, outcome)| {
            let shard = &p.shard.0;
            match outcome {
                Ok(()) => {
                    lock(&shard.log).log.synced_to(p.upto)?;
                    // Readable from now on: wake the subscribers.
                    shard.tip.send_modify(|tip| *tip = (*tip).max(p.upto));
                    Ok(p.written)
                }
                Err(e) => {
                    lock(&shard.log).log.sync_failed(&e.to_string());
                    Err(e.into())
                }
            }
        })
        .collect()
}

/// The local stores of one engine: shard logs in `DIR/data/<uid:016x>/<index:012>/` and
/// the catalog files in `DIR` ([`FileMeta`]). `Streams::open_with_backend` opens these.
pub(crate) struct LocalStores {
    backend: Arc<dyn StorageBackend>,
    dir: PathBuf,
    config: LogConfig,
    fsync: FsyncPolicy,
}

impl LocalStores {
    pub(crate) fn new(
        backend: Arc<dyn StorageBackend>,
        dir: &Path,
        config: LogConfig,
        fsync: FsyncPolicy,
    ) -> LocalStores {
        LocalStores {
            backend,
            dir: dir.to_path_buf(),
            config,
            fsync,
        }
    }

    fn stream_dir(&self, uid: u64) -> PathBuf {
        self.dir.join("data").join(format!("{uid:016x}"))
    }

    fn shard_dir(&self, uid: u64, index: u64) -> PathBuf {
        self.stream_dir(uid).join(format!("{index:012}"))
    }
}

impl StoreFactory for LocalStores {
    fn meta(&self) -> Result<Arc<dyn MetaStore>> {
        Ok(Arc::new(FileMeta::open(self.backend.clone(), &self.dir)?))
    }

    fn open_shard(&self, uid: u64, meta: &ShardMeta) -> Result<Box<dyn ShardStore>> {
        Ok(Box::new(LocalShard::open(
            self.backend.clone(),
            &self.shard_dir(uid, meta.index),
            self.config.clone(),
            meta.start_counter,
            self.fsync,
        )?))
    }

    fn remove_shard(&self, uid: u64, index: u64) -> Result<()> {
        Ok(self.backend.remove_dir_all(&self.shard_dir(uid, index))?)
    }

    fn remove_stream(&self, uid: u64) -> Result<()> {
        Ok(self.backend.remove_dir_all(&self.stream_dir(uid))?)
    }

    /// Removes the folders of streams a crash left behind mid-create or mid-delete, and the
    /// shard folders a reshard created but never recorded in the catalog.
    fn sweep(&self, catalog: &BTreeMap<u64, StreamMeta>) -> Result<()> {
        let data_dir = self.dir.join("data");
        for entry in self.backend.list(&data_dir)? {
            let known = u64::from_str_radix(&entry, 16).is_ok_and(|uid| catalog.contains_key(&uid));
            if !known {
                self.backend.remove_dir_all(&data_dir.join(&entry))?;
            }
        }
        for meta in catalog.values() {
            let dir = self.stream_dir(meta.uid);
            for entry in self.backend.list(&dir)? {
                let known = entry
                    .parse::<u64>()
                    .is_ok_and(|i| meta.shards.iter().any(|m| m.index == i));
                if !known {
                    self.backend.remove_dir_all(&dir.join(&entry))?;
                }
            }
        }
        Ok(())
    }
}

/// The catalog and its neighbours as files in the engine's directory: `catalog.json`,
/// `iterator.key`, `account.json`, each replaced atomically (`StorageBackend::write_atomic`).
pub struct FileMeta {
    backend: Arc<dyn StorageBackend>,
    dir: PathBuf,
}

impl FileMeta {
    /// The files in `dir` (created if missing).
    pub fn open(backend: Arc<dyn StorageBackend>, dir: &Path) -> Result<FileMeta> {
        backend.create_dir_all(dir)?;
        Ok(FileMeta {
            backend,
            dir: dir.to_path_buf(),
        })
    }
}

impl MetaStore for FileMeta {
    fn load_catalog(&self) -> Result<BTreeMap<u64, StreamMeta>> {
        Ok(
            match self.backend.read_file(&self.dir.join("catalog.json"))? {
                Some(raw) => {
                    let c: Catalog = serde_json::from_slice(&raw)
                        .map_err(|e| StreamsError::Metadata(e.to_string()))?;
                    c.streams.into_iter().map(|m| (m.uid, m)).collect()
                }
                None => BTreeMap::new(),
            },
        )
    }

    fn save_catalog(&self, catalog: &BTreeMap<u64, StreamMeta>) -> Result<()> {
        let c = Catalog {
            version: 1,
            streams: catalog.values().cloned().collect(),
        };
        let raw =
            serde_json::to_vec_pretty(&c).map_err(|e| StreamsError::Metadata(e.to_string()))?;
        self.backend
            .write_atomic(&self.dir.join("catalog.json"), &raw)?;
        Ok(())
    }

    fn secret(&self) -> Result<[u8; 32]> {
        let path = self.dir.join("iterator.key");
        if let Some(raw) = self.backend.read_file(&path)? {
            if let Ok(k) = <[u8; 32]>::try_from(raw.as_slice()) {
                return Ok(k);
            }
        }
        let key: [u8; 32] = rand::random();
        self.backend.write_atomic(&path, &key)?;
        Ok(key)
    }

    fn account(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.backend.read_file(&self.dir.join("account.json"))?)
    }

    fn set_account(&self, raw: &[u8]) -> Result<()> {
        Ok(self
            .backend
            .write_atomic(&self.dir.join("account.json"), raw)?)
    }

    fn describe(&self) -> String {
        self.dir.display().to_string()
    }
}
