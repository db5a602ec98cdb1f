//! The `http` rule action's request: one `POST` of a rule output to a URL, with the action's
//! headers, and AWS's rules for what a try's outcome means
//! (https://docs.aws.amazon.com/iot/latest/developerguide/https-rule-action.html, "HTTP
//! action retry logic"): a 2xx answer delivers; 429 and 500-599 may be tried again (the
//! caller makes at most three tries in all); any other status, a connection failure, a
//! timeout, or an answer over 16,384 bytes is final.
//!
//! The content type is `application/json` when the body is JSON, else
//! `application/octet-stream`, unless the action's headers name one (any case), as AWS does.
//! A try has [`TRY_TIMEOUT`] from connecting to the end of the answer. No redirects, no
//! proxy, so the address checked is the one connected to.
//!
//! Where it may connect: a rules API caller names the URL (and a file rule's URL may be a
//! template filled from the payload), so [`HttpActionClient::with_policy`] applies the
//! operator's [`EgressPolicy`] as Firehose's HTTP endpoints do: [`EgressResolver`] on every
//! resolved address of every new connection (DNS rebinding included) and
//! [`check_literal`] on an IP-literal host before each try. A refusal is
//! [`HttpActionError::Refused`], final (not retried).

use std::sync::Arc;
use std::time::Duration;

use weir_support::egress::EgressPolicy;

use crate::egress::{check_literal, refusal_in};
use crate::json::block_on;
use crate::EgressResolver;

/// Longest time for one try, from connecting to the end of the answer. AWS's action page
/// speaks of a request timeout limit without a figure; AWS's own errors report tries cut
/// after a few seconds, and a rule's pipeline must not stall on one slow endpoint.
pub const TRY_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest answer AWS reads; a larger one ends the tries.
pub const MAX_HTTP_ANSWER_BYTES: usize = 16_384;

/// Why a try did not deliver.
#[derive(Debug, thiserror::Error)]
pub enum HttpActionError {
    /// The URL or a header cannot make a request.
    #[error("the request to {url} is not usable: {reason}")]
    BadRequest { url: String, reason: String },
    /// No answer: DNS, connection refused, TLS, a broken connection or the try's timeout.
    #[error("HttpAction failed to make a request to {url}: {source}")]
    Connection {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// A non-2xx answer.
    #[error("HttpAction request to {url} returned HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    /// The operator's egress policy refuses every address the URL leads to. `reason` names
    /// the address and the class that refused it (`169.254.169.254 is a cloud metadata
    /// address in 169.254.169.254/32`).
    #[error("HttpAction request to {url} refused by the egress policy: {reason}")]
    Refused { url: String, reason: String },
    /// An answer larger than AWS reads.
    #[error(
        "HttpAction request to {url}: the answer is larger than {MAX_HTTP_ANSWER_BYTES} bytes"
    )]
    TooLarge { url: String },
    /// The request could not run on the client's runtime thread.
    #[error("HttpAction request to {url}: {reason}")]
    Runtime { url: String, reason: String },
}

impl HttpActionError {
    /// Whether AWS tries again after this: an answer of 429 or 500-599 only.
    pub fn is_retryable(&self) -> bool {
        matches!(self, HttpActionError::Status { status, .. } if *status == 429 || (500..600).contains(status))
    }
}

/// The client every `http` action of the process shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpActionClient {
    http: Arc<reqwest::Client>,
    policy: EgressPolicy,
}

impl HttpActionClient {
    /// A client with the action's timeouts that may reach every address.
    pub fn new() -> Result<Self, HttpActionError> {
        Self::with_resolver(EgressResolver::allow_all())
    }

    /// A client that connects only where `policy` allows, names looked up by the system.
    pub fn with_policy(policy: EgressPolicy) -> Result<Self, HttpActionError> {
        Self::with_resolver(EgressResolver::new(policy))
    }

