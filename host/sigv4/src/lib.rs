//! AWS Signature Version 4: the signing steps, in one place.
//!
//! Weir both verifies SigV4 (its Kinesis API, `weir-api`) and signs it (the `kinesis` action's
//! client for remote endpoints, `weir-aws-client`). Both build the canonical request and derive
//! the key here, so whatever the client signs, the verifier accepts, and neither crate has to
//! import the other. Pure: strings in, strings out; no HTTP types, no clock.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The only algorithm Weir signs or verifies.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Parsed `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The access key id, the first part of `Credential`.
    pub access_key: &'a str,
    /// `YYYYMMDD/REGION/SERVICE/aws4_request`, the rest of `Credential`.
    pub scope: &'a str,
    /// The signed header names, lower-case, joined by `;`.
    pub signed_headers: &'a str,
    /// The hex signature.
    pub signature: &'a str,
}

/// Parses an `Authorization` header value; `None` when it is not SigV4 or lacks one of
/// `Credential`, `SignedHeaders` and `Signature`.
pub fn parse_authorization(v: &str) -> Option<Authorization<'_>> {
    let rest = v.strip_prefix(ALGORITHM)?.trim_start();
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
    let (access_key, scope) = credential?.split_once('/')?;
    Some(Authorization {
        access_key,
        scope,
        signed_headers: signed?,
        signature: signature?,
    })
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Lower-case hex SHA-256 of `bytes` (the payload hash of a canonical request).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A header value in canonical form: leading and trailing space trimmed, inner runs of white
/// space collapsed to one space.
pub fn canonical_header_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A query string in canonical form: parameters sorted by name, then value.
pub fn canonical_query(q: Option<&str>) -> String {
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

/// The canonical header lines (`name:value\n` each) and the signed header names (joined by
/// `;`) of `headers`, which a signing client lists with lower-case names in sorted order.
pub fn header_lists(headers: &[(&str, String)]) -> (String, String) {
    let lines = headers
        .iter()
        .map(|(n, v)| format!("{n}:{}\n", canonical_header_value(v)))
        .collect();
    let names = headers
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(";");
    (lines, names)
}

/// The pieces of a SigV4 canonical request, each already in canonical form.
pub struct CanonicalRequest<'a> {
    pub method: &'a str,
    /// The URI-encoded path, `/` for an empty one.
    pub path: &'a str,
    /// The sorted query string (empty without one).
    pub query: &'a str,
    /// One `name:value\n` line per signed header, names lower-case and sorted.
    pub headers: &'a str,
    /// The signed header names joined by `;`, as in the `Authorization` header.
    pub signed_headers: &'a str,
    /// Hex SHA-256 of the body.
    pub payload_hash: &'a str,
}

/// The hex signature of `request` at `amz_date` (`YYYYMMDDTHHMMSSZ`) for `scope`
/// (`YYYYMMDD/REGION/SERVICE/aws4_request`) with `secret`.
pub fn sign(request: &CanonicalRequest<'_>, amz_date: &str, scope: &str, secret: &str) -> String {
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
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in scope.split('/') {
        key = hmac(&key, part.as_bytes());
    }
    hex(&hmac(&key, string_to_sign.as_bytes()))
}

/// How far a signed request's date may be from the server's clock, either way (AWS: 15 min).
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

/// Longest validity of a presigned request, `X-Amz-Expires` (AWS: 7 days).
pub const MAX_PRESIGNED_EXPIRES_SECS: i64 = 7 * 24 * 3600;

/// Seconds since the Unix epoch of an ISO 8601 basic-format UTC time, `YYYYMMDDTHHMMSSZ`
/// (SigV4's `X-Amz-Date`); `None` for anything else.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, sec) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// `secs` since the epoch as `YYYYMMDDTHHMMSSZ`, for AWS's "signature expired" messages.
pub fn format_amz_date(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Decodes `%XX` escapes (and nothing else: `+` stays, as SigV4 encodes spaces as `%20`);
/// `None` for a broken escape or bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Compares two signatures without an early exit, so the time taken does not tell an attacker
/// how many leading characters were right.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lists_are_the_canonical_lines_and_the_names() {
        let (lines, names) = header_lists(&[
            ("host", "kinesis.example".to_owned()),
            ("x-amz-date", " 20150830T123600Z  ".to_owned()),
        ]);
        assert_eq!(lines, "host:kinesis.example\nx-amz-date:20150830T123600Z\n");
        assert_eq!(names, "host;x-amz-date");
    }

    /// The GET example of AWS's SigV4 documentation (IAM ListUsers), step by step.
    #[test]
    fn aws_documented_example_signature() {
        let query = canonical_query(Some("Version=2010-05-08&Action=ListUsers"));
        assert_eq!(query, "Action=ListUsers&Version=2010-05-08");
        let headers = format!(
            "content-type:{}\nhost:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n",
            canonical_header_value("  application/x-www-form-urlencoded;   charset=utf-8 ")
        );
        let sig = sign(
            &CanonicalRequest {
                method: "GET",
                path: "/",
                query: &query,
                headers: &headers,
                signed_headers: "content-type;host;x-amz-date",
                payload_hash: &sha256_hex(b""),
            },
            "20150830T123600Z",
            "20150830/us-east-1/iam/aws4_request",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        );
        assert_eq!(
            sig,
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn authorization_header_parts() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc",
        )
        .expect("well formed");
        assert_eq!(a.access_key, "AKID");
        assert_eq!(a.scope, "20150830/us-east-1/iam/aws4_request");
        assert_eq!(a.signed_headers, "host;x-amz-date");
        assert_eq!(a.signature, "abc");
        assert!(parse_authorization("Bearer x").is_none());
        assert!(parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/s, Signature=x").is_none());
        assert!(parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID, SignedHeaders=h, Signature=x"
        )
        .is_none());
    }

    #[test]
    fn amz_dates_both_ways() {
        // AWS's documentation example date, and the epoch.
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(format_amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(
            parse_amz_date("20240229T235959Z")
                .map(format_amz_date)
                .as_deref(),
            Some("20240229T235959Z")
        );
        for bad in [
            "",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150830T123600",
            "2015083OT123600Z",
            "20150830T-23600Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn percent_escapes() {
        assert_eq!(
            percent_decode("AKID%2F20150830%2Fus-east-1").as_deref(),
            Some("AKID/20150830/us-east-1")
        );
        assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn signatures_compare_whole() {
        assert!(constant_time_eq("abcd", "abcd"));
        assert!(!constant_time_eq("abcd", "abce"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert!(!constant_time_eq("", "a"));
    }
}
