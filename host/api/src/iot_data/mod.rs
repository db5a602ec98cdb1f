//! The AWS IoT data-plane REST API (botocore's `iot-data`, signing name `iotdata`), on the same
//! listener as Kinesis and Firehose: `GetThingShadow`, `UpdateThingShadow`,
//! `DeleteThingShadow` (`GET|POST|DELETE /things/{thingName}/shadow?name=`),
//! `ListNamedShadowsForThing` (`GET /api/things/shadow/ListNamedShadowsForThing/{thingName}`)
//! and `Publish` (`POST /topics/{topic}?qos=&retain=`, the body is the payload).
//!
//! Shadows are [`weir_shadow::ShadowService`]'s, the one store the broker's shadow topics
//! use too. A REST update or delete that succeeds is also published where AWS publishes it
//! (`.../update/accepted`, `.../update/delta`, `.../update/documents`, `.../delete/accepted`),
//! so devices subscribed to their shadow see an application's change; a refused one is only
//! the HTTP error ("If the client updates the document using the REST API, then it receives
//! the HTTP error code as part of its response, and no MQTT error messages are emitted",
//! "Device Shadow error messages").
//!
//! Publishing goes through [`MqttPublish`], which the host implements with its broker
//! publisher: this crate never links the broker.
//!
//! Requests are signed as the other APIs' are and verified with the same keys
//! (`sigv4.rs`), over the path as SigV4 canonicalises it for every service but S3: each
//! byte outside the unreserved set encoded once more (`%2F` is signed as `%252F`).

mod error;
mod request;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use weir_shadow::{ShadowReply, ShadowService, ShadowTopic, UpdateOutcome};

use self::error::IotError;
use self::request::{Operation, ShadowTarget, MAX_PUBLISH_BYTES};
use crate::ApiState;

/// MQTT 5 properties of an HTTP publish, as AWS's `Publish` takes them (headers and query).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mqtt5Properties {
    /// `x-amz-mqtt5-user-properties`, name/value pairs in order.
    pub user_properties: Vec<(String, String)>,
    /// `x-amz-mqtt5-payload-format-indicator`: `Some(true)` for `UTF8_DATA`.
    pub payload_format_utf8: Option<bool>,
    /// `contentType`.
    pub content_type: Option<String>,
    /// `responseTopic`.
    pub response_topic: Option<String>,
    /// `x-amz-mqtt5-correlation-data`, base64-decoded.
    pub correlation_data: Option<Vec<u8>>,
    /// `messageExpiry`, seconds.
    pub message_expiry_secs: Option<u64>,
}

impl Mqtt5Properties {
    /// Whether the publish carries no property at all.
    pub fn is_empty(&self) -> bool {
        self == &Mqtt5Properties::default()
    }
}

/// One message to publish on the broker, from `Publish` or a shadow's REST answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPublish {
    pub topic: String,
    pub payload: Bytes,
    /// 0 or 1.
    pub qos: u8,
    pub retain: bool,
    pub properties: Mqtt5Properties,
}

impl HttpPublish {
    /// A shadow's answer document: QoS 1, as the broker's own shadow answers
    /// (`runtime/shadow_topics.rs`), so a QoS 1 subscriber's delta is not shed.
    fn answer(topic: String, payload: Vec<u8>) -> HttpPublish {
        HttpPublish {
            topic,
            payload: Bytes::from(payload),
            qos: 1,
            retain: false,
            properties: Mqtt5Properties::default(),
        }
    }
}

/// Why a publish was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishRefused {
    /// The broker cannot honour something the request asks for (answered as
    /// `InvalidRequestException` with this text).
    #[error("{0}")]
    Unsupported(String),
    /// The broker did not take the message (`InternalFailureException`; the text is logged).
    #[error("{0}")]
    Failed(String),
}

/// The broker side of `Publish`: the host implements it with its MQTT publisher, so a message
/// published over HTTP reaches MQTT subscribers and the rules as one published over MQTT does.
pub trait MqttPublish: Send + Sync {
    /// Publishes one message; returns once the broker has it.
    fn publish(&self, message: &HttpPublish) -> Result<(), PublishRefused>;
}

/// What the data-plane routes serve with; either may be absent (`weir streams serve` has
/// neither, and then the routes are not mounted).
#[derive(Clone, Default)]
pub(crate) struct IotData {
    pub(crate) shadows: Option<Arc<ShadowService>>,
    pub(crate) mqtt: Option<Arc<dyn MqttPublish>>,
}

