//! Implicit delivery streams: what a `firehose` rule action without `delivery_stream` runs
//! as. Each is a delivery stream of this service like any other (the same durable buffer,
//! delivery thread, object naming, error lines and folder store), with three differences:
//!
//! - It is not one of the API's delivery streams: it lives in its own catalog,
//!   `DIR/implicit.json`, is keyed by the action (`ImplicitStreamSpec::key`, stable across
//!   restarts and reloads), and ListDeliveryStreams, DescribeDeliveryStream and the other
//!   operations never see it, so a rule's action cannot take or shadow a name the API owns.
//! - Its destination is the action's `root` folder, not a bucket: the folder store with the
//!   root's parent as its folder and the root's name as the bucket (`Storage::Folder`'s
//!   "bucket `B` is the folder `ROOT/B`").
//! - Its buffering is the action's exact `buffer_bytes` and `buffer_interval_ms`, not
//!   Firehose's whole MiB and seconds.
//!
//! A stream whose action is gone keeps delivering what its buffer holds (an action that
//! comes back finds its buffer again); once a start finds it fully delivered it is removed.
//! [`Firehose::flush_implicit`] delivers every implicit stream's buffer now, whatever its
//! hints: `weir run`'s clean stop and `weir demo` call it, so their archives are complete
//! when they return.
//!
//! With a shared document store (a cluster) the implicit catalog is shared too: the same
//! action on every host is one stream (its key finds the stream another host made), written
//! by compare-and-set, delivered by whichever host holds its lease into that host's `root`,
//! and never dropped at open (another host may be putting into it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use weir_firehose_model::{BUFFER_INTERVAL_S, BUFFER_SIZE_MIB};
use weir_streams::Streams;
use weir_support::docstore::DocStore;
use weir_support::{lock, now_ms, read, write};

use crate::batch::Output;
use crate::catalog::{buffer_name, Entry, Firehose, RecordPutOutcome, BUFFER_RETENTION_HOURS};
use crate::error::{FirehoseError, Result};
use crate::model::{
    check_name, Buffering, Compression, DeliveryDestination, DeliveryStreamSpec, Encryption,
    S3Destination, SourceKind,
};
use crate::store::{Storage, Stores};

/// An action's `buffer_bytes` (1 byte up to Firehose's largest `SizeInMBs`) and its
/// `buffer_interval_ms` (up to `IntervalInSeconds`' largest): the bounds the config checks,
/// from `weir-firehose-model`.
const MIB: u64 = 1024 * 1024;
const MAX_BUFFER_INTERVAL: Duration =
    Duration::from_millis(weir_firehose_model::MAX_ACTION_BUFFER_INTERVAL_MS);

/// What a folder-mode `firehose` action asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImplicitStreamSpec {
    /// Names the stream in the implicit catalog: the same action (by what it is, not where
    /// it stands in the file) must give the same key, so it finds its buffer again.
    pub key: String,
    /// The delivery stream name in object names (`NAME-1-yyyy-MM-dd-HH-mm-ss-UUID`).
    pub name: String,
    /// The folder objects are written under; created if missing.
    pub root: PathBuf,
    /// `Prefix`; `None` for Firehose's default `yyyy/MM/dd/HH/`.
    pub prefix: Option<String>,
    /// `ErrorOutputPrefix`.
    pub error_prefix: Option<String>,
    /// Deliver once this many bytes are buffered (1 MiB to 128 MiB)...
    pub buffer_bytes: u64,
    /// ... or once the oldest buffered record is this old (at most 900 s).
    pub buffer_interval: Duration,
}

/// A record that failed before it could be put (an action's plugin stage), for the error
/// output as a `processing-failed` line.
#[derive(Debug, Clone, Copy)]
pub struct ProcessingFailure<'a> {
    pub data: &'a [u8],
    /// When the record arrived (the line's `arrivalTimestamp`, and the object's time).
    pub arrival_ms: i64,
    pub attempts: u32,
    pub code: &'a str,
    pub message: &'a str,
}

