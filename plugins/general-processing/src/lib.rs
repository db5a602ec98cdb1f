//! `general-processing`: Firehose's "General Firehose Processing" blueprint, a pass-through
//! transformer and a template to start a new one from.
//!
//! Every record comes out unchanged: payload, partition key, topic, attributes and all. Replace
//! the body of [`GeneralProcessing::transform`] with your own processing; return `Ok(vec![])` to
//! consume a record, several records to fan it out, or a [`RecordError`] to send it to the rule's
//! error action.
//!
//! Optional configuration (`params` of the plugin's `[plugins.NAME]` entry, which then needs
//! `grants = ["config"]`):
//!
//! | key | default | effect |
//! |---|---|---|
//! | `append_newline` | `false` | `true` ends every payload with `\n` unless it already ends with one, so records delivered to S3 stay one per line |
//!
//! A value other than `true` or `false` stops the plugin from starting, and every record of the
//! batch fails with code `plugin-init` naming the key.
//!
//! Try the built component on the sample input (JSON lines, one record each):
//!
//! ```text
//! cargo xtask plugins
//! weir plugin test target/plugins/general-processing.wasm \
//!     --input plugins/general-processing/examples/records.jsonl --config append_newline=true
//! ```

use weir_sdk::{ConfigExt, Host, InitError, Record, RecordError, Transformer};

/// The pass-through transformer and its configuration.
#[derive(Debug)]
pub struct GeneralProcessing {
    /// Whether to end each payload with `\n` (config `append_newline`).
    append_newline: bool,
}

impl Transformer for GeneralProcessing {
    fn new(host: &impl Host) -> Result<Self, InitError> {
        Ok(GeneralProcessing {
            append_newline: host.config_parse("append_newline", false)?,
        })
    }

    fn transform(
        &mut self,
        mut record: Record,
        _host: &impl Host,
    ) -> Result<Vec<Record>, RecordError> {
        if self.append_newline && !record.payload.ends_with(b"\n") {
            record.payload.push(b'\n');
        }
        Ok(vec![record])
    }
}

weir_sdk::export_transformer!(GeneralProcessing);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::testing::{Harness, MockHost};
    use weir_sdk::TransformResult;

    fn batch() -> Vec<Record> {
        vec![
            Record::new(r#"{"temperature": 21.5}"#)
                .with_partition_key("k")
                .with_topic("t")
                .with_attribute("a", "1"),
            Record::new("already ends with a newline\n"),
            Record::new("two\nlines"),
            Record::new(vec![0xff, 0x00]),
            Record::new(""),
        ]
    }

    fn unchanged(out: &[TransformResult], want: &[Record]) {
        assert_eq!(out.len(), want.len());
        for (o, w) in out.iter().zip(want) {
            assert_eq!(o, &TransformResult::Records(vec![w.clone()]));
        }
    }

    #[test]
    fn passes_every_record_through_unchanged_by_default() {
        let mut h = Harness::<GeneralProcessing>::new(MockHost::new());
        unchanged(&h.transform(batch()), &batch());
        let mut h = Harness::<GeneralProcessing>::new(
            MockHost::new().with_config("append_newline", "false"),
        );
        unchanged(&h.transform(batch()), &batch());
    }

    #[test]
    fn append_newline_adds_one_only_where_missing() {
        let mut h = Harness::<GeneralProcessing>::new(
            MockHost::new().with_config("append_newline", " true "),
        );
        let mut want = batch();
        for r in &mut want {
            if !r.payload.ends_with(b"\n") {
                r.payload.push(b'\n');
            }
        }
        unchanged(&h.transform(batch()), &want);
        assert_eq!(want[0].payload, b"{\"temperature\": 21.5}\n");
        assert_eq!(want[0].partition_key, "k");
        assert_eq!(want[1].payload, b"already ends with a newline\n");
        assert_eq!(want[2].payload, b"two\nlines\n");
        assert_eq!(want[4].payload, b"\n");
    }

    #[test]
    fn a_bad_config_value_fails_every_record() {
        let mut h =
            Harness::<GeneralProcessing>::new(MockHost::new().with_config("append_newline", "yes"));
        let out = h.transform(batch());
        assert_eq!(out.len(), 5);
        for o in out {
            match o {
                TransformResult::Failed(e) => {
                    assert_eq!(e.code, "plugin-init");
                    assert!(e.message.contains("append_newline"), "{e}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// The sample input of `weir plugin test` (JSON lines, one record each) passes through.
    #[test]
    fn the_example_input() {
        let batch: Vec<Record> = include_str!("../examples/records.jsonl")
            .lines()
            .map(Record::new)
            .collect();
        let out = Harness::<GeneralProcessing>::new(MockHost::new()).transform(batch.clone());
        assert_eq!(batch.len(), 3);
        unchanged(&out, &batch);
    }
}
