//! The streams engine's storage boundary on JetStream: [`JetStreamStores`] is a
//! `weir_streams::StoreFactory`, so `Streams::open_with_stores` runs the whole Kinesis engine
//! on the cluster; every host that opens one on the same cluster and prefix shares its streams.
//!
//! - A shard is a [`JsShard`] (one replicated stream); [`JsShardStore`] adapts it: appends are
//!   pipelined publishes settled by their quorum acks, reads come from the stream leader.
//! - The catalog is one KV document (`catalog` in `<P>_META`) written with compare-and-set on
//!   its revision. A save that finds another host's write re-reads the document and applies
//!   only this engine's own per-stream changes on top of it, so neither host silently undoes
//!   the other's; when both changed the same stream the save fails with `ResourceInUse`.
//! - The iterator key is shared ([`KvMeta::shared_secret`]), so an iterator issued by one host
//!   reads through another.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use weir_streams::log::{AppendItem, StoredRecord};
use weir_streams::{
    MetaStore, PendingAppend, SettleAppend, ShardMeta, ShardPage, ShardStore, StoreFactory,
    StreamMeta, StreamsError,
};
use weir_support::docstore::DocStore;
use weir_support::{lock, now_ms};

use crate::docs::KvDocStore;
use crate::{
    Bridge, ClusterConfig, ClusterError, ClusterResult, JsPendingAppend, JsShard, JsShardSpec,
    KvMeta,
};

/// The KV key of the catalog document.
const CATALOG_KEY: &str = "catalog";
/// The KV key of the iterator HMAC key.
const SECRET_KEY: &str = "iterator-key";
/// The KV key of the account settings document.
const ACCOUNT_KEY: &str = "account";
/// Rounds of "re-read, re-apply, write" a catalog save tries against concurrent writers.
const SAVE_ATTEMPTS: usize = 8;
/// A shard stream's retention before the engine's first retention pass says otherwise
/// (Kinesis' default), when the catalog does not name the stream yet.
const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// One hour in milliseconds.
const HOUR_MS: i64 = 3600 * 1000;
/// Largest record data a shard stream accepts: the most `UpdateMaxRecordSize` allows (10 MiB;
/// the envelope is added). The stream's own limit (1 MiB by default) is the engine's check,
/// which can change without re-creating the JetStream stream; the servers' `max_payload`
/// must be at least this plus the envelope (12MB in the operator guide).
const MAX_RECORD_BYTES: usize = 10 << 20;
/// A shard stream younger than this is never swept: another host may have created it and
/// not yet recorded it in the catalog.
const SWEEP_GRACE: Duration = Duration::from_secs(600);

/// Maps the crate's error to the engine's: a seal is `Sealed` (writers re-route), a lost
/// compare-and-set is `InUse` (AWS' ResourceInUse), the rest storage failures.
fn to_streams(e: ClusterError) -> StreamsError {
    match e {
        ClusterError::Sealed(s) => StreamsError::Sealed(s),
        ClusterError::Conflict { .. } | ClusterError::Exists(_) => {
            StreamsError::InUse(e.to_string())
        }
        other => StreamsError::Io(std::io::Error::other(other)),
    }
}

/// Milliseconds since the epoch of a JetStream time.
fn unix_ms(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Every shard and the catalog of Weir's streams on one NATS cluster, under the bridge's
/// prefix.
pub struct JetStreamStores {
    bridge: Arc<Bridge>,
    meta: Arc<KvCatalog>,
}

impl std::fmt::Debug for JetStreamStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamStores")
            .field("prefix", &self.bridge.config().prefix)
            .finish_non_exhaustive()
    }
}

impl JetStreamStores {
    /// Connects to the cluster of `config` and opens (creating it when absent) the metadata
    /// bucket `<P>_META`.
    pub fn connect(config: &ClusterConfig) -> ClusterResult<Arc<JetStreamStores>> {
        Self::open(Arc::new(Bridge::connect(config)?))
    }

