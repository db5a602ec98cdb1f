//! The documented conversions from JSON values and CSV fields to SQL values (Developer Guide,
//! "Mapping JSON Data Types to SQL Data Types",
//! https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sch-mapping.html#sch-mapping-datatypes).
//!
//! A failed conversion is a coercion error: the record goes to `error_stream`. Character
//! values longer than their column are truncated silently, as the page says.

use std::str::FromStr;

use chrono::{NaiveDate, NaiveTime, Timelike};
use rust_decimal::Decimal;

use super::json::Json;
use crate::types::SqlType;
use crate::value::{parse_timestamp, Value};

/// Why a value could not be converted (the `MESSAGE` of the `error_stream` row).
pub type CoerceError = String;

/// Converts a JSON value found at a column's path to the column's type.
pub fn from_json(v: &Json, ty: &SqlType) -> Result<Value, CoerceError> {
    match v {
        Json::Null => Ok(Value::Null),
        Json::Bool(b) => from_bool(*b, ty),
        Json::Number(n) => from_number(n, ty),
        Json::String(s) => from_string(s, ty),
        Json::Array(_) | Json::Object(_) => {
            let text = v.to_compact();
            match ty {
                SqlType::Char(_) | SqlType::Varchar(_) => Ok(character(&text, ty)),
                _ => Err(format!(
                    "cannot convert a JSON {} to {ty}",
                    if matches!(v, Json::Array(_)) {
                        "array"
                    } else {
                        "object"
                    }
                )),
            }
        }
    }
}

/// A Boolean literal: 1/0 for numbers, one byte for binary, `true`/`false` for text.
fn from_bool(b: bool, ty: &SqlType) -> Result<Value, CoerceError> {
    let n = i64::from(b);
    match ty {
        SqlType::Boolean => Ok(Value::Boolean(b)),
        SqlType::Char(_) | SqlType::Varchar(_) => {
            Ok(character(if b { "true" } else { "false" }, ty))
        }
        SqlType::Binary(len) => {
            // "Result has lowest bit set and remaining bits cleared": a fixed-length value
            // whose last byte holds the bit.
            let mut bytes = vec![0u8; *len as usize];
            if let Some(last) = bytes.last_mut() {
                *last = u8::from(b);
            }
            Ok(Value::Binary(bytes))
        }
        SqlType::Varbinary(_) => Ok(Value::Binary(vec![u8::from(b)])),
        t if t.is_numeric() => from_number(&n.to_string(), ty),
        _ => Err(format!("cannot convert a JSON boolean to {ty}")),
    }
}

/// A number literal: numeric types convert when the value fits, text keeps the spelling,
/// BOOLEAN is `false` only for zero, binary and datetime types fail.
fn from_number(text: &str, ty: &SqlType) -> Result<Value, CoerceError> {
    match ty {
        SqlType::Boolean => {
            let zero = text
                .parse::<f64>()
                .map_err(|_| format!("{text:?} is not a number"))?
                == 0.0;
            Ok(Value::Boolean(!zero))
        }
        SqlType::Char(_) | SqlType::Varchar(_) => Ok(character(text, ty)),
        t if t.is_numeric() => numeric(text, ty),
        _ => Err(format!("cannot convert the JSON number {text} to {ty}")),
    }
}

/// A string (a JSON string or a CSV field): parsed for numbers, datetimes and binary
/// (`X'3F67'`), case-insensitive `true` for BOOLEAN, truncated for text.
pub fn from_string(s: &str, ty: &SqlType) -> Result<Value, CoerceError> {
    match ty {
        SqlType::Char(_) | SqlType::Varchar(_) => Ok(character(s, ty)),
        SqlType::Boolean => Ok(Value::Boolean(s.trim().eq_ignore_ascii_case("true"))),
        SqlType::Binary(len) | SqlType::Varbinary(len) => {
            let bytes = binary_literal(s)
                .or_else(|| base64_decode(s.trim()))
                .ok_or_else(|| {
                    format!(
                        "{s:?} is neither a binary literal (X'..' with an even number of hex digits) nor base64"
                    )
                })?;
            let mut bytes = bytes;
            bytes.truncate(*len as usize);
            if let SqlType::Binary(len) = ty {
                bytes.resize(*len as usize, 0);
            }
            Ok(Value::Binary(bytes))
        }
        SqlType::Date => date(s.trim())
            .map(Value::Date)
            .ok_or_else(|| format!("{s:?} is not a DATE")),
        SqlType::Time => time(s.trim())
            .map(Value::Time)
            .ok_or_else(|| format!("{s:?} is not a TIME")),
        SqlType::Timestamp => parse_timestamp(s)
            .map(Value::Timestamp)
            .ok_or_else(|| format!("{s:?} is not a TIMESTAMP")),
        SqlType::IntervalDayTime | SqlType::IntervalYearMonth => Err(format!(
            "cannot map a value to {ty}: intervals are not column types"
        )),
        _ => numeric(s.trim(), ty),
    }
}

