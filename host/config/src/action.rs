//! Rule actions: one type per kind, each saying in one place what it is called in the file,
//! which keys it takes, its AWS action name, what it targets, its key template and its label.
//!
//! To add a kind: a struct here with its [`Destination`] impl, a variant of [`ActionKind`]
//! and of `schema::RawActionKind` (its keys), its parsing in `validate/rules.rs`, and its sink
//! in the runtime (`runtime/sinks.rs`, opened in `runtime/plan.rs`).

use std::path::PathBuf;
use std::time::Duration;

use weir_rules::Template;

/// One action with its pipeline stages.
#[derive(Debug, Clone)]
pub struct ActionConfig {
    /// The destination.
    pub kind: ActionKind,
    /// Transformer plugins, in order.
    pub transformers: Vec<String>,
    /// Filter plugins, in order.
    pub filters: Vec<String>,
    /// Batching before the destination.
    pub buffer: BufferConfig,
}

/// What every action kind says about itself; the runtime reads only this (and opens the
/// kind's sink).
pub trait Destination {
    /// AWS's name of the action, as the error action's payload carries it (`failures[].
    /// failedAction`), e.g. `KinesisAction`.
    fn aws_action(&self) -> &'static str;
    /// What it targets, for the error payload's `failedResource`.
    fn resource(&self) -> String;
    /// The template that renders each record's key (partition key, row key, topic), if any.
    fn key_template(&self) -> Option<&Template>;
    /// A short label for metrics and logs: its kind and target, e.g. `kinesis:alerts`.
    fn label(&self) -> String;
    /// The settings that decide where an already rendered record goes, as text: its kind and
    /// target (stream, folder and prefixes, delivery stream, table, emitter). The runtime names
    /// an action's spool by it, so moving an action in its rule or changing its buffering,
    /// plugins or key template keeps what it spooled. Key templates are left out on purpose:
    /// a spooled record already carries its rendered key.
    fn identity(&self) -> String;
}

/// The destination of an action.
#[derive(Debug, Clone)]
pub enum ActionKind {
    /// Put into a stream.
    Kinesis(KinesisAction),
    /// Buffered delivery into files under a folder, or into a delivery stream of the
    /// Firehose service.
    Firehose(FirehoseAction),
    /// Publish back to MQTT.
    Republish(RepublishAction),
    /// Store the output in a table.
    Table(TableAction),
    /// Hand the output to an emitter plugin.
    Plugin(PluginAction),
}

impl ActionKind {
    /// The kind's description (the only match over the kinds outside parsing and sinks).
    pub fn destination(&self) -> &dyn Destination {
        match self {
            ActionKind::Kinesis(a) => a,
            ActionKind::Firehose(a) => a,
            ActionKind::Republish(a) => a,
            ActionKind::Table(a) => a,
            ActionKind::Plugin(a) => a,
        }
    }
}

/// `kind = "kinesis"`.
#[derive(Debug, Clone)]
pub struct KinesisAction {
    /// Stream name.
    pub stream: String,
    /// Partition key template.
    pub partition_key: Template,
    /// A remote Kinesis-compatible endpoint; `None` means this Weir's own streams.
    pub endpoint: Option<String>,
}

impl Destination for KinesisAction {
    fn aws_action(&self) -> &'static str {
        "KinesisAction"
    }
    fn resource(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("{e}#{}", self.stream),
            None => self.stream.clone(),
        }
    }
    fn key_template(&self) -> Option<&Template> {
        Some(&self.partition_key)
    }
    fn label(&self) -> String {
        format!("kinesis:{}", self.stream)
    }
    fn identity(&self) -> String {
        let endpoint = self.endpoint.as_deref().unwrap_or_default();
        format!("kinesis\n{endpoint}\n{}", self.stream)
    }
}

