//! Weir's streams and state on a NATS JetStream cluster (issue 31).
//!
//! The streams engine is sync and keeps its own records on one host's disk. To let several
//! hosts share streams and survive the loss of one, this crate puts the same data into
//! JetStream, which replicates it with quorum acks:
//! - [`Bridge`]: a dedicated tokio runtime that owns the async NATS client, so the sync engine
//!   can call it without a runtime of its own (and without `block_on` on a runtime thread).
//! - [`JsShard`]: one Kinesis shard as one replicated JetStream stream; the record counter is
//!   the JetStream sequence, the arrival time the message time, a reshard seals the stream.
//! - [`KvMeta`]: stream metadata in a KV bucket with compare-and-set by revision, a secret
//!   shared by all hosts, and leases (single-holder keys with a TTL).
//!
//! - [`JetStreamStores`]: the streams engine's `StoreFactory` on those (shards as
//!   [`JsShardStore`], the catalog as one KV document written by compare-and-set), handed to
//!   `weir_streams::Streams::open_with_stores`; [`JetStreamStores::docs`] gives a
//!   `DocStore` in a KV bucket of its own (Firehose catalogs and checkpoints, shadows, the
//!   rules API's rules).
//! - [`JsJournal`]: an append-only log in one replicated stream (the hosts' dead letters).

mod bridge;
mod config;
mod docs;
mod error;
mod journal;
mod meta;
mod shard;
mod stores;

pub use bridge::Bridge;
pub use config::{ClusterConfig, ClusterTls};
pub use error::ClusterError;
pub use journal::{JournalEntry, JsJournal};
pub use meta::{KvEntry, KvLease, KvMeta};
pub use shard::{JsPendingAppend, JsRecord, JsShard, JsShardSpec};
pub use stores::{JetStreamStores, JsShardStore};

/// The result type of this crate.
pub type ClusterResult<T, E = ClusterError> = std::result::Result<T, E>;
