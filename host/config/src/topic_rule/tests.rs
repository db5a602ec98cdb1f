//! The AWS IoT Developer Guide's own rule documents, verbatim, through conversion, TOML
//! rendering and back; then every refusal with its code and JSON path.

use super::*;
use crate::{ActionKind, Config, RuleConfig};

// https://docs.aws.amazon.com/iot/latest/developerguide/kinesis-rule-action.html, "Examples",
// first example.
const KINESIS: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'",
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "kinesis": {
                    "streamName": "my_kinesis_stream",
                    "partitionKey": "${topic()}",
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_kinesis"
                }
            }
        ]
    }
}"#;

// Same page, second example ("a Kinesis action with substitution templates").
const KINESIS_TEMPLATES: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'",
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "kinesis": {
                    "streamName": "${topic()}",
                    "partitionKey": "${timestamp()}",
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_kinesis"
                }
            }
        ]
    }
}"#;

// https://docs.aws.amazon.com/iot/latest/developerguide/kinesis-firehose-rule-action.html,
// "Examples", first example.
const FIREHOSE: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'",
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "firehose": {
                    "deliveryStreamName": "my_firehose_stream",
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_firehose"
                }
            }
        ]
    }
}"#;

// Same page, second example.
const FIREHOSE_TEMPLATES: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'",
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "firehose": {
                    "deliveryStreamName": "${topic()}",
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_firehose"
                }
            }
        ]
    }
}"#;

// https://docs.aws.amazon.com/iot/latest/developerguide/republish-rule-action.html,
// "Examples", first example.
const REPUBLISH: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'",
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "republish": {
                    "topic": "another/topic",
                    "qos": 1,
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_republish"
                }
            }
        ]
    }
}"#;

// Same page, second example.
const REPUBLISH_TEMPLATES: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'",
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "republish": {
                    "topic": "${topic()}/republish",
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_republish"
                }
            }
        ]
    }
}"#;

// Same page, third example ("a republish action with headers").
const REPUBLISH_HEADERS: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'",
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "republish": {
                    "topic": "${topic()}/republish",
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_republish",
                    "headers": {
                        "payloadFormatIndicator": "UTF8_DATA",
                        "contentType": "rule/contentType",
                        "correlationData": "cnVsZSBjb3JyZWxhdGlvbiBkYXRh",
                        "userProperties": [
                            {
                                "key": "ruleKey1",
                                "value": "ruleValue1"
                            },
                            {
                                "key": "ruleKey2",
                                "value": "ruleValue2"
                            }
                        ]
                    }
                }
            }
        ]
    }
}"#;

// https://docs.aws.amazon.com/iot/latest/developerguide/iot-substitution-templates.html: a
// bare payload, with no awsIotSqlVersion.
const SUBSTITUTION: &str = r#"{
    "sql": "SELECT *, timestamp() AS timestamp FROM 'my/iot/topic'",
    "ruleDisabled": false,
    "actions": [{
        "republish": {
            "topic": "${topic()}/republish",
            "roleArn": "arn:aws:iam::123456789012:role/my-iot-role"
        }
    }]
}"#;

// The AWS IoT Developer Guide's rule actions page (iot-rule-actions.html, "Republish action",
// "Substitution templates"): what `aws iot get-topic-rule` prints.
const GET_TOPIC_RULE: &str = r#"{
    "ruleArn": "arn:aws:iot:us-east-1:418092313572:rule/RepublishSubstitutionExample",
    "rule": {
        "awsIotSqlVersion": "2016-03-23",
        "sql": "SELECT *, topic() AS topic FROM 'my/iot/topic'",
        "ruleDisabled": false,
        "actions": [
            {
                "republish": {
                    "topic": "${topic()}/republish",
                    "roleArn": "arn:aws:iam::418092313572:role/service-role/ArunavTest"
                }
            }
        ],
        "ruleName": "RepublishSubstitutionExample"
    }
}"#;

