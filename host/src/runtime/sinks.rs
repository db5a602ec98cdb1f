//! The destinations at the end of a pipeline: one [`Sink`] per action kind.
//!
//! A sink receives a flushed buffer and reports one [`Outcome`] per record, in order. Only
//! `Ok` records count as delivered (and durable: each sink syncs what it wrote before it
//! returns); `Retry` records are offered again, `Fail` ones go straight to the error route.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use weir_firehose::{FirehoseError, ImplicitStream, ProcessingFailure, RecordPutOutcome};
use weir_plugins::{OutboxRequest, PluginSlot, Record};
use weir_support::error_chain;
use weir_table::KvTable;

use super::ingress::PublishError;
pub use super::kinesis_local::KinesisLocal;
use super::kinesis_put::put_records;
use super::metrics::{Metrics, ShardMetrics};
use super::resources::{ResourceError, Resources};
use super::work::Meta;

/// What became of one record at a destination (crate-private: weir-plugins' public `Outcome`
/// is what a plugin did with a record in the test harness).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Delivered and durable.
    Ok,
    /// Not delivered; worth another attempt (storage hiccup, throttling, emitter said so).
    Retry(String),
    /// Not delivered, and retrying would not help (too large, bad key).
    Fail(String),
}

/// Why a destination could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A remote service's client could not be set up (endpoint or credentials); `service`
    /// is the action kind (`kinesis`, `sqs`, `sns`, `dynamodb`).
    #[error("remote {service} endpoint {endpoint:?}")]
    Remote {
        service: &'static str,
        endpoint: String,
        #[source]
        source: Box<weir_aws_client::AwsError>,
    },
    /// A `firehose` action where no Firehose service runs.
    #[error("firehose {stream:?}: no Firehose service runs in this process")]
    NoFirehose { stream: String },
    /// The action's implicit delivery stream could not be set up (folder, prefixes,
    /// buffering, its catalog).
    #[error("firehose {stream:?}")]
    Firehose {
        stream: String,
        #[source]
        source: Box<FirehoseError>,
    },
    /// A shared resource (the durable table) could not be opened.
    #[error(transparent)]
    Resource(#[from] ResourceError),
}

/// Why an emitter's outbox request could not be performed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Resource(#[from] ResourceError),
    /// The put into a local stream was refused or failed; the reason is the stream's answer.
    #[error("put into stream {stream:?}: {reason}")]
    Put { stream: String, reason: String },
}

/// A destination.
pub trait Sink: Send {
    /// Delivers `records` (with their bookkeeping, same order); one outcome per record.
    fn deliver(&mut self, records: &[Record], meta: &[Meta]) -> Vec<Outcome>;

    /// Takes a record that failed in a pipeline stage, if this destination has its own place
    /// for failures (Firehose's error output). `false` sends it to the rule's error action.
    fn deliver_failed(
        &mut self,
        _record: &Record,
        _meta: &Meta,
        _code: &str,
        _reason: &str,
    ) -> bool {
        false
    }

    /// The error payload's `failedResource` for a record of this sink, when it is not the
    /// action's configured resource: the rendered queue URL, topic ARN, table, bucket, URL or
    /// function of that record's message (AWS names the resource the failed call used).
    fn failed_resource(&self, _meta: &Meta) -> Option<String> {
        None
    }
}

/// Same outcome for every record.
fn all(n: usize, o: Outcome) -> Vec<Outcome> {
    vec![o; n]
}

/// Keeps a handle on each shard's counters so the hot path does not take the metrics lock.
pub(super) struct ShardCounters {
    metrics: Arc<Metrics>,
    stream: String,
    cache: HashMap<String, Arc<ShardMetrics>>,
}

impl ShardCounters {
    pub(super) fn new(metrics: Arc<Metrics>, stream: &str) -> Self {
        ShardCounters {
            metrics,
            stream: stream.to_owned(),
            cache: HashMap::new(),
        }
    }