/// CHAR pads to its length, both truncate (by characters) without error.
fn character(s: &str, ty: &SqlType) -> Value {
    match ty {
        SqlType::Char(n) => {
            let n = *n as usize;
            let mut out: String = s.chars().take(n).collect();
            let len = out.chars().count();
            out.extend(std::iter::repeat_n(' ', n - len));
            Value::Char(out)
        }
        SqlType::Varchar(n) => {
            let n = *n as usize;
            match s.char_indices().nth(n) {
                Some((cut, _)) => Value::Varchar(s[..cut].to_string()),
                None => Value::Varchar(s.to_string()),
            }
        }
        _ => Value::Varchar(s.to_string()),
    }
}

/// An exact decimal from a number's text (`12`, `-0.5`, `1e3`).
fn decimal(text: &str) -> Option<Decimal> {
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        Decimal::from_str(text).ok()
    }
}

/// Converts number text to a numeric type. "If the converted value exceeds the size or
/// precision of the target data type (that is, converting 123.4 to INT), conversion fails":
/// so a fraction never silently rounds into an integer or a smaller scale.
fn numeric(text: &str, ty: &SqlType) -> Result<Value, CoerceError> {
    let not_number = || format!("{text:?} is not a number");
    let out_of_range = || format!("{text} does not fit in {ty}");
    let integer = |min: i64, max: i64| -> Result<i64, CoerceError> {
        let v = match text.parse::<i64>() {
            Ok(v) => v,
            Err(_) => {
                let d = decimal(text).ok_or_else(|| {
                    if text.parse::<f64>().is_ok() {
                        out_of_range()
                    } else {
                        not_number()
                    }
                })?;
                if d.fract() != Decimal::ZERO {
                    return Err(out_of_range());
                }
                rust_decimal::prelude::ToPrimitive::to_i64(&d).ok_or_else(out_of_range)?
            }
        };
        if v < min || v > max {
            return Err(out_of_range());
        }
        Ok(v)
    };
    match ty {
        SqlType::TinyInt => Ok(Value::TinyInt(
            integer(i64::from(i8::MIN), i64::from(i8::MAX))? as i8,
        )),
        SqlType::SmallInt => Ok(Value::SmallInt(
            integer(i64::from(i16::MIN), i64::from(i16::MAX))? as i16,
        )),
        SqlType::Integer => Ok(Value::Integer(
            integer(i64::from(i32::MIN), i64::from(i32::MAX))? as i32,
        )),
        SqlType::BigInt => Ok(Value::BigInt(integer(i64::MIN, i64::MAX)?)),
        SqlType::Decimal { precision, scale } => {
            let d = decimal(text).ok_or_else(|| {
                if text.parse::<f64>().is_ok() {
                    out_of_range()
                } else {
                    not_number()
                }
            })?;
            let scale = u32::from(*scale);
            let rounded = d.round_dp(scale);
            if rounded != d {
                return Err(out_of_range());
            }
            let mut d = rounded;
            d.rescale(scale);
            // At most precision - scale digits before the point.
            let int_digits = u32::from(*precision) - scale;
            let limit = Decimal::from_i128_with_scale(10i128.pow(int_digits), 0);
            if d.abs().trunc() >= limit {
                return Err(out_of_range());
            }
            Ok(Value::Decimal(d))
        }
        SqlType::Real => {
            let v = text.parse::<f32>().map_err(|_| not_number())?;
            if v.is_infinite() && !text.to_ascii_lowercase().contains("inf") {
                return Err(out_of_range());
            }
            Ok(Value::Real(v))
        }
        SqlType::Double => {
            let v = text.parse::<f64>().map_err(|_| not_number())?;
            if v.is_infinite() && !text.to_ascii_lowercase().contains("inf") {
                return Err(out_of_range());
            }
            Ok(Value::Double(v))
        }
        _ => Err(format!("cannot convert {text:?} to {ty}")),
    }
}

