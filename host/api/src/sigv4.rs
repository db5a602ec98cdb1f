//! Request authentication, as AWS checks SigV4.
//!
//! Without keys (`[api] verify_keys` empty) any well-formed SigV4 request is accepted, as
//! local emulators do, and the server says at start that anyone can call it; an unsigned
//! request still gets AWS's `MissingAuthenticationTokenException`. With keys, every request
//! is verified in full, whichever way it is signed:
//! - `Authorization` header: the key must be known, `host` and `x-amz-date` must be signed,
//!   the date must be within 15 minutes of the server clock and match the credential scope,
//!   and the body's own SHA-256 is what gets signed (an `x-amz-content-sha256` header that
//!   says otherwise is refused, so a body cannot be swapped under a captured signature);
//! - presigned query (`X-Amz-Algorithm=...`): every `X-Amz-*` parameter present, the same
//!   key and scope checks, not expired (`X-Amz-Date` + `X-Amz-Expires`, at most 7 days), and
//!   the signature over the query without `X-Amz-Signature`.
//!
//! Signatures are compared in constant time.
//!
//! The check comes in two steps, so that no body is read for a request that its headers
//! already condemn ([`check_headers`], then [`BodyCheck::verify`] once the body is in): the
//! form, the key, the signed headers and the date always, and the whole signature when the
//! request names its body's hash in `x-amz-content-sha256` (the body must then hash to it).
//! Without that header the signature covers the body's own hash (botocore and the Java SDK
//! send no such header to Kinesis), so it can only be computed after the body, as AWS does.

use std::collections::HashMap;

use axum::http::{HeaderMap, Method, Uri};
use weir_sigv4::{
    canonical_header_value, canonical_query, constant_time_eq, format_amz_date, parse_amz_date,
    parse_authorization, percent_decode, sha256_hex, sign, Authorization, CanonicalRequest,
    ALGORITHM, MAX_CLOCK_SKEW_SECS, MAX_PRESIGNED_EXPIRES_SECS,
};

use super::error::{ApiError, ErrorKind};

fn err(kind: ErrorKind, message: impl Into<String>) -> ApiError {
    ApiError::new(kind, message)
}

fn mismatch() -> ApiError {
    err(
        ErrorKind::InvalidSignature,
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    )
}

/// Checks a request's authentication. `keys` maps access key id to secret; empty means
/// "accept any well-formed signature". `now` is the server clock in seconds since the epoch.
pub fn check(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    keys: &HashMap<String, String>,
    now: i64,
) -> Result<(), ApiError> {
    check_headers(method, uri, headers, keys, now)?.verify(body)
}

/// What is left to check once the body has arrived.
#[derive(Debug)]
#[must_use = "the body's part of the signature is still to be checked"]
pub struct BodyCheck(Pending);

#[derive(Debug)]
enum Pending {
    /// No keys: the form was all there was to check.
    Nothing,
    /// The signature was verified over this claimed hash: the body must have it.
    Claimed(String),
    /// The signature covers the body's hash: everything else of it is ready.
    Sign(Box<Unsigned>),
}

/// A signature computation short of its payload hash.
#[derive(Debug)]
struct Unsigned {
    method: String,
    path: String,
    query: String,
    canonical_headers: String,
    signed_headers: String,
    date: String,
    scope: String,
    secret: String,
    signature: String,
}

impl Unsigned {
    fn signature(&self, payload_hash: &str) -> String {
        let request = CanonicalRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.canonical_headers,
            signed_headers: &self.signed_headers,
            payload_hash,
        };
        sign(&request, &self.date, &self.scope, &self.secret)
    }

    /// With the payload hash known from the headers, the whole check now; else later.
    fn now_or_later(self, headers: &HeaderMap) -> Result<BodyCheck, ApiError> {
        match claimed_hash(headers)? {
            Some(claimed) => {
                if constant_time_eq(&self.signature(&claimed), &self.signature) {
                    Ok(BodyCheck(Pending::Claimed(claimed)))
                } else {
                    Err(mismatch())
                }
            }
            None => Ok(BodyCheck(Pending::Sign(Box::new(self)))),
        }
    }
}

