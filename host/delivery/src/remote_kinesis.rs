//! The `kinesis` rule action's remote target: a small synchronous client that puts records
//! into a Kinesis-compatible endpoint (AWS Kinesis, or another Weir's API) with
//! `PutRecords`, used when the action's config has `endpoint = "https://..."`.
//!
//! One request per call: `POST /` with `X-Amz-Target: Kinesis_20131202.PutRecords` and a
//! JSON (`application/x-amz-json-1.1`) body, signed with AWS Signature Version 4 for service
//! `kinesis`. The signing steps are the ones the API's verifier uses
//! ([`weir_sigv4`]), so whatever this client signs, a Weir with `verify_keys` accepts.
//!
//! This is the one part of `delivery` that uses the network and reads the clock (SigV4 signs
//! the time of the request). HTTP is ureq with rustls (ring provider, webpki roots); a
//! connection takes at most 5 s to open and a whole call at most 30 s. Redirects are not
//! followed: a signed request is answered where it was sent or fails.
//!
//! Failures of the whole call are a [`RemoteError`]; per-record failures inside a successful
//! answer are [`PutOutcome::Throttled`] (`ProvisionedThroughputExceededException`) or
//! [`PutOutcome::Failed`] (any other `ErrorCode`), one outcome per entry, in order.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::Value;

use weir_sigv4::{self as sigv4, CanonicalRequest};
use weir_streams::{PutEntry, PutOutcome};

pub use weir_streams::MAX_PUT_RECORDS;
/// Longest time to open a connection (DNS, TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time for a whole call, from connecting to reading the answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The region used when neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The access key id and secret used by [`RemoteKinesis::from_env`] when the environment has
/// no keys: a Weir without `verify_keys` accepts any signature, AWS refuses these.
pub const ANONYMOUS_KEY: &str = "weir";

const TARGET: &str = "Kinesis_20131202.PutRecords";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const SERVICE: &str = "kinesis";
/// Largest answer read (a 500-record answer is about 60 KiB; errors are smaller).
const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// AWS credentials. `Debug` shows the access key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// For temporary credentials (STS); sent as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Why a `PutRecords` call (or setting up the client) failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The endpoint, region or credentials given to [`RemoteKinesis::new`] are unusable.
    #[error("Kinesis endpoint {endpoint:?}: {reason}")]
    BadEndpoint { endpoint: String, reason: String },
    /// The call was refused before sending: more than 500 entries.
    #[error("PutRecords to stream {stream:?} at {endpoint}: {reason}")]
    InvalidRequest {
        endpoint: String,
        stream: String,
        reason: String,
    },
    /// No answer: DNS, connection refused, TLS, timeout or a broken connection.
    #[error("PutRecords to stream {stream:?} at {endpoint}: connection failed: {source}")]
    Connection {
        endpoint: String,
        stream: String,
        #[source]
        source: Box<ureq::Error>,
    },
    /// A non-2xx answer. `error_type` is AWS's `__type` without any `namespace#` prefix
    /// (e.g. `ResourceNotFoundException`), or `HTTP <status>` when the body names none.
    #[error(
        "PutRecords to stream {stream:?} at {endpoint}: HTTP {status}: {error_type}: {message}"
    )]
    Http {
        endpoint: String,
        stream: String,
        status: u16,
        error_type: String,
        message: String,
    },
    /// A 2xx answer that is not a `PutRecords` result for the entries sent.
    #[error("PutRecords to stream {stream:?} at {endpoint}: malformed response: {reason}")]
    MalformedResponse {
        endpoint: String,
        stream: String,
        reason: String,
    },
}

impl RemoteError {
    /// AWS's error type of an HTTP error answer (`ResourceNotFoundException`, ...).
    pub fn aws_error_type(&self) -> Option<&str> {
        match self {
            RemoteError::Http { error_type, .. } => Some(error_type),
            _ => None,
        }
    }

    /// Whether sending the same call again later may succeed: connection failures, server
    /// errors (5xx) and throttling. Configuration, authentication and missing streams are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            RemoteError::Connection { .. } => true,
            RemoteError::Http {
                status, error_type, ..
            } => {
                *status >= 500
                    || *status == 429
                    || matches!(
                        error_type.as_str(),
                        "ProvisionedThroughputExceededException"
                            | "ThrottlingException"
                            | "LimitExceededException"
                    )
            }
            _ => false,
        }
    }
}

