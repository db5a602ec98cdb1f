//! The record that flows through a pipeline, as plugin code sees it.
//!
//! This mirrors `weir:plugin/types.record` field for field, but is a plain Rust type owned by the
//! SDK so that plugin logic and its tests never touch generated bindings.

use serde_json::Value;

use crate::error::RecordError;

/// One message on its way through a rule action's pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// The message body, usually JSON.
    pub payload: Vec<u8>,
    /// Decides ordering and the destination shard.
    pub partition_key: String,
    /// MQTT topic of the original message.
    pub source_topic: String,
    /// MQTT client id of the publisher (empty when unknown).
    pub client_id: String,
    /// Name of the rule that matched.
    pub rule_name: String,
    /// When Weir accepted the message, milliseconds since the Unix epoch.
    pub arrival_timestamp_ms: u64,
    /// Free-form string attributes.
    pub attributes: Vec<(String, String)>,
}

impl Record {
    /// A record with the given payload and every other field empty.
    pub fn new(payload: impl Into<Vec<u8>>) -> Self {
        Record {
            payload: payload.into(),
            ..Record::default()
        }
    }

    /// A record whose payload is `value` serialised as JSON.
    pub fn from_json(value: &Value) -> Self {
        Record::new(value.to_string())
    }

    /// Sets the partition key (builder style, handy in tests).
    pub fn with_partition_key(mut self, key: impl Into<String>) -> Self {
        self.partition_key = key.into();
        self
    }

    /// Sets the source topic (builder style).
    pub fn with_topic(mut self, topic: impl Into<String>) -> Self {
        self.source_topic = topic.into();
        self
    }

    /// Adds an attribute (builder style).
    pub fn with_attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set_attribute(name, value);
        self
    }

    /// Parses the payload as JSON. A payload that is not JSON is a per-record error with code
    /// `bad-json`, never a panic.
    pub fn json(&self) -> Result<Value, RecordError> {
        serde_json::from_slice(&self.payload).map_err(|e| self.bad_json(e))
    }

    /// Parses the payload as a JSON object, the shape every rule's SELECT produces.
    pub fn json_object(&self) -> Result<serde_json::Map<String, Value>, RecordError> {
        match self.json()? {
            Value::Object(map) => Ok(map),
            other => Err(RecordError::new(
                "bad-json",
                format!("payload is JSON but not an object: {}", kind_of(&other)),
            )),
        }
    }

    /// Parses the payload as a JSON object but builds only the fields named in `names`: what
    /// a stage that reads a field or two wants, at a fraction of [`Record::json_object`]'s
    /// cost (the other fields' keys and values are never allocated). The answer is the same
    /// as `json_object` with every other field removed, and the same `bad-json` errors for a
    /// payload that is not JSON or not an object, with one difference: the values of fields
    /// not named are checked as JSON syntax only, so a number there beyond `f64` or a string
    /// with invalid UTF-8 is not an error. A key given twice keeps its last value, as in
    /// `json_object`.
    pub fn json_fields(
        &self,
        names: &[&str],
    ) -> Result<serde_json::Map<String, Value>, RecordError> {
        use serde::de::DeserializeSeed;
        let mut de = serde_json::Deserializer::from_slice(&self.payload);
        let picked = pick::Picker { names }
            .deserialize(&mut de)
            .and_then(|picked| de.end().map(|()| picked));
        match picked {
            Ok(pick::Picked::Object(map)) => Ok(map),
            Ok(pick::Picked::Other(kind)) => Err(RecordError::new(
                "bad-json",
                format!("payload is JSON but not an object: {kind}"),
            )),
            Err(e) => Err(self.bad_json(e)),
        }
    }

    fn bad_json(&self, e: serde_json::Error) -> RecordError {
        RecordError::new(
            "bad-json",
            format!(
                "payload is not valid JSON: {e} ({} bytes)",
                self.payload.len()
            ),
        )
    }

    /// Replaces the payload with `value` serialised as JSON.
    pub fn set_json(&mut self, value: &Value) {
        self.payload = value.to_string().into_bytes();
    }

    /// The payload as UTF-8 text.
    pub fn text(&self) -> Result<&str, RecordError> {
        std::str::from_utf8(&self.payload).map_err(|e| {
            RecordError::new(
                "bad-utf8",
                format!(
                    "payload is not UTF-8 text: invalid byte at offset {}",
                    e.valid_up_to()
                ),
            )
        })
    }

    /// The value of attribute `name`, if set.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets attribute `name`, replacing an earlier value.
    pub fn set_attribute(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.attributes.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((name, value)),
        }
    }

    /// A copy of this record's metadata (topic, key, client, rule, time, attributes) around a new
    /// payload: what a transformer usually emits.
    pub fn derive(&self, payload: impl Into<Vec<u8>>) -> Record {
        Record {
            payload: payload.into(),
            partition_key: self.partition_key.clone(),
            source_topic: self.source_topic.clone(),
            client_id: self.client_id.clone(),
            rule_name: self.rule_name.clone(),
            arrival_timestamp_ms: self.arrival_timestamp_ms,
            attributes: self.attributes.clone(),
        }
    }
}

