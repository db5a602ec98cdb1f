//! Client side of Firehose's HTTP endpoint destination.
//!
//! Protocol (AWS "HTTP Endpoint Delivery Request and Response Specifications"): one `POST`
//! per batch to the configured URL with `Content-Type: application/json`,
//! `X-Amz-Firehose-Protocol-Version: 1.0`, `X-Amz-Firehose-Request-Id` (a v4 UUID, the same
//! as the body's `requestId` and kept across retries of the same batch, so endpoints can
//! deduplicate), `X-Amz-Firehose-Source-Arn`, optionally `X-Amz-Firehose-Access-Key` and
//! `X-Amz-Firehose-Common-Attributes`, and `Content-Encoding: gzip` when GZIP is configured.
//! The body is `{"requestId":..,"timestamp":<epoch ms>,"records":[{"data":"<base64>"}..]}`.
//! Success is status 200 with `{"requestId":<same>,"timestamp":..}` (at most 1 MiB); anything
//! else is a failure that is retried with backoff until `RetryOptions.DurationInSeconds`
//! have passed since the first attempt. The caller then backs the batch up to S3.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, USER_AGENT,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use weir_support::egress::EgressPolicy;

use crate::egress::{check_literal, refusal_in, Egress, HOW_TO_ALLOW};

/// Firehose reads at most this much of a response; more is a failure.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// `RetryOptions.DurationInSeconds` upper bound.
pub const MAX_RETRY_DURATION_S: u32 = 7200;
const AGENT: &str = "Amazon Kinesis Data Firehose Agent/1.0";

/// One HTTP endpoint destination's delivery settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpEndpoint {
    pub url: String,
    pub name: Option<String>,
    pub access_key: Option<String>,
    /// `RequestConfiguration.ContentEncoding` GZIP.
    pub gzip: bool,
    pub common_attributes: BTreeMap<String, String>,
    /// `RetryOptions.DurationInSeconds`; 0 means a single attempt.
    pub retry_duration_s: u32,
}

impl HttpEndpoint {
    /// Checks Firehose's limits, so a bad setting is refused at configuration, not at delivery.
    pub fn validate(&self) -> Result<(), String> {
        if self.url.len() > 1000 {
            return Err("url is longer than 1000 characters".into());
        }
        let url = reqwest::Url::parse(&self.url).map_err(|e| format!("url {:?}: {e}", self.url))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(format!(
                "url {:?} must be http:// or https:// with a host",
                self.url
            ));
        }
        if let Some(n) = &self.name {
            if n.is_empty() || n.chars().count() > 256 {
                return Err("name must be 1..=256 characters".into());
            }
        }
        if let Some(k) = &self.access_key {
            if k.len() > 4096 {
                return Err("access key is longer than 4096 characters".into());
            }
            // It goes into a header verbatim; control characters cannot.
            if k.chars().any(|c| c.is_control()) {
                return Err("access key contains control characters".into());
            }
        }
        for (k, v) in &self.common_attributes {
            for (what, s) in [("name", k), ("value", v)] {
                let n = s.chars().count();
                if !(1..=256).contains(&n) {
                    return Err(format!(
                        "common attribute {what} {s:?} must be 1..=256 characters"
                    ));
                }
            }
        }
        if self.retry_duration_s > MAX_RETRY_DURATION_S {
            return Err(format!(
                "retry duration must be 0..={MAX_RETRY_DURATION_S} seconds"
            ));
        }
        Ok(())
    }
}

