//! Every Kinesis request checked against the service model, in one place.
//!
//! `host/api/model/kinesis.json` is botocore's Kinesis model reduced to what a server checks
//! (written by `host/api/model/gen_kinesis.py`; `tests::table_matches_botocore` compares it
//! with the installed botocore): each operation's input shape and the shapes it reaches, with
//! their types and `required`, `min`, `max`, `pattern` and `enum` traits. [`check`] walks a
//! request body against it before any action runs, the way AWS's front end does, so the
//! handlers in `actions/` read values that already passed and keep only the semantic checks
//! (InvalidArgumentException and friends) that AWS makes after model validation. A field
//! whose constraint lives here cannot be forgotten by a handler, nor checked twice.
//!
//! What the walk reports, in AWS's words (through [`Req::violation`], the one list that
//! `Req::finish` turns into "N validation errors detected: ..."):
//! - a missing required member: `Value null at 'a.b' failed to satisfy constraint: Member
//!   must not be null`;
//! - a string: its pattern (matched against the whole value, Java's ASCII `\d` and `\s`),
//!   then its length bounds (in characters), then its enum;
//! - a number: its range; a blob: its length, shown as AWS's `java.nio.HeapByteBuffer[...]`;
//! - a list or map: its length; members of a list of structures at `list.N.member.field`;
//!   scalar members of a list or map as one violation at the list with the member shape's
//!   constraints (`Member must satisfy constraint: [...]`, `Map keys must satisfy ...`), as
//!   AWS reports them.
//!
//! A value of the wrong type is a SerializationException, found here too so it wins over
//! any constraint violation, as on AWS where deserialisation comes first.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

use super::super::error::{ApiError, ErrorKind};
use super::super::request::{label, Req};
use super::super::value::Val;

/// The reduced model, checked in as data.
const TABLE: &str = include_str!("../../model/kinesis.json");

/// One shape of the table as written.
#[derive(Deserialize)]
struct RawShape {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    required: Vec<String>,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    values: Option<Vec<String>>,
    #[serde(default)]
    members: Vec<(String, String)>,
    member: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

/// The table as written (its `source`, the botocore it came from, is for people).
#[derive(Deserialize)]
struct RawTable {
    operations: HashMap<String, String>,
    shapes: HashMap<String, RawShape>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Boolean,
    Blob,
    Timestamp,
}

struct Shape {
    kind: Kind,
    required: Vec<String>,
    min: Option<i64>,
    max: Option<i64>,
    /// The pattern as the model writes it (for the message) and compiled to match whole values.
    pattern: Option<(String, Regex)>,
    values: Option<Vec<String>>,
    members: Vec<(String, String)>,
    member: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

struct Model {
    operations: HashMap<String, String>,
    shapes: HashMap<String, Shape>,
}

static MODEL: LazyLock<Result<Model, String>> = LazyLock::new(|| load(TABLE));

fn load(text: &str) -> Result<Model, String> {
    let raw: RawTable = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut shapes = HashMap::with_capacity(raw.shapes.len());
    for (name, s) in raw.shapes {
        let kind = match s.ty.as_str() {
            "structure" => Kind::Structure,
            "list" => Kind::List,
            "map" => Kind::Map,
            "string" => Kind::String,
            "integer" => Kind::Integer,
            "long" => Kind::Long,
            "boolean" => Kind::Boolean,
            "blob" => Kind::Blob,
            "timestamp" => Kind::Timestamp,
            other => return Err(format!("shape {name}: unknown type {other}")),
        };
        let pattern = match s.pattern {
            None => None,
            // Java's defaults, which the service's messages come from: ASCII classes, `.`
            // any character but a line end; the value must match as a whole.
            Some(p) => {
                // Java's possessive `{n}+` (the analytics model's ARN pattern) matches a
                // whole value as the plain `{n}` does; Rust's regex has no possessive form.
                let re = RegexBuilder::new(&format!("^(?:{})$", p.replace("}+", "}")))
                    .unicode(false)
                    .build()
                    .map_err(|e| format!("shape {name}: pattern {p}: {e}"))?;
                Some((p, re))
            }
        };
        shapes.insert(
            name,
            Shape {
                kind,
                required: s.required,
                min: s.min,
                max: s.max,
                pattern,
                values: s.values,
                members: s.members,
                member: s.member,
                key: s.key,
                value: s.value,
            },
        );
    }
    for (op, input) in &raw.operations {
        if !shapes.contains_key(input) {
            return Err(format!("operation {op}: no shape {input}"));
        }
    }
    Ok(Model {
        operations: raw.operations,
        shapes,
    })
}

/// Another service's reduced model, written the same way (`host/api/model/gen_*.py`): the
/// Kinesis Data Analytics API checks its requests with it (`analytics/`).
pub(crate) struct ServiceModel(Result<Model, String>);

impl ServiceModel {
    pub(crate) fn load(text: &str) -> Self {
        ServiceModel(load(text))
    }