/// Where an implicit stream's objects go, and its exact buffering.
pub(crate) struct FolderTarget {
    /// The root as given to the store (canonical once it could be resolved).
    pub(crate) root: PathBuf,
    /// The folder store on the root's parent.
    pub(crate) stores: Stores,
    /// The root's own name: the bucket in that store.
    pub(crate) bucket: String,
    pub(crate) buffer_bytes: usize,
    pub(crate) interval_ms: i64,
}

impl FolderTarget {
    /// Creates the root (synced, so an object stored in it keeps it) and resolves it.
    fn new(root: &Path, buffer_bytes: u64, interval: Duration) -> Result<FolderTarget> {
        let io = |what: &str| {
            let what = format!("{what} {}", root.display());
            move |source| FirehoseError::Io { what, source }
        };
        weir_support::create_dir_all_synced(root).map_err(io("cannot create the folder"))?;
        let canonical = std::fs::canonicalize(root).map_err(io("cannot resolve the folder"))?;
        FolderTarget::at(&canonical, buffer_bytes, interval)
    }

    /// The store and bucket of `root` as it is written, without touching the disk.
    fn at(root: &Path, buffer_bytes: u64, interval: Duration) -> Result<FolderTarget> {
        let (Some(parent), Some(name)) = (root.parent(), root.file_name().and_then(|n| n.to_str()))
        else {
            return Err(FirehoseError::InvalidArgument(format!(
                "root {}: objects need a folder with a name (not / and not ..), in UTF-8",
                root.display()
            )));
        };
        Ok(FolderTarget {
            root: root.to_path_buf(),
            stores: Stores::new(Storage::Folder(parent.to_path_buf())),
            bucket: name.to_owned(),
            buffer_bytes: usize::try_from(buffer_bytes).unwrap_or(usize::MAX),
            interval_ms: i64::try_from(interval.as_millis()).unwrap_or(i64::MAX),
        })
    }

    fn same_as(&self, other: &FolderTarget) -> bool {
        (&self.root, self.buffer_bytes, self.interval_ms)
            == (&other.root, other.buffer_bytes, other.interval_ms)
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.interval_ms).unwrap_or_default())
    }
}

/// Requests to deliver now: the caller asks a generation, the delivery thread reports the
/// generation it has delivered everything for.
#[derive(Debug, Default)]
pub(crate) struct FlushSignal {
    asked: AtomicU64,
    done: Mutex<u64>,
    changed: Condvar,
}

impl FlushSignal {
    /// The latest generation asked for.
    pub(crate) fn asked(&self) -> u64 {
        self.asked.load(Ordering::SeqCst)
    }

