//! `{{name}}`: a Weir emitter. Publishes each record's payload on the MQTT topic of the
//! `topic` parameter (default `{{name}}/out`), QoS 1. A refused publish is retried by the
//! host before the record goes to the rule's error action.

use weir_sdk::{ConfigExt, EmitError, Emitter, Host, InitError, Outbox, Record, RecordError};

/// The emitter's configuration, read once before the first batch.
pub struct Plugin {
    topic: String,
}

impl Emitter for Plugin {
    fn new(host: &impl Host) -> Result<Self, InitError> {
        Ok(Plugin {
            topic: host.config_or("topic", "{{name}}/out"),
        })
    }

    fn emit(&mut self, record: &Record, host: &impl Outbox) -> Result<(), EmitError> {
        host.publish(&self.topic, &record.payload, 1)
            .map_err(|why| EmitError::retryable(RecordError::new("publish-refused", why)))
    }
}

weir_sdk::export_emitter!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::testing::{Harness, MockHost, OutboxCall};

    #[test]
    fn publishes_each_record() {
        let host = MockHost::new().with_config("topic", "t");
        let mut h = Harness::<Plugin>::new(host);
        assert!(h.emit(&[Record::new("a")]).is_empty());
        assert_eq!(
            h.host.outbox(),
            vec![OutboxCall::Publish {
                topic: "t".into(),
                payload: b"a".to_vec(),
                qos: 1
            }]
        );
    }
}
