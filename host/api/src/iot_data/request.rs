//! A data-plane request's operation, read from its method, path, query and headers as
//! botocore's `iot-data` model lays them out (rest-json: every input but the payload is in the
//! URI or a header). Pure: no IO, so routing and every refusal are unit tests.
//!
//! Names are checked here only as far as the path needs (present, decodable); the shadow
//! service checks thing and shadow names against the model's patterns itself, with AWS's text.

use axum::http::{HeaderMap, Method};
use base64::Engine as _;
use weir_sigv4::percent_decode;

use super::error::IotError;
use super::{HttpPublish, Mqtt5Properties};

/// AWS IoT's largest message ("Message broker and protocol limits": 128 KB), the limit of a
/// Publish body.
pub(crate) const MAX_PUBLISH_BYTES: usize = 128 * 1024;
/// AWS IoT's longest topic, in UTF-8 bytes.
pub(crate) const MAX_TOPIC_BYTES: usize = 256;
/// The longest message expiry AWS IoT accepts: seven days, in seconds.
pub(crate) const MAX_MESSAGE_EXPIRY_SECS: u64 = 7 * 24 * 3600;

/// Which shadow a request names: a thing and `None` for its classic shadow (`?name=` absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShadowTarget {
    pub(crate) thing: String,
    pub(crate) shadow_name: Option<String>,
}

/// One of the five operations, with everything but the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Operation {
    GetThingShadow(ShadowTarget),
    UpdateThingShadow(ShadowTarget),
    DeleteThingShadow(ShadowTarget),
    ListNamedShadowsForThing {
        thing: String,
        next_token: Option<String>,
        page_size: Option<usize>,
    },
    /// The publish without its payload (the body), which [`Operation::Publish`]'s caller adds.
    Publish(HttpPublish),
}

impl Operation {
    /// The operation's name, for logs.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Operation::GetThingShadow(_) => "GetThingShadow",
            Operation::UpdateThingShadow(_) => "UpdateThingShadow",
            Operation::DeleteThingShadow(_) => "DeleteThingShadow",
            Operation::ListNamedShadowsForThing { .. } => "ListNamedShadowsForThing",
            Operation::Publish(_) => "Publish",
        }
    }

    /// Whether the body is the operation's input; the others have none.
    pub(crate) fn takes_body(&self) -> bool {
        matches!(
            self,
            Operation::UpdateThingShadow(_) | Operation::Publish(_)
        )
    }
}

/// The query's parameters, percent-decoded, in order.
fn query_params(query: Option<&str>) -> Result<Vec<(String, String)>, IotError> {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok(Vec::new());
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            match (percent_decode(k), percent_decode(v)) {
                (Some(k), Some(v)) => Ok((k, v)),
                _ => Err(IotError::invalid(format!(
                    "The query parameter '{p}' is not valid percent-encoded UTF-8"
                ))),
            }
        })
        .collect()
}

/// The first value of `name` in the query.
fn param<'q>(params: &'q [(String, String)], name: &str) -> Option<&'q str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A path segment, percent-decoded.
fn segment(raw: &str, what: &str) -> Result<String, IotError> {
    match percent_decode(raw) {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(IotError::invalid(format!("The {what} is empty"))),
        None => Err(IotError::invalid(format!(
            "The {what} '{raw}' is not valid percent-encoded UTF-8"
        ))),
    }
}

fn not_allowed(method: &Method, path: &str) -> IotError {
    IotError::method_not_allowed(format!(
        "The method {method} is not allowed for the resource {path}"
    ))
}

/// The operation a request names. `path` and `query` are as sent (percent-encoded).
pub(crate) fn parse(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Operation, IotError> {
    let params = query_params(query)?;
    if let Some(raw_topic) = path.strip_prefix("/topics/") {
        if method != Method::POST {
            return Err(not_allowed(method, path));
        }
        // botocore encodes the `topic` label whole (`a%2Fb`); a hand-made request may
        // spell the levels out (`a/b`). Both mean topic `a/b`.
        let topic = segment(raw_topic, "topic")?;
        return publish(topic, &params, headers).map(Operation::Publish);
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["things", thing, "shadow"] => {
            let target = ShadowTarget {
                thing: segment(thing, "thing name")?,
                shadow_name: param(&params, "name")
                    .map(|n| segment(n, "shadow name"))
                    .transpose()?,
            };
            match *method {
                Method::GET => Ok(Operation::GetThingShadow(target)),
                Method::POST => Ok(Operation::UpdateThingShadow(target)),
                Method::DELETE => Ok(Operation::DeleteThingShadow(target)),
                _ => Err(not_allowed(method, path)),
            }
        }
        ["api", "things", "shadow", "ListNamedShadowsForThing", thing] => {
            if method != Method::GET {
                return Err(not_allowed(method, path));
            }
            let page_size = match param(&params, "pageSize") {
                None => None,
                Some(s) => match s.parse::<usize>() {
                    Ok(n) if (1..=weir_shadow::MAX_PAGE_SIZE).contains(&n) => Some(n),
                    _ => {
                        return Err(IotError::invalid(format!(
                            "pageSize must be an integer from 1 to {}; got '{s}'",
                            weir_shadow::MAX_PAGE_SIZE
                        )))
                    }
                },
            };
            Ok(Operation::ListNamedShadowsForThing {
                thing: segment(thing, "thing name")?,
                next_token: param(&params, "nextToken")
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
                page_size,
            })
        }
        _ => Err(IotError::not_found(format!("No operation at {path}"))),
    }
}

/// A topic a message may be published on: MQTT's rules (non-empty, no wildcard, no NUL) and
/// AWS IoT's length limit.
fn check_topic(topic: &str, what: &str) -> Result<(), IotError> {
    if topic.len() > MAX_TOPIC_BYTES {
        return Err(IotError::invalid(format!(
            "The {what} is {} bytes long; the maximum is {MAX_TOPIC_BYTES}",
            topic.len()
        )));
    }
    if topic.contains(['+', '#', '\0']) {
        return Err(IotError::invalid(format!(
            "The {what} '{topic}' contains a wildcard or NUL character; a message is published on one topic"
        )));
    }
    Ok(())
}

/// A header's text, if present.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, IotError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| IotError::invalid(format!("The {name} header is not valid text")))
        })
        .transpose()
}