/// A client for one Kinesis-compatible endpoint. Cheap to share by reference across threads;
/// connections are pooled and reused.
pub struct RemoteKinesis {
    agent: ureq::Agent,
    /// `scheme://authority/`, where requests go.
    url: String,
    /// The `Host` header sent and signed: the endpoint's authority as written.
    host: String,
    region: String,
    credentials: Credentials,
}

impl fmt::Debug for RemoteKinesis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKinesis")
            .field("url", &self.url)
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl RemoteKinesis {
    /// A client for `endpoint`, `http(s)://host[:port][/]` (no path, query or user info),
    /// signing for `region` (e.g. `us-east-1`) with `credentials`.
    pub fn new(
        endpoint: &str,
        region: &str,
        credentials: Credentials,
    ) -> Result<Self, RemoteError> {
        let bad = |reason: String| RemoteError::BadEndpoint {
            endpoint: endpoint.to_owned(),
            reason,
        };
        let (url, host) = parse_endpoint(endpoint).map_err(bad)?;
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad(format!(
                "region {region:?} is not a region name (like us-east-1)"
            )));
        }
        let key_ok = |k: &str| {
            !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'/' && b != b',')
        };
        if !key_ok(&credentials.access_key_id) {
            return Err(bad(
                "the access key id must be non-empty printable ASCII without '/' or ','".into(),
            ));
        }
        if credentials.secret_access_key.is_empty() {
            return Err(bad("the secret access key is empty".into()));
        }
        if let Some(token) = &credentials.session_token {
            if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(bad(
                    "the session token must be non-empty printable ASCII".into()
                ));
            }
        }
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(CALL_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(RemoteKinesis {
            agent: ureq::Agent::new_with_config(config),
            url,
            host,
            region: region.to_owned(),
            credentials,
        })
    }

    /// A client for `endpoint` configured the way the AWS CLI and SDKs are: credentials from
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and (optionally) `AWS_SESSION_TOKEN`,
    /// the region from `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
    ///
    /// Without both keys the client signs with the anonymous keys `weir` / `weir`
    /// ([`ANONYMOUS_KEY`]) and no session token. That suits a local Weir that does not verify
    /// signatures (no `verify_keys`); AWS, or a Weir that verifies, refuses such calls with
    /// `UnrecognizedClientException`.
    pub fn from_env(endpoint: &str) -> Result<Self, RemoteError> {
        Self::from_lookup(endpoint, |name| std::env::var(name).ok())
    }

    /// [`Self::from_env`] with the environment read through `var` (empty values count as unset).
    fn from_lookup(
        endpoint: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, RemoteError> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => Credentials {
                access_key_id,
                secret_access_key,
                session_token: var("AWS_SESSION_TOKEN"),
            },
            (id, secret) => {
                if id.is_some() || secret.is_some() {
                    tracing::warn!(
                        endpoint,
                        "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set; signing with the anonymous keys"
                    );
                }
                Credentials {
                    access_key_id: ANONYMOUS_KEY.to_owned(),
                    secret_access_key: ANONYMOUS_KEY.to_owned(),
                    session_token: None,
                }
            }
        };
        Self::new(endpoint, &region, credentials)
    }

    /// Where requests go (`scheme://host[:port]/`).
    pub fn endpoint(&self) -> &str {
        &self.url
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// `PutRecords` of up to 500 entries into `stream`; one outcome per entry, in order. No
    /// entries: no request, and an empty answer.
    pub fn put_records(
        &self,
        stream: &str,
        entries: &[PutEntry],
    ) -> Result<Vec<PutOutcome>, RemoteError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        if entries.len() > MAX_PUT_RECORDS {
            return Err(RemoteError::InvalidRequest {
                endpoint: self.url.clone(),
                stream: stream.to_owned(),
                reason: format!(
                    "{} entries; one call takes at most {MAX_PUT_RECORDS}",
                    entries.len()
                ),
            });
        }
        let body = request_body(stream, entries);
        let mut request = self.agent.post(&self.url);
        for (name, value) in self.signed_headers(&body, Utc::now()) {
            request = request.header(name, value);
        }
        let connection = |e: ureq::Error| RemoteError::Connection {
            endpoint: self.url.clone(),
            stream: stream.to_owned(),
            source: Box::new(e),
        };
        let mut response = request.send(&body[..]).map_err(connection)?;
        let status = response.status().as_u16();
        let amzn_error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(connection)?;
        if !(200..300).contains(&status) {
            let (error_type, message) = parse_error(status, &bytes, amzn_error_type.as_deref());
            return Err(RemoteError::Http {
                endpoint: self.url.clone(),
                stream: stream.to_owned(),
                status,
                error_type,
                message,
            });
        }
        parse_outcomes(&bytes, entries.len()).map_err(|reason| RemoteError::MalformedResponse {
            endpoint: self.url.clone(),
            stream: stream.to_owned(),
            reason,
        })
    }

    /// Every header of a `PutRecords` request with `body` at `now`, `Authorization`
    /// included. The signed ones are exactly these minus `Authorization`.
    fn signed_headers(&self, body: &[u8], now: DateTime<Utc>) -> Vec<(&'static str, String)> {
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let scope = format!(
            "{}/{}/{SERVICE}/aws4_request",
            now.format("%Y%m%d"),
            self.region
        );
        let payload_hash = sigv4::sha256_hex(body);
        // Sorted by name, as the canonical request wants them.
        let mut headers: Vec<(&'static str, String)> = vec![
            ("content-type", CONTENT_TYPE.to_owned()),
            ("host", self.host.clone()),
            ("x-amz-content-sha256", payload_hash.clone()),
            ("x-amz-date", amz_date.clone()),
        ];
        if let Some(token) = &self.credentials.session_token {
            headers.push(("x-amz-security-token", token.clone()));
        }
        headers.push(("x-amz-target", TARGET.to_owned()));
        let (canonical_headers, signed_headers) = sigv4::header_lists(&headers);
        let signature = sigv4::sign(
            &CanonicalRequest {
                method: "POST",
                path: "/",
                query: "",
                headers: &canonical_headers,
                signed_headers: &signed_headers,
                payload_hash: &payload_hash,
            },
            &amz_date,
            &scope,
            &self.credentials.secret_access_key,
        );
        headers.push((
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                self.credentials.access_key_id
            ),
        ));
        headers
    }
}

