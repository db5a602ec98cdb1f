//! The engine's values: stream and shard descriptions, put and read results, positions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::HashRange;

/// AWS stream states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    Creating,
    Deleting,
    Active,
    Updating,
}

impl StreamStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Deleting => "DELETING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
        }
    }
}

/// Persisted description of one shard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShardMeta {
    pub index: u64,
    pub range: HashRange,
    pub parent: Option<u64>,
    pub adjacent_parent: Option<u64>,
    /// Counter of the first record the shard can hold.
    pub start_counter: u64,
    /// Set when the shard is closed: the last counter it holds.
    pub end_counter: Option<u64>,
    /// When the shard was created and closed (for ListShards' timestamp filters).
    #[serde(default)]
    pub created_ms: i64,
    #[serde(default)]
    pub closed_ms: Option<i64>,
}

/// Persisted description of one stream. Compared when another host's catalog is
/// reconciled (`Streams::refresh`): an unchanged stream is left alone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StreamMeta {
    pub name: String,
    pub uid: u64,
    pub created_ms: i64,
    pub retention_hours: u32,
    pub on_demand: bool,
    pub shards: Vec<ShardMeta>,
    pub next_shard_index: u64,
    pub tags: BTreeMap<String, String>,
    /// Times of recent UpdateShardCount calls (AWS caps them per 24 h).
    pub scaling_ops_ms: Vec<i64>,
    /// The stream's settings beyond shards and retention (encryption, metrics, limits,
    /// policy, consumers). Absent in catalogs written before they existed.
    #[serde(default)]
    pub settings: StreamSettings,
}

/// Settings a stream keeps for its clients. Weir stores and reports them as AWS does; it
/// does not encrypt (the data sits on the host's own disk) or bill.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StreamSettings {
    /// The KMS key id of StartStreamEncryption; `None` means EncryptionType NONE.
    #[serde(default)]
    pub encryption_key: Option<String>,
    /// Enabled shard-level metrics (EnableEnhancedMonitoring), expanded from `ALL`.
    #[serde(default)]
    pub shard_level_metrics: Vec<String>,
    /// Largest record, in KiB (CreateStream / UpdateMaxRecordSize); `None`: the host default.
    #[serde(default)]
    pub max_record_kib: Option<u32>,
    /// UpdateStreamWarmThroughput's target.
    #[serde(default)]
    pub warm_throughput_mibps: Option<u32>,
    /// UpdateStreamRecordDistributionStrategy's choice.
    #[serde(default)]
    pub record_distribution: Option<String>,
    /// The resource policy document (PutResourcePolicy), as given.
    #[serde(default)]
    pub policy: Option<String>,
    /// Registered enhanced fan-out consumers.
    #[serde(default)]
    pub consumers: Vec<ConsumerMeta>,
}

/// One registered enhanced fan-out consumer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConsumerMeta {
    pub name: String,
    pub created_ms: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The consumer's own resource policy (PutResourcePolicy on its ARN).
    #[serde(default)]
    pub policy: Option<String>,
}

/// A consumer as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerInfo {
    pub name: String,
    pub arn: String,
    pub status: StreamStatus,
    pub created_ms: i64,
    pub stream_arn: String,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Catalog {
    pub(crate) version: u32,
    pub(crate) streams: Vec<StreamMeta>,
}

/// A shard as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub shard_id: String,
    pub parent_shard_id: Option<String>,
    pub adjacent_parent_shard_id: Option<String>,
    pub hash_range: HashRange,
    pub starting_sequence_number: String,
    pub ending_sequence_number: Option<String>,
}

/// Which shards ListShards answers: AWS's `ShardFilter` types, by time. (`AFTER_SHARD_ID`
/// is paging, the API's concern: it lists [`ShardFilter::FromTrimHorizon`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardFilter {
    /// Every shard within the retention period (trim to tip): the default.
    FromTrimHorizon,
    /// The shards that were open at the trim horizon: the oldest retained shard of each
    /// hash range, where a reader starting at TRIM_HORIZON begins.
    AtTrimHorizon,
    /// The open shards.
    AtLatest,
    /// The shards open at this time (epoch ms), or the oldest retained ones of a hash range
    /// that nothing retained covered then.
    AtTimestamp(i64),
    /// The open shards and those closed at or after this time, which is moved up to the
    /// trim horizon if older.
    FromTimestamp(i64),
}

/// A stream as clients see it.
#[derive(Debug, Clone)]
pub struct StreamInfo {
    pub name: String,
    pub arn: String,
    pub status: StreamStatus,
    pub on_demand: bool,
    pub retention_hours: u32,
    pub created_ms: i64,
    pub shards: Vec<ShardInfo>,
    pub open_shard_count: usize,
    pub consumer_count: usize,
    pub settings: StreamSettings,
}

/// One record to put.
#[derive(Debug, Clone)]
pub struct PutEntry {
    pub partition_key: String,
    pub explicit_hash_key: Option<u128>,
    pub data: Vec<u8>,
}

/// Per-record result of a put (PutRecords reports these individually).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Ok {
        shard_id: String,
        sequence_number: String,
    },
    /// `ProvisionedThroughputExceededException` (only with emulated limits).
    Throttled { message: String },
    /// `InternalFailure`: the shard's storage failed.
    Failed { message: String },
}

/// Where a reader starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPosition {
    TrimHorizon,
    Latest,
    AtSequence(String),
    AfterSequence(String),
    AtTimestamp(i64),
}

/// A record as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOut {
    pub sequence_number: String,
    pub arrival_ms: i64,
    pub partition_key: String,
    pub data: Vec<u8>,
}

impl RecordOut {
    /// A stored record as readers get it: its counter becomes the shard's sequence number.
    pub(crate) fn from_stored(r: crate::log::StoredRecord, shard_index: u64) -> Self {
        RecordOut {
            sequence_number: crate::seqno::SeqNo::new(r.counter, shard_index).encode(),
            arrival_ms: r.arrival_ms,
            partition_key: r.partition_key,
            data: r.data,
        }
    }
}

/// A child of a closed shard, returned at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildShard {
    pub shard_id: String,
    pub parent_shards: Vec<String>,
    pub hash_range: HashRange,
}

/// The answer to GetRecords.
#[derive(Debug, Clone)]
pub struct GetRecordsOut {
    pub records: Vec<RecordOut>,
    /// `None` once a closed shard has been read to its end.
    pub next_iterator: Option<String>,
    pub millis_behind_latest: i64,
    /// Present at the end of a closed shard.
    pub child_shards: Option<Vec<ChildShard>>,
    /// The stream has StartStreamEncryption on (records then say `EncryptionType: KMS`).
    pub encrypted: bool,
}

/// Summary for ListStreams.
#[derive(Debug, Clone)]
pub struct StreamSummary {
    pub name: String,
    pub arn: String,
    pub status: StreamStatus,
    pub on_demand: bool,
    pub created_ms: i64,
}

/// What one read of a shard found.
pub(crate) struct ShardRead {
    pub(crate) records: Vec<crate::log::StoredRecord>,
    /// Counter to continue from.
    pub(crate) next: u64,
    /// Set when a closed shard was read to its end.
    pub(crate) children: Option<Vec<ChildShard>>,
    pub(crate) behind: i64,
}

/// `shardId-%012d`.
pub fn shard_id(index: u64) -> String {
    format!("shardId-{index:012}")
}

/// Parses a shard id (`shardId-000000000001`; AWS also resolves the bare number).
pub fn parse_shard_id(s: &str) -> Option<u64> {
    let digits = s.strip_prefix("shardId-").unwrap_or(s);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(crate) use weir_support::now_ms;
