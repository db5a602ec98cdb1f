//! The Device Shadow service's errors: AWS's HTTP status code and message text, which both the
//! MQTT `/rejected` topics and the REST API carry.
//!
//! The texts are the ones in AWS's table, "Device Shadow error messages"
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html>),
//! spelled as AWS spells them (including "Unsupported documented encoding"), because clients
//! match on them.

use serde_json::{Map, Value};

/// What went wrong, as the HTTP status class AWS answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShadowErrorKind {
    /// 400: malformed request (JSON, names, nodes, version, client token, nesting).
    BadRequest,
    /// 404: no such shadow.
    NotFound,
    /// 409: the request's `version` is not the shadow's.
    Conflict,
    /// 413: the document would exceed the size limit.
    PayloadTooLarge,
    /// 415: the payload is not UTF-8.
    UnsupportedEncoding,
    /// 500: storage failed or a stored file is damaged (the detail says which file).
    Internal,
}

impl ShadowErrorKind {
    /// The HTTP status code AWS gives this kind.
    pub fn code(self) -> u16 {
        match self {
            ShadowErrorKind::BadRequest => 400,
            ShadowErrorKind::NotFound => 404,
            ShadowErrorKind::Conflict => 409,
            ShadowErrorKind::PayloadTooLarge => 413,
            ShadowErrorKind::UnsupportedEncoding => 415,
            ShadowErrorKind::Internal => 500,
        }
    }

    /// The exception name of the IoT data-plane REST API (`iot-data`) for this kind, for the
    /// REST layer's `x-amzn-ErrorType`.
    pub fn rest_error_type(self) -> &'static str {
        match self {
            ShadowErrorKind::BadRequest => "InvalidRequestException",
            ShadowErrorKind::NotFound => "ResourceNotFoundException",
            ShadowErrorKind::Conflict => "ConflictException",
            ShadowErrorKind::PayloadTooLarge => "RequestEntityTooLargeException",
            ShadowErrorKind::UnsupportedEncoding => "UnsupportedDocumentEncodingException",
            ShadowErrorKind::Internal => "InternalFailureException",
        }
    }
}

/// A refused or failed shadow request: AWS's code and message, the request's client token (so
/// the `/rejected` document can echo it) and, for 500s, our own detail (which file, which
/// step) for the log; the detail never goes to the device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {}{}", .kind.code(), .message, .detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct ShadowError {
    kind: ShadowErrorKind,
    message: String,
    client_token: Option<String>,
    detail: Option<String>,
}

impl ShadowError {
    pub(crate) fn new(kind: ShadowErrorKind, message: impl Into<String>) -> ShadowError {
        ShadowError {
            kind,
            message: message.into(),
            client_token: None,
            detail: None,
        }
    }

    pub(crate) fn bad_request(message: &str) -> ShadowError {
        ShadowError::new(ShadowErrorKind::BadRequest, message)
    }

    /// AWS's 404 text, with the name quoted as in AWS's own example
    /// (`"No shadow exists with name: 'simShadow1'"`, "Using the Device Shadow service").
    pub(crate) fn no_shadow(name: &str) -> ShadowError {
        ShadowError::new(
            ShadowErrorKind::NotFound,
            format!("No shadow exists with name: '{name}'"),
        )
    }

    pub(crate) fn too_large() -> ShadowError {
        ShadowError::new(
            ShadowErrorKind::PayloadTooLarge,
            "The payload exceeds the maximum size allowed",
        )
    }

    /// A 500 whose `detail` (file and cause) is for the operator.
    pub(crate) fn internal(detail: String) -> ShadowError {
        ShadowError {
            detail: Some(detail),
            ..ShadowError::new(ShadowErrorKind::Internal, "Internal service failure")
        }
    }

    pub(crate) fn with_token(mut self, token: Option<&str>) -> ShadowError {
        if self.client_token.is_none() {
            self.client_token = token.map(str::to_string);
        }
        self
    }

    pub fn kind(&self) -> ShadowErrorKind {
        self.kind
    }

    /// The HTTP status code: 400, 404, 409, 413, 415 or 500.
    pub fn code(&self) -> u16 {
        self.kind.code()
    }

    /// AWS's message text.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn client_token(&self) -> Option<&str> {
        self.client_token.as_deref()
    }

    /// Our own explanation of a 500 (names the damaged file or the failed step); `None` for
    /// the refusals, whose message says it all.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// AWS's error response document, `{"code", "message", "timestamp", "clientToken"}`
    /// ("Device Shadow service documents", Error response document). `timestamp` (seconds) is
    /// "not present in all error response documents": AWS's two published examples, a 409
    /// ("Interacting with shadows", Optimistic locking) and a 404 ("Using the Device Shadow
    /// service"), have none, so those two codes leave it out and the others carry it.
    /// `clientToken` only when the request carried a valid one.
    pub fn rejected_document(&self, now_ms: i64) -> Value {
        let mut doc = Map::new();
        doc.insert("code".into(), Value::from(self.code()));
        doc.insert("message".into(), Value::from(self.message.clone()));
        if !matches!(
            self.kind,
            ShadowErrorKind::NotFound | ShadowErrorKind::Conflict
        ) {
            doc.insert("timestamp".into(), Value::from(seconds(now_ms)));
        }
        if let Some(t) = &self.client_token {
            doc.insert("clientToken".into(), Value::from(t.clone()));
        }
        Value::Object(doc)
    }
}

/// Epoch seconds, the unit of every shadow timestamp (AWS's examples: `1591140517`).
pub(crate) fn seconds(now_ms: i64) -> u64 {
    u64::try_from(now_ms.div_euclid(1000)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_rejected_document_has_aws_fields_in_aws_order() {
        let e = ShadowError::bad_request("Invalid JSON").with_token(Some("tok"));
        let doc = e.rejected_document(1_591_057_529_999);
        assert_eq!(
            serde_json::to_string(&doc).expect("json"),
            r#"{"code":400,"message":"Invalid JSON","timestamp":1591057529,"clientToken":"tok"}"#
        );
        assert_eq!(e.to_string(), "400 Invalid JSON");
    }

    #[test]
    fn a_500_keeps_its_detail_out_of_the_document() {
        let e = ShadowError::internal("shadow file /d/x is damaged".into());
        assert_eq!(
            e.rejected_document(5_000),
            json!({"code": 500, "message": "Internal service failure", "timestamp": 5})
        );
        assert!(e.to_string().contains("/d/x"), "{e}");
        assert_eq!(e.kind().rest_error_type(), "InternalFailureException");
    }
}
