//! The delivery streams of this host: create, describe, list, update, tag, encrypt, delete,
//! and the put path into their buffers. Every change is written to `catalog.json` before it
//! is answered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use weir_streams::{FsyncPolicy, PutEntry, Streams, StreamsConfig};
use weir_support::{lock, now_ms, read, write};

use crate::error::{FirehoseError, Result};
use crate::http::HttpSender;
use crate::model::*;
use crate::process::ProcessorSlot;
use crate::store::{Storage, Stores};

/// What the service needs to run.
#[derive(Debug, Clone)]
pub struct FirehoseConfig {
    /// The catalog, checkpoints and buffers live here.
    pub dir: PathBuf,
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
}

impl FirehoseConfig {
    pub fn new(dir: impl Into<PathBuf>, storage: Storage) -> Self {
        FirehoseConfig {
            dir: dir.into(),
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
        }
    }
}

/// CreateDeliveryStream's settings, validated by [`Firehose::create`].
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: String,
    pub source: SourceKind,
    pub kinesis_stream_arn: Option<String>,
    pub destination: S3Destination,
    pub tags: BTreeMap<String, String>,
    /// `Some((KeyType, KeyARN))` to start with server-side encryption on.
    pub encryption: Option<(String, Option<String>)>,
    pub processing: Option<Processing>,
    pub partitioning: Option<Partitioning>,
    pub conversion: Option<Conversion>,
    pub http: Option<HttpDestination>,
}

/// DescribeDeliveryStream's answer.
#[derive(Debug, Clone)]
pub struct Description {
    pub spec: DeliveryStreamSpec,
    pub arn: String,
    pub status: StreamStatus,
    pub encryption: EncryptionStatus,
}

