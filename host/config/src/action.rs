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
    /// SendMessage to an SQS queue.
    Sqs(SqsAction),
    /// Publish to an SNS topic or endpoint.
    Sns(SnsAction),
    /// PutItem of the output's top-level fields into a DynamoDB table.
    DynamoDbV2(DynamoDbV2Action),
    /// PutObject of the output into an S3 bucket.
    S3(S3Action),
    /// POST the output to an HTTP(S) URL.
    Http(HttpAction),
    /// Invoke a function (an emitter plugin) with the output as its event.
    Lambda(LambdaAction),
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
            ActionKind::Sqs(a) => a,
            ActionKind::Sns(a) => a,
            ActionKind::DynamoDbV2(a) => a,
            ActionKind::S3(a) => a,
            ActionKind::Http(a) => a,
            ActionKind::Lambda(a) => a,
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

/// `kind = "sqs"`: SendMessage of each output to a queue of the `[sqs]` endpoint.
#[derive(Debug, Clone)]
pub struct SqsAction {
    /// The queue URL (a substitution template, as AWS allows through its API).
    pub queue_url: Template,
    /// Send the body as base64 of the output (AWS's `useBase64`).
    pub use_base64: bool,
}

impl Destination for SqsAction {
    fn aws_action(&self) -> &'static str {
        "SqsAction"
    }
    fn resource(&self) -> String {
        self.queue_url.source().to_owned()
    }
    fn key_template(&self) -> Option<&Template> {
        Some(&self.queue_url)
    }
    fn label(&self) -> String {
        "sqs".into()
    }
    fn identity(&self) -> String {
        // The body's encoding is how, not where; a spooled record carries its rendered URL.
        format!("sqs\n{}", self.queue_url.source())
    }
}

/// SNS's `MessageStructure`: how the topic reads the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnsMessageFormat {
    /// The output is the message (AWS's default).
    Raw,
    /// The output is SNS's JSON message structure (`{"default": ..., "sms": ...}`).
    Json,
}

impl SnsMessageFormat {
    /// As AWS writes it: `RAW` or `JSON`.
    pub fn as_str(self) -> &'static str {
        match self {
            SnsMessageFormat::Raw => "RAW",
            SnsMessageFormat::Json => "JSON",
        }
    }
}

/// `kind = "sns"`: Publish of each output to a topic (or endpoint) of the `[sns]` endpoint.
#[derive(Debug, Clone)]
pub struct SnsAction {
    /// The target ARN (a substitution template).
    pub target_arn: Template,
    /// `RAW` or `JSON`.
    pub message_format: SnsMessageFormat,
}

impl Destination for SnsAction {
    fn aws_action(&self) -> &'static str {
        "SnsAction"
    }
    fn resource(&self) -> String {
        self.target_arn.source().to_owned()
    }
    fn key_template(&self) -> Option<&Template> {
        Some(&self.target_arn)
    }
    fn label(&self) -> String {
        "sns".into()
    }
    fn identity(&self) -> String {
        format!("sns\n{}", self.target_arn.source())
    }
}

/// `kind = "dynamodbv2"`: PutItem of each output's top-level fields, each an attribute, into a
/// table of the `[dynamodb]` endpoint.
#[derive(Debug, Clone)]
pub struct DynamoDbV2Action {
    /// The table name (a substitution template).
    pub table_name: Template,
}

impl Destination for DynamoDbV2Action {
    fn aws_action(&self) -> &'static str {
        "DynamoDBv2Action"
    }
    fn resource(&self) -> String {
        self.table_name.source().to_owned()
    }
    fn key_template(&self) -> Option<&Template> {
        Some(&self.table_name)
    }
    fn label(&self) -> String {
        "dynamodbv2".into()
    }
    fn identity(&self) -> String {
        format!("dynamodbv2\n{}", self.table_name.source())
    }
}

/// `kind = "s3"`: PutObject of each output into a bucket of the `[s3]` endpoint.
#[derive(Debug, Clone)]
pub struct S3Action {
    /// The bucket (a substitution template, rendered when the object is sent).
    pub bucket: Template,
    /// The object key (a substitution template, rendered when the message arrives).
    pub key: Template,
    /// A canned ACL sent as `x-amz-acl`, e.g. `private`.
    pub canned_acl: Option<String>,
}

impl Destination for S3Action {
    fn aws_action(&self) -> &'static str {
        "S3Action"
    }
    fn resource(&self) -> String {
        self.bucket.source().to_owned()
    }
    fn key_template(&self) -> Option<&Template> {
        Some(&self.key)
    }
    fn label(&self) -> String {
        "s3".into()
    }
    fn identity(&self) -> String {
        format!("s3\n{}", self.bucket.source())
    }
}

/// `kind = "http"`: each output POSTed to a URL.
#[derive(Debug, Clone)]
pub struct HttpAction {
    /// The URL (a substitution template, rendered when the message arrives).
    pub url: Template,
    /// Request headers: names as written, values substitution templates (rendered when the
    /// request is sent).
    pub headers: Vec<(String, Template)>,
    /// AWS's topic rule destination prefix of `url`, kept and checked as a prefix; Weir sends
    /// no confirmation request (the operator who writes the file owns the endpoint).
    pub confirmation_url: Option<String>,
}

impl Destination for HttpAction {
    fn aws_action(&self) -> &'static str {
        "HttpAction"
    }
    fn resource(&self) -> String {
        self.url.source().to_owned()
    }
    fn key_template(&self) -> Option<&Template> {
        Some(&self.url)
    }
    fn label(&self) -> String {
        "http".into()
    }
    fn identity(&self) -> String {
        format!("http\n{}", self.url.source())
    }
}

/// `kind = "lambda"`: the function a `functionArn` names is an emitter plugin, called with
/// each output as its event.
#[derive(Debug, Clone)]
pub struct LambdaAction {
    /// The function's ARN (or bare name; a substitution template).
    pub function_arn: Template,
}

impl Destination for LambdaAction {
    fn aws_action(&self) -> &'static str {
        "LambdaAction"
    }
    fn resource(&self) -> String {
        self.function_arn.source().to_owned()
    }
    fn key_template(&self) -> Option<&Template> {
        Some(&self.function_arn)
    }
    fn label(&self) -> String {
        "lambda".into()
    }
    fn identity(&self) -> String {
        format!("lambda\n{}", self.function_arn.source())
    }
}

/// The function name of a Lambda ARN or a bare name (one rule, shared with Firehose).
pub use weir_firehose_model::lambda_function_name;

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