    fn ask(&self) -> u64 {
        self.asked.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Everything buffered when `generation` was asked has been stored.
    pub(crate) fn done(&self, generation: u64) {
        let mut done = lock(&self.done);
        *done = (*done).max(generation);
        self.changed.notify_all();
    }

    fn wait(&self, generation: u64, deadline: Instant) -> bool {
        let mut done = lock(&self.done);
        loop {
            if *done >= generation {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            done = self
                .changed
                .wait_timeout(done, deadline - now)
                .map_or_else(|p| p.into_inner().0, |(g, _)| g);
        }
    }
}

/// One implicit stream as `implicit.json` keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Stored {
    key: String,
    root: PathBuf,
    buffer_bytes: u64,
    buffer_interval_ms: u64,
    pub(crate) spec: DeliveryStreamSpec,
}

/// The implicit streams' catalog document.
const CATALOG: &str = "implicit.json";

/// The implicit streams under `dir` that still hold records to deliver. One whose buffer is
/// fully delivered is dropped from the catalog (saved at once; `catalog::sweep_orphans`
/// then removes its buffer and checkpoint): a stream whose action is gone does not stay
/// forever, and an action that comes back gets a new, empty one.
pub(crate) fn load_live(
    docs: &dyn DocStore,
    buffer: &Streams,
    shared: bool,
) -> Result<Vec<Stored>> {
    let stored = load(docs)?;
    if shared {
        return Ok(stored);
    }
    let total = stored.len();
    let live: Vec<Stored> = stored
        .into_iter()
        .filter(|s| !drained(docs, buffer, &s.spec.uid))
        .collect();
    if live.len() != total {
        save(docs, &live)?;
    }
    Ok(live)
}

/// Whether every record in the buffer of `uid` is past its delivery checkpoint. Anything
/// unclear (no checkpoint file that can be read, no buffer) counts as not drained.
fn drained(docs: &dyn DocStore, buffer: &Streams, uid: &str) -> bool {
    let Ok(checkpoint) = crate::deliver::load_checkpoint(docs, uid) else {
        return false;
    };
    let start = match checkpoint {
        Some(seq) => weir_streams::StartPosition::AfterSequence(seq),
        None => weir_streams::StartPosition::TrimHorizon,
    };
    buffer
        .get_shard_iterator(&buffer_name(uid), &weir_streams::shard_id(0), &start)
        .and_then(|it| buffer.get_records(&it, 1))
        .is_ok_and(|page| page.records.is_empty())
}

/// The implicit catalog under `dir` (empty when there is none yet).
pub(crate) fn load(docs: &dyn DocStore) -> Result<Vec<Stored>> {
    crate::catalog::load_list(docs, CATALOG, "an implicit delivery stream catalog")
}

fn save(docs: &dyn DocStore, stored: &[Stored]) -> Result<()> {
    crate::catalog::save_list(docs, CATALOG, stored)
}

/// The entries of the stored implicit streams, their buffers ensured and the temp files a
/// crash left in their folders removed (no delivery runs yet, so none is in progress).
pub(crate) fn entries(
    buffer: &Streams,
    stored: Vec<Stored>,
) -> Result<BTreeMap<String, Arc<Entry>>> {
    let mut out = BTreeMap::new();
    let mut swept = std::collections::BTreeSet::new();
    for s in stored {
        buffer.ensure_stream(&buffer_name(&s.spec.uid), 1, BUFFER_RETENTION_HOURS)?;
        let interval = Duration::from_millis(s.buffer_interval_ms);
        // A folder that cannot be made now is retried by the delivery, which logs why: what
        // the buffer holds must not stop the host from starting.
        let target = FolderTarget::new(&s.root, s.buffer_bytes, interval).or_else(|e| {
            tracing::warn!(root = %s.root.display(), error = %e, "the folder of an implicit delivery stream is not usable now");
            FolderTarget::at(&s.root, s.buffer_bytes, interval)
        })?;
        if swept.insert(target.root.clone()) {
            sweep_temp_files(&target.root);
        }
        let entry = Entry::with_folder(s.spec, Instant::now(), Some(Arc::new(target)));
        out.insert(s.key, entry);
    }
    Ok(out)
}

fn sweep_temp_files(root: &Path) {
    match crate::folder::remove_temp_files(root) {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(root = %root.display(), files = n, "removed the temp files of writes a crash interrupted")
        }
        Err(e) => {
            tracing::warn!(root = %root.display(), error = %e, "cannot remove the temp files of interrupted writes")
        }
    }
}

/// Whole MiB and seconds for the spec's own `Buffering` (shown nowhere; the exact values
/// in [`FolderTarget`] decide).
fn rounded(bytes: u64, interval: Duration) -> Buffering {
    let (size, secs_max) = (BUFFER_SIZE_MIB, BUFFER_INTERVAL_S.max);
    let mib = bytes
        .div_ceil(MIB)
        .clamp(u64::from(size.min), u64::from(size.max));
    let secs = interval
        .as_millis()
        .div_ceil(1000)
        .min(u128::from(secs_max));
    Buffering {
        size_mib: u32::try_from(mib).unwrap_or(size.max),
        interval_s: u32::try_from(secs).unwrap_or(secs_max),
    }
}

fn spec_of(want: &ImplicitStreamSpec, uid: String, created_ms: i64) -> DeliveryStreamSpec {
    DeliveryStreamSpec {
        name: want.name.clone(),
        uid,
        source: SourceKind::DirectPut,
        kinesis_stream_arn: None,
        destination: DeliveryDestination::ExtendedS3(S3Destination {
            role_arn: String::new(),
            bucket_arn: String::new(),
            prefix: want.prefix.clone(),
            error_output_prefix: want.error_prefix.clone(),
            buffering: rounded(want.buffer_bytes, want.buffer_interval),
            compression: Compression::Uncompressed,
            file_extension: None,
        }),
        version: 1,
        created_ms,
        updated_ms: created_ms,
        tags: BTreeMap::new(),
        encryption: Encryption {
            enabled: false,
            key_type: None,
            key_arn: None,
        },
        processing: None,
        partitioning: None,
        conversion: None,
    }
}

