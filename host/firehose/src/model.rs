//! A delivery stream as Weir keeps it: what CreateDeliveryStream and UpdateDestination set,
//! persisted in the catalog. No wire format here; the API maps its shapes onto these.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::destination::upgrade_legacy_spec;
pub use crate::destination::{DeliveryDestination, S3Destination};

// Limits, names, buffering bounds and compression names are Firehose's rules, shared with the
// config and the API: defined once in `weir-firehose-model`.
pub use weir_firehose_model::{
    bucket_of, check_delivery_stream_name as check_name, check_tags, Buffering, Compression,
    DESTINATION_ID, MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES, MAX_TAGS,
};

/// `DeliveryStreamType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceKind {
    DirectPut,
    KinesisStreamAsSource,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::DirectPut => "DirectPut",
            SourceKind::KinesisStreamAsSource => "KinesisStreamAsSource",
        }
    }
}

/// `DeliveryStreamEncryptionConfiguration.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EncryptionStatus {
    Enabled,
    Enabling,
    Disabled,
    Disabling,
}

impl EncryptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EncryptionStatus::Enabled => "ENABLED",
            EncryptionStatus::Enabling => "ENABLING",
            EncryptionStatus::Disabled => "DISABLED",
            EncryptionStatus::Disabling => "DISABLING",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    /// The settled state; ENABLING/DISABLING are shown while a transition runs.
    pub enabled: bool,
    pub key_type: Option<String>,
    pub key_arn: Option<String>,
}

/// `DeliveryStreamStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStreamStatus {
    Creating,
    Active,
    Deleting,
}

impl DeliveryStreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStreamStatus::Creating => "CREATING",
            DeliveryStreamStatus::Active => "ACTIVE",
            DeliveryStreamStatus::Deleting => "DELETING",
        }
    }
}

/// What the catalog keeps per delivery stream. Read through `upgrade_legacy_spec`, so a
/// catalog written before [`DeliveryDestination`] existed still opens (the derived serde code
/// is `DeliveryStreamSpec::serialize` / `deserialize`, wrapped below).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct DeliveryStreamSpec {
    pub name: String,
    /// Names the buffer stream and the checkpoint; a re-created name gets a new one.
    pub uid: String,
    pub source: SourceKind,
    /// For `KinesisStreamAsSource`: the Weir stream read.
    #[serde(default)]
    pub kinesis_stream_arn: Option<String>,
    /// Where records go: one variant per destination (`destination/`).
    pub destination: DeliveryDestination,
    /// `VersionId`: 1 at creation, +1 per UpdateDestination; part of every object's name.
    pub version: u32,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub tags: BTreeMap<String, String>,
    pub encryption: Encryption,
    /// `ProcessingConfiguration` with a Lambda processor: records pass through this function.
    #[serde(default)]
    pub processing: Option<Processing>,
    /// `DynamicPartitioningConfiguration` with its `MetadataExtraction` keys.
    #[serde(default)]
    pub partitioning: Option<Partitioning>,
    /// `DataFormatConversionConfiguration`: JSON to Parquet.
    #[serde(default)]
    pub conversion: Option<Conversion>,
}

impl Serialize for DeliveryStreamSpec {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        DeliveryStreamSpec::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for DeliveryStreamSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let mut v = serde_json::Value::deserialize(d)?;
        upgrade_legacy_spec(&mut v);
        DeliveryStreamSpec::deserialize(v).map_err(serde::de::Error::custom)
    }
}

impl DeliveryStreamSpec {
    /// The buffering hints that decide when a delivery is due (the destination's).
    pub fn buffering(&self) -> Buffering {
        self.destination.buffering()
    }
}

/// A Lambda processor, run as the transformer plugin its ARN names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processing {
    pub lambda_arn: String,
    /// `NumberOfRetries` (0..=300, default 3) of a failed invocation.
    pub retries: u32,
}

/// Partition keys computed per record, used as `!{partitionKeyFromQuery:NAME}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partitioning {
    /// `MetadataExtractionQuery` as given (IoT SQL, or jq's `{name: .path}` form).
    pub query: String,
    /// The key names and IoT SQL expressions the query defines, in order.
    pub keys: Vec<(String, String)>,
    /// `RetryOptions.DurationInSeconds` (kept for DescribeDeliveryStream).
    pub retry_s: u32,
}

/// `DataFormatConversionConfiguration`: the schema names a table declared in Weir's config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversion {
    pub database: String,
    pub table: String,
    pub region: Option<String>,
    pub role_arn: String,
    /// `ParquetSerDe.Compression`: UNCOMPRESSED, SNAPPY (default) or GZIP.
    pub compression: String,
}
