//! One JSON record to one row of cells, coerced as the OpenX JSON SerDe does.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::Value;
use weir_firehose_model::HiveType;

use super::schema::{decimal_bytes, Schema};

/// One converted value, in the column's physical type.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell {
    Bool(bool),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Bytes(Vec<u8>),
}

/// Converts one record into `row` (one cell per column, `None` for null), or says why not.
pub(super) fn convert_record(
    schema: &Schema,
    record: &[u8],
    row: &mut Vec<Option<Cell>>,
) -> Result<(), String> {
    let object = match serde_json::from_slice::<Value>(record) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err("not a JSON object".to_string()),
        Err(e) => return Err(format!("not a JSON object: {e}")),
    };
    // The SerDe lowercases keys; of two keys that differ only in case the later one wins.
    let mut values: Vec<Option<&Value>> = vec![None; schema.columns.len()];
    for (key, value) in &object {
        if let Some(&i) = schema.by_name.get(&key.to_lowercase()) {
            values[i] = Some(value);
        }
    }
    for (column, value) in schema.columns.iter().zip(values) {
        let cell = match value {
            None | Some(Value::Null) => None,
            Some(value) => Some(convert_value(column.hive_type, value).map_err(|why| {
                format!(
                    "column {:?} ({}): cannot convert {}: {why}",
                    column.name,
                    column.hive_type,
                    excerpt(value)
                )
            })?),
        };
        row.push(cell);
    }
    Ok(())
}

/// A value's JSON text, cut short enough for an error message.
fn excerpt(value: &Value) -> String {
    const MAX: usize = 64;
    let text = value.to_string();
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

fn convert_value(hive_type: HiveType, value: &Value) -> Result<Cell, String> {
    match hive_type {
        HiveType::String => Ok(Cell::Bytes(string_of(value).into_bytes())),
        HiveType::Varchar(n) => Ok(Cell::Bytes(truncate(string_of(value), n).into_bytes())),
        HiveType::Char(n) => {
            let s = truncate(string_of(value), n);
            Ok(Cell::Bytes(s.trim_end_matches(' ').as_bytes().to_vec()))
        }
        HiveType::TinyInt => {
            integer(value, i8::MIN.into(), i8::MAX.into()).map(|v| Cell::I32(v as i32))
        }
        HiveType::SmallInt => {
            integer(value, i16::MIN.into(), i16::MAX.into()).map(|v| Cell::I32(v as i32))
        }
        HiveType::Int => {
            integer(value, i32::MIN.into(), i32::MAX.into()).map(|v| Cell::I32(v as i32))
        }
        HiveType::BigInt => integer(value, i64::MIN, i64::MAX).map(Cell::I64),
        HiveType::Float => floating(value).map(|v| Cell::F32(v as f32)),
        HiveType::Double => floating(value).map(Cell::F64),
        HiveType::Boolean => boolean(value).map(Cell::Bool),
        HiveType::Timestamp => timestamp_millis(value).map(Cell::I64),
        HiveType::Date => date_days(value).map(Cell::I32),
        HiveType::Decimal { precision, scale } => {
            let text = match value {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.trim().to_string(),
                _ => return Err("not a number".to_string()),
            };
            let unscaled = decimal_unscaled(&text, precision, scale)?;
            Ok(Cell::Bytes(decimal_be_bytes(
                unscaled,
                decimal_bytes(precision),
            )))
        }
    }
}

/// A string column takes any value: strings as they are, everything else as its JSON text.
fn string_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn truncate(mut s: String, chars: u32) -> String {
    if let Some((end, _)) = s.char_indices().nth(chars as usize) {
        s.truncate(end);
    }
    s
}

/// An integer from a JSON number or a numeric string (decimal, or hexadecimal with `0x` as the
/// OpenX SerDe allows), within `min..=max`. A number with a fractional part is not an
/// integer; `3.0` is.
fn integer(value: &Value, min: i64, max: i64) -> Result<i64, String> {
    let v = match value {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(v), _) => v,
            (None, _) if n.is_u64() => return Err("out of range".to_string()),
            (None, Some(f)) if f.fract() == 0.0 => {
                if f >= i64::MIN as f64 && f < i64::MAX as f64 {
                    f as i64
                } else {
                    return Err("out of range".to_string());
                }
            }
            _ => return Err("not an integer".to_string()),
        },
        Value::String(s) => {
            let s = s.trim();
            let (negative, digits) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s.strip_prefix('+').unwrap_or(s)),
            };
            let parsed = match digits
                .strip_prefix("0x")
                .or_else(|| digits.strip_prefix("0X"))
            {
                Some(hex) => i128::from_str_radix(hex, 16),
                None => digits.parse::<i128>(),
            };
            let magnitude = parsed.map_err(|_| "not an integer".to_string())?;
            let v = if negative { -magnitude } else { magnitude };
            i64::try_from(v).map_err(|_| "out of range".to_string())?
        }
        _ => return Err("not a number".to_string()),
    };
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err("out of range".to_string())
    }
}

fn floating(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| "not a number".to_string()),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| "not a number".to_string()),
        _ => Err("not a number".to_string()),
    }
}