    /// [`check`] against this model; a table that does not load is an internal failure.
    pub(crate) fn check(
        &self,
        operation: &str,
        body: &Val,
        req: &mut Req<'_>,
    ) -> Result<(), ApiError> {
        let m = self.0.as_ref().map_err(|e| {
            tracing::error!(error = %e, "a service model table does not load");
            ApiError::new(ErrorKind::InternalFailure, "Internal Service Failure")
        })?;
        match m.operations.get(operation) {
            Some(input) => m.value(input, body, "", req),
            None => Ok(()),
        }
    }

    /// The operations the table names, for tests.
    #[cfg(test)]
    pub(crate) fn operations(&self) -> Vec<String> {
        self.0
            .as_ref()
            .map(|m| m.operations.keys().cloned().collect())
            .unwrap_or_default()
    }
}

fn model() -> Result<&'static Model, ApiError> {
    MODEL.as_ref().map_err(|e| {
        tracing::error!(error = %e, "the Kinesis model table does not load");
        ApiError::new(ErrorKind::InternalFailure, "Internal Service Failure")
    })
}

/// Checks `body`, the input of `operation`, against the model: violations go to `req`
/// (reported by its `finish`), a value of the wrong type is returned as a
/// SerializationException. An operation the model does not name is not checked.
pub(crate) fn check(operation: &str, body: &Val, req: &mut Req<'_>) -> Result<(), ApiError> {
    let m = model()?;
    match m.operations.get(operation) {
        Some(input) => m.value(input, body, "", req),
        None => Ok(()),
    }
}

fn join(at: &str, member: &str) -> String {
    if at.is_empty() {
        label(member)
    } else {
        format!("{at}.{}", label(member))
    }
}

fn type_error(v: &Val, what: &str, at: &str) -> ApiError {
    ApiError::serialization(format!(
        "{} can not be converted to {what} (at '{at}')",
        v.kind()
    ))
}

/// A blob's length: its bytes (CBOR) or what its base64 text decodes to (JSON).
fn blob_len(v: &Val, at: &str) -> Result<usize, ApiError> {
    match v {
        Val::Bytes(b) => Ok(b.len()),
        Val::Str(s) => {
            let b = s.as_bytes();
            let alphabet = |c: &u8| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/';
            let pad = b.iter().rev().take_while(|c| **c == b'=').count();
            if b.len() % 4 != 0 || pad > 2 || !b[..b.len() - pad].iter().all(alphabet) {
                return Err(ApiError::serialization("Base64 encoded data is invalid."));
            }
            Ok(b.len() / 4 * 3 - pad)
        }
        other => Err(type_error(other, "a Blob", at)),
    }
}

/// An integer value; out of a 32-bit `integer`'s range is a SerializationException, as
/// the service's JSON reader answers it.
fn number(v: &Val, kind: Kind, at: &str) -> Result<i128, ApiError> {
    let n = match v {
        Val::Int(i) => *i,
        Val::Float(f) if f.fract() == 0.0 && f.abs() < 1e30 => *f as i128,
        other => {
            let what = if kind == Kind::Integer {
                "an Integer"
            } else {
                "a Long"
            };
            return Err(type_error(other, what, at));
        }
    };
    let fits = match kind {
        Kind::Integer => i32::try_from(n).is_ok(),
        _ => i64::try_from(n).is_ok(),
    };
    if !fits {
        return Err(ApiError::serialization(format!(
            "Numeric value ({n}) out of range (at '{at}')"
        )));
    }
    Ok(n)
}

impl Shape {
    fn is_scalar(&self) -> bool {
        !matches!(self.kind, Kind::Structure | Kind::List | Kind::Map)
    }