// Same page, "Step Functions action": its SQL is the placeholder `expression`.
const STEP_FUNCTIONS: &str = r#"{
    "topicRulePayload": {
      "sql": "expression",
      "ruleDisabled": false,
      "description": "A step functions test rule",
      "awsIotSqlVersion": "2016-03-23",
      "actions": [{
          "stepFunctions": {
              "executionNamePrefix": "myExecution",
              "stateMachineName": "myStateMachine",
              "roleArn": "arn:aws:iam::123456789012:role/aws_iot_step_functions"
          }
      }]
    }
}"#;

fn ok(text: &str, name: &str) -> ConvertedRule {
    import_topic_rule(text, Some(name), None).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn err(text: &str, name: &str) -> TopicRuleError {
    match import_topic_rule(text, Some(name), None) {
        Ok(r) => panic!("expected an error, got:\n{}", r.toml()),
        Err(e) => e,
    }
}

/// A bare payload from a JSON value, for the error cases.
fn payload(v: serde_json::Value) -> TopicRulePayload {
    serde_json::from_value(v).expect("a payload")
}

fn convert_err(name: &str, p: serde_json::Value) -> TopicRuleError {
    match convert_topic_rule(name, &payload(p)) {
        Ok(r) => panic!("expected an error, got:\n{}", r.toml()),
        Err(e) => e,
    }
}

/// The rendered TOML, with its streams declared, parsed by the configuration loader.
fn reparse(r: &ConvertedRule) -> RuleConfig {
    let mut doc = String::new();
    for s in &r.streams {
        doc.push_str(&format!("[streams.{s}]\n"));
    }
    doc.push_str(r.toml());
    let mut config = Config::parse(&doc, "weir.toml").unwrap_or_else(|e| panic!("{e}\n{doc}"));
    config.rules.remove(&r.name).expect("the rule")
}

/// What a rule is, in comparable text: SQL, description, enabled, and each action's
/// identity and key template.
fn summary(r: &RuleConfig) -> String {
    let mut s = format!("{}|{:?}|{}", r.rule.sql(), r.description, r.enabled);
    for a in r.actions.iter().chain(&r.error_action) {
        let d = a.kind.destination();
        s.push_str(&format!(
            "|{}:{}:{:?}",
            d.identity(),
            d.label(),
            d.key_template().map(|t| t.source())
        ));
        if let ActionKind::Republish(p) = &a.kind {
            s.push_str(&format!(":qos{}", p.qos));
        }
    }
    s
}

#[test]
fn kinesis_example_becomes_a_kinesis_action() {
    let r = ok(KINESIS, "speed_to_stream");
    assert_eq!(r.sql_version, SqlVersion::V2016_03_23);
    assert!(r.config.enabled);
    let [a] = r.config.actions.as_slice() else {
        panic!("one action")
    };
    let ActionKind::Kinesis(k) = &a.kind else {
        panic!("kinesis")
    };
    assert_eq!(k.stream, "my_kinesis_stream");
    assert_eq!(k.partition_key.source(), "${topic()}");
    assert_eq!(k.endpoint, None);
    assert_eq!(r.streams.iter().collect::<Vec<_>>(), ["my_kinesis_stream"]);
    assert_eq!(
        r.toml(),
        "# Rule speed_to_stream, from an AWS IoT TopicRulePayload (awsIotSqlVersion 2016-03-23; Weir evaluates 2016-03-23).\n\
         # roleArn values are left out: Weir's actions need no IAM role.\n\
         # Needs in the file: [streams.my_kinesis_stream].\n\
         [rules.speed_to_stream]\n\
         sql = \"SELECT * FROM 'some/topic'\"\n\
         \n\
         [[rules.speed_to_stream.actions]]\n\
         kind = \"kinesis\"\n\
         stream = \"my_kinesis_stream\"\n\
         partition_key = \"${topic()}\"\n"
    );
    assert_eq!(summary(&reparse(&r)), summary(&r.config));
}

#[test]
fn firehose_example_becomes_a_delivery_stream_action() {
    let r = ok(FIREHOSE, "to_firehose");
    let ActionKind::Firehose(f) = &r.config.actions[0].kind else {
        panic!("firehose")
    };
    assert_eq!(f.delivery_stream.as_deref(), Some("my_firehose_stream"));
    assert!(r
        .toml()
        .contains("kind = \"firehose\"\ndelivery_stream = \"my_firehose_stream\"\n"));
    assert!(r.streams.is_empty());
    assert_eq!(summary(&reparse(&r)), summary(&r.config));
}

#[test]
fn republish_examples_keep_qos_and_templates() {
    let r = ok(REPUBLISH, "again");
    let ActionKind::Republish(p) = &r.config.actions[0].kind else {
        panic!("republish")
    };
    assert_eq!((p.topic.source(), p.qos), ("another/topic", 1));
    assert_eq!(summary(&reparse(&r)), summary(&r.config));

    let r = ok(REPUBLISH_TEMPLATES, "again");
    let ActionKind::Republish(p) = &r.config.actions[0].kind else {
        panic!("republish")
    };
    assert_eq!((p.topic.source(), p.qos), ("${topic()}/republish", 0));
    assert!(!p.topic.is_static());
    assert_eq!(summary(&reparse(&r)), summary(&r.config));
}

#[test]
fn a_bare_payload_without_a_version_gets_aws_default() {
    let r = ok(SUBSTITUTION, "subst");
    assert_eq!(r.sql_version, SqlVersion::V2015_10_08);
    assert_eq!(r.payload.aws_iot_sql_version.as_deref(), Some("2015-10-08"));
    assert_eq!(r.payload.rule_disabled, Some(false));
    assert!(r
        .toml()
        .contains("(awsIotSqlVersion 2015-10-08; Weir evaluates 2016-03-23)"));
    assert_eq!(summary(&reparse(&r)), summary(&r.config));
}

#[test]
fn get_topic_rule_output_names_the_rule() {
    let doc = parse_topic_rule_document(GET_TOPIC_RULE).expect("parses");
    assert_eq!(doc.name.as_deref(), Some("RepublishSubstitutionExample"));
    assert_eq!(doc.prefix, "rule");
    let r = import_topic_rule(GET_TOPIC_RULE, None, Some("ignored")).expect("converts");
    assert_eq!(r.name, "RepublishSubstitutionExample");
    assert!(r.toml().contains("[rules.RepublishSubstitutionExample]\n"));
    // --name wins over the document's own name.
    let r = import_topic_rule(GET_TOPIC_RULE, Some("renamed"), None).expect("converts");
    assert_eq!(r.name, "renamed");
    assert_eq!(summary(&reparse(&r)), summary(&r.config));
}

#[test]
fn a_payload_has_no_name_but_the_fallback() {
    let r = import_topic_rule(KINESIS, None, Some("from_file")).expect("converts");
    assert_eq!(r.name, "from_file");
    let e = import_topic_rule(KINESIS, None, None).unwrap_err();
    assert_eq!(e.path, "");
    assert!(e.message.contains("--name"), "{e}");
}

#[test]
fn description_disabled_and_error_action_round_trip() {
    let text = r#"{
        "sql": "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30",
        "description": "hot \"sensors\"\nsecond line",
        "ruleDisabled": true,
        "awsIotSqlVersion": "beta",
        "actions": [
            {"kinesis": {"streamName": "hot", "roleArn": "arn:aws:iam::1:role/r"}},
            {"firehose": {"deliveryStreamName": "archive", "batchMode": false, "roleArn": "arn:aws:iam::1:role/r"}},
            {"republish": {"topic": "$$aws/things/t/shadow/update", "qos": 0, "roleArn": "arn:aws:iam::1:role/r"}}
        ],
        "errorAction": {"republish": {"topic": "errors/${topic()}", "qos": 1, "roleArn": "arn:aws:iam::1:role/r"}}
    }"#;
    let r = ok(text, "hot_sensors");
    assert_eq!(r.sql_version, SqlVersion::Beta);
    assert!(!r.config.enabled);
    assert_eq!(
        r.config.description.as_deref(),
        Some("hot \"sensors\"\nsecond line")
    );
    assert_eq!(r.config.actions.len(), 3);
    let ActionKind::Kinesis(k) = &r.config.actions[0].kind else {
        panic!("kinesis")
    };
    assert_eq!(k.partition_key.source(), DEFAULT_PARTITION_KEY);
    let ActionKind::Republish(p) = &r.config.actions[2].kind else {
        panic!("republish")
    };
    assert_eq!(p.topic.source(), "$$aws/things/t/shadow/update");
    let Some(error_action) = &r.config.error_action else {
        panic!("an error action")
    };
    let ActionKind::Republish(p) = &error_action.kind else {
        panic!("republish")
    };
    assert_eq!((p.topic.source(), p.qos), ("errors/${topic()}", 1));
    assert!(r.toml().contains("enabled = false\n"));
    assert!(r.toml().contains("\n[rules.hot_sensors.error_action]\n"));
    assert_eq!(summary(&reparse(&r)), summary(&r.config));

    // And back: the TopicRule of the converted rule is the payload without its role ARNs,
    // with the default partition key written out and Weir's SQL version.
    let back = topic_rule("hot_sensors", &r.config);
    let json = serde_json::to_value(&back).expect("serializes");
    assert_eq!(
        json,
        serde_json::json!({
            "ruleName": "hot_sensors",
            "sql": "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30",
            "description": "hot \"sensors\"\nsecond line",
            "actions": [
                {"kinesis": {"streamName": "hot", "partitionKey": "${newuuid()}"}},
                {"firehose": {"deliveryStreamName": "archive"}},
                {"republish": {"topic": "$$aws/things/t/shadow/update", "qos": 0}}
            ],
            "ruleDisabled": true,
            "awsIotSqlVersion": "2016-03-23",
            "errorAction": {"republish": {"topic": "errors/${topic()}", "qos": 1}}
        })
    );
    // ... and that TopicRule, imported again, is the same rule.
    let again = import_topic_rule(&serde_json::json!({ "rule": json }).to_string(), None, None)
        .expect("imports");
    assert_eq!(summary(&again.config), summary(&r.config));
}

