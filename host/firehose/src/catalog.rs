//! The delivery streams of this host: the service's state, opening it, the catalog on disk
//! (`catalog.json`, written before every answer that changes it) and the put path into the
//! buffers. The API's operations live by concern in `catalog/lifecycle.rs` (create,
//! describe, list, delete) and `catalog/settings.rs` (update, tags, encryption); the
//! folder-mode rule action's streams in `implicit.rs`.

mod lifecycle;
mod settings;

pub(crate) use lifecycle::check_keys;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant};

use weir_streams::{FsyncPolicy, PutEntry, Streams, StreamsConfig};
use weir_support::docstore::{DocExpect, DocStore, FolderDocStore};
use weir_support::{lock, read, write};

use crate::error::{FirehoseError, Result};
use crate::http::HttpSender;
use crate::implicit::{FlushSignal, FolderTarget};
use crate::model::*;
use crate::process::ProcessorSlot;
use crate::store::{Storage, Stores};

/// What the service needs to run.
#[derive(Debug, Clone)]
pub struct FirehoseConfig {
    /// The buffers live here, and the catalog and checkpoints unless `docs` says otherwise.
    pub dir: PathBuf,
    /// Where the catalogs (`catalog.json`, `implicit.json`) and the delivery and source
    /// checkpoints (`checkpoints/UID`, `checkpoints/UID.source.json`) are kept: `None` for
    /// files under `dir`; a cluster's key-value bucket shares them between hosts.
    ///
    /// A store given here is taken to be shared with other hosts: each delivery (and each
    /// `KinesisStreamAsSource` reader) runs only while this host holds its lease
    /// (`leases/delivery/UID`, `leases/source/UID`), checkpoints are written by
    /// compare-and-set, the catalog is written by compare-and-set and polled every
    /// [`CATALOG_POLL`] for other hosts' creates, updates and deletes, and nothing is swept at
    /// open. With `None` (one host) none of that runs.
    pub docs: Option<Arc<dyn DocStore>>,
    /// Where the delivery-stream buffers live: `None` for shard logs under `dir/buffer`
    /// (fsynced on every put); a cluster's stores share them, so a record put through one
    /// host is delivered by whichever host holds the delivery stream's lease.
    pub buffer_stores: Option<Arc<dyn weir_streams::StoreFactory>>,
    pub storage: Storage,
    pub region: String,
    pub account_id: String,
    /// How long CREATING, DELETING, ENABLING and DISABLING are shown.
    pub transition_delay: Duration,
    /// How often an idle delivery thread looks for new records.
    pub poll_interval: Duration,
    /// Runs the transformation functions `ProcessingConfiguration` names.
    pub processor: ProcessorSlot,
    /// The Weir streams a `KinesisStreamAsSource` delivery stream reads.
    pub source_streams: Option<Streams>,
    /// Table schemas for format conversion, by `DATABASE.TABLE`: `(column, Hive type)`.
    pub schemas: BTreeMap<String, Vec<(String, String)>>,
    /// How long a failing object of a stream without dynamic partitioning is retried before
    /// its records go to the error output (a partitioning stream uses its own
    /// `RetryOptions.DurationInSeconds`). 1 hour: AWS retries S3 for 24 hours, which is also
    /// this service's buffer retention, so the retry must end well before.
    pub s3_retry_duration: Duration,
    /// Which addresses HTTP endpoint destinations may reach (an API caller names the URL):
    /// by default none but public ones, from `[firehose] allow_private_endpoints` and
    /// `allowed_endpoints` in `weir run`.
    pub egress: crate::egress::Egress,
    /// How long a delivery lease lasts unrenewed (renewed every third of it): the longest a
    /// delivery stream waits for another host to take over from one that died. Only used
    /// with a shared `docs`.
    pub lease_ttl: Duration,
}

impl FirehoseConfig {
    pub fn new(dir: impl Into<PathBuf>, storage: Storage) -> Self {
        FirehoseConfig {
            dir: dir.into(),
            docs: None,
            buffer_stores: None,
            storage,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            transition_delay: Duration::from_millis(100),
            poll_interval: Duration::from_millis(20),
            processor: ProcessorSlot::default(),
            source_streams: None,
            schemas: BTreeMap::new(),
            s3_retry_duration: Duration::from_secs(3600),
            egress: crate::egress::Egress::default(),
            lease_ttl: Duration::from_secs(10),
        }
    }
}

/// CreateDeliveryStream's settings, validated by [`Firehose::create`].
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: String,
    pub source: SourceKind,
    pub kinesis_stream_arn: Option<String>,
    pub destination: DeliveryDestination,
    pub tags: BTreeMap<String, String>,
    /// `Some((KeyType, KeyARN))` to start with server-side encryption on.
    pub encryption: Option<(String, Option<String>)>,
    pub processing: Option<Processing>,
    pub partitioning: Option<Partitioning>,
    pub conversion: Option<Conversion>,
}

