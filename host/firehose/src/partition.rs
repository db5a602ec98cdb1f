//! Dynamic partitioning: partition keys computed from each record and used in the prefix as
//! `!{partitionKeyFromQuery:NAME}`.
//!
//! Firehose evaluates a jq query here; Weir evaluates IoT rules SQL with Weir's own rules
//! engine, so a rule and a delivery stream read records the same way. A
//! `MetadataExtractionQuery` is either a SELECT list (`device AS device, floor(speed / 10)
//! AS band`, with or without a leading `SELECT`) or the jq object form AWS users already
//! have (`{device: .device, make: .car.make}`), whose plain paths become the same SQL.

use serde_json::Value;
use weir_rules::{EvalContext, Rule};

use crate::error::{FirehoseError, Result};

/// The longest partition key value Firehose allows (AWS documents 512 characters).
const MAX_KEY_LEN: usize = 512;

/// Reads a `MetadataExtractionQuery` into `(name, IoT SQL expression)` pairs.
pub(crate) fn parse_query(query: &str) -> Result<Vec<(String, String)>> {
    let q = query.trim();
    let bad = |why: String| {
        FirehoseError::InvalidArgument(format!("MetadataExtractionQuery {query:?}: {why}"))
    };
    let keys = if let Some(body) = q.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        let mut keys = Vec::new();
        for item in split_top_level(body) {
            let Some((name, path)) = item.split_once(':') else {
                return Err(bad(format!("{item:?} is not NAME: .path")));
            };
            let (name, path) = (name.trim().trim_matches('"'), path.trim());
            let Some(fields) = path.strip_prefix('.') else {
                return Err(bad(format!("{path:?} is not a jq path such as .device")));
            };
            let plain = !fields.is_empty()
                && fields.split('.').all(|f| {
                    !f.is_empty() && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                });
            if !plain {
                return Err(bad(format!(
                    "only plain jq paths (.a.b) are read; write other expressions in IoT SQL: `expr AS {name}`"
                )));
            }
            keys.push((name.to_owned(), fields.to_owned()));
        }
        keys
    } else {
        let list = match q.get(..7) {
            Some(head) if head.eq_ignore_ascii_case("select ") => &q[7..],
            _ => q,
        };
        let mut keys = Vec::new();
        for item in split_top_level(list) {
            let lower = item.to_ascii_lowercase();
            let Some(at) = lower.rfind(" as ") else {
                return Err(bad(format!("{item:?} needs a key name: `expr AS name`")));
            };
            let name = item[at + 4..].trim().trim_matches('"');
            keys.push((name.to_owned(), item[..at].trim().to_owned()));
        }
        keys
    };
    if keys.is_empty() {
        return Err(bad("it defines no partition key".into()));
    }
    for (i, (name, _)) in keys.iter().enumerate() {
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(bad(format!(
                "key name {name:?} must be letters, digits, _ or -"
            )));
        }
        if keys[..i].iter().any(|(n, _)| n == name) {
            return Err(bad(format!("key {name} is defined twice")));
        }
    }
    Partitioner::new(&keys)?;
    Ok(keys)
}

/// Splits at commas outside parentheses, brackets, braces and quotes.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = s[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

/// The compiled keys of one delivery stream.
pub(crate) struct Partitioner {
    names: Vec<String>,
    rule: Rule,
}

impl Partitioner {
    pub(crate) fn new(keys: &[(String, String)]) -> Result<Partitioner> {
        let list: Vec<String> = keys.iter().map(|(n, e)| format!("{e} AS {n}")).collect();
        let sql = format!("SELECT {} FROM '#'", list.join(", "));
        let rule = Rule::compile(&sql).map_err(|d| {
            let why: Vec<String> = d.iter().map(|d| d.to_string()).collect();
            FirehoseError::InvalidArgument(format!(
                "the partition keys do not compile as IoT SQL ({sql}): {}",
                why.join("; ")
            ))
        })?;
        Ok(Partitioner {
            names: keys.iter().map(|(n, _)| n.clone()).collect(),
            rule,
        })
    }