#[test]
fn converted_rule_echoes_the_payload_for_get_topic_rule() {
    let r = ok(REPUBLISH, "again");
    let t = r.topic_rule(Some(1_700_000_000.0));
    assert_eq!(t.rule_name.as_deref(), Some("again"));
    assert_eq!(t.created_at, Some(IotTimestamp::Seconds(1_700_000_000.0)));
    // The role ARN the payload had is kept: the API echoes what it was given.
    let json = serde_json::to_value(&t).expect("serializes");
    assert_eq!(
        json["actions"][0]["republish"]["roleArn"],
        "arn:aws:iam::123456789012:role/aws_iot_republish"
    );
    assert_eq!(
        rule_arn("us-east-1", "123456789012", "again"),
        "arn:aws:iot:us-east-1:123456789012:rule/again"
    );
}

#[test]
fn file_only_actions_are_shown_as_weir_members_and_refused_back() {
    let text = r#"
[streams.s]
[tables.t]
key = "id"

[rules.mixed]
sql = "SELECT * FROM 'a/b'"
[[rules.mixed.actions]]
kind = "table"
table = "t"
key = "${id}"
[[rules.mixed.actions]]
kind = "kinesis"
stream = "s"
partition_key = "${topic()}"
buffer = { max_records = 10 }
[[rules.mixed.actions]]
kind = "firehose"
root = "/tmp/weir-archive"
[[rules.mixed.actions]]
kind = "kinesis"
stream = "remote"
partition_key = "k"
endpoint = "http://127.0.0.1:4567"
"#;
    let config = Config::parse(text, "weir.toml").expect("valid");
    let t = topic_rule("mixed", &config.rules["mixed"]);
    let json = serde_json::to_value(&t).expect("serializes");
    assert_eq!(
        json["actions"],
        serde_json::json!([
            {"weir:table": {"table": "t", "key": "${id}"}},
            {"weir:kinesis": {"stream": "s", "partition_key": "${topic()}",
                "buffer": {"max_records": 10, "max_bytes": 1048576, "max_age_ms": 1000}}},
            {"weir:firehose": {"root": "/tmp/weir-archive", "prefix": "",
                "error_prefix": "errors/!{firehose:error-output-type}/",
                "buffer_bytes": 5242880, "buffer_interval_ms": 300000}},
            {"weir:kinesis": {"stream": "remote", "partition_key": "k", "endpoint": "http://127.0.0.1:4567"}}
        ])
    );
    let p = payload(serde_json::json!({"sql": "SELECT * FROM 'a/b'", "actions": json["actions"]}));
    let e = convert_topic_rule("mixed", &p).unwrap_err();
    assert_eq!(e.code, TopicRuleErrorCode::InvalidRequest);
    assert_eq!(e.path, "actions[0].weir:table");
    assert_eq!(
        e.message,
        "the weir:table action is not supported by Weir (supported: kinesis, firehose, republish, sqs, sns, dynamoDBv2, s3, http, lambda)"
    );
}

