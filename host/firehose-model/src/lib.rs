//! Firehose's rules, defined once: the limits of the API reference, the name rules, the
//! buffering bounds, the compression names and the Hive column types format conversion
//! writes. `weir-config` checks a `[firehose]` section with them, `weir-api` checks requests
//! with them and `weir-firehose` runs delivery streams by them, so the three cannot disagree
//! on what a delivery stream may be.
//!
//! Pure: no IO, no async, no wire format. A refusal is a [`FirehoseModelError`] whose variant
//! is the AWS error type the API answers with and whose text is AWS's message.

mod buffering;
mod hive;
mod names;

pub use buffering::{
    Buffering, BufferingRule, Compression, ParquetCompression, BUFFERING, HTTP_BUFFERING,
};
pub use hive::{
    hive_columns, HiveColumn, HiveSchemaError, HiveType, HiveTypeError, HIVE_TYPES,
    MAX_CHAR_LENGTH, MAX_DECIMAL_PRECISION, MAX_VARCHAR_LENGTH,
};
pub use names::{
    bucket_of, check_delivery_stream_name, check_tags, file_extension_ok, is_bucket_name,
    is_delivery_stream_name, lambda_function_name, undeclared_table, BUCKET_NAME_RULE,
    DELIVERY_STREAM_NAME_PATTERN, DELIVERY_STREAM_NAME_RULE, FILE_EXTENSION_PATTERN,
    TABLES_SECTION,
};

use thiserror::Error;

/// Records in one PutRecordBatch.
pub const MAX_BATCH_RECORDS: usize = 500;
/// One record's data, before base64: 1,000 KiB.
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;
/// All the data of one PutRecordBatch.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Tags on one delivery stream.
pub const MAX_TAGS: usize = 50;
/// The id of a delivery stream's only destination.
pub const DESTINATION_ID: &str = "destinationId-000000000001";

/// An inclusive range of a whole-number setting, as the API reference states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub min: u32,
    pub max: u32,
}

impl Bounds {
    pub fn contains(self, v: i64) -> bool {
        (i64::from(self.min)..=i64::from(self.max)).contains(&v)
    }
}

/// `BufferingHints.SizeInMBs` of an S3 destination.
pub const BUFFER_SIZE_MIB: Bounds = Bounds { min: 1, max: 128 };
/// `BufferingHints.SizeInMBs` of an HTTP endpoint destination.
pub const HTTP_BUFFER_SIZE_MIB: Bounds = Bounds { min: 1, max: 64 };
/// `BufferingHints.IntervalInSeconds`, every destination.
pub const BUFFER_INTERVAL_S: Bounds = Bounds { min: 0, max: 900 };
/// A folder-mode `firehose` rule action's `buffer_bytes`: it counts bytes, not MiB, so any
/// size from 1 byte up to the largest `SizeInMBs`.
pub const MAX_ACTION_BUFFER_BYTES: u64 = BUFFER_SIZE_MIB.max as u64 * 1024 * 1024;
/// The largest `IntervalInSeconds`, in the milliseconds of an action's `buffer_interval_ms`.
pub const MAX_ACTION_BUFFER_INTERVAL_MS: u64 = BUFFER_INTERVAL_S.max as u64 * 1000;
/// `RetryOptions.DurationInSeconds`.
pub const RETRY_DURATION_S: Bounds = Bounds { min: 0, max: 7200 };
/// A Lambda processor's `NumberOfRetries`.
pub const LAMBDA_RETRIES: Bounds = Bounds { min: 0, max: 300 };

/// A setting Firehose refuses, by the AWS error type it is answered with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FirehoseModelError {
    /// `InvalidArgumentException`: the value is well formed but not acceptable.
    #[error("{0}")]
    InvalidArgument(String),
    /// `ValidationException`: the value breaks a constraint of the API's model.
    #[error("{0}")]
    Validation(String),
}

pub(crate) type Result<T> = std::result::Result<T, FirehoseModelError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_at_both_edges() {
        assert!(BUFFER_INTERVAL_S.contains(0) && BUFFER_INTERVAL_S.contains(900));
        assert!(!BUFFER_INTERVAL_S.contains(-1) && !BUFFER_INTERVAL_S.contains(901));
        assert!(BUFFER_SIZE_MIB.contains(1) && BUFFER_SIZE_MIB.contains(128));
        assert!(!BUFFER_SIZE_MIB.contains(0) && !BUFFER_SIZE_MIB.contains(129));
        assert!(!HTTP_BUFFER_SIZE_MIB.contains(65));
    }
}
