//! Streams: shard-partitioned, durable, Kinesis-semantics logs.
//!
//! [`Streams`] is the engine the host owns. The HTTP API in `api/` is one client of it; rule
//! actions and in-process consumers ([`Streams::subscribe`]) are others. Invariant: nothing
//! here knows about HTTP, wasmtime or MQTT.
//!
//! Concurrency: each stream has a topology lock (read for puts and reads, write for
//! resharding) and each shard a log lock held only while appending or taking a read
//! snapshot. A reshard therefore waits for in-flight puts, so every record lands either in
//! the parent before its `EndingSequenceNumber` or in a child.

pub mod backend;
pub mod error;
pub mod hashkey;
pub mod iterator;
pub mod kpl;
pub mod log;
pub mod seqno;
pub mod subscribe;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use backend::{FailingBackend, FileBackend, MemBackend, StorageBackend};
pub use error::{Result, StreamsError};
pub use hashkey::HashRange;
pub use subscribe::{Subscription, SubscriptionEvent, UserRecord};

use self::iterator::{IteratorCodec, IteratorPos, ITERATOR_TTL_MS};
use self::log::{AppendItem, LogConfig, ShardLog};
use self::seqno::SeqNo;

/// Minimum and maximum retention AWS allows, in hours.
pub const MIN_RETENTION_HOURS: u32 = 24;
pub const MAX_RETENTION_HOURS: u32 = 8760;
/// Most records and bytes one GetRecords may return.
pub const MAX_GET_RECORDS: usize = 10_000;
pub const MAX_GET_BYTES: usize = 10 * 1024 * 1024;
/// Largest record the engine stores (AWS's raised per-stream maximum, 10 MiB).
pub const MAX_RECORD_BYTES: usize = 10 * 1024 * 1024;
/// AWS allows at most this many tags on a stream.
pub const MAX_TAGS: usize = 50;
/// AWS allows this many UpdateShardCount calls per rolling 24 hours.
pub const MAX_SCALING_OPS_PER_DAY: usize = 10;

/// When appended records are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// fdatasync before every acknowledgement (concurrent writers share syncs).
    Always,
    /// A background thread syncs dirty shards on this interval (group commit); a crash can
    /// lose up to one interval of acknowledged writes.
    Interval(Duration),
    /// Leave it to the OS.
    Never,
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "always" => Ok(FsyncPolicy::Always),
            "never" => Ok(FsyncPolicy::Never),
            "interval" => Ok(FsyncPolicy::Interval(Duration::from_millis(50))),
            other => other
                .strip_prefix("interval:")
                .and_then(|ms| ms.trim_end_matches("ms").parse::<u64>().ok())
                .map(|ms| FsyncPolicy::Interval(Duration::from_millis(ms.max(1))))
                .ok_or_else(|| {
                    format!("unknown fsync policy {other:?} (always|interval[:MS]|never)")
                }),
        }
    }
}

/// Engine configuration.
#[derive(Debug, Clone)]
pub struct StreamsConfig {
    pub dir: PathBuf,
    pub fsync: FsyncPolicy,
    pub log: LogConfig,
    /// How long CREATING/UPDATING stay visible before ACTIVE (AWS takes seconds; zero makes
    /// the change instant).
    pub transition_delay: Duration,
    /// Emulate the per-shard write limits (1 MiB/s, 1000 records/s). Off by default.
    pub throughput_limits: bool,
    pub region: String,
    pub account_id: String,
    pub max_shards_per_stream: u32,
}

impl StreamsConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StreamsConfig {
            dir: dir.into(),
            fsync: FsyncPolicy::Interval(Duration::from_millis(50)),
            log: LogConfig::default(),
            transition_delay: Duration::from_millis(100),
            throughput_limits: false,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            max_shards_per_stream: 10_000,
        }
    }
}

/// AWS stream states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    Creating,
    Deleting,
    Active,
    Updating,
}

impl StreamStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Deleting => "DELETING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
        }
    }
}

/// Persisted description of one shard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShardMeta {
    pub index: u64,
    pub range: HashRange,
    pub parent: Option<u64>,
    pub adjacent_parent: Option<u64>,
    /// Counter of the first record the shard can hold.
    pub start_counter: u64,
    /// Set when the shard is closed: the last counter it holds.
    pub end_counter: Option<u64>,
    /// When the shard was created and closed (for ListShards' timestamp filters).
    #[serde(default)]
    pub created_ms: i64,
    #[serde(default)]
    pub closed_ms: Option<i64>,
}

/// Persisted description of one stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamMeta {
    pub name: String,
    pub uid: u64,
    pub created_ms: i64,
    pub retention_hours: u32,
    pub on_demand: bool,
    pub shards: Vec<ShardMeta>,
    pub next_shard_index: u64,
    pub tags: BTreeMap<String, String>,
    /// Times of recent UpdateShardCount calls (AWS caps them per 24 h).
    pub scaling_ops_ms: Vec<i64>,
}

#[derive(Serialize, Deserialize)]
struct Catalog {
    version: u32,
    streams: Vec<StreamMeta>,
}

/// A shard as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub shard_id: String,
    pub parent_shard_id: Option<String>,
    pub adjacent_parent_shard_id: Option<String>,
    pub hash_range: HashRange,
    pub starting_sequence_number: String,
    pub ending_sequence_number: Option<String>,
}

/// A stream as clients see it.
#[derive(Debug, Clone)]
pub struct StreamInfo {
    pub name: String,
    pub arn: String,
    pub status: StreamStatus,
    pub on_demand: bool,
    pub retention_hours: u32,
    pub created_ms: i64,
    pub shards: Vec<ShardInfo>,
    pub open_shard_count: usize,
}

