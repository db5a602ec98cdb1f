//! [`Streams`]: the registry of open streams, the catalog on disk, and the locks.
//! The operations live in the child modules, by concern: the control plane (`catalog`),
//! resharding (`reshard`), puts and reads (`data`), and sync and retention (`retention`).

mod catalog;
mod consumers;
mod data;
mod live;
pub use data::PendingPut;
mod reshard;
mod retention;
mod settings;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::iterator::{IteratorCodec, IteratorPos, ITERATOR_TTL_MS};
use crate::log::AppendItem;
use crate::seqno::SeqNo;
use crate::store::{LocalStores, MetaStore, ShardStore, StoreFactory};
use crate::types::ShardRead;
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
    /// The shard's records: a local log or any other [`ShardStore`], called through `dyn`
    /// (see the `store` module's doc for why that costs nothing measurable).
    store: Box<dyn ShardStore>,
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
    stores: Arc<dyn StoreFactory>,
    meta: Arc<dyn MetaStore>,
    codec: IteratorCodec,
    registry: RwLock<Registry>,
    /// The persisted catalog; its lock also serialises control-plane operations.
    catalog: Mutex<BTreeMap<u64, StreamMeta>>,
    /// Other engines write the catalog too (hosts of one cluster): the maintenance thread
    /// polls [`MetaStore::catalog_changed`], and a name not found reloads before it answers
    /// (see `live`). Fixed at open; false for the local store, which then pays nothing.
    shared: bool,
    /// A reload could not open every shard it found: the next poll reloads again.
    stale: AtomicBool,
}

/// The streams engine. Cheap to clone.
#[derive(Clone)]
pub struct Streams {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("store", &self.inner.meta.describe())
            .finish()
    }
}

impl Streams {
    /// Whether the stores are shared with other hosts over the network (a cluster): their
    /// reads wait for a server.
    pub(crate) fn is_shared(&self) -> bool {
        self.inner.shared
    }
}

impl Streams {
    /// Opens the engine on real files under `config.dir`, recovering every stream.
    pub fn open(config: StreamsConfig) -> Result<Streams> {
        Self::open_with_backend(config, Arc::new(FileBackend))
    }

    /// Opens the engine on any backend (tests use [`MemBackend`] and [`FailingBackend`]),
    /// with the local stores: shard logs and catalog files under `config.dir`.
    pub fn open_with_backend(
        config: StreamsConfig,
        backend: Arc<dyn StorageBackend>,
    ) -> Result<Streams> {
        let stores = LocalStores::new(backend, &config.dir, config.log.clone(), config.fsync);
        Self::open_with_stores(config, Arc::new(stores))
    }

    /// Opens the engine on the stores of `factory` (the in-memory [`MemStores`], or a
    /// cluster's): shards and catalog live there. Stores other than the local ones own
    /// their durability, and `config.dir` and `config.fsync` do not apply to them.
    pub fn open_with_stores(
        config: StreamsConfig,
        stores: Arc<dyn StoreFactory>,
    ) -> Result<Streams> {
        let meta = stores.meta()?;
        let secret = meta.secret()?;
        let catalog = meta.load_catalog()?;
        let shared = meta.catalog_changed()?.is_some();
        let inner = Arc::new(Inner {
            config,
            stores,
            meta,
            codec: IteratorCodec::new(secret),
            registry: RwLock::new(Registry::default()),
            catalog: Mutex::new(BTreeMap::new()),
            shared,
            stale: AtomicBool::new(false),
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
        // Remove data of streams and shards that a crash left behind mid-create, mid-delete
        // or mid-reshard.
        streams.inner.stores.sweep(&catalog)?;
        *lock(&streams.inner.catalog) = catalog;
        streams.start_maintenance();
        Ok(streams)
    }

    fn open_shard(&self, uid: u64, meta: &ShardMeta) -> Result<Arc<ShardState>> {
        Ok(Arc::new(ShardState {
            store: self.inner.stores.open_shard(uid, meta)?,
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
        self.inner.meta.save_catalog(catalog)
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

    /// The stream named `name`. On a shared catalog a name this engine does not know
    /// reloads the catalog once first: another host may have just created it. Never call
    /// it holding the catalog lock (the reload takes it): use [`Streams::stream_locked`].
    fn stream(&self, name: &str) -> Result<Arc<StreamState>> {
        if let Some(s) = self.registered(name) {
            return Ok(s);
        }
        if self.inner.shared {
            if let Err(e) = self.refresh() {
                tracing::warn!(stream = name, error = %e, "reloading the shared catalog failed");
            }
            if let Some(s) = self.registered(name) {
                return Ok(s);
            }
        }
        Err(self.not_found(name))
    }

    /// [`Streams::stream`] for a caller that holds the catalog lock: no reload.
    fn stream_locked(&self, name: &str) -> Result<Arc<StreamState>> {
        self.registered(name).ok_or_else(|| self.not_found(name))
    }

    fn registered(&self, name: &str) -> Option<Arc<StreamState>> {
        read(&self.inner.registry).by_name.get(name).cloned()
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