    /// The constraints a scalar value breaks, in the order AWS lists them.
    fn broken(&self, v: &Val, at: &str) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::new();
        match self.kind {
            Kind::String => {
                let Val::Str(s) = v else {
                    return Err(type_error(v, "a String", at));
                };
                if let Some((desc, re)) = &self.pattern {
                    if !re.is_match(s.as_bytes()) {
                        out.push(format!(
                            "Member must satisfy regular expression pattern: {desc}"
                        ));
                    }
                }
                self.length(s.chars().count(), &mut out);
                if let Some(values) = &self.values {
                    if !values.iter().any(|x| x == s) {
                        out.push(format!(
                            "Member must satisfy enum value set: [{}]",
                            values.join(", ")
                        ));
                    }
                }
            }
            Kind::Integer | Kind::Long => {
                let n = number(v, self.kind, at)?;
                if let Some(min) = self.min.filter(|m| n < i128::from(*m)) {
                    out.push(format!(
                        "Member must have value greater than or equal to {min}"
                    ));
                }
                if let Some(max) = self.max.filter(|m| n > i128::from(*m)) {
                    out.push(format!(
                        "Member must have value less than or equal to {max}"
                    ));
                }
            }
            Kind::Blob => self.length(blob_len(v, at)?, &mut out),
            Kind::Boolean => {
                if !matches!(v, Val::Bool(_)) {
                    return Err(type_error(v, "a Boolean", at));
                }
            }
            Kind::Timestamp => {
                if !matches!(v, Val::Time(_) | Val::Int(_) | Val::Float(_)) {
                    return Err(type_error(v, "a Timestamp", at));
                }
            }
            Kind::Structure | Kind::List | Kind::Map => {}
        }
        Ok(out)
    }

    fn length(&self, len: usize, out: &mut Vec<String>) {
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        if let Some(min) = self.min.filter(|m| len < *m) {
            out.push(format!(
                "Member must have length greater than or equal to {min}"
            ));
        }
        if let Some(max) = self.max.filter(|m| len > *m) {
            out.push(format!(
                "Member must have length less than or equal to {max}"
            ));
        }
    }

    /// Every constraint of a list's or map's scalar members, as AWS lists them in the one
    /// violation it reports at the list: `[max, min, pattern, enum]`.
    fn nested(&self) -> String {
        let mut c = Vec::new();
        let unit = if matches!(self.kind, Kind::Integer | Kind::Long) {
            "value"
        } else {
            "length"
        };
        if let Some(max) = self.max {
            c.push(format!(
                "Member must have {unit} less than or equal to {max}"
            ));
        }
        if let Some(min) = self.min {
            c.push(format!(
                "Member must have {unit} greater than or equal to {min}"
            ));
        }
        if let Some((desc, _)) = &self.pattern {
            c.push(format!(
                "Member must satisfy regular expression pattern: {desc}"
            ));
        }
        if let Some(values) = &self.values {
            c.push(format!(
                "Member must satisfy enum value set: [{}]",
                values.join(", ")
            ));
        }
        format!("[{}]", c.join(", "))
    }
}

/// How a value appears in a message: strings as they are, blobs as the service's Java
/// buffer, lists and maps of strings as Java prints them.
fn shown(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        Val::Int(i) => i.to_string(),
        Val::Float(f) => f.to_string(),
        Val::Bool(b) => b.to_string(),
        Val::Bytes(b) => format!("java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]", b.len()),
        Val::Arr(items) => format!(
            "[{}]",
            items.iter().map(shown).collect::<Vec<_>>().join(", ")
        ),
        Val::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}={}", shown(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Val::Null => "null".into(),
        Val::Time(ms) => ms.to_string(),
    }
}

