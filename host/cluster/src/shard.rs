//! One Kinesis shard as one replicated JetStream stream (design §2 of issue 31).
//!
//! - Stream `<P>_S_<uid:016x>_<index>`, subject `<prefix>.s.<uid:x>.<index>`, R = `replicas`,
//!   file storage. A child shard's stream starts at `first_sequence = parents' last + 1`, so
//!   sequence numbers keep rising across a reshard.
//! - The record counter is the JetStream sequence (gaps allowed, as on AWS); the arrival time
//!   is the message time the stream leader stamps.
//! - Payload: `u16 key_len (big-endian) | partition key (UTF-8) | data`. Partition keys are
//!   Unicode, which NATS headers cannot carry, so they stay in the payload.
//! - Appends are pipelined: [`JsShard::append`] only sends; [`JsShard::settle`] waits for the
//!   quorum acks. Every message carries a `Nats-Msg-Id`, so a resend after a lost ack (a leader
//!   change, a dropped connection) is deduplicated by the server instead of doubled.
//! - A reshard fences writers by sealing the stream ([`JsShard::close`]): JetStream itself
//!   refuses every later publish, whichever host sends it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::consumer::{self, pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::context::{
    DeleteStreamErrorKind, PublishAckFuture, PublishError, PublishErrorKind,
};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{self, DiscardPolicy, StorageType};
use async_nats::jetstream::{self as js, ErrorCode};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::{Bridge, ClusterError, ClusterResult as Result};

/// The server keeps one entry per message id for this long; Weir's own resends stay well
/// inside it ([`RESEND_WINDOW`]), so none can double a record.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(60);

/// How long [`JsShard::settle`] keeps resending a record whose ack was lost, before it
/// reports the failure: shorter than [`DUPLICATE_WINDOW`], long enough for a leader election
/// (a few seconds) and a client reconnect.
const RESEND_WINDOW: Duration = Duration::from_secs(20);

/// The envelope's bytes before the key.
const ENVELOPE: usize = 2;

/// Longest key the envelope may carry (Kinesis allows 256 characters, at most 1 KiB of UTF-8).
const MAX_KEY_BYTES: usize = u16::MAX as usize;

/// Tries of a stream creation that meets a transient placement refusal (100 ms, 200 ms, ...
/// 3.2 s: about 6 s in all).
const CREATE_ATTEMPTS: u32 = 5;

/// Whether a stream creation failed on what passes by itself: no peer to place a replica on
/// right now (10005, a peer counted offline) or JetStream unavailable (503).
fn placement_transient(e: &async_nats::jetstream::context::CreateStreamError) -> bool {
    use async_nats::jetstream::context::CreateStreamErrorKind;
    match e.kind() {
        CreateStreamErrorKind::JetStream(j) => {
            j.code() == 503 || j.error_code() == ErrorCode(10005)
        }
        _ => false,
    }
}