    /// [`Self::connect`] over an existing bridge (one connection per host).
    pub fn open(bridge: Arc<Bridge>) -> ClusterResult<Arc<JetStreamStores>> {
        let kv = KvMeta::open(bridge.clone(), "META")?;
        let latest = Arc::new(AtomicU64::new(0));
        let watching = Arc::new(AtomicBool::new(false));
        let task = bridge.spawn(watch_catalog(
            bridge.jetstream().clone(),
            kv.bucket().to_string(),
            Arc::downgrade(&latest),
            Arc::downgrade(&watching),
        ));
        Ok(Arc::new(JetStreamStores {
            bridge,
            meta: Arc::new(KvCatalog {
                kv,
                state: Mutex::new(CatalogState::default()),
                latest,
                watching,
                watch: task.abort_handle(),
            }),
        }))
    }

    /// The bridge the stores call through.
    pub fn bridge(&self) -> &Arc<Bridge> {
        &self.bridge
    }

    /// A document store in its own KV bucket `<P>_<name>` (e.g. `"FIREHOSE"` for the
    /// delivery-stream catalogs and checkpoints). `name`: ASCII letters, digits, `_`, `-`.
    pub fn docs(&self, name: &str) -> ClusterResult<Arc<dyn DocStore>> {
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(ClusterError::Config {
                field: "docs",
                reason: format!("{name:?} is not a bucket name (letters, digits, _ and -)"),
            });
        }
        Ok(Arc::new(KvDocStore::new(KvMeta::open(
            self.bridge.clone(),
            &name.to_ascii_uppercase(),
        )?)))
    }

    /// The shard streams under this prefix: (name, stream uid, shard index, created).
    fn shard_streams(&self) -> ClusterResult<Vec<(String, u64, u64, time::OffsetDateTime)>> {
        use futures_util::StreamExt;
        let js = self.bridge.jetstream().clone();
        let prefix = format!("{}_S_", self.bridge.config().name_prefix());
        let infos = self.bridge.call(async move {
            let mut list = js.streams();
            let mut out = Vec::new();
            while let Some(info) = list.next().await {
                let info = info?;
                out.push((info.config.name, info.created));
            }
            Ok::<_, async_nats::Error>(out)
        })?;
        let infos = infos.map_err(|e| ClusterError::js("list streams", &prefix, e))?;
        Ok(infos
            .into_iter()
            .filter_map(|(name, created)| {
                let rest = name.strip_prefix(&prefix)?;
                let (uid, index) = rest.split_once('_')?;
                let uid = u64::from_str_radix(uid, 16).ok()?;
                let index = index.parse().ok()?;
                Some((name, uid, index, created))
            })
            .collect())
    }

    fn delete_stream(&self, name: &str) -> ClusterResult<()> {
        let js = self.bridge.jetstream().clone();
        let owned = name.to_string();
        match self
            .bridge
            .call(async move { js.delete_stream(&owned).await.map(|_| ()) })?
        {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(e.kind(), async_nats::jetstream::context::DeleteStreamErrorKind::JetStream(j)
                    if j.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND) =>
            {
                Ok(())
            }
            Err(e) => Err(ClusterError::js("delete stream", name, e)),
        }
    }

    fn index32(index: u64) -> weir_streams::Result<u32> {
        u32::try_from(index).map_err(|_| {
            StreamsError::InvalidArgument(format!("shard index {index} is out of range"))
        })
    }
}

impl StoreFactory for JetStreamStores {
    fn meta(&self) -> weir_streams::Result<Arc<dyn MetaStore>> {
        Ok(self.meta.clone())
    }

    /// Opens the shard's stream, or creates it starting at `shard.start_counter` (a child
    /// continues its parents' sequence numbers) with the stream's retention as `max_age`.
    fn open_shard(
        &self,
        stream_uid: u64,
        shard: &ShardMeta,
    ) -> weir_streams::Result<Box<dyn ShardStore>> {
        let index = Self::index32(shard.index)?;
        let js = match JsShard::open(self.bridge.clone(), stream_uid, index) {
            Ok(s) => s,
            Err(ClusterError::NoStream(_)) => {
                let retention = self
                    .meta
                    .retention_hours(stream_uid)
                    .map_or(DEFAULT_RETENTION, |h| {
                        Duration::from_secs(u64::from(h) * 3600)
                    });
                let spec = JsShardSpec {
                    uid: stream_uid,
                    index,
                    first_counter: (shard.start_counter > 1).then_some(shard.start_counter),
                    retention,
                    max_record_bytes: MAX_RECORD_BYTES,
                };
                JsShard::create(self.bridge.clone(), &spec).map_err(to_streams)?
            }
            Err(e) => return Err(to_streams(e)),
        };
        Ok(Box::new(JsShardStore::new(
            js,
            retention_ms(&self.meta, stream_uid),
        )))
    }