impl std::fmt::Debug for IotData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IotData")
            .field("shadows", &self.shadows)
            .field("mqtt", &self.mqtt.is_some())
            .finish()
    }
}

impl IotData {
    pub(crate) fn is_served(&self) -> bool {
        self.shadows.is_some() || self.mqtt.is_some()
    }
}

/// The data-plane routes. The handler reads the path itself (`request::parse`), so a wrong
/// method gets AWS's `MethodNotAllowedException` rather than axum's bare 405.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/things/{thing}/shadow", any(handle))
        .route(
            "/api/things/shadow/ListNamedShadowsForThing/{thing}",
            any(handle),
        )
        .route("/topics/{*topic}", any(handle))
}

fn request_id() -> String {
    crate::request_id()
}

/// A JSON answer with AWS's request id headers.
fn json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

/// An error as botocore's rest-json parser reads it: the type in `x-amzn-ErrorType`, the
/// text in the body's `message`.
pub(crate) fn error_response(e: &IotError) -> Response {
    let body = serde_json::json!({ "message": e.message, "traceId": request_id() });
    let mut resp = json(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        body.to_string().into_bytes(),
    );
    resp.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(e.error_type));
    resp
}

/// The path as SigV4 signs it for every service but S3 (botocore's
/// `quote(path, safe='/~')`): each byte outside `A-Za-z0-9-_.~/` percent-encoded, so a
/// percent-encoded path is encoded a second time.
pub(crate) fn canonical_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `uri` with its path in canonical form, for the signature check.
fn signing_uri(uri: &Uri) -> Result<Uri, IotError> {
    let path = canonical_path(uri.path());
    let text = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    text.parse()
        .map_err(|_| IotError::invalid("The request path cannot be read"))
}

/// How many bytes an operation's body may have: a shadow document's limit for updates,
/// AWS IoT's message size for publishes, the control limit for the bodiless others.
fn body_limit(state: &ApiState, op: &Operation) -> usize {
    match op {
        Operation::UpdateThingShadow(_) => state
            .iot
            .shadows
            .as_ref()
            .map_or(MAX_PUBLISH_BYTES, |s| s.limits().max_payload_bytes),
        Operation::Publish(_) => MAX_PUBLISH_BYTES,
        _ => state.config.max_control_body_bytes,
    }
}

/// Reads the body within `limit`, the body deadline and the shared budget.
async fn read_body(
    state: &ApiState,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(Bytes, crate::budget::Held), IotError> {
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(IotError::too_large());
    }
    let collect = state.body_budget.collect(body, declared, limit);
    match tokio::time::timeout(state.config.body_timeout, collect).await {
        Ok(Ok(read)) => Ok(read),
        Ok(Err(crate::budget::Refused::TooLarge)) => Err(IotError::too_large()),
        Ok(Err(crate::budget::Refused::Budget)) => Err(IotError::unavailable(format!(
            "The service is busy: request bodies in progress fill its {}-byte budget. Back off and retry the operation.",
            state.body_budget.total()
        ))),
        Ok(Err(crate::budget::Refused::Broken)) => {
            Err(IotError::invalid("The request body could not be read"))
        }
        Err(_) => Err(IotError::invalid(format!(
            "The request body did not arrive within {} ms",
            state.config.body_timeout.as_millis()
        ))),
    }
}

async fn handle(State(state): State<ApiState>, request: Request) -> Response {
    match answer(state, request).await {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    }
}

async fn answer(state: ApiState, request: Request) -> Result<Response, IotError> {
    let (parts, body) = request.into_parts();
    let (method, uri, mut headers) = (parts.method, parts.uri, parts.headers);
    // HTTP/2 carries the host as `:authority`, which SigV4 signs as `host`.
    if !headers.contains_key("host") {
        if let Some(v) = uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            headers.insert("host", v);
        }
    }
    let now = weir_support::now_ms() / 1000;
    let signed = crate::sigv4::check_headers(
        &method,
        &signing_uri(&uri)?,
        &headers,
        &state.config.keys,
        now,
    )
    .map_err(|e| IotError::from(&e))?;
    let op = request::parse(&method, uri.path(), uri.query(), &headers)?;
    let limit = body_limit(&state, &op);
    let (body, _held) = read_body(&state, &headers, body, limit).await?;
    signed.verify(&body).map_err(|e| IotError::from(&e))?;
    if !op.takes_body() && !body.is_empty() {
        tracing::debug!(
            operation = op.name(),
            "ignoring the body of a bodiless operation"
        );
    }
    let name = op.name();
    match tokio::task::spawn_blocking(move || run(&state.iot, op, body)).await {
        Ok(result) => result.map(|bytes| json(StatusCode::OK, bytes)),
        Err(join) => {
            tracing::error!(operation = name, error = %join, "iot-data request task failed");
            Err(IotError::internal())
        }
    }
}

