//! The file as written: serde structs mirroring the TOML, one per table.
//!
//! Everything is `deny_unknown_fields` so a typo is an error rather than a silently ignored
//! setting, and almost everything is optional here: defaults, ranges and cross-references are
//! decided in `validate.rs`, where every problem can be reported at once with its place.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `[broker]`: the embedded broker's keys, or `[broker.external]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBroker {
    pub listen: Option<String>,
    pub listen_v5: Option<String>,
    pub auth: Option<RawBrokerAuth>,
    pub tls: Option<RawTls>,
    pub external: Option<RawExternal>,
    pub max_connections: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub max_packet_bytes: Option<u64>,
    pub max_inflight: Option<u64>,
    pub max_publish_rate: Option<u64>,
}

/// `[broker.auth]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBrokerAuth {
    pub users: BTreeMap<String, String>,
}

/// `[broker.tls]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert_file: String,
    pub key_file: String,
}

/// `[broker.external]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExternal {
    pub url: String,
    pub client_id: Option<String>,
    pub share_group: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub ca_file: Option<String>,
}

/// `[api]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    pub listen: Option<String>,
    pub verify_keys: Option<BTreeMap<String, String>>,
    pub admin_token: Option<String>,
    pub max_connections: Option<u64>,
    pub header_timeout_ms: Option<u64>,
    pub body_timeout_ms: Option<u64>,
    pub body_budget_bytes: Option<u64>,
}

/// `fsync` policy names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawFsync {
    Always,
    Interval,
    Never,
}

/// `[storage]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub dir: Option<String>,
    pub fsync: Option<RawFsync>,
    pub fsync_interval_ms: Option<u64>,
    pub max_streams: Option<u64>,
    pub max_shards: Option<u64>,
    pub transition_ms: Option<u64>,
    pub dead_letter_max_bytes: Option<u64>,
}

/// `[cluster]`: the NATS JetStream cluster that holds the streams and delivery streams.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub nats: Option<Vec<String>>,
    pub replicas: Option<u64>,
    pub creds: Option<String>,
    pub tls: Option<RawClusterTls>,
    pub prefix: Option<String>,
}

/// `[cluster.tls]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClusterTls {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

/// `[s3]`: the S3-compatible endpoint Firehose delivery streams write to.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawS3 {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// `[sqs]`, `[sns]`, `[dynamodb]`: the endpoint the rule actions of that service call.
/// Credentials come from the `AWS_*` environment, as for a remote `kinesis` action.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceEndpoint {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
}

/// `[[firehose.tables]]`: a table schema record format conversion can name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFirehoseTable {
    pub database: String,
    pub table: String,
    /// `"NAME TYPE"` each.
    pub columns: Vec<String>,
}

/// `[[firehose.delivery_streams]]`: a delivery stream created at start when missing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeliveryStream {
    pub name: String,
    pub bucket: String,
    pub prefix: Option<String>,
    pub error_prefix: Option<String>,
    pub buffer_size_mib: Option<u64>,
    pub buffer_interval_s: Option<u64>,
    pub compression: Option<String>,
    pub source_stream: Option<String>,
    pub lambda: Option<String>,
    pub lambda_retries: Option<u64>,
    pub partition_query: Option<String>,
    /// `"DATABASE.TABLE"`.
    pub table: Option<String>,
    pub parquet_compression: Option<String>,
}

/// `[streams.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStream {
    pub shards: Option<u64>,
    pub retention_hours: Option<u64>,
}

/// `[tables.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    pub file: Option<String>,
    pub key: String,
}

/// `[plugins.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlugin {
    pub path: String,
    #[serde(default)]
    pub grants: Vec<String>,
    pub memory_bytes: Option<u64>,
    pub timeout_ms: Option<u64>,
    /// Kept as TOML values so numbers and booleans can be accepted and stringified.
    #[serde(default)]
    pub params: BTreeMap<String, toml::Value>,
    pub tables: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
}

/// Notification channel kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawNotifyKind {
    Console,
    File,
}

/// `[notify.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    pub kind: RawNotifyKind,
    pub path: Option<String>,
}

/// `[rules.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub sql: String,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub actions: Vec<RawAction>,
    pub error_action: Option<RawAction>,
}

