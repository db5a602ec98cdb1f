//! A delivery stream as Weir keeps it: what CreateDeliveryStream and UpdateDestination set,
//! persisted in the catalog. No wire format here; the API maps its shapes onto these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use weir_delivery::Prefixes;

use crate::error::{FirehoseError, Result};

/// Firehose's limits, from the API reference.
pub const MAX_BATCH_RECORDS: usize = 500;
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
pub const MAX_TAGS: usize = 50;
pub const DESTINATION_ID: &str = "destinationId-000000000001";

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

/// `CompressionFormat` of an S3 destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Compression {
    Uncompressed,
    Gzip,
    /// One ZIP archive holding one deflated file.
    Zip,
    /// The Snappy framing format, as Firehose writes it.
    Snappy,
    /// Hadoop's Snappy block format (`SnappyCodec`), for Hadoop, Hive and Spark readers.
    HadoopSnappy,
}

impl Compression {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "UNCOMPRESSED" => Ok(Compression::Uncompressed),
            "GZIP" => Ok(Compression::Gzip),
            "ZIP" => Ok(Compression::Zip),
            "Snappy" => Ok(Compression::Snappy),
            "HADOOP_SNAPPY" => Ok(Compression::HadoopSnappy),
            other => Err(FirehoseError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'compressionFormat' failed to satisfy constraint: Member must satisfy enum value set: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Uncompressed => "UNCOMPRESSED",
            Compression::Gzip => "GZIP",
            Compression::Zip => "ZIP",
            Compression::Snappy => "Snappy",
            Compression::HadoopSnappy => "HADOOP_SNAPPY",
        }
    }

    /// The object name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Uncompressed => "",
            Compression::Gzip => ".gz",
            Compression::Zip => ".zip",
            Compression::Snappy | Compression::HadoopSnappy => ".snappy",
        }
    }
}

/// `BufferingHints`: deliver when either is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buffering {
    pub size_mib: u32,
    pub interval_s: u32,
}

impl Default for Buffering {
    fn default() -> Self {
        Buffering {
            size_mib: 5,
            interval_s: 300,
        }
    }
}

impl Buffering {
    /// AWS's ranges: 1..=128 MiB, 0..=900 s.
    pub fn new(size_mib: Option<i64>, interval_s: Option<i64>) -> Result<Self> {
        let d = Buffering::default();
        let size = size_mib.unwrap_or(i64::from(d.size_mib));
        let interval = interval_s.unwrap_or(i64::from(d.interval_s));
        if !(1..=128).contains(&size) {
            return Err(FirehoseError::InvalidArgument(format!(
                "BufferingHints.SizeInMBs must be between 1 and 128, got {size}."
            )));
        }
        if !(0..=900).contains(&interval) {
            return Err(FirehoseError::InvalidArgument(format!(
                "BufferingHints.IntervalInSeconds must be between 0 and 900, got {interval}."
            )));
        }
        Ok(Buffering {
            size_mib: size as u32,
            interval_s: interval as u32,
        })
    }

    pub fn size_bytes(&self) -> usize {
        self.size_mib as usize * 1024 * 1024
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

/// Whether `ext` fits `FileExtension`'s pattern, `^$|\.[0-9a-z!\-_.*'()]+`, and its 128
/// characters.
fn file_extension_ok(ext: &str) -> bool {
    ext.len() <= 128
        && (ext.is_empty()
            || ext.strip_prefix('.').is_some_and(|rest| {
                !rest.is_empty()
                    && rest.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"!-_.*'()".contains(&b)
                    })
            }))
}

impl S3Destination {
    /// The bucket named by `arn:aws:s3:::BUCKET`, checked against S3's naming rules.
    pub fn bucket(&self) -> Result<&str> {
        bucket_of(&self.bucket_arn)
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
            if !file_extension_ok(ext) {
                return Err(FirehoseError::Validation(format!(
                    "1 validation error detected: Value '{ext}' at 'fileExtension' failed to satisfy constraint: Member must satisfy regular expression pattern: ^$|\\.[0-9a-z!\\-_.*'()]+"
                )));
            }
        }
        Ok(())
    }
}

