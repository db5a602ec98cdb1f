//! AWS IoT's rules API (the `iot` control plane's topic-rule operations) on the API's
//! listener, so boto3's `iot` client and `aws iot ... --endpoint-url` manage Weir's rules.
//!
//! AWS's REST-JSON protocol (botocore's `iot` model, `protocol: rest-json`): the operation is
//! the method and path, the rule name a path segment, `ListTopicRules`' parameters the query
//! string, and an error is its status with `x-amzn-ErrorType` and `{"message": ...}`.
//!
//! | operation | request |
//! |---|---|
//! | CreateTopicRule | `POST /rules/{ruleName}`, body `TopicRulePayload`, `x-amz-tagging` |
//! | GetTopicRule | `GET /rules/{ruleName}` |
//! | ListTopicRules | `GET /rules?topic=&maxResults=&nextToken=&ruleDisabled=` |
//! | ReplaceTopicRule | `PATCH /rules/{ruleName}`, body `TopicRulePayload` |
//! | DeleteTopicRule | `DELETE /rules/{ruleName}` |
//! | EnableTopicRule | `POST /rules/{ruleName}/enable` |
//! | DisableTopicRule | `POST /rules/{ruleName}/disable` |
//! | ListTagsForResource | `GET /tags?resourceArn=` (a rule's ARN) |
//! | TagResource | `POST /tags`, body `{"resourceArn", "tags": [{"Key", "Value"}]}` |
//! | UntagResource | `POST /untag`, body `{"resourceArn", "tagKeys": [...]}` |
//!
//! The tag operations serve rules only (what Terraform reads back after creating one).
//!
//! This crate knows the wire format only: what a rule is, where it is stored and how it runs
//! is the host's, behind [`RuleCatalog`] (so `weir-api` never depends on the runtime or on
//! `weir-config`). Requests are SigV4-checked like the Kinesis API's.

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::budget::Refused;
use crate::ApiState;

/// Largest `maxResults` AWS accepts, and the page size when a request names none.
pub const MAX_LIST_RESULTS: usize = 10_000;

/// Most tags a resource may have (AWS IoT's quota).
pub const MAX_TAGS: usize = 50;

/// A tag: its key and its value (AWS's `Value` is optional).
pub type RuleTag = (String, Option<String>);

/// Largest request body: a `TopicRulePayload` (AWS bounds the SQL, ten actions and their
/// templates; 64 KiB holds any of them).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// AWS's error types for the rules API, with their HTTP statuses (botocore's `iot` model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleErrorKind {
    /// The SQL does not parse (400).
    SqlParse,
    /// A malformed or unsupported request (400).
    InvalidRequest,
    /// CreateTopicRule of a name that is taken (409).
    ResourceAlreadyExists,
    /// AWS's answer for a rule that does not exist (401).
    Unauthorized,
    /// Another update of the same rule is under way (409).
    ConflictingResourceUpdate,
    /// The tag operations' answer for a resource that does not exist (404).
    ResourceNotFound,
    /// Over a quota, e.g. [`MAX_TAGS`] (410).
    LimitExceeded,
    /// The rules could not be applied or stored now (503).
    ServiceUnavailable,
    /// A fault of the service (500).
    Internal,
}

impl RuleErrorKind {
    /// The `x-amzn-ErrorType` name.
    pub fn code(self) -> &'static str {
        match self {
            RuleErrorKind::SqlParse => "SqlParseException",
            RuleErrorKind::InvalidRequest => "InvalidRequestException",
            RuleErrorKind::ResourceAlreadyExists => "ResourceAlreadyExistsException",
            RuleErrorKind::Unauthorized => "UnauthorizedException",
            RuleErrorKind::ConflictingResourceUpdate => "ConflictingResourceUpdateException",
            RuleErrorKind::ResourceNotFound => "ResourceNotFoundException",
            RuleErrorKind::LimitExceeded => "LimitExceededException",
            RuleErrorKind::ServiceUnavailable => "ServiceUnavailableException",
            RuleErrorKind::Internal => "InternalException",
        }
    }

    /// The HTTP status botocore's model gives the type.
    pub fn status(self) -> u16 {
        match self {
            RuleErrorKind::SqlParse | RuleErrorKind::InvalidRequest => 400,
            RuleErrorKind::Unauthorized => 401,
            RuleErrorKind::ResourceNotFound => 404,
            RuleErrorKind::LimitExceeded => 410,
            RuleErrorKind::ResourceAlreadyExists | RuleErrorKind::ConflictingResourceUpdate => 409,
            RuleErrorKind::Internal => 500,
            RuleErrorKind::ServiceUnavailable => 503,
        }
    }
}