/// DescribeDeliveryStream's answer.
#[derive(Debug, Clone)]
pub struct Description {
    pub spec: DeliveryStreamSpec,
    pub arn: String,
    pub status: DeliveryStreamStatus,
    pub encryption: EncryptionStatus,
}

/// One record's outcome in PutRecordBatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordPutOutcome {
    Ok {
        record_id: String,
    },
    /// The buffer refused it (`ServiceUnavailableException` for this record).
    Failed {
        message: String,
    },
}

/// A delivery stream at run time.
pub(crate) struct Entry {
    pub(crate) spec: RwLock<DeliveryStreamSpec>,
    /// CREATING until then.
    ready_at: Instant,
    /// ENABLING / DISABLING until then.
    encryption_until: Mutex<Option<Instant>>,
    pub(crate) deleting: AtomicBool,
    pub(crate) stop: AtomicBool,
    pub(crate) stats: StatCounters,
    /// An implicit stream's folder and exact buffering (`implicit.rs`); `None` for a stream
    /// of the catalog, which delivers to its bucket by its spec.
    pub(crate) folder: Option<RwLock<Arc<FolderTarget>>>,
    /// Asks the delivery thread to deliver what is buffered now (`implicit.rs`).
    pub(crate) flush: FlushSignal,
}

/// What a delivery stream's delivery thread counts, since the service started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Records put in the error output (`s3-failed`) because their object could not be
    /// stored within the retry duration.
    pub failed_over_records: u64,
    /// Records held right now because the error output cannot be written either: they are
    /// retried and hold the checkpoint (nothing is skipped), and once older than the
    /// buffer's 24-hour retention a restart would lose them.
    pub held_records: u64,
}

#[derive(Debug, Default)]
pub(crate) struct StatCounters {
    pub(crate) failed_over_records: AtomicU64,
    pub(crate) held_records: AtomicU64,
}

impl Entry {
    fn new(spec: DeliveryStreamSpec, ready_at: Instant) -> Arc<Entry> {
        Entry::with_folder(spec, ready_at, None)
    }

    pub(crate) fn with_folder(
        spec: DeliveryStreamSpec,
        ready_at: Instant,
        folder: Option<Arc<FolderTarget>>,
    ) -> Arc<Entry> {
        Arc::new(Entry {
            spec: RwLock::new(spec),
            ready_at,
            encryption_until: Mutex::new(None),
            deleting: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            stats: StatCounters::default(),
            folder: folder.map(RwLock::new),
            flush: FlushSignal::default(),
        })
    }

    /// The implicit stream's folder, as it is now.
    pub(crate) fn folder(&self) -> Option<Arc<FolderTarget>> {
        self.folder.as_ref().map(|f| read(f).clone())
    }

    fn status(&self) -> DeliveryStreamStatus {
        if self.deleting.load(Ordering::SeqCst) {
            DeliveryStreamStatus::Deleting
        } else if Instant::now() < self.ready_at {
            DeliveryStreamStatus::Creating
        } else {
            DeliveryStreamStatus::Active
        }
    }

    fn encryption_status(&self) -> EncryptionStatus {
        let enabled = read(&self.spec).encryption.enabled;
        let moving = lock(&self.encryption_until).is_some_and(|t| Instant::now() < t);
        match (enabled, moving) {
            (true, false) => EncryptionStatus::Enabled,
            (true, true) => EncryptionStatus::Enabling,
            (false, false) => EncryptionStatus::Disabled,
            (false, true) => EncryptionStatus::Disabling,
        }
    }
}

/// AWS retries S3 delivery for 24 hours and then drops the data; the buffer keeps records
/// that long.
pub(crate) const BUFFER_RETENTION_HOURS: u32 = 24;

pub(crate) fn buffer_name(uid: &str) -> String {
    format!("ds-{uid}")
}

/// How often a host with a shared `docs` looks for other hosts' catalog changes.
pub const CATALOG_POLL: Duration = Duration::from_millis(500);

