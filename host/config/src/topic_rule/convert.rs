//! `TopicRulePayload` -> `[rules.NAME]` (its TOML text and its [`RuleConfig`]), and a rule of
//! the file -> `TopicRule`.
//!
//! A payload is first turned into the TOML entry a user would write, then that text is
//! validated by [`Config::parse`], the configuration file's own validation: a converted
//! rule is exactly what the file would hold, and `weir rule import`'s output parses back to
//! the same rule by construction. Each key written is remembered with the JSON path it came
//! from, so the validator's problems are reported at the payload's path.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use super::payload::{
    IotDynamoDbV2Action, IotFirehoseAction, IotHttpAction, IotKeyValue, IotKinesisAction,
    IotLambdaAction, IotPutItemInput, IotRepublishAction, IotS3Action, IotSnsAction, IotSqsAction,
    TopicRule, TopicRuleAction, TopicRuleListItem, TopicRulePayload,
};
use super::{check_rule_name, join, SqlVersion, TopicRuleError, TopicRuleErrorCode, MAX_ACTIONS};
use crate::{ActionConfig, ActionKind, BufferConfig, Config, RuleConfig};

/// The partition key of a `kinesis` action whose payload has none. AWS documents
/// `partitionKey` as optional without saying what it uses; a fresh UUID per message spreads
/// records over the shards as a random key does.
pub const DEFAULT_PARTITION_KEY: &str = "${newuuid()}";

/// The action kinds a payload may use today, for error messages.
const SUPPORTED: &str = "kinesis, firehose, republish, sqs, sns, dynamoDBv2, s3, http, lambda";

/// A payload converted into a rule of Weir's.
#[derive(Debug, Clone)]
pub struct ConvertedRule {
    /// The rule's name.
    pub name: String,
    /// The payload's SQL version (AWS's default when it had none). Weir evaluates every rule
    /// as 2016-03-23; this is kept so GetTopicRule answers what was given.
    pub sql_version: SqlVersion,
    /// The rule, as the configuration file would hold it.
    pub config: RuleConfig,
    /// The streams its `kinesis` actions write to (a file needs each in `[streams]`).
    pub streams: BTreeSet<String>,
    /// The payload with AWS's defaults filled in (`awsIotSqlVersion`, `ruleDisabled`).
    pub payload: TopicRulePayload,
    toml: String,
}

impl ConvertedRule {
    /// The `[rules.NAME]` entry as TOML text, ready to paste into a configuration file.
    pub fn toml(&self) -> &str {
        &self.toml
    }

    /// The `TopicRule` GetTopicRule answers for this rule: the payload as given, with AWS's
    /// defaults, its name and its creation time (epoch seconds).
    pub fn topic_rule(&self, created_at: Option<f64>) -> TopicRule {
        let p = &self.payload;
        TopicRule {
            rule_name: Some(self.name.clone()),
            sql: Some(p.sql.clone()),
            description: p.description.clone(),
            created_at: created_at.map(super::IotTimestamp::Seconds),
            actions: Some(p.actions.clone()),
            rule_disabled: p.rule_disabled,
            aws_iot_sql_version: p.aws_iot_sql_version.clone(),
            error_action: p.error_action.clone(),
        }
    }
}

/// ListTopicRules' entry for rule `name` (of the file or the API): its ARN, its FROM
/// clause's topic filter (`topicPattern`) and whether it is disabled.
pub fn list_item(
    arn: &str,
    name: &str,
    rule: &RuleConfig,
    created_at: Option<f64>,
) -> TopicRuleListItem {
    TopicRuleListItem {
        rule_arn: Some(arn.to_owned()),
        rule_name: Some(name.to_owned()),
        topic_pattern: Some(rule.rule.topic_filter().to_owned()),
        created_at: created_at.map(super::IotTimestamp::Seconds),
        rule_disabled: Some(!rule.enabled),
    }
}

/// `arn:aws:iot:REGION:ACCOUNT:rule/NAME`.
pub fn rule_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:rule/{name}")
}

