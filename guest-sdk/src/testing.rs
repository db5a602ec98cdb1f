//! Native test harness: run a plugin's logic with `cargo test`, no WebAssembly toolchain needed.
//!
//! [`MockHost`] stands in for the Weir host: configuration values, in-memory lookup tables,
//! captured log lines and a captured outbox. [`Harness`] holds one plugin instance across
//! batches and drives it through the same batch drivers ([`crate::stage`]) that the component's
//! exports use, so a passing native test exercises the code that ships.
//!
//! ```
//! use weir_sdk::testing::{Harness, MockHost};
//! use weir_sdk::{Filter, FilterResult, Host, InitError, Record, RecordError};
//!
//! struct NonEmpty;
//! impl Filter for NonEmpty {
//!     fn new(_: &impl Host) -> Result<Self, InitError> { Ok(NonEmpty) }
//!     fn keep(&mut self, r: &Record, _: &impl Host) -> Result<bool, RecordError> {
//!         Ok(!r.payload.is_empty())
//!     }
//! }
//!
//! let mut h = Harness::<NonEmpty>::new(MockHost::new());
//! let out = h.filter(&[Record::new("x"), Record::new("")]);
//! assert_eq!(out, vec![FilterResult::Keep, FilterResult::Drop]);
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::host::{Host, Level, Outbox, Row};
use crate::record::Record;
use crate::stage::{
    self, EmitFailure, Emitter, Filter, FilterResult, StageCell, TransformResult, Transformer,
};

/// One side effect an emitter asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxCall {
    /// `outbox.publish`.
    Publish {
        /// MQTT topic.
        topic: String,
        /// Message body.
        payload: Vec<u8>,
        /// QoS 0 or 1.
        qos: u8,
    },
    /// `outbox.put-record`.
    PutRecord {
        /// Stream name.
        stream: String,
        /// Partition key.
        partition_key: String,
        /// Record data.
        data: Vec<u8>,
    },
    /// `outbox.notify`.
    Notify {
        /// Channel name, e.g. `sms`.
        channel: String,
        /// Recipient, e.g. an E.164 number.
        target: String,
        /// Message text.
        message: String,
    },
}

/// An in-memory stand-in for the Weir host.
#[derive(Debug, Default)]
pub struct MockHost {
    config: BTreeMap<String, String>,
    tables: HashMap<String, HashMap<String, Row>>,
    logs: RefCell<Vec<(Level, String)>>,
    outbox: RefCell<Vec<OutboxCall>>,
    refuse_outbox: Option<String>,
}

impl MockHost {
    /// A host with no configuration, no tables and an outbox that accepts everything.
    pub fn new() -> Self {
        MockHost::default()
    }

    /// Adds a configuration value.
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Adds a table whose rows are keyed by `key_column`. As in the host, the first row with a
    /// given key wins.
    pub fn with_table(
        mut self,
        name: impl Into<String>,
        key_column: &str,
        rows: impl IntoIterator<Item = Row>,
    ) -> Self {
        let mut table = HashMap::new();
        for row in rows {
            if let Some(key) = row.get(key_column) {
                table.entry(key.to_string()).or_insert(row);
            }
        }
        self.tables.insert(name.into(), table);
        self
    }

    /// Adds a table from CSV text with a header line, keyed by `key_column`.
    pub fn with_csv_table(
        self,
        name: impl Into<String>,
        key_column: &str,
        csv_text: &str,
    ) -> Result<Self, String> {
        let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| format!("CSV header: {e}"))?
            .clone();
        if !headers.iter().any(|h| h == key_column) {
            return Err(format!("CSV has no column {key_column:?}"));
        }
        let mut rows = Vec::new();
        for (i, rec) in reader.records().enumerate() {
            let rec = rec.map_err(|e| format!("CSV row {}: {e}", i + 2))?;
            rows.push(Row(headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()));
        }
        Ok(self.with_table(name, key_column, rows))
    }

    /// Adds a table from a CSV file, keyed by `key_column`.
    pub fn with_csv_file(
        self,
        name: impl Into<String>,
        key_column: &str,
        path: impl AsRef<Path>,
    ) -> Result<Self, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        self.with_csv_table(name, key_column, &text)
    }

    /// Makes every outbox call fail with `reason`, to test an emitter's failure path.
    pub fn refusing_outbox(mut self, reason: impl Into<String>) -> Self {
        self.refuse_outbox = Some(reason.into());
        self
    }

    /// Every log line written so far.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.logs.borrow().clone()
    }

    /// Every outbox call made so far, in call order.
    pub fn outbox(&self) -> Vec<OutboxCall> {
        self.outbox.borrow().clone()
    }

    /// The `(channel, target, message)` of every `notify` call so far.
    pub fn notifications(&self) -> Vec<(String, String, String)> {
        self.outbox
            .borrow()
            .iter()
            .filter_map(|c| match c {
                OutboxCall::Notify {
                    channel,
                    target,
                    message,
                } => Some((channel.clone(), target.clone(), message.clone())),
                _ => None,
            })
            .collect()
    }

    /// Forgets captured logs and outbox calls.
    pub fn clear(&self) {
        self.logs.borrow_mut().clear();
        self.outbox.borrow_mut().clear();
    }

    fn record(&self, call: OutboxCall) -> Result<(), String> {
        if let Some(reason) = &self.refuse_outbox {
            return Err(reason.clone());
        }
        self.outbox.borrow_mut().push(call);
        Ok(())
    }
}

