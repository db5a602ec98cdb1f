//! An S3 `PutObject` whose key reaches the server byte for byte.
//!
//! S3 stores a key like `a//b/./../c` as it is; Firehose writes such keys when a partition
//! key value holds them. reqwest cannot send one: its URL type removes `.` and `..` segments
//! (`%2E` ones too, as the URL standard says). So this call goes through hyper, the HTTP
//! client under reqwest, whose request line is the path as given: path-style
//! `PUT /BUCKET/KEY`, each byte outside `A-Za-z0-9-._~/` percent-encoded, signed with SigV4
//! on exactly the path sent. TLS is reqwest's rustls (ring provider, the system's roots).
//!
//! The endpoint is the operator's `[s3]` setting, not an API caller's choice, so no egress
//! check applies (as for `object_store`'s own requests to it).

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::signing::Signer;

/// Longest time to open a connection (`object_store`'s is 5 s too).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time for a whole PutObject (an object is at most Firehose's 128 MiB buffer).
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Most of an error answer kept for the message.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Why an exact-key PutObject failed.
#[derive(Debug, thiserror::Error)]
pub enum ExactPutError {
    /// The TLS roots could not be loaded, so no client could be built.
    #[error("cannot set up TLS for S3: {0}")]
    Tls(#[source] std::io::Error),
    /// The endpoint and key make no usable request.
    #[error("the request {url:?} is not usable: {reason}")]
    BadRequest { url: String, reason: String },
    /// No answer: connection refused, TLS, a broken connection.
    #[error("PutObject failed: {0}")]
    Connection(#[source] hyper_util::client::legacy::Error),
    #[error("PutObject got no answer within {CALL_TIMEOUT:?}")]
    Timeout,
    /// A non-2xx answer, with (the start of) its body.
    #[error("PutObject answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
}

/// The client for exact-key puts: hyper with rustls, pooled connections. Cheap to clone.
#[derive(Clone)]
pub struct ExactPutClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for ExactPutClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactPutClient").finish_non_exhaustive()
    }
}

