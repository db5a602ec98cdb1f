//! Kinesis error types and how engine errors map onto them.

use weir_streams::StreamsError;

/// The AWS error types the API produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    ResourceNotFound,
    ResourceInUse,
    InvalidArgument,
    Validation,
    ExpiredIterator,
    ExpiredNextToken,
    LimitExceeded,
    ProvisionedThroughputExceeded,
    Serialization,
    UnknownOperation,
    MissingAuthenticationToken,
    IncompleteSignature,
    InvalidSignature,
    UnrecognizedClient,
    DryRunOperation,
    InternalFailure,
    /// Firehose: a stale `CurrentDeliveryStreamVersionId`.
    ConcurrentModification,
    /// Firehose: the buffer's storage failed; nothing was acknowledged.
    ServiceUnavailable,
    /// Kinesis Data Analytics: the application code does not compile.
    CodeValidation,
    /// Kinesis Data Analytics: the operation does not apply to the resource as it is.
    UnsupportedOperation,
    /// Kinesis Data Analytics: more tags than a resource may carry.
    TooManyTags,
    /// Kinesis Data Analytics: StartApplication on a configuration that cannot run.
    InvalidApplicationConfiguration,
    /// Kinesis Data Analytics: DiscoverInputSchema found no schema in the samples.
    UnableToDetectSchema,
}

impl ErrorKind {
    /// The `__type` string.
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::ResourceNotFound => "ResourceNotFoundException",
            ErrorKind::ResourceInUse => "ResourceInUseException",
            ErrorKind::InvalidArgument => "InvalidArgumentException",
            ErrorKind::Validation => "ValidationException",
            ErrorKind::ExpiredIterator => "ExpiredIteratorException",
            ErrorKind::ExpiredNextToken => "ExpiredNextTokenException",
            ErrorKind::LimitExceeded => "LimitExceededException",
            ErrorKind::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException",
            ErrorKind::Serialization => "SerializationException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorKind::IncompleteSignature => "IncompleteSignatureException",
            ErrorKind::InvalidSignature => "InvalidSignatureException",
            ErrorKind::UnrecognizedClient => "UnrecognizedClientException",
            ErrorKind::DryRunOperation => "DryRunOperationException",
            ErrorKind::InternalFailure => "InternalFailure",
            ErrorKind::ConcurrentModification => "ConcurrentModificationException",
            ErrorKind::ServiceUnavailable => "ServiceUnavailableException",
            ErrorKind::CodeValidation => "CodeValidationException",
            ErrorKind::UnsupportedOperation => "UnsupportedOperationException",
            ErrorKind::TooManyTags => "TooManyTagsException",
            ErrorKind::InvalidApplicationConfiguration => {
                "InvalidApplicationConfigurationException"
            }
            ErrorKind::UnableToDetectSchema => "UnableToDetectSchemaException",
        }
    }

    /// Whether the error is about the request's framing, not its content: AWS sends these
    /// with `__type` alone.
    pub fn is_protocol(&self) -> bool {
        matches!(self, ErrorKind::UnknownOperation | ErrorKind::Serialization)
    }

    /// HTTP status: the JSON-protocol services answer every client error, authentication
    /// included, with 400, and their own failures with 500.
    pub fn status(&self) -> u16 {
        match self {
            ErrorKind::InternalFailure => 500,
            ErrorKind::ServiceUnavailable => 503,
            _ => 400,
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", kind.code())]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Serialization, message)
    }
}

impl From<StreamsError> for ApiError {
    fn from(e: StreamsError) -> Self {
        let kind = match &e {
            StreamsError::NotFound(_) => ErrorKind::ResourceNotFound,
            StreamsError::InUse(_) => ErrorKind::ResourceInUse,
            StreamsError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            StreamsError::LimitExceeded(_) => ErrorKind::LimitExceeded,
            StreamsError::Throughput(_) => ErrorKind::ProvisionedThroughputExceeded,
            StreamsError::ExpiredIterator(_) => ErrorKind::ExpiredIterator,
            _ => {
                tracing::error!(error = %e, "internal failure");
                return ApiError::new(ErrorKind::InternalFailure, "Internal Service Failure");
            }
        };
        ApiError {
            kind,
            message: e.to_string(),
        }
    }
}
