//! One error type for the crate: what failed, on which stream or key, with the client's error
//! kept as the source (its kind says whether a retry can help).

/// The client's boxed error (every async-nats error converts into it).
pub type NatsError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The `[cluster]` configuration is invalid; `field` names the offending setting.
    #[error("[cluster] {field}: {reason}")]
    Config { field: &'static str, reason: String },
    /// No server of the list accepted the connection.
    #[error("cannot connect to the NATS servers {servers}")]
    Connect {
        servers: String,
        #[source]
        source: NatsError,
    },
    /// The bridge's runtime could not start (threads).
    #[error("cannot start the NATS bridge runtime")]
    Runtime(#[source] std::io::Error),
    /// A sync call was made from a bridge thread, where waiting would deadlock the runtime.
    #[error("a blocking cluster call was made from a weir-nats runtime thread")]
    OnBridgeThread,
    /// The task behind a call stopped without an answer (the runtime shut down or it panicked).
    #[error("the NATS bridge stopped before answering")]
    BridgeGone,
    /// A JetStream request or publish failed; `op` says which, `target` on which stream or key.
    #[error("JetStream {op} on {target}")]
    JetStream {
        op: &'static str,
        target: String,
        #[source]
        source: NatsError,
    },
    /// The shard's stream is sealed: a reshard closed it, and writers must re-route.
    #[error("stream {0} is sealed (the shard was closed by a reshard)")]
    Sealed(String),
    /// No stream of that name exists.
    #[error("stream {0} does not exist")]
    NoStream(String),
    /// A stored record does not hold the `u16 key_len | key | data` envelope.
    #[error("record {seq} of {stream} is not a Weir record: {reason}")]
    Envelope {
        stream: String,
        seq: u64,
        reason: &'static str,
    },
    /// A partition key longer than the envelope's u16 length.
    #[error("partition key of {0} bytes is too long")]
    KeyTooLong(usize),
    /// A compare-and-set lost: the key's revision is no longer `expected`.
    #[error("KV key {key}: revision {expected} is no longer current")]
    Conflict { key: String, expected: u64 },
    /// A create-if-absent found the key present.
    #[error("KV key {0} already exists")]
    Exists(String),
    /// A value the cluster returned could not be used (wrong length, bad JSON).
    #[error("KV key {key}: {reason}")]
    BadValue { key: String, reason: String },
    /// A bounded wait ran out (the cluster did not converge in time).
    #[error("{0}: timed out")]
    TimedOut(String),
}

impl ClusterError {
    /// A JetStream error with its source boxed.
    pub(crate) fn js(
        op: &'static str,
        target: impl Into<String>,
        source: impl Into<NatsError>,
    ) -> Self {
        ClusterError::JetStream {
            op,
            target: target.into(),
            source: source.into(),
        }
    }
}
