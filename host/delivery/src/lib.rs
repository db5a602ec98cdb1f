//! Storage for the `table` rule action (a durable key-value table, the seed's DynamoDB write),
//! and `remote_kinesis`, the `kinesis` action's client for a remote Kinesis-compatible
//! endpoint. (The `firehose` action's objects are written by `weir-firehose`.)
//!
//! **No clock, network or wasmtime here**, except in `remote_kinesis`, which sends HTTP and
//! signs with the current time. Everything written is made durable (fsync of file and folder)
//! before the call that reports it returns.

// Private: the crate's API is what the root re-exports, so the compiler can tell when
// something inside is no longer used.
mod fsutil;
mod remote_kinesis;
mod table;

pub use fsutil::IoAt;
pub use remote_kinesis::{Credentials, RemoteError, RemoteKinesis};
pub use table::{KvError, KvTable, RecoveryReport};