/// Checks `endpoint` and returns (`scheme://authority/`, authority).
fn parse_endpoint(endpoint: &str) -> Result<(String, String), String> {
    let uri: ureq::http::Uri = endpoint
        .parse()
        .map_err(|e| format!("not a URL ({e}); expected http(s)://host[:port]"))?;
    let scheme = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => "http",
        Some(s) if s.eq_ignore_ascii_case("https") => "https",
        Some(s) => return Err(format!("scheme {s:?} is not http or https")),
        None => return Err("no scheme; expected http(s)://host[:port]".into()),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| "no host; expected http(s)://host[:port]".to_owned())?;
    if authority.as_str().contains('@') {
        return Err("user info is not allowed in the endpoint; pass credentials instead".into());
    }
    if authority.host().is_empty() {
        return Err("no host; expected http(s)://host[:port]".into());
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(
            "a Kinesis endpoint has no path or query; expected http(s)://host[:port][/]".into(),
        );
    }
    let host = authority.as_str().to_owned();
    Ok((format!("{scheme}://{host}/"), host))
}

/// The JSON body of a `PutRecords` request.
fn request_body(stream: &str, entries: &[PutEntry]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut r = serde_json::Map::new();
            r.insert("Data".into(), Value::String(b64.encode(&e.data)));
            r.insert(
                "PartitionKey".into(),
                Value::String(e.partition_key.clone()),
            );
            if let Some(h) = e.explicit_hash_key {
                r.insert("ExplicitHashKey".into(), Value::String(h.to_string()));
            }
            Value::Object(r)
        })
        .collect();
    let body = serde_json::json!({ "StreamName": stream, "Records": records });
    serde_json::to_vec(&body).unwrap_or_else(|_| unreachable!("a JSON value serialises"))
}