/// Creates the stream of `config` unless it exists. A peer the meta leader briefly counts
/// offline (a missed heartbeat on a loaded machine, a node restarting, a cluster that has just
/// formed) refuses placement with 10005; a 503 is a meta group between leaders. Both pass, so
/// they are asked again for about 6 s before the error is returned.
pub(crate) async fn create_stream_patiently(
    js: &async_nats::jetstream::Context,
    config: async_nats::jetstream::stream::Config,
) -> std::result::Result<(), async_nats::jetstream::context::CreateStreamError> {
    let mut attempt = 0u32;
    loop {
        match js.get_or_create_stream(config.clone()).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt < CREATE_ATTEMPTS && placement_transient(&e) => {
                tokio::time::sleep(Duration::from_millis(100 << attempt.min(5))).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Fetches of one read consumer that may find it not yet listening (20 ms, 40 ms, ... 2.56 s:
/// about 5 s in all). Seen for up to a second on a loaded 2-core machine running several
/// clusters at once; only a 503 waits, an empty read answers at once.
const FETCH_ATTEMPTS: u32 = 8;

/// Read consumers kept per shard for pollers that continue where they stopped.
const READER_CACHE: usize = 8;

/// Idle consumers made for one read vanish on their own after this, if their delete is lost.
const READ_CONSUMER_IDLE: Duration = Duration::from_secs(30);

/// What a shard's stream is made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsShardSpec {
    /// The Kinesis stream's unique id (names the JetStream stream).
    pub uid: u64,
    /// The shard's index within the Kinesis stream.
    pub index: u32,
    /// A child shard's first counter (parents' last + 1); `None` starts at 1.
    pub first_counter: Option<u64>,
    /// Records older than this are removed by the server (Kinesis retention).
    pub retention: Duration,
    /// The largest record data the stream accepts (the key and envelope come on top).
    pub max_record_bytes: usize,
}

/// A record read back from a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsRecord {
    /// The JetStream sequence: Weir's record counter.
    pub counter: u64,
    /// When the stream leader stored it (ms since the epoch).
    pub arrival_ms: i64,
    pub partition_key: String,
    pub data: Bytes,
}

/// One record on its way: what to resend if its ack is lost.
struct InFlight {
    msg_id: String,
    payload: Bytes,
    ack: std::result::Result<PublishAckFuture, PublishError>,
}

/// Records sent by [`JsShard::append`] whose acks are not yet in.
pub struct JsPendingAppend {
    js: js::Context,
    stream: String,
    subject: String,
    records: Vec<InFlight>,
}

impl std::fmt::Debug for JsPendingAppend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsPendingAppend")
            .field("stream", &self.stream)
            .field("records", &self.records.len())
            .finish()
    }
}

/// One shard's stream, shared by every host that serves it.
pub struct JsShard {
    bridge: Arc<Bridge>,
    name: String,
    subject: String,
    /// Message ids are `<writer>-<put>-<i>`: unique per process and put, so a resend of the
    /// same put reuses them and nothing else collides.
    writer: String,
    next_put: AtomicU64,
    /// The tip watch and the task feeding it, started by the first [`JsShard::watch`].
    watch: Mutex<Option<(watch::Receiver<u64>, AbortHandle)>>,
    /// Read consumers kept by the counter their next read starts at: a poller's next read
    /// continues on its consumer (one fetch) instead of creating one (a meta-layer request).
    readers: Mutex<Vec<CachedReader>>,
}

/// A read consumer and the counter it delivers next.
struct CachedReader {
    next: u64,
    consumer: PullConsumer,
}

type PullConsumer = consumer::Consumer<pull::Config>;

/// Records as read: (counter, arrival ms, payload).
type Rows = Vec<(u64, i64, Bytes)>;

impl std::fmt::Debug for JsShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsShard")
            .field("stream", &self.name)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn datetime_ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Whether a publish error means "the ack may have been lost": then a resend with the same
/// message id is safe and may succeed. Anything the server refused on purpose is not.
pub(crate) fn resendable(e: &PublishError) -> bool {
    match e.kind() {
        PublishErrorKind::TimedOut
        | PublishErrorKind::BrokenPipe
        | PublishErrorKind::MaxAckPending
        // No responders: the stream's leader is being elected, or the client reconnects.
        | PublishErrorKind::StreamNotFound => true,
        // 503: JetStream temporarily unavailable (no quorum yet).
        PublishErrorKind::Other => js_error(e).is_some_and(|j| j.code() == 503),
        _ => false,
    }
}

/// The JetStream API error behind a client error, when the server sent one.
pub(crate) fn js_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a js::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(j) = s.downcast_ref::<js::Error>() {
            return Some(j);
        }
        source = s.source();
    }
    None
}

