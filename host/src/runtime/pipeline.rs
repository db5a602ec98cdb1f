//! One action's pipeline, the connector library's stages on a thread of its own:
//! transformer plugins -> filter plugins -> buffer -> sink (the emitter).
//!
//! Records arrive on a bounded channel, so a slow stage blocks the dispatcher (and through it
//! the broker) instead of growing memory. The worker takes what is queued as one micro-batch,
//! runs it through the stages (one plugin call per stage per micro-batch), and appends what
//! survives to the buffer, which goes to the sink when it reaches its record count, its byte
//! size or its age, whichever comes first. One thread per action keeps records in arrival order,
//! so records with the same partition key stay in order. A record the sink reports failed is
//! retried with backoff; one that still fails, or failed in a stage, goes to the rule's error
//! action with the reason. When the channel closes (shutdown or a reload), the worker drains it,
//! flushes the buffer and exits.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::ack::AckToken;
use super::dead_letter::DeadLetters;
use super::spool::{Spool, SpoolEntry, SpoolError, Spooled};
use weir_config::BufferConfig;
use weir_plugins::{FilterResult, PluginSlot, TransformResult};
use weir_rules::{EvalContext, Template};

use super::metrics::{ActionMetrics, RuleMetrics};
use super::sinks::{Outcome, Sink};
use super::work::{Batch, Meta, Origin, WorkItem};

/// Most records taken off the channel for one pass through the stages.
const MICRO_BATCH: usize = 512;
/// Delivery attempts per record before it goes to the error action.
const ATTEMPTS: u32 = 3;
/// How long a record waits in the buffer before it is spooled. A buffer that flushes sooner
/// (a short `max_age_ms`, or one filled by traffic) never pays for the spool's sync; one that
/// waits longer holds its messages' acknowledgements about this long.
const SPOOL_AFTER: Duration = Duration::from_millis(10);

/// Where the failures of an action go: the rule's error action (itself a pipeline).
#[derive(Clone)]
pub struct ErrorRoute {
    /// The error action's input.
    pub tx: SyncSender<WorkItem>,
    /// Its destination key template (partition key, row key or topic), rendered against the
    /// original message.
    pub key: Option<Arc<Template>>,
}

/// Renders an action's key template against the message a record came from.
pub fn render_key(template: Option<&Template>, origin: &Origin) -> Result<Arc<str>, String> {
    let Some(t) = template else {
        return Ok(origin.topic.clone());
    };
    let json = weir_rules::parse_payload(&origin.payload);
    let cx = EvalContext {
        client_id: origin.client_id.as_deref(),
        timestamp_ms: origin.arrival_ms,
        ..EvalContext::new(&origin.topic, &origin.payload, json.as_ref())
    };
    t.render(&cx)
        .map(Arc::from)
        .map_err(|e| format!("template {:?}: {e}", t.source()))
}

/// Hands a failed message to the rule's error action; without one, to the dead-letter store.
/// `ack` and `owned` are the failed record's (see [`Meta`]); the error action's record carries
/// them on. Returns `false` when neither took it: the caller fails the message, or keeps an
/// owned record to try again.
#[allow(clippy::too_many_arguments)]
pub fn route_failure(
    errors: Option<&ErrorRoute>,
    dead_letters: &DeadLetters,
    origin: &Arc<Origin>,
    ack: &AckToken,
    owned: bool,
    aws_action: &str,
    resource: &str,
    reason: &str,
) -> bool {
    let payload = origin.error_payload(aws_action, resource, reason);
    let Some(route) = errors else {
        // A record Weir alone holds waits for the sync (it is kept if that fails); any other
        // lends its message's share to the dead-letter writer and goes on at once.
        let ack = (!owned).then_some(ack);
        return dead_letter(dead_letters, origin, payload, ack, aws_action, reason);
    };
    let key = match render_key(route.key.as_deref(), origin) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(rule = %origin.rule, %reason, error = %e, "cannot render the error action's key");
            return false;
        }
    };
    let item = WorkItem {
        record: origin.record(payload, key.to_string()),
        meta: Meta {
            key,
            origin: origin.clone(),
            ack: ack.clone(),
            owned,
        },
    };
    if let Err(std::sync::mpsc::SendError(item)) = route.tx.send(item) {
        tracing::error!(rule = %origin.rule, %reason, "error action is gone");
        // Dropping the record's share must not count as handled.
        item.meta.ack.fail();
        return false;
    }
    true
}