/// AWS's error type and message from an error answer: the JSON body's `__type` (without a
/// `namespace#` prefix) and `message` (or `Message`), else the `x-amzn-ErrorType` header
/// (without its `:url` suffix), else `HTTP <status>` and the body as text.
fn parse_error(status: u16, body: &[u8], header_type: Option<&str>) -> (String, String) {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let field = |names: &[&str]| {
        names.iter().find_map(|n| {
            json.as_ref()
                .and_then(|j| j.get(*n))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
    };
    let error_type = field(&["__type", "code", "Code"])
        .map(|t| t.rsplit('#').next().unwrap_or_default().to_owned())
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

/// The outcomes in a `PutRecords` answer, checked against the number of entries sent.
fn parse_outcomes(body: &[u8], expected: usize) -> Result<Vec<PutOutcome>, String> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let records = json
        .get("Records")
        .and_then(Value::as_array)
        .ok_or("no Records list")?;
    if records.len() != expected {
        return Err(format!("{} results for {expected} records", records.len()));
    }
    let text = |r: &Value, name: &str| r.get(name).and_then(Value::as_str).map(str::to_owned);
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if let Some(code) = text(r, "ErrorCode") {
                let message = text(r, "ErrorMessage").unwrap_or_else(|| code.clone());
                return Ok(if code == "ProvisionedThroughputExceededException" {
                    PutOutcome::Throttled { message }
                } else {
                    PutOutcome::Failed {
                        message: format!("{code}: {message}"),
                    }
                });
            }
            match (text(r, "ShardId"), text(r, "SequenceNumber")) {
                (Some(shard_id), Some(sequence_number)) => Ok(PutOutcome::Ok {
                    shard_id,
                    sequence_number,
                }),
                _ => Err(format!(
                    "result {i} has neither ErrorCode nor ShardId and SequenceNumber"
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use weir_api::{router, ApiConfig, ApiState};
    use weir_streams::{shard_id, StartPosition, Streams, StreamsConfig};

    const AKID: &str = "AKIDWEIRTEST";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYWEIRKEY";

    /// Weir's own Kinesis API, verifying signatures against `AKID`/`SECRET`, on 127.0.0.1
    /// with a free port, served by a tokio runtime's worker thread while the test thread
    /// makes blocking calls. Dropping it stops the runtime.
    struct Server {
        streams: Streams,
        endpoint: String,
        _rt: tokio::runtime::Runtime,
        _dir: tempfile::TempDir,
    }

    fn server() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let streams = Streams::open(StreamsConfig::new(dir.path())).expect("open streams");
        let state = ApiState::new(
            streams.clone(),
            ApiConfig {
                keys: HashMap::from([(AKID.to_owned(), SECRET.to_owned())]),
                ..ApiConfig::default()
            },
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        rt.spawn(async move {
            let _ = axum::serve(listener, router(state)).await;
        });
        Server {
            streams,
            endpoint: format!("http://{addr}"),
            _rt: rt,
            _dir: dir,
        }
    }

    fn creds(secret: &str) -> Credentials {
        Credentials {
            access_key_id: AKID.to_owned(),
            secret_access_key: secret.to_owned(),
            session_token: None,
        }
    }

    fn entry(key: &str, hash: Option<u128>, data: &[u8]) -> PutEntry {
        PutEntry {
            partition_key: key.to_owned(),
            explicit_hash_key: hash,
            data: data.to_vec(),
        }
    }

    fn read_shard(streams: &Streams, stream: &str, shard: &str) -> Vec<(String, Vec<u8>, String)> {
        let it = streams
            .get_shard_iterator(stream, shard, &StartPosition::TrimHorizon)
            .expect("iterator");
        streams
            .get_records(&it, 100)
            .expect("get records")
            .records
            .into_iter()
            .map(|r| (r.partition_key, r.data, r.sequence_number))
            .collect()
    }

    #[test]
    fn puts_signed_records_that_read_back_in_order() {
        let srv = server();
        srv.streams.ensure_stream("orders", 2, 24).expect("stream");
        let client = RemoteKinesis::new(&srv.endpoint, "eu-west-1", creds(SECRET)).expect("new");
        // Shard 1 of 2 starts at 2^127; the explicit hash key sends the third record there
        // whatever its partition key hashes to.
        let high = (1u128 << 127) + 12345;
        let entries = [
            entry("95B•140", None, b"{\"temp\":21.5}"),
            entry("95B•140", None, &[0, 159, 146, 150, 255]),
            entry("95B•140", Some(high), b"third"),
        ];
        let outcomes = client.put_records("orders", &entries).expect("put");
        assert_eq!(outcomes.len(), 3);
        let mut written = Vec::new();
        for o in &outcomes {
            match o {
                PutOutcome::Ok {
                    shard_id,
                    sequence_number,
                } => written.push((shard_id.clone(), sequence_number.clone())),
                other => panic!("record not written: {other:?}"),
            }
        }
        assert_eq!(
            written[2].0,
            shard_id(1),
            "ExplicitHashKey routes to shard 1"
        );
        // The first two share a partition key, hence a shard, in order.
        assert_eq!(written[0].0, written[1].0);
        let first = read_shard(&srv.streams, "orders", &written[0].0);
        let same_shard: Vec<_> = written
            .iter()
            .zip(&entries)
            .filter(|((s, _), _)| *s == written[0].0)
            .collect();
        assert_eq!(first.len(), same_shard.len());
        for ((key, data, seq), ((_, want_seq), e)) in first.iter().zip(&same_shard) {
            assert_eq!(key, &e.partition_key);
            assert_eq!(data, &e.data);
            assert_eq!(seq, want_seq);
        }
        let third = read_shard(&srv.streams, "orders", &shard_id(1));
        let last = third.last().expect("record on shard 1");
        assert_eq!(last.0, "95B•140");
        assert_eq!(last.1, b"third");
        assert_eq!(last.2, written[2].1);

        // An empty call sends nothing; more than 500 is refused before sending.
        assert_eq!(client.put_records("orders", &[]).expect("empty"), vec![]);
        let many = vec![entry("k", None, b"x"); 501];
        let e = client.put_records("orders", &many).expect_err("too many");
        assert!(matches!(e, RemoteError::InvalidRequest { .. }), "{e}");
    }

    #[test]
    fn wrong_secret_names_the_aws_error() {
        let srv = server();
        srv.streams.ensure_stream("s", 1, 24).expect("stream");
        let client =
            RemoteKinesis::new(&srv.endpoint, "us-east-1", creds("not-the-secret")).expect("new");
        let e = client
            .put_records("s", &[entry("k", None, b"x")])
            .expect_err("bad signature");
        assert_eq!(e.aws_error_type(), Some("InvalidSignatureException"), "{e}");
        let text = e.to_string();
        assert!(text.contains("InvalidSignatureException"), "{text}");
        assert!(
            text.contains(&srv.endpoint) && text.contains("\"s\""),
            "{text}"
        );
        assert!(!e.is_retryable());
        // Nothing was written.
        assert!(read_shard(&srv.streams, "s", &shard_id(0)).is_empty());

        // Unknown key id: a different AWS error, same shape.
        let mut unknown = creds(SECRET);
        unknown.access_key_id = "AKIDNOBODY".into();
        let client = RemoteKinesis::new(&srv.endpoint, "us-east-1", unknown).expect("new");
        let e = client
            .put_records("s", &[entry("k", None, b"x")])
            .expect_err("unknown key");
        assert_eq!(
            e.aws_error_type(),
            Some("UnrecognizedClientException"),
            "{e}"
        );
    }

    #[test]
    fn missing_stream_is_resource_not_found() {
        let srv = server();
        let client = RemoteKinesis::new(&srv.endpoint, "us-east-1", creds(SECRET)).expect("new");
        let e = client
            .put_records("nope", &[entry("k", None, b"x")])
            .expect_err("missing stream");
        match &e {
            RemoteError::Http {
                status,
                error_type,
                stream,
                ..
            } => {
                assert_eq!(*status, 400);
                assert_eq!(error_type, "ResourceNotFoundException");
                assert_eq!(stream, "nope");
            }
            other => panic!("expected an HTTP error, got {other:?}"),
        }
        assert!(e.to_string().contains("ResourceNotFoundException"), "{e}");
    }

    #[test]
    fn session_token_is_sent_and_signed() {
        // The verifier checks the token header's presence in the signature, not the token.
        let srv = server();
        srv.streams.ensure_stream("s", 1, 24).expect("stream");
        let mut c = creds(SECRET);
        c.session_token = Some("FQoGZXIvYXdzEXAMPLETOKEN==".into());
        let client =
            RemoteKinesis::new(&format!("{}/", srv.endpoint), "us-east-1", c).expect("new");
        let out = client
            .put_records("s", &[entry("k", None, b"x")])
            .expect("put");
        assert!(matches!(out[0], PutOutcome::Ok { .. }), "{out:?}");
        let headers = client.signed_headers(b"{}", Utc::now());
        let auth = &headers.last().expect("authorization").1;
        assert!(auth.contains("x-amz-security-token"), "{auth}");
        assert!(!format!("{client:?}").contains(SECRET));
    }

    #[test]
    fn unreachable_endpoint_is_a_connection_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        drop(listener);
        let client = RemoteKinesis::new(&endpoint, "us-east-1", creds(SECRET)).expect("new");
        let e = client
            .put_records("s", &[entry("k", None, b"x")])
            .expect_err("nothing listens");
        assert!(matches!(e, RemoteError::Connection { .. }), "{e:?}");
        assert!(e.to_string().contains(&endpoint), "{e}");
        assert!(e.is_retryable());
    }

    #[test]
    fn bad_endpoints_are_refused() {
        for bad in [
            "",
            "localhost:4567",
            "ftp://example.com",
            "http://",
            "http://user:pw@example.com",
            "https://example.com/streams",
            "https://example.com/?x=1",
            "not a url",
        ] {
            let e = RemoteKinesis::new(bad, "us-east-1", creds(SECRET))
                .expect_err(&format!("{bad:?} accepted"));
            assert!(
                matches!(e, RemoteError::BadEndpoint { .. }),
                "{bad:?}: {e:?}"
            );
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
        for good in [
            "http://127.0.0.1:4567",
            "https://kinesis.us-east-1.amazonaws.com/",
            "HTTPS://[::1]:8443",
        ] {
            RemoteKinesis::new(good, "us-east-1", creds(SECRET)).expect(good);
        }
        let e = RemoteKinesis::new("http://127.0.0.1:1", "us/east", creds(SECRET))
            .expect_err("bad region");
        assert!(matches!(e, RemoteError::BadEndpoint { .. }), "{e:?}");
        let e = RemoteKinesis::new("http://127.0.0.1:1", "us-east-1", creds(""))
            .expect_err("empty secret");
        assert!(matches!(e, RemoteError::BadEndpoint { .. }), "{e:?}");
    }

    #[test]
    fn environment_gives_keys_region_or_anonymous() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let c = RemoteKinesis::from_lookup("http://127.0.0.1:1", env(&[])).expect("anonymous");
        assert_eq!(c.region(), DEFAULT_REGION);
        assert_eq!(c.credentials.access_key_id, ANONYMOUS_KEY);
        assert_eq!(c.credentials.secret_access_key, ANONYMOUS_KEY);
        let c = RemoteKinesis::from_lookup(
            "http://127.0.0.1:1",
            env(&[
                ("AWS_ACCESS_KEY_ID", "AKID1"),
                ("AWS_SECRET_ACCESS_KEY", "s3cret"),
                ("AWS_SESSION_TOKEN", "tok"),
                ("AWS_DEFAULT_REGION", "eu-west-1"),
            ]),
        )
        .expect("keys");
        assert_eq!(c.region(), "eu-west-1");
        assert_eq!(
            c.credentials,
            Credentials {
                access_key_id: "AKID1".into(),
                secret_access_key: "s3cret".into(),
                session_token: Some("tok".into()),
            }
        );
        assert_eq!(c.endpoint(), "http://127.0.0.1:1/");
        let c = RemoteKinesis::from_lookup(
            "http://127.0.0.1:1",
            env(&[
                ("AWS_REGION", "ap-south-1"),
                ("AWS_DEFAULT_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "AKID1"),
                ("AWS_SESSION_TOKEN", "tok"),
            ]),
        )
        .expect("half keys");
        assert_eq!(c.region(), "ap-south-1");
        assert_eq!(c.credentials.access_key_id, ANONYMOUS_KEY);
        assert_eq!(c.credentials.session_token, None);
    }

    #[test]
    fn answers_are_parsed_strictly() {
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
        let (t, _) = parse_error(502, b"", None);
        assert_eq!(t, "HTTP 502");

        let ok = br#"{"FailedRecordCount":2,"Records":[
            {"ShardId":"shardId-000000000000","SequenceNumber":"1"},
            {"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"slow down"},
            {"ErrorCode":"InternalFailure","ErrorMessage":"disk"}]}"#;
        assert_eq!(
            parse_outcomes(ok, 3).expect("parse"),
            vec![
                PutOutcome::Ok {
                    shard_id: "shardId-000000000000".into(),
                    sequence_number: "1".into()
                },
                PutOutcome::Throttled {
                    message: "slow down".into()
                },
                PutOutcome::Failed {
                    message: "InternalFailure: disk".into()
                },
            ]
        );
        assert!(parse_outcomes(ok, 2).is_err(), "count mismatch");
        assert!(parse_outcomes(b"{}", 1).is_err());
        assert!(parse_outcomes(b"not json", 1).is_err());
        assert!(parse_outcomes(br#"{"Records":[{"ShardId":"x"}]}"#, 1).is_err());
    }

    #[test]
    fn request_body_matches_the_wire_format() {
        let body = request_body(
            "s",
            &[
                entry("95B•140", None, b"hi"),
                entry("k", Some(u128::MAX), b""),
            ],
        );
        let v: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            v,
            serde_json::json!({
                "StreamName": "s",
                "Records": [
                    {"Data": "aGk=", "PartitionKey": "95B•140"},
                    {"Data": "", "PartitionKey": "k",
                     "ExplicitHashKey": "340282366920938463463374607431768211455"},
                ]
            })
        );
    }
}