pub(crate) struct Inner {
    pub(crate) config: FirehoseConfig,
    /// The catalogs and checkpoints (`FirehoseConfig::docs`).
    pub(crate) docs: Arc<dyn DocStore>,
    /// Whether `docs` is shared with other hosts (`FirehoseConfig::docs` is set): leases,
    /// compare-and-set and the catalog poll.
    pub(crate) shared: bool,
    /// This service's lease holder id: unique per open, so a restarted host never mistakes
    /// its old self's lease for its own.
    pub(crate) holder: String,
    /// Set by [`Firehose::halt_as_if_crashed`]: every thread stops without releasing or
    /// writing anything.
    pub(crate) crashed: AtomicBool,
    /// The buffer engine.
    buffer: Streams,
    /// The revision of the catalog document this host last applied whole (shared `docs`
    /// only). Revisions only grow, so any write since, this host's own included, makes the
    /// next poll apply the document again (content could come back to an older state, and
    /// this host's own writes leave it behind other hosts' changes they merged).
    catalog_seen: Mutex<Option<weir_support::docstore::DocRevision>>,
    pub(crate) stores: Stores,
    pub(crate) runtime: tokio::runtime::Handle,
    streams: Mutex<BTreeMap<String, Arc<Entry>>>,
    /// The implicit streams (`implicit.rs`), by key; never listed with `streams`.
    pub(crate) implicit: Mutex<BTreeMap<String, Arc<Entry>>>,
    /// One HTTP client (and connection pool) for every HTTP endpoint destination.
    http: OnceLock<HttpSender>,
}

impl Inner {
    /// The buffer engine.
    pub(crate) fn buffer(&self) -> &Streams {
        &self.buffer
    }

    /// Whether the threads must stop as a crash would stop them.
    pub(crate) fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    /// Makes the buffer engine see the buffers of `uids`, which another host may have created
    /// after this engine last read its catalog (`Streams::refresh`; the engine's own poll
    /// would find them too, a moment later). Nothing to do when it sees them all.
    pub(crate) fn see_buffers(&self, uids: &[&str]) -> Result<()> {
        let missing = uids
            .iter()
            .any(|u| self.buffer.describe_stream(&buffer_name(u)).is_err());
        if missing {
            self.buffer.refresh()?;
        }
        Ok(())
    }

    pub(crate) fn arn(&self, name: &str) -> String {
        let c = &self.config;
        format!(
            "arn:aws:firehose:{}:{}:deliverystream/{name}",
            c.region, c.account_id
        )
    }

    /// Firehose gives an endpoint 3 minutes per request.
    pub(crate) fn http_sender(&self) -> Result<&HttpSender> {
        if let Some(s) = self.http.get() {
            return Ok(s);
        }
        let sender =
            HttpSender::new(Duration::from_secs(180), &self.config.egress).map_err(|e| {
                FirehoseError::Io {
                    what: "cannot build the HTTP endpoint client".into(),
                    source: std::io::Error::other(e),
                }
            })?;
        Ok(self.http.get_or_init(|| sender))
    }
}

/// The Firehose service; cheap to clone. Delivery threads stop once every clone is dropped.
#[derive(Clone)]
pub struct Firehose {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Firehose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Firehose")
            .field("dir", &self.inner.config.dir)
            .field("storage", &self.inner.config.storage)
            .finish()
    }
}

impl Firehose {
    /// Opens (or creates) the service under `config.dir` and starts a delivery thread per
    /// delivery stream in the catalog, implicit ones included (what their buffers still hold
    /// is delivered whether or not an action claims them again). `runtime` runs the
    /// object-store requests.
    pub fn open(config: FirehoseConfig, runtime: tokio::runtime::Handle) -> Result<Firehose> {
        let docs: Arc<dyn DocStore> = match &config.docs {
            Some(d) => d.clone(),
            None => Arc::new(FolderDocStore::new(&config.dir)),
        };
        let shared = config.docs.is_some();
        let mut bc = StreamsConfig::new(config.dir.join("buffer"));
        bc.fsync = FsyncPolicy::Always;
        bc.transition_delay = Duration::ZERO;
        bc.region = config.region.clone();
        bc.account_id = config.account_id.clone();
        let buffer = match &config.buffer_stores {
            Some(stores) => Streams::open_with_stores(bc, stores.clone())?,
            None => Streams::open(bc)?,
        };
        let catalog_doc = docs.get(CATALOG)?;
        let specs = parse_catalog(&*docs, catalog_doc.as_ref().map(|(b, _)| b.as_slice()))?;
        let implicit_specs = crate::implicit::load_live(&*docs, &buffer, shared)?;
        let uids = specs
            .iter()
            .chain(implicit_specs.iter().map(|s| &s.spec))
            .map(|s| s.uid.as_str());
        // A shared store may hold another host's create in progress (its buffer made, its
        // catalog entry not yet written): nothing is swept there.
        if !shared {
            sweep_orphans(&*docs, &buffer, uids)?;
        }
        let mut streams = BTreeMap::new();
        let now = Instant::now();
        for spec in specs {
            // A buffer lost with its folder is re-created empty rather than failing the host.
            buffer.ensure_stream(&buffer_name(&spec.uid), 1, BUFFER_RETENTION_HOURS)?;
            streams.insert(spec.name.clone(), Entry::new(spec, now));
        }
        let implicit = crate::implicit::entries(&buffer, implicit_specs)?;
        let entries: Vec<Arc<Entry>> = streams.values().cloned().collect();
        let implicit_entries: Vec<Arc<Entry>> = implicit.values().cloned().collect();
        let stores = Stores::new(config.storage.clone());
        let firehose = Firehose {
            inner: Arc::new(Inner {
                config,
                docs,
                shared,
                holder: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
                crashed: AtomicBool::new(false),
                buffer,
                catalog_seen: Mutex::new(catalog_doc.map(|(_, rev)| rev)),
                stores,
                runtime,
                streams: Mutex::new(streams),
                implicit: Mutex::new(implicit),
                http: OnceLock::new(),
            }),
        };
        for e in entries {
            crate::source::spawn(&firehose.inner, e.clone())?;
            crate::deliver::spawn(&firehose.inner, e)?;
        }
        for e in implicit_entries {
            crate::deliver::spawn(&firehose.inner, e)?;
        }
        crate::deliver::spawn_housekeeping(&firehose.inner)?;
        if shared {
            spawn_catalog_poll(&firehose.inner)?;
        }
        Ok(firehose)
    }

