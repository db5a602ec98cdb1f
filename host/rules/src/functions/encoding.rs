//! `encode`, `decode` and the hash functions.

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;

use super::Func;
use crate::value::{to_string_conv, Kind, Val};

fn is_base64(scheme: Option<&Val<'_>>) -> bool {
    matches!(scheme.map(Val::kind), Some(Kind::Str(s)) if s.eq_ignore_ascii_case("base64"))
}

/// `encode(*, 'base64')`: the raw payload bytes, JSON or not.
pub(super) fn encode_bytes<'a>(payload: &[u8], scheme: Option<&Val<'_>>) -> Val<'a> {
    if !is_base64(scheme) {
        return Val::Undefined;
    }
    Val::str(base64::engine::general_purpose::STANDARD.encode(payload))
}

/// `encode(value, 'base64')`: the value's string form, UTF-8, base64.
pub(super) fn encode_val<'a>(v: &[Val<'a>]) -> Val<'a> {
    if !is_base64(v.get(1)) {
        return Val::Undefined;
    }
    match v.first().and_then(|x| to_string_conv(x.kind())) {
        Some(s) => Val::str(base64::engine::general_purpose::STANDARD.encode(s.as_bytes())),
        None => Val::Undefined,
    }
}

/// `decode(value, 'base64')`: AWS returns a decoded JSON document as an
/// addressable value (object, array, number, ...; the payload `80` decodes
/// to the number 80, which `> 50` compares), anything else as the decoded
/// string, and NULL when the text cannot be decoded (bad base64, or bytes
/// that are not UTF-8).
pub(super) fn decode<'a>(v: &[Val<'a>]) -> Val<'a> {
    if !is_base64(v.get(1)) {
        return Val::Undefined;
    }
    let Some(Kind::Str(s)) = v.first().map(Val::kind) else {
        return Val::Undefined;
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s.trim()) else {
        return Val::Own(Value::Null);
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return Val::Own(Value::Null);
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(j) => Val::Own(j),
        Err(_) => Val::str(text),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Hex digest (lower case) of the argument's string form in UTF-8.
pub(super) fn hash<'a>(f: Func, v: &[Val<'a>]) -> Val<'a> {
    let Some(s) = v.first().and_then(|x| to_string_conv(x.kind())) else {
        return Val::Undefined;
    };
    let b = s.as_bytes();
    let digest = match f {
        Func::Md2 => hex(&md2::Md2::digest(b)),
        Func::Md5 => hex(&md5::Md5::digest(b)),
        Func::Sha1 => hex(&sha1::Sha1::digest(b)),
        Func::Sha224 => hex(&sha2::Sha224::digest(b)),
        Func::Sha256 => hex(&sha2::Sha256::digest(b)),
        Func::Sha384 => hex(&sha2::Sha384::digest(b)),
        Func::Sha512 => hex(&sha2::Sha512::digest(b)),
        _ => return Val::Undefined,
    };
    Val::str(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md2_hex(s: &str) -> String {
        hex(&md2::Md2::digest(s.as_bytes()))
    }

    /// RFC 1319 appendix A.5 test suite.
    #[test]
    fn md2_rfc1319_vectors() {
        assert_eq!(md2_hex(""), "8350e5a3e24c153df2275c9f80692773");
        assert_eq!(md2_hex("a"), "32ec01ec4a6dac72c0ab96fb34c0b5d1");
        assert_eq!(md2_hex("abc"), "da853b0d3f88d99b30283a69e6ded6bb");
        assert_eq!(
            md2_hex("message digest"),
            "ab4f496bfb2a530b219ff33031fe06b0"
        );
        assert_eq!(
            md2_hex("abcdefghijklmnopqrstuvwxyz"),
            "4e8ddff3650292ab5a4108c3aa47940b"
        );
        assert_eq!(
            md2_hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            "da33def2a42df13975352846c30338cd"
        );
        assert_eq!(
            md2_hex(
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "d5976f79d83d3a0dc9806c3c66f3efd8"
        );
    }
}
