//! Errors of the streams engine.
//!
//! Each variant maps onto one Kinesis error type in `api/`, so the engine can phrase the
//! message the way AWS does while staying free of HTTP concerns.

use std::io;

/// What can go wrong in a streams operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamsError {
    /// The stream or shard does not exist (or is not readable/writable in its current state).
    #[error("{0}")]
    NotFound(String),
    /// The resource exists but is busy or in the wrong state (already exists, not ACTIVE,
    /// shard already closed).
    #[error("{0}")]
    InUse(String),
    /// A semantically invalid argument (bad sequence number, hash key out of range, ...).
    #[error("{0}")]
    InvalidArgument(String),
    /// An account-style limit was hit.
    #[error("{0}")]
    LimitExceeded(String),
    /// The shard was sealed by a reshard: its writers are fenced, and the put belongs to a
    /// child shard (a writer with a stale topology reloads it and routes again).
    #[error("{0}")]
    Sealed(String),
    /// The emulated per-shard throughput limit was hit.
    #[error("{0}")]
    Throughput(String),
    /// The shard iterator is older than five minutes.
    #[error("{0}")]
    ExpiredIterator(String),
    /// Stored data failed its checksum: never served, reported instead.
    #[error("corrupt record in {path} at offset {offset}")]
    Corrupt { path: String, offset: u64 },
    /// The storage backend failed.
    #[error("storage i/o error: {0}")]
    Io(#[from] io::Error),
    /// Persisted metadata could not be decoded.
    #[error("bad metadata: {0}")]
    Metadata(String),
}

pub type Result<T, E = StreamsError> = std::result::Result<T, E>;
