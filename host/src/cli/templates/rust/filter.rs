//! `{{name}}`: a Weir filter. Keeps records whose `value` field is above the `min` parameter
//! (`[plugins.{{name}}] params = { min = 10 }`, default 0); a record without a usable `value`
//! goes to the rule's error action with the reason.

use weir_sdk::{json, ConfigExt, Filter, Host, InitError, Record, RecordError};

/// The filter's configuration, read once before the first batch.
pub struct Plugin {
    min: f64,
}

impl Filter for Plugin {
    fn new(host: &impl Host) -> Result<Self, InitError> {
        Ok(Plugin {
            min: host.config_parse("min", 0.0)?,
        })
    }

    fn keep(&mut self, record: &Record, _host: &impl Host) -> Result<bool, RecordError> {
        let payload = record.json_fields(&["value"])?;
        Ok(json::number_field(&payload, "value")? > self.min)
    }
}

weir_sdk::export_filter!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::serde_json::json;
    use weir_sdk::testing::{Harness, MockHost};
    use weir_sdk::FilterResult;

    #[test]
    fn keeps_values_above_min() {
        let mut h = Harness::<Plugin>::new(MockHost::new().with_config("min", "10"));
        let out = h.filter(&[
            Record::from_json(&json!({"value": 11})),
            Record::from_json(&json!({"value": "9"})),
        ]);
        assert_eq!(out, vec![FilterResult::Keep, FilterResult::Drop]);
    }

    #[test]
    fn a_record_without_value_fails_alone() {
        let mut h = Harness::<Plugin>::new(MockHost::new());
        let out = h.filter(&[Record::from_json(&json!({"other": 1}))]);
        match &out[0] {
            FilterResult::Failed(e) => assert_eq!(e.code, "missing-field"),
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}
