//! The AWS JSON protocol, the one Kinesis, DynamoDB and SQS speak: `POST /` with
//! `X-Amz-Target: <prefix>.<Operation>` and an `application/x-amz-json-1.x` body, signed with
//! AWS Signature Version 4 by [`weir_sigv4`] (the steps the API's verifier uses, so whatever
//! this client signs, a Weir with `verify_keys` accepts). A 2xx answer is the operation's
//! JSON; anything else becomes an [`AwsError::Service`] naming AWS's `__type`.
//!
//! HTTP is reqwest (rustls, ring): a connection takes at most [`CONNECT_TIMEOUT`] to open and
//! a call at most [`CALL_TIMEOUT`]; answers over 1 MiB are refused. Redirects are not followed
//! (a signed request is answered where it was sent or fails) and proxy variables are ignored,
//! so the egress policy judges the address actually connected to.
//!
//! Calls are async ([`JsonClient::call`]); [`JsonClient::call_blocking`] runs one on the
//! crate's own runtime thread for synchronous callers (a pipeline thread), so it works
//! from any thread that is not itself driving a tokio runtime's tasks.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Url;
use weir_sigv4 as sigv4;

use crate::credentials::{check_region, Credentials};
use crate::egress::{check_literal, refusal_in, EgressResolver};
use crate::error::{parse_error, AwsError};
use crate::signing::Signer;

/// Longest time to open a connection (DNS, TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time for a whole call, from connecting to reading the answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read (a 500-record PutRecords answer is about 60 KiB; errors are smaller).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// What distinguishes one JSON-protocol service from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonService {
    /// The SigV4 signing name (`kinesis`, `dynamodb`, `sqs`).
    pub signing_name: &'static str,
    /// The `X-Amz-Target` prefix (`Kinesis_20131202`, `DynamoDB_20120810`, `AmazonSQS`).
    pub target_prefix: &'static str,
    /// The protocol version in the content type: `1.1` (Kinesis) or `1.0` (DynamoDB, SQS).
    pub json_version: &'static str,
}

/// A client for one endpoint of one JSON-protocol service. Cheap to clone and to share
/// across threads; connections are pooled and reused.
#[derive(Clone)]
pub struct JsonClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    service: JsonService,
    /// `scheme://host[:port]/`, where requests go.
    url: Url,
    /// The `Host` header sent and signed: the URL's host and non-default port.
    host: String,
    region: String,
    credentials: Credentials,
    egress: EgressResolver,
}

impl fmt::Debug for JsonClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonClient")
            .field("service", &self.inner.service.signing_name)
            .field("url", &self.inner.url.as_str())
            .field("region", &self.inner.region)
            .field("credentials", &self.inner.credentials)
            .finish_non_exhaustive()
    }
}

