//! The Kinesis-compatible HTTP API.
//!
//! `POST /` with `X-Amz-Target: Kinesis_20131202.<Action>`, bodies in
//! `application/x-amz-json-1.1` (boto3, the AWS CLI) or `application/x-amz-cbor-1.1` (the
//! Java SDK, KPL and KCL), answers in the same encoding, errors as
//! `{"__type": ..., "message": ...}`. The host mounts [`router`] next to `/metrics`.
//! Invariant: no engine type appears on the wire; `actions` shapes plain values.

// Private but for `admin` (the host implements its trait): the API is what the root
// exports, so the compiler can tell when something inside is no longer used.
mod actions;
pub mod admin;
mod analytics;
mod budget;
mod error;
mod eventstream;
mod fanout;
mod firehose;
mod firehose_config;
mod iot_data;
mod iot_rules;
mod request;
mod serve;
pub mod sigv4;
mod value;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use self::actions::Action;
use self::error::{ApiError, ErrorKind};
use self::value::Val;
pub use analytics::runner as analytics_runner;
pub use analytics::{Analytics, AnalyticsOperation, CatalogError as AnalyticsCatalogError};
pub use fanout::FanOutTiming;
pub use iot_data::{HttpPublish, Mqtt5Properties, MqttPublish, PublishRefused};
pub use iot_rules::{
    RuleApiError, RuleCatalog, RuleErrorKind, RuleListEntry, RuleTag, SharedRuleCatalog,
    MAX_TAGS as MAX_RULE_TAGS,
};
pub use serve::{serve, ServerLimits};
use weir_streams::Streams;

/// API options.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest record (data + partition key), 1 MiB as on AWS by default.
    pub max_record_bytes: usize,
    /// Access key id -> secret. Empty: accept any SigV4-signed request.
    pub keys: HashMap<String, String>,
    /// Largest HTTP body of a data action, PutRecord(s): 10 MiB of data as base64 plus JSON
    /// overhead.
    pub max_body_bytes: usize,
    /// Largest HTTP body of every other action: their parameters are names, numbers, tags.
    pub max_control_body_bytes: usize,
    /// Longest a client may take to send a body.
    pub body_timeout: std::time::Duration,
    /// Bytes of request bodies held at once across every connection and stream (Kinesis
    /// and Firehose); a body that does not fit gets 503 `ServiceUnavailableException`.
    pub body_budget_bytes: usize,
    /// SubscribeToShard's lifetime and idle heartbeat.
    pub fan_out: FanOutTiming,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_record_bytes: 1024 * 1024,
            keys: HashMap::new(),
            max_body_bytes: 16 * 1024 * 1024,
            max_control_body_bytes: 64 * 1024,
            body_timeout: std::time::Duration::from_secs(30),
            body_budget_bytes: 256 * 1024 * 1024,
            fan_out: FanOutTiming::default(),
        }
    }
}

/// What the router's handlers share.
#[derive(Clone, Debug)]
pub struct ApiState {
    pub streams: Streams,
    pub config: Arc<ApiConfig>,
    /// The Firehose service on the same listener; without it Firehose targets are unknown
    /// operations.
    pub firehose: Option<weir_firehose::Firehose>,
    /// AWS IoT's rules API (`/rules...`, `iot_rules`); without it those paths are 404.
    pub rules: Option<SharedRuleCatalog>,
    /// The Kinesis Data Analytics applications (`analytics/`); without them those targets
    /// are unknown operations.
    pub analytics: Option<Analytics>,
    /// `config.body_budget_bytes`, shared by every request.
    body_budget: budget::BodyBudget,
    /// The IoT data plane's shadows and broker (`iot_data/`); its routes are mounted when
    /// either is there.
    iot: iot_data::IotData,
}

impl ApiState {
    pub fn new(streams: Streams, config: ApiConfig) -> Self {
        ApiState {
            streams,
            body_budget: budget::BodyBudget::new(config.body_budget_bytes),
            config: Arc::new(config),
            firehose: None,
            rules: None,
            analytics: None,
            iot: iot_data::IotData::default(),
        }
    }

    /// Serves AWS IoT's rules API over `catalog` next to Kinesis.
    pub fn with_rules(mut self, catalog: SharedRuleCatalog) -> Self {
        self.rules = Some(catalog);
        self
    }

    /// Serves the Kinesis Data Analytics application API over `analytics`.
    pub fn with_analytics(mut self, analytics: Analytics) -> Self {
        self.analytics = Some(analytics);
        self
    }

    /// Serves the Firehose API next to Kinesis.
    pub fn with_firehose(mut self, firehose: weir_firehose::Firehose) -> Self {
        self.firehose = Some(firehose);
        self
    }

    /// Serves the IoT data plane's shadow operations (`GetThingShadow`, ...) from `shadows`.
    pub fn with_shadows(mut self, shadows: Arc<weir_shadow::ShadowService>) -> Self {
        self.iot.shadows = Some(shadows);
        self
    }