/// Why one delivery attempt failed; every variant names the URL.
#[derive(Debug, Error)]
pub enum HttpError {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("{url}: cannot build the request: {what}")]
    Request { url: String, what: String },
    /// The operator's egress policy refuses every address the URL leads to.
    #[error("{url}: refused by the egress policy: {reason}; {HOW_TO_ALLOW}")]
    Refused { url: String, reason: String },
    #[error("{url}: connection failed: {source}")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: timed out: {source}")]
    Timeout {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: status {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: bad response JSON: {source}")]
    BadResponse {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{url}: response requestId {got:?} does not match {sent:?}")]
    RequestIdMismatch {
        url: String,
        sent: String,
        got: String,
    },
    #[error("{url}: response body is larger than {MAX_RESPONSE_BYTES} bytes")]
    BodyTooLarge { url: String },
}

impl HttpError {
    /// Firehose's error code, for the S3 backup records and logs.
    pub fn error_code(&self) -> &'static str {
        match self {
            HttpError::Client(_)
            | HttpError::Request { .. }
            | HttpError::Refused { .. }
            | HttpError::Connect { .. } => "HttpEndpoint.ConnectionFailed",
            HttpError::Timeout { .. } => "HttpEndpoint.RequestTimeout",
            HttpError::Status { .. } => "HttpEndpoint.DestinationException",
            HttpError::BadResponse { .. } | HttpError::RequestIdMismatch { .. } => {
                "HttpEndpoint.InvalidResponseFromDestination"
            }
            HttpError::BodyTooLarge { .. } => "HttpEndpoint.ResponseTooLarge",
        }
    }
}

/// The retry duration passed without a successful attempt.
#[derive(Debug, Error)]
#[error("delivery failed after {attempts} attempt(s): {last}")]
pub struct RetriesExhausted {
    pub attempts: u32,
    #[source]
    pub last: HttpError,
}

/// Sends batches to HTTP endpoints; one client (and connection pool) for all of them.
#[derive(Debug, Clone)]
pub struct HttpSender {
    client: reqwest::Client,
    /// Checked on IP-literal URLs before each request; the client's resolver checks names.
    policy: EgressPolicy,
    first_backoff: Duration,
    max_backoff: Duration,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    request_id: &'a str,
    timestamp: u128,
    records: Vec<Rec>,
}
#[derive(Serialize)]
struct Rec {
    data: String,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    request_id: String,
    #[allow(dead_code)]
    timestamp: i64,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrReply {
    error_message: Option<String>,
}

/// A built request, reused unchanged by every attempt (same requestId, as Firehose does).
struct Prepared {
    request_id: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl HttpSender {
    /// `request_timeout` bounds each attempt (Firehose gives endpoints 3 minutes). Every
    /// connection goes only where `egress` allows: names through its resolver, IP literals
    /// checked before the request. No redirects are followed and no proxy is used, so the
    /// address checked is the one connected to.
    pub fn new(request_timeout: Duration, egress: &Egress) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .timeout(request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(egress.resolver())
            .build()
            .map_err(HttpError::Client)?;
        Ok(Self {
            client,
            policy: egress.policy.clone(),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        })
    }

    /// Backoff between attempts: doubles from `first` up to `max`.
    #[cfg(test)]
    pub fn with_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    fn prepare(
        &self,
        ep: &HttpEndpoint,
        source_arn: &str,
        records: &[&[u8]],
    ) -> Result<Prepared, HttpError> {
        let bad = |what: String| HttpError::Request {
            url: ep.url.clone(),
            what,
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = Body {
            request_id: &request_id,
            timestamp,
            records: records
                .iter()
                .map(|r| Rec {
                    data: b64.encode(r),
                })
                .collect(),
        };
        let mut json = serde_json::to_vec(&body).map_err(|e| bad(e.to_string()))?;
        let mut headers = HeaderMap::new();
        let hv = |s: &[u8]| HeaderValue::from_bytes(s).map_err(|e| bad(e.to_string()));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static(AGENT));
        headers.insert(
            HeaderName::from_static("x-amz-firehose-protocol-version"),
            HeaderValue::from_static("1.0"),
        );
        headers.insert(
            HeaderName::from_static("x-amz-firehose-request-id"),
            hv(request_id.as_bytes())?,
        );
        headers.insert(
            HeaderName::from_static("x-amz-firehose-source-arn"),
            hv(source_arn.as_bytes())?,
        );
        if let Some(k) = &ep.access_key {
            headers.insert(
                HeaderName::from_static("x-amz-firehose-access-key"),
                hv(k.as_bytes())?,
            );
        }
        if !ep.common_attributes.is_empty() {
            let v = serde_json::json!({ "commonAttributes": ep.common_attributes });
            headers.insert(
                HeaderName::from_static("x-amz-firehose-common-attributes"),
                hv(v.to_string().as_bytes())?,
            );
        }
        if ep.gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&json).map_err(|e| bad(e.to_string()))?;
            json = enc.finish().map_err(|e| bad(e.to_string()))?;
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Ok(Prepared {
            request_id,
            headers,
            body: json,
        })
    }

    /// One attempt.
    #[cfg(test)]
    pub async fn send_once(
        &self,
        ep: &HttpEndpoint,
        source_arn: &str,
        records: &[&[u8]],
    ) -> Result<(), HttpError> {
        let p = self.prepare(ep, source_arn, records)?;
        self.attempt(ep, &p).await
    }

    /// Attempts until success or the endpoint's retry duration has passed since the first.
    pub async fn send(
        &self,
        ep: &HttpEndpoint,
        source_arn: &str,
        records: &[&[u8]],
    ) -> Result<u32, RetriesExhausted> {
        let p = self
            .prepare(ep, source_arn, records)
            .map_err(|last| RetriesExhausted { attempts: 0, last })?;
        let deadline = Instant::now() + Duration::from_secs(u64::from(ep.retry_duration_s));
        let mut backoff = self.first_backoff;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            match self.attempt(ep, &p).await {
                Ok(()) => return Ok(attempts),
                Err(e) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(RetriesExhausted { attempts, last: e });
                    }
                    tracing::warn!(url = %ep.url, attempts, code = e.error_code(), "HTTP endpoint delivery failed, retrying: {e}");
                    tokio::time::sleep(backoff.min(deadline - now)).await;
                    backoff = (backoff * 2).min(self.max_backoff);
                }
            }
        }
    }

    /// One POST of a prepared request: the URL is checked against the egress policy before
    /// any connection, and the reply must be a 200 carrying the request's own id.
    async fn attempt(&self, ep: &HttpEndpoint, p: &Prepared) -> Result<(), HttpError> {
        let url = || ep.url.clone();
        let parsed = reqwest::Url::parse(&ep.url).map_err(|e| HttpError::Request {
            url: url(),
            what: e.to_string(),
        })?;
        check_literal(&self.policy, &parsed).map_err(|r| HttpError::Refused {
            url: url(),
            reason: r.to_string(),
        })?;
        let resp = self
            .client
            .post(parsed)
            .headers(p.headers.clone())
            .body(p.body.clone())
            .send()
            .await
            .map_err(|e| network_error(&ep.url, e))?;
        let status = resp.status().as_u16();
        let (buf, too_large) = read_capped(resp, &ep.url).await?;
        check_reply(&ep.url, status, &buf, too_large, &p.request_id)
    }
}