#[test]
fn templates_in_target_names_are_refused_at_their_path() {
    let e = err(KINESIS_TEMPLATES, "r");
    assert_eq!(e.code, TopicRuleErrorCode::InvalidRequest);
    assert_eq!(e.path, "topicRulePayload.actions[0].kinesis.streamName");
    assert!(
        e.message
            .contains("substitution templates in streamName are not supported"),
        "{e}"
    );
    let e = err(FIREHOSE_TEMPLATES, "r");
    assert_eq!(
        e.path,
        "topicRulePayload.actions[0].firehose.deliveryStreamName"
    );
}

#[test]
fn republish_headers_are_refused_at_their_path() {
    let e = err(REPUBLISH_HEADERS, "r");
    assert_eq!(e.code, TopicRuleErrorCode::InvalidRequest);
    assert_eq!(e.path, "topicRulePayload.actions[0].republish.headers");
    assert_eq!(
        e.to_string(),
        "topicRulePayload.actions[0].republish.headers: MQTT 5 headers are not supported by Weir's republish action (leave headers out)"
    );
}

#[test]
fn other_actions_are_refused_by_name() {
    for (member, body) in [
        ("cloudwatchMetric", r#"{"metricName": "m"}"#),
        ("timestream", r#"{"databaseName": "db"}"#),
    ] {
        let p: TopicRulePayload = serde_json::from_str(&format!(
            r#"{{"sql": "SELECT * FROM 'a'", "actions": [], "errorAction": {{"{member}": {body}}}}}"#
        ))
        .unwrap_or_else(|e| panic!("{member}: {e}"));
        let e = convert_topic_rule("r", &p).unwrap_err();
        assert_eq!(e.code, TopicRuleErrorCode::InvalidRequest);
        assert_eq!(e.path, format!("errorAction.{member}"));
        assert_eq!(
            e.message,
            format!("the {member} action is not supported by Weir (supported: kinesis, firehose, republish, sqs, sns, dynamoDBv2, s3, http, lambda)")
        );
    }
}

#[test]
fn invalid_sql_is_a_sql_parse_exception_with_the_parser_message() {
    let e = err(STEP_FUNCTIONS, "r");
    assert_eq!(e.code, TopicRuleErrorCode::SqlParse);
    assert_eq!(e.code.as_str(), "SqlParseException");
    assert_eq!(e.path, "topicRulePayload.sql");
    let parser = weir_rules::Rule::compile("expression").unwrap_err();
    assert_eq!(e.message, parser[0].to_string());

    let e = convert_err(
        "r",
        serde_json::json!({"sql": "SELECT * FORM 'a'", "actions": []}),
    );
    assert_eq!(e.code, TopicRuleErrorCode::SqlParse);
    assert!(e.message.contains("(line 1, column"), "{e}");
}

#[test]
fn rule_names_follow_aws_pattern_and_length() {
    assert!(check_rule_name("a_B_9").is_ok());
    assert!(check_rule_name(&"x".repeat(MAX_RULE_NAME_LEN)).is_ok());
    for (name, constraint) in [
        ("", "Member must have length greater than or equal to 1"),
        (
            &"x".repeat(129) as &str,
            "Member must have length less than or equal to 128",
        ),
        (
            "my-rule",
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9_]+$",
        ),
        (
            "rule.one",
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9_]+$",
        ),
    ] {
        let e = convert_err(
            name,
            serde_json::json!({"sql": "SELECT * FROM 'a'", "actions": []}),
        );
        assert_eq!(e.code, TopicRuleErrorCode::InvalidRequest);
        assert_eq!(e.path, "");
        assert_eq!(
            e.message,
            format!("1 validation error detected: Value '{name}' at 'ruleName' failed to satisfy constraint: {constraint}")
        );
    }
}