/// One record's outcome in PutRecordBatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
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
        Arc::new(Entry {
            spec: RwLock::new(spec),
            ready_at,
            encryption_until: Mutex::new(None),
            deleting: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            stats: StatCounters::default(),
        })
    }

    fn status(&self) -> StreamStatus {
        if self.deleting.load(Ordering::SeqCst) {
            StreamStatus::Deleting
        } else if Instant::now() < self.ready_at {
            StreamStatus::Creating
        } else {
            StreamStatus::Active
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
const BUFFER_RETENTION_HOURS: u32 = 24;

fn buffer_name(uid: &str) -> String {
    format!("ds-{uid}")
}

pub(crate) struct Inner {
    pub(crate) config: FirehoseConfig,
    pub(crate) buffer: Streams,
    pub(crate) stores: Stores,
    pub(crate) runtime: tokio::runtime::Handle,
    streams: Mutex<BTreeMap<String, Arc<Entry>>>,
    /// One HTTP client (and connection pool) for every HTTP endpoint destination.
    http: OnceLock<HttpSender>,
}

impl Inner {
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
    /// delivery stream in the catalog. `runtime` runs the object-store requests.
    pub fn open(config: FirehoseConfig, runtime: tokio::runtime::Handle) -> Result<Firehose> {
        let io = |what: String| move |source| FirehoseError::Io { what, source };
        weir_support::create_dir_all_synced(&config.dir.join("checkpoints")).map_err(io(
            format!("cannot create {}", config.dir.join("checkpoints").display()),
        ))?;
        let mut bc = StreamsConfig::new(config.dir.join("buffer"));
        bc.fsync = FsyncPolicy::Always;
        bc.transition_delay = Duration::ZERO;
        bc.region = config.region.clone();
        bc.account_id = config.account_id.clone();
        let buffer = Streams::open(bc)?;
        let specs = load_catalog(&catalog_path(&config.dir))?;
        sweep_orphans(&config.dir, &buffer, &specs)?;
        let mut streams = BTreeMap::new();
        let now = Instant::now();
        for spec in specs {
            // A buffer lost with its folder is re-created empty rather than failing the host.
            buffer.ensure_stream(&buffer_name(&spec.uid), 1, BUFFER_RETENTION_HOURS)?;
            streams.insert(spec.name.clone(), Entry::new(spec, now));
        }
        let entries: Vec<Arc<Entry>> = streams.values().cloned().collect();
        let stores = Stores::new(config.storage.clone());
        let firehose = Firehose {
            inner: Arc::new(Inner {
                config,
                buffer,
                stores,
                runtime,
                streams: Mutex::new(streams),
                http: OnceLock::new(),
            }),
        };
        for e in entries {
            crate::source::spawn(&firehose.inner, e.clone())?;
            crate::deliver::spawn(&firehose.inner, e)?;
        }
        crate::deliver::spawn_housekeeping(&firehose.inner)?;
        Ok(firehose)
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

    fn entry(&self, name: &str) -> Result<Arc<Entry>> {
        lock(&self.inner.streams)
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
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
        save_catalog(&self.inner.config.dir, &specs)
    }

    /// CreateDeliveryStream.
    pub fn create(&self, req: CreateRequest) -> Result<String> {
        check_name(&req.name)?;
        req.destination.validate()?;
        check_tags(&req.tags)?;
        if req.tags.len() > MAX_TAGS {
            return Err(FirehoseError::LimitExceeded(format!(
                "A delivery stream can have at most {MAX_TAGS} tags; {} were given.",
                req.tags.len()
            )));
        }
        self.check_source(&req)?;
        let encryption = match &req.encryption {
            None => Encryption {
                enabled: false,
                key_type: None,
                key_arn: None,
            },
            Some((kt, arn)) => {
                check_key(kt, arn.as_deref())?;
                Encryption {
                    enabled: true,
                    key_type: Some(kt.clone()),
                    key_arn: arn.clone(),
                }
            }
        };
        let mut streams = lock(&self.inner.streams);
        if streams.contains_key(&req.name) {
            return Err(FirehoseError::InUse(format!(
                "Firehose {} under accountId {} already exists",
                req.name, self.inner.config.account_id
            )));
        }
        let now = now_ms();
        let mut spec = DeliveryStreamSpec {
            name: req.name.clone(),
            uid: uuid::Uuid::new_v4().simple().to_string(),
            source: req.source,
            kinesis_stream_arn: req.kinesis_stream_arn,
            destination: req.destination,
            version: 1,
            created_ms: now,
            updated_ms: now,
            tags: req.tags,
            encryption,
            processing: req.processing,
            partitioning: req.partitioning,
            conversion: req.conversion,
            http: req.http,
        };
        self.check_spec(&mut spec)?;
        spec.updated_ms = now;
        self.inner
            .buffer
            .ensure_stream(&buffer_name(&spec.uid), 1, BUFFER_RETENTION_HOURS)?;
        self.persist(&streams, Some((&req.name, Some(&spec))))?;
        let entry = Entry::new(spec, Instant::now() + self.inner.config.transition_delay);
        streams.insert(req.name.clone(), entry.clone());
        drop(streams);
        crate::source::spawn(&self.inner, entry.clone())?;
        crate::deliver::spawn(&self.inner, entry)?;
        Ok(self.arn(&req.name))
    }

    /// The source, processing, partitioning, conversion and HTTP settings of a create, checked
    /// against this host (the plugins it runs, the streams and schemas it has); fills in the
    /// compiled partition keys.
    /// The source of a create: a Kinesis stream of this host, or direct puts. Server-side
    /// encryption is for direct puts only (a Kinesis source is encrypted, or not, by its
    /// stream), as AWS documents.
    fn check_source(&self, req: &CreateRequest) -> Result<()> {
        let invalid = |m: String| Err(FirehoseError::InvalidArgument(m));
        if req.source == SourceKind::KinesisStreamAsSource && req.encryption.is_some() {
            return invalid(
                "DeliveryStreamEncryptionConfigurationInput is for DirectPut delivery streams only; a KinesisStreamAsSource delivery stream is encrypted by its source stream.".into(),
            );
        }
        match (req.source, &req.kinesis_stream_arn) {
            (SourceKind::DirectPut, Some(_)) => {
                return invalid(
                    "KinesisStreamSourceConfiguration is only for DeliveryStreamType KinesisStreamAsSource.".into(),
                )
            }
            (SourceKind::KinesisStreamAsSource, None) => {
                return invalid(
                    "DeliveryStreamType KinesisStreamAsSource needs KinesisStreamSourceConfiguration.".into(),
                )
            }
            (SourceKind::KinesisStreamAsSource, Some(arn)) => {
                crate::source::check_source(&self.inner.config, arn)?;
            }
            (SourceKind::DirectPut, None) => {}
        }
        Ok(())
    }

    /// Everything a destination's settings must satisfy together, checked by
    /// CreateDeliveryStream and again by UpdateDestination after the update is merged: the
    /// transformation names a loaded plugin, the partition keys and prefixes agree, the
    /// conversion's table is declared, compression and conversion do not clash, and the object
    /// names are valid. Parses the partition query into its keys.
    fn check_spec(&self, spec: &mut DeliveryStreamSpec) -> Result<()> {
        let invalid = |m: String| Err(FirehoseError::InvalidArgument(m));
        spec.destination.validate()?;
        if let Some(p) = &spec.processing {
            let function = crate::process::function_name(&p.lambda_arn).unwrap_or_default();
            match &self.inner.config.processor.0 {
                None => {
                    return invalid(format!(
                        "LambdaArn {}: this Weir host runs no transformation plugins (see [plugins] in the config).",
                        p.lambda_arn
                    ))
                }
                Some(proc) if !proc.knows(function) => {
                    return invalid(format!(
                        "LambdaArn {}: no transformer plugin named {function} is loaded.",
                        p.lambda_arn
                    ))
                }
                Some(_) => {}
            }
        }
        let prefix_keys: Vec<String> = spec
            .destination
            .prefixes()?
            .data
            .partition_keys()
            .into_iter()
            .map(str::to_owned)
            .collect();
        match &mut spec.partitioning {
            Some(p) => {
                p.keys = crate::partition::parse_query(&p.query)?;
                if prefix_keys.is_empty() {
                    return invalid(
                        "With dynamic partitioning enabled the Prefix must use at least one !{partitionKeyFromQuery:NAME}.".into(),
                    );
                }
                if spec.destination.error_output_prefix.is_none() {
                    return invalid(
                        "With dynamic partitioning enabled an ErrorOutputPrefix is required.".into(),
                    );
                }
                for k in &prefix_keys {
                    if !p.keys.iter().any(|(n, _)| n == k) {
                        return invalid(format!(
                            "The Prefix uses !{{partitionKeyFromQuery:{k}}}, which the MetadataExtractionQuery does not define."
                        ));
                    }
                }
            }
            None if !prefix_keys.is_empty() => {
                return invalid(
                    "The Prefix uses !{partitionKeyFromQuery:...}, which needs DynamicPartitioningConfiguration enabled.".into(),
                )
            }
            None => {}
        }
        if let Some(c) = &spec.conversion {
            let table = format!("{}.{}", c.database, c.table);
            let Some(columns) = self.inner.config.schemas.get(&table) else {
                return invalid(weir_firehose_model::undeclared_table(&table));
            };
            crate::parquet::Schema::parse(columns)
                .map_err(|e| FirehoseError::InvalidArgument(format!("table {table}: {e}")))?;
            crate::parquet::compression_of(&c.compression)
                .map_err(|e| FirehoseError::InvalidArgument(e.to_string()))?;
        }
        if let Some(h) = &spec.http {
            crate::batch::endpoint_of(h)
                .validate()
                .map_err(FirehoseError::InvalidArgument)?;
            // The caller learns now; delivery checks every connection again.
            self.inner.config.egress.check_url(&h.url).map_err(|why| {
                FirehoseError::InvalidArgument(format!(
                    "HttpEndpoint Url {}: this Weir host does not send to it: {why}.",
                    h.url
                ))
            })?;
        }
        check_keys(spec)?;
        crate::batch::check_conversion_compression(spec)
    }

    /// DescribeDeliveryStream.
    pub fn describe(&self, name: &str) -> Result<Description> {
        let e = self.entry(name)?;
        let spec = read(&e.spec).clone();
        Ok(Description {
            arn: self.arn(name),
            status: e.status(),
            encryption: e.encryption_status(),
            spec,
        })
    }

    /// ListDeliveryStreams: names after `start_after`, at most `limit`, and whether more
    /// follow.
    pub fn list(
        &self,
        limit: usize,
        start_after: Option<&str>,
        kind: Option<SourceKind>,
    ) -> (Vec<String>, bool) {
        let streams = lock(&self.inner.streams);
        let mut names = streams
            .iter()
            .filter(|(n, _)| start_after.is_none_or(|s| n.as_str() > s))
            .filter(|(_, e)| kind.is_none_or(|k| read(&e.spec).source == k))
            .map(|(n, _)| n.clone());
        let page: Vec<String> = names.by_ref().take(limit).collect();
        let more = names.next().is_some();
        (page, more)
    }

    /// DeleteDeliveryStream: DELETING for the transition delay, then gone. The removal is
    /// durable at once; undelivered records are discarded, as on AWS.
    pub fn delete(&self, name: &str) -> Result<()> {
        let mut streams = lock(&self.inner.streams);
        let Some(e) = streams.get(name).cloned() else {
            return Err(self.not_found(name));
        };
        if e.deleting.load(Ordering::SeqCst) {
            return Err(self.not_found(name));
        }
        self.persist(&streams, Some((name, None)))?;
        e.deleting.store(true, Ordering::SeqCst);
        e.stop.store(true, Ordering::SeqCst);
        let delay = self.inner.config.transition_delay;
        if delay.is_zero() {
            streams.remove(name);
            drop(streams);
            return self.remove_data(&e);
        }
        drop(streams);
        let me = self.clone();
        let name = name.to_owned();
        std::thread::Builder::new()
            .name("weir-firehose-delete".into())
            .spawn(move || {
                std::thread::sleep(delay);
                let mut streams = lock(&me.inner.streams);
                if streams.get(&name).is_some_and(|x| Arc::ptr_eq(x, &e)) {
                    streams.remove(&name);
                }
                drop(streams);
                if let Err(err) = me.remove_data(&e) {
                    tracing::error!(stream = %name, error = %err, "removing a deleted delivery stream's buffer failed");
                }
            })
            .map_err(|source| FirehoseError::Io {
                what: "cannot start the deletion thread".into(),
                source,
            })?;
        Ok(())
    }

    fn remove_data(&self, e: &Entry) -> Result<()> {
        let uid = read(&e.spec).uid.clone();
        self.inner.buffer.delete_stream(&buffer_name(&uid))?;
        for cp in [
            crate::deliver::checkpoint_path(&self.inner.config.dir, &uid),
            crate::source::checkpoint_path(&self.inner.config.dir, &uid),
        ] {
            match std::fs::remove_file(&cp) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(FirehoseError::Io {
                        what: format!("cannot remove {}", cp.display()),
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// Applies `change` to a copy of the stream's spec, validates and persists it, then makes
    /// it current. `change` returns whether the version goes up.
    fn modify(
        &self,
        name: &str,
        change: impl FnOnce(&mut DeliveryStreamSpec) -> Result<bool>,
    ) -> Result<()> {
        let streams = lock(&self.inner.streams);
        let e = streams
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))?;
        if e.status() != StreamStatus::Active {
            return Err(FirehoseError::InUse(format!(
                "Firehose {name} is not ACTIVE; it is {}.",
                e.status().as_str()
            )));
        }
        let mut spec = read(&e.spec).clone();
        if change(&mut spec)? {
            spec.version += 1;
        }
        spec.updated_ms = now_ms();
        self.persist(&streams, Some((name, Some(&spec))))?;
        *write(&e.spec) = spec;
        Ok(())
    }

    /// UpdateDestination: `update` merges the request into the stream's settings (destination,
    /// transformation, partitioning, conversion), checked as a create checks them; the version
    /// must be current.
    pub fn update_destination(
        &self,
        name: &str,
        current_version: &str,
        destination_id: &str,
        update: impl FnOnce(&mut DeliveryStreamSpec) -> Result<()>,
    ) -> Result<u32> {
        let mut version = 0;
        self.modify(name, |spec| {
            if current_version != spec.version.to_string() {
                return Err(FirehoseError::ConcurrentModification(format!(
                    "Cannot update firehose: {name} since the current version id: {} and specified version id: {current_version} do not match",
                    spec.version
                )));
            }
            if destination_id != DESTINATION_ID {
                return Err(FirehoseError::InvalidArgument(format!(
                    "Destination Id {destination_id} not found for firehose {name}."
                )));
            }
            // `spec` is a copy: nothing is kept unless the merged settings pass every check.
            update(spec)?;
            self.check_spec(spec)?;
            version = spec.version + 1;
            Ok(true)
        })?;
        Ok(version)
    }

    /// TagDeliveryStream: adds or replaces tags; at most 50 in all.
    pub fn tag(&self, name: &str, tags: BTreeMap<String, String>) -> Result<()> {
        check_tags(&tags)?;
        let e = self.entry(name)?;
        if e.deleting.load(Ordering::SeqCst) {
            return Err(self.not_found(name));
        }
        let streams = lock(&self.inner.streams);
        let mut spec = read(&e.spec).clone();
        spec.tags.extend(tags);
        if spec.tags.len() > MAX_TAGS {
            return Err(FirehoseError::LimitExceeded(format!(
                "A delivery stream can have at most {MAX_TAGS} tags; this would make {}.",
                spec.tags.len()
            )));
        }
        self.persist(&streams, Some((name, Some(&spec))))?;
        *write(&e.spec) = spec;
        Ok(())
    }

    /// UntagDeliveryStream.
    pub fn untag(&self, name: &str, keys: &[String]) -> Result<()> {
        let e = self.entry(name)?;
        let streams = lock(&self.inner.streams);
        let mut spec = read(&e.spec).clone();
        for k in keys {
            spec.tags.remove(k);
        }
        self.persist(&streams, Some((name, Some(&spec))))?;
        *write(&e.spec) = spec;
        Ok(())
    }

    /// The stream's tags, sorted by key.
    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        Ok(read(&self.entry(name)?.spec).tags.clone())
    }

    /// Start/StopDeliveryStreamEncryption: ENABLING / DISABLING for the transition delay.
    pub fn set_encryption(&self, name: &str, on: Option<(String, Option<String>)>) -> Result<()> {
        if let Some((kt, arn)) = &on {
            check_key(kt, arn.as_deref())?;
        }
        let e = self.entry(name)?;
        if e.encryption_status() != EncryptionStatus::Enabled
            && e.encryption_status() != EncryptionStatus::Disabled
        {
            return Err(FirehoseError::InUse(format!(
                "Firehose {name}'s encryption is {}; wait until it settles.",
                e.encryption_status().as_str()
            )));
        }
        self.modify(name, |spec| {
            if on.is_some() && spec.source != SourceKind::DirectPut {
                return Err(FirehoseError::InvalidArgument(format!(
                    "Firehose {name} reads a Kinesis stream; server-side encryption can only be enabled for a DirectPut delivery stream."
                )));
            }
            spec.encryption = match on {
                Some((kt, arn)) => Encryption {
                    enabled: true,
                    key_type: Some(kt),
                    key_arn: arn,
                },
                None => Encryption {
                    enabled: false,
                    key_type: None,
                    key_arn: None,
                },
            };
            Ok(false)
        })?;
        *lock(&e.encryption_until) = Some(Instant::now() + self.inner.config.transition_delay);
        Ok(())
    }

    /// PutRecord / PutRecordBatch: each record is in the buffer, synced to disk, before its
    /// outcome is returned. Returns the outcomes and whether encryption is on.
    pub fn put(&self, name: &str, records: &[Vec<u8>]) -> Result<(Vec<PutOutcome>, bool)> {
        let e = self.entry(name)?;
        if e.status() != StreamStatus::Active {
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
            .buffer
            .put_records(&buffer_name(&uid), &entries)?;
        let out = outcomes
            .into_iter()
            .map(|o| match o {
                weir_streams::PutOutcome::Ok {
                    sequence_number, ..
                } => PutOutcome::Ok {
                    record_id: record_id(&uid, &sequence_number),
                },
                weir_streams::PutOutcome::Throttled { message }
                | weir_streams::PutOutcome::Failed { message } => PutOutcome::Failed { message },
            })
            .collect();
        Ok((out, e.encryption_status() == EncryptionStatus::Enabled))
    }
}

/// An opaque record id, unique per delivery stream (the buffer sequence number and the
/// stream's uid).
fn record_id(uid: &str, seq: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{uid}:{seq}"))
}

/// Removes buffers and checkpoints whose delivery stream is no longer in the catalog: a
/// deletion is durable in the catalog first, so a crash can leave its data behind.
fn sweep_orphans(dir: &Path, buffer: &Streams, specs: &[DeliveryStreamSpec]) -> Result<()> {
    let live: std::collections::HashSet<String> =
        specs.iter().map(|s| buffer_name(&s.uid)).collect();
    for s in buffer.list_streams() {
        if !live.contains(&s.name) {
            tracing::info!(buffer = %s.name, "removing the buffer of a deleted delivery stream");
            buffer.delete_stream(&s.name)?;
        }
    }
    let cp_dir = dir.join("checkpoints");
    let entries = std::fs::read_dir(&cp_dir).map_err(|source| FirehoseError::Io {
        what: format!("cannot list {}", cp_dir.display()),
        source,
    })?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let uid = name.split('.').next().unwrap_or_default();
        if !live.contains(&buffer_name(uid)) {
            std::fs::remove_file(e.path()).map_err(|source| FirehoseError::Io {
                what: format!("cannot remove {}", e.path().display()),
                source,
            })?;
        }
    }
    Ok(())
}

/// The object names this spec's prefixes make are plain keys (no empty, `.` or `..`
/// segments): see `store::plain_key`.
fn check_keys(spec: &DeliveryStreamSpec) -> Result<()> {
    use crate::batch::{object_key, KeyKind};
    let sample: Vec<(String, String)> = spec
        .partitioning
        .iter()
        .flat_map(|p| &p.keys)
        .map(|(n, _)| (n.clone(), "k".to_owned()))
        .collect();
    for kind in [KeyKind::Data(&sample), KeyKind::Error("processing-failed")] {
        let key = object_key(spec, now_ms(), kind, "")?;
        crate::store::plain_key(&key)?;
    }
    Ok(())
}

fn check_key(key_type: &str, key_arn: Option<&str>) -> Result<()> {
    match (key_type, key_arn) {
        ("AWS_OWNED_CMK", None) => Ok(()),
        ("AWS_OWNED_CMK", Some(_)) => Err(FirehoseError::InvalidArgument(
            "KeyARN must not be given with KeyType AWS_OWNED_CMK.".into(),
        )),
        ("CUSTOMER_MANAGED_CMK", Some(a)) if a.starts_with("arn:") => Ok(()),
        ("CUSTOMER_MANAGED_CMK", _) => Err(FirehoseError::InvalidArgument(
            "KeyType CUSTOMER_MANAGED_CMK needs the KeyARN of a KMS key.".into(),
        )),
        (other, _) => Err(FirehoseError::Validation(format!(
            "1 validation error detected: Value '{other}' at 'deliveryStreamEncryptionConfigurationInput.keyType' failed to satisfy constraint: Member must satisfy enum value set: [AWS_OWNED_CMK, CUSTOMER_MANAGED_CMK]"
        ))),
    }
}

fn catalog_path(dir: &Path) -> PathBuf {
    dir.join("catalog.json")
}

fn load_catalog(path: &Path) -> Result<Vec<DeliveryStreamSpec>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(FirehoseError::Io {
                what: format!("cannot read {}", path.display()),
                source,
            })
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| FirehoseError::Corrupt {
        path: path.display().to_string(),
        reason: format!("not a delivery stream catalog: {e}"),
    })
}

fn save_catalog(dir: &Path, specs: &[DeliveryStreamSpec]) -> Result<()> {
    let path = catalog_path(dir);
    let tmp = dir.join(format!(
        "catalog.json.tmp-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let bytes = serde_json::to_vec_pretty(specs).map_err(|e| FirehoseError::Corrupt {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    weir_support::write_atomic_via(&tmp, &path, &[&bytes]).map_err(|e| FirehoseError::Io {
        what: "cannot write the delivery stream catalog".into(),
        source: e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn open(dir: &Path, rt: &tokio::runtime::Runtime) -> Firehose {
        let mut c = FirehoseConfig::new(dir.join("fh"), Storage::Folder(dir.join("s3")));
        c.transition_delay = Duration::ZERO;
        Firehose::open(c, rt.handle().clone()).expect("open")
    }

    fn request(name: &str) -> CreateRequest {
        CreateRequest {
            name: name.into(),
            source: SourceKind::DirectPut,
            kinesis_stream_arn: None,
            destination: destination("bkt"),
            tags: BTreeMap::new(),
            encryption: None,
            processing: None,
            partitioning: None,
            conversion: None,
            http: None,
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
            .buffer
            .ensure_stream("ds-0123abcd", 1, BUFFER_RETENTION_HOURS)
            .expect("orphan");
        std::fs::write(dir.path().join("fh/checkpoints/0123abcd"), "1").expect("orphan cp");
        drop(fh);
        let fh = open(dir.path(), &rt);
        let d = fh.describe("keep").expect("describe");
        assert_eq!(d.spec.tags.get("team").map(String::as_str), Some("fleet"));
        assert_eq!(d.status, StreamStatus::Active);
        let names: Vec<String> = fh
            .inner
            .buffer
            .list_streams()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, vec![format!("ds-{}", d.spec.uid)]);
        assert!(!dir.path().join("fh/checkpoints/0123abcd").exists());
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
                PutOutcome::Ok { record_id } => record_id.clone(),
                PutOutcome::Failed { message } => panic!("{message}"),
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