    fn remove_shard(&self, stream_uid: u64, index: u64) -> weir_streams::Result<()> {
        let name = JsShard::stream_name(&self.bridge, stream_uid, Self::index32(index)?);
        self.delete_stream(&name).map_err(to_streams)
    }

    fn remove_stream(&self, stream_uid: u64) -> weir_streams::Result<()> {
        for (name, uid, _, _) in self.shard_streams().map_err(to_streams)? {
            if uid == stream_uid {
                self.delete_stream(&name).map_err(to_streams)?;
            }
        }
        Ok(())
    }

    /// Deletes shard streams the catalog does not name, once they are older than
    /// [`SWEEP_GRACE`]: a younger one may be another host's create in progress.
    fn sweep(&self, catalog: &BTreeMap<u64, StreamMeta>) -> weir_streams::Result<()> {
        let now = time::OffsetDateTime::now_utc();
        for (name, uid, index, created) in self.shard_streams().map_err(to_streams)? {
            let named = catalog
                .get(&uid)
                .is_some_and(|m| m.shards.iter().any(|s| s.index == index));
            let young = now - created < SWEEP_GRACE;
            if !named && !young {
                tracing::info!(stream = %name, "removing a shard stream the catalog does not name");
                self.delete_stream(&name).map_err(to_streams)?;
            }
        }
        Ok(())
    }
}

/// The retention (ms) the catalog names for `uid`, if it does.
fn retention_ms(meta: &KvCatalog, uid: u64) -> Option<i64> {
    meta.retention_hours(uid)
        .map(|h| i64::from(h) * 3600 * 1000)
}

/// What the catalog document held when this engine last read or wrote it.
#[derive(Default)]
struct CatalogState {
    /// The document's revision (0: never written).
    revision: u64,
    /// The document as stored at `revision`, by uid.
    stored: BTreeMap<u64, Value>,
    /// The catalog as this engine last saw it (loaded or saved): its own changes are the
    /// difference between this and what it saves next.
    seen: BTreeMap<u64, Value>,
    /// The revision `seen` was read or written at. `revision` moves past it when a save
    /// re-reads another host's write; the engine has not seen that write until it reloads.
    seen_revision: u64,
}

/// The catalog, the iterator key and the account settings in the `<P>_META` bucket.
struct KvCatalog {
    kv: KvMeta,
    state: Mutex<CatalogState>,
    /// The newest revision of the catalog document the watch reported (0: none yet), for
    /// [`MetaStore::catalog_changed`]: the engine's poll is then an atomic read.
    latest: Arc<AtomicU64>,
    /// The watch is running; while it is not, a poll asks the bucket.
    watching: Arc<AtomicBool>,
    watch: AbortHandle,
}

impl Drop for KvCatalog {
    fn drop(&mut self) {
        self.watch.abort();
    }
}