impl ExactPutClient {
    /// A client trusting the system's roots (as reqwest's does).
    pub fn new() -> Result<Self, ExactPutError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(ExactPutError::Tls)?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(ExactPutClient {
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }
}

impl ExactPutClient {
    /// [`put_object_with`] for a synchronous caller (a pipeline thread): run on the crate's
    /// runtime thread, this thread waiting for the answer.
    pub fn put_blocking(
        &self,
        r: &ExactPut,
        body: Vec<u8>,
        extra: &[(&'static str, String)],
    ) -> Result<(), ExactPutError> {
        let (client, r, extra) = (self.clone(), r.clone(), extra.to_vec());
        crate::json::block_on(async move { put_object_with(&client, &r, body, &extra).await })
            .unwrap_or(Err(ExactPutError::Timeout))
    }
}

/// One PutObject: where, what, and who signs it.
#[derive(Clone, PartialEq, Eq)]
pub struct ExactPut {
    /// `scheme://host[:port]`, no trailing `/`; requests are path-style.
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub key: String,
    pub key_id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for ExactPut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactPut")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// S3's `UriEncode` of a key for the request path: every byte but `A-Za-z0-9-._~` and `/`
/// as `%XX`. `.`, `..` and empty segments stay as they are: S3 does not normalise an
/// object's path, and the path signed is the path sent.
pub(crate) fn uri_encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends `r` with `body`: one SigV4-signed path-style `PUT /BUCKET/KEY`; done once S3
/// answered 2xx.
pub async fn put_object_exact(
    client: &ExactPutClient,
    r: &ExactPut,
    body: Vec<u8>,
) -> Result<(), ExactPutError> {
    put_object_with(client, r, body, &[]).await
}

/// [`put_object_exact`] with more headers, signed too (lower-case `x-amz-*` names, e.g.
/// `x-amz-acl` for the `s3` rule action's canned ACL).
pub async fn put_object_with(
    client: &ExactPutClient,
    r: &ExactPut,
    body: Vec<u8>,
    extra: &[(&'static str, String)],
) -> Result<(), ExactPutError> {
    let path = format!("/{}/{}", uri_encode_key(&r.bucket), uri_encode_key(&r.key));
    let url = format!("{}{path}", r.endpoint);
    let bad = |reason: String| ExactPutError::BadRequest {
        url: url.clone(),
        reason,
    };
    let uri: hyper::Uri = url.parse().map_err(|e| bad(format!("{e}")))?;
    let host = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .ok_or_else(|| bad("the S3 endpoint has no host".into()))?;
    let request = signed_put(r, uri, host, &path, body, extra).map_err(|e| bad(format!("{e}")))?;
    tokio::time::timeout(CALL_TIMEOUT, send(client, request))
        .await
        .map_err(|_| ExactPutError::Timeout)?
}

/// The `PUT` request, signed with SigV4 for S3 at this moment: the payload's SHA-256 is in
/// `x-amz-content-sha256` and signed, so S3 refuses a body altered on the way.
fn signed_put(
    r: &ExactPut,
    uri: hyper::Uri,
    host: String,
    path: &str,
    body: Vec<u8>,
    extra: &[(&'static str, String)],
) -> Result<hyper::Request<Full<Bytes>>, hyper::http::Error> {
    let now = chrono::Utc::now();
    let signer = Signer::new(&r.key_id, &r.secret, now, &r.region, "s3");
    let payload_hash = weir_sigv4::sha256_hex(&body);
    // Sorted by name, as the canonical request wants them.
    let mut headers: Vec<(&str, String)> = vec![
        ("host", host),
        ("x-amz-content-sha256", payload_hash.clone()),
        ("x-amz-date", signer.amz_date.clone()),
    ];
    if let Some(t) = &r.token {
        headers.push(("x-amz-security-token", t.clone()));
    }
    headers.extend(extra.iter().cloned());
    headers.sort_by(|a, b| a.0.cmp(b.0));
    let authorization = signer.authorization("PUT", path, &headers, &payload_hash);
    let mut request = hyper::Request::put(uri)
        .header("authorization", authorization)
        .header("user-agent", concat!("weir/", env!("CARGO_PKG_VERSION")));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.body(Full::new(Bytes::from(body)))
}

/// Sends the request; S3's answer counts only when 2xx. An error reply's body (S3's XML
/// error, bounded by `MAX_ERROR_BYTES`) goes into the error for the operator.
async fn send(
    client: &ExactPutClient,
    request: hyper::Request<Full<Bytes>>,
) -> Result<(), ExactPutError> {
    let response = client
        .client
        .request(request)
        .await
        .map_err(ExactPutError::Connection)?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let text = match Limited::new(response.into_body(), MAX_ERROR_BYTES)
        .collect()
        .await
    {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().to_owned(),
        Err(_) => String::new(),
    };
    Err(ExactPutError::Status { status, body: text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_without_touching_dot_segments() {
        assert_eq!(
            uri_encode_key("a//./../b c/%/é~"),
            "a//./../b%20c/%25/%C3%A9~"
        );
    }

    /// One HTTP request read off a socket: the request line, the headers, the body; answers
    /// `status`.
    fn serve_one(
        listener: std::net::TcpListener,
        status: u16,
    ) -> (String, Vec<(String, String)>, Vec<u8>) {
        let answer =
            format!("HTTP/1.1 {status} X\r\ncontent-length: 7\r\nconnection: close\r\n\r\nrefused");
        weir_testkit::serve_one_request(listener, &answer)
    }

    fn put(r: &ExactPut, body: &[u8]) -> Result<(), ExactPutError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = ExactPutClient::new().expect("client");
        rt.block_on(put_object_exact(&client, r, body.to_vec()))
    }

    #[test]
    fn a_put_sends_the_exact_key_and_signs_the_path_it_sends() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || serve_one(listener, 200));
        let request = ExactPut {
            endpoint: format!("http://127.0.0.1:{port}"),
            region: "eu-west-1".into(),
            bucket: "bkt".into(),
            key: "k/a//b/./../\u{1}x y/o".into(),
            key_id: "AKIDTEST".into(),
            secret: "secret".into(),
            token: Some("tok".into()),
        };
        put(&request, b"body").expect("put");
        let (line, headers, body) = server.join().expect("server");
        // No dot-segment removal, no merged slashes: S3 gets this key byte for byte.
        assert_eq!(line, "PUT /bkt/k/a//b/./../%01x%20y/o HTTP/1.1");
        assert_eq!(body, b"body");
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no {n} header in {headers:?}"))
        };
        assert_eq!(header("host"), format!("127.0.0.1:{port}"));
        assert_eq!(header("x-amz-security-token"), "tok");
        let hash = weir_sigv4::sha256_hex(b"body");
        assert_eq!(header("x-amz-content-sha256"), hash);
        let date = header("x-amz-date");
        let auth = header("authorization");
        let scope = format!("{}/eu-west-1/s3/aws4_request", &date[..8]);
        let signed = "host;x-amz-content-sha256;x-amz-date;x-amz-security-token";
        // What a SigV4 verifier computes from the request as received.
        let canonical_headers = format!(
            "host:127.0.0.1:{port}\nx-amz-content-sha256:{hash}\nx-amz-date:{date}\nx-amz-security-token:tok\n"
        );
        let want = weir_sigv4::sign(
            &weir_sigv4::CanonicalRequest {
                method: "PUT",
                path: "/bkt/k/a//b/./../%01x%20y/o",
                query: "",
                headers: &canonical_headers,
                signed_headers: signed,
                payload_hash: &hash,
            },
            &date,
            &scope,
            "secret",
        );
        assert_eq!(
            auth,
            format!("AWS4-HMAC-SHA256 Credential=AKIDTEST/{scope}, SignedHeaders={signed}, Signature={want}")
        );
    }

    #[test]
    fn a_refused_put_is_an_error_with_the_answer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || serve_one(listener, 403));
        let request = ExactPut {
            endpoint: format!("http://127.0.0.1:{port}"),
            region: "us-east-1".into(),
            bucket: "bkt".into(),
            key: "a//b".into(),
            key_id: "AKIDTEST".into(),
            secret: "secret".into(),
            token: None,
        };
        let err = put(&request, b"x").expect_err("refused");
        server.join().expect("server");
        assert!(
            matches!(&err, ExactPutError::Status { status: 403, body } if body == "refused"),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "PutObject answered HTTP 403: refused");
    }
}
