//! `{{name}}`: a Weir transformer. Adds the field named by the `field` parameter (default
//! `processed_by`) with the value of `value` (default `{{name}}`) to each JSON record.

use weir_sdk::serde_json::Value;
use weir_sdk::{ConfigExt, Host, InitError, Record, RecordError, Transformer};

/// The transformer's configuration, read once before the first batch.
pub struct Plugin {
    field: String,
    value: String,
}

impl Transformer for Plugin {
    fn new(host: &impl Host) -> Result<Self, InitError> {
        Ok(Plugin {
            field: host.config_or("field", "processed_by"),
            value: host.config_or("value", "{{name}}"),
        })
    }

    fn transform(
        &mut self,
        mut record: Record,
        _host: &impl Host,
    ) -> Result<Vec<Record>, RecordError> {
        let mut object = record.json_object()?;
        object.insert(self.field.clone(), Value::String(self.value.clone()));
        record.set_json(&Value::Object(object));
        Ok(vec![record])
    }
}

weir_sdk::export_transformer!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::serde_json::json;
    use weir_sdk::testing::{Harness, MockHost};
    use weir_sdk::TransformResult;

    #[test]
    fn adds_the_field() {
        let mut h = Harness::<Plugin>::new(MockHost::new().with_config("value", "me"));
        let out = h.transform(vec![Record::from_json(&json!({"a": 1}))]);
        match &out[0] {
            TransformResult::Records(rs) => {
                assert_eq!(
                    rs[0].json().expect("json"),
                    json!({"a": 1, "processed_by": "me"})
                )
            }
            other => panic!("expected records, got {other:?}"),
        }
    }

    #[test]
    fn a_payload_that_is_not_json_fails_alone() {
        let mut h = Harness::<Plugin>::new(MockHost::new());
        match &h.transform(vec![Record::new("not json")])[0] {
            TransformResult::Failed(e) => assert_eq!(e.code, "bad-json"),
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}
