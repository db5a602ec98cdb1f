//! `weir run --config FILE`: the configuration file, parsed and validated.
//!
//! Pure: it reads the file, checks that the files it names exist (and that a lookup table's
//! header has its key column), and compiles rule SQL and templates, but starts nothing and
//! loads no plugin. Every problem is collected, so one run of `weir run` shows them all, each
//! as `FILE:LINE:COL: `key.path`: message (expected ...)`. The schema is documented key by key
//! in `docs/config.md` and by the annotated `examples/speeding/weir.toml`.

mod action;
mod error;
mod plugin;
mod schema;
mod topic_rule;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use action::{
    lambda_function_name, ActionConfig, ActionKind, BufferConfig, Destination, DynamoDbV2Action,
    FirehoseAction, HttpAction, KinesisAction, LambdaAction, PluginAction, RepublishAction,
    S3Action, SnsAction, SnsMessageFormat, SqsAction, TableAction,
};
pub use error::{ConfigError, ConfigErrors, KeyPath, Segment};
pub use plugin::{
    Grant, PluginConfig, PluginSpec, UnknownGrant, DEFAULT_CALL_TIMEOUT, DEFAULT_MEMORY_BYTES,
};
pub use topic_rule::{
    check_rule_name, convert_topic_rule, import_topic_rule, parse_topic_rule_document, rule_arn,
    topic_rule, topic_rule_list_item, ConvertedRule, GetTopicRuleResponse, IotDynamoDbV2Action,
    IotFirehoseAction, IotHttpAction, IotHttpAuthorization, IotKeyValue, IotKinesisAction,
    IotLambdaAction, IotMqttHeaders, IotPutItemInput, IotRepublishAction, IotS3Action,
    IotSigV4Authorization, IotSnsAction, IotSqsAction, IotTimestamp, RuleDocument, SqlVersion,
    TopicRule, TopicRuleAction, TopicRuleError, TopicRuleErrorCode, TopicRuleListItem,
    TopicRulePayload, DEFAULT_PARTITION_KEY, MAX_ACTIONS, MAX_RULE_NAME_LEN,
};

use weir_rules::Rule;
use weir_streams::FsyncPolicy;

/// A whole, valid configuration. Relative paths are already resolved against the folder of
/// the configuration file, so the host never depends on its working directory.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (as given).
    pub file: PathBuf,
    /// Where MQTT comes from.
    pub broker: Broker,
    /// The HTTP API.
    pub api: ApiConfig,
    /// Durable data.
    pub storage: StorageConfig,
    /// `[cluster]`: streams, delivery streams and their checkpoints on a NATS JetStream
    /// cluster shared with other hosts; `None` keeps them under the storage folder.
    pub cluster: Option<ClusterSection>,
    /// `[firehose]`: table schemas and the delivery streams to create at start-up.
    pub firehose: FirehoseSection,
    /// `[s3]`: where Firehose delivery streams write; `None` without the section (buckets are
    /// then folders under the storage folder, unless `AWS_ENDPOINT_URL` names an endpoint).
    pub s3: Option<S3Config>,
    /// `[sqs]`: the endpoint `sqs` actions call (AWS's regional one when unset).
    pub sqs: ServiceEndpoint,
    /// `[sns]`: the endpoint `sns` actions call.
    pub sns: ServiceEndpoint,
    /// `[dynamodb]`: the endpoint `dynamodbv2` actions call (e.g. ScyllaDB Alternator).
    pub dynamodb: ServiceEndpoint,
    /// Streams to create at start-up, by name.
    pub streams: BTreeMap<String, StreamConfig>,
    /// Lookup tables, by name.
    pub tables: BTreeMap<String, TableConfig>,
    /// Plugins, by name.
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Notification channels (the outbox's `notify` destinations), by name.
    pub notify: BTreeMap<String, NotifyChannel>,
    /// Rules, by name.
    pub rules: BTreeMap<String, RuleConfig>,
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(e) => Err(ConfigErrors(vec![ConfigError {
                file: path.to_path_buf(),
                line: None,
                column: None,
                path: KeyPath::root(),
                message: format!("cannot read the configuration file: {e}"),
                expected: None,
            }])),
        }
    }

    /// Validates `text` as if read from `file`: `file` names the messages and its folder is
    /// the base of relative paths.
    pub fn parse(text: &str, file: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
        validate::parse(text, file.as_ref())
    }
}

/// `[broker]`: exactly one source of MQTT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broker {
    /// Weir runs its own broker.
    Embedded(EmbeddedBroker),
    /// Weir subscribes to an existing broker.
    External(ExternalBroker),
}