/// Converts rule `name` from `payload` and validates it as the configuration file's rules
/// are. Stream names are not checked against declared streams: like AWS, a rule may name a
/// stream that does not exist yet (its failures then go to the error action).
pub fn convert(name: &str, payload: &TopicRulePayload) -> Result<ConvertedRule, TopicRuleError> {
    check_rule_name(name)?;
    let sql_version = match &payload.aws_iot_sql_version {
        None => SqlVersion::default(),
        Some(v) => SqlVersion::parse(v).ok_or_else(|| {
            let accepted: Vec<&str> = SqlVersion::ALL.iter().map(|v| v.as_str()).collect();
            TopicRuleError::invalid(
                "awsIotSqlVersion",
                format!(
                    "{v:?} is not a SQL version (expected one of {})",
                    accepted.join(", ")
                ),
            )
        })?,
    };
    if let Err(diags) = weir_rules::Rule::compile(&payload.sql) {
        let message: Vec<String> = diags.iter().map(ToString::to_string).collect();
        return Err(TopicRuleError {
            code: TopicRuleErrorCode::SqlParse,
            path: "sql".into(),
            message: message.join("; "),
        });
    }
    if payload.actions.len() > MAX_ACTIONS {
        return Err(TopicRuleError::invalid(
            "actions",
            format!(
                "1 validation error detected: Value at 'topicRulePayload.actions' failed to satisfy constraint: Member must have length less than or equal to {MAX_ACTIONS} (it has {})",
                payload.actions.len()
            ),
        ));
    }
    let actions = payload
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| file_action(&format!("actions[{i}]"), a))
        .collect::<Result<Vec<_>, _>>()?;
    let error_action = payload
        .error_action
        .as_ref()
        .map(|a| file_action("errorAction", a))
        .transpose()?;

    let enabled = !payload.rule_disabled.unwrap_or(false);
    let streams: BTreeSet<String> = actions
        .iter()
        .chain(&error_action)
        .filter_map(|a| a.stream.clone())
        .collect();
    let mut places = Places::default();
    let toml = render(
        name,
        payload,
        sql_version,
        enabled,
        &actions,
        error_action.as_ref(),
        &streams,
        &mut places,
    );
    let config = validate(
        name,
        &toml,
        &actions,
        error_action.as_ref(),
        &streams,
        &places,
    )?;
    let mut payload = payload.clone();
    payload.aws_iot_sql_version = Some(sql_version.as_str().to_owned());
    payload.rule_disabled = Some(!enabled);
    Ok(ConvertedRule {
        name: name.to_owned(),
        sql_version,
        config,
        streams,
        payload,
        toml,
    })
}

/// One action as the file writes it: its kind, its keys in order (each with the JSON path of
/// the payload member it came from), and the stream it writes to, if any.
struct FileAction {
    kind: &'static str,
    /// The JSON path of the action's member, e.g. `actions[0].kinesis`.
    path: String,
    keys: Vec<(&'static str, toml::Value, &'static str)>,
    stream: Option<String>,
}

/// The file form of one payload action, or AWS's error for what Weir does not run.
fn file_action(at: &str, action: &TopicRuleAction) -> Result<FileAction, TopicRuleError> {
    let path = join(at, action.name());
    let unsupported = |what: &str| {
        TopicRuleError::invalid(
            path.clone(),
            format!("the {what} action is not supported by Weir (supported: {SUPPORTED})"),
        )
    };
    match action {
        TopicRuleAction::Kinesis(a) => kinesis(path, a),
        TopicRuleAction::Firehose(a) => firehose(path, a),
        TopicRuleAction::Republish(a) => republish(path, a),
        TopicRuleAction::Lambda(a) => Ok(lambda(path, a)),
        TopicRuleAction::S3(a) => Ok(s3(path, a)),
        TopicRuleAction::Http(a) => http(path, a),
        TopicRuleAction::Sqs(a) => Ok(sqs(path, a)),
        TopicRuleAction::Sns(a) => Ok(sns(path, a)),
        TopicRuleAction::DynamoDbV2(a) => Ok(dynamodb(path, a)),
        TopicRuleAction::Other { name, .. } => Err(unsupported(name)),
    }
}

/// A name Weir needs as it is: a substitution template there would pick the target per
/// message, which Weir's actions do not do.
fn fixed_name(path: &str, field: &str, value: &str) -> Result<(), TopicRuleError> {
    if value.contains("${") {
        return Err(TopicRuleError::invalid(
            join(path, field),
            format!(
                "substitution templates in {field} are not supported by Weir: an action writes to one named target ({value:?})"
            ),
        ));
    }
    Ok(())
}

