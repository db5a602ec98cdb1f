//! The values that cross the plugin boundary, as the runtime's own types.
//!
//! The WIT bindings (`bindings.rs`) stay private to this crate: the host builds and reads
//! these plain types, and the conversions below are the only code that knows the generated
//! ones. A change to `wit/plugin.wit` is then absorbed here instead of rippling through the
//! pipelines, sinks and CLI. Results coming out of a plugin are moved, not copied; a batch
//! going in is lowered from borrowed data by wasmtime either way, so the one extra copy of
//! the input (`to_wit`) is the price of the boundary (measured in `benches/plugin_call.rs`).

use crate::bindings::types as wit;

/// One message on its way through a rule action's pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// The message body: the rule's SELECT output (JSON) or what an earlier stage made.
    pub payload: Vec<u8>,
    /// Decides ordering and the destination shard.
    pub partition_key: String,
    /// The MQTT topic the original message was published on.
    pub source_topic: String,
    /// The publisher's MQTT client id (empty when unknown).
    pub client_id: String,
    /// The rule that matched the message.
    pub rule_name: String,
    /// When Weir accepted the original message, in ms since the Unix epoch.
    pub arrival_timestamp_ms: u64,
    /// Free-form string attributes stages may read, add or remove.
    pub attributes: Vec<(String, String)>,
}

/// Why a plugin could not process one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Short machine-readable code, e.g. `missing-field`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// A filter's verdict on one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterResult {
    /// Pass it on.
    Keep,
    /// Drop it; not an error.
    Drop,
    /// It could not be judged.
    Failed(RecordError),
}

/// What a transformer made of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformResult {
    /// Zero, one or many output records.
    Records(Vec<Record>),
    /// It could not be transformed.
    Failed(RecordError),
}

/// One record of an emitted batch that was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitFailure {
    /// Its position in the batch.
    pub index: u32,
    /// What went wrong.
    pub error: RecordError,
    /// Whether a later attempt may succeed.
    pub retryable: bool,
}

/// The batch as the bindings take it.
pub(crate) fn to_wit(batch: &[Record]) -> Vec<wit::Record> {
    batch
        .iter()
        .map(|r| wit::Record {
            payload: r.payload.clone(),
            partition_key: r.partition_key.clone(),
            source_topic: r.source_topic.clone(),
            client_id: r.client_id.clone(),
            rule_name: r.rule_name.clone(),
            arrival_timestamp_ms: r.arrival_timestamp_ms,
            attributes: r.attributes.clone(),
        })
        .collect()
}

impl From<wit::Record> for Record {
    fn from(r: wit::Record) -> Self {
        Record {
            payload: r.payload,
            partition_key: r.partition_key,
            source_topic: r.source_topic,
            client_id: r.client_id,
            rule_name: r.rule_name,
            arrival_timestamp_ms: r.arrival_timestamp_ms,
            attributes: r.attributes,
        }
    }
}

impl From<wit::RecordError> for RecordError {
    fn from(e: wit::RecordError) -> Self {
        RecordError {
            code: e.code,
            message: e.message,
        }
    }
}

impl From<wit::FilterResult> for FilterResult {
    fn from(r: wit::FilterResult) -> Self {
        match r {
            wit::FilterResult::Keep => FilterResult::Keep,
            wit::FilterResult::Drop => FilterResult::Drop,
            wit::FilterResult::Failed(e) => FilterResult::Failed(e.into()),
        }
    }
}

impl From<wit::TransformResult> for TransformResult {
    fn from(r: wit::TransformResult) -> Self {
        match r {
            wit::TransformResult::Records(rs) => {
                TransformResult::Records(rs.into_iter().map(Record::from).collect())
            }
            wit::TransformResult::Failed(e) => TransformResult::Failed(e.into()),
        }
    }
}

impl From<wit::EmitFailure> for EmitFailure {
    fn from(f: wit::EmitFailure) -> Self {
        EmitFailure {
            index: f.index,
            error: f.error.into(),
            retryable: f.retryable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_the_boundary_both_ways() {
        let r = Record {
            payload: b"{\"speed\":80}".to_vec(),
            partition_key: "ABC".into(),
            source_topic: "t/1".into(),
            client_id: "pi".into(),
            rule_name: "speeding".into(),
            arrival_timestamp_ms: 7,
            attributes: vec![("a".into(), "b".into())],
        };
        let back: Vec<Record> = to_wit(std::slice::from_ref(&r))
            .into_iter()
            .map(Record::from)
            .collect();
        assert_eq!(back, [r]);
    }
}
