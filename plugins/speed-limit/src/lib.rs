//! `speed-limit`: keeps records whose `speed` exceeds a configured limit.
//!
//! The seed's Spark job kept `speed > 75`. Devices send speed as a number or, like the seed's
//! Raspberry Pi, as a numeric string; both are accepted. A record without a usable speed is an
//! error for that record (it reaches the rule's error action), never a silent drop.
//!
//! Config: `limit` (default 75), `field` (default `speed`).

use weir_sdk::{json, ConfigExt, Filter, Host, InitError, Record, RecordError};

/// The filter's state: its configuration, parsed once.
#[derive(Debug)]
pub struct SpeedLimit {
    limit: f64,
    field: String,
}

impl Filter for SpeedLimit {
    fn new(host: &impl Host) -> Result<Self, InitError> {
        let limit: f64 = host.config_parse("limit", 75.0)?;
        if !limit.is_finite() {
            return Err(InitError::config("limit", "must be a finite number"));
        }
        Ok(SpeedLimit {
            limit,
            field: host.config_or("field", "speed"),
        })
    }

    fn keep(&mut self, record: &Record, _host: &impl Host) -> Result<bool, RecordError> {
        // Only the one field is built; the rest of the payload is checked, not allocated.
        let payload = record.json_fields(&[&self.field])?;
        Ok(json::number_field(&payload, &self.field)? > self.limit)
    }
}

weir_sdk::export_filter!(SpeedLimit);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::serde_json::json;
    use weir_sdk::testing::{Harness, MockHost};
    use weir_sdk::FilterResult;

    fn rec(v: weir_sdk::serde_json::Value) -> Record {
        Record::from_json(&v)
    }

    #[test]
    fn keeps_only_speeds_above_the_default_limit() {
        let mut h = Harness::<SpeedLimit>::new(MockHost::new());
        let out = h.filter(&[
            rec(json!({"speed": "82"})),
            rec(json!({"speed": "75"})),
            rec(json!({"speed": 75.5})),
            rec(json!({"speed": "64"})),
        ]);
        use FilterResult::*;
        assert_eq!(out, vec![Keep, Drop, Keep, Drop]);
    }

    #[test]
    fn limit_and_field_are_configurable() {
        let host = MockHost::new()
            .with_config("limit", "100")
            .with_config("field", "v");
        let mut h = Harness::<SpeedLimit>::new(host);
        let out = h.filter(&[
            rec(json!({"v": 101})),
            rec(json!({"v": "99", "speed": 500})),
        ]);
        assert_eq!(out, vec![FilterResult::Keep, FilterResult::Drop]);
    }

    #[test]
    fn unusable_speed_is_a_record_error_not_a_panic() {
        let mut h = Harness::<SpeedLimit>::new(MockHost::new());
        let out = h.filter(&[
            rec(json!({"speed": "fast"})),
            rec(json!({"plate": "X"})),
            Record::new("not json"),
            rec(json!({"speed": "90"})),
        ]);
        let codes: Vec<_> = out
            .iter()
            .map(|o| match o {
                FilterResult::Failed(e) => e.code.as_str(),
                FilterResult::Keep => "keep",
                FilterResult::Drop => "drop",
            })
            .collect();
        assert_eq!(
            codes,
            vec!["bad-value", "missing-field", "bad-json", "keep"]
        );
        if let FilterResult::Failed(e) = &out[0] {
            assert!(e.message.contains("\"fast\""), "{e}");
        }
    }

    #[test]
    fn bad_limit_fails_the_batch_with_the_key_named() {
        let mut h = Harness::<SpeedLimit>::new(MockHost::new().with_config("limit", "lots"));
        match &h.filter(&[rec(json!({"speed": 1}))])[0] {
            FilterResult::Failed(e) => {
                assert_eq!(e.code, "plugin-init");
                assert!(e.message.contains("limit"), "{e}");
            }
            other => panic!("expected an init failure, got {other:?}"),
        }
    }
}