fn kinesis(path: String, a: &IotKinesisAction) -> Result<FileAction, TopicRuleError> {
    fixed_name(&path, "streamName", &a.stream_name)?;
    let key = a.partition_key.as_deref().unwrap_or(DEFAULT_PARTITION_KEY);
    Ok(FileAction {
        kind: "kinesis",
        keys: vec![
            ("stream", a.stream_name.clone().into(), "streamName"),
            ("partition_key", key.into(), "partitionKey"),
        ],
        stream: Some(a.stream_name.clone()),
        path,
    })
}

fn firehose(path: String, a: &IotFirehoseAction) -> Result<FileAction, TopicRuleError> {
    fixed_name(&path, "deliveryStreamName", &a.delivery_stream_name)?;
    if let Some(sep) = &a.separator {
        let message = if matches!(sep.as_str(), "\n" | "\t" | "\r\n" | ",") {
            "a separator is not supported by Weir's firehose action, which puts each record as it is (leave separator out)".to_owned()
        } else {
            format!(
                "1 validation error detected: Value {sep:?} at 'separator' failed to satisfy constraint: Member must satisfy regular expression pattern: ([\\n\\t])|(\\r\\n)|(,)"
            )
        };
        return Err(TopicRuleError::invalid(join(&path, "separator"), message));
    }
    if a.batch_mode == Some(true) {
        return Err(TopicRuleError::invalid(
            join(&path, "batchMode"),
            "batchMode true is not supported by Weir's firehose action, which puts each rule output as one record (leave batchMode out or false)",
        ));
    }
    Ok(FileAction {
        kind: "firehose",
        keys: vec![(
            "delivery_stream",
            a.delivery_stream_name.clone().into(),
            "deliveryStreamName",
        )],
        stream: None,
        path,
    })
}

fn republish(path: String, a: &IotRepublishAction) -> Result<FileAction, TopicRuleError> {
    if a.headers.is_some() {
        return Err(TopicRuleError::invalid(
            join(&path, "headers"),
            "MQTT 5 headers are not supported by Weir's republish action (leave headers out)",
        ));
    }
    let mut keys = vec![("topic", toml::Value::from(a.topic.clone()), "topic")];
    if let Some(qos) = a.qos {
        if !(0..=1).contains(&qos) {
            let bound = if qos < 0 {
                "greater than or equal to 0"
            } else {
                "less than or equal to 1"
            };
            return Err(TopicRuleError::invalid(
                join(&path, "qos"),
                format!("1 validation error detected: Value '{qos}' at 'qos' failed to satisfy constraint: Member must have value {bound}"),
            ));
        }
        keys.push(("qos", toml::Value::Integer(qos), "qos"));
    }
    Ok(FileAction {
        kind: "republish",
        keys,
        stream: None,
        path,
    })
}

fn sqs(path: String, a: &IotSqsAction) -> FileAction {
    let mut keys = vec![("queue_url", a.queue_url.clone().into(), "queueUrl")];
    if let Some(b) = a.use_base64 {
        keys.push(("use_base64", toml::Value::Boolean(b), "useBase64"));
    }
    FileAction {
        kind: "sqs",
        keys,
        stream: None,
        path,
    }
}

fn sns(path: String, a: &IotSnsAction) -> FileAction {
    let mut keys = vec![("target_arn", a.target_arn.clone().into(), "targetArn")];
    if let Some(f) = &a.message_format {
        keys.push(("message_format", f.clone().into(), "messageFormat"));
    }
    FileAction {
        kind: "sns",
        keys,
        stream: None,
        path,
    }
}

fn dynamodb(path: String, a: &IotDynamoDbV2Action) -> FileAction {
    FileAction {
        kind: "dynamodbv2",
        keys: vec![(
            "table_name",
            a.put_item.table_name.clone().into(),
            "putItem.tableName",
        )],
        stream: None,
        path,
    }
}

fn s3(path: String, a: &IotS3Action) -> FileAction {
    let mut keys = vec![
        ("bucket", a.bucket_name.clone().into(), "bucketName"),
        ("object_key", a.key.clone().into(), "key"),
    ];
    if let Some(acl) = &a.canned_acl {
        keys.push(("canned_acl", acl.clone().into(), "cannedAcl"));
    }
    FileAction {
        kind: "s3",
        keys,
        stream: None,
        path,
    }
}