#[test]
fn sql_versions_are_aws_three() {
    for v in SqlVersion::ALL {
        assert_eq!(SqlVersion::parse(v.as_str()), Some(v));
        let r = convert_topic_rule(
            "r",
            &payload(serde_json::json!({"sql": "SELECT * FROM 'a'", "actions": [], "awsIotSqlVersion": v.as_str()})),
        )
        .expect("accepted");
        assert_eq!(r.sql_version, v);
    }
    let e = convert_err(
        "r",
        serde_json::json!({"sql": "SELECT * FROM 'a'", "actions": [], "awsIotSqlVersion": "2016-03-24"}),
    );
    assert_eq!(e.path, "awsIotSqlVersion");
    assert_eq!(
        e.message,
        "\"2016-03-24\" is not a SQL version (expected one of 2015-10-08, 2016-03-23, beta)"
    );
}

#[test]
fn at_most_ten_actions() {
    let one = serde_json::json!({"republish": {"topic": "t"}});
    let ten = vec![one.clone(); 10];
    assert!(convert_topic_rule(
        "r",
        &payload(serde_json::json!({"sql": "SELECT * FROM 'a'", "actions": ten}))
    )
    .is_ok());
    let e = convert_err(
        "r",
        serde_json::json!({"sql": "SELECT * FROM 'a'", "actions": vec![one; 11]}),
    );
    assert_eq!(e.path, "actions");
    assert!(
        e.message
            .contains("Member must have length less than or equal to 10"),
        "{e}"
    );
}