    /// The record's key values, in key order, or why it has none.
    pub(crate) fn keys_of(&self, data: &[u8]) -> std::result::Result<Vec<String>, String> {
        let json: Value =
            serde_json::from_slice(data).map_err(|e| format!("the record is not JSON ({e})"))?;
        let cx = EvalContext::new("", data, Some(&json));
        let out = self
            .rule
            .evaluate_json(&cx)
            .map_err(|e| format!("evaluating the partition keys failed: {e}"))?;
        let Some(Value::Object(fields)) = out else {
            return Err("the partition keys evaluated to nothing".into());
        };
        self.names
            .iter()
            .map(|name| {
                let v = match fields.get(name) {
                    Some(Value::String(s)) => s.clone(),
                    Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
                    Some(Value::Null) | None => {
                        return Err(format!("partition key {name} is missing from the record"))
                    }
                    Some(_) => {
                        return Err(format!(
                            "partition key {name} is an object or array, not a value"
                        ))
                    }
                };
                if v.is_empty() || v.len() > MAX_KEY_LEN {
                    return Err(format!(
                        "partition key {name} must be 1 to {MAX_KEY_LEN} characters"
                    ));
                }
                // `.`, `..`, `/` and control characters are written as S3 allows them (see
                // store.rs); a NUL byte is not (S3 lists keys in XML 1.0, which has none).
                if v.contains('\0') {
                    return Err(format!(
                        "partition key {name} value {v:?} holds a NUL byte, which an object key cannot"
                    ));
                }
                Ok(v)
            })
            .collect()
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_query_forms_give_the_same_keys() {
        let jq = parse_query("{device: .device, make: .car.make}").expect("jq");
        assert_eq!(
            jq,
            vec![
                ("device".to_owned(), "device".to_owned()),
                ("make".to_owned(), "car.make".to_owned())
            ]
        );
        let sql = parse_query("SELECT device AS device, upper(substring(car.make, 0, 3)) AS make")
            .expect("sql");
        let p = Partitioner::new(&sql).expect("compile");
        assert_eq!(
            p.keys_of(br#"{"device":"d1","car":{"make":"volvo"}}"#),
            Ok(vec!["d1".to_owned(), "VOL".to_owned()])
        );
        let p = Partitioner::new(&jq).expect("compile");
        assert_eq!(
            p.keys_of(br#"{"device":7,"car":{"make":"volvo"}}"#),
            Ok(vec!["7".to_owned(), "volvo".to_owned()])
        );
    }

    #[test]
    fn records_without_keys_fail_with_a_reason() {
        let p = Partitioner::new(&parse_query("device AS device").expect("q")).expect("p");
        assert!(p.keys_of(b"not json").unwrap_err().contains("not JSON"));
        assert!(p.keys_of(br#"{"x":1}"#).unwrap_err().contains("missing"));
        assert!(p
            .keys_of(br#"{"device":{"a":1}}"#)
            .unwrap_err()
            .contains("object"));
        assert!(p
            .keys_of(br#"{"device":"a\u0000b"}"#)
            .unwrap_err()
            .contains("NUL"));
        // S3 takes these as they are; store.rs writes them so.
        for v in ["..", ".", "a//b", "/lead", "../x", "tab\t"] {
            let data = serde_json::json!({ "device": v }).to_string();
            assert_eq!(p.keys_of(data.as_bytes()), Ok(vec![v.to_owned()]), "{v:?}");
        }
    }

    #[test]
    fn bad_queries_are_refused() {
        for q in [
            "",
            "{}",
            "{a: .b | ascii}",
            "device",
            "a AS x, b AS x",
            "{a: b}",
            "nope( AS k",
        ] {
            assert!(parse_query(q).is_err(), "{q}");
        }
    }
}
