//! Storage for the `table` rule action: a durable key-value table on this machine, the seed's
//! DynamoDB write. (The `firehose` action's objects are written by `weir-firehose`; the
//! `kinesis` action's remote endpoint is called by `weir-aws-client`.)
//!
//! **No clock, network or wasmtime here.** Everything written is made durable (fsync of file
//! and folder) before the call that reports it returns.

// Private: the crate's API is what the root re-exports, so the compiler can tell when
// something inside is no longer used.
mod fsutil;
mod table;

pub use fsutil::IoAt;
pub use table::{KvError, KvTable, RecoveryReport};