/// Stores a failure in the dead-letter store. With `ack` (a share of the failed message's
/// acknowledgement), the line is only queued: the writer thread holds the share until the
/// line is synced and fails it if it cannot be, so the caller (the dispatcher, say) never
/// waits for the disk. Without, waits for the sync. `false` when the store refused it or
/// (waiting) could not make it durable.
fn dead_letter(
    dead_letters: &DeadLetters,
    origin: &Origin,
    payload: Vec<u8>,
    ack: Option<&AckToken>,
    aws_action: &str,
    reason: &str,
) -> bool {
    let now = chrono::Utc::now().timestamp_millis();
    let stored = match ack {
        Some(ack) => dead_letters.submit(payload, now, ack),
        None => dead_letters.record(payload, now),
    };
    match stored {
        Ok(()) => {
            tracing::warn!(rule = %origin.rule, topic = %origin.topic, action = aws_action, %reason, at = %dead_letters.place(), "action failed and the rule has no error action: stored as a dead letter");
            true
        }
        Err(e) => {
            let error = weir_support::error_chain(&e);
            tracing::error!(rule = %origin.rule, topic = %origin.topic, action = aws_action, %reason, %error, "action failed, the rule has no error action and the dead letter cannot be written");
            false
        }
    }
}

/// How a plugin's per-record failure is reported: plugin, version, code and message.
pub(crate) fn record_error_reason(
    slot: &PluginSlot,
    version: &str,
    e: &weir_plugins::RecordError,
) -> String {
    format!(
        "plugin {}@{version}: {}: {}",
        slot.name(),
        e.code,
        e.message
    )
}

/// Everything a pipeline worker needs.
pub struct PipelineSpec {
    /// e.g. `kinesis:speeding-alerts`, for logs and metric labels.
    pub label: String,
    /// AWS's name of the action kind, for the error payload (`KinesisAction`...).
    pub aws_action: &'static str,
    /// The resource it targets (stream, folder, topic, table, plugin).
    pub resource: String,
    /// Transformer plugins, in order.
    pub transformers: Vec<Arc<PluginSlot>>,
    /// Filter plugins, in order.
    pub filters: Vec<Arc<PluginSlot>>,
    /// When to flush.
    pub buffer: BufferConfig,
    /// The destination.
    pub sink: Box<dyn Sink>,
    /// The rule's error action; `None` for an error action itself, or a rule without one.
    pub errors: Option<ErrorRoute>,
    /// True for an error action: its own failures leave the message unacknowledged.
    pub is_error_action: bool,
    /// Where failures go when the rule has no error action.
    pub dead_letters: Arc<DeadLetters>,
    /// Counters.
    pub metrics: Arc<ActionMetrics>,
    /// The rule's counters.
    pub rule_metrics: Arc<RuleMetrics>,
    /// Where records waiting in the buffer are kept durable.
    pub spool: SpoolSpec,
    /// Where the worker's death is recorded (a panic in a sink or plugin glue).
    pub liveness: Arc<super::liveness::Liveness>,
}

/// An action's spool folder, whether appends are synced, and whether to adopt what an earlier
/// run left there (the first plan of a host only); with `[cluster]`, the cluster's spool log
/// instead of the folder (whose files are adopted into it).
pub struct SpoolSpec {
    pub dir: std::path::PathBuf,
    pub sync: bool,
    pub adopt: bool,
    pub shared: Option<super::spool::shared::SharedSpec>,
}

