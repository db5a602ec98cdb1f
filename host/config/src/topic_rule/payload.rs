//! AWS IoT's rule documents as its API writes them: `TopicRulePayload` (what CreateTopicRule
//! and ReplaceTopicRule take), `TopicRule` and `GetTopicRuleResponse` (what GetTopicRule
//! returns), and the `Action` union with a typed struct per action Weir knows.
//!
//! Field names and optionality follow the API Reference pages (`API_TopicRulePayload`,
//! `API_TopicRule`, `API_Action`, `API_KinesisAction`, `API_FirehoseAction`,
//! `API_RepublishAction`, `API_MqttHeaders`, `API_LambdaAction`, `API_S3Action`,
//! `API_HttpAction`, `API_SqsAction`, `API_SnsAction`, `API_DynamoDBv2Action`). Two
//! deliberate differences: `roleArn` is optional everywhere (Weir assumes no IAM role, and
//! the rules it prints from the file have none), and unknown fields inside a known action are
//! refused rather than ignored, so a setting Weir would silently drop is an error that names
//! it.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// `TopicRulePayload`: a rule as CreateTopicRule / ReplaceTopicRule take it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopicRulePayload {
    /// The rule's SQL statement. Required.
    pub sql: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// 0 to 10 actions. Required (may be empty).
    pub actions: Vec<TopicRuleAction>,
    /// Whether the rule is disabled; absent means enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_disabled: Option<bool>,
    /// `2015-10-08` (AWS's default when absent), `2016-03-23` or `beta`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_iot_sql_version: Option<String>,
    /// The action run when another action fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_action: Option<TopicRuleAction>,
}

/// `TopicRule`: a rule as GetTopicRule returns it. Every member is optional in AWS's model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopicRule {
    /// 1-128 characters of `[a-zA-Z0-9_]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    /// The rule's SQL statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When the rule was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<IotTimestamp>,
    /// The rule's actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<TopicRuleAction>>,
    /// Whether the rule is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_disabled: Option<bool>,
    /// The SQL version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_iot_sql_version: Option<String>,
    /// The action run when another action fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_action: Option<TopicRuleAction>,
}

/// GetTopicRule's answer, and what `aws iot get-topic-rule` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetTopicRuleResponse {
    /// `arn:aws:iot:REGION:ACCOUNT:rule/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_arn: Option<String>,
    /// The rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<TopicRule>,
}

/// `createdAt`: the wire form is epoch seconds (a JSON number); `aws iot get-topic-rule`
/// prints it as ISO 8601 text, and both are read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IotTimestamp {
    /// Seconds since the epoch, as the API sends it.
    Seconds(f64),
    /// As the AWS CLI prints it, e.g. `2020-02-13T14:22:16-08:00`.
    Text(String),
}

/// One `Action`: AWS's union of action kinds, exactly one member set. The kinds Weir has a
/// type for are variants; any other member is kept with its value, so the caller can refuse
/// it by name with AWS's error rather than fail to parse the document.
#[derive(Debug, Clone, PartialEq)]
pub enum TopicRuleAction {
    /// `kinesis`.
    Kinesis(IotKinesisAction),
    /// `firehose`.
    Firehose(IotFirehoseAction),
    /// `republish`.
    Republish(IotRepublishAction),
    /// `lambda`.
    Lambda(IotLambdaAction),
    /// `s3`.
    S3(IotS3Action),
    /// `http`.
    Http(IotHttpAction),
    /// `sqs`.
    Sqs(IotSqsAction),
    /// `sns`.
    Sns(IotSnsAction),
    /// `dynamoDBv2`.
    DynamoDbV2(IotDynamoDbV2Action),
    /// Any other member (`cloudwatchMetric`, `timestream`, ...), as written.
    Other {
        /// The member's name, e.g. `cloudwatchMetric`.
        name: String,
        /// Its value.
        value: Value,
    },
}

impl TopicRuleAction {
    /// The member's name in the JSON, e.g. `kinesis`.
    pub fn name(&self) -> &str {
        match self {
            TopicRuleAction::Kinesis(_) => "kinesis",
            TopicRuleAction::Firehose(_) => "firehose",
            TopicRuleAction::Republish(_) => "republish",
            TopicRuleAction::Lambda(_) => "lambda",
            TopicRuleAction::S3(_) => "s3",
            TopicRuleAction::Http(_) => "http",
            TopicRuleAction::Sqs(_) => "sqs",
            TopicRuleAction::Sns(_) => "sns",
            TopicRuleAction::DynamoDbV2(_) => "dynamoDBv2",
            TopicRuleAction::Other { name, .. } => name,
        }
    }
}

impl Serialize for TopicRuleAction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        match self {
            TopicRuleAction::Kinesis(a) => map.serialize_entry("kinesis", a)?,
            TopicRuleAction::Firehose(a) => map.serialize_entry("firehose", a)?,
            TopicRuleAction::Republish(a) => map.serialize_entry("republish", a)?,
            TopicRuleAction::Lambda(a) => map.serialize_entry("lambda", a)?,
            TopicRuleAction::S3(a) => map.serialize_entry("s3", a)?,
            TopicRuleAction::Http(a) => map.serialize_entry("http", a)?,
            TopicRuleAction::Sqs(a) => map.serialize_entry("sqs", a)?,
            TopicRuleAction::Sns(a) => map.serialize_entry("sns", a)?,
            TopicRuleAction::DynamoDbV2(a) => map.serialize_entry("dynamoDBv2", a)?,
            TopicRuleAction::Other { name, value } => map.serialize_entry(name, value)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for TopicRuleAction {
    /// A map with exactly one member. Written as a visitor (not a serde enum) so
    /// `serde_path_to_error` sees the member name and reports paths such as
    /// `actions[0].kinesis.streamName`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TopicRuleAction, D::Error> {
        d.deserialize_map(TopicRuleActionVisitor)
    }
}

