//! The payload AWS IoT sends to a rule's error action, built for the runtime.
//!
//! Field names and shape follow AWS's "Error action" documentation:
//! `ruleName`, `topic`, `cloudwatchTraceId`, `clientId`,
//! `base64OriginalPayload` and `failures[]` with `failedAction`,
//! `failedResource` and `errorMessage`.

use base64::Engine as _;
use serde_json::{Map, Value};

/// One failed action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionFailure {
    /// Action type as AWS names it, e.g. `KinesisAction`, `RepublishAction`.
    pub failed_action: String,
    /// The resource the action targeted (stream name, topic, bucket...).
    pub failed_resource: String,
    pub error_message: String,
}

/// Everything the error action receives for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorActionPayload<'a> {
    pub rule_name: &'a str,
    pub topic: &'a str,
    /// Trace id of the message (`cloudwatchTraceId` on AWS).
    pub trace_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub original_payload: &'a [u8],
    pub failures: Vec<ActionFailure>,
}

impl ErrorActionPayload<'_> {
    /// The JSON document, keys in AWS's order; absent ids are left out.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("ruleName".into(), self.rule_name.into());
        m.insert("topic".into(), self.topic.into());
        if let Some(t) = self.trace_id {
            m.insert("cloudwatchTraceId".into(), t.into());
        }
        if let Some(c) = self.client_id {
            m.insert("clientId".into(), c.into());
        }
        m.insert(
            "base64OriginalPayload".into(),
            base64::engine::general_purpose::STANDARD
                .encode(self.original_payload)
                .into(),
        );
        let failures = self
            .failures
            .iter()
            .map(|f| {
                let mut o = Map::new();
                o.insert("failedAction".into(), f.failed_action.clone().into());
                o.insert("failedResource".into(), f.failed_resource.clone().into());
                o.insert("errorMessage".into(), f.error_message.clone().into());
                Value::Object(o)
            })
            .collect();
        m.insert("failures".into(), Value::Array(failures));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let p = ErrorActionPayload {
            rule_name: "speeding",
            topic: "rtr/iot/trafficdata",
            trace_id: Some("7e146a2c-95b5-6caf-98b9-50e3969734c7"),
            client_id: Some("pi-1"),
            original_payload: b"{\"speed\":\"82\"}",
            failures: vec![ActionFailure {
                failed_action: "KinesisAction".into(),
                failed_resource: "alerts".into(),
                error_message: "stream alerts does not exist".into(),
            }],
        };
        let s = serde_json::to_string(&p.to_json()).unwrap();
        assert_eq!(
            s,
            r#"{"ruleName":"speeding","topic":"rtr/iot/trafficdata","cloudwatchTraceId":"7e146a2c-95b5-6caf-98b9-50e3969734c7","clientId":"pi-1","base64OriginalPayload":"eyJzcGVlZCI6IjgyIn0=","failures":[{"failedAction":"KinesisAction","failedResource":"alerts","errorMessage":"stream alerts does not exist"}]}"#
        );
    }
}