impl JsonClient {
    /// A client for `service` at `endpoint`, `http(s)://host[:port][/]` (no path, query or
    /// user info), signing for `region` with `credentials`, connecting only where `egress`
    /// allows.
    pub fn new(
        service: JsonService,
        endpoint: &str,
        region: &str,
        credentials: Credentials,
        egress: EgressResolver,
    ) -> Result<Self, AwsError> {
        let bad = |reason: String| AwsError::BadEndpoint {
            endpoint: endpoint.to_owned(),
            reason,
        };
        let (url, host) = parse_endpoint(endpoint).map_err(bad)?;
        check_region(region).map_err(bad)?;
        credentials.check().map_err(bad)?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(egress.clone()))
            .build()
            .map_err(|e| bad(format!("cannot build the HTTP client: {e}")))?;
        Ok(JsonClient {
            inner: Arc::new(Inner {
                http,
                service,
                url,
                host,
                region: region.to_owned(),
                credentials,
                egress,
            }),
        })
    }

    /// Where requests go (`scheme://host[:port]/`).
    pub fn endpoint(&self) -> &str {
        self.inner.url.as_str()
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The credentials requests are signed with.
    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// An [`AwsError::InvalidRequest`] for `label`, for checks made before sending.
    pub fn invalid(&self, label: &str, reason: String) -> AwsError {
        AwsError::InvalidRequest {
            endpoint: self.endpoint().to_owned(),
            operation: label.to_owned(),
            reason,
        }
    }

    /// An [`AwsError::MalformedResponse`] for `label`, for answers the caller cannot read.
    pub fn malformed(&self, label: &str, reason: String) -> AwsError {
        AwsError::MalformedResponse {
            endpoint: self.endpoint().to_owned(),
            operation: label.to_owned(),
            reason,
        }
    }

    /// Calls `operation` (`PutRecords`) with the JSON `body`; the 2xx answer's body. `label`
    /// names the call in errors (`PutRecords to stream "s"`).
    pub async fn call(
        &self,
        operation: &str,
        label: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, AwsError> {
        let inner = &self.inner;
        let endpoint = || inner.url.as_str().to_owned();
        if let Err(r) = check_literal(&inner.egress.policy, &inner.url) {
            return Err(AwsError::Refused {
                endpoint: endpoint(),
                operation: label.to_owned(),
                reason: r.to_string(),
            });
        }
        let mut request = inner.http.post(inner.url.clone());
        for (name, value) in self.signed_headers(operation, &body, Utc::now()) {
            request = request.header(name, value);
        }
        let failed = |e: reqwest::Error| match refusal_in(&e) {
            Some(reason) => AwsError::Refused {
                endpoint: endpoint(),
                operation: label.to_owned(),
                reason,
            },
            None => AwsError::Connection {
                endpoint: endpoint(),
                operation: label.to_owned(),
                source: e,
            },
        };
        let mut response = request.body(body).send().await.map_err(failed)?;
        let status = response.status().as_u16();
        let amzn_error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(self.malformed(
                    label,
                    format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes"),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !(200..300).contains(&status) {
            let (error_type, message) = parse_error(status, &bytes, amzn_error_type.as_deref());
            return Err(AwsError::Service {
                endpoint: endpoint(),
                operation: label.to_owned(),
                status,
                error_type,
                message,
            });
        }
        Ok(bytes)
    }

    /// [`Self::call`] for a synchronous caller: run on the crate's runtime thread, this
    /// thread waiting for the answer (at most [`CALL_TIMEOUT`] and a little).
    pub fn call_blocking(
        &self,
        operation: &str,
        label: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, AwsError> {
        let this = self.clone();
        let (operation, owned_label) = (operation.to_owned(), label.to_owned());
        block_on(async move { this.call(&operation, &owned_label, body).await }).unwrap_or_else(
            |reason| {
                Err(AwsError::Runtime {
                    endpoint: self.endpoint().to_owned(),
                    operation: label.to_owned(),
                    reason,
                })
            },
        )
    }

    /// Every header of a call of `operation` with `body` at `now`, `Authorization`
    /// included. The signed ones are exactly these minus `Authorization`.
    pub(crate) fn signed_headers(
        &self,
        operation: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Vec<(&'static str, String)> {
        let inner = &self.inner;
        let signer = Signer::new(
            &inner.credentials.access_key_id,
            &inner.credentials.secret_access_key,
            now,
            &inner.region,
            inner.service.signing_name,
        );
        let payload_hash = sigv4::sha256_hex(body);
        // Sorted by name, as the canonical request wants them.
        let mut headers: Vec<(&'static str, String)> = vec![
            (
                "content-type",
                format!("application/x-amz-json-{}", inner.service.json_version),
            ),
            ("host", inner.host.clone()),
            ("x-amz-content-sha256", payload_hash.clone()),
            ("x-amz-date", signer.amz_date.clone()),
        ];
        if let Some(token) = &inner.credentials.session_token {
            headers.push(("x-amz-security-token", token.clone()));
        }
        headers.push((
            "x-amz-target",
            format!("{}.{operation}", inner.service.target_prefix),
        ));
        let authorization = signer.authorization("POST", "/", &headers, &payload_hash);
        headers.push(("authorization", authorization));
        headers
    }
}

/// The crate's runtime: one worker thread that drives every blocking caller's requests,
/// started on first use.
fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("weir-aws-client")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the HTTP client's runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs `fut` on the crate's runtime and waits for it on this thread (never inside the
/// runtime, so a caller in any context gets an answer, not a panic). The error is why it
/// could not run.
pub(crate) fn block_on<T: Send + 'static>(
    fut: impl Future<Output = T> + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        let _ = tx.send(fut.await);
    });
    // The reqwest timeout ends the call first; this only bounds the wait if that failed.
    rx.recv_timeout(CALL_TIMEOUT + CONNECT_TIMEOUT)
        .map_err(|e| format!("no answer from the HTTP client's runtime: {e}"))
}

/// Checks `endpoint` and returns its URL (`scheme://host[:port]/`) and its `Host` header.
fn parse_endpoint(endpoint: &str) -> Result<(Url, String), String> {
    let url = Url::parse(endpoint)
        .map_err(|e| format!("not a URL ({e}); expected http(s)://host[:port]"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} is not http or https", url.scheme()));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err("no host; expected http(s)://host[:port]".into());
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("user info is not allowed in the endpoint; pass credentials instead".into());
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(
            "an AWS JSON endpoint has no path or query; expected http(s)://host[:port][/]".into(),
        );
    }
    // What hyper sends as `Host`: the port only when it is not the scheme's default.
    let host = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    Ok((url, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST: JsonService = JsonService {
        signing_name: "kinesis",
        target_prefix: "Kinesis_20131202",
        json_version: "1.1",
    };

    fn client(endpoint: &str) -> Result<JsonClient, AwsError> {
        JsonClient::new(
            TEST,
            endpoint,
            "us-east-1",
            Credentials::anonymous(),
            EgressResolver::allow_all(),
        )
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
            let e = client(bad).expect_err(bad);
            assert!(matches!(e, AwsError::BadEndpoint { .. }), "{bad:?}: {e:?}");
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
        for (good, url, host) in [
            (
                "http://127.0.0.1:4567",
                "http://127.0.0.1:4567/",
                "127.0.0.1:4567",
            ),
            (
                "https://Kinesis.us-east-1.amazonaws.com:443/",
                "https://kinesis.us-east-1.amazonaws.com/",
                "kinesis.us-east-1.amazonaws.com",
            ),
            ("HTTPS://[::1]:8443", "https://[::1]:8443/", "[::1]:8443"),
        ] {
            let c = client(good).expect(good);
            assert_eq!(c.endpoint(), url);
            assert_eq!(c.inner.host, host);
        }
        let bad_region = JsonClient::new(
            TEST,
            "http://127.0.0.1:1",
            "us/east",
            Credentials::anonymous(),
            EgressResolver::allow_all(),
        );
        assert!(matches!(bad_region, Err(AwsError::BadEndpoint { .. })));
    }

    #[test]
    fn the_target_and_content_type_are_signed() {
        let mut creds = Credentials::anonymous();
        creds.session_token = Some("FQoGZXIvYXdzEXAMPLETOKEN==".into());
        let c = JsonClient::new(
            JsonService {
                signing_name: "dynamodb",
                target_prefix: "DynamoDB_20120810",
                json_version: "1.0",
            },
            "http://127.0.0.1:8000",
            "eu-west-1",
            creds,
            EgressResolver::allow_all(),
        )
        .expect("client");
        let headers = c.signed_headers("PutItem", b"{}", Utc::now());
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("x-amz-target"), Some("DynamoDB_20120810.PutItem"));
        assert_eq!(get("content-type"), Some("application/x-amz-json-1.0"));
        let auth = get("authorization").expect("authorization");
        assert!(
            auth.contains("/eu-west-1/dynamodb/aws4_request")
                && auth.contains(
                    "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-target"
                ),
            "{auth}"
        );
        assert!(!format!("{c:?}").contains("FQoG"));
    }
}