/// The action kinds and the keys each one takes, as one table. From it come the
/// [`RawActionKind`] enum (and its serde names), [`RawActionKind::ALL`], `name`, `keys`, the
/// flat [`RawAction`] struct's kind-specific fields and [`RawAction::set_keys`]: adding a kind or
/// a key is one line here (plus its validation in `validate/rules.rs` and its sink), and the
/// lists cannot drift.
macro_rules! action_kinds {
    ($( $(#[$doc:meta])* $kind:ident = $name:literal { $( $key:ident: $ty:ty ),* $(,)? } ),* $(,)?) => {
        /// Action kinds.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
        pub enum RawActionKind {
            $( $(#[$doc])* #[serde(rename = $name)] $kind, )*
        }

        impl RawActionKind {
            /// Every kind.
            pub const ALL: [RawActionKind; [$( $name ),*].len()] = [$( RawActionKind::$kind ),*];

            /// The name as written in the file.
            pub fn name(self) -> &'static str {
                match self {
                    $( RawActionKind::$kind => $name, )*
                }
            }

            /// The keys that belong to this kind (besides `kind` and the pipeline stages, which
            /// any kind takes). A key of another kind is an error, not a setting to ignore.
            pub fn keys(self) -> &'static [&'static str] {
                match self {
                    $( RawActionKind::$kind => &[$( stringify!($key) ),*], )*
                }
            }
        }

        /// One action. A flat struct rather than a tagged enum: serde buffers tagged enums,
        /// which would lose the key paths and line numbers of everything inside; which fields
        /// belong to which kind is checked in `validate/rules.rs` instead.
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct RawAction {
            pub kind: RawActionKind,
            $( $(
                #[doc = concat!("A key of `", $name, "` actions.")]
                pub $key: Option<$ty>,
            )* )*
            // pipeline stages, any kind
            #[serde(default)]
            pub transformers: Vec<String>,
            #[serde(default)]
            pub filters: Vec<String>,
            pub buffer: Option<RawBuffer>,
        }

        impl RawAction {
            /// The kind-specific keys the file sets, by name.
            pub fn set_keys(&self) -> impl Iterator<Item = &'static str> {
                [$( $( (stringify!($key), self.$key.is_some()), )* )*]
                    .into_iter()
                    .filter_map(|(k, set)| set.then_some(k))
            }
        }
    };
}

action_kinds! {
    Kinesis = "kinesis" { stream: String, partition_key: String, endpoint: String },
    Firehose = "firehose" {
        root: String,
        prefix: String,
        error_prefix: String,
        buffer_bytes: u64,
        buffer_interval_ms: u64,
        delivery_stream: String,
    },
    Republish = "republish" { topic: String, qos: u64 },
    Table = "table" { table: String, key: String },
    Plugin = "plugin" { emitter: String },
    Sqs = "sqs" { queue_url: String, use_base64: bool },
    Sns = "sns" { target_arn: String, message_format: String },
    DynamoDbV2 = "dynamodbv2" { table_name: String },
    S3 = "s3" { bucket: String, object_key: String, canned_acl: String },
    Http = "http" { url: String, headers: BTreeMap<String, String>, confirmation_url: String },
    Lambda = "lambda" { function_arn: String },
}

impl RawActionKind {
    /// The kind a key belongs to.
    pub fn owning(key: &str) -> Option<RawActionKind> {
        Self::ALL.into_iter().find(|k| k.keys().contains(&key))
    }
}

/// `buffer = { ... }` of an action's pipeline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBuffer {
    pub max_records: Option<u64>,
    pub max_bytes: Option<u64>,
    pub max_age_ms: Option<u64>,
}

/// The top-level keys, in the order they are documented.
pub const TOP_LEVEL_KEYS: [&str; 14] = [
    "broker", "api", "storage", "cluster", "s3", "sqs", "sns", "dynamodb", "firehose", "streams",
    "tables", "plugins", "notify", "rules",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's names are serde's names and its keys are the struct's fields: an action
    /// with every key of a kind set parses, and `set_keys` gives back exactly that kind's keys.
    #[test]
    fn each_kind_parses_by_name_and_sets_exactly_its_keys() {
        for kind in RawActionKind::ALL {
            let mut text = format!("kind = {:?}\n", kind.name());
            for key in kind.keys() {
                let value = match *key {
                    "qos" | "buffer_bytes" | "buffer_interval_ms" => "1",
                    "use_base64" => "true",
                    "headers" => "{ a = \"x\" }",
                    _ => "\"x\"",
                };
                text.push_str(&format!("{key} = {value}\n"));
            }
            let action: RawAction = toml::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(action.kind, kind);
            assert_eq!(action.set_keys().collect::<Vec<_>>(), kind.keys());
            for key in kind.keys() {
                assert_eq!(RawActionKind::owning(key), Some(kind), "{key}");
            }
        }
        assert_eq!(RawActionKind::ALL.len(), 11);
        assert!(toml::from_str::<RawAction>("kind = \"nope\"\n").is_err());
        assert!(toml::from_str::<RawAction>("kind = \"table\"\nnope = 1\n").is_err());
    }
}