    /// This service's lease holder id, as lease documents name it (for tests and logs).
    #[doc(hidden)]
    pub fn lease_holder(&self) -> &str {
        &self.inner.holder
    }

    /// Stops every thread of this service the way a crash would: deliveries stop where they
    /// are, without writing a checkpoint or releasing a lease (another host takes over once
    /// the leases expire). For tests of takeover; the service answers nothing useful after.
    #[doc(hidden)]
    pub fn halt_as_if_crashed(&self) {
        self.inner.crashed.store(true, Ordering::SeqCst);
        for e in lock(&self.inner.streams).values() {
            e.stop.store(true, Ordering::SeqCst);
        }
    }

    /// Brings this host's delivery streams up to the shared catalog: starts the ones another
    /// host created, applies its updates, stops the ones it deleted (their data is the
    /// deleting host's to remove). A cheap read when nothing changed.
    pub(crate) fn sync_catalog(&self) -> Result<()> {
        if !self.inner.shared {
            return Ok(());
        }
        // A first look without the lock, so puts do not wait on the common "nothing changed".
        let peek = self.inner.docs.get(CATALOG)?.map(|(_, rev)| rev);
        if *lock(&self.inner.catalog_seen) == peek {
            return Ok(());
        }
        // Read again under the lock: a change this host wrote since the peek must not be
        // undone by applying the older document.
        let mut streams = lock(&self.inner.streams);
        let doc = self.inner.docs.get(CATALOG)?;
        let rev = doc.as_ref().map(|(_, rev)| *rev);
        if *lock(&self.inner.catalog_seen) == rev {
            return Ok(());
        }
        let specs = parse_catalog(&*self.inner.docs, doc.as_ref().map(|(b, _)| b.as_slice()))?;
        let new: Vec<&str> = specs
            .iter()
            .filter(|s| {
                streams
                    .get(&s.name)
                    .is_none_or(|e| read(&e.spec).uid != s.uid)
            })
            .map(|s| s.uid.as_str())
            .collect();
        self.inner.see_buffers(&new)?;
        let names: std::collections::HashSet<&str> =
            specs.iter().map(|s| s.name.as_str()).collect();
        // A stream this host is deleting left the catalog with its own write; it shows
        // DELETING until its deletion thread removes it.
        let gone: Vec<String> = streams
            .iter()
            .filter(|(n, e)| !names.contains(n.as_str()) && !e.deleting.load(Ordering::SeqCst))
            .map(|(n, _)| n.clone())
            .collect();
        for name in gone {
            if let Some(e) = streams.remove(&name) {
                e.stop.store(true, Ordering::SeqCst);
            }
        }
        let now = Instant::now();
        for spec in specs {
            match streams.get(&spec.name) {
                Some(e) if read(&e.spec).uid == spec.uid => {
                    if *read(&e.spec) != spec {
                        *write(&e.spec) = spec;
                    }
                }
                other => {
                    if let Some(old) = other {
                        old.stop.store(true, Ordering::SeqCst);
                    }
                    self.inner.buffer().ensure_stream(
                        &buffer_name(&spec.uid),
                        1,
                        BUFFER_RETENTION_HOURS,
                    )?;
                    let entry = Entry::new(spec, now);
                    streams.insert(read(&entry.spec).name.clone(), entry.clone());
                    crate::source::spawn(&self.inner, entry.clone())?;
                    crate::deliver::spawn(&self.inner, entry)?;
                }
            }
        }
        *lock(&self.inner.catalog_seen) = rev;
        Ok(())
    }

    pub fn config(&self) -> &FirehoseConfig {
        &self.inner.config
    }