/// What a create would refuse, in an action's terms.
fn check(want: &ImplicitStreamSpec, spec: &DeliveryStreamSpec) -> Result<()> {
    check_name(&want.name)?;
    let max_bytes = weir_firehose_model::MAX_ACTION_BUFFER_BYTES;
    if !(1..=max_bytes).contains(&want.buffer_bytes) {
        return Err(FirehoseError::InvalidArgument(format!(
            "buffer_bytes {} is outside 1 to {max_bytes} (Firehose's largest SizeInMBs)",
            want.buffer_bytes
        )));
    }
    if want.buffer_interval > MAX_BUFFER_INTERVAL {
        return Err(FirehoseError::InvalidArgument(format!(
            "buffer interval {:?} is over Firehose's {} s",
            want.buffer_interval, BUFFER_INTERVAL_S.max
        )));
    }
    let prefixes = spec.destination.s3().prefixes()?;
    if let Some(key) = prefixes.data.partition_keys().first() {
        return Err(FirehoseError::InvalidArgument(format!(
            "the prefix uses !{{partitionKeyFromQuery:{key}}}, which needs a delivery stream with dynamic partitioning (name one with `delivery_stream`)"
        )));
    }
    crate::catalog::check_keys(spec)
}

impl Firehose {
    /// The implicit stream `want.key`: created (with its buffer) the first time, its settings
    /// brought up to date when the action changed them (the name, prefixes, root or
    /// buffering; what is buffered is delivered with the new settings, as UpdateDestination
    /// does), as it was otherwise. Persisted before it is returned.
    pub fn implicit_stream(&self, want: &ImplicitStreamSpec) -> Result<ImplicitStream> {
        let now = now_ms();
        check(want, &spec_of(want, String::new(), now))?;
        let target = Arc::new(FolderTarget::new(
            &want.root,
            want.buffer_bytes,
            want.buffer_interval,
        )?);
        let mut map = lock(&self.inner.implicit);
        if self.inner.shared && !map.contains_key(&want.key) {
            self.adopt_implicit(&mut map, &want.key)?;
        }
        if let Some(e) = map.get(&want.key).cloned() {
            let current = read(&e.spec).clone();
            let mut spec = spec_of(want, current.uid.clone(), current.created_ms);
            spec.updated_ms = current.updated_ms;
            let same_target = e.folder().is_some_and(|f| f.same_as(&target));
            if spec != current || !same_target {
                spec.updated_ms = now;
                self.persist_implicit(&map, Some((&want.key, &spec, &target)))?;
                *write(&e.spec) = spec;
                if let Some(f) = &e.folder {
                    *write(f) = target;
                }
            }
            return Ok(ImplicitStream {
                firehose: self.clone(),
                entry: e,
            });
        }
        let spec = spec_of(want, uuid::Uuid::new_v4().simple().to_string(), now);
        self.inner
            .buffer()
            .ensure_stream(&buffer_name(&spec.uid), 1, BUFFER_RETENTION_HOURS)?;
        // Only a folder no running stream writes to: a temp file there may be in progress.
        if !map
            .values()
            .any(|e| e.folder().is_some_and(|f| f.root == target.root))
        {
            sweep_temp_files(&target.root);
        }
        self.persist_implicit(&map, Some((&want.key, &spec, &target)))?;
        let entry = Entry::with_folder(spec, Instant::now(), Some(target));
        map.insert(want.key.clone(), entry.clone());
        drop(map);
        crate::deliver::spawn(&self.inner, entry.clone())?;
        Ok(ImplicitStream {
            firehose: self.clone(),
            entry,
        })
    }