/// AWS's HTTP action without what Weir would not honour: SigV4 `auth` and batching are
/// refused by name rather than dropped. `confirmationUrl` is kept (and checked as a prefix
/// of `url`); Weir sends no confirmation request.
fn http(path: String, a: &IotHttpAction) -> Result<FileAction, TopicRuleError> {
    if a.auth.is_some() {
        return Err(TopicRuleError::invalid(
            join(&path, "auth"),
            "SigV4 authorization is not supported by Weir's http action (leave auth out; put a credential in headers)",
        ));
    }
    if a.enable_batching == Some(true) || a.batch_config.is_some() {
        let field = if a.enable_batching == Some(true) {
            "enableBatching"
        } else {
            "batchConfig"
        };
        return Err(TopicRuleError::invalid(
            join(&path, field),
            "batching is not supported by Weir's http action, which sends one request per rule output (leave enableBatching and batchConfig out)",
        ));
    }
    let mut keys = vec![("url", toml::Value::from(a.url.clone()), "url")];
    if let Some(c) = &a.confirmation_url {
        keys.push(("confirmation_url", c.clone().into(), "confirmationUrl"));
    }
    if let Some(headers) = &a.headers {
        let mut table = toml::map::Map::new();
        for (i, h) in headers.iter().enumerate() {
            if table
                .insert(h.key.clone(), toml::Value::from(h.value.clone()))
                .is_some()
            {
                return Err(TopicRuleError::invalid(
                    join(&path, &format!("headers[{i}].key")),
                    format!("the header {:?} is given twice", h.key),
                ));
            }
        }
        keys.push(("headers", toml::Value::Table(table), "headers"));
    }
    Ok(FileAction {
        kind: "http",
        keys,
        stream: None,
        path,
    })
}

fn lambda(path: String, a: &IotLambdaAction) -> FileAction {
    FileAction {
        kind: "lambda",
        keys: vec![("function_arn", a.function_arn.clone().into(), "functionArn")],
        stream: None,
        path,
    }
}

/// TOML key paths written, each with the JSON path of the payload value it came from.
#[derive(Default)]
struct Places(Vec<(String, String)>);

impl Places {
    fn add(&mut self, toml: String, json: String) {
        self.0.push((toml, json));
    }

    /// The JSON path of the deepest key written at or above the problem's key path.
    fn json_of(&self, toml_path: &str) -> String {
        self.0
            .iter()
            .filter(|(t, _)| {
                toml_path == t
                    || toml_path
                        .strip_prefix(t.as_str())
                        .is_some_and(|rest| rest.starts_with(['.', '[']))
            })
            .max_by_key(|(t, _)| t.len())
            .map(|(_, j)| j.clone())
            .unwrap_or_default()
    }
}

/// A TOML string literal (basic string with escapes).
fn quoted(s: &str) -> String {
    toml::Value::from(s).to_string()
}

/// The `[rules.NAME]` entry: header comments, the rule's keys, its actions, its error action.
#[allow(clippy::too_many_arguments)]
fn render(
    name: &str,
    payload: &TopicRulePayload,
    sql_version: SqlVersion,
    enabled: bool,
    actions: &[FileAction],
    error_action: Option<&FileAction>,
    streams: &BTreeSet<String>,
    places: &mut Places,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Rule {name}, from an AWS IoT TopicRulePayload (awsIotSqlVersion {}; Weir evaluates 2016-03-23).",
        sql_version.as_str()
    );
    out.push_str("# roleArn values are left out: Weir's actions need no IAM role.\n");
    if !streams.is_empty() {
        let tables: Vec<String> = streams
            .iter()
            .map(|s| format!("[streams.{}]", key(s)))
            .collect();
        let _ = writeln!(out, "# Needs in the file: {}.", tables.join(", "));
    }
    let base = format!("rules.{name}");
    let _ = writeln!(out, "[{base}]");
    let _ = writeln!(out, "sql = {}", quoted(&payload.sql));
    places.add(format!("{base}.sql"), "sql".into());
    if let Some(d) = &payload.description {
        let _ = writeln!(out, "description = {}", quoted(d));
        places.add(format!("{base}.description"), "description".into());
    }
    if !enabled {
        out.push_str("enabled = false\n");
    }
    for (i, a) in actions.iter().enumerate() {
        let _ = writeln!(out, "\n[[{base}.actions]]");
        action_keys(&mut out, &format!("{base}.actions[{i}]"), a, places);
    }
    if let Some(a) = error_action {
        let _ = writeln!(out, "\n[{base}.error_action]");
        action_keys(&mut out, &format!("{base}.error_action"), a, places);
    }
    out
}