/// `X'3F67A23A'` (either case of X), with an even number of hex digits.
fn binary_literal(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    let inner = s
        .strip_prefix("X'")
        .or_else(|| s.strip_prefix("x'"))?
        .strip_suffix('\'')?;
    if inner.len() % 2 != 0 || !inner.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..inner.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(inner.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Standard base64 with padding (RFC 4648): the SQL Reference's Data Types table gives
/// BINARY's JSON type as "BASE64-encoded string", while the mapping page names only the
/// `X'..'` literal; both are taken (the literal first, as it cannot be read as base64).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    let quads = b.len() / 4;
    for (q, chunk) in b.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && q + 1 != quads) {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = if i >= 4 - pad { 0 } else { val(*c)? };
            n = (n << 6) | v;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// `1992-02-14`, or the date of a timestamp spelling.
fn date(s: &str) -> Option<i32> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let d = match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) => d,
        Err(_) => chrono::DateTime::from_timestamp_millis(parse_timestamp(s)?)?.date_naive(),
    };
    i32::try_from((d - epoch).num_days()).ok()
}

/// `18:35:44`, `18:35:44.123`, `18:35`.
fn time(s: &str) -> Option<u32> {
    let t = NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()?;
    Some(t.num_seconds_from_midnight() * 1000 + t.nanosecond() / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> SqlType {
        SqlType::parse(s).expect("type")
    }

    // Every rule below is a bullet of
    // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sch-mapping.html#sch-mapping-datatypes

    #[test]
    fn null_literal_is_null_for_every_type() {
        for ty in [
            "INTEGER",
            "VARCHAR(4)",
            "TIMESTAMP",
            "BOOLEAN",
            "VARBINARY(4)",
        ] {
            assert_eq!(from_json(&Json::Null, &t(ty)), Ok(Value::Null));
        }
    }

    #[test]
    fn boolean_literal() {
        let b = |v, ty| from_json(&Json::Bool(v), &t(ty));
        assert_eq!(b(true, "INTEGER"), Ok(Value::Integer(1)));
        assert_eq!(
            b(false, "DECIMAL(5,2)"),
            Ok(Value::Decimal(Decimal::new(0, 2)))
        );
        assert_eq!(b(true, "VARBINARY(8)"), Ok(Value::Binary(vec![1])));
        assert_eq!(b(true, "BINARY(2)"), Ok(Value::Binary(vec![0, 1])));
        assert_eq!(b(false, "BINARY(2)"), Ok(Value::Binary(vec![0, 0])));
        assert_eq!(b(true, "BOOLEAN"), Ok(Value::Boolean(true)));
        assert_eq!(b(false, "VARCHAR(3)"), Ok(Value::Varchar("fal".into())));
        assert!(b(true, "TIMESTAMP").is_err());
        assert!(b(true, "DATE").is_err());
    }

    #[test]
    fn number_literal() {
        let n = |v: &str, ty| from_json(&Json::Number(v.into()), &t(ty));
        assert_eq!(n("67321", "INTEGER"), Ok(Value::Integer(67321)));
        // "converting 123.4 to INT ... conversion fails"
        assert!(n("123.4", "INTEGER").is_err());
        assert_eq!(n("123.0", "INTEGER"), Ok(Value::Integer(123)));
        assert!(n("128", "TINYINT").is_err());
        assert!(n("99999999999999999999", "BIGINT").is_err());
        assert_eq!(n("1e3", "SMALLINT"), Ok(Value::SmallInt(1000)));
        assert_eq!(
            n("84.51", "DECIMAL(5,2)"),
            Ok(Value::Decimal(Decimal::new(8451, 2)))
        );
        assert!(n("1234.5", "DECIMAL(5,2)").is_err());
        assert!(n("1.234", "DECIMAL(5,2)").is_err());
        assert_eq!(n("0.1", "REAL"), Ok(Value::Real(0.1)));
        assert!(n("1e39", "REAL").is_err());
        assert!(n("1e400", "DOUBLE").is_err());
        assert!(n("1", "VARBINARY(4)").is_err());
        assert_eq!(n("0", "BOOLEAN"), Ok(Value::Boolean(false)));
        assert_eq!(n("-2.5", "BOOLEAN"), Ok(Value::Boolean(true)));
        assert_eq!(n("1e3", "VARCHAR(8)"), Ok(Value::Varchar("1e3".into())));
        assert!(n("1546336800000", "TIMESTAMP").is_err());
    }

    #[test]
    fn string_value() {
        let s = |v: &str, ty| from_json(&Json::String(v.into()), &t(ty));
        assert_eq!(s("33.99", "DOUBLE"), Ok(Value::Double(33.99)));
        assert_eq!(s(" 42 ", "INTEGER"), Ok(Value::Integer(42)));
        assert!(s("AAPL", "INTEGER").is_err());
        assert_eq!(
            s("X'3F67A23A'", "VARBINARY(8)"),
            Ok(Value::Binary(vec![0x3F, 0x67, 0xA2, 0x3A]))
        );
        assert!(s("X'3F6'", "VARBINARY(8)").is_err());
        assert!(s("X'+F'", "VARBINARY(8)").is_err());
        // BINARY's JSON type is "BASE64-encoded string" in the SQL Reference's Data Types:
        // https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-data-types.html
        assert_eq!(
            s("P2eiOg==", "VARBINARY(8)"),
            Ok(Value::Binary(vec![0x3F, 0x67, 0xA2, 0x3A]))
        );
        assert_eq!(
            s("Zm9vYg==", "VARBINARY(8)"),
            Ok(Value::Binary(b"foob".to_vec()))
        );
        assert_eq!(
            s("Zm9vYmFy", "BINARY(2)"),
            Ok(Value::Binary(b"fo".to_vec()))
        );
        for bad in ["Zm9", "Zm9v!A==", "Z===", "Zg==Zg==", "not binary"] {
            assert!(s(bad, "VARBINARY(8)").is_err(), "{bad}");
        }
        assert_eq!(s("TRUE", "BOOLEAN"), Ok(Value::Boolean(true)));
        assert_eq!(s("yes", "BOOLEAN"), Ok(Value::Boolean(false)));
        assert_eq!(
            s("John Doe", "VARCHAR(4)"),
            Ok(Value::Varchar("John".into()))
        );
        assert_eq!(s("ab", "CHAR(4)"), Ok(Value::Char("ab  ".into())));
        // "Valid datetime formats include: "1992-02-14", "1992-02-14 18:35:44.0""
        assert_eq!(s("1992-02-14", "DATE"), Ok(Value::Date(8079)));
        assert_eq!(
            s("1992-02-14 18:35:44.0", "TIMESTAMP"),
            Ok(Value::Timestamp(698_092_544_000))
        );
        assert_eq!(
            s("1992-02-14", "TIMESTAMP"),
            Ok(Value::Timestamp(698_025_600_000))
        );
        // The transforming-dates example maps this spelling to TIMESTAMP:
        // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/app-string-datetime-manipulation.html
        assert_eq!(
            s("2018-05-09T12:50:41.337510", "TIMESTAMP"),
            Ok(Value::Timestamp(1_525_870_241_337))
        );
        assert_eq!(s("18:35:44", "TIME"), Ok(Value::Time(66_944_000)));
        assert!(s("tomorrow", "TIMESTAMP").is_err());
    }

    #[test]
    fn array_or_object() {
        let arr = super::super::json::parse(r#"[ {"a": 1}, 2 ]"#).expect("json");
        assert_eq!(
            from_json(&arr, &t("VARCHAR(64)")),
            Ok(Value::Varchar(r#"[{"a":1},2]"#.into()))
        );
        assert!(from_json(&arr, &t("INTEGER")).is_err());
        assert!(from_json(&Json::Object(vec![]), &t("BOOLEAN")).is_err());
    }

    proptest::proptest! {
        #[test]
        fn base64_strings_decode_to_their_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let text = crate::output::lambda::base64(&bytes);
            let got = from_string(&text, &SqlType::Varbinary(1024));
            if bytes.is_empty() {
                proptest::prop_assert!(got.is_err());
            } else {
                proptest::prop_assert_eq!(got, Ok(Value::Binary(bytes)));
            }
        }
    }
}
