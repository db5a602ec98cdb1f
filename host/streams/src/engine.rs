//! [`Streams`]: the registry of open streams, the catalog on disk, and the locks.
//! The operations live in the child modules, by concern: the control plane (`catalog`),
//! resharding (`reshard`), puts and reads (`data`), and sync and retention (`retention`).

mod catalog;
mod consumers;
mod data;
pub use data::PendingPut;
mod reshard;
mod retention;
mod settings;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::iterator::{IteratorCodec, IteratorPos, ITERATOR_TTL_MS};
use crate::log::{AppendItem, ShardLog};
use crate::seqno::SeqNo;
use crate::types::{Catalog, ShardRead};
use crate::*;

use weir_support::{lock, read, write};

pub use consumers::MAX_CONSUMERS_PER_STREAM;
pub use settings::{
    AccountLimits, AccountSettings, Commitment, MAX_RECORD_KIB, ON_DEMAND_STREAM_LIMIT,
    SHARD_LEVEL_METRICS,
};

/// Token bucket for the emulated per-shard write limit.
struct Bucket {
    records: f64,
    bytes: f64,
    last: Instant,
}

impl Bucket {
    const RECORDS_PER_SEC: f64 = 1000.0;
    const BYTES_PER_SEC: f64 = 1024.0 * 1024.0;

    fn new() -> Self {
        Bucket {
            records: Self::RECORDS_PER_SEC,
            bytes: Self::BYTES_PER_SEC,
            last: Instant::now(),
        }
    }

    fn try_take(&mut self, bytes: usize) -> bool {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.records = (self.records + dt * Self::RECORDS_PER_SEC).min(Self::RECORDS_PER_SEC);
        self.bytes = (self.bytes + dt * Self::BYTES_PER_SEC).min(Self::BYTES_PER_SEC);
        if self.records >= 1.0 && self.bytes >= bytes as f64 {
            self.records -= 1.0;
            self.bytes -= bytes as f64;
            true
        } else {
            false
        }
    }
}

pub(crate) struct ShardState {
    log: Mutex<ShardLog>,
    /// The next counter to be written; subscribers wait on changes. With `fsync = "always"`
    /// it moves when a sync lands, not on append, so subscribers wake for readable records.
    tip: watch::Sender<u64>,
    dirty: AtomicBool,
    bucket: Mutex<Bucket>,
}

struct Topology {
    meta: StreamMeta,
    shards: HashMap<u64, Arc<ShardState>>,
    /// Open shards sorted by starting hash key: (start, end, index).
    open: Vec<(u128, u128, u64)>,
}

impl Topology {
    fn rebuild_open(&mut self) {
        self.open = self
            .meta
            .shards
            .iter()
            .filter(|s| s.end_counter.is_none())
            .map(|s| (s.range.start, s.range.end, s.index))
            .collect();
        self.open.sort_unstable();
    }

    fn route(&self, key: u128) -> Option<u64> {
        let i = self.open.partition_point(|(start, _, _)| *start <= key);
        let (_, end, idx) = *self.open.get(i.checked_sub(1)?)?;
        (key <= end).then_some(idx)
    }

    fn shard_meta(&self, index: u64) -> Option<&ShardMeta> {
        self.meta.shards.iter().find(|s| s.index == index)
    }
}

pub(crate) struct StreamState {
    uid: u64,
    pub(crate) name: String,
    topo: RwLock<Topology>,
    transition: Mutex<Option<(Instant, StreamStatus)>>,
    deleted: AtomicBool,
    /// Consumers' transitions and subscriptions, which live only in memory.
    consumers: Mutex<consumers::ConsumerRuntime>,
}

impl StreamState {
    fn status(&self) -> StreamStatus {
        if self.deleted.load(Ordering::SeqCst) {
            return StreamStatus::Deleting;
        }
        match *lock(&self.transition) {
            Some((until, st)) if Instant::now() < until => st,
            _ => StreamStatus::Active,
        }
    }
}

#[derive(Default)]
struct Registry {
    by_name: HashMap<String, Arc<StreamState>>,
    by_uid: HashMap<u64, Arc<StreamState>>,
}

struct Inner {
    config: StreamsConfig,
    backend: Arc<dyn StorageBackend>,
    codec: IteratorCodec,
    registry: RwLock<Registry>,
    /// The persisted catalog; its lock also serialises control-plane operations.
    catalog: Mutex<BTreeMap<u64, StreamMeta>>,
}

/// The streams engine. Cheap to clone.
#[derive(Clone)]
pub struct Streams {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("dir", &self.inner.config.dir)
            .finish()
    }
}

impl Streams {
    /// Opens the engine on real files under `config.dir`, recovering every stream.
    pub fn open(config: StreamsConfig) -> Result<Streams> {
        Self::open_with_backend(config, Arc::new(FileBackend))
    }