#[test]
fn republish_qos_is_zero_or_one() {
    for (qos, bound) in [
        (2, "less than or equal to 1"),
        (-1, "greater than or equal to 0"),
    ] {
        let e = convert_err(
            "r",
            serde_json::json!({"sql": "SELECT * FROM 'a'", "actions": [{"republish": {"topic": "t", "qos": qos}}]}),
        );
        assert_eq!(e.path, "actions[0].republish.qos");
        assert!(
            e.message
                .ends_with(&format!("Member must have value {bound}")),
            "{e}"
        );
    }
}

#[test]
fn firehose_separator_and_batch_mode_are_refused() {
    let e = convert_err(
        "r",
        serde_json::json!({"sql": "SELECT * FROM 'a'", "actions": [{"firehose": {"deliveryStreamName": "d", "separator": "\n"}}]}),
    );
    assert_eq!(e.path, "actions[0].firehose.separator");
    assert!(e.message.starts_with("a separator is not supported"), "{e}");
    let e = convert_err(
        "r",
        serde_json::json!({"sql": "SELECT * FROM 'a'", "actions": [{"firehose": {"deliveryStreamName": "d", "separator": ";"}}]}),
    );
    assert!(
        e.message
            .contains("Member must satisfy regular expression pattern: ([\\n\\t])|(\\r\\n)|(,)"),
        "{e}"
    );
    let e = convert_err(
        "r",
        serde_json::json!({"sql": "SELECT * FROM 'a'", "actions": [{"firehose": {"deliveryStreamName": "d", "batchMode": true}}]}),
    );
    assert_eq!(e.path, "actions[0].firehose.batchMode");
}

#[test]
fn the_file_validator_problems_land_on_payload_paths() {
    // A partition key template that does not compile: the validator's message, at the key.
    let e = convert_err(
        "r",
        serde_json::json!({"sql": "SELECT * FROM 'a'", "actions": [
            {"republish": {"topic": "t"}},
            {"kinesis": {"streamName": "s", "partitionKey": "${nosuchfunction(1)}"}}
        ]}),
    );
    assert_eq!(e.code, TopicRuleErrorCode::InvalidRequest);
    assert_eq!(e.path, "actions[1].kinesis.partitionKey");
    assert!(e.message.starts_with("template: "), "{e}");
    // A delivery stream name Firehose would refuse.
    let e = convert_err(
        "r",
        serde_json::json!({"sql": "SELECT * FROM 'a'", "actions": [], "errorAction": {"firehose": {"deliveryStreamName": "no spaces"}}}),
    );
    assert_eq!(e.path, "errorAction.firehose.deliveryStreamName");
    assert!(
        e.message.contains("is not a valid delivery stream name"),
        "{e}"
    );
    // A stream name Kinesis would refuse: reported by the `[streams]` check, at the action.
    let e = convert_err(
        "r",
        serde_json::json!({"sql": "SELECT * FROM 'a'", "actions": [{"kinesis": {"streamName": "bad name"}}]}),
    );
    assert_eq!(e.path, "actions[0].kinesis.streamName");
    assert!(e.message.contains("is not a valid stream name"), "{e}");
}

