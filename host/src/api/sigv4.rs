//! Request authentication.
//!
//! By default any request that carries a well-formed SigV4 `Authorization` header (or a
//! presigned query) is accepted, as local emulators do, while an unsigned request gets
//! AWS's `MissingAuthenticationTokenException`. With keys configured the signature is
//! verified for real, so a deployment can hand out credentials.

use std::collections::HashMap;

use axum::http::{HeaderMap, Method, Uri};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ErrorKind};

/// Parsed `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
#[derive(Debug)]
struct AuthHeader<'a> {
    access_key: &'a str,
    scope: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_auth(v: &str) -> Option<AuthHeader<'_>> {
    let rest = v.strip_prefix("AWS4-HMAC-SHA256")?.trim_start();
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(c) = part.strip_prefix("Credential=") {
            credential = Some(c);
        } else if let Some(c) = part.strip_prefix("SignedHeaders=") {
            signed = Some(c);
        } else if let Some(c) = part.strip_prefix("Signature=") {
            signature = Some(c);
        }
    }
    let credential = credential?;
    let (access_key, scope) = credential.split_once('/')?;
    Some(AuthHeader {
        access_key,
        scope,
        signed_headers: signed?,
        signature: signature?,
    })
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// The signing steps shared by the verifier below and the client in
// `delivery::remote_kinesis`: both build the same canonical request and derive the same key,
// so a request the client signs is one the verifier accepts.

/// Lower-case hex SHA-256 of `bytes` (the payload hash of a canonical request).
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A header value in canonical form: leading and trailing space trimmed, inner runs of
/// white space collapsed to one space.
pub(crate) fn canonical_header_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The pieces of a SigV4 canonical request, each already in canonical form.
pub(crate) struct CanonicalRequest<'a> {
    pub method: &'a str,
    /// The URI-encoded path, `/` for an empty one.
    pub path: &'a str,
    /// The sorted query string (empty without one).
    pub query: &'a str,
    /// One `name:value\n` line per signed header, names lower-case and sorted.
    pub headers: &'a str,
    /// The signed header names joined by `;`, as in the `Authorization` header.
    pub signed_headers: &'a str,
    /// Hex SHA-256 of the body (or the `x-amz-content-sha256` value).
    pub payload_hash: &'a str,
}

/// The hex signature of `request` at `amz_date` (`YYYYMMDDTHHMMSSZ`) for `scope`
/// (`YYYYMMDD/REGION/SERVICE/aws4_request`) with `secret`.
pub(crate) fn sign(
    request: &CanonicalRequest<'_>,
    amz_date: &str,
    scope: &str,
    secret: &str,
) -> String {
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        request.path,
        request.query,
        request.headers,
        request.signed_headers,
        request.payload_hash
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in scope.split('/') {
        key = hmac(&key, part.as_bytes());
    }
    hex(&hmac(&key, string_to_sign.as_bytes()))
}

/// Checks a request's authentication. `keys` maps access key id to secret; empty means
/// "accept any signature".
pub fn check(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    keys: &HashMap<String, String>,
) -> Result<(), ApiError> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    let presigned = uri.query().is_some_and(|q| q.contains("X-Amz-Algorithm="));
    let Some(auth) = auth else {
        if presigned {
            return Ok(());
        }
        return Err(ApiError::new(
            ErrorKind::MissingAuthenticationToken,
            "Missing Authentication Token",
        ));
    };
    let Some(parsed) = parse_auth(auth) else {
        return Err(ApiError::new(
            ErrorKind::IncompleteSignature,
            format!("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization={auth}"),
        ));
    };
    let date = headers.get("x-amz-date").and_then(|v| v.to_str().ok());
    let Some(date) = date.or_else(|| headers.get("date").and_then(|v| v.to_str().ok())) else {
        return Err(ApiError::new(
            ErrorKind::IncompleteSignature,
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    };
    if keys.is_empty() {
        return Ok(());
    }
    let Some(secret) = keys.get(parsed.access_key) else {
        return Err(ApiError::new(
            ErrorKind::UnrecognizedClient,
            "The security token included in the request is invalid.",
        ));
    };
    let expected = signature(method, uri, headers, body, &parsed, date, secret);
    let ok = expected.len() == parsed.signature.len()
        && expected
            .bytes()
            .zip(parsed.signature.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0;
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::InvalidSignature,
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ))
    }
}

fn canonical_query(q: Option<&str>) -> String {
    let Some(q) = q else { return String::new() };
    let mut pairs: Vec<(&str, &str)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn signature(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    auth: &AuthHeader<'_>,
    date: &str,
    secret: &str,
) -> String {
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
    let payload_hash = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| sha256_hex(body));
    let path = if uri.path().is_empty() {
        "/"
    } else {
        uri.path()
    };
    let query = canonical_query(uri.query());
    let request = CanonicalRequest {
        method: method.as_str(),
        path,
        query: &query,
        headers: &canonical_headers,
        signed_headers: auth.signed_headers,
        payload_hash: &payload_hash,
    };
    sign(&request, date, auth.scope, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let uri: Uri = "/?Action=ListUsers&Version=2010-05-08"
            .parse()
            .expect("uri");
        let auth = AuthHeader {
            access_key: "AKIDEXAMPLE",
            scope: "20150830/us-east-1/iam/aws4_request",
            signed_headers: "content-type;host;x-amz-date",
            signature: "",
        };
        let sig = signature(
            &Method::GET,
            &uri,
            &h,
            b"",
            &auth,
            "20150830T123600Z",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        );
        assert_eq!(
            sig,
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn unsigned_and_malformed() {
        let uri: Uri = "/".parse().expect("uri");
        let h = HeaderMap::new();
        let e = check(&Method::POST, &uri, &h, b"", &HashMap::new()).expect_err("unsigned");
        assert_eq!(e.kind, ErrorKind::MissingAuthenticationToken);
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer x".parse().expect("hdr"));
        let e = check(&Method::POST, &uri, &h, b"", &HashMap::new()).expect_err("bad");
        assert_eq!(e.kind, ErrorKind::IncompleteSignature);
    }
}