    /// Opens the engine on any backend (tests use [`MemBackend`] and [`FailingBackend`]).
    pub fn open_with_backend(
        config: StreamsConfig,
        backend: Arc<dyn StorageBackend>,
    ) -> Result<Streams> {
        backend.create_dir_all(&config.dir)?;
        let secret = load_secret(&*backend, &config.dir)?;
        let catalog: BTreeMap<u64, StreamMeta> =
            match backend.read_file(&config.dir.join("catalog.json"))? {
                Some(raw) => {
                    let c: Catalog = serde_json::from_slice(&raw)
                        .map_err(|e| StreamsError::Metadata(e.to_string()))?;
                    c.streams.into_iter().map(|m| (m.uid, m)).collect()
                }
                None => BTreeMap::new(),
            };
        let inner = Arc::new(Inner {
            config,
            backend,
            codec: IteratorCodec::new(secret),
            registry: RwLock::new(Registry::default()),
            catalog: Mutex::new(BTreeMap::new()),
        });
        let streams = Streams { inner };
        {
            let mut reg = write(&streams.inner.registry);
            for meta in catalog.values() {
                let state = streams.load_stream(meta.clone(), None)?;
                reg.by_name.insert(meta.name.clone(), state.clone());
                reg.by_uid.insert(meta.uid, state);
            }
        }
        // Remove data of streams that a crash left behind mid-create or mid-delete.
        let data_dir = streams.inner.config.dir.join("data");
        for entry in streams.inner.backend.list(&data_dir)? {
            let known = u64::from_str_radix(&entry, 16).is_ok_and(|uid| catalog.contains_key(&uid));
            if !known {
                streams
                    .inner
                    .backend
                    .remove_dir_all(&data_dir.join(&entry))?;
            }
        }
        // ... and shard directories a reshard created but never recorded in the catalog.
        for meta in catalog.values() {
            let dir = streams.stream_dir(meta.uid);
            for entry in streams.inner.backend.list(&dir)? {
                let known = entry
                    .parse::<u64>()
                    .is_ok_and(|i| meta.shards.iter().any(|m| m.index == i));
                if !known {
                    streams.inner.backend.remove_dir_all(&dir.join(&entry))?;
                }
            }
        }
        *lock(&streams.inner.catalog) = catalog;
        streams.start_maintenance();
        Ok(streams)
    }

    fn stream_dir(&self, uid: u64) -> PathBuf {
        self.inner
            .config
            .dir
            .join("data")
            .join(format!("{uid:016x}"))
    }

    fn open_shard(&self, uid: u64, meta: &ShardMeta) -> Result<Arc<ShardState>> {
        let dir = self.stream_dir(uid).join(format!("{:012}", meta.index));
        let log = ShardLog::open(
            self.inner.backend.clone(),
            &dir,
            self.inner.config.log.clone(),
            meta.start_counter,
        )?;
        let (tip, _) = watch::channel(log.next_counter());
        Ok(Arc::new(ShardState {
            log: Mutex::new(log),
            tip,
            dirty: AtomicBool::new(false),
            bucket: Mutex::new(Bucket::new()),
        }))
    }

    fn load_stream(
        &self,
        meta: StreamMeta,
        transition: Option<StreamStatus>,
    ) -> Result<Arc<StreamState>> {
        let mut shards = HashMap::new();
        for s in &meta.shards {
            shards.insert(s.index, self.open_shard(meta.uid, s)?);
        }
        let mut topo = Topology {
            meta,
            shards,
            open: Vec::new(),
        };
        topo.rebuild_open();
        let until = transition.map(|st| (Instant::now() + self.inner.config.transition_delay, st));
        Ok(Arc::new(StreamState {
            uid: topo.meta.uid,
            name: topo.meta.name.clone(),
            topo: RwLock::new(topo),
            transition: Mutex::new(until),
            deleted: AtomicBool::new(false),
            consumers: Mutex::new(consumers::ConsumerRuntime::default()),
        }))
    }

    fn persist(&self, catalog: &BTreeMap<u64, StreamMeta>) -> Result<()> {
        let c = Catalog {
            version: 1,
            streams: catalog.values().cloned().collect(),
        };
        let raw =
            serde_json::to_vec_pretty(&c).map_err(|e| StreamsError::Metadata(e.to_string()))?;
        self.inner
            .backend
            .write_atomic(&self.inner.config.dir.join("catalog.json"), &raw)?;
        Ok(())
    }

    /// The ARN AWS would give the stream.
    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:kinesis:{}:{}:stream/{name}",
            self.inner.config.region, self.inner.config.account_id
        )
    }

    /// Engine configuration.
    pub fn config(&self) -> &StreamsConfig {
        &self.inner.config
    }

    fn not_found(&self, name: &str) -> StreamsError {
        StreamsError::NotFound(format!(
            "Stream {name} under account {} not found.",
            self.inner.config.account_id
        ))
    }

    fn stream(&self, name: &str) -> Result<Arc<StreamState>> {
        read(&self.inner.registry)
            .by_name
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    /// Data-plane access: the stream must exist and not be CREATING.
    fn stream_for_data(&self, name: &str) -> Result<Arc<StreamState>> {
        let s = self.stream(name)?;
        if matches!(s.status(), StreamStatus::Creating | StreamStatus::Deleting) {
            return Err(self.not_found(name));
        }
        Ok(s)
    }

    fn require_active(&self, s: &StreamState) -> Result<()> {
        match s.status() {
            StreamStatus::Active => Ok(()),
            other => Err(StreamsError::InUse(format!(
                "Stream {} under account {} not ACTIVE, instead in state {}",
                s.name,
                self.inner.config.account_id,
                other.as_str()
            ))),
        }
    }

    fn set_transition(&self, s: &StreamState, st: StreamStatus) {
        let d = self.inner.config.transition_delay;
        *lock(&s.transition) = (!d.is_zero()).then(|| (Instant::now() + d, st));
    }
}

fn load_secret(backend: &dyn StorageBackend, dir: &Path) -> Result<[u8; 32]> {
    let path = dir.join("iterator.key");
    if let Some(raw) = backend.read_file(&path)? {
        if let Ok(k) = <[u8; 32]>::try_from(raw.as_slice()) {
            return Ok(k);
        }
    }
    let key: [u8; 32] = rand::random();
    backend.write_atomic(&path, &key)?;
    Ok(key)
}
