//! Streams: shard-partitioned, durable, Kinesis-semantics logs.
//!
//! [`Streams`] is the engine the host owns. The HTTP API (`weir-api`) is one client of it;
//! rule actions and in-process consumers ([`Streams::subscribe`]) are others. Invariant:
//! nothing here knows about HTTP, wasmtime or MQTT, and Cargo.toml keeps it so (the crate map
//! in ARCHITECTURE.md is checked by `cargo xtask deps`).
//!
//! Concurrency: each stream has a topology lock (read for puts and reads, write for
//! resharding) and each shard a log lock held only while appending or taking a read
//! snapshot. A reshard therefore waits for in-flight puts, so every record lands either in
//! the parent before its `EndingSequenceNumber` or in a child.

// Public modules are the ones other crates name (`hashkey` and `seqno` for the API's checks,
// `log` for its configuration); the rest is reached through the re-exports below, so the
// compiler can tell when something inside is no longer used.
mod backend;
mod commit;
mod engine;
mod error;
pub mod hashkey;
mod iterator;
mod kpl;
pub mod log;
pub mod seqno;
mod store;
mod subscribe;
mod types;

use std::path::PathBuf;
use std::time::Duration;

pub use backend::{FailingBackend, FileBackend, MemBackend, StorageBackend};
pub use commit::{key_of, CommitStats, Durable, GroupCommit};
pub use error::{Result, StreamsError};
pub use hashkey::HashRange;
pub use store::{
    FileMeta, LocalShard, MemMeta, MemStores, MetaStore, PendingAppend, SettleAppend, ShardPage,
    ShardStore, StoreFactory,
};
pub use subscribe::{StoredBatch, Subscription, SubscriptionEvent, UserRecord};

pub use engine::{
    AccountLimits, AccountSettings, Commitment, PendingPut, Streams, MAX_CONSUMERS_PER_STREAM,
    MAX_RECORD_KIB, ON_DEMAND_STREAM_LIMIT, SHARD_LEVEL_METRICS,
};
pub use types::*;

use self::log::LogConfig;

/// Minimum and maximum retention AWS allows, in hours.
pub const MIN_RETENTION_HOURS: u32 = 24;
pub const MAX_RETENTION_HOURS: u32 = 8760;
/// Most records and bytes one GetRecords may return.
pub const MAX_GET_RECORDS: usize = 10_000;

/// Default of [`StreamsConfig::max_total_shards`]: AWS's default shard quota per account in
/// its largest regions.
pub const DEFAULT_MAX_TOTAL_SHARDS: u32 = 500;

/// Default of [`StreamsConfig::transition_delay`], in ms: long enough for a waiter or an
/// infrastructure tool to see CREATING, UPDATING or DELETING, short enough for tests.
pub const DEFAULT_TRANSITION_MS: u64 = 100;

/// Default of [`StreamsConfig::max_streams`].
pub const DEFAULT_MAX_STREAMS: u32 = 500;
pub const MAX_GET_BYTES: usize = 10 * 1024 * 1024;
/// Largest record the engine stores (AWS's raised per-stream maximum, 10 MiB).
pub const MAX_RECORD_BYTES: usize = 10 * 1024 * 1024;
/// Most records one PutRecords call takes (AWS's limit, for local and remote streams alike).
pub const MAX_PUT_RECORDS: usize = 500;
/// A partition key's length in Unicode characters, as AWS allows it.
pub const PARTITION_KEY_CHARS: std::ops::RangeInclusive<usize> = 1..=256;
/// AWS allows at most this many tags on a stream.
pub const MAX_TAGS: usize = 50;
/// AWS allows this many UpdateShardCount calls per rolling 24 hours.
pub const MAX_SCALING_OPS_PER_DAY: usize = 10;

/// When appended records are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// fdatasync before every acknowledgement (the default). Writers share syncs through
    /// [`GroupCommit::global`]: one round syncs every file appended to while it waited.
    Always,
    /// A background thread syncs dirty shards on this interval; answers precede the sync, so
    /// a power cut (not a crash of the process) can lose up to one interval of acknowledged
    /// writes. Opt-in.
    Interval(Duration),
    /// Leave it to the OS.
    Never,
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "always" => Ok(FsyncPolicy::Always),
            "never" => Ok(FsyncPolicy::Never),
            "interval" => Ok(FsyncPolicy::Interval(Duration::from_millis(50))),
            other => other
                .strip_prefix("interval:")
                .and_then(|ms| ms.trim_end_matches("ms").parse::<u64>().ok())
                .map(|ms| FsyncPolicy::Interval(Duration::from_millis(ms.max(1))))
                .ok_or_else(|| {
                    format!("unknown fsync policy {other:?} (always|interval[:MS]|never)")
                }),
        }
    }
}

/// Engine configuration.
#[derive(Debug, Clone)]
pub struct StreamsConfig {
    pub dir: PathBuf,
    pub fsync: FsyncPolicy,
    pub log: LogConfig,
    /// How long CREATING/UPDATING stay visible before ACTIVE (AWS takes seconds; zero makes
    /// the change instant).
    pub transition_delay: Duration,
    /// Emulate the per-shard write limits (1 MiB/s, 1000 records/s). Off by default.
    pub throughput_limits: bool,
    pub region: String,
    pub account_id: String,
    pub max_shards_per_stream: u32,
    /// Open shards across every stream of this host. Each shard keeps files (and descriptors)
    /// open, so this is what bounds a host's descriptors, not only AWS's account quota.
    pub max_total_shards: u32,
    /// Streams on this host.
    pub max_streams: u32,
}

impl StreamsConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StreamsConfig {
            dir: dir.into(),
            fsync: FsyncPolicy::Always,
            log: LogConfig::default(),
            transition_delay: Duration::from_millis(DEFAULT_TRANSITION_MS),
            throughput_limits: false,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            max_shards_per_stream: 10_000,
            max_total_shards: DEFAULT_MAX_TOTAL_SHARDS,
            max_streams: DEFAULT_MAX_STREAMS,
        }
    }
}