    /// The delivery counters of `name` (see [`DeliveryStats`]).
    pub fn delivery_stats(&self, name: &str) -> Result<DeliveryStats> {
        let e = self.entry(name)?;
        Ok(DeliveryStats {
            failed_over_records: e.stats.failed_over_records.load(Ordering::Relaxed),
            held_records: e.stats.held_records.load(Ordering::Relaxed),
        })
    }

    pub fn arn(&self, name: &str) -> String {
        self.inner.arn(name)
    }

    /// The durable buffer of delivery stream `name`, as the buffer engine and the stream in
    /// it: what a Kinesis Data Analytics application with this delivery stream as input
    /// reads, with positions of its own (records stay for the buffer's retention, delivered
    /// or not).
    pub fn buffer_of(&self, name: &str) -> Result<(Streams, String)> {
        let e = self.entry(name)?;
        let uid = read(&e.spec).uid.clone();
        Ok((self.inner.buffer().clone(), buffer_name(&uid)))
    }

    /// The delivery stream `name`; with a shared catalog, one this host has not seen yet is
    /// looked for there once (another host may have just created it).
    fn entry(&self, name: &str) -> Result<Arc<Entry>> {
        self.look_up_shared(name)?;
        lock(&self.inner.streams)
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    /// With a shared catalog, reads it once when `name` is not known here (another host may
    /// have just created it); nothing on one host or for a known name.
    fn look_up_shared(&self, name: &str) -> Result<()> {
        if self.inner.shared && !lock(&self.inner.streams).contains_key(name) {
            self.sync_catalog()?;
        }
        Ok(())
    }

    fn not_found(&self, name: &str) -> FirehoseError {
        FirehoseError::NotFound(format!(
            "Firehose {name} under account {} not found.",
            self.inner.config.account_id
        ))
    }

    /// Writes the catalog as `streams` holds it, with `replace` applied for one name (the
    /// change being made) so a failed write leaves memory untouched.
    fn persist(
        &self,
        streams: &BTreeMap<String, Arc<Entry>>,
        replace: Option<(&str, Option<&DeliveryStreamSpec>)>,
    ) -> Result<()> {
        let mut specs: Vec<DeliveryStreamSpec> = Vec::new();
        for (name, e) in streams {
            if let Some((n, s)) = replace {
                if n == name {
                    specs.extend(s.cloned());
                    continue;
                }
            }
            specs.push(read(&e.spec).clone());
        }
        if let Some((n, Some(s))) = replace {
            if !streams.contains_key(n) {
                specs.push(s.clone());
            }
        }
        if !self.inner.shared {
            return save_catalog(&*self.inner.docs, &specs);
        }
        self.persist_shared(streams, replace)
    }

    /// [`Self::persist`] on a shared catalog: the one change is applied to the catalog as
    /// stored (other hosts' changes kept) and written by compare-and-set, again on a
    /// conflict. A change made from a spec another host has changed since (this host's poll
    /// has not applied it yet), or a create of a name another host took meanwhile, is refused
    /// with `InUse` rather than undoing the other host's change; a retry after the poll
    /// applies to the new spec.
    fn persist_shared(
        &self,
        streams: &BTreeMap<String, Arc<Entry>>,
        replace: Option<(&str, Option<&DeliveryStreamSpec>)>,
    ) -> Result<()> {
        let docs = &*self.inner.docs;
        for _ in 0..8 {
            let stored = docs.get(CATALOG)?;
            let expect = match &stored {
                Some((_, rev)) => DocExpect::Revision(*rev),
                None => DocExpect::Absent,
            };
            let mut specs = parse_catalog(docs, stored.as_ref().map(|(b, _)| b.as_slice()))?;
            if let Some((name, spec)) = replace {
                let known = streams.get(name).map(|e| read(&e.spec).clone());
                let found = specs.iter().find(|s| s.name == name);
                if known.as_ref() != found {
                    return Err(FirehoseError::InUse(format!(
                        "Firehose {name} under accountId {} was created, changed or deleted by another host meanwhile; retry the request.",
                        self.inner.config.account_id
                    )));
                }
                specs.retain(|s| s.name != name);
                specs.extend(spec.cloned());
            }
            specs.sort_by(|a, b| a.name.cmp(&b.name));
            let bytes = encode_list(docs, CATALOG, &specs)?;
            match docs.put(CATALOG, &bytes, expect) {
                Ok(_) => return Ok(()),
                Err(weir_support::docstore::DocError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(FirehoseError::InUse(
            "The delivery stream catalog kept changing under other hosts' writes; retry the request.".into(),
        ))
    }

    /// PutRecord / PutRecordBatch: each record is in the buffer, synced to disk, before its
    /// outcome is returned. Returns the outcomes and whether encryption is on.
    pub fn put(&self, name: &str, records: &[Vec<u8>]) -> Result<(Vec<RecordPutOutcome>, bool)> {
        let e = self.entry(name)?;
        if e.status() != DeliveryStreamStatus::Active {
            return Err(self.not_found(name));
        }
        let (source, uid) = {
            let spec = read(&e.spec);
            (spec.source, spec.uid.clone())
        };
        if source != SourceKind::DirectPut {
            return Err(FirehoseError::InvalidArgument(
                "This operation is not permitted on KinesisStreamAsSource delivery stream type."
                    .into(),
            ));
        }
        let out = self.put_buffer(&uid, records)?;
        Ok((out, e.encryption_status() == EncryptionStatus::Enabled))
    }

    /// Appends `records` to the buffer of the stream `uid`, synced before this returns.
    pub(crate) fn put_buffer(
        &self,
        uid: &str,
        records: &[Vec<u8>],
    ) -> Result<Vec<RecordPutOutcome>> {
        let entries: Vec<PutEntry> = records
            .iter()
            .map(|d| PutEntry {
                partition_key: "firehose".into(),
                explicit_hash_key: None,
                data: d.clone(),
            })
            .collect();
        let outcomes = self
            .inner
            .buffer()
            .put_records(&buffer_name(uid), &entries)?;
        Ok(outcomes
            .into_iter()
            .map(|o| match o {
                weir_streams::PutOutcome::Ok {
                    sequence_number, ..
                } => RecordPutOutcome::Ok {
                    record_id: record_id(uid, &sequence_number),
                },
                weir_streams::PutOutcome::Throttled { message }
                | weir_streams::PutOutcome::Failed { message } => {
                    RecordPutOutcome::Failed { message }
                }
            })
            .collect())
    }
}

/// An opaque record id, unique per delivery stream (the buffer sequence number and the
/// stream's uid).
fn record_id(uid: &str, seq: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{uid}:{seq}"))
}

/// Polls the shared catalog every [`CATALOG_POLL`] while the service lives
/// ([`Firehose::sync_catalog`]).
fn spawn_catalog_poll(inner: &Arc<Inner>) -> Result<()> {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    std::thread::Builder::new()
        .name("weir-firehose-catalog".into())
        .spawn(move || {
            let mut warned = false;
            loop {
                std::thread::sleep(CATALOG_POLL);
                let Some(inner) = weak.upgrade() else { return };
                if inner.crashed() {
                    return;
                }
                let fh = Firehose { inner };
                match fh.sync_catalog() {
                    Ok(()) => warned = false,
                    Err(e) if !warned => {
                        tracing::warn!(error = %e, "cannot read the shared delivery stream catalog; retrying");
                        warned = true;
                    }
                    Err(_) => {}
                }
            }
        })
        .map(|_| ())
        .map_err(|source| FirehoseError::Io {
            what: "cannot start the Firehose catalog poll".into(),
            source,
        })
}

/// Removes buffers and checkpoints whose delivery stream (of `uids`) is no longer in either
/// catalog: a deletion is durable in the catalog first, so a crash can leave its data behind.
fn sweep_orphans<'a>(
    docs: &dyn DocStore,
    buffer: &Streams,
    uids: impl Iterator<Item = &'a str>,
) -> Result<()> {
    let live: std::collections::HashSet<String> = uids.map(buffer_name).collect();
    for s in buffer.list_streams() {
        if !live.contains(&s.name) {
            tracing::info!(buffer = %s.name, "removing the buffer of a deleted delivery stream");
            buffer.delete_stream(&s.name)?;
        }
    }
    for key in docs.keys("checkpoints")? {
        let name = key.trim_start_matches("checkpoints/");
        let uid = name.split('.').next().unwrap_or_default();
        if !live.contains(&buffer_name(uid)) {
            docs.delete(&key, DocExpect::Any)?;
        }
    }
    Ok(())
}

/// The delivery stream catalog's document.
const CATALOG: &str = "catalog.json";

/// The delivery streams of the catalog document `bytes` (none when there is none yet).
fn parse_catalog(docs: &dyn DocStore, bytes: Option<&[u8]>) -> Result<Vec<DeliveryStreamSpec>> {
    match bytes {
        None => Ok(Vec::new()),
        Some(b) => parse_list(docs, CATALOG, b, "a delivery stream catalog"),
    }
}

fn save_catalog(docs: &dyn DocStore, specs: &[DeliveryStreamSpec]) -> Result<()> {
    save_list(docs, CATALOG, specs)
}

/// The JSON list under `key` (empty when there is none yet), or why it is not `what`. Both
/// catalogs (`catalog.json`, `implicit.json`) are read this way.
pub(crate) fn load_list<T: serde::de::DeserializeOwned>(
    docs: &dyn DocStore,
    key: &str,
    what: &str,
) -> Result<Vec<T>> {
    let Some((bytes, _)) = docs.get(key)? else {
        return Ok(Vec::new());
    };
    parse_list(docs, key, &bytes, what)
}

pub(crate) fn parse_list<T: serde::de::DeserializeOwned>(
    docs: &dyn DocStore,
    key: &str,
    bytes: &[u8],
    what: &str,
) -> Result<Vec<T>> {
    serde_json::from_slice(bytes).map_err(|e| FirehoseError::Corrupt {
        path: docs.describe(key),
        reason: format!("not {what}: {e}"),
    })
}

pub(crate) fn encode_list<T: serde::Serialize>(
    docs: &dyn DocStore,
    key: &str,
    items: &[T],
) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(items).map_err(|e| FirehoseError::Corrupt {
        path: docs.describe(key),
        reason: e.to_string(),
    })
}

/// Replaces the JSON list under `key` with `items`, durably and whole: a crash leaves the
/// old list or the new one.
pub(crate) fn save_list<T: serde::Serialize>(
    docs: &dyn DocStore,
    key: &str,
    items: &[T],
) -> Result<()> {
    let bytes = encode_list(docs, key, items)?;
    docs.put(key, &bytes, DocExpect::Any)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination::HttpDestination;

    fn destination(bucket: &str) -> S3Destination {
        S3Destination {
            role_arn: "arn:aws:iam::000000000000:role/firehose".into(),
            bucket_arn: format!("arn:aws:s3:::{bucket}"),
            prefix: None,
            error_output_prefix: None,
            buffering: Buffering {
                size_mib: 1,
                interval_s: 0,
            },
            compression: Compression::Uncompressed,
            file_extension: None,
        }
    }

    fn open(dir: &std::path::Path, rt: &tokio::runtime::Runtime) -> Firehose {
        let mut c = FirehoseConfig::new(dir.join("fh"), Storage::Folder(dir.join("s3")));
        c.transition_delay = Duration::ZERO;
        Firehose::open(c, rt.handle().clone()).expect("open")
    }

    fn request(name: &str) -> CreateRequest {
        CreateRequest {
            name: name.into(),
            source: SourceKind::DirectPut,
            kinesis_stream_arn: None,
            destination: DeliveryDestination::ExtendedS3(destination("bkt")),
            tags: BTreeMap::new(),
            encryption: None,
            processing: None,
            partitioning: None,
            conversion: None,
        }
    }

    #[test]
    fn the_catalog_survives_a_restart_and_orphans_are_swept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let fh = open(dir.path(), &rt);
        fh.create(request("keep")).expect("create");
        let mut tags = BTreeMap::new();
        tags.insert("team".to_string(), "fleet".to_string());
        fh.tag("keep", tags).expect("tag");
        // A buffer left by a deletion that crashed before its data was removed.
        fh.inner
            .buffer()
            .ensure_stream("ds-0123abcd", 1, BUFFER_RETENTION_HOURS)
            .expect("orphan");
        std::fs::create_dir_all(dir.path().join("fh/checkpoints")).expect("checkpoints");
        std::fs::write(dir.path().join("fh/checkpoints/0123abcd"), "1").expect("orphan cp");
        drop(fh);
        let fh = open(dir.path(), &rt);
        let d = fh.describe("keep").expect("describe");
        assert_eq!(d.spec.tags.get("team").map(String::as_str), Some("fleet"));
        assert_eq!(d.status, DeliveryStreamStatus::Active);
        let names: Vec<String> = fh
            .inner
            .buffer()
            .list_streams()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, vec![format!("ds-{}", d.spec.uid)]);
        assert!(!dir.path().join("fh/checkpoints/0123abcd").exists());
    }