fn action_keys(out: &mut String, at: &str, a: &FileAction, places: &mut Places) {
    let _ = writeln!(out, "kind = {}", quoted(a.kind));
    places.add(at.to_owned(), a.path.clone());
    for (k, v, aws) in &a.keys {
        let _ = writeln!(out, "{k} = {v}");
        places.add(format!("{at}.{k}"), join(&a.path, aws));
    }
}

/// A bare TOML key when it can be one, else quoted.
fn key(s: &str) -> String {
    let bare = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        s.to_owned()
    } else {
        quoted(s)
    }
}

/// Runs the configuration file's validation on the entry, with each stream it names
/// declared, and maps its problems back to the payload's paths.
fn validate(
    name: &str,
    toml: &str,
    actions: &[FileAction],
    error_action: Option<&FileAction>,
    streams: &BTreeSet<String>,
    places: &Places,
) -> Result<RuleConfig, TopicRuleError> {
    let mut doc = String::new();
    let mut places_streams = Places::default();
    for s in streams {
        let _ = writeln!(doc, "[streams.{}]", key(s));
        let from = actions
            .iter()
            .chain(error_action)
            .find(|a| a.stream.as_deref() == Some(s.as_str()))
            .map(|a| join(&a.path, "streamName"))
            .unwrap_or_default();
        // The key path the validator prints for this stream.
        let printed = crate::KeyPath::root().key("streams").key(s).to_string();
        places_streams.add(printed, from);
    }
    doc.push_str(toml);
    match Config::parse(&doc, "TopicRulePayload") {
        Ok(mut config) => config
            .rules
            .remove(name)
            .ok_or_else(|| TopicRuleError::invalid("", "the rule is missing after conversion")),
        Err(errors) => {
            let e = errors.errors().first().cloned();
            let Some(e) = e else {
                return Err(TopicRuleError::invalid("", "invalid rule"));
            };
            let at = e.path.to_string();
            let path = if at.starts_with("streams") {
                places_streams.json_of(&at)
            } else {
                places.json_of(&at)
            };
            let mut message = e.message.clone();
            if let Some(expected) = &e.expected {
                let _ = write!(message, " (expected {expected})");
            }
            Err(TopicRuleError::invalid(path, message))
        }
    }
}

/// The `TopicRule` GetTopicRule prints for rule `name` of the file. An action with no AWS
/// equivalent (a `table` or `plugin` action, a folder `firehose`, a remote `kinesis`, or any
/// action with Weir's pipeline stages or buffering) is written as a member named
/// `weir:KIND` holding its keys as the file spells them, so it is shown rather than dropped,
/// and CreateTopicRule refuses it by that name.
pub fn topic_rule(name: &str, rule: &RuleConfig) -> TopicRule {
    TopicRule {
        rule_name: Some(name.to_owned()),
        sql: Some(rule.rule.sql().to_owned()),
        description: rule.description.clone(),
        created_at: None,
        actions: Some(rule.actions.iter().map(aws_action).collect()),
        rule_disabled: Some(!rule.enabled),
        aws_iot_sql_version: Some(weir_rules::SQL_VERSION.to_owned()),
        error_action: rule.error_action.as_ref().map(aws_action),
    }
}

