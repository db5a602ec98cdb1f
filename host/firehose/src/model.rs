//! A delivery stream as Weir keeps it: what CreateDeliveryStream and UpdateDestination set,
//! persisted in the catalog. No wire format here; the API maps its shapes onto these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{FirehoseError, Result};
use crate::prefix::Prefixes;

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

/// An S3 destination (`ExtendedS3DestinationConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Destination {
    pub role_arn: String,
    pub bucket_arn: String,
    pub prefix: Option<String>,
    pub error_output_prefix: Option<String>,
    pub buffering: Buffering,
    pub compression: Compression,
    /// `FileExtension`: replaces the extension data objects get from their compression or
    /// conversion (`.gz`, `.parquet`), as on AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_extension: Option<String>,
}

impl S3Destination {
    /// The bucket named by `arn:aws:s3:::BUCKET`, checked against S3's naming rules.
    pub fn bucket(&self) -> Result<&str> {
        Ok(bucket_of(&self.bucket_arn)?)
    }

    /// The prefixes after Firehose's rules; also the check that they are valid together.
    pub fn prefixes(&self) -> Result<Prefixes> {
        Prefixes::new(self.prefix.as_deref(), self.error_output_prefix.as_deref())
            .map_err(|e| FirehoseError::InvalidArgument(e.to_string()))
    }

    /// Everything CreateDeliveryStream and UpdateDestination must refuse.
    pub fn validate(&self) -> Result<()> {
        self.bucket()?;
        self.prefixes()?;
        if self.role_arn.is_empty() {
            return Err(FirehoseError::Validation(
                "1 validation error detected: Value at 'roleARN' failed to satisfy constraint: Member must not be null".into(),
            ));
        }
        if let Some(ext) = &self.file_extension {
            if !weir_firehose_model::file_extension_ok(ext) {
                return Err(FirehoseError::Validation(format!(
                    "1 validation error detected: Value '{ext}' at 'fileExtension' failed to satisfy constraint: Member must satisfy regular expression pattern: {}",
                    weir_firehose_model::FILE_EXTENSION_PATTERN
                )));
            }
        }
        Ok(())
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

/// What the catalog keeps per delivery stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryStreamSpec {
    pub name: String,
    /// Names the buffer stream and the checkpoint; a re-created name gets a new one.
    pub uid: String,
    pub source: SourceKind,
    /// For `KinesisStreamAsSource`: the Weir stream read.
    #[serde(default)]
    pub kinesis_stream_arn: Option<String>,
    pub destination: S3Destination,
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
    /// `HttpEndpointDestinationConfiguration`: records go to this endpoint, and `destination`
    /// is its S3 backup.
    #[serde(default)]
    pub http: Option<HttpDestination>,
}

impl DeliveryStreamSpec {
    /// The buffering hints that decide when a delivery is due: the HTTP endpoint's when the
    /// stream has one, else the S3 destination's.
    pub fn buffering(&self) -> Buffering {
        match &self.http {
            Some(h) => h.buffering,
            None => self.destination.buffering,
        }
    }
}

/// An HTTP endpoint destination; the spec's S3 destination is its backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpDestination {
    pub url: String,
    pub name: Option<String>,
    pub access_key: Option<String>,
    /// `RequestConfiguration.ContentEncoding` GZIP.
    pub gzip: bool,
    pub common_attributes: BTreeMap<String, String>,
    /// `RetryOptions.DurationInSeconds` (0..=7200, default 300).
    pub retry_s: u32,
    /// The endpoint's own `BufferingHints` (1..=64 MiB, 0..=900 s; default 5 MiB, 60 s).
    pub buffering: Buffering,
    /// `S3BackupMode` AllData (else FailedDataOnly).
    pub backup_all: bool,
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