    /// Serves the IoT data plane's `Publish` through `mqtt`, which also carries the MQTT
    /// answers of REST shadow updates.
    pub fn with_mqtt(mut self, mqtt: Arc<dyn MqttPublish>) -> Self {
        self.iot.mqtt = Some(mqtt);
        self
    }
}

/// A request's operation: Kinesis, Firehose or Kinesis Data Analytics, told apart by the
/// target's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Kinesis(Action),
    Firehose(firehose::FirehoseOperation),
    Analytics(AnalyticsOperation),
}

impl Op {
    fn from_target(state: &ApiState, target: &str) -> Option<Op> {
        if let Some(a) = Action::from_target(target) {
            return Some(Op::Kinesis(a));
        }
        if state.analytics.is_some() {
            if let Some(a) = AnalyticsOperation::from_target(target) {
                return Some(Op::Analytics(a));
            }
        }
        state.firehose.as_ref()?;
        firehose::FirehoseOperation::from_target(target).map(Op::Firehose)
    }

    fn carries_data(self) -> bool {
        match self {
            Op::Kinesis(a) => a.carries_data(),
            Op::Firehose(a) => a.carries_data(),
            Op::Analytics(_) => false,
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Kinesis(a) => write!(f, "{a:?}"),
            Op::Firehose(a) => write!(f, "{a:?}"),
            Op::Analytics(a) => write!(f, "{a:?}"),
        }
    }
}

/// The Kinesis API as an axum router. Bodies are read by the handler, within the action's
/// size limit and the body deadline, so axum's own limit is off.
pub fn router(state: ApiState) -> Router {
    let mut router = Router::new()
        .route("/", post(handle))
        .merge(iot_rules::routes());
    if state.iot.is_served() {
        router = router.merge(iot_data::routes());
    }
    router.layer(DefaultBodyLimit::disable()).with_state(state)
}

/// A plain HTTP refusal for a body that is too large or too slow: it comes before the
/// request is understood, as a front end would answer.
fn refuse_body(status: StatusCode, message: String) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp.headers_mut()
        .insert("connection", HeaderValue::from_static("close"));
    resp
}

/// Reads the body within `limit` bytes, the configured deadline and the shared body budget
/// (`budget.rs`); a declared `Content-Length` over the limit is refused before a byte of
/// the body is read. The budget is held until the returned [`budget::Held`] is dropped.
async fn read_body(
    state: &ApiState,
    enc: Encoding,
    action: Op,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, budget::Held), Response> {
    let config = &state.config;
    let limit = if action.carries_data() {
        config.max_body_bytes
    } else {
        config.max_control_body_bytes
    };
    let too_large = |n: String| {
        refuse_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body ({n} bytes) is over the {limit}-byte limit of {action}"),
        )
    };
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared {
        if n > limit as u64 {
            return Err(too_large(n.to_string()));
        }
    }
    let collect = state.body_budget.collect(body, declared, limit);
    match tokio::time::timeout(config.body_timeout, collect).await {
        Ok(Ok(read)) => Ok(read),
        Ok(Err(budget::Refused::Budget)) => {
            tracing::debug!(%action, "request body refused: the body budget is full");
            let mut resp = error_response(
                enc,
                &ApiError::new(
                    ErrorKind::ServiceUnavailable,
                    format!(
                        "The service is busy: request bodies in progress fill its {}-byte budget. Back off and retry the operation.",
                        state.body_budget.total()
                    ),
                ),
            );
            resp.headers_mut()
                .insert("connection", HeaderValue::from_static("close"));
            Err(resp)
        }
        Ok(Err(budget::Refused::TooLarge)) => Err(too_large("more than that".to_owned())),
        Ok(Err(budget::Refused::Broken)) => Err(refuse_body(
            StatusCode::BAD_REQUEST,
            "the request body could not be read".to_owned(),
        )),
        Err(_) => Err(refuse_body(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} ms",
                config.body_timeout.as_millis()
            ),
        )),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Json,
    Cbor,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/x-amz-json-1.1",
            Encoding::Cbor => "application/x-amz-cbor-1.1",
        }
    }
}

fn request_id() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn respond(enc: Encoding, status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static(enc.content_type()));
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        h.insert("x-amzn-requestid", v.clone());
        h.insert("x-amz-id-2", v);
    }
    resp
}

/// An error's status and encoded body. Protocol errors (the request was not understood as
/// an action) carry only `__type`, as AWS sends them; the others add `message`.
fn error_body(enc: Encoding, e: &ApiError) -> (u16, Vec<u8>) {
    let mut fields = vec![("__type", value::s(e.kind.code()))];
    if !e.kind.is_protocol() {
        fields.push(("message", value::s(e.message.clone())));
    }
    let body = value::map(fields);
    let bytes = match enc {
        Encoding::Json => value::to_json(&body),
        Encoding::Cbor => value::to_cbor(&body),
    };
    (e.kind.status(), bytes)
}

