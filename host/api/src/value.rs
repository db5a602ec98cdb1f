//! The request/response value model shared by the JSON and CBOR wire formats.
//!
//! Kinesis speaks the same shapes over `application/x-amz-json-1.1` (blobs as base64,
//! timestamps as epoch seconds) and `application/x-amz-cbor-1.1` (blobs as byte strings,
//! timestamps as tag 1). Decoding both into [`Val`] lets every action be written once.

use std::fmt;

use base64::Engine as _;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// A decoded request or response value: the tree every action reads and writes, private to
/// this crate (weir-rules's `Val` is a different thing, an IoT SQL value).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Arr(Vec<Val>),
    Map(Vec<(String, Val)>),
    /// A point in time, in epoch milliseconds.
    Time(i64),
}

impl Val {
    /// Looks up a key of a map.
    pub fn get(&self, key: &str) -> Option<&Val> {
        match self {
            Val::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name of the value's type, for SerializationException messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Val::Null => "NULL_VALUE",
            Val::Bool(_) => "BOOLEAN_VALUE",
            Val::Int(_) | Val::Float(_) => "NUMBER_VALUE",
            Val::Str(_) => "STRING_VALUE",
            Val::Bytes(_) => "BYTES_VALUE",
            Val::Arr(_) => "START_ARRAY",
            Val::Map(_) => "START_OBJECT",
            Val::Time(_) => "TIMESTAMP_VALUE",
        }
    }
}