/// Why a pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("starting the worker thread")]
    Thread(#[source] std::io::Error),
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// A running pipeline: its input and its thread.
pub struct Pipeline {
    /// Its input; dropping every clone ends the worker after it drained and flushed.
    pub tx: SyncSender<WorkItem>,
    /// The worker.
    pub handle: JoinHandle<()>,
}

impl Pipeline {
    /// Opens the spool (what a crash left in it goes back into the buffer) and starts the
    /// worker thread.
    pub fn spawn(spec: PipelineSpec) -> Result<Pipeline, PipelineError> {
        let s = &spec.spool;
        let (spool, replayed) = match &s.shared {
            None => Spool::open(&s.dir, s.sync, s.adopt)?,
            Some(shared) => Spool::open_shared(shared, &s.dir, s.adopt)?,
        };
        let capacity = usize::try_from(spec.buffer.max_records)
            .unwrap_or(usize::MAX)
            .saturating_mul(2)
            .clamp(1024, 16_384);
        let (tx, rx) = sync_channel(capacity);
        let name = format!("weir-action-{}", spec.label);
        let handle = std::thread::Builder::new()
            .name(name.chars().take(60).collect())
            .spawn(move || {
                // A panic unwinds through here: the guard records it (and `/health` fails),
                // and the records it held fail their messages (`AckToken` on unwinding).
                let alive = spec.liveness.worker(format!("weir-action-{}", spec.label));
                Worker::new(spec, spool, replayed).run(rx);
                alive.finish();
            })
            .map_err(PipelineError::Thread)?;
        Ok(Pipeline { tx, handle })
    }
}

struct Worker {
    spec: PipelineSpec,
    buffer: Batch,
    buffer_bytes: usize,
    oldest: Option<Instant>,
    spool: Spool,
    /// The spool failed: records wait in memory, holding their messages, until it works again.
    spool_broken: bool,
    /// The first buffered record not spooled yet, and since when it waits.
    unspooled: Option<(usize, Instant)>,
    /// Owned records handed to the error action during this flush, each with its answer: the
    /// spool keeps them until the error action made them durable.
    handoffs: Vec<Handoff>,
}

/// An owned record on its way to the error action (see [`Worker::flush`]).
struct Handoff {
    record: weir_plugins::Record,
    meta: Meta,
    reason: String,
    /// `true` once the error action delivered or spooled it, `false` if it failed it.
    settled: std::sync::mpsc::Receiver<bool>,
}

impl Worker {
    fn new(spec: PipelineSpec, spool: Spool, replayed: Vec<Spooled>) -> Self {
        let mut w = Worker {
            spec,
            buffer: Batch::default(),
            buffer_bytes: 0,
            oldest: None,
            spool,
            spool_broken: false,
            unspooled: None,
            handoffs: Vec::new(),
        };
        if !replayed.is_empty() {
            tracing::info!(action = %w.spec.label, records = replayed.len(), "delivering what the spool kept from before a restart");
            w.take_in(replayed);
        }
        w
    }

    /// Puts spooled records (an earlier run's, a stopped pipeline's or a gone host's) into
    /// the buffer. They are durable in this worker's spool already, so they hold no message.
    fn take_in(&mut self, spooled: Vec<Spooled>) {
        if spooled.is_empty() {
            return;
        }
        if self.oldest.is_none() {
            self.oldest = Some(Instant::now());
        }
        for s in spooled {
            self.buffer_bytes += s.record.payload.len();
            let origin = Arc::new(Origin {
                rule: Arc::from(s.record.rule_name.as_str()),
                topic: Arc::from(s.topic),
                payload: bytes::Bytes::from(s.payload),
                client_id: s.client_id.map(Arc::from),
                arrival_ms: s.arrival_ms,
                received: Instant::now(),
            });
            self.buffer.push(
                s.record,
                Meta {
                    key: Arc::from(s.key),
                    origin,
                    ack: AckToken::none(),
                    owned: true,
                },
            );
        }
    }

    /// Takes over what gone writers of this action left in the cluster's spool (see
    /// `spool::shared`). What waits unspooled is spooled first, so the buffer's unspooled
    /// tail stays one range.
    fn adopt_left(&mut self) {
        if let Some((from, _)) = self.unspooled.take() {
            self.spool_from(from);
        }
        match self.spool.adopt_left() {
            Ok(got) => self.take_in(got),
            Err(e) => {
                tracing::warn!(action = %self.spec.label, error = %e, cause = %e.source, "cannot look for spools that gone hosts left; trying again later");
            }
        }
    }

    /// Makes the records just added to the buffer (from `from` on) durable in the spool and
    /// lets go of their messages' acknowledgements.
    fn spool_from(&mut self, from: usize) {
        let entries = self.buffer.records[from..]
            .iter()
            .zip(&self.buffer.meta[from..])
            .map(|(record, meta)| SpoolEntry {
                record,
                key: &meta.key,
                topic: &meta.origin.topic,
                payload: &meta.origin.payload,
                client_id: meta.origin.client_id.as_deref(),
                arrival_ms: meta.origin.arrival_ms,
            });
        match self.spool.append(entries) {
            Ok(()) => {
                if self.spool_broken {
                    tracing::info!(action = %self.spec.label, "the spool works again");
                    self.spool_broken = false;
                }
                for meta in &mut self.buffer.meta[from..] {
                    meta.take_ownership();
                }
            }
            Err(e) => {
                if !self.spool_broken {
                    tracing::error!(action = %self.spec.label, error = %e, cause = %e.source, "cannot spool the buffer: its messages stay unacknowledged until delivered");
                    self.spool_broken = true;
                }
            }
        }
    }

    fn run(mut self, rx: Receiver<WorkItem>) {
        let max_age = self.spec.buffer.max_age;
        loop {
            // The next moment something is due: the buffer's age, or spooling what waits.
            let next = [
                self.oldest.map(|t| t + max_age),
                self.unspooled.map(|(_, t)| t + SPOOL_AFTER),
                self.spool.next_adoption(),
            ]
            .into_iter()
            .flatten()
            .min();
            let first = match next {
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(at) => match at.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => rx.recv_timeout(left),
                    _ => Err(RecvTimeoutError::Timeout),
                },
            };
            let closed = match first {
                Ok(item) => {
                    let mut batch = Batch::default();
                    batch.push(item.record, item.meta);
                    let mut closed = false;
                    while batch.len() < MICRO_BATCH {
                        match rx.try_recv() {
                            Ok(item) => batch.push(item.record, item.meta),
                            Err(TryRecvError::Empty) => break,
                            Err(TryRecvError::Disconnected) => {
                                closed = true;
                                break;
                            }
                        }
                    }
                    self.stages(batch);
                    closed
                }
                Err(RecvTimeoutError::Timeout) => false,
                Err(RecvTimeoutError::Disconnected) => true,
            };
            if closed {
                // Whatever is still queued was sent before the close: take it too.
                let mut rest = Batch::default();
                while let Ok(item) = rx.try_recv() {
                    rest.push(item.record, item.meta);
                }
                if !rest.is_empty() {
                    self.stages(rest);
                }
                self.flush();
                // Empty unless records are kept to try again: then they wait for the restart.
                self.spool.close();
                return;
            }
            if self
                .spool
                .next_adoption()
                .is_some_and(|at| at <= Instant::now())
            {
                self.adopt_left();
            }
            if self.due() {
                self.flush();
            } else if let Some((from, since)) = self.unspooled {
                if since.elapsed() >= SPOOL_AFTER {
                    self.unspooled = None;
                    self.spool_from(from);
                }
            }
        }
    }

    fn due(&self) -> bool {
        let b = &self.spec.buffer;
        !self.buffer.is_empty()
            && (self.buffer.len() as u64 >= b.max_records
                || self.buffer_bytes as u64 >= b.max_bytes
                || self.oldest.is_some_and(|t| t.elapsed() >= b.max_age))
    }

    /// Transformers, then filters; survivors join the buffer.
    fn stages(&mut self, mut batch: Batch) {
        for slot in self.spec.transformers.clone() {
            if batch.is_empty() {
                return;
            }
            batch = match slot.transform(&batch.records) {
                Ok(results) => self.transformed(&slot, batch, results),
                Err(e) => {
                    self.fail_batch(batch, "plugin-fault", &e.to_string());
                    return;
                }
            };
        }
        for slot in self.spec.filters.clone() {
            if batch.is_empty() {
                return;
            }
            batch = match slot.filter(&batch.records) {
                Ok(results) => self.filtered(&slot, batch, results),
                Err(e) => {
                    self.fail_batch(batch, "plugin-fault", &e.to_string());
                    return;
                }
            };
        }
        if batch.is_empty() {
            return;
        }
        if self.oldest.is_none() {
            self.oldest = Some(Instant::now());
        }
        let from = self.buffer.len();
        self.buffer_bytes += batch.bytes();
        self.buffer.records.append(&mut batch.records);
        self.buffer.meta.append(&mut batch.meta);
        // A buffer never grows past its limits by more than one micro-batch.
        if self.due() {
            self.flush();
        } else if self.unspooled.is_none() {
            // These wait for a later flush: if they wait long, they are spooled so that their
            // messages need not.
            self.unspooled = Some((from, Instant::now()));
        }
    }

    fn transformed(
        &mut self,
        slot: &PluginSlot,
        batch: Batch,
        results: Vec<TransformResult>,
    ) -> Batch {
        let mut next = Batch::default();
        let version = slot.current().version().to_owned();
        for ((record, meta), result) in batch.records.into_iter().zip(batch.meta).zip(results) {
            match result {
                TransformResult::Records(out) => {
                    for r in out {
                        next.push(r, meta.clone());
                    }
                }
                TransformResult::Failed(e) => {
                    let reason = record_error_reason(slot, &version, &e);
                    self.fail(&record, &meta, &e.code, &reason);
                }
            }
        }
        next
    }

    fn filtered(&mut self, slot: &PluginSlot, batch: Batch, results: Vec<FilterResult>) -> Batch {
        let mut next = Batch::default();
        let version = slot.current().version().to_owned();
        for ((record, meta), result) in batch.records.into_iter().zip(batch.meta).zip(results) {
            match result {
                FilterResult::Keep => next.push(record, meta),
                FilterResult::Drop => {
                    self.spec.metrics.dropped.fetch_add(1, Ordering::Relaxed);
                }
                FilterResult::Failed(e) => {
                    let reason = record_error_reason(slot, &version, &e);
                    self.fail(&record, &meta, &e.code, &reason);
                }
            }
        }
        next
    }

    fn fail_batch(&mut self, batch: Batch, code: &str, reason: &str) {
        for (record, meta) in batch.records.iter().zip(&batch.meta) {
            self.fail(record, meta, code, reason);
        }
    }

    /// Sends one record to the sink's own failure output, the rule's error action or the
    /// dead-letter store. Returns `false` for a record Weir owns (see [`Meta::owned`]) that
    /// none of them took: it must be kept and tried again. Any other record that nobody took
    /// fails its message, which is then not acknowledged.
    fn fail(
        &mut self,
        record: &weir_plugins::Record,
        meta: &Meta,
        code: &str,
        reason: &str,
    ) -> bool {
        self.spec.metrics.failed.fetch_add(1, Ordering::Relaxed);
        self.spec
            .rule_metrics
            .errors
            .fetch_add(1, Ordering::Relaxed);
        if self.spec.sink.deliver_failed(record, meta, code, reason) {
            return true;
        }
        let origin = &meta.origin;
        let resource = self.spec.sink.failed_resource(meta);
        let resource = resource.as_deref().unwrap_or(&self.spec.resource);
        let taken = if self.spec.is_error_action {
            tracing::error!(
                rule = %origin.rule, action = %self.spec.label, topic = %origin.topic, %reason,
                "error action failed"
            );
            // An acknowledged message has nobody to redeliver it: keep it as a dead letter.
            meta.owned
                && dead_letter(
                    &self.spec.dead_letters,
                    origin,
                    record.payload.clone(),
                    None,
                    self.spec.aws_action,
                    reason,
                )
        } else if meta.owned && self.spec.errors.is_some() {
            // Weir alone has this record: the error action's copy carries a share of its own
            // that answers once that copy is durable, and the spool waits for the answer.
            let (tx, settled) = std::sync::mpsc::sync_channel(1);
            let ack = AckToken::settled_by(move |ok| {
                let _ = tx.send(ok);
            });
            let sent = route_failure(
                self.spec.errors.as_ref(),
                &self.spec.dead_letters,
                origin,
                &ack,
                false,
                self.spec.aws_action,
                resource,
                reason,
            );
            if !sent {
                ack.fail();
                return false;
            }
            self.handoffs.push(Handoff {
                record: record.clone(),
                meta: meta.clone(),
                reason: reason.to_owned(),
                settled,
            });
            true
        } else {
            route_failure(
                self.spec.errors.as_ref(),
                &self.spec.dead_letters,
                origin,
                &meta.ack,
                meta.owned,
                self.spec.aws_action,
                resource,
                reason,
            )
        };
        taken || meta.fail()
    }

    /// Waits for the error action's answer on each owned record handed to it; one it failed
    /// goes to the dead-letter store, or is returned to be kept.
    fn settle_handoffs(&mut self) -> Batch {
        let mut kept = Batch::default();
        for h in std::mem::take(&mut self.handoffs) {
            // The error action answers when its copy is delivered, spooled or failed; a
            // pipeline that is gone answers `Err`.
            if h.settled.recv().unwrap_or(false) {
                continue;
            }
            let resource = self.spec.sink.failed_resource(&h.meta);
            let resource = resource.as_deref().unwrap_or(&self.spec.resource);
            let payload = h
                .meta
                .origin
                .error_payload(self.spec.aws_action, resource, &h.reason);
            if !dead_letter(
                &self.spec.dead_letters,
                &h.meta.origin,
                payload,
                None,
                self.spec.aws_action,
                &h.reason,
            ) {
                kept.push(h.record, h.meta);
            }
        }
        kept
    }

    fn flush(&mut self) {
        self.oldest = None;
        self.unspooled = None;
        self.buffer_bytes = 0;
        let batch = std::mem::take(&mut self.buffer);
        let mut kept = self.deliver(batch);
        let mut unsettled = self.settle_handoffs();
        kept.records.append(&mut unsettled.records);
        kept.meta.append(&mut unsettled.meta);
        if kept.is_empty() {
            // Everything spooled was delivered or handed on.
            if let Err(e) = self.spool.reset() {
                tracing::warn!(action = %self.spec.label, error = %e, cause = %e.source, "cannot empty the spool; its records may be delivered again after a restart");
            }
            return;
        }
        // Acknowledged records that could go nowhere: they stay (in the spool too) and are
        // tried again when the buffer is next due.
        tracing::error!(action = %self.spec.label, records = kept.len(), "delivery failed and neither the error action nor the dead-letter store took the records; keeping them to try again");
        self.oldest = Some(Instant::now());
        self.buffer_bytes = kept.bytes();
        self.buffer = kept;
    }

    /// Delivers `batch` with retries; returns the owned records that failed and that nobody
    /// took.
    fn deliver(&mut self, mut batch: Batch) -> Batch {
        let mut kept = Batch::default();
        let mut attempt = 1;
        loop {
            if batch.is_empty() {
                return kept;
            }
            let mut outcomes = self.spec.sink.deliver(&batch.records, &batch.meta);
            // A sink that answers for fewer records than it got must not make any vanish.
            outcomes.resize(
                batch.len(),
                Outcome::Retry("the destination reported no outcome".into()),
            );
            let mut retry = Batch::default();
            let mut last_reason = None;
            for ((record, meta), outcome) in batch.records.into_iter().zip(batch.meta).zip(outcomes)
            {
                match outcome {
                    Outcome::Ok => {
                        self.spec.metrics.delivered.fetch_add(1, Ordering::Relaxed);
                        self.spec
                            .metrics
                            .latency
                            .observe(meta.origin.received.elapsed());
                    }
                    Outcome::Retry(reason) if attempt < ATTEMPTS => {
                        last_reason = Some(reason);
                        retry.push(record, meta);
                    }
                    Outcome::Retry(reason) | Outcome::Fail(reason) => {
                        if !self.fail(&record, &meta, "delivery-failed", &reason) {
                            kept.push(record, meta);
                        }
                    }
                }
            }
            if retry.is_empty() {
                return kept;
            }
            self.spec
                .metrics
                .retries
                .fetch_add(retry.len() as u64, Ordering::Relaxed);
            tracing::debug!(action = %self.spec.label, records = retry.len(), attempt, reason = ?last_reason, "retrying delivery");
            std::thread::sleep(Duration::from_millis(20 * 5u64.pow(attempt - 1)));
            attempt += 1;
            batch = retry;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::metrics::Metrics;
    use weir_plugins::Record;

    /// A destination that panics: what a bug in a sink would do.
    struct PanickingSink;

    impl Sink for PanickingSink {
        fn deliver(&mut self, _records: &[Record], _meta: &[Meta]) -> Vec<Outcome> {
            panic!("a sink panicked on purpose");
        }
    }

    #[test]
    fn a_sink_that_panics_fails_its_message_and_is_reported_dead() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(Metrics::default());
        let liveness = metrics.liveness.clone();
        let pipeline = Pipeline::spawn(PipelineSpec {
            label: "test:panics".into(),
            aws_action: "KinesisAction",
            resource: "nowhere".into(),
            transformers: Vec::new(),
            filters: Vec::new(),
            // One record flushes at once, long before the spool would take it over.
            buffer: BufferConfig {
                max_records: 1,
                max_bytes: 1 << 20,
                max_age: Duration::from_secs(60),
            },
            sink: Box::new(PanickingSink),
            errors: None,
            is_error_action: false,
            dead_letters: Arc::new(DeadLetters::new(tmp.path().join("dl"), metrics.clone())),
            metrics: metrics.action("r", "0:test:panics"),
            rule_metrics: Arc::new(RuleMetrics::default()),
            spool: SpoolSpec {
                dir: tmp.path().join("spool"),
                sync: true,
                adopt: false,
                shared: None,
            },
            liveness: liveness.clone(),
        })
        .expect("spawn");
        let (settled_tx, settled) = std::sync::mpsc::channel();
        let ack = AckToken::settled_by(move |handled| {
            let _ = settled_tx.send(handled);
        });
        let origin = Arc::new(Origin {
            rule: Arc::from("r"),
            topic: Arc::from("in/x"),
            payload: bytes::Bytes::from_static(b"{}"),
            client_id: None,
            arrival_ms: 0,
            received: Instant::now(),
        });
        let item = WorkItem {
            record: origin.record(b"{}".to_vec(), "k".into()),
            meta: Meta {
                key: Arc::from("k"),
                origin,
                ack,
                owned: false,
            },
        };
        pipeline.tx.send(item).expect("send");
        let handled = settled
            .recv_timeout(Duration::from_secs(30))
            .expect("the message settles");
        assert!(!handled, "a panic acknowledged the message");
        assert!(pipeline.handle.join().is_err(), "the worker panicked");
        let dead = liveness.check().expect_err("the death is recorded");
        assert!(dead.contains("weir-action-test:panics panicked"), "{dead}");
    }
}
