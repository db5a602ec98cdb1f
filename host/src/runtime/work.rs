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
    /// This record's share of its message's acknowledgement: the message is acknowledged once
    /// every record made from it let go of its share, unless one failed it.
    pub ack: AckToken,
    /// The record is in its action's spool and gave up its share: the message was (or may
    /// have been) acknowledged, so Weir alone keeps this record now. Its failures can no longer
    /// fail the message: they go to the error action or the dead-letter store, or the record
    /// stays buffered and is tried again.
    pub owned: bool,
}

impl Meta {
    /// Hands this record to the spool: from now on it does not hold its message back.
    pub fn take_ownership(&mut self) {
        self.ack = AckToken::none();
        self.owned = true;
    }

    /// The record could not be delivered nor handed on: unless Weir owns it, its message is
    /// not acknowledged. Returns `false` when the record is owned and must be kept.
    pub fn fail(&self) -> bool {
        if self.owned {
            return false;
        }
        self.ack.fail();
        true
    }
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