/// Keeps `latest` at the catalog document's newest revision: a KV watch of the key (its
/// current revision first), re-created after an error, until the catalog is dropped.
async fn watch_catalog(
    js: async_nats::jetstream::Context,
    bucket: String,
    latest: Weak<AtomicU64>,
    watching: Weak<AtomicBool>,
) {
    use futures_util::StreamExt;
    let mut pause = Duration::from_millis(100);
    loop {
        let started = async {
            let store = js.get_key_value(&bucket).await?;
            let w = store.watch_with_history(CATALOG_KEY).await?;
            Ok::<_, async_nats::Error>(w)
        }
        .await;
        match started {
            Ok(mut w) => {
                if let Some(f) = watching.upgrade() {
                    f.store(true, Ordering::SeqCst);
                }
                pause = Duration::from_millis(100);
                while let Some(entry) = w.next().await {
                    let Ok(entry) = entry else { break };
                    let Some(l) = latest.upgrade() else { return };
                    l.fetch_max(entry.revision, Ordering::SeqCst);
                }
            }
            Err(e) => tracing::debug!(%bucket, error = %e, "no catalog watch yet"),
        }
        match watching.upgrade() {
            Some(f) => f.store(false, Ordering::SeqCst),
            None => return,
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

fn meta_err(what: &str, e: impl std::fmt::Display) -> StreamsError {
    StreamsError::Metadata(format!("{what}: {e}"))
}

impl KvCatalog {
    /// The stored catalog document and its revision.
    fn fetch(&self) -> weir_streams::Result<(BTreeMap<u64, Value>, u64)> {
        match self.kv.get(CATALOG_KEY).map_err(to_streams)? {
            None => Ok((BTreeMap::new(), 0)),
            Some(e) => Ok((
                serde_json::from_slice(&e.value)
                    .map_err(|e| meta_err("catalog in the cluster", e))?,
                e.revision,
            )),
        }
    }

    /// The retention the catalog last seen names for `uid`.
    fn retention_hours(&self, uid: u64) -> Option<u32> {
        let st = lock(&self.state);
        let v = st.seen.get(&uid).or_else(|| st.stored.get(&uid))?;
        v.get("retention_hours")?
            .as_u64()
            .and_then(|h| u32::try_from(h).ok())
    }
}

/// Applies the changes from `seen` to `mine` onto `stored`; `Err(name)` when a stream this
/// engine changed was changed differently in `stored` (another host wrote it meanwhile).
fn rebase(
    seen: &BTreeMap<u64, Value>,
    mine: &BTreeMap<u64, Value>,
    stored: &BTreeMap<u64, Value>,
) -> Result<BTreeMap<u64, Value>, String> {
    let mut out = stored.clone();
    for uid in seen.keys().chain(mine.keys()) {
        let (before, after) = (seen.get(uid), mine.get(uid));
        if before == after {
            continue;
        }
        if stored.get(uid) != before && stored.get(uid) != after {
            let name = after.or(before).and_then(|v| v.get("name")).map_or_else(
                || format!("uid {uid}"),
                |n| n.as_str().unwrap_or_default().to_string(),
            );
            return Err(name);
        }
        match after {
            Some(v) => out.insert(*uid, v.clone()),
            None => out.remove(uid),
        };
    }
    // Two hosts that created the same name under different uids.
    let mut names = HashMap::new();
    for v in out.values() {
        if let Some(n) = v.get("name").and_then(Value::as_str) {
            if names.insert(n, ()).is_some() {
                return Err(n.to_string());
            }
        }
    }
    Ok(out)
}

impl MetaStore for KvCatalog {
    fn load_catalog(&self) -> weir_streams::Result<BTreeMap<u64, StreamMeta>> {
        let (stored, revision) = self.fetch()?;
        let mut out = BTreeMap::new();
        for (uid, v) in &stored {
            let meta: StreamMeta = serde_json::from_value(v.clone())
                .map_err(|e| meta_err(&format!("stream {uid} in the cluster catalog"), e))?;
            out.insert(*uid, meta);
        }
        *lock(&self.state) = CatalogState {
            revision,
            seen: stored.clone(),
            stored,
            seen_revision: revision,
        };
        Ok(out)
    }

    /// Writes this engine's changes with compare-and-set; on another host's write, re-reads
    /// and re-applies them (see the module doc), or fails with `InUse` when both changed one
    /// stream.
    fn save_catalog(&self, catalog: &BTreeMap<u64, StreamMeta>) -> weir_streams::Result<()> {
        let mut mine = BTreeMap::new();
        for (uid, m) in catalog {
            mine.insert(
                *uid,
                serde_json::to_value(m).map_err(|e| meta_err("catalog", e))?,
            );
        }
        let mut st = lock(&self.state);
        for _ in 0..SAVE_ATTEMPTS {
            let merged = rebase(&st.seen, &mine, &st.stored).map_err(|name| {
                StreamsError::InUse(format!(
                    "Stream {name} was changed by another host meanwhile; retry the request."
                ))
            })?;
            let raw = serde_json::to_vec(&merged).map_err(|e| meta_err("catalog", e))?;
            match self.kv.update(CATALOG_KEY, &raw, st.revision) {
                Ok(revision) => {
                    // A save that carried other hosts' changes along leaves this engine
                    // behind them: `catalog_changed` then says so, and the engine reloads.
                    let seen_revision = if merged == mine {
                        revision
                    } else {
                        st.seen_revision
                    };
                    *st = CatalogState {
                        revision,
                        stored: merged,
                        seen: mine,
                        seen_revision,
                    };
                    return Ok(());
                }
                Err(ClusterError::Conflict { .. }) => {
                    let (stored, revision) = self.fetch()?;
                    st.stored = stored;
                    st.revision = revision;
                }
                Err(e) => return Err(to_streams(e)),
            }
        }
        Err(StreamsError::InUse(
            "The stream catalog kept changing under concurrent writers; retry the request.".into(),
        ))
    }

    fn secret(&self) -> weir_streams::Result<[u8; 32]> {
        self.kv
            .shared_secret(SECRET_KEY, rand::random())
            .map_err(to_streams)
    }

    fn account(&self) -> weir_streams::Result<Option<Vec<u8>>> {
        Ok(self
            .kv
            .get(ACCOUNT_KEY)
            .map_err(to_streams)?
            .map(|e| e.value.to_vec()))
    }

    /// Replaces the document: the last writer wins, as a settings update should.
    fn set_account(&self, raw: &[u8]) -> weir_streams::Result<()> {
        for _ in 0..SAVE_ATTEMPTS {
            let outcome = match self.kv.get(ACCOUNT_KEY).map_err(to_streams)? {
                Some(e) => self.kv.update(ACCOUNT_KEY, raw, e.revision),
                None => self.kv.create(ACCOUNT_KEY, raw),
            };
            match outcome {
                Ok(_) => return Ok(()),
                Err(ClusterError::Conflict { .. } | ClusterError::Exists(_)) => {}
                Err(e) => return Err(to_streams(e)),
            }
        }
        Err(StreamsError::InUse(
            "The account settings kept changing; retry the request.".into(),
        ))
    }

    fn describe(&self) -> String {
        format!("NATS KV bucket {}", self.kv.bucket())
    }

    /// Shared by every host on the prefix: changed when the document's revision passed the
    /// one this engine last loaded or wrote. The watch answers without a round trip; while
    /// it is down (a reconnect), the bucket is asked.
    fn catalog_changed(&self) -> weir_streams::Result<Option<bool>> {
        let held = lock(&self.state).seen_revision;
        if self.watching.load(Ordering::SeqCst) {
            return Ok(Some(self.latest.load(Ordering::SeqCst) > held));
        }
        match self.kv.get(CATALOG_KEY) {
            Ok(entry) => Ok(Some(entry.map_or(0, |e| e.revision) != held)),
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the catalog's revision");
                Ok(Some(false))
            }
        }
    }
}

/// One shard's stream as the engine's `ShardStore`.
pub struct JsShardStore {
    shard: Arc<JsShard>,
    /// The engine's tip watch: fed from the stream (any host's records) and by this host's
    /// settlements and [`ShardStore::notify`].
    tip: Arc<watch::Sender<u64>>,
    /// The task forwarding the stream's tip, started by the first [`ShardStore::watch`].
    forward: Mutex<Option<AbortHandle>>,
    /// The `max_age` last set or known, in ms (0: unknown).
    retention_ms: AtomicI64,
    /// The engine's last retention cutoff: older records are no longer served. The servers
    /// remove them from an open stream by `max_age`, but a sealed stream keeps them (its
    /// config is final), so a closed shard must hide them itself to age out and be removed.
    cutoff_ms: AtomicI64,
}

impl std::fmt::Debug for JsShardStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsShardStore")
            .field("stream", &self.shard.name())
            .finish_non_exhaustive()
    }
}