/// One record to put.
#[derive(Debug, Clone)]
pub struct PutEntry {
    pub partition_key: String,
    pub explicit_hash_key: Option<u128>,
    pub data: Vec<u8>,
}

/// Per-record result of a put (PutRecords reports these individually).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Ok {
        shard_id: String,
        sequence_number: String,
    },
    /// `ProvisionedThroughputExceededException` (only with emulated limits).
    Throttled { message: String },
    /// `InternalFailure`: the shard's storage failed.
    Failed { message: String },
}

/// Where a reader starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPosition {
    TrimHorizon,
    Latest,
    AtSequence(String),
    AfterSequence(String),
    AtTimestamp(i64),
}

/// A record as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOut {
    pub sequence_number: String,
    pub arrival_ms: i64,
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// A child of a closed shard, returned at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildShard {
    pub shard_id: String,
    pub parent_shards: Vec<String>,
    pub hash_range: HashRange,
}

/// The answer to GetRecords.
#[derive(Debug, Clone)]
pub struct GetRecordsOut {
    pub records: Vec<RecordOut>,
    /// `None` once a closed shard has been read to its end.
    pub next_iterator: Option<String>,
    pub millis_behind_latest: i64,
    /// Present at the end of a closed shard.
    pub child_shards: Option<Vec<ChildShard>>,
}

/// Summary for ListStreams.
#[derive(Debug, Clone)]
pub struct StreamSummary {
    pub name: String,
    pub arn: String,
    pub status: StreamStatus,
    pub on_demand: bool,
    pub created_ms: i64,
}

/// What one read of a shard found.
struct ShardRead {
    records: Vec<log::StoredRecord>,
    /// Counter to continue from.
    next: u64,
    /// Set when a closed shard was read to its end.
    children: Option<Vec<ChildShard>>,
    behind: i64,
}

/// `shardId-%012d`.
pub fn shard_id(index: u64) -> String {
    format!("shardId-{index:012}")
}

/// Parses a shard id (`shardId-000000000001`; AWS also resolves the bare number).
pub fn parse_shard_id(s: &str) -> Option<u64> {
    let digits = s.strip_prefix("shardId-").unwrap_or(s);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}
fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

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
    /// The next counter to be written; subscribers wait on changes.
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
    name: String,
    topo: RwLock<Topology>,
    transition: Mutex<Option<(Instant, StreamStatus)>>,
    deleted: AtomicBool,
}