    /// Starts the stream another host made for the action `key`, if there is one in the
    /// shared implicit catalog.
    fn adopt_implicit(&self, map: &mut BTreeMap<String, Arc<Entry>>, key: &str) -> Result<()> {
        let Some(s) = load(&*self.inner.docs)?.into_iter().find(|s| s.key == key) else {
            return Ok(());
        };
        self.inner.see_buffers(&[s.spec.uid.as_str()])?;
        self.inner
            .buffer()
            .ensure_stream(&buffer_name(&s.spec.uid), 1, BUFFER_RETENTION_HOURS)?;
        // No temp-file sweep here: the other host may be writing in that folder now.
        let interval = Duration::from_millis(s.buffer_interval_ms);
        let target = FolderTarget::at(&s.root, s.buffer_bytes, interval)?;
        let entry = Entry::with_folder(s.spec, Instant::now(), Some(Arc::new(target)));
        map.insert(key.to_owned(), entry.clone());
        crate::deliver::spawn(&self.inner, entry)
    }

    /// Writes the implicit catalog as `map` holds it, with `replace` applied for one key. On a
    /// shared store only that key changes in the catalog as stored (other hosts' entries kept),
    /// by compare-and-set.
    fn persist_implicit(
        &self,
        map: &BTreeMap<String, Arc<Entry>>,
        replace: Option<(&str, &DeliveryStreamSpec, &FolderTarget)>,
    ) -> Result<()> {
        let stored_of = |key: &str, spec: &DeliveryStreamSpec, t: &FolderTarget| Stored {
            key: key.to_owned(),
            root: t.root.clone(),
            buffer_bytes: t.buffer_bytes as u64,
            buffer_interval_ms: u64::try_from(t.interval().as_millis()).unwrap_or(u64::MAX),
            spec: spec.clone(),
        };
        if self.inner.shared {
            let Some((key, spec, t)) = replace else {
                return Ok(());
            };
            let docs = &*self.inner.docs;
            for _ in 0..8 {
                let (mut stored, expect) = match docs.get(CATALOG)? {
                    Some((bytes, rev)) => (
                        crate::catalog::parse_list::<Stored>(
                            docs,
                            CATALOG,
                            &bytes,
                            "an implicit delivery stream catalog",
                        )?,
                        weir_support::docstore::DocExpect::Revision(rev),
                    ),
                    None => (Vec::new(), weir_support::docstore::DocExpect::Absent),
                };
                stored.retain(|s| s.key != key);
                stored.push(stored_of(key, spec, t));
                stored.sort_by(|a, b| a.key.cmp(&b.key));
                let bytes = crate::catalog::encode_list(docs, CATALOG, &stored)?;
                match docs.put(CATALOG, &bytes, expect) {
                    Ok(_) => return Ok(()),
                    Err(weir_support::docstore::DocError::Conflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            return Err(FirehoseError::InUse(
                "The implicit delivery stream catalog kept changing under other hosts' writes; retry."
                    .into(),
            ));
        }
        let mut stored = Vec::new();
        for (key, e) in map {
            if replace.is_some_and(|(k, _, _)| k == key) {
                continue;
            }
            if let Some(t) = e.folder() {
                stored.push(stored_of(key, &read(&e.spec), &t));
            }
        }
        if let Some((key, spec, t)) = replace {
            stored.push(stored_of(key, spec, t));
        }
        stored.sort_by(|a, b| a.key.cmp(&b.key));
        save(&*self.inner.docs, &stored)
    }

    /// Delivers what every implicit stream holds now, whatever its buffering hints, and
    /// waits until each has stored it, for at most `timeout`. Returns the names of the
    /// streams that did not make it in time (their records stay in their buffers and are
    /// delivered later, after a restart too).
    pub fn flush_implicit(&self, timeout: Duration) -> Vec<String> {
        let entries: Vec<Arc<Entry>> = lock(&self.inner.implicit).values().cloned().collect();
        let asked: Vec<(Arc<Entry>, u64)> = entries
            .into_iter()
            .map(|e| {
                let g = e.flush.ask();
                (e, g)
            })
            .collect();
        let deadline = Instant::now() + timeout;
        asked
            .into_iter()
            .filter(|(e, g)| !e.flush.wait(*g, deadline))
            .map(|(e, _)| read(&e.spec).name.clone())
            .collect()
    }
}

/// An implicit stream, as its action holds it.
#[derive(Clone)]
pub struct ImplicitStream {
    firehose: Firehose,
    entry: Arc<Entry>,
}

impl std::fmt::Debug for ImplicitStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImplicitStream")
            .field("name", &read(&self.entry.spec).name)
            .finish()
    }
}

impl ImplicitStream {
    /// Puts `records` into the stream's buffer: each is synced before its outcome returns,
    /// exactly as PutRecordBatch's.
    pub fn put(&self, records: &[Vec<u8>]) -> Result<Vec<RecordPutOutcome>> {
        let uid = read(&self.entry.spec).uid.clone();
        self.firehose.put_buffer(&uid, records)
    }