impl Host for MockHost {
    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_string()));
    }

    fn config(&self, key: &str) -> Option<String> {
        self.config.get(key).cloned()
    }

    fn config_keys(&self) -> Vec<String> {
        self.config.keys().cloned().collect()
    }

    fn lookup(&self, table: &str, key: &str) -> Result<Option<Row>, String> {
        self.tables
            .get(table)
            .map(|t| t.get(key).cloned())
            .ok_or_else(|| format!("no lookup table named {table:?}"))
    }
}

impl Outbox for MockHost {
    fn publish(&self, topic: &str, payload: &[u8], qos: u8) -> Result<(), String> {
        if qos > 1 {
            return Err(format!("qos {qos} is not supported (0 or 1)"));
        }
        self.record(OutboxCall::Publish {
            topic: topic.to_string(),
            payload: payload.to_vec(),
            qos,
        })
    }

    fn put_record(&self, stream: &str, partition_key: &str, data: &[u8]) -> Result<(), String> {
        self.record(OutboxCall::PutRecord {
            stream: stream.to_string(),
            partition_key: partition_key.to_string(),
            data: data.to_vec(),
        })
    }

    fn notify(&self, channel: &str, target: &str, message: &str) -> Result<(), String> {
        self.record(OutboxCall::Notify {
            channel: channel.to_string(),
            target: target.to_string(),
            message: message.to_string(),
        })
    }
}

/// One plugin instance plus a [`MockHost`], kept across batches like a component instance.
#[derive(Debug)]
pub struct Harness<T> {
    /// The host the plugin talks to; inspect its logs and outbox after a batch.
    pub host: MockHost,
    cell: StageCell<T>,
}

impl<T> Harness<T> {
    /// A harness whose plugin is built on the first batch.
    pub fn new(host: MockHost) -> Self {
        Harness {
            host,
            cell: StageCell::default(),
        }
    }
}

impl<T: Filter> Harness<T> {
    /// Runs one filter batch.
    pub fn filter(&mut self, batch: &[Record]) -> Vec<FilterResult> {
        stage::filter_batch(&mut self.cell, batch, &self.host)
    }
}

impl<T: Transformer> Harness<T> {
    /// Runs one transformer batch.
    pub fn transform(&mut self, batch: Vec<Record>) -> Vec<TransformResult> {
        stage::transform_batch(&mut self.cell, batch, &self.host)
    }
}

impl<T: Emitter> Harness<T> {
    /// Runs one emitter batch; the outbox calls are in `self.host`.
    pub fn emit(&mut self, batch: &[Record]) -> Vec<EmitFailure> {
        stage::emit_batch(&mut self.cell, batch, &self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EmitError, Host, InitError, RecordError};

    struct Echo;
    impl Transformer for Echo {
        fn new(host: &impl Host) -> Result<Self, InitError> {
            match host.config("fail") {
                Some(_) => Err(InitError::config("fail", "asked to fail")),
                None => Ok(Echo),
            }
        }
        fn transform(&mut self, r: Record, host: &impl Host) -> Result<Vec<Record>, RecordError> {
            host.log(Level::Info, "echo");
            Ok(vec![r.clone(), r])
        }
    }

    struct Shout;
    impl Emitter for Shout {
        fn new(_: &impl Host) -> Result<Self, InitError> {
            Ok(Shout)
        }
        fn emit(&mut self, r: &Record, host: &impl Outbox) -> Result<(), EmitError> {
            host.notify("sms", "+1", r.text()?)
                .map_err(|e| EmitError::retryable(RecordError::new("refused", e)))
        }
    }

    #[test]
    fn transformer_fans_out_and_logs() {
        let mut h = Harness::<Echo>::new(MockHost::new());
        let out = h.transform(vec![Record::new("a")]);
        assert_eq!(
            out,
            vec![TransformResult::Records(vec![
                Record::new("a"),
                Record::new("a")
            ])]
        );
        assert_eq!(h.host.logs(), vec![(Level::Info, "echo".to_string())]);
    }

    #[test]
    fn init_failure_fails_every_record() {
        let mut h = Harness::<Echo>::new(MockHost::new().with_config("fail", "1"));
        let out = h.transform(vec![Record::new("a"), Record::new("b")]);
        assert_eq!(out.len(), 2);
        for o in out {
            match o {
                TransformResult::Failed(e) => assert_eq!(e.code, "plugin-init"),
                other => panic!("expected failure, got {other:?}"),
            }
        }
    }

    #[test]
    fn emitter_failures_carry_index_and_retryability() {
        let mut h = Harness::<Shout>::new(MockHost::new());
        let out = h.emit(&[Record::new("hi"), Record::new(vec![0xff])]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].index, 1);
        assert!(!out[0].retryable);
        assert_eq!(h.host.notifications().len(), 1);

        let mut refused = Harness::<Shout>::new(MockHost::new().refusing_outbox("down"));
        let out = refused.emit(&[Record::new("hi")]);
        assert!(out[0].retryable);
        assert!(refused.host.outbox().is_empty());
    }

    #[test]
    fn csv_tables_and_missing_tables() {
        let host = MockHost::new()
            .with_csv_table("t", "k", "k,v\na,1\na,2\nb,3\n")
            .unwrap();
        assert_eq!(host.lookup("t", "a").unwrap().unwrap().get("v"), Some("1"));
        assert_eq!(host.lookup("t", "zz").unwrap(), None);
        assert!(host.lookup("nope", "a").unwrap_err().contains("nope"));
        assert!(MockHost::new().with_csv_table("t", "x", "k,v\n").is_err());
    }
}