impl StreamState {
    fn status(&self) -> StreamStatus {
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
        if s.status() == StreamStatus::Creating {
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

    // -----------------------------------------------------------------------------------
    // Control plane.

    /// Creates a stream with `shard_count` evenly split shards. It is CREATING for the
    /// configured transition delay, then ACTIVE.
    pub fn create_stream(
        &self,
        name: &str,
        shard_count: u32,
        on_demand: bool,
        tags: BTreeMap<String, String>,
    ) -> Result<()> {
        self.create_inner(
            name,
            shard_count,
            on_demand,
            tags,
            MIN_RETENTION_HOURS,
            true,
        )
    }

    fn create_inner(
        &self,
        name: &str,
        shard_count: u32,
        on_demand: bool,
        tags: BTreeMap<String, String>,
        retention_hours: u32,
        transition: bool,
    ) -> Result<()> {
        let mut catalog = lock(&self.inner.catalog);
        if read(&self.inner.registry).by_name.contains_key(name) {
            return Err(StreamsError::InUse(format!(
                "Stream {name} under account {} already exists.",
                self.inner.config.account_id
            )));
        }
        if shard_count > self.inner.config.max_shards_per_stream {
            return Err(StreamsError::LimitExceeded(format!(
                "This request would exceed the shard limit for the account {} in us-east-1. Current limit on shards is {}.",
                self.inner.config.account_id, self.inner.config.max_shards_per_stream
            )));
        }
        if tags.len() > MAX_TAGS {
            return Err(StreamsError::InvalidArgument(format!(
                "Failed to create stream {name} under account {} because a given stream cannot have more than {MAX_TAGS} tags associated with it.",
                self.inner.config.account_id
            )));
        }
        let mut uid: u64 = rand::random();
        while catalog.contains_key(&uid) || uid == 0 {
            uid = rand::random();
        }
        let shards: Vec<ShardMeta> = hashkey::even_ranges(shard_count)
            .into_iter()
            .enumerate()
            .map(|(i, range)| ShardMeta {
                index: i as u64,
                range,
                parent: None,
                adjacent_parent: None,
                start_counter: 1,
                end_counter: None,
                created_ms: now_ms(),
                closed_ms: None,
            })
            .collect();
        let meta = StreamMeta {
            name: name.to_owned(),
            uid,
            created_ms: now_ms(),
            retention_hours,
            on_demand,
            next_shard_index: shards.len() as u64,
            shards,
            tags,
            scaling_ops_ms: Vec::new(),
        };
        let state = self.load_stream(meta.clone(), transition.then_some(StreamStatus::Creating))?;
        if !transition {
            *lock(&state.transition) = None;
        }
        catalog.insert(uid, meta);
        if let Err(e) = self.persist(&catalog) {
            catalog.remove(&uid);
            let _ = self.inner.backend.remove_dir_all(&self.stream_dir(uid));
            return Err(e);
        }
        let mut reg = write(&self.inner.registry);
        reg.by_name.insert(name.to_owned(), state.clone());
        reg.by_uid.insert(uid, state);
        Ok(())
    }

    /// For the host's config: creates the stream ACTIVE at once if missing, or adjusts the
    /// retention of an existing one. An existing stream's shard count is left alone
    /// (resharding is an explicit operation).
    pub fn ensure_stream(
        &self,
        name: &str,
        shards: u32,
        retention_hours: u32,
    ) -> Result<StreamInfo> {
        let retention_hours = retention_hours.clamp(MIN_RETENTION_HOURS, MAX_RETENTION_HOURS);
        match self.stream(name) {
            Ok(s) => {
                if read(&s.topo).meta.retention_hours != retention_hours {
                    self.locked_update(&s, |m| {
                        m.retention_hours = retention_hours;
                        Ok(())
                    })?;
                }
            }
            Err(_) => self.create_inner(
                name,
                shards.max(1),
                false,
                BTreeMap::new(),
                retention_hours,
                false,
            )?,
        }
        self.describe_stream(name)
    }

    /// Deletes a stream and its data.
    pub fn delete_stream(&self, name: &str) -> Result<()> {
        let mut catalog = lock(&self.inner.catalog);
        let s = self.stream(name)?;
        let old = catalog.remove(&s.uid);
        if let Err(e) = self.persist(&catalog) {
            if let Some(o) = old {
                catalog.insert(s.uid, o);
            }
            return Err(e);
        }
        {
            let mut reg = write(&self.inner.registry);
            reg.by_name.remove(name);
            reg.by_uid.remove(&s.uid);
        }
        s.deleted.store(true, Ordering::SeqCst);
        {
            // wake subscribers so they notice
            let topo = read(&s.topo);
            for sh in topo.shards.values() {
                sh.tip.send_modify(|_| {});
            }
        }
        self.inner.backend.remove_dir_all(&self.stream_dir(s.uid))?;
        Ok(())
    }

    /// Names and summaries of every stream, sorted by name.
    pub fn list_streams(&self) -> Vec<StreamSummary> {
        let reg = read(&self.inner.registry);
        let mut out: Vec<StreamSummary> = reg
            .by_name
            .values()
            .map(|s| {
                let topo = read(&s.topo);
                StreamSummary {
                    name: s.name.clone(),
                    arn: self.arn(&s.name),
                    status: s.status(),
                    on_demand: topo.meta.on_demand,
                    created_ms: topo.meta.created_ms,
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Full description, every shard included (the API pages it).
    pub fn describe_stream(&self, name: &str) -> Result<StreamInfo> {
        let s = self.stream(name)?;
        let topo = read(&s.topo);
        let shards: Vec<ShardInfo> = topo
            .meta
            .shards
            .iter()
            .map(|m| self.shard_info(m))
            .collect();
        Ok(StreamInfo {
            name: s.name.clone(),
            arn: self.arn(&s.name),
            status: s.status(),
            on_demand: topo.meta.on_demand,
            retention_hours: topo.meta.retention_hours,
            created_ms: topo.meta.created_ms,
            open_shard_count: topo.open.len(),
            shards,
        })
    }

    fn shard_info(&self, m: &ShardMeta) -> ShardInfo {
        ShardInfo {
            shard_id: shard_id(m.index),
            parent_shard_id: m.parent.map(shard_id),
            adjacent_parent_shard_id: m.adjacent_parent.map(shard_id),
            hash_range: m.range,
            starting_sequence_number: SeqNo::new(m.start_counter, m.index).encode(),
            ending_sequence_number: m
                .end_counter
                .map(|e| SeqNo::new(e.max(m.start_counter), m.index).encode()),
        }
    }

    /// Creation and close times of every shard, by shard id.
    pub fn shard_lifetimes(&self, name: &str) -> Result<HashMap<String, (i64, Option<i64>)>> {
        let s = self.stream(name)?;
        let topo = read(&s.topo);
        Ok(topo
            .meta
            .shards
            .iter()
            .map(|m| (shard_id(m.index), (m.created_ms, m.closed_ms)))
            .collect())
    }

    /// Tags of a stream, sorted by key.
    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        Ok(read(&self.stream(name)?.topo).meta.tags.clone())
    }

    /// Adds or overwrites tags (at most 50 per stream).
    pub fn add_tags(&self, name: &str, tags: BTreeMap<String, String>) -> Result<()> {
        let s = self.stream(name)?;
        let account = self.inner.config.account_id.clone();
        self.locked_update(&s, |m| {
            let mut merged = m.tags.clone();
            merged.extend(tags);
            if merged.len() > MAX_TAGS {
                return Err(StreamsError::InvalidArgument(format!(
                    "Failed to add tags to stream {name} under account {account} because a given stream cannot have more than {MAX_TAGS} tags associated with it."
                )));
            }
            m.tags = merged;
            Ok(())
        })
    }

    /// Removes tags; unknown keys are ignored.
    pub fn remove_tags(&self, name: &str, keys: &[String]) -> Result<()> {
        let s = self.stream(name)?;
        self.locked_update(&s, |m| {
            for k in keys {
                m.tags.remove(k);
            }
            Ok(())
        })
    }

    /// Runs a metadata update under the catalog lock.
    fn locked_update(
        &self,
        s: &StreamState,
        f: impl FnOnce(&mut StreamMeta) -> Result<()>,
    ) -> Result<()> {
        let mut catalog = lock(&self.inner.catalog);
        if s.deleted.load(Ordering::SeqCst) {
            return Err(self.not_found(&s.name));
        }
        let mut topo = write(&s.topo);
        let mut meta = topo.meta.clone();
        f(&mut meta)?;
        let old = catalog.insert(meta.uid, meta.clone());
        if let Err(e) = self.persist(&catalog) {
            if let Some(o) = old {
                catalog.insert(meta.uid, o);
            }
            return Err(e);
        }
        topo.meta = meta;
        topo.rebuild_open();
        Ok(())
    }

    /// IncreaseStreamRetentionPeriod / DecreaseStreamRetentionPeriod.
    pub fn set_retention(&self, name: &str, hours: u32, increase: bool) -> Result<()> {
        let s = self.stream(name)?;
        self.require_active(&s)?;
        if hours < MIN_RETENTION_HOURS {
            return Err(StreamsError::InvalidArgument(format!(
                "Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too short."
            )));
        }
        if hours > MAX_RETENTION_HOURS {
            return Err(StreamsError::InvalidArgument(format!(
                "Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too long."
            )));
        }
        self.locked_update(&s, |m| {
            let cur = m.retention_hours;
            if increase && hours < cur {
                return Err(StreamsError::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {name} can not be shorter than existing retention period ({cur} hours). Use DecreaseRetentionPeriod API."
                )));
            }
            if !increase && hours > cur {
                return Err(StreamsError::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {name} can not be longer than existing retention period ({cur} hours). Use IncreaseRetentionPeriod API."
                )));
            }
            m.retention_hours = hours;
            Ok(())
        })
    }

    fn shard_not_found(&self, stream: &str, shard: &str) -> StreamsError {
        StreamsError::NotFound(format!(
            "Shard {shard} in stream {stream} under account {} does not exist",
            self.inner.config.account_id
        ))
    }

    /// Closes the given open shards and opens `children` (ranges with parents), in one
    /// catalog update. Parents are synced first so their `EndingSequenceNumber` is durable.
    fn reshard(
        &self,
        s: &StreamState,
        topo: &mut Topology,
        catalog: &mut BTreeMap<u64, StreamMeta>,
        close: &[u64],
        children: &[(HashRange, u64, Option<u64>)],
        persist: bool,
    ) -> Result<Vec<u64>> {
        let mut meta = topo.meta.clone();
        let mut next_start = 1u64;
        for idx in close {
            let sh = topo
                .shards
                .get(idx)
                .ok_or_else(|| self.shard_not_found(&s.name, &shard_id(*idx)))?;
            let log = lock(&sh.log);
            log.sync_handle().sync()?;
            let end = log.next_counter().saturating_sub(1);
            next_start = next_start.max(log.next_counter());
            if let Some(m) = meta.shards.iter_mut().find(|m| m.index == *idx) {
                m.end_counter = Some(end);
                m.closed_ms = Some(now_ms());
            }
        }
        let mut new_ids = Vec::new();
        for (range, parent, adjacent) in children {
            let index = meta.next_shard_index;
            meta.next_shard_index += 1;
            meta.shards.push(ShardMeta {
                index,
                range: *range,
                parent: Some(*parent),
                adjacent_parent: *adjacent,
                start_counter: next_start,
                end_counter: None,
                created_ms: now_ms(),
                closed_ms: None,
            });
            new_ids.push(index);
        }
        let mut opened = HashMap::new();
        for id in &new_ids {
            if let Some(m) = meta.shards.iter().find(|m| m.index == *id) {
                opened.insert(*id, self.open_shard(s.uid, m)?);
            }
        }
        if persist {
            let old = catalog.insert(meta.uid, meta.clone());
            if let Err(e) = self.persist(catalog) {
                if let Some(o) = old {
                    catalog.insert(meta.uid, o);
                }
                return Err(e);
            }
        }
        topo.meta = meta;
        topo.shards.extend(opened);
        topo.rebuild_open();
        for idx in close {
            if let Some(sh) = topo.shards.get(idx) {
                sh.tip.send_modify(|_| {});
            }
        }
        Ok(new_ids)
    }

    fn open_shard_meta(&self, s: &StreamState, topo: &Topology, shard: &str) -> Result<ShardMeta> {
        let idx = parse_shard_id(shard).ok_or_else(|| self.shard_not_found(&s.name, shard))?;
        let m = topo
            .shard_meta(idx)
            .ok_or_else(|| self.shard_not_found(&s.name, shard))?;
        if m.end_counter.is_some() {
            return Err(StreamsError::InUse(format!(
                "Shard {} in stream {} under account {} has already been merged or split, and thus is not eligible for merging or splitting.",
                shard_id(idx),
                s.name,
                self.inner.config.account_id
            )));
        }
        Ok(m.clone())
    }

    /// SplitShard: the parent closes, two children split its range at `new_start`.
    pub fn split_shard(&self, name: &str, shard: &str, new_start: u128) -> Result<()> {
        let mut catalog = lock(&self.inner.catalog);
        let s = self.stream(name)?;
        self.require_active(&s)?;
        let mut topo = write(&s.topo);
        let m = self.open_shard_meta(&s, &topo, shard)?;
        if !(new_start > m.range.start.saturating_add(1) && new_start < m.range.end) {
            return Err(StreamsError::InvalidArgument(format!(
                "NewStartingHashKey {new_start} used in SplitShard() on shard {} in stream {name} under account {} is not both greater than one plus the shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
                shard_id(m.index), self.inner.config.account_id, m.range.start, m.range.end
            )));
        }
        self.check_shard_limit(&topo, 1)?;
        let children = [
            (
                HashRange {
                    start: m.range.start,
                    end: new_start - 1,
                },
                m.index,
                None,
            ),
            (
                HashRange {
                    start: new_start,
                    end: m.range.end,
                },
                m.index,
                None,
            ),
        ];
        self.reshard(&s, &mut topo, &mut catalog, &[m.index], &children, true)?;
        drop(topo);
        self.set_transition(&s, StreamStatus::Updating);
        Ok(())
    }

    fn check_shard_limit(&self, topo: &Topology, extra: usize) -> Result<()> {
        if topo.open.len() + extra > self.inner.config.max_shards_per_stream as usize {
            return Err(StreamsError::LimitExceeded(format!(
                "This request would exceed the shard limit for the account {}. Current limit on shards is {}.",
                self.inner.config.account_id, self.inner.config.max_shards_per_stream
            )));
        }
        Ok(())
    }

    /// MergeShards: two adjacent open shards close into one child.
    pub fn merge_shards(&self, name: &str, shard: &str, adjacent: &str) -> Result<()> {
        let mut catalog = lock(&self.inner.catalog);
        let s = self.stream(name)?;
        self.require_active(&s)?;
        let mut topo = write(&s.topo);
        let a = self.open_shard_meta(&s, &topo, shard)?;
        let b = self.open_shard_meta(&s, &topo, adjacent)?;
        let range = if a.range.end.checked_add(1) == Some(b.range.start) {
            HashRange {
                start: a.range.start,
                end: b.range.end,
            }
        } else if b.range.end.checked_add(1) == Some(a.range.start) {
            HashRange {
                start: b.range.start,
                end: a.range.end,
            }
        } else {
            return Err(StreamsError::InvalidArgument(format!(
                "Shards {} and {} in stream {name} under account {} are not an adjacent pair of shards eligible for merging",
                shard_id(a.index), shard_id(b.index), self.inner.config.account_id
            )));
        };
        self.reshard(
            &s,
            &mut topo,
            &mut catalog,
            &[a.index, b.index],
            &[(range, a.index, Some(b.index))],
            true,
        )?;
        drop(topo);
        self.set_transition(&s, StreamStatus::Updating);
        Ok(())
    }

    /// UpdateShardCount with UNIFORM_SCALING: the open shards are split at the target's even
    /// boundaries, then the pieces of each target range merged, so every new shard has at
    /// most two parents and per-key order holds through the lineage. Returns
    /// (current, target).
    pub fn update_shard_count(&self, name: &str, target: u32) -> Result<(u32, u32)> {
        let mut catalog = lock(&self.inner.catalog);
        let s = self.stream(name)?;
        self.require_active(&s)?;
        let mut topo = write(&s.topo);
        let current = topo.open.len() as u32;
        let account = &self.inner.config.account_id;
        if target > current.saturating_mul(2) {
            return Err(StreamsError::InvalidArgument(format!(
                "UpdateShardCount failed for stream {name} under account {account}. Cannot scale up more than double the current open shard count ({current}). Requested {target}."
            )));
        }
        if target < current.div_ceil(2) {
            return Err(StreamsError::InvalidArgument(format!(
                "UpdateShardCount failed for stream {name} under account {account}. Cannot scale down below half the current open shard count ({current}). Requested {target}."
            )));
        }
        if target > self.inner.config.max_shards_per_stream {
            return Err(StreamsError::LimitExceeded(format!(
                "UpdateShardCount failed for stream {name} under account {account}. Requested {target} shards exceeds the shard limit of {}.",
                self.inner.config.max_shards_per_stream
            )));
        }
        let now = now_ms();
        let day_ago = now - 24 * 3600 * 1000;
        let recent = topo
            .meta
            .scaling_ops_ms
            .iter()
            .filter(|t| **t > day_ago)
            .count();
        if recent >= MAX_SCALING_OPS_PER_DAY {
            return Err(StreamsError::LimitExceeded(format!(
                "UpdateShardCount failed for stream {name} under account {account}. Exceeded the limit of {MAX_SCALING_OPS_PER_DAY} scaling operations in a rolling 24-hour period."
            )));
        }
        let targets = hashkey::even_ranges(target);
        // All steps are applied in memory and persisted once at the end, so a crash or an
        // error leaves the stream as it was (the new shards' directories are then strays,
        // removed on the next start).
        let before_meta = topo.meta.clone();
        let before_shards: Vec<u64> = topo.shards.keys().copied().collect();
        let result = self.scale_steps(&s, &mut topo, &mut catalog, &targets);
        let persisted = result.and_then(|()| {
            let mut meta = topo.meta.clone();
            meta.scaling_ops_ms.retain(|t| *t > day_ago);
            meta.scaling_ops_ms.push(now);
            let old = catalog.insert(meta.uid, meta.clone());
            match self.persist(&catalog) {
                Ok(()) => {
                    topo.meta = meta;
                    Ok(())
                }
                Err(e) => {
                    if let Some(o) = old {
                        catalog.insert(meta.uid, o);
                    }
                    Err(e)
                }
            }
        });
        if let Err(e) = persisted {
            topo.meta = before_meta;
            topo.shards.retain(|k, _| before_shards.contains(k));
            topo.rebuild_open();
            return Err(e);
        }
        drop(topo);
        self.set_transition(&s, StreamStatus::Updating);
        Ok((current, target))
    }

    /// The split and merge steps of UpdateShardCount, in memory only.
    fn scale_steps(
        &self,
        s: &StreamState,
        topo: &mut Topology,
        catalog: &mut BTreeMap<u64, StreamMeta>,
        targets: &[HashRange],
    ) -> Result<()> {
        // Phase 1: split open shards at every target boundary inside them.
        let open_now: Vec<(u128, u128, u64)> = topo.open.clone();
        for (start, end, idx) in open_now {
            let mut cur = (start, end, idx);
            for t in targets {
                if t.start > cur.0 && t.start <= cur.1 {
                    let children = [
                        (
                            HashRange {
                                start: cur.0,
                                end: t.start - 1,
                            },
                            cur.2,
                            None,
                        ),
                        (
                            HashRange {
                                start: t.start,
                                end: cur.1,
                            },
                            cur.2,
                            None,
                        ),
                    ];
                    let ids = self.reshard(s, topo, catalog, &[cur.2], &children, false)?;
                    cur = (t.start, cur.1, ids[1]);
                }
            }
        }
        // Phase 2: merge the pieces inside each target range, left to right.
        for t in targets {
            loop {
                let pieces: Vec<(u128, u128, u64)> = topo
                    .open
                    .iter()
                    .filter(|(st, en, _)| *st >= t.start && *en <= t.end)
                    .copied()
                    .collect();
                if pieces.len() < 2 {
                    break;
                }
                let (a, b) = (pieces[0], pieces[1]);
                self.reshard(
                    s,
                    topo,
                    catalog,
                    &[a.2, b.2],
                    &[(
                        HashRange {
                            start: a.0,
                            end: b.1,
                        },
                        a.2,
                        Some(b.2),
                    )],
                    false,
                )?;
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Data plane.

    /// Puts records in order; each gets its own outcome (PutRecords semantics). Records to
    /// the same shard are appended in one write, and with `FsyncPolicy::Always` synced
    /// before this returns.
    pub fn put_records(&self, name: &str, entries: &[PutEntry]) -> Result<Vec<PutOutcome>> {
        self.put_inner(name, entries, None)
    }

    /// PutRecord: one record, optionally ordered after `sequence_number_for_ordering`.
    pub fn put_record(
        &self,
        name: &str,
        entry: &PutEntry,
        ordering: Option<&str>,
    ) -> Result<(String, String)> {
        let min = ordering
            .and_then(SeqNo::decode)
            .map(|s| s.counter.saturating_add(1));
        let out = self.put_inner(name, std::slice::from_ref(entry), min)?;
        match out.into_iter().next() {
            Some(PutOutcome::Ok {
                shard_id,
                sequence_number,
            }) => Ok((shard_id, sequence_number)),
            Some(PutOutcome::Throttled { message }) => Err(StreamsError::Throughput(message)),
            Some(PutOutcome::Failed { message }) => {
                Err(StreamsError::Io(std::io::Error::other(message)))
            }
            None => Err(StreamsError::Io(std::io::Error::other("no outcome"))),
        }
    }

    fn put_inner(
        &self,
        name: &str,
        entries: &[PutEntry],
        min_counter: Option<u64>,
    ) -> Result<Vec<PutOutcome>> {
        // The API validates against AWS's limits; this guards the on-disk format (a u16 key
        // length, bounded frames) against any other caller.
        for e in entries {
            let chars = e.partition_key.chars().count();
            if !(1..=256).contains(&chars) {
                return Err(StreamsError::InvalidArgument(format!(
                    "Partition key must be 1 to 256 characters, got {chars}."
                )));
            }
            if e.data.len() + e.partition_key.len() > MAX_RECORD_BYTES {
                return Err(StreamsError::InvalidArgument(format!(
                    "Record of {} bytes exceeds the {MAX_RECORD_BYTES}-byte limit.",
                    e.data.len() + e.partition_key.len()
                )));
            }
        }
        let s = self.stream_for_data(name)?;
        let topo = read(&s.topo);
        let mut outcomes: Vec<Option<PutOutcome>> = vec![None; entries.len()];
        // group entry indices by shard, keeping request order within each shard
        let mut groups: Vec<(u64, Vec<usize>)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let key = e
                .explicit_hash_key
                .unwrap_or_else(|| hashkey::hash_partition_key(&e.partition_key));
            let Some(idx) = topo.route(key) else {
                outcomes[i] = Some(PutOutcome::Failed {
                    message: "Internal Service Failure".into(),
                });
                continue;
            };
            if self.inner.config.throughput_limits {
                let Some(sh) = topo.shards.get(&idx) else {
                    continue;
                };
                if !lock(&sh.bucket).try_take(e.data.len() + e.partition_key.len()) {
                    outcomes[i] = Some(PutOutcome::Throttled {
                        message: format!(
                            "Rate exceeded for shard {} in stream {name} under account {}.",
                            shard_id(idx),
                            self.inner.config.account_id
                        ),
                    });
                    continue;
                }
            }
            match groups.iter_mut().find(|(g, _)| *g == idx) {
                Some((_, v)) => v.push(i),
                None => groups.push((idx, vec![i])),
            }
        }
        let mut to_sync = Vec::new();
        for (idx, members) in &groups {
            let Some(sh) = topo.shards.get(idx) else {
                continue;
            };
            let items: Vec<AppendItem<'_>> = members
                .iter()
                .map(|&i| AppendItem {
                    partition_key: &entries[i].partition_key,
                    data: &entries[i].data,
                })
                .collect();
            let result = {
                let mut log = lock(&sh.log);
                let r = log.append(&items, min_counter);
                if r.is_ok() {
                    sh.tip.send_replace(log.next_counter());
                    if self.inner.config.fsync == FsyncPolicy::Always {
                        to_sync.push((members.clone(), log.sync_handle()));
                    } else {
                        sh.dirty.store(true, Ordering::Release);
                    }
                }
                r
            };
            match result {
                Ok(written) => {
                    for (&i, (counter, _)) in members.iter().zip(written) {
                        outcomes[i] = Some(PutOutcome::Ok {
                            shard_id: shard_id(*idx),
                            sequence_number: SeqNo::new(counter, *idx).encode(),
                        });
                    }
                }
                Err(e) => {
                    tracing::error!(stream = name, shard = idx, error = %e, "append failed");
                    for &i in members {
                        outcomes[i] = Some(PutOutcome::Failed {
                            message: "Internal Service Failure".into(),
                        });
                    }
                }
            }
        }
        // Sync outside the log locks: concurrent writers to the same shard share the work.
        for (members, handle) in to_sync {
            if let Err(e) = handle.sync() {
                tracing::error!(stream = name, error = %e, "fsync failed");
                for i in members {
                    outcomes[i] = Some(PutOutcome::Failed {
                        message: "Internal Service Failure".into(),
                    });
                }
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or(PutOutcome::Failed {
                    message: "Internal Service Failure".into(),
                })
            })
            .collect())
    }

    /// Resolves a start position to a counter in a shard.
    fn resolve_position(&self, s: &StreamState, idx: u64, start: &StartPosition) -> Result<u64> {
        let topo = read(&s.topo);
        let sh = topo
            .shards
            .get(&idx)
            .ok_or_else(|| self.shard_not_found(&s.name, &shard_id(idx)))?;
        let seq_for = |seq: &str| -> Result<u64> {
            let decoded = SeqNo::decode(seq).ok_or_else(|| {
                StreamsError::InvalidArgument(format!(
                    "StartingSequenceNumber {seq} used in GetShardIterator on shard {} in stream {} under account {} is invalid.",
                    shard_id(idx), s.name, self.inner.config.account_id
                ))
            })?;
            if decoded.shard_index != idx {
                return Err(StreamsError::InvalidArgument(format!(
                    "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
                    shard_id(decoded.shard_index),
                    shard_id(idx)
                )));
            }
            Ok(decoded.counter)
        };
        Ok(match start {
            StartPosition::TrimHorizon => 0,
            StartPosition::Latest => lock(&sh.log).next_counter(),
            StartPosition::AtSequence(q) => seq_for(q)?,
            StartPosition::AfterSequence(q) => seq_for(q)?.saturating_add(1),
            StartPosition::AtTimestamp(ts) => {
                let now = now_ms();
                if *ts > now {
                    return Err(StreamsError::InvalidArgument(format!(
                        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {ts}, currentTimestampInMillis: {now}"
                    )));
                }
                let (plan, next) = {
                    let log = lock(&sh.log);
                    (log.time_plan(*ts), log.next_counter())
                };
                log::first_at_time(&plan, *ts)?.unwrap_or(next)
            }
        })
    }

    /// GetShardIterator.
    pub fn get_shard_iterator(
        &self,
        name: &str,
        shard: &str,
        start: &StartPosition,
    ) -> Result<String> {
        let s = self.stream_for_data(name)?;
        let idx = parse_shard_id(shard).ok_or_else(|| self.shard_not_found(name, shard))?;
        let counter = self.resolve_position(&s, idx, start)?;
        Ok(self.inner.codec.encode(&IteratorPos {
            stream_uid: s.uid,
            shard_index: idx,
            counter,
            issued_ms: now_ms(),
        }))
    }

    /// Reads from a shard position: (records, next counter, end-of-closed-shard children,
    /// millis behind latest).
    fn read_from(&self, s: &StreamState, idx: u64, from: u64, limit: usize) -> Result<ShardRead> {
        let topo = read(&s.topo);
        let sh = topo
            .shards
            .get(&idx)
            .ok_or_else(|| self.shard_not_found(&s.name, &shard_id(idx)))?;
        let meta = topo
            .shard_meta(idx)
            .ok_or_else(|| self.shard_not_found(&s.name, &shard_id(idx)))?;
        let (plan, first, last) = {
            let log = lock(&sh.log);
            (log.read_plan(from), log.first_counter(), log.last_record())
        };
        let from = from.max(first);
        let out = log::read_spans(&plan, from, limit.min(MAX_GET_RECORDS), MAX_GET_BYTES)?;
        let next = out.records.last().map(|r| r.counter + 1).unwrap_or(from);
        let behind = if out.reached_tip {
            0
        } else {
            match (out.records.last(), last) {
                (Some(r), Some((_, tip))) => (tip - r.arrival_ms).max(0),
                _ => 0,
            }
        };
        let children = if meta.end_counter.is_some() && out.reached_tip {
            let mut kids: Vec<ChildShard> = topo
                .meta
                .shards
                .iter()
                .filter(|c| c.parent == Some(idx) || c.adjacent_parent == Some(idx))
                .map(|c| ChildShard {
                    shard_id: shard_id(c.index),
                    parent_shards: c
                        .parent
                        .into_iter()
                        .chain(c.adjacent_parent)
                        .map(shard_id)
                        .collect(),
                    hash_range: c.range,
                })
                .collect();
            kids.sort_by(|a, b| a.shard_id.cmp(&b.shard_id));
            Some(kids)
        } else {
            None
        };
        Ok(ShardRead {
            records: out.records,
            next,
            children,
            behind,
        })
    }

    /// GetRecords.
    pub fn get_records(&self, iterator: &str, limit: usize) -> Result<GetRecordsOut> {
        let pos = self
            .inner
            .codec
            .decode(iterator)
            .ok_or_else(|| StreamsError::InvalidArgument("Invalid ShardIterator.".into()))?;
        let now = now_ms();
        if now - pos.issued_ms > ITERATOR_TTL_MS {
            return Err(StreamsError::ExpiredIterator(format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ITERATOR_TTL_MS} milliseconds.",
                pos.issued_ms, now
            )));
        }
        let s = read(&self.inner.registry)
            .by_uid
            .get(&pos.stream_uid)
            .cloned()
            .ok_or_else(|| {
                StreamsError::NotFound("Stream for the given ShardIterator does not exist.".into())
            })?;
        let ShardRead {
            records,
            next,
            children,
            behind,
        } = self.read_from(&s, pos.shard_index, pos.counter, limit)?;
        let records = records
            .into_iter()
            .map(|r| RecordOut {
                sequence_number: SeqNo::new(r.counter, pos.shard_index).encode(),
                arrival_ms: r.arrival_ms,
                partition_key: r.partition_key,
                data: r.data,
            })
            .collect();
        let next_iterator = match children {
            Some(_) => None,
            None => Some(self.inner.codec.encode(&IteratorPos {
                counter: next,
                issued_ms: now,
                ..pos
            })),
        };
        Ok(GetRecordsOut {
            records,
            next_iterator,
            millis_behind_latest: behind,
            child_shards: children,
        })
    }