impl BodyCheck {
    /// Checks the body against what the headers signed or claimed.
    pub fn verify(self, body: &[u8]) -> Result<(), ApiError> {
        match self.0 {
            Pending::Nothing => Ok(()),
            Pending::Claimed(claimed) => {
                if constant_time_eq(&sha256_hex(body), &claimed) {
                    Ok(())
                } else {
                    Err(hash_mismatch())
                }
            }
            Pending::Sign(u) => {
                if constant_time_eq(&u.signature(&sha256_hex(body)), &u.signature) {
                    Ok(())
                } else {
                    Err(mismatch())
                }
            }
        }
    }
}

/// Everything of a request's authentication that its headers decide, before its body is
/// read: an unsigned, malformed, unknown-key, badly dated request, or (when the body's hash
/// is claimed in `x-amz-content-sha256`) a wrong signature, is refused here.
pub fn check_headers(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    keys: &HashMap<String, String>,
    now: i64,
) -> Result<BodyCheck, ApiError> {
    let auth = headers.get("authorization").map(|v| v.to_str());
    let presigned = uri.query().is_some_and(|q| {
        q.split('&')
            .any(|p| p.split('=').next() == Some("X-Amz-Algorithm"))
    });
    match auth {
        Some(Ok(auth)) => check_header(method, uri, headers, keys, now, auth),
        Some(Err(_)) => Err(err(
            ErrorKind::IncompleteSignature,
            "The Authorization header is not valid text.",
        )),
        None if presigned => check_presigned(method, uri, headers, keys, now),
        None => Err(err(
            ErrorKind::MissingAuthenticationToken,
            "Missing Authentication Token",
        )),
    }
}

/// The date checks both forms share: well-formed, matching the scope, and current.
/// `valid_for` is how long after its date the signature stays good (15 minutes for a header,
/// `X-Amz-Expires` for a presigned query).
fn check_date(date: &str, scope: &str, now: i64, valid_for: i64) -> Result<(), ApiError> {
    let Some(at) = parse_amz_date(date) else {
        return Err(err(
            ErrorKind::IncompleteSignature,
            format!("Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601"),
        ));
    };
    let scope_date = scope.split('/').next().unwrap_or_default();
    if scope_date != &date[..8] {
        return Err(err(
            ErrorKind::InvalidSignature,
            format!("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{}', from '{date}'.", &date[..8]),
        ));
    }
    if at + valid_for < now {
        let limit = now - valid_for;
        return Err(err(
            ErrorKind::InvalidSignature,
            if valid_for == MAX_CLOCK_SKEW_SECS {
                format!(
                    "Signature expired: {date} is now earlier than {} ({} - 15 min.)",
                    format_amz_date(limit),
                    format_amz_date(now)
                )
            } else {
                format!(
                    "Signature expired: {date} is now earlier than {} ({} - {valid_for} sec.)",
                    format_amz_date(limit),
                    format_amz_date(now)
                )
            },
        ));
    }
    if at > now + MAX_CLOCK_SKEW_SECS {
        return Err(err(
            ErrorKind::InvalidSignature,
            format!(
                "Signature not yet current: {date} is still later than {} ({} + 15 min.)",
                format_amz_date(now + MAX_CLOCK_SKEW_SECS),
                format_amz_date(now)
            ),
        ));
    }
    Ok(())
}

fn require_signed(signed_headers: &str, name: &str, message: &str) -> Result<(), ApiError> {
    if signed_headers.split(';').any(|h| h == name) {
        Ok(())
    } else {
        Err(err(ErrorKind::InvalidSignature, message))
    }
}

fn secret<'k>(keys: &'k HashMap<String, String>, access_key: &str) -> Result<&'k str, ApiError> {
    keys.get(access_key).map(String::as_str).ok_or_else(|| {
        err(
            ErrorKind::UnrecognizedClient,
            "The security token included in the request is invalid.",
        )
    })
}

fn hash_mismatch() -> ApiError {
    err(
        ErrorKind::InvalidSignature,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )
}

/// The body hash an `x-amz-content-sha256` header claims, if any. Only a SHA-256 in hex can
/// match a body: anything else (`UNSIGNED-PAYLOAD`, streaming forms) is refused now.
fn claimed_hash(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("x-amz-content-sha256").map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(claimed))
            if claimed.len() == 64 && claimed.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(Some(claimed.to_ascii_lowercase()))
        }
        Some(_) => Err(hash_mismatch()),
    }
}