impl Model {
    /// Checks `v` against shape `name`: every constraint a value breaks is a violation,
    /// collected in `req` so the error lists them all; a value of the wrong type is an error
    /// at once. One method per kind of shape.
    fn value(&self, name: &str, v: &Val, at: &str, req: &mut Req<'_>) -> Result<(), ApiError> {
        let Some(shape) = self.shapes.get(name) else {
            return Ok(());
        };
        match shape.kind {
            Kind::Structure => self.structure(shape, v, at, req),
            Kind::List => self.list(shape, v, at, req),
            Kind::Map => self.map(shape, v, at, req),
            _ => scalar(shape, v, at, req),
        }
    }

    /// A structure: its required members present, each member checked against its shape.
    fn structure(
        &self,
        shape: &Shape,
        v: &Val,
        at: &str,
        req: &mut Req<'_>,
    ) -> Result<(), ApiError> {
        let Val::Map(_) = v else {
            return Err(type_error(v, "a structure", at));
        };
        for (member, member_shape) in &shape.members {
            let child = join(at, member);
            match v.get(member) {
                None | Some(Val::Null) => {
                    if shape.required.contains(member) {
                        req.violation(None, &child, "Member must not be null");
                    }
                }
                Some(x) => self.value(member_shape, x, &child, req)?,
            }
        }
        Ok(())
    }

