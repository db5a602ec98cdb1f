//! What flows from the dispatcher through an action's pipeline: records with the message they
//! came from.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::ack::AckToken;
use weir_plugins::Record;
use weir_rules::{ActionFailure, ErrorActionPayload};

/// The inbound message a record came from, as one rule saw it. Shared by every record made from
/// it (transformers may split one record into many), and by its error action.
#[derive(Debug)]
pub struct Origin {
    /// The rule that fired.
    pub rule: Arc<str>,
    /// The MQTT topic.
    pub topic: Arc<str>,
    /// The original payload, for the error action's `base64OriginalPayload`.
    pub payload: Bytes,
    /// The publisher's client id, when the broker tells.
    pub client_id: Option<Arc<str>>,
    /// When Weir took the message in, milliseconds since the Unix epoch.
    pub arrival_ms: i64,
    /// The same moment on the monotonic clock, for latency.
    pub received: Instant,
    /// Settles the message once every record made from it is done.
    pub ack: AckToken,
}

impl Origin {
    /// The error action's payload for a failure of `action` on `resource`.
    pub fn error_payload(&self, action: &str, resource: &str, reason: &str) -> Vec<u8> {
        let p = ErrorActionPayload {
            rule_name: &self.rule,
            topic: &self.topic,
            trace_id: None,
            client_id: self.client_id.as_deref(),
            original_payload: &self.payload,
            failures: vec![ActionFailure {
                failed_action: action.to_owned(),
                failed_resource: resource.to_owned(),
                error_message: reason.to_owned(),
            }],
        };
        p.to_json().to_string().into_bytes()
    }

    /// A fresh plugin record carrying this message's metadata.
    pub fn record(&self, payload: Vec<u8>, partition_key: String) -> Record {
        Record {
            payload,
            partition_key,
            source_topic: self.topic.to_string(),
            client_id: self.client_id.as_deref().unwrap_or_default().to_owned(),
            rule_name: self.rule.to_string(),
            arrival_timestamp_ms: u64::try_from(self.arrival_ms).unwrap_or(0),
            attributes: Vec::new(),
        }
    }
}

/// Per-record bookkeeping next to the plugin-visible [`Record`].
#[derive(Debug, Clone)]
pub struct Meta {
    /// The action's rendered destination key: a table row key or a republish topic (a
    /// kinesis action uses the record's own partition key, which transformers may change).
    pub key: Arc<str>,
    /// Where it came from.
    pub origin: Arc<Origin>,
}

/// One record on its way through a pipeline.
#[derive(Debug)]
pub struct WorkItem {
    /// What plugins see.
    pub record: Record,
    /// What the host keeps.
    pub meta: Meta,
}

/// Records and their bookkeeping in two parallel vectors, so plugin calls take a plain slice.
#[derive(Debug, Default)]
pub struct Batch {
    /// What plugins see.
    pub records: Vec<Record>,
    /// Same length and order as `records`.
    pub meta: Vec<Meta>,
}

impl Batch {
    /// Records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Appends one record.
    pub fn push(&mut self, record: Record, meta: Meta) {
        self.records.push(record);
        self.meta.push(meta);
    }

    /// Payload bytes held.
    pub fn bytes(&self) -> usize {
        self.records.iter().map(|r| r.payload.len()).sum()
    }
}
