//! Weir's Firehose service: delivery streams that take records (`PutRecord`,
//! `PutRecordBatch`), keep them durably, and deliver them in buffered, optionally compressed
//! objects to S3-compatible storage or a folder, with Firehose's object names.
//!
//! **Acknowledged means durable.** Each delivery stream has a single-shard stream in a
//! private `weir-streams` instance (`DIR/buffer`, fsync before every answer) as its buffer. A
//! delivery thread reads it, builds objects by the buffering hints, stores them, and only then
//! moves its checkpoint (`DIR/checkpoints/UID`) past them. After a crash it resumes from the
//! checkpoint: every acknowledged record is delivered at least once, as on AWS. The buffer
//! keeps records for 24 hours, AWS's retry window for S3.
//!
//! The catalog (`DIR/catalog.json`) holds every delivery stream's settings and survives
//! restarts. No wire format here: `weir-api` maps Firehose's JSON onto these calls.

mod batch;
mod catalog;
mod deliver;
mod destination;
mod egress;
mod encode;
mod error;
mod folder;
mod http;
mod implicit;
mod model;
mod parquet;
mod partition;
mod prefix;
mod process;
mod source;
mod store;

pub use catalog::{
    CreateRequest, DeliveryStats, Description, Firehose, FirehoseConfig, RecordPutOutcome,
};
// `DeliveryDestination` and each destination's settings type: whatever `destination/` makes
// public, so a new destination is its module alone.
pub use destination::*;
pub use egress::{Egress, Lookup, SystemLookup};
pub use error::FirehoseError;
pub use implicit::{ImplicitStream, ImplicitStreamSpec, ProcessingFailure};
pub use model::{
    bucket_of, check_name, check_tags, Buffering, Compression, Conversion, DeliveryStreamSpec,
    DeliveryStreamStatus, Encryption, EncryptionStatus, Partitioning, Processing, SourceKind,
    DESTINATION_ID, MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES, MAX_TAGS,
};
pub use parquet::DEFAULT_COMPRESSION as DEFAULT_PARQUET_COMPRESSION;
pub use process::{InvokeError, ProcessIn, Processed, Processor, ProcessorSlot};
pub use store::{S3Settings, Storage, Stores};