fn error_response(enc: Encoding, e: &ApiError) -> Response {
    let (status, bytes) = error_body(enc, e);
    respond(
        enc,
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        bytes,
    )
}

async fn handle(State(state): State<ApiState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri, mut headers) = (parts.method, parts.uri, parts.headers);
    // HTTP/2 carries the host as the `:authority` pseudo-header, which SigV4 signs as `host`.
    if !headers.contains_key("host") {
        if let Some(v) = uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            headers.insert("host", v);
        }
    }
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let enc = if ctype.starts_with("application/x-amz-cbor") {
        Encoding::Cbor
    } else {
        Encoding::Json
    };
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(action) = Op::from_target(&state, target) else {
        return error_response(enc, &ApiError::new(ErrorKind::UnknownOperation, ""));
    };
    // What the headers decide comes before the body is read, so a request they condemn
    // costs no body (and no share of the budget).
    let now = weir_support::now_ms() / 1000;
    let signed = match sigv4::check_headers(&method, &uri, &headers, &state.config.keys, now) {
        Ok(pending) => pending,
        Err(e) => {
            let mut resp = error_response(enc, &e);
            resp.headers_mut()
                .insert("connection", HeaderValue::from_static("close"));
            return resp;
        }
    };
    // `_held` keeps the body's bytes in the budget until the answer is made.
    let (body, _held) = match read_body(&state, enc, action, &headers, body).await {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    if let Err(e) = signed.verify(&body) {
        return error_response(enc, &e);
    }
    if action == Op::Kinesis(Action::SubscribeToShard) {
        return match fanout::subscribe_to_shard(&state, enc, &body) {
            Ok(resp) => resp,
            Err(e) => error_response(enc, &e),
        };
    }
    let result = tokio::task::spawn_blocking(move || run(&state, enc, action, &body)).await;
    match result {
        Ok(Ok(bytes)) => respond(enc, StatusCode::OK, bytes),
        Ok(Err(e)) => error_response(enc, &e),
        Err(join) => {
            tracing::error!(error = %join, "request task failed");
            error_response(
                enc,
                &ApiError::new(ErrorKind::InternalFailure, "Internal Service Failure"),
            )
        }
    }
}

/// One request without HTTP: its `Content-Type`, `X-Amz-Target` and `Authorization` values
/// and its body, through what the handler does after reading the body (signature check
/// against `state`'s keys, target, decoding, validation, the action). Returns the status and
/// the encoded answer. For the fuzz target (`host/fuzz/fuzz_targets/api_request.rs`) and its
/// corpus replay: whatever the bytes, this answers; it never panics.
pub fn handle_bytes(
    state: &ApiState,
    content_type: &str,
    target: &str,
    authorization: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let enc = if content_type.starts_with("application/x-amz-cbor") {
        Encoding::Cbor
    } else {
        Encoding::Json
    };
    let encode_err = |e: &ApiError| error_body(enc, e);
    let Some(action) = Op::from_target(state, target) else {
        return encode_err(&ApiError::new(ErrorKind::UnknownOperation, ""));
    };
    let mut headers = HeaderMap::new();
    for (name, v) in [
        ("authorization", authorization),
        ("x-amz-date", "20260101T000000Z"),
        ("host", "localhost"),
    ] {
        if let Ok(v) = HeaderValue::from_str(v) {
            headers.insert(name, v);
        }
    }
    let uri = Uri::from_static("/");
    let now = weir_support::now_ms() / 1000;
    if let Err(e) = sigv4::check(&Method::POST, &uri, &headers, body, &state.config.keys, now) {
        return encode_err(&e);
    }
    match run(state, enc, action, body) {
        Ok(bytes) => (200, bytes),
        Err(e) => encode_err(&e),
    }
}

/// Decodes a request body; an empty one is an empty structure.
fn parse_body(enc: Encoding, body: &[u8]) -> Result<Val, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Val::Map(Vec::new()));
    }
    match enc {
        Encoding::Json => value::from_json(body),
        Encoding::Cbor => value::from_cbor(body),
    }
    .map_err(|e| ApiError::serialization(format!("Unable to parse the request body: {e}")))
}

fn run(state: &ApiState, enc: Encoding, action: Op, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let parsed = parse_body(enc, body)?;
    let out = match action {
        Op::Kinesis(a) => actions::dispatch(state, a, &parsed)?,
        Op::Firehose(a) => match &state.firehose {
            Some(fh) => firehose::dispatch(fh, a, &parsed)?,
            None => return Err(ApiError::new(ErrorKind::UnknownOperation, "")),
        },
        Op::Analytics(a) => match &state.analytics {
            Some(an) => analytics::dispatch(state, an, a, &parsed)?,
            None => return Err(ApiError::new(ErrorKind::UnknownOperation, "")),
        },
    };
    Ok(match enc {
        Encoding::Json => value::to_json(&out),
        Encoding::Cbor => value::to_cbor(&out),
    })
}
