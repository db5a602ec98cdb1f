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
        serde_json::from_slice(&self.payload).map_err(|e| {
            RecordError::new(
                "bad-json",
                format!(
                    "payload is not valid JSON: {e} ({} bytes)",
                    self.payload.len()
                ),
            )
        })
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