    /// A list: its length, then its items. Scalar items are summed up in one violation for
    /// the list (as AWS does); structures are checked one by one at `at.N.member`.
    fn list(&self, shape: &Shape, v: &Val, at: &str, req: &mut Req<'_>) -> Result<(), ApiError> {
        let Val::Arr(items) = v else {
            return Err(type_error(v, "a List", at));
        };
        let mut len = Vec::new();
        shape.length(items.len(), &mut len);
        let member = shape.member.as_deref().and_then(|m| self.shapes.get(m));
        match member {
            Some(ms) if ms.is_scalar() => {
                let mut bad = false;
                for item in items {
                    bad |= !ms.broken(item, at)?.is_empty();
                }
                for c in &len {
                    req.violation(Some(&shown(v)), at, c);
                }
                if bad {
                    let c = format!("Member must satisfy constraint: {}", ms.nested());
                    req.violation(Some(&shown(v)), at, &c);
                }
            }
            _ => {
                // Lists of structures are not printed (Java prints object ids).
                for c in &len {
                    let summary = if items.is_empty() { "[]" } else { "[...]" };
                    req.violation(Some(summary), at, c);
                }
                if let Some(m) = &shape.member {
                    for (i, item) in items.iter().enumerate() {
                        self.value(m, item, &format!("{at}.{}.member", i + 1), req)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A map: its size, its keys and scalar values summed up in one violation each, and
    /// structured values checked one by one at `at.KEY`.
    fn map(&self, shape: &Shape, v: &Val, at: &str, req: &mut Req<'_>) -> Result<(), ApiError> {
        let Val::Map(entries) = v else {
            return Err(type_error(v, "a Map", at));
        };
        let mut len = Vec::new();
        shape.length(entries.len(), &mut len);
        for c in &len {
            req.violation(Some(&shown(v)), at, c);
        }
        let key = shape.key.as_deref().and_then(|k| self.shapes.get(k));
        let value = shape.value.as_deref().and_then(|k| self.shapes.get(k));
        let (mut bad_key, mut bad_value) = (false, false);
        for (k, x) in entries {
            if let Some(ks) = key {
                bad_key |= !ks.broken(&Val::Str(k.clone()), at)?.is_empty();
            }
            match value {
                Some(vs) if vs.is_scalar() => {
                    bad_value |= !vs.broken(x, at)?.is_empty();
                }
                Some(_) => {
                    if let Some(vn) = &shape.value {
                        self.value(vn, x, &format!("{at}.{k}"), req)?;
                    }
                }
                None => {}
            }
        }
        if let (true, Some(ks)) = (bad_key, key) {
            let c = format!("Map keys must satisfy constraint: {}", ks.nested());
            req.violation(Some(&shown(v)), at, &c);
        }
        if let (true, Some(vs)) = (bad_value, value) {
            let c = format!("Map value must satisfy constraint: {}", vs.nested());
            req.violation(Some(&shown(v)), at, &c);
        }
        Ok(())
    }
}

/// A scalar: the constraints it breaks, with the value shown as Java prints it (a blob as the
/// `HeapByteBuffer` it was read into).
fn scalar(shape: &Shape, v: &Val, at: &str, req: &mut Req<'_>) -> Result<(), ApiError> {
    let broken = shape.broken(v, at)?;
    let value = match shape.kind {
        Kind::Blob => {
            format!(
                "java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]",
                blob_len(v, at)?
            )
        }
        _ => shown(v),
    };
    for c in broken {
        req.violation(Some(&value), at, &c);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::sync::Arc;

    use super::super::{dispatch, Action};
    use super::*;
    use crate::{ApiConfig, ApiState};

    fn json(text: &str) -> Val {
        serde_json::from_str(text).expect("test JSON")
    }

    /// What the model check alone answers for `body`.
    fn checked(op: &str, body: &str) -> Result<(), ApiError> {
        let body = json(body);
        let mut req = Req::new(&body)?;
        check(op, &body, &mut req)?;
        req.finish()
    }

    fn message(r: Result<(), ApiError>) -> String {
        match r {
            Err(e) if e.kind == ErrorKind::Validation => e.message,
            other => panic!("expected a ValidationException, got {other:?}"),
        }
    }

    #[test]
    fn table_loads_and_names_every_action() {
        let m = model().expect("the table loads");
        let actions: Vec<Action> = m
            .operations
            .keys()
            .filter_map(|op| Action::from_target(&format!("Kinesis_20131202.{op}")))
            .collect();
        // Every action Weir serves has its input in the table, under the name it goes by.
        assert_eq!(actions.len(), 40);
        for a in actions {
            assert!(m.operations.contains_key(a.name()), "{a:?}");
        }
    }

    #[test]
    fn explicit_hash_key_breaks_the_model_pattern() {
        let body =
            r#"{"StreamName": "s", "Data": "eA==", "PartitionKey": "k", "ExplicitHashKey": "abc"}"#;
        assert_eq!(
            message(checked("PutRecord", body)),
            "1 validation error detected: Value 'abc' at 'explicitHashKey' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})"
        );
        for good in ["0", "1", &"9".repeat(39)] {
            let body =
                format!(r#"{{"Data": "", "PartitionKey": "k", "ExplicitHashKey": "{good}"}}"#);
            assert!(checked("PutRecord", &body).is_ok(), "{good}");
        }
        for bad in ["", "-1", "01", &"1".repeat(40), "1 "] {
            let body =
                format!(r#"{{"Data": "", "PartitionKey": "k", "ExplicitHashKey": "{bad}"}}"#);
            assert!(message(checked("PutRecord", &body)).contains("at 'explicitHashKey'"));
        }
    }

    #[test]
    fn several_violations_in_model_order_and_aws_words() {
        assert_eq!(
            message(checked("ListStreams", r#"{"Limit": 0, "ExclusiveStartStreamName": "a b"}"#)),
            "2 validation errors detected: \
             Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; \
             Value 'a b' at 'exclusiveStartStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        );
        // A pattern before a length, as AWS lists them; a missing required member.
        assert_eq!(
            message(checked("AddTagsToStream", r#"{"StreamName": ""}"#)),
            "3 validation errors detected: \
             Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1; \
             Value null at 'tags' failed to satisfy constraint: Member must not be null"
        );
        let e = message(checked(
            "GetShardIterator",
            r#"{"StreamName": "s", "ShardId": "shardId-0", "ShardIteratorType": "OLDEST"}"#,
        ));
        assert!(e.ends_with(
            "Value 'OLDEST' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: \
             [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]"
        ), "{e}");
    }

    #[test]
    fn nested_members_lists_and_maps() {
        let e = message(checked(
            "ListShards",
            r#"{"StreamName": "s", "ShardFilter": {"Type": "SOME", "ShardId": "a/b"}}"#,
        ));
        assert!(
            e.starts_with("2 validation errors detected: Value 'SOME' at 'shardFilter.type'"),
            "{e}"
        );
        assert!(e.contains("Value 'a/b' at 'shardFilter.shardId'"), "{e}");
        assert!(message(checked("ListShards", r#"{"ShardFilter": {}}"#))
            .contains("Value null at 'shardFilter.type' failed to satisfy constraint: Member must not be null"));
        let e = message(checked(
            "PutRecords",
            r#"{"StreamName": "s", "Records": [{"Data": "", "PartitionKey": "k"}, {"Data": "", "PartitionKey": "", "ExplicitHashKey": "x"}]}"#,
        ));
        assert!(
            e.contains("Value 'x' at 'records.2.member.explicitHashKey'"),
            "{e}"
        );
        assert!(e.contains("Value '' at 'records.2.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1"), "{e}");
        assert_eq!(
            message(checked("PutRecords", r#"{"Records": []}"#)),
            "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        let long = "a".repeat(129);
        assert_eq!(
            message(checked("RemoveTagsFromStream", &format!(r#"{{"StreamName": "s", "TagKeys": ["a", "{long}"]}}"#))),
            format!(
                "1 validation error detected: Value '[a, {}...' at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint: \
                 [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]",
                &long[..60]
            )
        );
        assert!(message(checked("AddTagsToStream", &format!(r#"{{"StreamName": "s", "Tags": {{"{long}": "v"}}}}"#)))
            .contains("at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 128"));
        assert!(message(checked("EnableEnhancedMonitoring", r#"{"StreamName": "s", "ShardLevelMetrics": ["Bogus"]}"#))
            .contains("Value '[Bogus]' at 'shardLevelMetrics' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [IncomingBytes,"));
        let big = Val::Map(vec![
            ("Data".into(), Val::Bytes(vec![0; 10 * 1024 * 1024 + 1])),
            ("PartitionKey".into(), Val::Str("k".into())),
        ]);
        let mut req = Req::new(&big).expect("map");
        check("PutRecord", &big, &mut req).expect("types");
        let e = message(req.finish());
        assert!(
            e.contains(
                "Value 'java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]' at 'data'"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_wrong_type_is_a_serialization_error_first() {
        for (op, body) in [
            (
                "ListStreams",
                r#"{"Limit": "ten", "ExclusiveStartStreamName": "a b"}"#,
            ),
            ("ListStreams", r#"{"Limit": 4294967296}"#),
            ("ListShards", r#"{"ShardFilter": "AT_LATEST"}"#),
            (
                "PutRecord",
                r#"{"Data": "not base64!", "PartitionKey": "k"}"#,
            ),
            (
                "PutRecords",
                r#"{"Records": [{"Data": "", "PartitionKey": 7}]}"#,
            ),
        ] {
            let r = checked(op, body);
            assert!(
                matches!(&r, Err(e) if e.kind == ErrorKind::Serialization),
                "{op} {body}: {r:?}"
            );
        }
    }

    #[test]
    fn at_most_ten_violations_are_listed() {
        let records: Vec<String> = (0..30)
            .map(|_| r#"{"Data": "", "PartitionKey": ""}"#.to_owned())
            .collect();
        let body = format!(
            r#"{{"StreamName": "s", "Records": [{}]}}"#,
            records.join(",")
        );
        let e = message(checked("PutRecords", &body));
        assert!(e.starts_with("10 validation errors detected: "), "{e}");
        assert_eq!(e.matches("failed to satisfy constraint").count(), 10);
    }

    /// A value that breaks `shape`'s first constraint, if it has one a request can break.
    fn breaking(shape: &Shape) -> Option<Val> {
        match shape.kind {
            Kind::String if shape.values.is_some() => Some(Val::Str("NOT_A_VALUE".into())),
            Kind::String if shape.pattern.is_some() => Some(Val::Str("bad value \u{7}".into())),
            Kind::String => match (shape.min, shape.max) {
                (Some(min), _) if min > 0 => Some(Val::Str(String::new())),
                (_, Some(max)) if max < 4096 => {
                    Some(Val::Str("a".repeat(usize::try_from(max).ok()? + 1)))
                }
                _ => None,
            },
            Kind::Integer | Kind::Long => match (shape.min, shape.max) {
                (Some(min), _) => Some(Val::Int(i128::from(min) - 1)),
                (_, Some(max)) => Some(Val::Int(i128::from(max) + 1)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Every top-level member with a constraint, of every action the dispatcher runs, sent
    /// breaking it: the answer is a ValidationException that names the member exactly once
    /// (no handler checks it again or first, and none answers InvalidArgumentException).
    #[test]
    fn every_constrained_member_of_every_action_is_a_validation_error() {
        let streams = weir_streams::Streams::open_with_backend(
            weir_streams::StreamsConfig::new("/weir"),
            Arc::new(weir_streams::MemBackend::new()),
        )
        .expect("engine");
        let state = ApiState::new(streams, ApiConfig::default());
        let m = model().expect("table");
        let mut cases = 0;
        for (op, input) in &m.operations {
            let Some(action) = Action::from_target(&format!("Kinesis_20131202.{op}")) else {
                continue;
            };
            if action == Action::SubscribeToShard {
                continue; // served by fanout.rs, not the dispatcher
            }
            for (member, shape_name) in &m.shapes[input].members {
                let Some(value) = breaking(&m.shapes[shape_name]) else {
                    continue;
                };
                let body = Val::Map(vec![(member.clone(), value)]);
                let e = match dispatch(&state, action, &body) {
                    Err(e) if e.kind == ErrorKind::Validation => e.message,
                    other => panic!("{op}.{member}: {other:?}"),
                };
                let at = format!(" at '{}' failed", label(member));
                assert_eq!(e.matches(&at).count(), 1, "{op}.{member}: {e}");
                cases += 1;
            }
        }
        assert!(cases > 60, "only {cases} cases");
    }

    /// The checked-in table is botocore's model: regenerated from the botocore that python3
    /// (or `WEIR_BOTOCORE_PYTHON`) imports, every operation both know has the same shapes.
    /// An older botocore than the table's is not compared (models only grow stricter or
    /// larger; it would report the table's newer facts as differences).
    #[test]
    fn table_matches_botocore() {
        let python = std::env::var("WEIR_BOTOCORE_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/model/gen_kinesis.py");
        let out = match Command::new(&python).arg(script).output() {
            Ok(o) if o.status.success() => o,
            _ => {
                eprintln!("table_matches_botocore: no botocore for {python}; not compared");
                return;
            }
        };
        let fresh: serde_json::Value = serde_json::from_slice(&out.stdout).expect("generator JSON");
        let ours: serde_json::Value = serde_json::from_str(TABLE).expect("table JSON");
        let version = |v: &serde_json::Value| -> Vec<u64> {
            v["source"]
                .as_str()
                .and_then(|s| s.strip_prefix("botocore "))
                .and_then(|s| s.split(',').next())
                .map(|s| s.split('.').filter_map(|n| n.parse().ok()).collect())
                .unwrap_or_default()
        };
        if version(&fresh) < version(&ours) {
            eprintln!(
                "table_matches_botocore: {} is older than the table's {}; not compared",
                fresh["source"], ours["source"]
            );
            return;
        }
        fn closure(t: &serde_json::Value, shape: &str, out: &mut Vec<(String, serde_json::Value)>) {
            if out.iter().any(|(n, _)| n == shape) {
                return;
            }
            let s = &t["shapes"][shape];
            out.push((shape.to_owned(), s.clone()));
            for m in s["members"].as_array().into_iter().flatten() {
                closure(t, m[1].as_str().unwrap_or_default(), out);
            }
            for k in ["member", "key", "value"] {
                if let Some(x) = s[k].as_str() {
                    closure(t, x, out);
                }
            }
        }
        let ops = ours["operations"].as_object().expect("operations");
        for (op, input) in ops {
            let Some(theirs) = fresh["operations"][op].as_str() else {
                continue;
            };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            closure(&ours, input.as_str().unwrap_or_default(), &mut a);
            closure(&fresh, theirs, &mut b);
            assert_eq!(
                a, b,
                "{op} differs from {}: regenerate host/api/model/kinesis.json",
                fresh["source"]
            );
        }
    }
}