    pub(super) fn count(&mut self, shard: &str, bytes: usize) {
        let m = match self.cache.get(shard) {
            Some(m) => m,
            None => {
                let m = self.metrics.shard(&self.stream, shard);
                self.cache.entry(shard.to_owned()).or_insert(m)
            }
        };
        m.records.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        m.bytes
            .fetch_add(bytes as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `kinesis` into a remote Kinesis-compatible endpoint (AWS, or another Weir), signed with
/// the credentials of the environment.
pub struct KinesisRemote {
    client: weir_aws_client::KinesisClient,
    stream: String,
}

impl KinesisRemote {
    /// A sink into `stream` at `endpoint`.
    pub fn new(endpoint: &str, stream: &str) -> Result<Self, SinkError> {
        Ok(KinesisRemote {
            client: weir_aws_client::KinesisClient::from_env(endpoint).map_err(|source| {
                SinkError::Remote {
                    service: "kinesis",
                    endpoint: endpoint.to_owned(),
                    source: Box::new(source),
                }
            })?,
            stream: stream.to_owned(),
        })
    }
}

impl Sink for KinesisRemote {
    fn deliver(&mut self, records: &[Record], _meta: &[Meta]) -> Vec<Outcome> {
        put_records(&mut self.client, &self.stream, records, &mut |_, _| {})
    }
}

/// `firehose` with `delivery_stream`: records go into that delivery stream of the Firehose
/// service, the same buffer `PutRecordBatch` fills; they count as delivered once it has
/// them synced. Batches are cut to Firehose's PutRecordBatch limits.
pub struct DeliveryStream {
    firehose: weir_firehose::Firehose,
    name: String,
}

impl DeliveryStream {
    pub fn new(firehose: weir_firehose::Firehose, name: &str) -> Self {
        DeliveryStream {
            firehose,
            name: name.to_owned(),
        }
    }
}

impl Sink for DeliveryStream {
    fn deliver(&mut self, records: &[Record], _meta: &[Meta]) -> Vec<Outcome> {
        let (firehose, name) = (&self.firehose, &self.name);
        put_in_batches(records, None, name, |datas| {
            firehose.put(name, datas).map(|(outcomes, _)| outcomes)
        })
    }
}

/// Puts `records` (each followed by `delimiter`, when there is one) in calls cut to
/// PutRecordBatch's limits, 500 records and 4 MiB; one outcome per record. A record over
/// Firehose's 1,000 KiB (before the delimiter) fails on its own; a refused record is retried,
/// a call refused for good (an invalid argument) fails its records.
fn put_in_batches(
    records: &[Record],
    delimiter: Option<u8>,
    name: &str,
    mut put: impl FnMut(&[Vec<u8>]) -> Result<Vec<RecordPutOutcome>, FirehoseError>,
) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(records.len());
    let mut start = 0;
    while start < records.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < records.len()
            && end - start < weir_firehose::MAX_BATCH_RECORDS
            && (end == start
                || bytes + records[end].payload.len() <= weir_firehose::MAX_BATCH_BYTES)
        {
            bytes += records[end].payload.len();
            end += 1;
        }
        let chunk = &records[start..end];
        let mut datas = Vec::with_capacity(chunk.len());
        let mut too_big = vec![false; chunk.len()];
        for (i, r) in chunk.iter().enumerate() {
            too_big[i] = r.payload.len() > weir_firehose::MAX_RECORD_BYTES;
            if !too_big[i] {
                let mut data = Vec::with_capacity(r.payload.len() + 1);
                data.extend_from_slice(&r.payload);
                data.extend(delimiter);
                datas.push(data);
            }
        }
        match put(&datas) {
            Ok(outcomes) => {
                let mut it = outcomes.into_iter();
                for big in too_big {
                    out.push(if big {
                        Outcome::Fail(format!(
                            "record is over Firehose's {} KiB limit",
                            weir_firehose::MAX_RECORD_BYTES / 1024
                        ))
                    } else {
                        match it.next() {
                            Some(RecordPutOutcome::Ok { .. }) => Outcome::Ok,
                            Some(RecordPutOutcome::Failed { message }) => Outcome::Retry(message),
                            None => Outcome::Retry("no outcome for the record".into()),
                        }
                    });
                }
            }
            Err(e) => {
                let reason = format!("delivery stream {name}: {e}");
                let permanent = matches!(e, FirehoseError::InvalidArgument(_));
                out.extend(chunk.iter().map(|_| {
                    if permanent {
                        Outcome::Fail(reason.clone())
                    } else {
                        Outcome::Retry(reason.clone())
                    }
                }));
            }
        }
        start = end;
    }
    out
}

/// `firehose` without `delivery_stream`: the action's implicit delivery stream of the
/// Firehose service, which writes the objects under its `root`. Records go into that
/// stream's buffer one JSON document per line (each followed by `\n`, so archives read line
/// by line) and count as delivered once the buffer has them synced, as PutRecordBatch's do.
pub struct FolderStream {
    stream: ImplicitStream,
    name: String,
}

impl FolderStream {
    pub fn new(stream: ImplicitStream, name: &str) -> Self {
        FolderStream {
            stream,
            name: name.to_owned(),
        }
    }
}

impl Sink for FolderStream {
    fn deliver(&mut self, records: &[Record], _meta: &[Meta]) -> Vec<Outcome> {
        let stream = &self.stream;
        put_in_batches(records, Some(b'\n'), &self.name, |datas| stream.put(datas))
    }

    /// A plugin stage's failure is Firehose's `processing-failed` error line, stored at once.
    fn deliver_failed(&mut self, record: &Record, meta: &Meta, code: &str, reason: &str) -> bool {
        let failed = ProcessingFailure {
            data: &record.payload,
            arrival_ms: meta.origin.arrival_ms,
            attempts: 1,
            code,
            message: reason,
        };
        match self.stream.put_failed(&failed) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(stream = %self.name, error = %error_chain(&e), "cannot store a failed record in the error output");
                false
            }
        }
    }
}

/// `table`: one row per record, keyed by the rendered key, synced per batch.
pub struct TableSink {
    table: Arc<Mutex<KvTable>>,
}