    /// Stores `failed` in the error output now, as a `processing-failed` object of its own;
    /// it is durable when this returns.
    pub fn put_failed(&self, failed: &ProcessingFailure<'_>) -> Result<()> {
        let spec = read(&self.entry.spec).clone();
        let Some(folder) = self.entry.folder() else {
            return Err(FirehoseError::InvalidArgument(format!(
                "{} is not an implicit delivery stream",
                spec.name
            )));
        };
        let inner = &self.firehose.inner;
        for out in crate::batch::processing_failed(&spec, failed)? {
            if let Output::Object { key, body, .. } = out {
                inner
                    .runtime
                    .block_on(folder.stores.put(&folder.bucket, &key, body))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::FirehoseConfig;
    /// Every object under a folder store's root, by key.
    use weir_testkit::files as objects;

    fn open(dir: &Path, rt: &tokio::runtime::Runtime) -> Firehose {
        let mut c = FirehoseConfig::new(dir.join("fh"), Storage::Folder(dir.join("s3")));
        c.transition_delay = Duration::ZERO;
        Firehose::open(c, rt.handle().clone()).expect("open")
    }

    fn want(dir: &Path) -> ImplicitStreamSpec {
        ImplicitStreamSpec {
            key: "rule/archive-1234".into(),
            name: "rule-0-firehose".into(),
            root: dir.join("archive"),
            prefix: Some("t/!{timestamp:yyyy}/".into()),
            error_prefix: Some("e/!{firehose:error-output-type}/".into()),
            buffer_bytes: MIB,
            buffer_interval: Duration::from_secs(60),
        }
    }

    fn all_ok(outcomes: &[RecordPutOutcome]) -> bool {
        outcomes
            .iter()
            .all(|o| matches!(o, RecordPutOutcome::Ok { .. }))
    }

    #[test]
    fn an_implicit_stream_writes_under_its_root_and_is_no_api_stream() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let fh = open(dir.path(), &rt);
        let s = fh.implicit_stream(&want(dir.path())).expect("implicit");
        let out = s.put(&[b"a\n".to_vec(), b"b\n".to_vec()]).expect("put");
        assert!(all_ok(&out), "{out:?}");
        // The interval is a minute: nothing yet, until a flush asks for it.
        std::thread::sleep(Duration::from_millis(100));
        assert!(objects(&dir.path().join("archive")).is_empty());
        assert!(fh.flush_implicit(Duration::from_secs(10)).is_empty());
        let got = objects(&dir.path().join("archive"));
        assert_eq!(got.len(), 1, "{got:?}");
        let (key, body) = got.iter().next().expect("one");
        assert!(
            key.starts_with("t/20") && key.contains("/rule-0-firehose-1-"),
            "{key}"
        );
        assert_eq!(body, b"a\nb\n");
        // Not one of the API's: not listed, not described, and its name is free there.
        assert_eq!(fh.list(10, None, None), (Vec::new(), false));
        assert!(matches!(
            fh.describe("rule-0-firehose"),
            Err(FirehoseError::NotFound(_))
        ));
        // A processing failure is its own error object, at once.
        s.put_failed(&ProcessingFailure {
            data: b"bad",
            arrival_ms: 1_772_874_302_250,
            attempts: 1,
            code: "E",
            message: "m",
        })
        .expect("put_failed");
        let errors: Vec<(String, Vec<u8>)> = objects(&dir.path().join("archive"))
            .into_iter()
            .filter(|(k, _)| k.starts_with("e/"))
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].0.starts_with(
            "e/processing-failed/2026/03/07/09/rule-0-firehose-1-2026-03-07-09-05-02-"
        ));
        let line: serde_json::Value =
            serde_json::from_slice(errors[0].1.trim_ascii_end()).expect("json");
        assert_eq!(line["rawData"], "YmFk");
        assert_eq!(line["errorCode"], "E");
    }