/// Whether `e` is JetStream's "stream not found".
fn is_no_stream(e: &(dyn std::error::Error + 'static)) -> bool {
    js_error(e).is_some_and(|j| j.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

/// Turns a failed publish into the crate's error (sealed streams get their own variant).
fn publish_error(stream: &str, e: PublishError) -> ClusterError {
    if js_error(&e).is_some_and(|j| j.error_code() == ErrorCode::STREAM_SEALED) {
        ClusterError::Sealed(stream.to_string())
    } else {
        ClusterError::js("publish", stream, e)
    }
}

/// An id no other process or call uses (process id, start time in ns, a counter): the
/// prefix of message ids, which the server deduplicates on.
pub(crate) fn unique_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:x}-{:x}-{:x}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Encodes one record into its payload.
fn envelope(key: &str, data: &[u8]) -> Result<Bytes> {
    let len = u16::try_from(key.len()).map_err(|_| ClusterError::KeyTooLong(key.len()))?;
    let mut b = BytesMut::with_capacity(ENVELOPE + key.len() + data.len());
    b.put_u16(len);
    b.put_slice(key.as_bytes());
    b.put_slice(data);
    Ok(b.freeze())
}

/// Decodes a payload written by [`envelope`].
fn open_envelope(stream: &str, seq: u64, payload: &Bytes) -> Result<(String, Bytes)> {
    let bad = |reason| ClusterError::Envelope {
        stream: stream.to_string(),
        seq,
        reason,
    };
    let len = payload
        .get(..ENVELOPE)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or_else(|| bad("shorter than its key length"))?;
    let key = payload
        .get(ENVELOPE..ENVELOPE + len)
        .ok_or_else(|| bad("shorter than its key"))?;
    let key = std::str::from_utf8(key).map_err(|_| bad("key is not UTF-8"))?;
    Ok((key.to_string(), payload.slice(ENVELOPE + len..)))
}

impl JsShard {
    /// The JetStream stream name of shard `index` of stream `uid` under `bridge`'s prefix.
    pub fn stream_name(bridge: &Bridge, uid: u64, index: u32) -> String {
        format!("{}_S_{uid:016x}_{index}", bridge.config().name_prefix())
    }

    /// The subject its records are published on.
    pub fn subject(bridge: &Bridge, uid: u64, index: u32) -> String {
        format!("{}.s.{uid:x}.{index}", bridge.config().prefix)
    }

    /// Creates the shard's stream, or opens it when it exists with the same config (so two
    /// hosts finishing one reshard both succeed).
    pub fn create(bridge: Arc<Bridge>, spec: &JsShardSpec) -> Result<JsShard> {
        let name = Self::stream_name(&bridge, spec.uid, spec.index);
        let subject = Self::subject(&bridge, spec.uid, spec.index);
        let max_message = spec
            .max_record_bytes
            .saturating_add(ENVELOPE + MAX_KEY_BYTES);
        let config = stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            num_replicas: bridge.config().replicas,
            storage: StorageType::File,
            // Single lookups from any replica; reads that must see the latest go to the leader.
            allow_direct: true,
            // The server refuses a window longer than max_age.
            duplicate_window: DUPLICATE_WINDOW.min(spec.retention),
            max_age: spec.retention,
            max_message_size: i32::try_from(max_message).unwrap_or(i32::MAX),
            discard: DiscardPolicy::Old,
            // Records leave by age only; deletes stay allowed for `weir streams migrate`.
            deny_purge: true,
            first_sequence: spec.first_counter,
            ..Default::default()
        };
        let js = bridge.jetstream().clone();
        bridge
            .call(async move { create_stream_patiently(&js, config).await })?
            .map_err(|e| ClusterError::js("create stream", &name, e))?;
        Ok(Self::handle(bridge, name, subject))
    }

    /// Opens the existing stream of shard `index` of `uid`; [`ClusterError::NoStream`] when
    /// there is none.
    pub fn open(bridge: Arc<Bridge>, uid: u64, index: u32) -> Result<JsShard> {
        let name = Self::stream_name(&bridge, uid, index);
        let subject = Self::subject(&bridge, uid, index);
        let shard = Self::handle(bridge, name, subject);
        shard.info()?;
        Ok(shard)
    }

    fn handle(bridge: Arc<Bridge>, name: String, subject: String) -> JsShard {
        let writer = unique_id();
        JsShard {
            bridge,
            name,
            subject,
            writer,
            next_put: AtomicU64::new(0),
            watch: Mutex::new(None),
            readers: Mutex::new(Vec::new()),
        }
    }

    /// The JetStream stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The stream's info, from its leader.
    fn info(&self) -> Result<stream::Info> {
        let js = self.bridge.jetstream().clone();
        let name = self.name.clone();
        self.bridge
            .call(async move {
                let s = js.get_stream_no_info(&name).await?;
                s.get_info().await.map_err(async_nats::Error::from)
            })?
            .map_err(|e| {
                if is_no_stream(e.as_ref()) {
                    ClusterError::NoStream(self.name.clone())
                } else {
                    ClusterError::js("stream info", &self.name, e)
                }
            })
    }

    /// The stream's state (first and last sequence, message count, newest message time),
    /// from its leader: one request for what the engine's reads and retention need.
    pub(crate) fn state(&self) -> Result<stream::State> {
        Ok(self.info()?.state)
    }

    /// The bridge this shard's calls go through.
    pub(crate) fn bridge(&self) -> &Arc<Bridge> {
        &self.bridge
    }

    /// Sends `items` (partition key, data) without waiting for their acks; [`Self::settle`]
    /// waits. Message ids are fresh for this put.
    pub fn append(&self, items: &[(&str, &[u8])]) -> Result<JsPendingAppend> {
        let put = self.next_put.fetch_add(1, Ordering::Relaxed);
        self.append_as(&format!("{}-{put:x}", self.writer), items)
    }

    /// [`Self::append`] with the message ids `<put_id>-<i>`: sending the same put again (a
    /// retry whose first answer was lost) stores nothing new, and its acks carry the
    /// counters of the first time.
    pub fn append_as(&self, put_id: &str, items: &[(&str, &[u8])]) -> Result<JsPendingAppend> {
        let mut messages = Vec::with_capacity(items.len());
        for (i, (key, data)) in items.iter().enumerate() {
            messages.push((format!("{put_id}-{i}"), envelope(key, data)?));
        }
        let js = self.bridge.jetstream().clone();
        let subject = self.subject.clone();
        let records = self.bridge.call(async move {
            let mut records = Vec::with_capacity(messages.len());
            for (msg_id, payload) in messages {
                let msg = PublishMessage::build()
                    .message_id(&msg_id)
                    .payload(payload.clone());
                let ack = js.send_publish(subject.clone(), msg).await;
                records.push(InFlight {
                    msg_id,
                    payload,
                    ack,
                });
            }
            records
        })?;
        Ok(JsPendingAppend {
            js: self.bridge.jetstream().clone(),
            stream: self.name.clone(),
            subject: self.subject.clone(),
            records,
        })
    }

    /// Waits for the acks of `appends` (all at once, so one round of quorum acks covers many
    /// puts) and returns per append its records' `(counter, arrival_ms)`, in input order. A
    /// record whose ack was lost is resent with the same message id for up to
    /// [`RESEND_WINDOW`]. The arrival time is this host's clock at the ack (the PubAck has no
    /// time); reads return the leader's stored time.
    pub fn settle(&self, appends: Vec<JsPendingAppend>) -> Vec<Result<Vec<(u64, i64)>>> {
        let count = appends.len();
        let outcome = self.bridge.call(async move {
            let deadline = Instant::now() + RESEND_WINDOW;
            let joins: Vec<_> = appends
                .into_iter()
                .map(|a| tokio::spawn(settle_one(a, deadline)))
                .collect();
            let mut out = Vec::with_capacity(joins.len());
            for j in joins {
                out.push(j.await.unwrap_or(Err(ClusterError::BridgeGone)));
            }
            out
        });
        match outcome {
            Ok(out) => out,
            Err(e) => {
                let reason = e.to_string();
                (0..count)
                    .map(|_| Err(ClusterError::TimedOut(reason.clone())))
                    .collect()
            }
        }
    }

    /// The next counter (LATEST): the stream's last sequence + 1, from its leader.
    pub fn tip(&self) -> Result<u64> {
        Ok(self.info()?.state.last_sequence + 1)
    }

    /// The oldest counter still stored (TRIM_HORIZON); the tip when the shard is empty.
    pub fn first_counter(&self) -> Result<u64> {
        let state = self.info()?.state;
        Ok(if state.messages == 0 {
            state.last_sequence + 1
        } else {
            state.first_sequence.max(1)
        })
    }

    /// The counter of the first record stored at or after `ts_ms` (AT_TIMESTAMP); the tip
    /// when there is none yet.
    pub fn counter_at_time(&self, ts_ms: i64) -> Result<u64> {
        // Taken first: a record stored after it has a counter at or above it, so answering it
        // when the lookup finds nothing skips no record.
        let tip = self.tip()?;
        let start = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts_ms) * 1_000_000)
            .map_err(|e| ClusterError::js("at timestamp", &self.name, e))?;
        let config = pull::Config {
            deliver_policy: DeliverPolicy::ByStartTime { start_time: start },
            headers_only: true,
            ..read_consumer()
        };
        let found = self.fetch_once(config, 1)?;
        Ok(found.first().map(|r| r.0).unwrap_or(tip))
    }

    /// Up to `limit` records from counter `from` on (or the first one after it, across gaps
    /// and expired records), at most `max_bytes` of payload, but always at least one record
    /// when one exists. Served by the stream leader, so an acked record is always visible.
    pub fn read(&self, from: u64, limit: usize, max_bytes: usize) -> Result<Vec<JsRecord>> {
        let from = from.max(1);
        let limit = limit.max(1);
        let cached = {
            let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            readers
                .iter()
                .position(|r| r.next == from)
                .map(|i| readers.swap_remove(i).consumer)
        };
        let mut out = self.read_rows(from, limit, max_bytes, cached);
        // Nothing, yet the leader has records from `from` on: the consumer's server had not
        // applied them when it answered (a consumer can sit on a follower, and a kept one
        // learns of new records asynchronously). Ask again with a new consumer, briefly, so
        // an acknowledged record is never reported absent (a subscriber woken by the tip
        // would otherwise wait for the next record).
        if out.as_ref().is_ok_and(|(rows, _)| rows.is_empty()) && self.has_records_from(from)? {
            for attempt in 0..FETCH_ATTEMPTS {
                if let Ok((_, Some(c))) = out {
                    self.discard(c);
                }
                out = self.read_rows(from, limit, max_bytes, None);
                if out.as_ref().map_or(true, |(rows, _)| !rows.is_empty()) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5 << attempt));
            }
        }
        let (rows, consumer) = out?;
        if let Some(consumer) = consumer {
            let next = rows.last().map(|r| r.0 + 1).unwrap_or(from);
            let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            readers.push(CachedReader { next, consumer });
            if readers.len() > READER_CACHE {
                let old = readers.remove(0);
                self.discard(old.consumer);
            }
        }
        rows.into_iter()
            .map(|(counter, arrival_ms, payload)| {
                let (partition_key, data) = open_envelope(&self.name, counter, &payload)?;
                Ok(JsRecord {
                    counter,
                    arrival_ms,
                    partition_key,
                    data,
                })
            })
            .collect()
    }

    /// Whether the leader stores a record at or after counter `from`.
    fn has_records_from(&self, from: u64) -> Result<bool> {
        let state = self.info()?.state;
        Ok(state.messages > 0 && state.last_sequence >= from)
    }

    /// Deletes a read consumer in the background.
    fn discard(&self, c: PullConsumer) {
        let js = self.bridge.jetstream().clone();
        let name = self.name.clone();
        self.bridge.spawn(async move {
            if let Ok(stream) = js.get_stream_no_info(&name).await {
                forget(&stream, &c);
            }
        });
    }

    /// One fetch from `from` on: on the `cached` consumer when it is exactly there, else on
    /// a new one. Returns the rows and the consumer to keep (`None` when it must not be
    /// reused).
    fn read_rows(
        &self,
        from: u64,
        limit: usize,
        max_bytes: usize,
        cached: Option<PullConsumer>,
    ) -> Result<(Rows, Option<PullConsumer>)> {
        let config = pull::Config {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: from,
            },
            ..read_consumer()
        };
        let js = self.bridge.jetstream().clone();
        let name = self.name.clone();
        let out = self.bridge.call(async move {
            let stream = js.get_stream_no_info(&name).await?;
            if let Some(c) = cached {
                // Only where the consumer is exactly where this read starts: a fetch cut
                // short may have delivered records this side never saw.
                let at_from = c
                    .get_info()
                    .await
                    .is_ok_and(|i| i.delivered.stream_sequence + 1 == from);
                if at_from {
                    if let Ok((rows, true)) = drain(&c, limit, max_bytes, 1).await {
                        return Ok((rows, Some(c)));
                    }
                }
                forget(&stream, &c);
            }
            let c: PullConsumer = stream.create_consumer(config).await?;
            match drain(&c, limit, max_bytes, FETCH_ATTEMPTS).await {
                Ok((rows, clean)) => {
                    if !clean {
                        forget(&stream, &c);
                    }
                    Ok((rows, clean.then_some(c)))
                }
                Err(e) => {
                    forget(&stream, &c);
                    Err(e)
                }
            }
        })?;
        out.map_err(|e| ClusterError::js("read", &self.name, e))
    }

    /// One lookup with a consumer made for it (AT_TIMESTAMP): created, fetched from once,
    /// deleted in the background.
    fn fetch_once(&self, config: pull::Config, limit: usize) -> Result<Rows> {
        let js = self.bridge.jetstream().clone();
        let name = self.name.clone();
        let out = self.bridge.call(async move {
            let stream = js.get_stream_no_info(&name).await?;
            let c: PullConsumer = stream.create_consumer(config).await?;
            let rows = drain(&c, limit, 0, FETCH_ATTEMPTS).await;
            forget(&stream, &c);
            rows.map(|(rows, _)| rows)
        })?;
        out.map_err(|e| ClusterError::js("read", &self.name, e))
    }

    /// Fences every writer: seals the stream (JetStream refuses all later publishes, from any
    /// host), then returns its last counter, the parent's `end_counter` in a reshard.
    /// Idempotent: closing a sealed stream returns the same counter.
    pub fn close(&self) -> Result<u64> {
        let info = self.info()?;
        if !info.config.sealed {
            let mut config = info.config;
            config.sealed = true;
            let js = self.bridge.jetstream().clone();
            self.bridge
                .call(async move { js.update_stream(config).await.map(|_| ()) })?
                .map_err(|e| ClusterError::js("seal", &self.name, e))?;
        }
        // Read after the seal: every publish acked before it is in this state.
        Ok(self.info()?.state.last_sequence)
    }

    /// Whether the stream is sealed.
    pub fn is_closed(&self) -> Result<bool> {
        Ok(self.info()?.config.sealed)
    }

    /// Sets the retention: the servers remove records older than `retention` themselves
    /// (`max_age`). A sealed stream is not trimmed by age; its owner deletes it whole.
    pub fn set_retention(&self, retention: Duration) -> Result<()> {
        let mut config = self.info()?.config;
        config.max_age = retention;
        config.duplicate_window = DUPLICATE_WINDOW.min(retention);
        let js = self.bridge.jetstream().clone();
        self.bridge
            .call(async move { js.update_stream(config).await.map(|_| ()) })?
            .map_err(|e| ClusterError::js("set retention", &self.name, e))
    }

    /// Deletes the stream and its records (a deleted Kinesis stream, or a closed shard past
    /// its retention). Deleting a missing stream succeeds.
    pub fn delete(&self) -> Result<()> {
        let js = self.bridge.jetstream().clone();
        let name = self.name.clone();
        match self
            .bridge
            .call(async move { js.delete_stream(&name).await.map(|_| ()) })?
        {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(e.kind(), DeleteStreamErrorKind::JetStream(j)
                    if j.error_code() == ErrorCode::STREAM_NOT_FOUND) =>
            {
                Ok(())
            }
            Err(e) => Err(ClusterError::js("delete stream", &self.name, e)),
        }
    }

    /// The server name of the stream's current leader.
    pub fn leader(&self) -> Result<Option<String>> {
        self.bridge.stream_leader(&self.name)
    }

    /// The tip (next counter), updated as records are stored by any host: wakes in-process
    /// and enhanced fan-out subscribers. Fed by an ordered headers-only consumer on the
    /// bridge, which the client re-creates after a server restart.
    pub fn watch(&self) -> Result<watch::Receiver<u64>> {
        let mut slot = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((rx, task)) = slot.as_ref() {
            if !task.is_finished() {
                return Ok(rx.clone());
            }
        }
        let tip = self.tip()?;
        let (tx, rx) = watch::channel(tip);
        let js = self.bridge.jetstream().clone();
        let task = self
            .bridge
            .spawn(feed_watch(js, self.name.clone(), tip, tx));
        *slot = Some((rx.clone(), task.abort_handle()));
        Ok(rx)
    }
}