/// The embedded broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedBroker {
    /// `host:port` of the MQTT 3.1.1 listener.
    pub listen: String,
    /// `host:port` of an optional MQTT 5 listener (rumqttd speaks one version per listener).
    pub listen_v5: Option<String>,
    /// Username -> password; empty means anonymous clients are accepted.
    pub users: BTreeMap<String, String>,
    /// Certificate and key when the listener speaks TLS.
    pub tls: Option<TlsFiles>,
    /// What one client may take.
    pub limits: BrokerLimits,
}

/// The embedded broker's limits, so no client can take it down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerLimits {
    /// Client connections at once, over all listeners.
    pub max_connections: usize,
    /// How long a new connection may take to send CONNECT.
    pub connect_timeout: Duration,
    /// Largest MQTT packet accepted; a larger one closes the connection.
    pub max_packet_bytes: usize,
    /// QoS 1/2 messages a client may have unacknowledged.
    pub max_inflight: usize,
    /// PUBLISH packets per second one connection may send (AWS IoT Core allows 100); past it
    /// the broker stops reading that connection until the rate allows. `None`: no limit.
    pub max_publish_rate: Option<u32>,
}

/// A TLS certificate chain and private key (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert_file: PathBuf,
    /// Private key.
    pub key_file: PathBuf,
}

/// An external broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalBroker {
    /// The URL as written.
    pub url: String,
    /// `mqtts://`.
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// Port (1883 or 8883 when not written).
    pub port: u16,
    /// MQTT client id.
    pub client_id: String,
    /// Shared-subscription group, so several Weir instances split the load.
    pub share_group: String,
    /// Credentials.
    pub username: Option<String>,
    /// Credentials.
    pub password: Option<String>,
    /// CA bundle to trust instead of the system roots.
    pub ca_file: Option<PathBuf>,
}

impl ExternalBroker {
    /// The subscription for a rule's topic filter: `$share/GROUP/FILTER`.
    pub fn subscription(&self, filter: &str) -> String {
        format!("$share/{}/{}", self.share_group, filter)
    }
}

/// `[api]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// `host:port` to listen on.
    pub listen: String,
    /// Access key id -> secret; when non-empty, SigV4 signatures are verified.
    pub verify_keys: BTreeMap<String, String>,
    /// A bearer token for the admin routes and `/metrics` (besides SigV4 with the keys).
    pub admin_token: Option<String>,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers (also bounds an idle
    /// keep-alive connection).
    pub header_timeout: Duration,
    /// Longest a client may take to send a request's body.
    pub body_timeout: Duration,
    /// Bytes of request bodies held at once across all connections and streams; a body
    /// that does not fit is answered 503 before it is read.
    pub body_budget_bytes: u64,
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// Folder of the durable data.
    pub dir: PathBuf,
    /// When appends are made durable.
    pub fsync: FsyncPolicy,
    /// Streams on this host.
    pub max_streams: u32,
    /// Open shards across every stream of this host.
    pub max_shards: u32,
    /// How long a stream shows CREATING, UPDATING or DELETING before the change is done
    /// (AWS takes seconds; waiters and infrastructure tools rely on seeing the state).
    pub transition: Duration,
    /// Most bytes the dead-letter files (`STORAGE/dead-letters`) may hold. A failure that
    /// would go past it is not stored and its message not acknowledged (so it is sent again)
    /// rather than letting failures fill the disk the streams need.
    pub dead_letter_max_bytes: u64,
}

/// Default of `[storage] dead_letter_max_bytes`: 1 GiB.
pub const DEFAULT_DEAD_LETTER_MAX_BYTES: u64 = 1 << 30;

/// `[cluster]`: how to reach the NATS JetStream cluster and how Weir's data is laid out on
/// it (`weir-cluster` connects with it). Paths are resolved against the file's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSection {
    /// Seed server URLs (`nats://host:port`, `tls://…` or `host:port`).
    pub nats: Vec<String>,
    /// Replicas of every stream and bucket (1 to 5; 3 survives the loss of one server).
    pub replicas: usize,
    /// A NATS credentials file, when the servers require one.
    pub creds: Option<PathBuf>,
    /// PEM roots to trust instead of the system's.
    pub tls_ca_file: Option<PathBuf>,
    /// A client certificate and its key, for servers that verify clients.
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// Whether `[cluster.tls]` is present (TLS is then required even with `nats://` URLs).
    pub tls: bool,
    /// Dot-separated lowercase tokens naming this deployment's subjects, streams and buckets:
    /// hosts with the same prefix share everything.
    pub prefix: String,
}