    /// A service whose implicit stream buffered `kept\n`, stopped before delivering it.
    fn stop_holding_one_record(dir: &Path, rt: &tokio::runtime::Runtime) {
        let fh = open(dir, rt);
        let s = fh.implicit_stream(&want(dir)).expect("implicit");
        assert!(all_ok(&s.put(&[b"kept\n".to_vec()]).expect("put")));
    }

    #[test]
    fn an_implicit_stream_keeps_its_buffer_across_a_restart_and_follows_its_action() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        stop_holding_one_record(dir.path(), &rt);
        // Restarted: the buffer is delivered before any action claims the stream again.
        let fh = open(dir.path(), &rt);
        assert!(fh.flush_implicit(Duration::from_secs(10)).is_empty());
        let got = objects(&dir.path().join("archive"));
        assert_eq!(got.values().collect::<Vec<_>>(), vec![&b"kept\n".to_vec()]);
        // Claimed again with another root and name: same stream (one buffer), new settings.
        let mut moved = want(dir.path());
        moved.root = dir.path().join("moved");
        moved.name = "rule-1-firehose".into();
        let s = fh.implicit_stream(&moved).expect("moved");
        assert_eq!(
            load(&weir_support::docstore::FolderDocStore::new(
                dir.path().join("fh")
            ))
            .expect("catalog")
            .len(),
            1
        );
        assert!(all_ok(&s.put(&[b"x\n".to_vec()]).expect("put")));
        assert!(fh.flush_implicit(Duration::from_secs(10)).is_empty());
        let got = objects(&dir.path().join("moved"));
        assert_eq!(got.len(), 1);
        assert!(
            got.keys().all(|k| k.contains("/rule-1-firehose-1-")),
            "{got:?}"
        );
        // Everything delivered: the next start drops the stream, buffer and checkpoint too.
        drop((s, fh));
        let fh = open(dir.path(), &rt);
        assert!(load(&weir_support::docstore::FolderDocStore::new(
            dir.path().join("fh")
        ))
        .expect("catalog")
        .is_empty());
        assert!(fh.inner.buffer().list_streams().is_empty());
        assert!(lock(&fh.inner.implicit).is_empty());
    }

    #[test]
    fn a_start_removes_what_a_crash_left_half_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        stop_holding_one_record(dir.path(), &rt);
        // A crash between an object's temp file and its rename.
        let half = dir.path().join("archive/t/.obj.0123.weir-tmp");
        std::fs::create_dir_all(dir.path().join("archive/t")).expect("mkdir");
        std::fs::write(&half, b"half an obj").expect("write");
        let fh = open(dir.path(), &rt);
        assert!(!half.exists());
        assert!(fh.flush_implicit(Duration::from_secs(10)).is_empty());
        let got = objects(&dir.path().join("archive"));
        assert_eq!(got.values().collect::<Vec<_>>(), vec![&b"kept\n".to_vec()]);
    }

    #[test]
    fn what_firehose_would_refuse_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let fh = open(dir.path(), &rt);
        let mut w = want(dir.path());
        w.buffer_bytes = 0;
        assert!(fh.implicit_stream(&w).is_err());
        let mut w = want(dir.path());
        w.buffer_interval = Duration::from_secs(901);
        assert!(fh.implicit_stream(&w).is_err());
        let mut w = want(dir.path());
        w.prefix = Some("p/!{partitionKeyFromQuery:k}/".into());
        assert!(fh.implicit_stream(&w).is_err());
        for prefix in ["../outside/", "a//b/", "a/../../"] {
            let mut w = want(dir.path());
            w.prefix = Some(prefix.into());
            assert!(fh.implicit_stream(&w).is_err(), "{prefix}");
        }
        let mut w = want(dir.path());
        w.prefix = Some("!{timestamp:yyyy}/".into());
        w.error_prefix = None;
        assert!(fh.implicit_stream(&w).is_err());
        assert!(!dir.path().join("outside").exists());
        assert!(load(&weir_support::docstore::FolderDocStore::new(
            dir.path().join("fh")
        ))
        .expect("catalog")
        .is_empty());
    }
}
