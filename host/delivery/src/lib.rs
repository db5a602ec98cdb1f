//! Storage for the rule actions that keep data on this machine: `firehose` (buffered,
//! Firehose-named objects under a root folder) and `table` (a durable key-value table, the
//! seed's DynamoDB write); and `remote_kinesis`, the `kinesis` action's client for a remote
//! Kinesis-compatible endpoint.
//!
//! **No clock, network or wasmtime here**, except in `remote_kinesis`, which sends HTTP and
//! signs with the current time. Callers pass times in, so every rule about buffering and key
//! names is tested with a fixed clock. Everything written is made durable (fsync of file and
//! folder) before the call that reports it returns, and no key may resolve outside its root
//! folder.

// Private: the crate's API is what the root re-exports, so the compiler can tell when
// something inside is no longer used.
mod firehose;
mod fsutil;
mod prefix;
mod remote_kinesis;
mod table;

pub use firehose::{
    object_name, DeliveredObject, FailedRecord, FirehoseConfig, FirehoseError, FirehoseWriter,
    FlushError,
};
pub use fsutil::{
    folder_key, prepare_object_path, write_atomic, IoAt, KeyError, PrepareError, MAX_NAME_BYTES,
};
pub use prefix::{KeyTemplate, PrefixError, PrefixKind, Prefixes};
pub use remote_kinesis::{Credentials, RemoteError, RemoteKinesis};
pub use table::{KvError, KvTable, RecoveryReport};
