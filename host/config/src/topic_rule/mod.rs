//! AWS IoT's rules API documents (`TopicRulePayload`, `TopicRule`) and Weir's rules, both
//! ways: a payload becomes a `[rules.NAME]` entry (its [`RuleConfig`] and its TOML text,
//! validated by the same code as the configuration file), and a rule of the file becomes the
//! `TopicRule` GetTopicRule prints. Pure data: the rules API service stores and runs what
//! this returns; `weir rule import` prints its TOML.
//!
//! Errors carry AWS's error code (`InvalidRequestException`, `SqlParseException`), the JSON
//! path of the offending value and a message, so the API can answer as AWS does and the CLI
//! can point into the file.
//!
//! What converts: `kinesis`, `firehose` (into a delivery stream), `republish`, `sqs`, `sns`,
//! `dynamoDBv2`, `s3`, `http` (without SigV4 `auth` or batching) and `lambda` (its function
//! name is an emitter plugin); every other action is refused by name. The Developer Guide's
//! own examples of each are tests (`tests.rs`, `action_examples.rs`); reading a document
//! also accepts commas before a `}` or `]`, as one of them has. Weir evaluates every rule with SQL version 2016-03-23
//! ([`weir_rules::SQL_VERSION`]); the payload's `awsIotSqlVersion` is validated and kept
//! (AWS's default, `2015-10-08`, when absent) so GetTopicRule can echo it.

#[cfg(test)]
mod action_examples;
mod convert;
mod import;
mod payload;
#[cfg(test)]
mod tests;

use std::fmt;

pub use convert::{
    convert as convert_topic_rule, list_item as topic_rule_list_item, rule_arn, topic_rule,
    ConvertedRule, DEFAULT_PARTITION_KEY,
};
pub use import::{
    import as import_topic_rule, parse_document as parse_topic_rule_document, RuleDocument,
};
pub use payload::{
    GetTopicRuleResponse, IotDynamoDbV2Action, IotFirehoseAction, IotHttpAction,
    IotHttpAuthorization, IotKeyValue, IotKinesisAction, IotLambdaAction, IotMqttHeaders,
    IotPutItemInput, IotRepublishAction, IotS3Action, IotSigV4Authorization, IotSnsAction,
    IotSqsAction, IotTimestamp, TopicRule, TopicRuleAction, TopicRuleListItem, TopicRulePayload,
};

/// Longest rule name AWS accepts.
pub const MAX_RULE_NAME_LEN: usize = 128;

/// Most actions a rule may have.
pub const MAX_ACTIONS: usize = 10;

/// AWS's error codes for a rule the API refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicRuleErrorCode {
    /// A malformed or unsupported document (HTTP 400).
    InvalidRequest,
    /// The SQL does not parse (HTTP 400).
    SqlParse,
}

impl TopicRuleErrorCode {
    /// The `__type` / `x-amzn-ErrorType` name.
    pub fn as_str(self) -> &'static str {
        match self {
            TopicRuleErrorCode::InvalidRequest => "InvalidRequestException",
            TopicRuleErrorCode::SqlParse => "SqlParseException",
        }
    }
}

impl fmt::Display for TopicRuleErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a rule document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TopicRuleError {
    /// AWS's error code.
    pub code: TopicRuleErrorCode,
    /// Where in the JSON document, e.g. `actions[0].kinesis.streamName`; empty for the
    /// document as a whole (or the rule name, which is not in it).
    pub path: String,
    /// What is wrong, as AWS's `message` says it (without the path).
    pub message: String,
}

impl TopicRuleError {
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        TopicRuleError {
            code: TopicRuleErrorCode::InvalidRequest,
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same error found inside a wrapper member (`topicRulePayload`, `rule`).
    pub(crate) fn under(mut self, prefix: &str) -> Self {
        self.path = join(prefix, &self.path);
        self
    }

    /// The message with its path in front, as an API answer's `message` carries it.
    pub fn aws_message(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for TopicRuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// `prefix.path`, or either alone when the other is empty (an index needs no dot).
fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_owned(),
        (_, true) => prefix.to_owned(),
        _ if path.starts_with('[') => format!("{prefix}{path}"),
        _ => format!("{prefix}.{path}"),
    }
}

/// `awsIotSqlVersion`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqlVersion {
    /// `2015-10-08`, AWS's default when the payload has none.
    #[default]
    V2015_10_08,
    /// `2016-03-23`, what Weir evaluates.
    V2016_03_23,
    /// `beta`.
    Beta,
}

impl SqlVersion {
    /// Every version AWS accepts.
    pub const ALL: [SqlVersion; 3] = [
        SqlVersion::V2015_10_08,
        SqlVersion::V2016_03_23,
        SqlVersion::Beta,
    ];

    /// As written in a payload.
    pub fn as_str(self) -> &'static str {
        match self {
            SqlVersion::V2015_10_08 => "2015-10-08",
            SqlVersion::V2016_03_23 => "2016-03-23",
            SqlVersion::Beta => "beta",
        }
    }

    /// The version a payload names; `None` for a value AWS does not accept.
    pub fn parse(text: &str) -> Option<SqlVersion> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }
}

/// Checks a rule name as AWS does: 1 to 128 characters of `[a-zA-Z0-9_]`, with AWS's
/// validation message.
pub fn check_rule_name(name: &str) -> Result<(), TopicRuleError> {
    let constraint = if name.is_empty() {
        "Member must have length greater than or equal to 1"
    } else if name.chars().count() > MAX_RULE_NAME_LEN {
        "Member must have length less than or equal to 128"
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9_]+$"
    } else {
        return Ok(());
    };
    Err(TopicRuleError::invalid(
        "",
        format!("1 validation error detected: Value '{name}' at 'ruleName' failed to satisfy constraint: {constraint}"),
    ))
}