fn base64_header(headers: &HeaderMap, name: &str) -> Result<Option<Vec<u8>>, IotError> {
    header(headers, name)?
        .map(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .map_err(|_| IotError::invalid(format!("The {name} header is not valid base64")))
        })
        .transpose()
}

/// `x-amz-mqtt5-user-properties`: base64 of a JSON array of objects whose values are strings
/// (`[{"deviceName": "alpha"}, {"deviceCnt": "45"}]`, the model's example), as name/value
/// pairs in order.
fn user_properties(headers: &HeaderMap) -> Result<Vec<(String, String)>, IotError> {
    const NAME: &str = "x-amz-mqtt5-user-properties";
    let Some(raw) = base64_header(headers, NAME)? else {
        return Ok(Vec::new());
    };
    let bad = || {
        IotError::invalid(format!(
            "The {NAME} header must be base64 of a JSON array of objects with string values"
        ))
    };
    let value: serde_json::Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let mut out = Vec::new();
    for item in value.as_array().ok_or_else(bad)? {
        for (k, v) in item.as_object().ok_or_else(bad)? {
            out.push((k.clone(), v.as_str().ok_or_else(bad)?.to_string()));
        }
    }
    Ok(out)
}

/// Publish's inputs other than the payload: `qos` (0 or 1, default 0), `retain`
/// (`true`/`false`, default false) and the MQTT 5 properties in the query and headers.
fn publish(
    topic: String,
    params: &[(String, String)],
    headers: &HeaderMap,
) -> Result<HttpPublish, IotError> {
    check_topic(&topic, "topic")?;
    // AWS IoT's Subscribe-only reserved topics (a shadow's answers, `$aws/events/...`) are
    // the host's own to publish: the broker disconnects a device that publishes there
    // (rumqttd patch 11), and an HTTP publish, which goes through the host's in-process
    // link, must not forge them either.
    if weir_shadow::is_answer_topic(&topic) || topic.starts_with("$aws/events/") {
        return Err(IotError::invalid(format!(
            "The topic '{topic}' is reserved: AWS IoT publishes it, clients may only subscribe to it"
        )));
    }
    let qos = match param(params, "qos") {
        None => 0,
        Some("0") => 0,
        Some("1") => 1,
        Some(q) => return Err(IotError::invalid(format!("qos must be 0 or 1; got '{q}'"))),
    };
    let retain = match param(params, "retain") {
        None => false,
        Some(r) if r.eq_ignore_ascii_case("true") => true,
        Some(r) if r.eq_ignore_ascii_case("false") => false,
        Some(r) => {
            return Err(IotError::invalid(format!(
                "retain must be true or false; got '{r}'"
            )))
        }
    };
    let payload_format_utf8 = match header(headers, "x-amz-mqtt5-payload-format-indicator")? {
        None => None,
        Some("UTF8_DATA") => Some(true),
        Some("UNSPECIFIED_BYTES") => Some(false),
        Some(other) => {
            return Err(IotError::invalid(format!(
                "payloadFormatIndicator must be UTF8_DATA or UNSPECIFIED_BYTES; got '{other}'"
            )))
        }
    };
    let response_topic = param(params, "responseTopic").map(str::to_string);
    if let Some(t) = &response_topic {
        if t.is_empty() {
            return Err(IotError::invalid("The responseTopic is empty"));
        }
        check_topic(t, "responseTopic")?;
    }
    let message_expiry_secs = match param(params, "messageExpiry") {
        None => None,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n <= MAX_MESSAGE_EXPIRY_SECS => Some(n),
            _ => {
                return Err(IotError::invalid(format!(
                    "messageExpiry must be a number of seconds from 0 to {MAX_MESSAGE_EXPIRY_SECS}; got '{s}'"
                )))
            }
        },
    };
    Ok(HttpPublish {
        topic,
        payload: Default::default(),
        qos,
        retain,
        properties: Mqtt5Properties {
            user_properties: user_properties(headers)?,
            payload_format_utf8,
            content_type: param(params, "contentType").map(str::to_string),
            response_topic,
            correlation_data: base64_header(headers, "x-amz-mqtt5-correlation-data")?,
            message_expiry_secs,
        },
    })
}