    /// Subscribes to a shard from `start`, for in-process consumers: records arrive as soon
    /// as they are appended, de-aggregated, without HTTP or iterators.
    pub fn subscribe(&self, name: &str, shard: &str, start: StartPosition) -> Result<Subscription> {
        let s = self.stream_for_data(name)?;
        let idx = parse_shard_id(shard).ok_or_else(|| self.shard_not_found(name, shard))?;
        let counter = self.resolve_position(&s, idx, &start)?;
        let rx = {
            let topo = read(&s.topo);
            let sh = topo
                .shards
                .get(&idx)
                .ok_or_else(|| self.shard_not_found(name, shard))?;
            sh.tip.subscribe()
        };
        Ok(Subscription::new(self.clone(), s, idx, counter, rx))
    }

    pub(crate) fn subscription_read(
        &self,
        s: &StreamState,
        idx: u64,
        from: u64,
        limit: usize,
    ) -> Result<(Vec<log::StoredRecord>, u64, Option<Vec<ChildShard>>)> {
        if s.deleted.load(Ordering::SeqCst) {
            return Err(self.not_found(&s.name));
        }
        let r = self.read_from(s, idx, from, limit)?;
        Ok((r.records, r.next, r.children))
    }

    // -----------------------------------------------------------------------------------
    // Maintenance.