/// Default of `[cluster] replicas`.
pub const DEFAULT_CLUSTER_REPLICAS: usize = 3;

/// `[s3]`. Unset keys fall back to the usual `AWS_*` environment variables.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// `[sqs]`, `[sns]`, `[dynamodb]`: where a service's rule actions send their requests. Unset
/// keys fall back to the environment (`AWS_ENDPOINT_URL_SQS`, then `AWS_ENDPOINT_URL`, then
/// AWS's regional endpoint; `AWS_REGION`, `AWS_DEFAULT_REGION`); the keys are always the
/// `AWS_*` environment's, as for a remote `kinesis` action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceEndpoint {
    /// `http(s)://host[:port]`.
    pub endpoint_url: Option<String>,
    /// The region requests are signed for.
    pub region: Option<String>,
}

/// `[firehose]`: what the Firehose service starts with.
#[derive(Debug, Clone, Default)]
pub struct FirehoseSection {
    /// `[[firehose.tables]]`: schemas record format conversion can name.
    pub tables: Vec<TableSchema>,
    /// `[[firehose.delivery_streams]]`: created at start-up when missing.
    pub delivery_streams: Vec<DeliveryStreamDecl>,
    /// `allow_private_endpoints`: HTTP endpoint destinations may reach any address, loopback,
    /// private and metadata ones included. Off by default: an API caller names the URL.
    pub allow_private_endpoints: bool,
    /// `allowed_endpoints`: the non-public addresses, blocks and host names HTTP endpoint
    /// destinations may reach anyway (public addresses always may).
    pub allowed_endpoints: Vec<weir_support::egress::Allowed>,
}

/// `[[firehose.tables]]`: a table schema (as Glue would hold it).
#[derive(Debug, Clone)]
pub struct TableSchema {
    /// Database name.
    pub database: String,
    /// Table name.
    pub table: String,
    /// `(name, Hive type)` as written, in order.
    pub columns: Vec<(String, String)>,
}

/// `[[firehose.delivery_streams]]`: a delivery stream declared in the file. `None` means
/// Firehose's default.
#[derive(Debug, Clone)]
pub struct DeliveryStreamDecl {
    /// 1-64 characters of `[a-zA-Z0-9_.-]`.
    pub name: String,
    /// The S3 bucket objects are written to.
    pub bucket: String,
    /// Key prefix.
    pub prefix: Option<String>,
    /// Key prefix of failed records.
    pub error_prefix: Option<String>,
    /// Flush at this many MiB (1..=128).
    pub buffer_size_mib: Option<u32>,
    /// Flush after this many seconds (0..=900).
    pub buffer_interval_s: Option<u32>,
    /// `UNCOMPRESSED`, `GZIP`, `ZIP`, `Snappy` or `HADOOP_SNAPPY`.
    pub compression: Option<String>,
    /// A stream of `[streams]` the delivery stream reads from.
    pub source_stream: Option<String>,
    /// A transformer plugin of `[plugins]` that processes records.
    pub lambda: Option<String>,
    /// Retries of the transformer (0..=300).
    pub lambda_retries: Option<u32>,
    /// Dynamic partitioning query.
    pub partition_query: Option<String>,
    /// `(database, table)` of a `[[firehose.tables]]` entry: records are converted to Parquet
    /// with its schema.
    pub table: Option<(String, String)>,
    /// Parquet's compression (`UNCOMPRESSED`, `GZIP` or `SNAPPY`); only with `table`.
    pub parquet_compression: Option<String>,
}

/// `[streams.NAME]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    /// Shard count at creation.
    pub shards: u32,
    /// How long records are kept.
    pub retention_hours: u32,
}

/// `[tables.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableConfig {
    /// The CSV file it is loaded from; `None` for a table that starts empty and is filled by
    /// `table` actions.
    pub file: Option<PathBuf>,
    /// The column rows are keyed by.
    pub key: String,
}

/// `[notify.NAME]`: where an emitter's `notify` requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyChannel {
    /// Printed to standard output.
    Console,
    /// Appended to a file, one JSON line per notification.
    File {
        /// The file.
        path: PathBuf,
    },
}

/// `[rules.NAME]`.
#[derive(Debug, Clone)]
pub struct RuleConfig {
    /// The compiled SQL.
    pub rule: Rule,
    /// Free text.
    pub description: Option<String>,
    /// Disabled rules are validated but not run.
    pub enabled: bool,
    /// What happens to each output.
    pub actions: Vec<ActionConfig>,
    /// Where outputs go when an action fails.
    pub error_action: Option<ActionConfig>,
}