impl TableSink {
    /// A sink into the durable table `name`.
    pub fn new(res: &Resources, name: &str) -> Result<Self, SinkError> {
        Ok(TableSink {
            table: res.kv_table(name)?,
        })
    }
}

impl Sink for TableSink {
    fn deliver(&mut self, records: &[Record], meta: &[Meta]) -> Vec<Outcome> {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<Outcome> = records
            .iter()
            .zip(meta)
            .map(|(r, m)| match t.put(&m.key, &r.payload) {
                Ok(()) => Outcome::Ok,
                Err(e) => Outcome::Retry(error_chain(&e)),
            })
            .collect();
        if let Err(e) = t.sync() {
            let msg = error_chain(&e);
            for o in &mut out {
                *o = Outcome::Retry(msg.clone());
            }
        }
        out
    }
}

/// `republish`: back to MQTT on the rendered topic.
pub struct Republish {
    resources: Arc<Resources>,
    qos: u8,
}

impl Republish {
    /// A sink publishing with `qos`.
    pub fn new(resources: Arc<Resources>, qos: u8) -> Self {
        Republish { resources, qos }
    }
}

impl Sink for Republish {
    fn deliver(&mut self, records: &[Record], meta: &[Meta]) -> Vec<Outcome> {
        records
            .iter()
            .zip(meta)
            .map(|(r, m)| {
                match self.resources.publisher.publish(
                    &m.key,
                    bytes::Bytes::copy_from_slice(&r.payload),
                    self.qos,
                ) {
                    Ok(()) => Outcome::Ok,
                    Err(e) => Outcome::Retry(error_chain(&e)),
                }
            })
            .collect()
    }
}

/// `plugin`: an emitter plugin (the seed's Lambda), whose outbox requests the host performs.
pub struct EmitterSink {
    slot: Arc<PluginSlot>,
    resources: Arc<Resources>,
}

impl EmitterSink {
    /// A sink calling `slot`.
    pub fn new(slot: Arc<PluginSlot>, resources: Arc<Resources>) -> Self {
        EmitterSink { slot, resources }
    }

    fn perform(&self, req: &OutboxRequest) -> Result<(), OutboxError> {
        let res = &self.resources;
        match req {
            OutboxRequest::Publish {
                topic,
                payload,
                qos,
            } => Ok(res
                .publisher
                .publish(topic, bytes::Bytes::copy_from_slice(payload), *qos)?),
            OutboxRequest::PutRecord {
                stream,
                partition_key,
                data,
            } => {
                let rec = Record {
                    payload: data.clone(),
                    partition_key: partition_key.clone(),
                    source_topic: String::new(),
                    client_id: String::new(),
                    rule_name: String::new(),
                    arrival_timestamp_ms: 0,
                    attributes: Vec::new(),
                };
                let metrics = res.metrics.clone();
                match put_records(&mut &res.streams, stream, &[rec], &mut |shard, bytes| {
                    let m = metrics.shard(stream, shard);
                    m.records.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    m.bytes
                        .fetch_add(bytes as u64, std::sync::atomic::Ordering::Relaxed);
                })
                .pop()
                {
                    Some(Outcome::Ok) => Ok(()),
                    Some(Outcome::Retry(reason) | Outcome::Fail(reason)) => Err(OutboxError::Put {
                        stream: stream.clone(),
                        reason,
                    }),
                    None => Err(OutboxError::Put {
                        stream: stream.clone(),
                        reason: "no outcome".into(),
                    }),
                }
            }
            OutboxRequest::Notify {
                channel,
                target,
                message,
            } => Ok(res.notifiers.notify(channel, target, message)?),
        }
    }
}

impl Sink for EmitterSink {
    fn deliver(&mut self, records: &[Record], _meta: &[Meta]) -> Vec<Outcome> {
        let outcome = match self.slot.emit(records) {
            Ok(o) => o,
            // A fault fails the whole batch; the pool replaces the instance, so retrying can
            // succeed for a plugin that failed on a transient condition.
            Err(e) => return all(records.len(), Outcome::Retry(e.to_string())),
        };
        let version = self.slot.current().version().to_owned();
        let mut out = all(records.len(), Outcome::Ok);
        for f in &outcome.failures {
            if let Some(o) = usize::try_from(f.index).ok().and_then(|i| out.get_mut(i)) {
                let msg = super::pipeline::record_error_reason(&self.slot, &version, &f.error);
                *o = if f.retryable {
                    Outcome::Retry(msg)
                } else {
                    Outcome::Fail(msg)
                };
            }
        }
        // Side effects the plugin asked for; a failure here cannot be retried without
        // repeating the others, so the records go to the error action with the reason.
        let errors: Vec<String> = outcome
            .outbox
            .iter()
            .filter_map(|req| self.perform(req).err())
            .map(|e| error_chain(&e))
            .collect();
        if !errors.is_empty() {
            let msg = format!(
                "outbox of plugin {}: {}",
                self.slot.name(),
                errors.join("; ")
            );
            for o in &mut out {
                if *o == Outcome::Ok {
                    *o = Outcome::Fail(msg.clone());
                }
            }
        }
        out
    }
}