/// A refused rules API call: AWS's type and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.code())]
pub struct RuleApiError {
    /// AWS's error type.
    pub kind: RuleErrorKind,
    /// The `message` member.
    pub message: String,
}

impl RuleApiError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: RuleErrorKind, message: impl Into<String>) -> Self {
        RuleApiError {
            kind,
            message: message.into(),
        }
    }
}

/// One rule as ListTopicRules sees it: what the API filters and pages on, and the
/// `TopicRuleListItem` it answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleListEntry {
    /// The rule's name (the list is answered in name order).
    pub name: String,
    /// Its FROM clause's topic filter, what the `topic` parameter selects on.
    pub topic_pattern: String,
    /// Whether it is disabled, what `ruleDisabled` selects on.
    pub disabled: bool,
    /// The `TopicRuleListItem` JSON.
    pub item: Value,
}

/// The rules the API manages, implemented by the host (its file's rules beside the API's,
/// persisted and applied to the running rules). Every method may block (storage, a plan
/// rebuild): the API calls them off its async threads.
pub trait RuleCatalog: Send + Sync + fmt::Debug {
    /// CreateTopicRule: `payload` is the request body (a `TopicRulePayload` as JSON), `tags`
    /// those of the `x-amz-tagging` header (`k=v&k2=v2`, decoded).
    fn create(&self, name: &str, payload: &[u8], tags: &[RuleTag]) -> Result<(), RuleApiError>;
    /// ReplaceTopicRule.
    fn replace(&self, name: &str, payload: &[u8]) -> Result<(), RuleApiError>;
    /// DeleteTopicRule.
    fn delete(&self, name: &str) -> Result<(), RuleApiError>;
    /// EnableTopicRule (`true`) and DisableTopicRule (`false`).
    fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), RuleApiError>;
    /// GetTopicRule's answer (`{"ruleArn": ..., "rule": {...}}`).
    fn get(&self, name: &str) -> Result<Value, RuleApiError>;
    /// Every rule, file and API alike.
    fn list(&self) -> Result<Vec<RuleListEntry>, RuleApiError>;
    /// ListTagsForResource of rule `name`, in key order (`ResourceNotFound` if there is none).
    fn tags(&self, name: &str) -> Result<Vec<RuleTag>, RuleApiError>;
    /// TagResource (`add`, replacing the values of keys it has) and UntagResource (`remove`)
    /// of rule `name`.
    fn retag(&self, name: &str, add: &[RuleTag], remove: &[String]) -> Result<(), RuleApiError>;
}

/// The catalog as the API state holds it.
pub type SharedRuleCatalog = Arc<dyn RuleCatalog>;

/// The routes, served only when the state has a catalog.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/rules", any(handle))
        .route("/rules/{*rest}", any(handle))
        .route("/tags", any(handle))
        .route("/untag", any(handle))
}

/// One operation, as told by the method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Operation {
    Create(String),
    Get(String),
    List,
    Replace(String),
    Delete(String),
    SetEnabled(String, bool),
    ListTags,
    Tag,
    Untag,
}