fn aws_action(a: &ActionConfig) -> TopicRuleAction {
    let plain =
        a.transformers.is_empty() && a.filters.is_empty() && a.buffer == BufferConfig::default();
    match &a.kind {
        ActionKind::Kinesis(k) if plain && k.endpoint.is_none() => {
            TopicRuleAction::Kinesis(IotKinesisAction {
                role_arn: None,
                stream_name: k.stream.clone(),
                partition_key: Some(k.partition_key.source().to_owned()),
            })
        }
        ActionKind::Firehose(f) if plain && f.delivery_stream.is_some() => {
            TopicRuleAction::Firehose(IotFirehoseAction {
                role_arn: None,
                delivery_stream_name: f.delivery_stream.clone().unwrap_or_default(),
                separator: None,
                batch_mode: None,
            })
        }
        ActionKind::Republish(r) if plain => TopicRuleAction::Republish(IotRepublishAction {
            role_arn: None,
            topic: r.topic.source().to_owned(),
            qos: Some(i64::from(r.qos)),
            headers: None,
        }),
        ActionKind::Sqs(q) if plain => TopicRuleAction::Sqs(IotSqsAction {
            role_arn: None,
            queue_url: q.queue_url.source().to_owned(),
            use_base64: Some(q.use_base64),
        }),
        ActionKind::Sns(n) if plain => TopicRuleAction::Sns(IotSnsAction {
            target_arn: n.target_arn.source().to_owned(),
            role_arn: None,
            message_format: Some(n.message_format.as_str().to_owned()),
        }),
        ActionKind::DynamoDbV2(d) if plain => TopicRuleAction::DynamoDbV2(IotDynamoDbV2Action {
            role_arn: None,
            put_item: IotPutItemInput {
                table_name: d.table_name.source().to_owned(),
            },
        }),
        ActionKind::S3(o) if plain => TopicRuleAction::S3(IotS3Action {
            role_arn: None,
            bucket_name: o.bucket.source().to_owned(),
            key: o.key.source().to_owned(),
            canned_acl: o.canned_acl.clone(),
        }),
        ActionKind::Http(h) if plain => TopicRuleAction::Http(IotHttpAction {
            url: h.url.source().to_owned(),
            confirmation_url: h.confirmation_url.clone(),
            headers: (!h.headers.is_empty()).then(|| {
                h.headers
                    .iter()
                    .map(|(k, v)| IotKeyValue {
                        key: k.clone(),
                        value: v.source().to_owned(),
                    })
                    .collect()
            }),
            auth: None,
            enable_batching: None,
            batch_config: None,
        }),
        ActionKind::Lambda(l) if plain => TopicRuleAction::Lambda(IotLambdaAction {
            function_arn: l.function_arn.source().to_owned(),
        }),
        _ => weir_only(a),
    }
}

/// `{"weir:KIND": {...the file's keys...}}`.
fn weir_only(a: &ActionConfig) -> TopicRuleAction {
    let (kind, mut keys) = match &a.kind {
        ActionKind::Kinesis(k) => (
            "kinesis",
            json!({"stream": k.stream, "partition_key": k.partition_key.source(), "endpoint": k.endpoint}),
        ),
        ActionKind::Firehose(f) => (
            "firehose",
            match &f.delivery_stream {
                Some(ds) => json!({"delivery_stream": ds}),
                None => json!({
                    "root": f.root.display().to_string(),
                    "prefix": f.prefix,
                    "error_prefix": f.error_prefix,
                    "buffer_bytes": f.buffer_bytes,
                    "buffer_interval_ms": f.buffer_interval.as_millis() as u64,
                }),
            },
        ),
        ActionKind::Republish(r) => (
            "republish",
            json!({"topic": r.topic.source(), "qos": r.qos}),
        ),
        ActionKind::Table(t) => ("table", json!({"table": t.table, "key": t.key.source()})),
        ActionKind::Plugin(p) => ("plugin", json!({"emitter": p.emitter})),
        ActionKind::Sqs(q) => (
            "sqs",
            json!({"queue_url": q.queue_url.source(), "use_base64": q.use_base64}),
        ),
        ActionKind::Sns(n) => (
            "sns",
            json!({"target_arn": n.target_arn.source(), "message_format": n.message_format.as_str()}),
        ),
        ActionKind::DynamoDbV2(d) => ("dynamodbv2", json!({"table_name": d.table_name.source()})),
        ActionKind::S3(o) => (
            "s3",
            json!({"bucket": o.bucket.source(), "object_key": o.key.source(), "canned_acl": o.canned_acl}),
        ),
        ActionKind::Http(h) => {
            let headers: Map<String, Value> = h
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.source())))
                .collect();
            (
                "http",
                json!({"url": h.url.source(), "headers": headers, "confirmation_url": h.confirmation_url}),
            )
        }
        ActionKind::Lambda(l) => ("lambda", json!({"function_arn": l.function_arn.source()})),
    };
    if let Value::Object(map) = &mut keys {
        map.retain(|_, v| !v.is_null());
        stages(map, a);
    }
    TopicRuleAction::Other {
        name: format!("weir:{kind}"),
        value: keys,
    }
}

fn stages(map: &mut Map<String, Value>, a: &ActionConfig) {
    if !a.transformers.is_empty() {
        map.insert("transformers".into(), json!(a.transformers));
    }
    if !a.filters.is_empty() {
        map.insert("filters".into(), json!(a.filters));
    }
    if a.buffer != BufferConfig::default() {
        map.insert(
            "buffer".into(),
            json!({
                "max_records": a.buffer.max_records,
                "max_bytes": a.buffer.max_bytes,
                "max_age_ms": a.buffer.max_age.as_millis() as u64,
            }),
        );
    }
}
