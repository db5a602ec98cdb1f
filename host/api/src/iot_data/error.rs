//! The IoT data plane's errors as its REST-JSON protocol carries them: an HTTP status, the
//! exception name in `x-amzn-ErrorType` (which botocore's rest-json parser reads first) and a
//! JSON body `{"message": ...}`. The names and statuses are the ones botocore's `iot-data`
//! model gives each exception (`InvalidRequestException` 400, `UnauthorizedException` 401,
//! `ResourceNotFoundException` 404, `MethodNotAllowedException` 405, `ConflictException` 409,
//! `RequestEntityTooLargeException` 413, `UnsupportedDocumentEncodingException` 415,
//! `ThrottlingException` 429, `InternalFailureException` 500, `ServiceUnavailableException`
//! 503), so `client.exceptions.X` catches what Weir sends.

use weir_shadow::ShadowError;

use crate::error::{ApiError, ErrorKind};

/// An error answer of the IoT data-plane API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {error_type}: {message}")]
pub(crate) struct IotError {
    pub(crate) status: u16,
    pub(crate) error_type: &'static str,
    pub(crate) message: String,
}

impl IotError {
    fn new(status: u16, error_type: &'static str, message: impl Into<String>) -> IotError {
        IotError {
            status,
            error_type,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> IotError {
        IotError::new(400, "InvalidRequestException", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> IotError {
        IotError::new(404, "ResourceNotFoundException", message)
    }

    pub(crate) fn method_not_allowed(message: impl Into<String>) -> IotError {
        IotError::new(405, "MethodNotAllowedException", message)
    }

    /// AWS's 413 text, the same the shadow service gives an oversized document.
    pub(crate) fn too_large() -> IotError {
        IotError::new(
            413,
            "RequestEntityTooLargeException",
            "The payload exceeds the maximum size allowed",
        )
    }

    pub(crate) fn internal() -> IotError {
        IotError::new(500, "InternalFailureException", "Internal service failure")
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> IotError {
        IotError::new(503, "ServiceUnavailableException", message)
    }
}

impl From<&ShadowError> for IotError {
    /// The shadow service's code and AWS text; a 500's detail (which file) goes to the log,
    /// never to the client.
    fn from(e: &ShadowError) -> IotError {
        if let Some(detail) = e.detail() {
            tracing::error!(error = %e, detail, "shadow request failed");
        }
        IotError::new(e.code(), e.kind().rest_error_type(), e.message())
    }
}

impl From<&ApiError> for IotError {
    /// A request the signature check refused: `UnauthorizedException` (401) with the
    /// verifier's AWS text, the one authentication error the data plane's model declares;
    /// a budget refusal stays a 503 so SDKs retry it.
    fn from(e: &ApiError) -> IotError {
        match e.kind {
            ErrorKind::ServiceUnavailable => IotError::unavailable(e.message.clone()),
            ErrorKind::InternalFailure => IotError::internal(),
            _ => IotError::new(401, "UnauthorizedException", e.message.clone()),
        }
    }
}