/// Builds a response map.
pub fn map(entries: Vec<(&str, Val)>) -> Val {
    Val::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

pub fn s(v: impl Into<String>) -> Val {
    Val::Str(v.into())
}

/// A record's `Data` blob: CBOR bytes as they are, JSON's base64 decoded; anything else is
/// refused as AWS refuses it.
pub(crate) fn blob(v: &Val) -> Result<Vec<u8>, crate::error::ApiError> {
    use crate::error::ApiError;
    match v {
        Val::Bytes(b) => Ok(b.clone()),
        Val::Str(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| ApiError::serialization("Base64 encoded data is invalid.")),
        other => Err(ApiError::serialization(format!(
            "{} can not be converted to a Blob",
            other.kind()
        ))),
    }
}

/// A batch put's response entry for a record that failed, as Kinesis' PutRecords and
/// Firehose's PutRecordBatch both write it.
pub(crate) fn failed_entry(code: &str, message: String) -> Val {
    map(vec![("ErrorCode", s(code)), ("ErrorMessage", s(message))])
}

// ---------------------------------------------------------------------------------------
// JSON in.

impl<'de> Deserialize<'de> for Val {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Val, D::Error> {
        d.deserialize_any(ValVisitor)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Val, E> {
        Ok(Val::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Val, E> {
        Ok(Val::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Val, E> {
        Ok(Val::Int(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Val, E> {
        Ok(Val::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Val, E> {
        Ok(Val::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Val, E> {
        Ok(Val::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Val, E> {
        Ok(Val::Bytes(v.to_vec()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Val, D::Error> {
        Val::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(Val::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Val, A::Error> {
        let mut v = Vec::with_capacity(m.size_hint().unwrap_or(0).min(64));
        while let Some((k, x)) = m.next_entry::<String, Val>()? {
            v.push((k, x));
        }
        Ok(Val::Map(v))
    }
}

/// Parses a JSON body.
pub fn from_json(body: &[u8]) -> Result<Val, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------
// JSON out.

struct JsonOut<'a>(&'a Val);

impl Serialize for JsonOut<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Val::Null => ser.serialize_unit(),
            Val::Bool(b) => ser.serialize_bool(*b),
            Val::Int(i) => match i64::try_from(*i) {
                Ok(x) => ser.serialize_i64(x),
                Err(_) => ser.serialize_str(&i.to_string()),
            },
            Val::Float(f) => ser.serialize_f64(*f),
            Val::Str(s) => ser.serialize_str(s),
            Val::Bytes(b) => {
                ser.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
            }
            Val::Time(ms) => ser.serialize_f64(*ms as f64 / 1000.0),
            Val::Arr(a) => {
                let mut seq = ser.serialize_seq(Some(a.len()))?;
                for x in a {
                    seq.serialize_element(&JsonOut(x))?;
                }
                seq.end()
            }
            Val::Map(m) => {
                let mut map = ser.serialize_map(Some(m.len()))?;
                for (k, x) in m {
                    map.serialize_entry(k, &JsonOut(x))?;
                }
                map.end()
            }
        }
    }
}

/// Encodes a response as JSON 1.1.
pub fn to_json(v: &Val) -> Vec<u8> {
    serde_json::to_vec(&JsonOut(v)).unwrap_or_else(|_| b"{}".to_vec())
}

// ---------------------------------------------------------------------------------------
// CBOR.

/// Epoch values at or above this are milliseconds (the AWS Java SDK writes tag 1 with
/// milliseconds); below it, seconds as RFC 8949 specifies. 10^11 s is the year 5138.
const MILLIS_THRESHOLD: f64 = 1e11;

fn from_cbor_value(v: ciborium::Value) -> Result<Val, String> {
    use ciborium::Value as C;
    Ok(match v {
        C::Null => Val::Null,
        C::Bool(b) => Val::Bool(b),
        C::Integer(i) => Val::Int(i128::from(i)),
        C::Float(f) => Val::Float(f),
        C::Text(t) => Val::Str(t),
        C::Bytes(b) => Val::Bytes(b),
        C::Array(a) => Val::Arr(
            a.into_iter()
                .map(from_cbor_value)
                .collect::<Result<_, _>>()?,
        ),
        C::Map(m) => {
            let mut out = Vec::with_capacity(m.len());
            for (k, x) in m {
                let C::Text(k) = k else {
                    return Err("map keys must be text strings".into());
                };
                out.push((k, from_cbor_value(x)?));
            }
            Val::Map(out)
        }
        C::Tag(1, inner) => {
            let epoch = match *inner {
                C::Integer(i) => i128::from(i) as f64,
                C::Float(f) => f,
                _ => return Err("tag 1 must wrap a number".into()),
            };
            let ms = if epoch.abs() >= MILLIS_THRESHOLD {
                epoch
            } else {
                epoch * 1000.0
            };
            Val::Time(ms as i64)
        }
        C::Tag(_, inner) => from_cbor_value(*inner)?,
        _ => return Err("unsupported CBOR item".into()),
    })
}

/// Parses a CBOR body.
pub fn from_cbor(body: &[u8]) -> Result<Val, String> {
    let v: ciborium::Value = ciborium::de::from_reader(body).map_err(|e| e.to_string())?;
    from_cbor_value(v)
}

fn to_cbor_value(v: &Val) -> ciborium::Value {
    use ciborium::Value as C;
    match v {
        Val::Null => C::Null,
        Val::Bool(b) => C::Bool(*b),
        Val::Int(i) => match i64::try_from(*i) {
            Ok(x) => C::Integer(x.into()),
            Err(_) => C::Text(i.to_string()),
        },
        Val::Float(f) => C::Float(*f),
        Val::Str(s) => C::Text(s.clone()),
        Val::Bytes(b) => C::Bytes(b.clone()),
        Val::Time(ms) => C::Tag(1, Box::new(C::Integer((*ms).into()))),
        Val::Arr(a) => C::Array(a.iter().map(to_cbor_value).collect()),
        Val::Map(m) => C::Map(
            m.iter()
                .map(|(k, x)| (C::Text(k.clone()), to_cbor_value(x)))
                .collect(),
        ),
    }
}

/// Encodes a response as CBOR 1.1.
pub fn to_cbor(v: &Val) -> Vec<u8> {
    let mut out = Vec::new();
    if ciborium::ser::into_writer(&to_cbor_value(v), &mut out).is_err() {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_cbor_round_trip() {
        let v = map(vec![
            ("Data", Val::Bytes(b"hi".to_vec())),
            ("T", Val::Time(1_700_000_000_123)),
            ("N", Val::Int(5)),
        ]);
        let j = String::from_utf8(to_json(&v)).expect("utf8");
        assert_eq!(j, r#"{"Data":"aGk=","T":1700000000.123,"N":5}"#);
        let c = from_cbor(&to_cbor(&v)).expect("cbor");
        assert_eq!(c, v);
        // a tag-1 in seconds (RFC 8949) is accepted too
        let secs = ciborium::Value::Tag(1, Box::new(ciborium::Value::Float(1.5)));
        let mut raw = Vec::new();
        ciborium::ser::into_writer(&secs, &mut raw).expect("encode");
        assert_eq!(from_cbor(&raw).expect("decode"), Val::Time(1500));
        assert!(from_json(b"{bad").is_err());
    }
}