    /// A client that connects only where `resolver`'s policy allows, names looked up by
    /// `resolver` (tests rebind names through [`crate::Lookup`]).
    pub fn with_resolver(resolver: EgressResolver) -> Result<Self, HttpActionError> {
        let policy = resolver.policy.clone();
        let http = reqwest::Client::builder()
            .connect_timeout(TRY_TIMEOUT)
            .timeout(TRY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(resolver))
            .build()
            .map_err(|e| HttpActionError::BadRequest {
                url: String::new(),
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(HttpActionClient {
            http: Arc::new(http),
            policy,
        })
    }

    /// One try: `POST url` with `headers` and `body`, blocking (a pipeline thread calls it);
    /// the answer's status when it is 2xx.
    pub fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<u16, HttpActionError> {
        let this = self.clone();
        let (owned_url, headers) = (url.to_owned(), headers.to_vec());
        block_on(async move { this.post_async(&owned_url, &headers, body).await }).unwrap_or_else(
            |reason| {
                Err(HttpActionError::Runtime {
                    url: url.to_owned(),
                    reason,
                })
            },
        )
    }

    async fn post_async(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<u16, HttpActionError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| HttpActionError::BadRequest {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(HttpActionError::BadRequest {
                url: url.to_owned(),
                reason: format!("scheme {:?} is not http or https", parsed.scheme()),
            });
        }
        check_literal(&self.policy, &parsed).map_err(|r| HttpActionError::Refused {
            url: url.to_owned(),
            reason: r.to_string(),
        })?;
        let mut request = self.http.post(parsed);
        let has_type = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if !has_type {
            let json = serde_json::from_slice::<serde_json::Value>(&body).is_ok();
            request = request.header(
                "content-type",
                if json {
                    "application/json"
                } else {
                    "application/octet-stream"
                },
            );
        }
        for (k, v) in headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let failed = |e: reqwest::Error| match refusal_in(&e) {
            Some(reason) => HttpActionError::Refused {
                url: url.to_owned(),
                reason,
            },
            None => HttpActionError::Connection {
                url: url.to_owned(),
                source: e,
            },
        };
        let mut response = request.body(body).send().await.map_err(failed)?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if bytes.len() + chunk.len() > MAX_HTTP_ANSWER_BYTES {
                return Err(HttpActionError::TooLarge {
                    url: url.to_owned(),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        if (200..300).contains(&status) {
            return Ok(status);
        }
        let mut text = String::from_utf8_lossy(&bytes).trim().to_owned();
        text.truncate(512);
        Err(HttpActionError::Status {
            url: url.to_owned(),
            status,
            body: text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the one-request server saw: request line, headers, body.
    type Request = (String, Vec<(String, String)>, Vec<u8>);

    fn serve(status: u16) -> (std::thread::JoinHandle<Request>, u16) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let answer =
            format!("HTTP/1.1 {status} X\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnope");
        (
            std::thread::spawn(move || weir_testkit::serve_one_request(listener, &answer)),
            port,
        )
    }

    #[test]
    fn a_post_carries_headers_and_the_json_type() {
        let (server, port) = serve(200);
        let client = HttpActionClient::new().expect("client");
        let status = client
            .post(
                &format!("http://127.0.0.1:{port}/in?x=1"),
                &[("x-car".into(), "ABC".into())],
                br#"{"speed":80}"#.to_vec(),
            )
            .expect("posted");
        assert_eq!(status, 200);
        let (line, headers, body) = server.join().expect("server");
        assert_eq!(line, "POST /in?x=1 HTTP/1.1");
        assert_eq!(body, br#"{"speed":80}"#);
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("x-car"), Some("ABC"));
        assert_eq!(get("content-type"), Some("application/json"));
    }

    /// Names to addresses from a fixed table: DNS rebinding without a DNS server.
    struct Names(Vec<(&'static str, std::net::IpAddr)>);

    impl crate::Lookup for Names {
        fn lookup(&self, host: &str) -> std::io::Result<Vec<std::net::IpAddr>> {
            let ips: Vec<_> = self
                .0
                .iter()
                .filter(|(n, _)| *n == host)
                .map(|(_, ip)| *ip)
                .collect();
            if ips.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such host",
                ));
            }
            Ok(ips)
        }
    }

    fn closed_policy_client(names: Names) -> HttpActionClient {
        HttpActionClient::with_resolver(
            EgressResolver::new(EgressPolicy::default()).with_lookup(Arc::new(names)),
        )
        .expect("client")
    }

    #[test]
    fn the_egress_policy_refuses_literals_and_names_before_connecting() {
        // A listener that must see no connection: every refusal happens before one.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let loopback = "127.0.0.1".parse().expect("ip");
        let client = closed_policy_client(Names(vec![("rebound.test", loopback)]));
        for (url, why) in [
            (
                "http://169.254.169.254/latest/meta-data/".to_owned(),
                "169.254.169.254 is a cloud metadata",
            ),
            (
                format!("http://127.0.0.1:{port}/"),
                "127.0.0.1 is a loopback",
            ),
            (
                format!("http://2130706433:{port}/"),
                "127.0.0.1 is a loopback",
            ),
            // A name that resolves to loopback now (DNS rebinding) connects nowhere.
            (
                format!("http://rebound.test:{port}/"),
                "rebound.test resolves only to refused addresses: 127.0.0.1 is a loopback",
            ),
        ] {
            let e = client.post(&url, &[], b"{}".to_vec()).expect_err("refused");
            assert!(matches!(e, HttpActionError::Refused { .. }), "{url}: {e:?}");
            let text = e.to_string();
            assert!(text.contains("refused by the egress policy"), "{text}");
            assert!(text.contains(why), "{url}: {text}");
            assert!(!e.is_retryable(), "{text}");
        }
        assert!(
            listener.accept().is_err(),
            "a refused request must not connect"
        );
    }

    #[test]
    fn an_allowed_address_is_reached_through_the_policy() {
        let (server, port) = serve(200);
        let allowed = vec!["127.0.0.1".parse().expect("entry")];
        let loopback = "127.0.0.1".parse().expect("ip");
        let client = HttpActionClient::with_resolver(
            EgressResolver::new(EgressPolicy::new(false, allowed))
                .with_lookup(Arc::new(Names(vec![("collector.test", loopback)]))),
        )
        .expect("client");
        let status = client
            .post(
                &format!("http://collector.test:{port}/in"),
                &[],
                b"{}".to_vec(),
            )
            .expect("allowed");
        assert_eq!(status, 200);
        let (line, _, _) = server.join().expect("server");
        assert_eq!(line, "POST /in HTTP/1.1");
    }

    #[test]
    fn statuses_are_retried_as_aws_retries_them() {
        for (status, retry) in [
            (500, true),
            (503, true),
            (429, true),
            (404, false),
            (400, false),
        ] {
            let (server, port) = serve(status);
            let e = HttpActionClient::new()
                .expect("client")
                .post(&format!("http://127.0.0.1:{port}/"), &[], b"raw".to_vec())
                .expect_err("refused");
            let (_, headers, _) = server.join().expect("server");
            assert!(headers
                .iter()
                .any(|(k, v)| k == "content-type" && v == "application/octet-stream"));
            assert_eq!(e.is_retryable(), retry, "{status}: {e}");
        }
        // Nobody listening: final, not retried.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let e = HttpActionClient::new()
            .expect("client")
            .post(&format!("http://127.0.0.1:{port}/"), &[], b"{}".to_vec())
            .expect_err("no server");
        assert!(matches!(e, HttpActionError::Connection { .. }), "{e:?}");
        assert!(!e.is_retryable());
    }
}