#[test]
fn malformed_documents_name_the_json_path() {
    let cases = [
        // not JSON at all
        ("{", "", "not JSON: "),
        ("[1]", "", "expected a JSON object"),
        // a required member missing
        (r#"{"actions": []}"#, "", "missing field `sql`"),
        (
            r#"{"topicRulePayload": {"sql": "SELECT * FROM 'a'"}}"#,
            "topicRulePayload",
            "missing field `actions`",
        ),
        // a typo in a known action
        (
            r#"{"sql": "SELECT * FROM 'a'", "actions": [{"kinesis": {"streamName": "s", "partitonKey": "k"}}]}"#,
            "actions[0].kinesis.partitonKey",
            "unknown field `partitonKey`",
        ),
        // a required member of an action missing
        (
            r#"{"topicRulePayload": {"sql": "SELECT * FROM 'a'", "actions": [{"kinesis": {"partitionKey": "k"}}]}}"#,
            "topicRulePayload.actions[0].kinesis",
            "missing field `streamName`",
        ),
        // a wrong type
        (
            r#"{"rule": {"sql": "SELECT * FROM 'a'", "actions": [{"republish": {"topic": "t", "qos": "1"}}]}}"#,
            "rule.actions[0].republish.qos",
            "invalid type: string \"1\", expected i64",
        ),
        // two actions in one object, and none
        (
            r#"{"sql": "SELECT * FROM 'a'", "actions": [{"republish": {"topic": "t"}, "kinesis": {"streamName": "s"}}]}"#,
            "actions[0]",
            "an action has exactly one member; this one has `republish` and `kinesis`",
        ),
        (
            r#"{"sql": "SELECT * FROM 'a'", "actions": [{}]}"#,
            "actions[0]",
            "an action needs exactly one member",
        ),
        // get-topic-rule output without a rule
        (
            r#"{"ruleArn": "arn:aws:iot:r:a:rule/x"}"#,
            "rule",
            "missing",
        ),
        // a member beside the request body's payload
        (
            r#"{"topicRulePayload": {"sql": "SELECT * FROM 'a'", "actions": []}, "extra": 1}"#,
            "extra",
            "unknown member",
        ),
    ];
    for (text, path, message) in cases {
        let e = import_topic_rule(text, Some("r"), None).unwrap_err();
        assert_eq!(e.code, TopicRuleErrorCode::InvalidRequest, "{text}");
        assert_eq!(e.path, path, "{text}: {e}");
        assert!(e.message.contains(message), "{text}: {e}");
    }
}

#[test]
fn payload_types_serialize_as_aws_writes_them() {
    // Every typed action reads and writes back the same JSON.
    let text = r#"{"sql":"SELECT * FROM 'a'","description":"d","actions":[
        {"kinesis":{"roleArn":"arn:r","streamName":"s","partitionKey":"${topic()}"}},
        {"firehose":{"roleArn":"arn:r","deliveryStreamName":"d","separator":",","batchMode":true}},
        {"republish":{"roleArn":"arn:r","topic":"t","qos":1,"headers":{"payloadFormatIndicator":"UTF8_DATA","contentType":"c","responseTopic":"r","correlationData":"x","messageExpiry":"5","userProperties":[{"key":"k","value":"v"}]}}},
        {"lambda":{"functionArn":"arn:aws:lambda:us-east-1:1:function:f"}},
        {"s3":{"roleArn":"arn:r","bucketName":"b","key":"k","cannedAcl":"private"}},
        {"http":{"url":"https://h/","confirmationUrl":"https://h/","headers":[{"key":"k","value":"v"}],"auth":{"sigv4":{"signingRegion":"us-east-1","serviceName":"iotevents","roleArn":"arn:r"}},"enableBatching":true,"batchConfig":{"maxBatchOpenMs":20}}},
        {"sqs":{"roleArn":"arn:r","queueUrl":"q","useBase64":false}},
        {"sns":{"targetArn":"arn:t","roleArn":"arn:r","messageFormat":"RAW"}},
        {"dynamoDBv2":{"roleArn":"arn:r","putItem":{"tableName":"t"}}},
        {"timestream":{"databaseName":"db"}}
    ],"ruleDisabled":false,"awsIotSqlVersion":"2016-03-23","errorAction":{"republish":{"topic":"e"}}}"#;
    let p: TopicRulePayload = serde_json::from_str(text).expect("parses");
    let names: Vec<&str> = p.actions.iter().map(TopicRuleAction::name).collect();
    assert_eq!(
        names,
        [
            "kinesis",
            "firehose",
            "republish",
            "lambda",
            "s3",
            "http",
            "sqs",
            "sns",
            "dynamoDBv2",
            "timestream"
        ]
    );
    let original: serde_json::Value = serde_json::from_str(text).expect("json");
    assert_eq!(serde_json::to_value(&p).expect("serializes"), original);
    // createdAt: the wire's epoch seconds and the CLI's text.
    let r: TopicRule = serde_json::from_str(r#"{"createdAt": 1700000000.5}"#).expect("seconds");
    assert_eq!(r.created_at, Some(IotTimestamp::Seconds(1_700_000_000.5)));
    let r: TopicRule =
        serde_json::from_str(r#"{"createdAt": "2020-02-13T14:22:16-08:00"}"#).expect("text");
    assert_eq!(
        r.created_at,
        Some(IotTimestamp::Text("2020-02-13T14:22:16-08:00".into()))
    );
}

#[test]
fn error_display_puts_the_path_first() {
    let e = TopicRuleError::invalid("actions[0]", "bad");
    assert_eq!(e.to_string(), "actions[0]: bad");
    assert_eq!(e.aws_message(), "actions[0]: bad");
    assert_eq!(e.clone().under("rule").path, "rule.actions[0]");
    assert_eq!(TopicRuleError::invalid("", "whole").to_string(), "whole");
    assert_eq!(
        TopicRuleErrorCode::InvalidRequest.to_string(),
        "InvalidRequestException"
    );
}

#[test]
fn any_text_survives_the_toml_rendering() {
    let tricky = "quotes \" and ' and ''' and \"\"\" \\ backslash \t tab\nline é ✓ \u{7f} del";
    let p = payload(serde_json::json!({
        "sql": "SELECT \"a\\\\b\" AS v, 'it''s' AS w FROM 'x/+/y' WHERE v <> \"\"",
        "description": tricky,
        "actions": [{"republish": {"topic": "out/\"q\"/${topic(2)}"}}]
    }));
    let r = convert_topic_rule("tricky", &p).expect("converts");
    let again = reparse(&r);
    assert_eq!(again.description.as_deref(), Some(tricky));
    assert_eq!(again.rule.sql(), p.sql);
    assert_eq!(summary(&again), summary(&r.config));
}

#[test]
fn the_cli_skeleton_carries_a_name_and_tags() {
    let text = r#"{"ruleName": "from_skeleton", "topicRulePayload": {"sql": "SELECT * FROM 'a'", "actions": []}, "tags": "env=dev"}"#;
    let r = import_topic_rule(text, None, None).expect("converts");
    assert_eq!(r.name, "from_skeleton");
}

#[test]
fn list_items_carry_the_from_filter() {
    let r = ok(KINESIS, "listed");
    let item = topic_rule_list_item(
        "arn:aws:iot:r:a:rule/listed",
        "listed",
        &r.config,
        Some(5.0),
    );
    assert_eq!(
        serde_json::to_value(&item).expect("serializes"),
        serde_json::json!({
            "ruleArn": "arn:aws:iot:r:a:rule/listed",
            "ruleName": "listed",
            "topicPattern": "some/topic",
            "createdAt": 5.0,
            "ruleDisabled": false
        })
    );
}
