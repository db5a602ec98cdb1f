//! Request authentication.
//!
//! By default any request that carries a well-formed SigV4 `Authorization` header (or a
//! presigned query) is accepted, as local emulators do, while an unsigned request gets
//! AWS's `MissingAuthenticationTokenException`. With keys configured the signature is
//! verified for real, so a deployment can hand out credentials.

use std::collections::HashMap;

use axum::http::{HeaderMap, Method, Uri};
use weir_sigv4::{
    canonical_header_value, canonical_query, constant_time_eq, parse_authorization, sha256_hex,
    sign, Authorization, CanonicalRequest,
};

use super::error::{ApiError, ErrorKind};

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
    let Some(parsed) = parse_authorization(auth) else {
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
    if constant_time_eq(&expected, parsed.signature) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::InvalidSignature,
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ))
    }
}

fn signature(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    auth: &Authorization<'_>,
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
        let auth = Authorization {
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