/// A transport failure, told apart the way the error output reports it: refused by the
/// egress policy (the resolver's refusal, which reqwest wraps), timed out, or could not
/// connect.
fn network_error(url: &str, e: reqwest::Error) -> HttpError {
    let url = url.to_owned();
    if let Some(reason) = refusal_in(&e) {
        HttpError::Refused { url, reason }
    } else if e.is_timeout() {
        HttpError::Timeout { url, source: e }
    } else {
        HttpError::Connect { url, source: e }
    }
}

/// The response body, read up to one byte past [`MAX_RESPONSE_BYTES`] so an endpoint
/// cannot make Weir buffer without bound; `true` when it is larger than that.
async fn read_capped(mut resp: reqwest::Response, url: &str) -> Result<(Vec<u8>, bool), HttpError> {
    let mut buf = Vec::new();
    let mut too_large = resp
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64);
    while !too_large {
        match resp.chunk().await.map_err(|e| network_error(url, e))? {
            Some(c) => {
                let room = MAX_RESPONSE_BYTES + 1 - buf.len();
                buf.extend_from_slice(&c[..c.len().min(room)]);
                too_large = buf.len() > MAX_RESPONSE_BYTES;
            }
            None => break,
        }
    }
    Ok((buf, too_large))
}

/// Firehose's acceptance rule for an endpoint's reply: status 200, a body within the limit,
/// and JSON naming the request id that was sent (an endpoint that answers for another
/// request has not taken this one). A non-200 reply's message comes from its JSON
/// `errorMessage`, or else its first 200 bytes.
fn check_reply(
    url: &str,
    status: u16,
    buf: &[u8],
    too_large: bool,
    request_id: &str,
) -> Result<(), HttpError> {
    let url = || url.to_owned();
    if status != 200 {
        let message = serde_json::from_slice::<ErrReply>(buf)
            .ok()
            .and_then(|r| r.error_message)
            .unwrap_or_else(|| String::from_utf8_lossy(&buf[..buf.len().min(200)]).into_owned());
        return Err(HttpError::Status {
            url: url(),
            status,
            message,
        });
    }
    if too_large {
        return Err(HttpError::BodyTooLarge { url: url() });
    }
    let reply: Reply = serde_json::from_slice(buf)
        .map_err(|source| HttpError::BadResponse { url: url(), source })?;
    if reply.request_id != request_id {
        return Err(HttpError::RequestIdMismatch {
            url: url(),
            sent: request_id.to_owned(),
            got: reply.request_id,
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::{http::HeaderMap as H, http::StatusCode, routing::post, Router};
    use std::io::Read;
    use std::sync::{Arc, Mutex};

    type Log = Arc<Mutex<Vec<(H, Vec<u8>)>>>;

    /// A server whose nth answer is `plan[n]` (status, echo the requestId?).
    async fn server(plan: Vec<(u16, bool)>) -> (String, Log) {
        let log: Log = Arc::default();
        let l2 = log.clone();
        let app = Router::new().route(
            "/",
            post(move |h: H, body: axum::body::Bytes| {
                let log = l2.clone();
                let plan = plan.clone();
                async move {
                    let mut raw = body.to_vec();
                    if h.get("content-encoding").is_some() {
                        let mut out = Vec::new();
                        flate2::read::GzDecoder::new(&raw[..])
                            .read_to_end(&mut out)
                            .unwrap();
                        raw = out;
                    }
                    let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
                    let n = {
                        let mut g = log.lock().unwrap();
                        g.push((h, raw));
                        g.len() - 1
                    };
                    let (st, echo) = plan[n.min(plan.len() - 1)];
                    let id = if echo {
                        v["requestId"].as_str().unwrap().to_string()
                    } else {
                        "other".into()
                    };
                    (
                        StatusCode::from_u16(st).unwrap(),
                        format!(r#"{{"requestId":"{id}","timestamp":1,"errorMessage":"boom"}}"#),
                    )
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });
        (url, log)
    }

    fn ep(url: &str) -> HttpEndpoint {
        HttpEndpoint {
            url: url.into(),
            name: None,
            access_key: None,
            gzip: false,
            common_attributes: BTreeMap::new(),
            retry_duration_s: 5,
        }
    }

    /// The test servers are on loopback, which the default policy refuses.
    fn open() -> Egress {
        Egress::new(EgressPolicy::allow_all())
    }

    fn sender() -> HttpSender {
        HttpSender::new(Duration::from_millis(500), &open())
            .unwrap()
            .with_backoff(Duration::from_millis(10), Duration::from_millis(20))
    }

    #[tokio::test]
    async fn headers_body_and_success() {
        let (url, log) = server(vec![(200, true)]).await;
        let mut e = ep(&url);
        e.gzip = true;
        e.access_key = Some("k1".into());
        e.common_attributes.insert("a".into(), "b".into());
        e.validate().unwrap();
        assert_eq!(
            sender()
                .send(&e, "arn:x", &[b"hi", b"\x00\xff"])
                .await
                .unwrap(),
            1
        );
        let g = log.lock().unwrap().clone();
        let (h, raw) = &g[0];
        let v: serde_json::Value = serde_json::from_slice(raw).unwrap();
        assert_eq!(
            h["x-amz-firehose-request-id"],
            v["requestId"].as_str().unwrap()
        );
        assert_eq!(h["x-amz-firehose-protocol-version"], "1.0");
        assert_eq!(h["x-amz-firehose-source-arn"], "arn:x");
        assert_eq!(h["x-amz-firehose-access-key"], "k1");
        assert_eq!(
            h["x-amz-firehose-common-attributes"],
            r#"{"commonAttributes":{"a":"b"}}"#
        );
        assert_eq!(h["user-agent"], AGENT);
        let b64 = base64::engine::general_purpose::STANDARD;
        assert_eq!(
            b64.decode(v["records"][1]["data"].as_str().unwrap())
                .unwrap(),
            b"\x00\xff"
        );
        let (url, log) = server(vec![(200, true)]).await;
        sender()
            .send_once(&ep(&url), "arn:x", &[b"x"])
            .await
            .unwrap();
        let g = log.lock().unwrap().clone();
        assert!(g[0].0.get("x-amz-firehose-access-key").is_none());
        assert!(g[0].0.get("x-amz-firehose-common-attributes").is_none());
        assert!(g[0].0.get("content-encoding").is_none());
    }

    #[tokio::test]
    async fn retry_then_success_and_failures() {
        let (url, log) = server(vec![(500, true), (200, true)]).await;
        assert_eq!(sender().send(&ep(&url), "arn:x", &[b"x"]).await.unwrap(), 2);
        let g = log.lock().unwrap().clone();
        assert_eq!(
            g[0].0["x-amz-firehose-request-id"],
            g[1].0["x-amz-firehose-request-id"]
        );
        let (url, _) = server(vec![(500, true)]).await;
        let err = sender()
            .send_once(&ep(&url), "arn:x", &[b"x"])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("status 500: boom"), "{err}");
        let (url, log) = server(vec![(200, false)]).await;
        let mut e = ep(&url);
        e.retry_duration_s = 0;
        let err = sender().send(&e, "arn:x", &[b"x"]).await.unwrap_err();
        assert_eq!(err.attempts, 1);
        assert!(matches!(err.last, HttpError::RequestIdMismatch { .. }));
        assert_eq!(log.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        tokio::spawn(async move {
            let _keep = l.accept().await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let s = HttpSender::new(Duration::from_millis(200), &open()).unwrap();
        let err = s.send_once(&ep(&url), "arn:x", &[b"x"]).await.unwrap_err();
        assert_eq!(err.error_code(), "HttpEndpoint.RequestTimeout", "{err}");
    }
}