struct TopicRuleActionVisitor;

impl<'de> Visitor<'de> for TopicRuleActionVisitor {
    type Value = TopicRuleAction;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with exactly one action member, e.g. {\"kinesis\": {...}}")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<TopicRuleAction, M::Error> {
        let Some(name) = map.next_key::<String>()? else {
            return Err(de::Error::custom(
                "an action needs exactly one member (e.g. `kinesis`); this one has none",
            ));
        };
        let action = match name.as_str() {
            "kinesis" => TopicRuleAction::Kinesis(map.next_value()?),
            "firehose" => TopicRuleAction::Firehose(map.next_value()?),
            "republish" => TopicRuleAction::Republish(map.next_value()?),
            "lambda" => TopicRuleAction::Lambda(map.next_value()?),
            "s3" => TopicRuleAction::S3(map.next_value()?),
            "http" => TopicRuleAction::Http(map.next_value()?),
            "sqs" => TopicRuleAction::Sqs(map.next_value()?),
            "sns" => TopicRuleAction::Sns(map.next_value()?),
            "dynamoDBv2" => TopicRuleAction::DynamoDbV2(map.next_value()?),
            _ => {
                let value = map.next_value()?;
                TopicRuleAction::Other { name, value }
            }
        };
        if let Some(second) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "an action has exactly one member; this one has `{}` and `{second}` (write each as its own action)",
                action.name()
            )));
        }
        Ok(action)
    }
}

/// `KinesisAction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IotKinesisAction {
    /// Required by AWS; unused by Weir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The stream. Required.
    pub stream_name: String,
    /// The partition key (a substitution template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<String>,
}

/// `FirehoseAction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IotFirehoseAction {
    /// Required by AWS; unused by Weir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The delivery stream. Required.
    pub delivery_stream_name: String,
    /// `\n`, `\t`, `\r\n` or `,`, appended to each record; absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    /// Whether an array result is split into one record per element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_mode: Option<bool>,
}

/// `RepublishAction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IotRepublishAction {
    /// Required by AWS; unused by Weir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The topic (a substitution template; `$$` writes a `$`). Required.
    pub topic: String,
    /// 0 (the default) or 1. Kept as any integer so an out-of-range value gets AWS's
    /// range message rather than a type error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<i64>,
    /// MQTT 5 properties of the republished message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<IotMqttHeaders>,
}

/// `MqttHeaders`: MQTT 5 properties of a republished message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IotMqttHeaders {
    /// `UNSPECIFIED_BYTES` or `UTF8_DATA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_format_indicator: Option<String>,
    /// Content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Response topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_topic: Option<String>,
    /// Base64 correlation data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_data: Option<String>,
    /// Seconds, as a string (it may be a substitution template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_expiry: Option<String>,
    /// User properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_properties: Option<Vec<IotKeyValue>>,
}

/// `UserProperty` and `HttpActionHeader`: a key and a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IotKeyValue {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// `LambdaAction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IotLambdaAction {
    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`. Required.
    pub function_arn: String,
}

/// `S3Action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IotS3Action {
    /// Required by AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The bucket. Required.
    pub bucket_name: String,
    /// The object key (a substitution template). Required.
    pub key: String,
    /// A canned ACL, e.g. `private`. Also read as `cannedacl`, the spelling of the Developer
    /// Guide's own S3 action example.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "cannedacl")]
    pub canned_acl: Option<String>,
}

/// `HttpAction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IotHttpAction {
    /// The endpoint (a substitution template). Required.
    pub url: String,
    /// A prefix of `url` AWS confirms the destination with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_url: Option<String>,
    /// Headers, values being substitution templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<IotKeyValue>>,
    /// `{"sigv4": {"signingRegion", "serviceName", "roleArn"}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<IotHttpAuthorization>,
    /// Whether messages are batched into one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_batching: Option<bool>,
    /// `BatchConfig` (`maxBatchOpenMs`, `maxBatchSize`, `maxBatchSizeBytes`, ...), kept as
    /// written: AWS has added members to it over time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_config: Option<Value>,
}

/// `HttpAuthorization`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IotHttpAuthorization {
    /// SigV4 signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigv4: Option<IotSigV4Authorization>,
}

/// `SigV4Authorization`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IotSigV4Authorization {
    /// Region to sign for.
    pub signing_region: String,
    /// Service to sign for.
    pub service_name: String,
    /// The role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

/// `SqsAction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IotSqsAction {
    /// Required by AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The queue. Required.
    pub queue_url: String,
    /// Whether the message body is base64 of the payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_base64: Option<bool>,
}

/// `SnsAction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IotSnsAction {
    /// The topic or endpoint ARN. Required.
    pub target_arn: String,
    /// Required by AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// `RAW` (the default) or `JSON`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_format: Option<String>,
}

/// `DynamoDBv2Action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IotDynamoDbV2Action {
    /// Required by AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// `{"tableName": ...}`. Required.
    pub put_item: IotPutItemInput,
}

/// `PutItemInput`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IotPutItemInput {
    /// The table (a substitution template). Required.
    pub table_name: String,
}

/// `TopicRuleListItem`: one rule as ListTopicRules lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopicRuleListItem {
    /// `arn:aws:iot:REGION:ACCOUNT:rule/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_arn: Option<String>,
    /// The rule's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    /// The topic filter of the rule's FROM clause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_pattern: Option<String>,
    /// When the rule was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<IotTimestamp>,
    /// Whether the rule is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_disabled: Option<bool>,
}