/// `kind = "firehose"`: either files under `root`, with this action's own prefixes and
/// buffering, or (with `delivery_stream`) records put into a delivery stream of the Firehose
/// service, whose own settings then apply.
#[derive(Debug, Clone)]
pub struct FirehoseAction {
    /// Folder objects are written under; empty when `delivery_stream` is set.
    pub root: PathBuf,
    /// Key prefix (may use `!{timestamp:...}`).
    pub prefix: String,
    /// Key prefix of failed records (may use `!{firehose:error-output-type}`).
    pub error_prefix: String,
    /// Flush at this many bytes.
    pub buffer_bytes: u64,
    /// Flush after this long.
    pub buffer_interval: Duration,
    /// The delivery stream (of the Firehose service) the records are put into instead of
    /// writing under `root`; `root`, `prefix`, `error_prefix` and the buffering are then the
    /// defaults and unused (the delivery stream's own settings apply).
    pub delivery_stream: Option<String>,
}

impl Destination for FirehoseAction {
    fn aws_action(&self) -> &'static str {
        "FirehoseAction"
    }
    fn resource(&self) -> String {
        match &self.delivery_stream {
            Some(name) => name.clone(),
            None => self.root.display().to_string(),
        }
    }
    fn key_template(&self) -> Option<&Template> {
        None
    }
    fn label(&self) -> String {
        match &self.delivery_stream {
            Some(name) => format!("firehose:{name}"),
            None => "firehose".into(),
        }
    }
    fn identity(&self) -> String {
        match &self.delivery_stream {
            Some(name) => format!("firehose-stream\n{name}"),
            None => format!(
                "firehose\n{}\n{}\n{}",
                self.root.display(),
                self.prefix,
                self.error_prefix
            ),
        }
    }
}

/// `kind = "republish"`.
#[derive(Debug, Clone)]
pub struct RepublishAction {
    /// Topic template.
    pub topic: Template,
    /// 0 or 1.
    pub qos: u8,
}

impl Destination for RepublishAction {
    fn aws_action(&self) -> &'static str {
        "RepublishAction"
    }
    fn resource(&self) -> String {
        self.topic.source().to_owned()
    }
    fn key_template(&self) -> Option<&Template> {
        Some(&self.topic)
    }
    fn label(&self) -> String {
        "republish".into()
    }
    fn identity(&self) -> String {
        // Each spooled record carries its rendered topic; the QoS is how, not where.
        "republish".into()
    }
}

/// `kind = "table"`.
#[derive(Debug, Clone)]
pub struct TableAction {
    /// Table name.
    pub table: String,
    /// Row key template.
    pub key: Template,
}

impl Destination for TableAction {
    fn aws_action(&self) -> &'static str {
        // The AWS action that writes a message into a table row.
        "DynamoDBv2Action"
    }
    fn resource(&self) -> String {
        self.table.clone()
    }
    fn key_template(&self) -> Option<&Template> {
        Some(&self.key)
    }
    fn label(&self) -> String {
        format!("table:{}", self.table)
    }
    fn identity(&self) -> String {
        format!("table\n{}", self.table)
    }
}

/// `kind = "plugin"`.
#[derive(Debug, Clone)]
pub struct PluginAction {
    /// The emitter plugin's name.
    pub emitter: String,
}

impl Destination for PluginAction {
    fn aws_action(&self) -> &'static str {
        // The AWS action that hands a message to user code.
        "LambdaAction"
    }
    fn resource(&self) -> String {
        self.emitter.clone()
    }
    fn key_template(&self) -> Option<&Template> {
        None
    }
    fn label(&self) -> String {
        format!("plugin:{}", self.emitter)
    }
    fn identity(&self) -> String {
        format!("plugin\n{}", self.emitter)
    }
}

/// Flush a pipeline's buffer on whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferConfig {
    /// Records.
    pub max_records: u64,
    /// Bytes.
    pub max_bytes: u64,
    /// Age of the oldest record.
    pub max_age: Duration,
}

impl Default for BufferConfig {
    /// Small enough for interactive latency, large enough to amortise a plugin call.
    fn default() -> Self {
        BufferConfig {
            max_records: 500,
            max_bytes: 1 << 20,
            max_age: Duration::from_millis(1000),
        }
    }
}