impl Operation {
    /// The operation of `method` on `path`, `None` for a path or method the API does not
    /// serve (a 404 / 405, as AWS's front end answers them).
    fn parse(method: &Method, path: &str) -> Result<Operation, (StatusCode, &'static str)> {
        let not_found = (StatusCode::NOT_FOUND, "no such resource");
        let not_allowed = (StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        match (path, method) {
            ("/tags", &Method::GET) => return Ok(Operation::ListTags),
            ("/tags", &Method::POST) => return Ok(Operation::Tag),
            ("/untag", &Method::POST) => return Ok(Operation::Untag),
            ("/tags" | "/untag", _) => return Err(not_allowed),
            _ => {}
        }
        let rest = path.strip_prefix("/rules").unwrap_or_default();
        let segments: Vec<&str> = rest.split('/').skip(1).collect();
        match segments.as_slice() {
            [] | [""] if rest.is_empty() || rest == "/" => match *method {
                Method::GET => Ok(Operation::List),
                _ => Err(not_allowed),
            },
            [name] if !name.is_empty() => {
                let name = (*name).to_owned();
                match *method {
                    Method::POST => Ok(Operation::Create(name)),
                    Method::GET => Ok(Operation::Get(name)),
                    Method::PATCH => Ok(Operation::Replace(name)),
                    Method::DELETE => Ok(Operation::Delete(name)),
                    _ => Err(not_allowed),
                }
            }
            [name, verb @ ("enable" | "disable")] if !name.is_empty() => match *method {
                Method::POST => Ok(Operation::SetEnabled((*name).to_owned(), *verb == "enable")),
                _ => Err(not_allowed),
            },
            _ => Err(not_found),
        }
    }
}

/// A REST-JSON error answer: the status of its type, `x-amzn-ErrorType` and `message`.
fn error_response(e: &RuleApiError) -> Response {
    let status = StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
    respond_json(
        status,
        Some(e.kind.code()),
        json!({ "message": e.message }).to_string(),
    )
}

/// A signature or body refusal from the shared checks, in this protocol's form (403 for
/// authentication, as AWS's REST front end answers it).
fn api_error_response(e: &crate::error::ApiError) -> Response {
    use crate::error::ErrorKind;
    let status = match e.kind {
        ErrorKind::MissingAuthenticationToken
        | ErrorKind::IncompleteSignature
        | ErrorKind::InvalidSignature
        | ErrorKind::UnrecognizedClient => StatusCode::FORBIDDEN,
        ErrorKind::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::InternalFailure => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    respond_json(
        status,
        Some(e.kind.code()),
        json!({ "message": e.message }).to_string(),
    )
}

fn respond_json(status: StatusCode, error_type: Option<&str>, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(t) = error_type.and_then(|t| HeaderValue::from_str(t).ok()) {
        h.insert("x-amzn-errortype", t);
    }
    if let Ok(v) = HeaderValue::from_str(&crate::request_id()) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

async fn handle(State(state): State<ApiState>, request: Request) -> Response {
    let Some(catalog) = state.rules.clone() else {
        return respond_json(
            StatusCode::NOT_FOUND,
            None,
            json!({"message": "no rules API"}).to_string(),
        );
    };
    let (parts, body) = request.into_parts();
    let (method, uri, mut headers) = (parts.method, parts.uri, parts.headers);
    if !headers.contains_key("host") {
        if let Some(v) = uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            headers.insert("host", v);
        }
    }
    let op = match Operation::parse(&method, uri.path()) {
        Ok(op) => op,
        Err((status, message)) => {
            return respond_json(status, None, json!({ "message": message }).to_string())
        }
    };
    let now = weir_support::now_ms() / 1000;
    let signed = match crate::sigv4::check_headers(&method, &uri, &headers, &state.config.keys, now)
    {
        Ok(pending) => pending,
        Err(e) => return api_error_response(&e),
    };
    let (body, _held) = match read_body(&state, &headers, body).await {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    if let Err(e) = signed.verify(&body) {
        return api_error_response(&e);
    }
    let query = uri.query().unwrap_or_default().to_owned();
    let tags = match headers.get("x-amz-tagging").map(|v| v.to_str()) {
        None => Vec::new(),
        Some(Ok(text)) => match parse_tagging(text) {
            Ok(tags) => tags,
            Err(e) => return error_response(&e),
        },
        Some(Err(_)) => {
            return error_response(&RuleApiError::new(
                RuleErrorKind::InvalidRequest,
                "x-amz-tagging is not text",
            ))
        }
    };
    let result =
        tokio::task::spawn_blocking(move || run(catalog.as_ref(), &op, &body, &tags, &query)).await;
    match result {
        Ok(Ok(body)) => respond_json(StatusCode::OK, None, body),
        Ok(Err(e)) => error_response(&e),
        Err(join) => {
            tracing::error!(error = %join, "rules API task failed");
            error_response(&RuleApiError::new(
                RuleErrorKind::Internal,
                "Internal Service Failure",
            ))
        }
    }
}

/// Reads the body within [`MAX_BODY_BYTES`], the body deadline and the shared body budget.
async fn read_body(
    state: &ApiState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(axum::body::Bytes, crate::budget::Held), Response> {
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        error_response(&RuleApiError::new(
            RuleErrorKind::InvalidRequest,
            format!("the request body is over the {MAX_BODY_BYTES}-byte limit"),
        ))
    };
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    // An operation without a body still reads what came: the signature covers it.
    let collect = state.body_budget.collect(body, declared, MAX_BODY_BYTES);
    match tokio::time::timeout(state.config.body_timeout, collect).await {
        Ok(Ok(read)) => Ok(read),
        Ok(Err(Refused::TooLarge)) => Err(too_large()),
        Ok(Err(Refused::Budget)) => Err(error_response(&RuleApiError::new(
            RuleErrorKind::ServiceUnavailable,
            "The service is busy: request bodies in progress fill its budget. Back off and retry.",
        ))),
        Ok(Err(Refused::Broken)) => Err(error_response(&RuleApiError::new(
            RuleErrorKind::InvalidRequest,
            "the request body could not be read",
        ))),
        Err(_) => Err(error_response(&RuleApiError::new(
            RuleErrorKind::InvalidRequest,
            "the request body did not arrive in time",
        ))),
    }
}

/// Runs one operation against the catalog; the answer's JSON body on success.
fn run(
    catalog: &dyn RuleCatalog,
    op: &Operation,
    body: &[u8],
    tags: &[RuleTag],
    query: &str,
) -> Result<String, RuleApiError> {
    match op {
        Operation::Create(name) => catalog.create(name, body, tags).map(|()| String::new()),
        Operation::Replace(name) => catalog.replace(name, body).map(|()| String::new()),
        Operation::Delete(name) => catalog.delete(name).map(|()| String::new()),
        Operation::SetEnabled(name, on) => catalog.set_enabled(name, *on).map(|()| String::new()),
        Operation::Get(name) => catalog.get(name).map(|v| v.to_string()),
        Operation::List => {
            let params = ListParams::parse(query)?;
            let page = params.page(catalog.list()?)?;
            Ok(page.to_string())
        }
        Operation::ListTags => {
            let arn = query
                .split('&')
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| *k == "resourceArn")
                .and_then(|(_, v)| percent_decode(v))
                .ok_or_else(|| invalid("resourceArn is required"))?;
            let tags: Vec<Value> = catalog
                .tags(rule_of_arn(&arn)?)?
                .into_iter()
                .map(|(k, v)| match v {
                    Some(v) => json!({"Key": k, "Value": v}),
                    None => json!({ "Key": k }),
                })
                .collect();
            Ok(json!({ "tags": tags }).to_string())
        }
        Operation::Tag | Operation::Untag => {
            let doc: Value = serde_json::from_slice(body)
                .map_err(|e| invalid(format!("the body is not JSON: {e}")))?;
            let arn = doc["resourceArn"]
                .as_str()
                .ok_or_else(|| invalid("resourceArn is required"))?;
            let name = rule_of_arn(arn)?;
            if *op == Operation::Tag {
                catalog.retag(name, &tag_list(&doc["tags"])?, &[])?;
            } else {
                let keys = doc["tagKeys"]
                    .as_array()
                    .and_then(|keys| {
                        keys.iter()
                            .map(|k| k.as_str().map(str::to_owned))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| invalid("tagKeys must be a list of strings"))?;
                catalog.retag(name, &[], &keys)?;
            }
            Ok("{}".to_owned())
        }
    }
}

fn invalid(message: impl Into<String>) -> RuleApiError {
    RuleApiError::new(RuleErrorKind::InvalidRequest, message)
}

/// The rule name of `arn:aws:iot:REGION:ACCOUNT:rule/NAME`; another resource's ARN is
/// `ResourceNotFound` (only rules are tagged here), text that is no ARN `InvalidRequest`.
fn rule_of_arn(arn: &str) -> Result<&str, RuleApiError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, service, _, _, resource] = parts.as_slice() else {
        return Err(invalid(format!("{arn:?} is not an ARN")));
    };
    match resource.strip_prefix("rule/") {
        Some(name) if *service == "iot" && !name.is_empty() => Ok(name),
        _ => Err(RuleApiError::new(
            RuleErrorKind::ResourceNotFound,
            format!("{arn} is not a rule: Weir's tag operations serve rules"),
        )),
    }
}

/// A checked `Tag` list (`[{"Key", "Value"?}]`): keys of 1 to 128 characters, values of at
/// most 256, at most [`MAX_TAGS`].
fn tag_list(v: &Value) -> Result<Vec<RuleTag>, RuleApiError> {
    let items = v
        .as_array()
        .ok_or_else(|| invalid("tags must be a list of {\"Key\", \"Value\"}"))?;
    let tags = items
        .iter()
        .map(|t| {
            let key = t["Key"].as_str().map(str::to_owned);
            let value = match &t["Value"] {
                Value::Null => Some(None),
                Value::String(s) => Some(Some(s.clone())),
                _ => None,
            };
            key.zip(value)
                .ok_or_else(|| invalid("each tag is {\"Key\": string, \"Value\": string}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_tags(tags)
}

/// `x-amz-tagging`'s `k=v&k2=v2` (percent-encoded), as CreateTopicRule's tags.
fn parse_tagging(text: &str) -> Result<Vec<RuleTag>, RuleApiError> {
    let tags = text
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = match pair.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (pair, None),
            };
            let bad = || {
                invalid(format!(
                    "x-amz-tagging: {pair:?} is not percent-encoded text"
                ))
            };
            let key = percent_decode(k).ok_or_else(bad)?;
            let value = v.map(|v| percent_decode(v).ok_or_else(bad)).transpose()?;
            Ok((key, value))
        })
        .collect::<Result<Vec<_>, RuleApiError>>()?;
    check_tags(tags)
}

fn check_tags(tags: Vec<RuleTag>) -> Result<Vec<RuleTag>, RuleApiError> {
    if tags.len() > MAX_TAGS {
        return Err(RuleApiError::new(
            RuleErrorKind::LimitExceeded,
            format!("{} tags: a resource has at most {MAX_TAGS}", tags.len()),
        ));
    }
    for (k, v) in &tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(invalid(format!("tag key {k:?}: 1 to 128 characters")));
        }
        if v.as_ref().is_some_and(|v| v.chars().count() > 256) {
            return Err(invalid(format!(
                "tag {k:?}: a value has at most 256 characters"
            )));
        }
    }
    Ok(tags)
}

