//! Why a call to an AWS service failed, typed, with AWS's own error type when the service
//! named one, and whether sending it again may help.

/// Why a call (or setting up a client) failed as a whole. Every variant names the endpoint;
/// those of a call name the operation (`PutRecords to stream "s"`), so a log line says what
/// failed where.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The endpoint, region or credentials given to a client are unusable.
    #[error("endpoint {endpoint:?}: {reason}")]
    BadEndpoint { endpoint: String, reason: String },
    /// The call was refused before sending (too many entries, ...).
    #[error("{operation} at {endpoint}: {reason}")]
    InvalidRequest {
        endpoint: String,
        operation: String,
        reason: String,
    },
    /// The egress policy refuses every address the endpoint leads to; nothing was sent.
    #[error("{operation} at {endpoint}: refused by the egress policy: {reason}")]
    Refused {
        endpoint: String,
        operation: String,
        reason: String,
    },
    /// No answer: DNS, connection refused, TLS, timeout or a broken connection.
    #[error("{operation} at {endpoint}: connection failed: {source}")]
    Connection {
        endpoint: String,
        operation: String,
        #[source]
        source: reqwest::Error,
    },
    /// A non-2xx answer. `error_type` is AWS's `__type` without any `namespace#` prefix
    /// (e.g. `ResourceNotFoundException`), or `HTTP <status>` when the answer names none.
    #[error("{operation} at {endpoint}: HTTP {status}: {error_type}: {message}")]
    Service {
        endpoint: String,
        operation: String,
        status: u16,
        error_type: String,
        message: String,
    },
    /// The call could not run or gave no answer in time on the client's runtime thread (a
    /// blocking call whose thread could not start or whose answer never came).
    #[error("{operation} at {endpoint}: {reason}")]
    Runtime {
        endpoint: String,
        operation: String,
        reason: String,
    },
    /// A 2xx answer that is not the operation's result.
    #[error("{operation} at {endpoint}: malformed response: {reason}")]
    MalformedResponse {
        endpoint: String,
        operation: String,
        reason: String,
    },
}

/// AWS error types that mean "too fast, try later", whatever the status code.
const THROTTLING: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
];

impl AwsError {
    /// AWS's error type of an error answer (`ResourceNotFoundException`, ...).
    pub fn aws_error_type(&self) -> Option<&str> {
        match self {
            AwsError::Service { error_type, .. } => Some(error_type),
            _ => None,
        }
    }

    /// Whether sending the same call again later may succeed: connection failures (and calls
    /// that got no answer on the runtime thread), server
    /// errors (5xx) and throttling (429 or a throttling error type). Configuration,
    /// validation, authentication and missing resources are not, nor is an egress refusal
    /// (the policy will say the same).
    pub fn is_retryable(&self) -> bool {
        match self {
            AwsError::Connection { .. } | AwsError::Runtime { .. } => true,
            AwsError::Service {
                status, error_type, ..
            } => *status >= 500 || *status == 429 || THROTTLING.contains(&error_type.as_str()),
            _ => false,
        }
    }
}

/// AWS's error type and message from an error answer: the JSON body's `__type` (or `code`,
/// without a `namespace#` prefix) and `message` (or `Message`), else the `x-amzn-ErrorType`
/// header (without its `:url` suffix), else `HTTP <status>` and the body as text (at most
/// 512 bytes of it).
pub fn parse_error(status: u16, body: &[u8], header_type: Option<&str>) -> (String, String) {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |names: &[&str]| {
        names.iter().find_map(|n| {
            json.as_ref()
                .and_then(|j| j.get(*n))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        })
    };
    let error_type = field(&["__type", "code", "Code"])
        .map(|t| t.rsplit('#').next().unwrap_or_default().to_owned())
        .filter(|t| !t.is_empty())
        .or_else(|| {
            header_type
                .map(|h| h.split(':').next().unwrap_or_default().trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| format!("HTTP {status}"));
    let message = field(&["message", "Message"]).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let mut end = text.len().min(512);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_owned()
    });
    (error_type, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: u16, body: &[u8], header: Option<&str>) -> AwsError {
        let (error_type, message) = parse_error(status, body, header);
        AwsError::Service {
            endpoint: "http://e/".into(),
            operation: "Op".into(),
            status,
            error_type,
            message,
        }
    }

    #[test]
    fn error_answers_name_the_aws_type_and_message() {
        let (t, m) = parse_error(
            400,
            br#"{"__type":"com.amazonaws.kinesis.v20131202#ResourceNotFoundException","message":"Stream x not found"}"#,
            None,
        );
        assert_eq!(
            (t.as_str(), m.as_str()),
            ("ResourceNotFoundException", "Stream x not found")
        );
        let (t, m) = parse_error(
            403,
            b"<html>denied</html>",
            Some("AccessDeniedException:http://internal.amazon.com/"),
        );
        assert_eq!(
            (t.as_str(), m.as_str()),
            ("AccessDeniedException", "<html>denied</html>")
        );
        // SQS's JSON protocol and DynamoDB spell the message `Message`.
        let (t, m) = parse_error(
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","Message":"no"}"#,
            None,
        );
        assert_eq!(
            (t.as_str(), m.as_str()),
            ("ConditionalCheckFailedException", "no")
        );
        let (t, m) = parse_error(502, b"", None);
        assert_eq!((t.as_str(), m.as_str()), ("HTTP 502", ""));
        let long = "é".repeat(400);
        let (_, m) = parse_error(500, long.as_bytes(), None);
        assert_eq!(m.len(), 512);
    }

    #[test]
    fn throttling_and_server_errors_are_retryable_validation_is_not() {
        for (status, body) in [
            (
                400,
                &br#"{"__type":"ProvisionedThroughputExceededException","message":"slow"}"#[..],
            ),
            (
                400,
                br#"{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}"#,
            ),
            (400, br#"{"__type":"LimitExceededException"}"#),
            (429, b"too many"),
            (500, br#"{"__type":"InternalFailure"}"#),
            (503, b"<html>unavailable</html>"),
        ] {
            let e = service(status, body, None);
            assert!(e.is_retryable(), "{e}");
        }
        for (status, body) in [
            (
                400,
                &br#"{"__type":"ValidationException","message":"1 validation error detected"}"#[..],
            ),
            (400, br#"{"__type":"ResourceNotFoundException"}"#),
            (400, br#"{"__type":"InvalidSignatureException"}"#),
            (403, br#"{"__type":"AccessDeniedException"}"#),
            (404, b""),
        ] {
            let e = service(status, body, None);
            assert!(!e.is_retryable(), "{e}");
        }
        let e = service(
            400,
            br#"{"__type":"ValidationException","message":"bad"}"#,
            None,
        );
        assert_eq!(e.aws_error_type(), Some("ValidationException"));
        assert_eq!(
            e.to_string(),
            "Op at http://e/: HTTP 400: ValidationException: bad"
        );
        let refused = AwsError::Refused {
            endpoint: "http://e/".into(),
            operation: "Op".into(),
            reason: "127.0.0.1 is a loopback address in 127.0.0.0/8".into(),
        };
        assert!(!refused.is_retryable());
        assert_eq!(refused.aws_error_type(), None);
    }
}