fn boolean(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        _ => Err("not a boolean".to_string()),
    }
}

/// Milliseconds since the epoch, UTC, the ways the OpenX SerDe reads a timestamp (Firehose
/// documents the same list): a date-time string (`yyyy-MM-dd'T'HH:mm:ss[.S]` with `Z`, an
/// offset or nothing, or `yyyy-[M]M-[d]d HH:mm:ss[.S]`; no zone means UTC), or a number or
/// numeric string: with a fraction it is epoch seconds (`1518033528.123`), an integer of 13 or
/// more digits is epoch milliseconds (`1518033528123`), a shorter one epoch seconds
/// (`1518033528`). The SerDe tells seconds from milliseconds by the digits, so Weir does too.
pub(super) fn timestamp_millis(value: &Value) -> Result<i64, String> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err("not a timestamp".to_string()),
    };
    if text.contains(':') {
        return date_time_millis(&text).ok_or_else(|| "not a timestamp".to_string());
    }
    if text.contains(['.', 'e', 'E']) {
        let seconds: f64 = text.parse().map_err(|_| "not a timestamp".to_string())?;
        let millis = (seconds * 1000.0).trunc();
        if !millis.is_finite() || millis < i64::MIN as f64 || millis >= i64::MAX as f64 {
            return Err("out of range".to_string());
        }
        return Ok(millis as i64);
    }
    let n: i64 = text.parse().map_err(|_| "not a timestamp".to_string())?;
    let digits = text.trim_start_matches(['-', '+']).len();
    if digits >= 13 {
        Ok(n)
    } else {
        n.checked_mul(1000)
            .ok_or_else(|| "out of range".to_string())
    }
}

fn date_time_millis(text: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    // An offset as `+01:00`, `+0100` or `+01`, after a `T` or a space.
    let zoned = ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z"]
        .iter()
        .find_map(|format| DateTime::parse_from_str(text, format).ok());
    if let Some(t) = zoned {
        return Some(t.timestamp_millis());
    }
    let text = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .map(|t| t.and_utc().timestamp_millis())
}

/// Days since the epoch from `yyyy-MM-dd`.
fn date_days(value: &Value) -> Result<i32, String> {
    let Value::String(s) = value else {
        return Err("not a date (yyyy-MM-dd)".to_string());
    };
    let date = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| "not a date (yyyy-MM-dd)".to_string())?;
    let days = date.signed_duration_since(NaiveDate::default()).num_days();
    i32::try_from(days).map_err(|_| "out of range".to_string())
}

/// The unscaled value of decimal text (`-12.345`, `1e-3`) at `scale`, rounded half up like
/// Hive's `HiveDecimal`. The text is parsed as written, so a numeric string keeps every digit;
/// a JSON number has gone through a double already. A value with more than `precision - scale`
/// integer digits fails (Hive would make it null, silently).
fn decimal_unscaled(text: &str, precision: u8, scale: u8) -> Result<i128, String> {
    let bad = || "not a number".to_string();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().map_err(|_| bad())?),
        None => (unsigned, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() && frac_part.is_empty()
        || !all_digits(int_part)
        || !all_digits(frac_part)
        || !(-10_000..=10_000).contains(&exponent)
    {
        return Err(bad());
    }
    let digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes())
        .map(|b| b - b'0')
        .skip_while(|d| *d == 0)
        .collect();
    // value = digits * 10^(exponent - frac_len); unscaled = value * 10^scale.
    let shift = exponent - frac_part.len() as i64 + i64::from(scale);
    let out_of_range = || format!("out of range for decimal({precision},{scale})");
    let (kept, round_up) = if shift >= 0 {
        (&digits[..], false)
    } else {
        let drop = usize::try_from(-shift).unwrap_or(usize::MAX);
        if drop > digits.len() {
            (&digits[..0], false)
        } else {
            let cut = digits.len() - drop;
            (&digits[..cut], drop > 0 && digits[cut] >= 5)
        }
    };
    let mut unscaled: i128 = 0;
    for d in kept {
        unscaled = unscaled
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(*d)))
            .ok_or_else(out_of_range)?;
    }
    if shift > 0 && unscaled != 0 {
        let factor = u32::try_from(shift)
            .ok()
            .and_then(|s| 10i128.checked_pow(s))
            .ok_or_else(out_of_range)?;
        unscaled = unscaled.checked_mul(factor).ok_or_else(out_of_range)?;
    }
    if round_up {
        unscaled += 1;
    }
    if unscaled >= 10i128.pow(u32::from(precision)) {
        return Err(out_of_range());
    }
    Ok(if negative { -unscaled } else { unscaled })
}

/// Big-endian two's complement in `len` bytes, as Parquet stores a fixed-length decimal.
pub(super) fn decimal_be_bytes(unscaled: i128, len: i32) -> Vec<u8> {
    let bytes = unscaled.to_be_bytes();
    let len = usize::try_from(len).unwrap_or(bytes.len()).min(bytes.len());
    bytes[bytes.len() - len..].to_vec()
}
