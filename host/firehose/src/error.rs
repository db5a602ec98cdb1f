//! What can go wrong in the Firehose service, by the AWS error type it answers with.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum FirehoseError {
    /// `ResourceNotFoundException`.
    #[error("{0}")]
    NotFound(String),
    /// `ResourceInUseException`: the name is taken, or the stream is not in a state for this.
    #[error("{0}")]
    InUse(String),
    /// `InvalidArgumentException`.
    #[error("{0}")]
    InvalidArgument(String),
    /// `ValidationException`: a value breaks a constraint of the API's model.
    #[error("{0}")]
    Validation(String),
    /// `LimitExceededException`.
    #[error("{0}")]
    LimitExceeded(String),
    /// `ConcurrentModificationException`: a stale `CurrentDeliveryStreamVersionId`.
    #[error("{0}")]
    ConcurrentModification(String),
    /// The durable buffer failed (a full or failing disk); nothing was acknowledged.
    #[error("the delivery stream buffer failed: {0}")]
    Buffer(#[source] weir_streams::StreamsError),
    /// The catalog or a checkpoint could not be read or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A catalog or checkpoint document could not be read or written (a full or failing
    /// disk, or the cluster's key-value bucket), or its key is not one the store can hold.
    #[error(transparent)]
    Doc(#[from] weir_support::docstore::DocError),
    /// The catalog on disk is not what Weir wrote.
    #[error("{path}: {reason}")]
    Corrupt { path: String, reason: String },
    /// An S3 endpoint or credential in the configuration is unusable.
    #[error("object storage for bucket {bucket}: {source}")]
    Store {
        bucket: String,
        #[source]
        source: object_store::Error,
    },
    /// An object could not be stored (folder store, or a `PutObject` sent outside
    /// `object_store`); `reason` says what refused it.
    #[error("cannot store {key:?} in bucket {bucket}: {reason}")]
    Object {
        bucket: String,
        key: String,
        reason: String,
    },
}

impl From<weir_streams::StreamsError> for FirehoseError {
    fn from(e: weir_streams::StreamsError) -> Self {
        FirehoseError::Buffer(e)
    }
}

/// A refusal of Firehose's rules keeps its AWS error type.
impl From<weir_firehose_model::FirehoseModelError> for FirehoseError {
    fn from(e: weir_firehose_model::FirehoseModelError) -> Self {
        use weir_firehose_model::FirehoseModelError as M;
        match e {
            M::InvalidArgument(m) => FirehoseError::InvalidArgument(m),
            M::Validation(m) => FirehoseError::Validation(m),
        }
    }
}

/// The crate's own shorthand; callers outside name `Result<T, FirehoseError>` (a public
/// `Result` would be a second one beside `weir-streams`').
pub(crate) type Result<T> = std::result::Result<T, FirehoseError>;