/// ListTopicRules' query parameters.
#[derive(Debug, Default, PartialEq)]
struct ListParams {
    topic: Option<String>,
    max_results: Option<usize>,
    next_token: Option<String>,
    rule_disabled: Option<bool>,
}

impl ListParams {
    fn parse(query: &str) -> Result<ListParams, RuleApiError> {
        let mut p = ListParams::default();
        let invalid = |m: String| RuleApiError::new(RuleErrorKind::InvalidRequest, m);
        for pair in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v).ok_or_else(|| {
                invalid(format!(
                    "query parameter {k}: not valid percent-encoded text"
                ))
            })?;
            match k {
                "topic" => p.topic = Some(v),
                "maxResults" => {
                    let n = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIST_RESULTS).contains(n));
                    p.max_results = Some(n.ok_or_else(|| {
                        invalid(format!("1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {MAX_LIST_RESULTS}"))
                    })?);
                }
                "nextToken" => p.next_token = Some(v),
                "ruleDisabled" => {
                    p.rule_disabled = Some(match v.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(invalid(format!(
                                "ruleDisabled: {v:?} is not true or false"
                            )))
                        }
                    })
                }
                // AWS ignores parameters it does not know.
                _ => {}
            }
        }
        Ok(p)
    }

    /// The page of `entries` (any order) these parameters select: filtered, in name order,
    /// from the token's rule on; the token is the next page's first name, base64-encoded.
    fn page(&self, mut entries: Vec<RuleListEntry>) -> Result<Value, RuleApiError> {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries.retain(|e| {
            self.topic.as_ref().is_none_or(|t| *t == e.topic_pattern)
                && self.rule_disabled.is_none_or(|d| d == e.disabled)
        });
        let start = match &self.next_token {
            None => 0,
            Some(token) => {
                let first = base64::engine::general_purpose::STANDARD
                    .decode(token)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        RuleApiError::new(
                            RuleErrorKind::InvalidRequest,
                            format!("nextToken {token:?} is not a token this API gave"),
                        )
                    })?;
                entries.partition_point(|e| e.name < first)
            }
        };
        let size = self.max_results.unwrap_or(MAX_LIST_RESULTS);
        let rest = entries.get(start..).unwrap_or_default();
        let page: Vec<Value> = rest.iter().take(size).map(|e| e.item.clone()).collect();
        let mut out = json!({ "rules": page });
        if let Some(next) = rest.get(size) {
            out["nextToken"] =
                Value::String(base64::engine::general_purpose::STANDARD.encode(&next.name));
        }
        Ok(out)
    }
}

/// `%XX` and `+` decoded (query strings as botocore writes them); `None` for a bad escape or
/// text that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}