fn check_header(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    keys: &HashMap<String, String>,
    now: i64,
    auth: &str,
) -> Result<BodyCheck, ApiError> {
    let Some(parsed) = parse_authorization(auth) else {
        return Err(err(
            ErrorKind::IncompleteSignature,
            format!("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization={auth}"),
        ));
    };
    let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok());
    if amz_date.is_none() && headers.get("date").is_none() {
        return Err(err(
            ErrorKind::IncompleteSignature,
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    }
    if keys.is_empty() {
        return Ok(BodyCheck(Pending::Nothing));
    }
    let secret = secret(keys, parsed.access_key)?;
    // A date that is not signed could be rewritten by whoever replays the request.
    let Some(date) = amz_date else {
        return Err(err(
            ErrorKind::IncompleteSignature,
            "Weir verifies signatures dated by the 'X-Amz-Date' header; the request has only 'Date'.",
        ));
    };
    require_signed(
        parsed.signed_headers,
        "host",
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    )?;
    require_signed(
        parsed.signed_headers,
        "x-amz-date",
        "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
    )?;
    check_date(date, parsed.scope, now, MAX_CLOCK_SKEW_SECS)?;
    unsigned(
        method,
        uri.path(),
        canonical_query(uri.query()),
        headers,
        &parsed,
        date,
        secret,
    )
    .now_or_later(headers)
}

/// The first value of query parameter `name`, as sent (still percent-encoded).
fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// AWS's answer to a presigned URL that lacks one of the parameters a signature needs.
fn incomplete_presigned() -> ApiError {
    err(
        ErrorKind::IncompleteSignature,
        "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'. Re-examine the query-string parameters.",
    )
}

/// A presigned URL's lifetime in seconds: required, and at most AWS's seven days, so a
/// leaked URL stops working.
fn presigned_expires(value: Option<&str>) -> Result<i64, ApiError> {
    let Some(e) = value else {
        return Err(incomplete_presigned());
    };
    match e.parse::<i64>() {
        Ok(n) if (1..=MAX_PRESIGNED_EXPIRES_SECS).contains(&n) => Ok(n),
        _ => Err(err(
            ErrorKind::InvalidSignature,
            format!("X-Amz-Expires must be a number of seconds from 1 to {MAX_PRESIGNED_EXPIRES_SECS}; got '{e}'."),
        )),
    }
}

/// Checks a presigned request (SigV4 in the query string): the parameters a signature needs,
/// the key, the expiry window and the signature over the query without `X-Amz-Signature`.
fn check_presigned(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    keys: &HashMap<String, String>,
    now: i64,
) -> Result<BodyCheck, ApiError> {
    let query = uri.query().unwrap_or_default();
    let param = |name: &str| query_param(query, name);
    let (Some(algorithm), Some(credential), Some(signature_hex), Some(signed), Some(date)) = (
        param("X-Amz-Algorithm"),
        param("X-Amz-Credential"),
        param("X-Amz-Signature"),
        param("X-Amz-SignedHeaders"),
        param("X-Amz-Date"),
    ) else {
        return Err(incomplete_presigned());
    };
    if algorithm != ALGORITHM {
        return Err(err(
            ErrorKind::IncompleteSignature,
            format!("Unsupported AWS 'algorithm': '{algorithm}'"),
        ));
    }
    let (Some(credential), Some(signed)) = (percent_decode(credential), percent_decode(signed))
    else {
        return Err(incomplete_presigned());
    };
    let Some((access_key, scope)) = credential.split_once('/') else {
        return Err(incomplete_presigned());
    };
    if keys.is_empty() {
        return Ok(BodyCheck(Pending::Nothing));
    }
    let secret = secret(keys, access_key)?;
    let expires = presigned_expires(param("X-Amz-Expires"))?;
    require_signed(
        &signed,
        "host",
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    )?;
    check_date(date, scope, now, expires)?;
    // The signature signs the query without itself.
    let unsigned_query: String = query
        .split('&')
        .filter(|p| p.split('=').next() != Some("X-Amz-Signature"))
        .collect::<Vec<_>>()
        .join("&");
    let auth = Authorization {
        access_key,
        scope,
        signed_headers: &signed,
        signature: signature_hex,
    };
    unsigned(
        method,
        uri.path(),
        canonical_query(Some(&unsigned_query)),
        headers,
        &auth,
        date,
        secret,
    )
    .now_or_later(headers)
}

/// Everything of the signature but the payload hash.
fn unsigned(
    method: &Method,
    path: &str,
    query: String,
    headers: &HeaderMap,
    auth: &Authorization<'_>,
    date: &str,
    secret: &str,
) -> Unsigned {
    let mut canonical_headers = String::new();
    for name in auth.signed_headers.split(';') {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(canonical_header_value)
            .collect();
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }
    Unsigned {
        method: method.as_str().to_owned(),
        path: if path.is_empty() { "/" } else { path }.to_owned(),
        query,
        canonical_headers,
        signed_headers: auth.signed_headers.to_owned(),
        date: date.to_owned(),
        scope: auth.scope.to_owned(),
        secret: secret.to_owned(),
        signature: auth.signature.to_owned(),
    }
}

/// A signature as a client computes it (the tests sign with it).
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
fn signature(
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    payload_hash: &str,
    auth: &Authorization<'_>,
    date: &str,
    secret: &str,
) -> String {
    unsigned(method, path, query.to_owned(), headers, auth, date, secret).signature(payload_hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    /// 2015-08-30T12:36:00Z, the documentation's date.
    const NOW: i64 = 1_440_938_160;

    fn keys() -> HashMap<String, String> {
        HashMap::from([(KEY.to_owned(), SECRET.to_owned())])
    }

    /// Headers of a request signed as a client would sign it, at `at`.
    fn signed(body: &[u8], at: i64, secret: &str) -> HeaderMap {
        let date = format_amz_date(at);
        let mut h = HeaderMap::new();
        h.insert(
            "host",
            "kinesis.us-east-1.amazonaws.com".parse().expect("hdr"),
        );
        h.insert("x-amz-date", date.parse().expect("hdr"));
        h.insert(
            "x-amz-target",
            "Kinesis_20131202.ListStreams".parse().expect("hdr"),
        );
        let scope = format!("{}/us-east-1/kinesis/aws4_request", &date[..8]);
        let auth = Authorization {
            access_key: KEY,
            scope: &scope,
            signed_headers: "host;x-amz-date;x-amz-target",
            signature: "",
        };
        let sig = signature(
            &Method::POST,
            "/",
            "",
            &h,
            &sha256_hex(body),
            &auth,
            &date,
            secret,
        );
        let value = format!(
            "{ALGORITHM} Credential={KEY}/{scope}, SignedHeaders={}, Signature={sig}",
            auth.signed_headers
        );
        h.insert("authorization", value.parse().expect("hdr"));
        h
    }

    fn root() -> Uri {
        "/".parse().expect("uri")
    }

    fn kind(r: Result<(), ApiError>) -> ErrorKind {
        r.expect_err("refused").kind
    }

    #[test]
    fn aws_documented_example_signature() {
        // The GET example from the SigV4 documentation (IAM ListUsers).
        let mut h = HeaderMap::new();
        h.insert("host", "iam.amazonaws.com".parse().expect("hdr"));
        h.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .expect("hdr"),
        );
        h.insert("x-amz-date", "20150830T123600Z".parse().expect("hdr"));
        let auth = Authorization {
            access_key: KEY,
            scope: "20150830/us-east-1/iam/aws4_request",
            signed_headers: "content-type;host;x-amz-date",
            signature: "",
        };
        let sig = signature(
            &Method::GET,
            "/",
            &canonical_query(Some("Action=ListUsers&Version=2010-05-08")),
            &h,
            &sha256_hex(b""),
            &auth,
            "20150830T123600Z",
            SECRET,
        );
        assert_eq!(
            sig,
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn unsigned_and_malformed() {
        let h = HeaderMap::new();
        for k in [HashMap::new(), keys()] {
            let e = check(&Method::POST, &root(), &h, b"", &k, NOW);
            assert_eq!(kind(e), ErrorKind::MissingAuthenticationToken);
        }
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer x".parse().expect("hdr"));
        let e = check(&Method::POST, &root(), &h, b"", &HashMap::new(), NOW);
        assert_eq!(kind(e), ErrorKind::IncompleteSignature);
    }

    #[test]
    fn a_correct_signature_passes_and_a_wrong_secret_does_not() {
        let body = br#"{"Limit":10}"#;
        let ok = signed(body, NOW, SECRET);
        check(&Method::POST, &root(), &ok, body, &keys(), NOW).expect("valid");
        // Within the 15 minutes either way.
        check(&Method::POST, &root(), &ok, body, &keys(), NOW + 14 * 60).expect("skew");
        let bad = signed(body, NOW, "not-the-secret");
        let e = check(&Method::POST, &root(), &bad, body, &keys(), NOW);
        assert_eq!(kind(e), ErrorKind::InvalidSignature);
        let e = check(
            &Method::POST,
            &root(),
            &ok,
            body,
            &HashMap::from([("OTHER".to_owned(), SECRET.to_owned())]),
            NOW,
        );
        assert_eq!(kind(e), ErrorKind::UnrecognizedClient);
    }

    #[test]
    fn a_request_signed_an_hour_ago_or_ahead_is_refused() {
        let body = b"{}";
        let old = signed(body, NOW - 3600, SECRET);
        let e = check(&Method::POST, &root(), &old, body, &keys(), NOW).expect_err("stale");
        assert_eq!(e.kind, ErrorKind::InvalidSignature);
        assert_eq!(
            e.message,
            "Signature expired: 20150830T113600Z is now earlier than 20150830T122100Z (20150830T123600Z - 15 min.)"
        );
        let ahead = signed(body, NOW + 3600, SECRET);
        let e = check(&Method::POST, &root(), &ahead, body, &keys(), NOW).expect_err("future");
        assert!(
            e.message.starts_with("Signature not yet current"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_swapped_body_or_a_lying_payload_hash_is_refused() {
        let h = signed(b"{\"StreamName\":\"a\"}", NOW, SECRET);
        let e = check(
            &Method::POST,
            &root(),
            &h,
            b"{\"StreamName\":\"b\"}",
            &keys(),
            NOW,
        );
        assert_eq!(kind(e), ErrorKind::InvalidSignature);
        // The header claims the signed body's hash, but another body came.
        let mut h = signed(b"{}", NOW, SECRET);
        h.insert(
            "x-amz-content-sha256",
            sha256_hex(b"{}").parse().expect("hdr"),
        );
        check(&Method::POST, &root(), &h, b"{}", &keys(), NOW).expect("true hash");
        let e = check(&Method::POST, &root(), &h, b"{\"x\":1}", &keys(), NOW);
        assert_eq!(kind(e), ErrorKind::InvalidSignature);
    }

    #[test]
    fn a_fake_presigned_query_is_not_a_free_pass() {
        let uri: Uri = "/?X-Amz-Algorithm=x".parse().expect("uri");
        for k in [HashMap::new(), keys()] {
            let e = check(&Method::POST, &uri, &HeaderMap::new(), b"{}", &k, NOW);
            assert_eq!(kind(e), ErrorKind::IncompleteSignature);
        }
        let uri: Uri = "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fkinesis%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=00".parse().expect("uri");
        let mut h = HeaderMap::new();
        h.insert(
            "host",
            "kinesis.us-east-1.amazonaws.com".parse().expect("hdr"),
        );
        let e = check(&Method::POST, &uri, &h, b"{}", &keys(), NOW);
        assert_eq!(kind(e), ErrorKind::InvalidSignature);
    }

    /// A presigned request made the way botocore's query signer makes one.
    fn presigned(at: i64, expires: i64, body: &[u8]) -> (Uri, HeaderMap) {
        let date = format_amz_date(at);
        let scope = format!("{}/us-east-1/kinesis/aws4_request", &date[..8]);
        let query = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={KEY}%2F{}&X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host",
            scope.replace('/', "%2F")
        );
        let mut h = HeaderMap::new();
        h.insert(
            "host",
            "kinesis.us-east-1.amazonaws.com".parse().expect("hdr"),
        );
        let auth = Authorization {
            access_key: KEY,
            scope: &scope,
            signed_headers: "host",
            signature: "",
        };
        let sig = signature(
            &Method::POST,
            "/",
            &canonical_query(Some(&query)),
            &h,
            &sha256_hex(body),
            &auth,
            &date,
            SECRET,
        );
        let uri = format!("/?{query}&X-Amz-Signature={sig}")
            .parse()
            .expect("uri");
        (uri, h)
    }

    #[test]
    fn a_presigned_request_is_verified_in_full() {
        let (uri, h) = presigned(NOW, 300, b"{}");
        check(&Method::POST, &uri, &h, b"{}", &keys(), NOW + 200).expect("within expiry");
        let e = check(&Method::POST, &uri, &h, b"{}", &keys(), NOW + 301);
        assert_eq!(kind(e), ErrorKind::InvalidSignature);
        let e = check(&Method::POST, &uri, &h, b"{\"x\":1}", &keys(), NOW);
        assert_eq!(kind(e), ErrorKind::InvalidSignature);
        let (uri, h) = presigned(NOW, 8 * 24 * 3600, b"{}");
        let e = check(&Method::POST, &uri, &h, b"{}", &keys(), NOW);
        assert_eq!(kind(e), ErrorKind::InvalidSignature);
    }

    #[test]
    fn host_and_date_must_be_signed() {
        let body = b"{}";
        let mut h = signed(body, NOW, SECRET);
        let auth = h
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .expect("auth")
            .replace("host;x-amz-date;x-amz-target", "x-amz-target");
        h.insert("authorization", auth.parse().expect("hdr"));
        let e = check(&Method::POST, &root(), &h, body, &keys(), NOW);
        assert_eq!(kind(e), ErrorKind::InvalidSignature);
    }

    #[test]
    fn the_headers_alone_refuse_what_they_can() {
        let body = b"{\"StreamName\":\"a\"}";
        // A claimed body hash makes the whole signature checkable before the body.
        let mut bad = signed(body, NOW, "not-the-secret");
        bad.insert(
            "x-amz-content-sha256",
            sha256_hex(body).parse().expect("hdr"),
        );
        let e = check_headers(&Method::POST, &root(), &bad, &keys(), NOW).expect_err("bad sig");
        assert_eq!(e.kind, ErrorKind::InvalidSignature);
        let mut good = signed(body, NOW, SECRET);
        good.insert(
            "x-amz-content-sha256",
            sha256_hex(body).parse().expect("hdr"),
        );
        let pending = check_headers(&Method::POST, &root(), &good, &keys(), NOW).expect("good");
        assert!(matches!(pending.0, Pending::Claimed(_)));
        pending.verify(body).expect("the claimed body");
        // A claim that is no SHA-256 can match no body.
        let mut odd = signed(body, NOW, SECRET);
        odd.insert(
            "x-amz-content-sha256",
            "UNSIGNED-PAYLOAD".parse().expect("hdr"),
        );
        let e = check_headers(&Method::POST, &root(), &odd, &keys(), NOW).expect_err("claim");
        assert_eq!(e.kind, ErrorKind::InvalidSignature);
        // Unknown key, stale date, unsigned: all from the headers.
        let stale = signed(body, NOW - 3600, SECRET);
        let e = check_headers(&Method::POST, &root(), &stale, &keys(), NOW).expect_err("stale");
        assert_eq!(e.kind, ErrorKind::InvalidSignature);
        let other = HashMap::from([("OTHER".to_owned(), SECRET.to_owned())]);
        let e = check_headers(&Method::POST, &root(), &good, &other, NOW).expect_err("key");
        assert_eq!(e.kind, ErrorKind::UnrecognizedClient);
        let e = check_headers(&Method::POST, &root(), &HeaderMap::new(), &keys(), NOW)
            .expect_err("unsigned");
        assert_eq!(e.kind, ErrorKind::MissingAuthenticationToken);
        // Without a claim the signature covers the body's hash: decided once it is in.
        let late = signed(body, NOW, "not-the-secret");
        let pending = check_headers(&Method::POST, &root(), &late, &keys(), NOW).expect("form");
        assert_eq!(kind(pending.verify(body)), ErrorKind::InvalidSignature);
    }
}