    fn all_shards(&self) -> Vec<(Arc<StreamState>, Arc<ShardState>)> {
        let reg = read(&self.inner.registry);
        let mut out = Vec::new();
        for s in reg.by_uid.values() {
            for sh in read(&s.topo).shards.values() {
                out.push((s.clone(), sh.clone()));
            }
        }
        out
    }

    /// Makes every appended record durable (shutdown, interval policy).
    pub fn sync_all(&self) -> Result<()> {
        for (_, sh) in self.all_shards() {
            if sh.dirty.swap(false, Ordering::AcqRel) {
                let handle = lock(&sh.log).sync_handle();
                if let Err(e) = handle.sync() {
                    sh.dirty.store(true, Ordering::Release);
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// Drops whole segments older than each stream's retention, as of `now_ms`.
    /// Closed shards whose records have all expired, and which closed before the cutoff,
    /// disappear from the stream as they do on AWS (children keep naming them as parents).
    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize> {
        let mut dropped = 0;
        let streams: Vec<Arc<StreamState>> = read(&self.inner.registry)
            .by_uid
            .values()
            .cloned()
            .collect();
        for s in streams {
            let (hours, shards) = {
                let t = read(&s.topo);
                let shards: Vec<(u64, Arc<ShardState>)> =
                    t.shards.iter().map(|(i, sh)| (*i, sh.clone())).collect();
                (t.meta.retention_hours, shards)
            };
            let cutoff = now_ms - i64::from(hours) * 3600 * 1000;
            let mut empty = Vec::new();
            for (idx, sh) in shards {
                let mut log = lock(&sh.log);
                dropped += log.drop_before(cutoff)?;
                if log.last_record().is_none() {
                    empty.push(idx);
                }
            }
            let gone: Vec<u64> = {
                let t = read(&s.topo);
                empty
                    .into_iter()
                    .filter(|i| {
                        t.shard_meta(*i)
                            .is_some_and(|m| m.closed_ms.is_some_and(|c| c < cutoff))
                    })
                    .collect()
            };
            if gone.is_empty() {
                continue;
            }
            self.locked_update(&s, |m| {
                m.shards.retain(|x| !gone.contains(&x.index));
                Ok(())
            })?;
            {
                let mut t = write(&s.topo);
                for i in &gone {
                    if let Some(sh) = t.shards.remove(i) {
                        sh.tip.send_modify(|_| {});
                    }
                }
            }
            for i in &gone {
                let dir = self.stream_dir(s.uid).join(format!("{i:012}"));
                self.inner.backend.remove_dir_all(&dir)?;
            }
        }
        Ok(dropped)
    }

    /// The fsync-interval flusher and the retention sweeper, on one thread that ends when
    /// the engine is dropped.
    fn start_maintenance(&self) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let tick = match self.inner.config.fsync {
            FsyncPolicy::Interval(d) => d,
            _ => Duration::from_millis(500),
        };
        let spawned = std::thread::Builder::new()
            .name("weir-streams-maint".into())
            .spawn(move || {
                let mut last_retention = Instant::now();
                loop {
                    std::thread::sleep(tick);
                    let Some(inner) = weak.upgrade() else { return };
                    let streams = Streams { inner };
                    if matches!(streams.inner.config.fsync, FsyncPolicy::Interval(_)) {
                        if let Err(e) = streams.sync_all() {
                            tracing::error!(error = %e, "interval fsync failed");
                        }
                    }
                    if last_retention.elapsed() >= Duration::from_secs(60) {
                        last_retention = Instant::now();
                        if let Err(e) = streams.enforce_retention(now_ms()) {
                            tracing::error!(error = %e, "retention sweep failed");
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the maintenance thread");
        }
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

#[cfg(test)]
mod tests;