impl Drop for JsShard {
    fn drop(&mut self) {
        if let Some((_, task)) = self.watch.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

/// Fetches once from `c` without waiting: up to `limit` records and `max_bytes` (0: no
/// limit), but at least one record when the first alone exceeds `max_bytes`. `clean` is false
/// when the fetch ended on an error after records: the consumer may then have delivered more
/// than came back, and must not be reused. `attempts` > 1 asks again after a 503 (a new
/// consumer not yet listening on its server, seen right after records expired).
async fn drain(
    c: &PullConsumer,
    limit: usize,
    max_bytes: usize,
    attempts: u32,
) -> std::result::Result<(Rows, bool), async_nats::Error> {
    let mut got = Vec::new();
    let mut failure = None;
    for attempt in 0..attempts {
        let mut builder = c.fetch().max_messages(limit);
        if max_bytes > 0 {
            builder = builder.max_bytes(max_bytes);
        }
        let mut batch = builder.messages().await?;
        failure = None;
        while let Some(m) = batch.next().await {
            match m {
                Ok(m) => {
                    let info = m.info()?;
                    got.push((
                        info.stream_sequence,
                        datetime_ms(info.published),
                        m.payload.clone(),
                    ));
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let not_ready = failure
            .as_ref()
            .is_some_and(|e| e.to_string().contains(": 503"));
        if !(got.is_empty() && not_ready) || attempt + 1 == attempts {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
    }
    // A first record larger than max_bytes: the server refuses the batch (409); take that
    // one record alone, as Kinesis returns at least one record.
    if got.is_empty() && failure.is_some() && max_bytes > 0 {
        let mut one = c.fetch().max_messages(1).messages().await?;
        if let Some(m) = one.next().await {
            let m = m?;
            let info = m.info()?;
            got.push((
                info.stream_sequence,
                datetime_ms(info.published),
                m.payload.clone(),
            ));
            failure = None;
        }
    }
    match failure {
        Some(e) if got.is_empty() => Err(e),
        Some(_) => Ok((got, false)),
        None => Ok((got, true)),
    }
}

/// Deletes a read consumer in the background (best effort: its inactivity threshold removes
/// it otherwise).
fn forget(stream: &js::stream::Stream<()>, c: &PullConsumer) {
    let stream = stream.clone();
    let name = c.cached_info().name.clone();
    tokio::spawn(async move {
        let _ = stream.delete_consumer(&name).await;
    });
}

/// The consumer config of one read: ephemeral, in memory, one replica, nothing to ack.
fn read_consumer() -> pull::Config {
    pull::Config {
        ack_policy: AckPolicy::None,
        memory_storage: true,
        num_replicas: 1,
        inactive_threshold: READ_CONSUMER_IDLE,
        ..Default::default()
    }
}

/// Waits for one append's acks, resending the records whose ack was lost (same message ids)
/// until `deadline`. Each round waits for all outstanding acks together and resends the lost
/// ones together, so a failover costs about one ack timeout per round, not one per record.
async fn settle_one(append: JsPendingAppend, deadline: Instant) -> Result<Vec<(u64, i64)>> {
    let JsPendingAppend {
        js,
        stream,
        subject,
        records,
    } = append;
    let mut out: Vec<Option<(u64, i64)>> = vec![None; records.len()];
    let mut waiting: Vec<(usize, InFlight)> = records.into_iter().enumerate().collect();
    let mut backoff = Duration::from_millis(50);
    while !waiting.is_empty() {
        let acks = futures_util::future::join_all(waiting.iter_mut().map(|(_, r)| {
            let attempt =
                std::mem::replace(&mut r.ack, Err(PublishError::new(PublishErrorKind::Other)));
            async move {
                match attempt {
                    Ok(ack) => ack.await,
                    Err(e) => Err(e),
                }
            }
        }))
        .await;
        let mut lost = Vec::new();
        for ((i, record), ack) in waiting.into_iter().zip(acks) {
            match ack {
                Ok(ack) => out[i] = Some((ack.sequence, now_ms())),
                Err(e) if resendable(&e) && Instant::now() < deadline => {
                    tracing::debug!(%stream, msg_id = %record.msg_id, error = %e, "resending a record whose ack was lost");
                    lost.push((i, record));
                }
                Err(e) => return Err(publish_error(&stream, e)),
            }
        }
        if !lost.is_empty() {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
            for (_, record) in &mut lost {
                let msg = PublishMessage::build()
                    .message_id(&record.msg_id)
                    .payload(record.payload.clone());
                record.ack = js.send_publish(subject.clone(), msg).await;
            }
        }
        waiting = lost;
    }
    Ok(out.into_iter().flatten().collect())
}

/// Feeds `tx` with the tip of stream `name` from counter `next` on, until every receiver is
/// gone; re-creates its consumer after an error.
async fn feed_watch(js: js::Context, name: String, mut next: u64, tx: watch::Sender<u64>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let messages = async {
            let stream = js.get_stream_no_info(&name).await?;
            let consumer = stream
                .create_consumer(pull::OrderedConfig {
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: next.max(1),
                    },
                    headers_only: true,
                    ..Default::default()
                })
                .await?;
            consumer.messages().await.map_err(async_nats::Error::from)
        };
        let mut messages = tokio::select! {
            _ = tx.closed() => return,
            m = messages => match m {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!(stream = %name, error = %e, "tip watch: cannot start its consumer");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            },
        };
        loop {
            tokio::select! {
                _ = tx.closed() => return,
                m = messages.next() => match m {
                    Some(Ok(m)) => {
                        if let Ok(info) = m.info() {
                            next = info.stream_sequence + 1;
                            tx.send_replace(next);
                            backoff = Duration::from_millis(100);
                        }
                    }
                    Some(Err(e)) => {
                        tracing::debug!(stream = %name, error = %e, "tip watch: consumer failed");
                        break;
                    }
                    None => break,
                },
            }
        }
        tokio::time::sleep(backoff).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_round_trips_unicode_keys_and_empty_data() {
        for (key, data) in [("k", &b"data"[..]), ("schlüssel-ü", b""), ("", b"x")] {
            let p = envelope(key, data).expect("encodes");
            let (k, d) = open_envelope("S", 1, &p).expect("decodes");
            assert_eq!((k.as_str(), &d[..]), (key, data));
        }
    }

    #[test]
    fn a_truncated_or_foreign_payload_is_an_error() {
        for payload in [&b""[..], b"\x00", b"\x00\x05abc", b"\x00\x02\xff\xfe"] {
            let e = open_envelope("S", 7, &Bytes::copy_from_slice(payload)).expect_err("bad");
            assert!(
                matches!(e, ClusterError::Envelope { seq: 7, .. }),
                "{payload:?}: {e:?}"
            );
        }
        let long = "k".repeat(70_000);
        assert!(matches!(
            envelope(&long, b""),
            Err(ClusterError::KeyTooLong(70_000))
        ));
    }
}