/// The bucket of an S3 bucket ARN.
pub fn bucket_of(arn: &str) -> Result<&str> {
    // Any partition (`aws`, `aws-cn`, `aws-us-gov`), as BucketARN's pattern `arn:.*:s3:::...`.
    let bucket = arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":s3:::"))
        .filter(|(partition, _)| !partition.is_empty() && !partition.contains(':'))
        .map(|(_, bucket)| bucket);
    let Some(bucket) = bucket else {
        return Err(FirehoseError::InvalidArgument(format!(
            "BucketARN {arn:?} is not an S3 bucket ARN (arn:aws:s3:::BUCKET)."
        )));
    };
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let edges = bucket
        .bytes()
        .next()
        .zip(bucket.bytes().last())
        .is_some_and(|(a, z)| a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric());
    if !(3..=63).contains(&bucket.len()) || !ok_chars || !edges || bucket.contains("..") {
        return Err(FirehoseError::InvalidArgument(format!(
            "BucketARN {arn:?}: {bucket:?} is not a valid bucket name (3 to 63 lowercase letters, digits, dots and hyphens)."
        )));
    }
    Ok(bucket)
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
pub enum StreamStatus {
    Creating,
    Active,
    Deleting,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Deleting => "DELETING",
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

/// A delivery stream name: 1 to 64 of `[a-zA-Z0-9_.-]`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(FirehoseError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'deliveryStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 64"
        )))
    }
}

/// Tags as Firehose checks them: keys 1..=128, values 0..=256 characters.
pub fn check_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in tags {
        if !(1..=128).contains(&k.chars().count()) {
            return Err(FirehoseError::InvalidArgument(format!(
                "Tag key {k:?} must be 1 to 128 characters."
            )));
        }
        if k.starts_with("aws:") {
            return Err(FirehoseError::InvalidArgument(format!(
                "Tag key {k:?}: the aws: prefix is reserved."
            )));
        }
        if v.chars().count() > 256 {
            return Err(FirehoseError::InvalidArgument(format!(
                "The value of tag {k:?} is longer than 256 characters."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_arns() {
        assert_eq!(
            bucket_of("arn:aws:s3:::my-bucket.1").ok(),
            Some("my-bucket.1")
        );
        for bad in [
            "my-bucket",
            "arn:aws:s3:::",
            "arn:aws:s3:::ab",
            "arn:aws:s3:::Upper",
            "arn:aws:s3:::a..b",
            "arn:aws:s3:::-abc",
            "arn:aws:s3:::abc/../x",
        ] {
            assert!(bucket_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn buffering_ranges() {
        assert_eq!(Buffering::new(None, None).ok(), Some(Buffering::default()));
        assert!(Buffering::new(Some(1), Some(0)).is_ok());
        assert!(Buffering::new(Some(128), Some(900)).is_ok());
        for (s, i) in [(0, 60), (129, 60), (5, -1), (5, 901)] {
            assert!(matches!(
                Buffering::new(Some(s), Some(i)),
                Err(FirehoseError::InvalidArgument(_))
            ));
        }
    }

    #[test]
    fn names_and_compression() {
        assert!(check_name("ok_name-1.2").is_ok());
        assert!(check_name("bad name").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
        assert_eq!(Compression::parse("GZIP").ok(), Some(Compression::Gzip));
        for c in ["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"] {
            assert_eq!(Compression::parse(c).map(Compression::as_str).ok(), Some(c));
        }
        assert_eq!(Compression::HadoopSnappy.extension(), ".snappy");
        assert_eq!(Compression::Zip.extension(), ".zip");
        assert!(matches!(
            Compression::parse("gzip"),
            Err(FirehoseError::Validation(_))
        ));
    }
}