/// The visitor behind [`Record::json_fields`]: keeps the named fields of a top-level object,
/// skips the rest with `IgnoredAny`, and names the JSON type of anything that is not an object
/// (after reading it whole, so a syntax error later in it is still a syntax error).
mod pick {
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};

    pub(super) enum Picked {
        Object(Map<String, Value>),
        Other(&'static str),
    }

    pub(super) struct Picker<'n> {
        pub(super) names: &'n [&'n str],
    }

    impl<'de> DeserializeSeed<'de> for Picker<'_> {
        type Value = Picked;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Picked, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Picker<'_> {
        type Value = Picked;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Picked, A::Error> {
            let mut out = Map::new();
            while let Some(wanted) = map.next_key_seed(Key(self.names))? {
                match wanted {
                    Some(i) => {
                        let value: Value = map.next_value()?;
                        out.insert(self.names[i].to_owned(), value);
                    }
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(Picked::Object(out))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Picked, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Picked::Other("an array"))
        }

        fn visit_bool<E>(self, _: bool) -> Result<Picked, E> {
            Ok(Picked::Other("a boolean"))
        }

        fn visit_i64<E>(self, _: i64) -> Result<Picked, E> {
            Ok(Picked::Other("a number"))
        }

        fn visit_u64<E>(self, _: u64) -> Result<Picked, E> {
            Ok(Picked::Other("a number"))
        }

        fn visit_f64<E>(self, _: f64) -> Result<Picked, E> {
            Ok(Picked::Other("a number"))
        }

        fn visit_str<E>(self, _: &str) -> Result<Picked, E> {
            Ok(Picked::Other("a string"))
        }

        fn visit_unit<E>(self) -> Result<Picked, E> {
            Ok(Picked::Other("null"))
        }
    }

    /// A key, matched against the wanted names without being allocated.
    struct Key<'n>(&'n [&'n str]);

    impl<'de> DeserializeSeed<'de> for Key<'_> {
        type Value = Option<usize>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for Key<'_> {
        type Value = Option<usize>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object key")
        }

        fn visit_str<E>(self, key: &str) -> Result<Option<usize>, E> {
            Ok(self.0.iter().position(|name| *name == key))
        }
    }
}

/// A short name for the JSON type of `value`, for error messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trip_and_errors() {
        let mut r = Record::from_json(&json!({"a": 1}));
        assert_eq!(r.json().unwrap(), json!({"a": 1}));
        r.set_json(&json!([1, 2]));
        assert_eq!(r.json_object().unwrap_err().code, "bad-json");
        let bad = Record::new("{not json");
        let err = bad.json().unwrap_err();
        assert_eq!(err.code, "bad-json");
        assert!(err.message.contains("not valid JSON"), "{}", err.message);
    }

    #[test]
    fn json_fields_agrees_with_json_object_on_what_it_keeps() {
        let payloads: [&[u8]; 14] = [
            br#"{"speed": "82", "plate": "X", "n": {"deep": [1, 2]}}"#,
            br#"{"speed": 1, "speed": 2}"#,
            br#"{"plate": "X"}"#,
            br#"{"sp\u0065ed": 5, "a\"b": 1}"#,
            br#"{}"#,
            br#"[1, {"speed": 3}]"#,
            br#""speed""#,
            br#"12.5"#,
            br#"true"#,
            br#"null"#,
            br#"{"speed": 1} trailing"#,
            br#"{"speed": 1"#,
            br#"[1, 2"#,
            b"\xff",
        ];
        for payload in payloads {
            let r = Record::new(payload);
            let want = r.json_object().map(|mut m| {
                m.retain(|k, _| k == "speed" || k == "a\"b");
                m
            });
            assert_eq!(
                r.json_fields(&["speed", "a\"b"]),
                want,
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
    }

    #[test]
    fn json_fields_checks_only_the_syntax_of_fields_it_skips() {
        let r = Record::new(&br#"{"huge": 1e999, "speed": 80}"#[..]);
        assert_eq!(r.json_object().unwrap_err().code, "bad-json");
        assert_eq!(r.json_fields(&["speed"]).unwrap()["speed"], 80);
        assert_eq!(r.json_fields(&["huge"]).unwrap_err().code, "bad-json");
        let r = Record::new(&br#"{"a": 1,, "speed": 80}"#[..]);
        assert_eq!(r.json_fields(&["speed"]).unwrap_err().code, "bad-json");
    }

    #[test]
    fn attributes_replace_in_place() {
        let mut r = Record::new("x").with_attribute("a", "1");
        r.set_attribute("b", "2");
        r.set_attribute("a", "3");
        assert_eq!(r.attribute("a"), Some("3"));
        assert_eq!(r.attributes.len(), 2);
        assert_eq!(r.attribute("zz"), None);
    }

    #[test]
    fn text_rejects_invalid_utf8() {
        let r = Record::new(vec![b'o', b'k', 0xff]);
        let err = r.text().unwrap_err();
        assert!(err.message.contains("offset 2"), "{}", err.message);
    }
}