impl JsShardStore {
    fn new(shard: JsShard, retention_ms: Option<i64>) -> JsShardStore {
        let tip = shard.tip().unwrap_or(1);
        JsShardStore {
            shard: Arc::new(shard),
            tip: Arc::new(watch::channel(tip).0),
            forward: Mutex::new(None),
            retention_ms: AtomicI64::new(retention_ms.unwrap_or(0)),
            cutoff_ms: AtomicI64::new(i64::MIN),
        }
    }
}

impl Drop for JsShardStore {
    fn drop(&mut self) {
        if let Some(h) = lock(&self.forward).take() {
            h.abort();
        }
    }
}

/// Raises the tip watch to `next` (never lowers it).
fn raise(tip: &watch::Sender<u64>, next: u64) {
    tip.send_if_modified(|cur| {
        let raised = next > *cur;
        if raised {
            *cur = next;
        }
        raised
    });
}

/// One append's publishes, waiting for their quorum acks.
struct JsSettle {
    shard: Arc<JsShard>,
    pending: JsPendingAppend,
    tip: Weak<watch::Sender<u64>>,
}

impl SettleAppend for JsSettle {
    fn settle(self: Box<Self>) -> weir_streams::Result<Vec<(u64, i64)>> {
        let JsSettle {
            shard,
            pending,
            tip,
        } = *self;
        let written = shard
            .settle(vec![pending])
            .pop()
            .unwrap_or(Err(ClusterError::BridgeGone))
            .map_err(to_streams)?;
        if let (Some(tip), Some(last)) = (tip.upgrade(), written.last()) {
            raise(&tip, last.0 + 1);
        }
        Ok(written)
    }
}

