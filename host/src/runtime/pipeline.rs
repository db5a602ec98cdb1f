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

use super::dead_letter::DeadLetters;
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

/// Hands a failed message to the rule's error action; without one, to the dead-letter store;
/// when even that cannot be written, the message is not acknowledged.
pub fn route_failure(
    errors: Option<&ErrorRoute>,
    dead_letters: &DeadLetters,
    origin: &Arc<Origin>,
    aws_action: &str,
    resource: &str,
    reason: &str,
) {
    let payload = origin.error_payload(aws_action, resource, reason);
    let Some(route) = errors else {
        match dead_letters.record(&payload, chrono::Utc::now().timestamp_millis()) {
            Ok(()) => {
                tracing::warn!(rule = %origin.rule, topic = %origin.topic, action = aws_action, %reason, dir = %dead_letters.dir().display(), "action failed and the rule has no error action: stored as a dead letter");
            }
            Err(e) => {
                tracing::error!(rule = %origin.rule, topic = %origin.topic, action = aws_action, %reason, error = %e, "action failed, the rule has no error action and the dead letter cannot be written: the message stays unacknowledged");
                origin.ack.fail();
            }
        }
        return;
    };
    let key = match render_key(route.key.as_deref(), origin) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(rule = %origin.rule, %reason, error = %e, "cannot render the error action's key; the message stays unacknowledged");
            origin.ack.fail();
            return;
        }
    };
    let item = WorkItem {
        record: origin.record(payload, key.to_string()),
        meta: Meta {
            key,
            origin: origin.clone(),
        },
    };
    if route.tx.send(item).is_err() {
        tracing::error!(rule = %origin.rule, %reason, "error action is gone; the message stays unacknowledged");
        origin.ack.fail();
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
}

/// A running pipeline: its input and its thread.
pub struct Pipeline {
    /// Its input; dropping every clone ends the worker after it drained and flushed.
    pub tx: SyncSender<WorkItem>,
    /// The worker.
    pub handle: JoinHandle<()>,
}

impl Pipeline {
    /// Starts the worker thread.
    pub fn spawn(spec: PipelineSpec) -> std::io::Result<Pipeline> {
        let capacity = usize::try_from(spec.buffer.max_records)
            .unwrap_or(usize::MAX)
            .saturating_mul(2)
            .clamp(1024, 16_384);
        let (tx, rx) = sync_channel(capacity);
        let name = format!("weir-action-{}", spec.label);
        let handle = std::thread::Builder::new()
            .name(name.chars().take(60).collect())
            .spawn(move || Worker::new(spec).run(rx))?;
        Ok(Pipeline { tx, handle })
    }
}

struct Worker {
    spec: PipelineSpec,
    buffer: Batch,
    buffer_bytes: usize,
    oldest: Option<Instant>,
}

impl Worker {
    fn new(spec: PipelineSpec) -> Self {
        Worker {
            spec,
            buffer: Batch::default(),
            buffer_bytes: 0,
            oldest: None,
        }
    }

    fn run(mut self, rx: Receiver<WorkItem>) {
        let max_age = self.spec.buffer.max_age;
        loop {
            let first = match self.oldest {
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(t) => match max_age.checked_sub(t.elapsed()) {
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
                return;
            }
            if self.due() {
                self.flush();
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
        self.buffer_bytes += batch.bytes();
        self.buffer.records.append(&mut batch.records);
        self.buffer.meta.append(&mut batch.meta);
        // A buffer never grows past its limits by more than one micro-batch.
        if self.due() {
            self.flush();
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

    /// Sends one record to the sink's own failure output or the rule's error action.
    fn fail(&mut self, record: &weir_plugins::Record, meta: &Meta, code: &str, reason: &str) {
        self.spec.metrics.failed.fetch_add(1, Ordering::Relaxed);
        self.spec
            .rule_metrics
            .errors
            .fetch_add(1, Ordering::Relaxed);
        if self.spec.sink.deliver_failed(record, meta, code, reason) {
            return;
        }
        let origin = &meta.origin;
        if self.spec.is_error_action {
            // The error action itself failed: the message must not be acknowledged.
            tracing::error!(
                rule = %origin.rule, action = %self.spec.label, topic = %origin.topic, %reason,
                "error action failed; the message stays unacknowledged"
            );
            origin.ack.fail();
            return;
        }
        route_failure(
            self.spec.errors.as_ref(),
            &self.spec.dead_letters,
            origin,
            self.spec.aws_action,
            &self.spec.resource,
            reason,
        );
    }

    fn flush(&mut self) {
        self.oldest = None;
        self.buffer_bytes = 0;
        let mut batch = std::mem::take(&mut self.buffer);
        let mut attempt = 1;
        loop {
            if batch.is_empty() {
                return;
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
                        self.fail(&record, &meta, "delivery-failed", &reason);
                    }
                }
            }
            if retry.is_empty() {
                return;
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
