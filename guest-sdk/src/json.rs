//! Helpers for the JSON payloads most rules produce.
//!
//! IoT devices are inconsistent about types: the seed's Raspberry Pi sends every value as a
//! string (`"speed": "82"`), other devices send numbers. These helpers accept both where a number
//! is meant, and turn anything else into a [`RecordError`] that names the field and the value.

use serde_json::{Map, Value};

use crate::error::RecordError;
use crate::record::kind_of;

/// The value of `field`, or a `missing-field` error. A JSON `null` counts as missing.
pub fn field<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a Value, RecordError> {
    match object.get(field) {
        None | Some(Value::Null) => Err(RecordError::missing_field(field)),
        Some(v) => Ok(v),
    }
}

/// `field` as a string. Numbers and booleans are rendered as text, since a device that sends
/// `"speed": 82` means the same as one that sends `"speed": "82"`.
pub fn string_field(object: &Map<String, Value>, name: &str) -> Result<String, RecordError> {
    match field(object, name)? {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(RecordError::bad_value(
            name,
            format!("expected a string, found {}", kind_of(other)),
        )),
    }
}

/// `field` as a finite number: a JSON number or a string holding one (surrounding blanks are
/// allowed, as AWS IoT's own string-to-number conversion allows them).
pub fn number_field(object: &Map<String, Value>, name: &str) -> Result<f64, RecordError> {
    match field(object, name)? {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| RecordError::bad_value(name, format!("number {n} is out of range"))),
        Value::String(s) => parse_number(s)
            .ok_or_else(|| RecordError::bad_value(name, format!("{s:?} is not a number"))),
        other => Err(RecordError::bad_value(
            name,
            format!("expected a number, found {}", kind_of(other)),
        )),
    }
}

/// Parses a decimal number, rejecting `NaN`, infinities and hexadecimal forms that Rust's float
/// parser would otherwise accept or that no device means.
pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let plausible = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    if !plausible {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Turns a text record holding one or more log lines into one JSON record per non-empty line,
/// each made by `parse` and keeping the original record's metadata. A line that `parse` rejects
/// fails the whole record, with the line number in the message, so nothing is half-converted.
pub fn lines_to_json(
    record: &crate::Record,
    mut parse: impl FnMut(&str) -> Result<Value, String>,
) -> Result<Vec<crate::Record>, RecordError> {
    map_lines(record, |line| parse(line).map(|v| v.to_string()))
}

/// One output record per non-empty line of a text record, its payload made by `render`, with
/// the original record's metadata; a line `render` rejects fails the whole record with code
/// `bad-line`, the line number and the line. The loop under [`lines_to_json`] and the CSV
/// blueprints.
pub fn map_lines(
    record: &crate::Record,
    mut render: impl FnMut(&str) -> Result<String, String>,
) -> Result<Vec<crate::Record>, RecordError> {
    let text = record.text()?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let payload = render(line).map_err(|why| {
            RecordError::new("bad-line", format!("line {}: {why}: {line:?}", i + 1))
        })?;
        out.push(record.derive(payload));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn numbers_from_numbers_and_strings() {
        let o = obj(json!({"a": 82, "b": "82.5", "c": " 7 ", "d": "-1e2"}));
        assert_eq!(number_field(&o, "a").unwrap(), 82.0);
        assert_eq!(number_field(&o, "b").unwrap(), 82.5);
        assert_eq!(number_field(&o, "c").unwrap(), 7.0);
        assert_eq!(number_field(&o, "d").unwrap(), -100.0);
    }

    #[test]
    fn bad_numbers_name_field_and_value() {
        let o = obj(json!({"a": "fast", "b": "NaN", "c": [1], "d": null, "e": "inf", "f": ""}));
        let e = number_field(&o, "a").unwrap_err();
        assert_eq!(e.code, "bad-value");
        assert!(
            e.message.contains("`a`") && e.message.contains("\"fast\""),
            "{e}"
        );
        assert_eq!(number_field(&o, "b").unwrap_err().code, "bad-value");
        assert!(number_field(&o, "c")
            .unwrap_err()
            .message
            .contains("an array"));
        assert_eq!(number_field(&o, "d").unwrap_err().code, "missing-field");
        assert_eq!(number_field(&o, "e").unwrap_err().code, "bad-value");
        assert_eq!(number_field(&o, "f").unwrap_err().code, "bad-value");
        assert_eq!(number_field(&o, "zz").unwrap_err().code, "missing-field");
    }

    #[test]
    fn lines_become_records_and_bad_lines_are_numbered() {
        let r = crate::Record::new("a\r\n\n b\n").with_partition_key("k");
        let out = lines_to_json(&r, |l| Ok(Value::String(l.to_string()))).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].payload, b"\" b\"");
        assert_eq!(out[1].partition_key, "k");
        let err = lines_to_json(&r, |l| {
            if l == "a" {
                Ok(Value::Null)
            } else {
                Err("nope".into())
            }
        })
        .unwrap_err();
        assert_eq!(err.code, "bad-line");
        assert!(err.message.starts_with("line 3: nope"), "{err}");
    }

    #[test]
    fn strings_accept_scalars() {
        let o = obj(json!({"s": "x", "n": 5, "b": true, "o": {}}));
        assert_eq!(string_field(&o, "s").unwrap(), "x");
        assert_eq!(string_field(&o, "n").unwrap(), "5");
        assert_eq!(string_field(&o, "b").unwrap(), "true");
        assert!(string_field(&o, "o").is_err());
    }
}