    /// With `docs` set, the catalog and the checkpoints live in that store (a cluster's
    /// bucket), not beside the buffers, and a restart finds them there.
    /// A service under `dir/fh` delivering to the folder `dir/s3`, its catalog and
    /// checkpoints in `docs` (taken as shared), without transitions and polling fast.
    fn docs_config(dir: &std::path::Path, docs: Arc<FolderDocStore>) -> FirehoseConfig {
        let mut c = FirehoseConfig::new(dir.join("fh"), Storage::Folder(dir.join("s3")));
        c.transition_delay = Duration::ZERO;
        c.poll_interval = Duration::from_millis(5);
        c.docs = Some(docs);
        c
    }

    #[test]
    fn catalog_and_checkpoints_go_to_the_configured_document_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let docs = Arc::new(FolderDocStore::new(dir.path().join("shared")));
        let config = || docs_config(dir.path(), docs.clone());
        let fh = Firehose::open(config(), rt.handle().clone()).expect("open");
        fh.create(request("kept")).expect("create");
        fh.put("kept", &[b"a\n".to_vec()]).expect("put");
        let uid = fh.describe("kept").expect("describe").spec.uid;
        let key = crate::deliver::checkpoint_key(&uid);
        let deadline = Instant::now() + Duration::from_secs(10);
        while docs.get(&key).expect("get").is_none() {
            assert!(
                Instant::now() < deadline,
                "no delivery checkpoint in the store"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(fh);
        assert!(docs.get(CATALOG).expect("get").is_some());
        assert!(!dir.path().join("fh/catalog.json").exists());
        assert!(!dir.path().join("fh/checkpoints").exists());
        let fh = Firehose::open(config(), rt.handle().clone()).expect("reopen");
        assert_eq!(fh.describe("kept").expect("describe").spec.uid, uid);
    }

    /// A given `docs` is taken as shared: the delivery runs under a lease in it, which a
    /// clean stop releases; one host alone still delivers at once.
    #[test]
    fn a_shared_store_holds_the_delivery_lease_until_the_service_stops() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let docs = Arc::new(FolderDocStore::new(dir.path().join("shared")));
        let fh = Firehose::open(docs_config(dir.path(), docs.clone()), rt.handle().clone())
            .expect("open");
        fh.create(request("leased")).expect("create");
        fh.put("leased", &[b"a\n".to_vec()]).expect("put");
        let uid = fh.describe("leased").expect("describe").spec.uid;
        let lease = format!("leases/delivery/{uid}");
        let cp = crate::deliver::checkpoint_key(&uid);
        let deadline = Instant::now() + Duration::from_secs(10);
        while docs.get(&cp).expect("get").is_none() {
            assert!(Instant::now() < deadline, "not delivered");
            std::thread::sleep(Duration::from_millis(5));
        }
        let (holder, _) = docs
            .get(&lease)
            .expect("get")
            .expect("a lease while delivering");
        assert!(String::from_utf8_lossy(&holder).starts_with(fh.lease_holder()));
        drop(fh);
        let deadline = Instant::now() + Duration::from_secs(10);
        while docs.get(&lease).expect("get").is_some() {
            assert!(Instant::now() < deadline, "the lease was not released");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The service, not only the API, refuses the stages an HTTP endpoint cannot take
    /// (`DeliveryDestination::check_stages`), and takes them for S3.
    #[test]
    fn an_http_endpoint_takes_no_partitioning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let fh = open(dir.path(), &rt);
        let mut backup = destination("bkt");
        backup.prefix = Some("k=!{partitionKeyFromQuery:k}/".into());
        backup.error_output_prefix = Some("err/".into());
        let partitioning = Partitioning {
            query: "k AS k".into(),
            keys: Vec::new(),
            retry_s: 300,
        };
        let mut req = request("web");
        req.partitioning = Some(partitioning.clone());
        req.destination = DeliveryDestination::HttpEndpoint {
            endpoint: HttpDestination {
                // A public IP literal: the default egress policy takes it without DNS.
                url: "https://192.0.32.10/in".into(),
                name: None,
                access_key: None,
                gzip: false,
                common_attributes: BTreeMap::new(),
                retry_s: 0,
                buffering: backup.buffering,
                backup_all: false,
            },
            backup: backup.clone(),
        };
        let err = fh
            .create(req.clone())
            .expect_err("partitioned HTTP endpoint");
        assert!(
            matches!(&err, FirehoseError::InvalidArgument(m) if m.contains("HTTP endpoint")),
            "{err}"
        );
        req.partitioning = None;
        if let DeliveryDestination::HttpEndpoint { backup, .. } = &mut req.destination {
            backup.prefix = None;
        }
        fh.create(req).expect("the same endpoint unpartitioned");
        let mut s3 = request("s3");
        s3.destination = DeliveryDestination::ExtendedS3(backup);
        s3.partitioning = Some(partitioning);
        fh.create(s3).expect("a partitioned S3 destination");
    }

    #[test]
    fn put_checks_state_and_source() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let fh = open(dir.path(), &rt);
        assert!(matches!(
            fh.put("nobody", &[b"x".to_vec()]),
            Err(FirehoseError::NotFound(_))
        ));
        fh.create(request("s")).expect("create");
        assert!(matches!(
            fh.create(request("s")),
            Err(FirehoseError::InUse(_))
        ));
        let (out, encrypted) = fh.put("s", &[b"a".to_vec(), b"b".to_vec()]).expect("put");
        assert!(!encrypted);
        let ids: Vec<_> = out
            .iter()
            .map(|o| match o {
                RecordPutOutcome::Ok { record_id } => record_id.clone(),
                RecordPutOutcome::Failed { message } => panic!("{message}"),
            })
            .collect();
        assert_ne!(ids[0], ids[1]);
        let mut req = request("k");
        req.source = SourceKind::KinesisStreamAsSource;
        assert!(matches!(
            fh.create(req),
            Err(FirehoseError::InvalidArgument(_))
        ));
        fh.delete("s").expect("delete");
        assert!(matches!(fh.describe("s"), Err(FirehoseError::NotFound(_))));
    }
}