fn shadows(iot: &IotData) -> Result<&ShadowService, IotError> {
    iot.shadows
        .as_deref()
        .ok_or_else(|| IotError::unavailable("This Weir serves no Device Shadow store"))
}

fn to_json(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// Performs one operation (blocking: shadow writes are fsync'd, a publish may wait for the
/// broker) and returns the response body.
pub(crate) fn run(iot: &IotData, op: Operation, body: Bytes) -> Result<Vec<u8>, IotError> {
    let now_ms = weir_support::now_ms();
    match op {
        Operation::GetThingShadow(t) => shadows(iot)?
            .get(&t.thing, t.shadow_name.as_deref(), None, now_ms)
            .map(|doc| to_json(&doc))
            .map_err(|e| IotError::from(&e)),
        Operation::UpdateThingShadow(t) => {
            let outcome = shadows(iot)?
                .update(&t.thing, t.shadow_name.as_deref(), &body, now_ms)
                .map_err(|e| IotError::from(&e))?;
            announce_update(iot, &t, &outcome);
            Ok(to_json(&outcome.accepted))
        }
        Operation::DeleteThingShadow(t) => {
            let doc = shadows(iot)?
                .delete(&t.thing, t.shadow_name.as_deref(), None, now_ms)
                .map_err(|e| IotError::from(&e))?;
            let topic = shadow_topic(&t, weir_shadow::ShadowOp::Delete);
            announce(iot, vec![(topic.reply(ShadowReply::Accepted), &doc)]);
            Ok(to_json(&doc))
        }
        Operation::ListNamedShadowsForThing {
            thing,
            next_token,
            page_size,
        } => shadows(iot)?
            .list_named(&thing, next_token.as_deref(), page_size, now_ms)
            .map(|page| to_json(&page.to_json()))
            .map_err(|e| IotError::from(&e)),
        Operation::Publish(mut message) => {
            let Some(mqtt) = &iot.mqtt else {
                return Err(IotError::unavailable(
                    "This Weir has no broker to publish to",
                ));
            };
            if message.properties.payload_format_utf8 == Some(true)
                && std::str::from_utf8(&body).is_err()
            {
                return Err(IotError::invalid(
                    "The payload is not UTF-8 but payloadFormatIndicator is UTF8_DATA",
                ));
            }
            message.payload = body;
            match mqtt.publish(&message) {
                Ok(()) => Ok(to_json(
                    &serde_json::json!({ "message": "OK", "traceId": request_id() }),
                )),
                Err(PublishRefused::Unsupported(why)) => Err(IotError::invalid(why)),
                Err(PublishRefused::Failed(why)) => {
                    tracing::error!(topic = %message.topic, error = %why, "HTTP publish failed");
                    Err(IotError::internal())
                }
            }
        }
    }
}

fn shadow_topic(t: &ShadowTarget, op: weir_shadow::ShadowOp) -> ShadowTopic<'_> {
    ShadowTopic {
        thing: &t.thing,
        shadow_name: t.shadow_name.as_deref(),
        op,
    }
}

/// An accepted REST update's MQTT documents, where the broker's own update would send them.
fn announce_update(iot: &IotData, t: &ShadowTarget, outcome: &UpdateOutcome) {
    let topic = shadow_topic(t, weir_shadow::ShadowOp::Update);
    let mut docs = vec![(topic.reply(ShadowReply::Accepted), &outcome.accepted)];
    if let Some(delta) = &outcome.delta {
        docs.push((topic.reply(ShadowReply::Delta), delta));
    }
    docs.push((topic.reply(ShadowReply::Documents), &outcome.documents));
    announce(iot, docs);
}

/// Publishes answer documents; the shadow is already stored, so a broker that does not take
/// them is logged, not answered with an error.
fn announce(iot: &IotData, docs: Vec<(String, &serde_json::Value)>) {
    let Some(mqtt) = &iot.mqtt else { return };
    for (topic, doc) in docs {
        if let Err(e) = mqtt.publish(&HttpPublish::answer(topic.clone(), to_json(doc))) {
            tracing::warn!(%topic, error = %e, "a shadow answer could not be published");
        }
    }
}