impl ShardStore for JsShardStore {
    /// Publishes without waiting; the counters come with the acks. A `min_counter` cannot
    /// raise a JetStream sequence: one at or below the tip is met already, one above it is
    /// refused.
    fn append(
        &self,
        items: &[AppendItem<'_>],
        min_counter: Option<u64>,
    ) -> weir_streams::Result<PendingAppend> {
        if let Some(min) = min_counter {
            let tip = self.shard.tip().map_err(to_streams)?;
            if min > tip {
                return Err(StreamsError::InvalidArgument(
                    "ExclusiveMinimumSequenceNumber is above the shard's newest sequence number; a cluster shard cannot skip sequence numbers.".into(),
                ));
            }
        }
        let pairs: Vec<(&str, &[u8])> = items.iter().map(|i| (i.partition_key, i.data)).collect();
        let pending = self.shard.append(&pairs).map_err(to_streams)?;
        Ok(PendingAppend::later(Box::new(JsSettle {
            shard: self.shard.clone(),
            pending,
            tip: Arc::downgrade(&self.tip),
        })))
    }

    /// Acked means stored by a quorum: nothing to flush.
    fn flush(&self) -> weir_streams::Result<Option<PendingAppend>> {
        Ok(None)
    }

    fn tip(&self) -> weir_streams::Result<u64> {
        self.shard.tip().map_err(to_streams)
    }

    fn counter_at_time(&self, ts_ms: i64) -> weir_streams::Result<u64> {
        self.shard.counter_at_time(ts_ms).map_err(to_streams)
    }

    fn read(&self, from: u64, limit: usize, max_bytes: usize) -> weir_streams::Result<ShardPage> {
        let rows = self
            .shard
            .read(from, limit, max_bytes)
            .map_err(to_streams)?;
        // After the read: a record stored meanwhile makes `reached_tip` false, and the
        // caller reads again rather than miss it.
        let state = self.shard.state().map_err(to_streams)?;
        let first_kept = if state.messages == 0 {
            state.last_sequence + 1
        } else {
            state.first_sequence.max(1)
        };
        let cutoff = self.cutoff_ms.load(Ordering::Relaxed);
        let expired = rows.iter().take_while(|r| r.arrival_ms < cutoff).count();
        let skipped = expired.checked_sub(1).map(|i| rows[i].counter + 1);
        let records: Vec<StoredRecord> = rows
            .into_iter()
            .skip(expired)
            .map(|r| StoredRecord {
                counter: r.counter,
                arrival_ms: r.arrival_ms,
                partition_key: r.partition_key,
                data: r.data.to_vec(),
            })
            .collect();
        let first_kept = first_kept.max(skipped.unwrap_or(0));
        let start = records.first().map_or(from.max(first_kept), |r| {
            r.counter.min(from.max(first_kept))
        });
        let reached_tip = records
            .last()
            .map_or(state.messages == 0 || state.last_sequence < from, |r| {
                r.counter >= state.last_sequence
            });
        Ok(ShardPage {
            records,
            reached_tip,
            start,
            newest_arrival_ms: (state.messages > 0).then(|| unix_ms(state.last_timestamp)),
        })
    }

    fn newest(&self) -> weir_streams::Result<Option<(u64, i64)>> {
        let state = self.shard.state().map_err(to_streams)?;
        let newest = unix_ms(state.last_timestamp);
        let cutoff = self.cutoff_ms.load(Ordering::Relaxed);
        Ok((state.messages > 0 && newest >= cutoff).then_some((state.last_sequence, newest)))
    }

    /// Seals the stream (JetStream refuses every later publish, from any host) and returns
    /// the counter after its last record.
    fn seal(&self) -> weir_streams::Result<u64> {
        let last = self.shard.close().map_err(to_streams)?;
        self.notify();
        Ok(last + 1)
    }

    /// JetStream cannot unseal a stream: the failed reshard must be completed instead.
    fn unseal(&self) -> weir_streams::Result<()> {
        Err(StreamsError::Sealed(format!(
            "stream {} is sealed for good: a JetStream stream cannot be unsealed",
            self.shard.name()
        )))
    }

    /// The servers expire records themselves (`max_age`). This moves `max_age` when the
    /// engine's retention changed (`cutoff_ms` is now minus the retention), hides records
    /// older than the cutoff (a sealed stream keeps them) and returns 0: no records are
    /// counted here.
    fn expire(&self, cutoff_ms: i64) -> weir_streams::Result<usize> {
        self.cutoff_ms.fetch_max(cutoff_ms, Ordering::Relaxed);
        // Whole hours (the engine's retention unit): its `now` and this call's differ by
        // milliseconds. Under an hour is no retention the engine sets, but a cutoff taken
        // from a `now` in the future (a test's): `max_age` is then left alone rather than
        // shredding the open shards.
        let wanted = (now_ms() - cutoff_ms + HOUR_MS / 2) / HOUR_MS * HOUR_MS;
        if wanted >= HOUR_MS && self.retention_ms.load(Ordering::Relaxed) != wanted {
            let ms = u64::try_from(wanted).unwrap_or(u64::MAX);
            // Tried once per change: a sealed stream's config is final (its records are
            // hidden by the cutoff instead, and the stream deleted with the shard).
            self.retention_ms.store(wanted, Ordering::Relaxed);
            if let Err(e) = self.shard.set_retention(Duration::from_millis(ms)) {
                tracing::debug!(stream = self.shard.name(), error = %e, "max_age unchanged");
            }
        }
        Ok(0)
    }

    fn watch(&self) -> watch::Receiver<u64> {
        let rx = self.tip.subscribe();
        let mut forward = lock(&self.forward);
        if forward.as_ref().is_none_or(AbortHandle::is_finished) {
            match self.shard.watch() {
                Ok(mut src) => {
                    let tip = Arc::downgrade(&self.tip);
                    let task = self.shard.bridge().spawn(async move {
                        while src.changed().await.is_ok() {
                            let next = *src.borrow_and_update();
                            let Some(tip) = tip.upgrade() else { break };
                            raise(&tip, next);
                        }
                    });
                    *forward = Some(task.abort_handle());
                }
                // Wake-ups then come only from this host's settlements and notify.
                Err(e) => {
                    tracing::warn!(stream = self.shard.name(), error = %e, "no tip watch")
                }
            }
        }
        rx
    }

    fn notify(&self) {
        self.tip.send_modify(|_| {});
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(entries: &[(u64, Value)]) -> BTreeMap<u64, Value> {
        entries.iter().cloned().collect()
    }

    #[test]
    fn a_rebase_keeps_the_other_hosts_streams_and_applies_ours() {
        let a = json!({"name": "a", "v": 1});
        let b = json!({"name": "b", "v": 1});
        let c = json!({"name": "c", "v": 1});
        let a2 = json!({"name": "a", "v": 2});
        // We saw {a}; we change a and add c; the store meanwhile gained b.
        let out = rebase(
            &map(&[(1, a.clone())]),
            &map(&[(1, a2.clone()), (3, c.clone())]),
            &map(&[(1, a.clone()), (2, b.clone())]),
        )
        .expect("no conflict");
        assert_eq!(out, map(&[(1, a2), (2, b.clone()), (3, c)]));
        // We delete a; the store still has it unchanged: it goes, b stays.
        let out = rebase(
            &map(&[(1, a.clone())]),
            &map(&[]),
            &map(&[(1, a.clone()), (2, b.clone())]),
        )
        .expect("no conflict");
        assert_eq!(out, map(&[(2, b)]));
    }

    #[test]
    fn a_rebase_refuses_a_stream_both_hosts_changed_or_a_name_taken_twice() {
        let a = json!({"name": "a", "v": 1});
        let e = rebase(
            &map(&[(1, a.clone())]),
            &map(&[(1, json!({"name": "a", "v": 2}))]),
            &map(&[(1, json!({"name": "a", "v": 3}))]),
        )
        .expect_err("both changed a");
        assert_eq!(e, "a");
        let e = rebase(&map(&[]), &map(&[(1, a.clone())]), &map(&[(2, a)])).expect_err("twice");
        assert_eq!(e, "a");
    }
}
