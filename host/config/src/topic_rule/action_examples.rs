//! The AWS IoT Developer Guide's examples of the actions Weir runs beyond kinesis, firehose
//! and republish (sqs, sns, dynamoDBv2, s3, http, lambda), verbatim, as the "Examples"
//! section of each action's page gives them (whitespace included), through conversion, TOML
//! rendering and back; then what is refused.

use super::*;
use crate::{ActionKind, Config, SnsMessageFormat};

// https://docs.aws.amazon.com/iot/latest/developerguide/sqs-rule-action.html, "Examples", first example.
const SQS: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'", 
        "ruleDisabled": false, 
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "sqs": {
                    "queueUrl": "https://sqs.us-east-2.amazonaws.com/123456789012/my_sqs_queue", 
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_sqs"
                }
            }
        ]
    }
}"#;

// https://docs.aws.amazon.com/iot/latest/developerguide/sqs-rule-action.html, "Examples", second example (substitution templates).
const SQS_TEMPLATES: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'",
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "sqs": {
                    "queueUrl": "https://sqs.us-east-2.amazonaws.com/123456789012/${topic()}",
                    "useBase64": true,
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_sqs"
                }
            }
        ]
    }
}"#;

// https://docs.aws.amazon.com/iot/latest/developerguide/sns-rule-action.html, "Examples", first example.
const SNS: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'", 
        "ruleDisabled": false, 
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "sns": {
                    "targetArn": "arn:aws:sns:us-east-2:123456789012:my_sns_topic", 
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_sns"
                }
            }
        ]
    }
}"#;

// https://docs.aws.amazon.com/iot/latest/developerguide/sns-rule-action.html, "Examples", second example (substitution templates).
const SNS_TEMPLATES: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'",
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "sns": {
                    "targetArn": "arn:aws:sns:us-east-1:123456789012:${topic()}",
                    "messageFormat": "JSON",
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_sns"
                }
            }
        ]
    }
}"#;

// https://docs.aws.amazon.com/iot/latest/developerguide/dynamodb-v2-rule-action.html, "Examples", first example (with its comma before `}`).
const DYNAMODB_V2: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * AS message FROM 'some/topic'", 
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "dynamoDBv2": {
                    "putItem": {
                        "tableName": "my_ddb_table"
                    },
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_dynamoDBv2", 
                }
            }
        ]
    }
}"#;

// https://docs.aws.amazon.com/iot/latest/developerguide/dynamodb-v2-rule-action.html, "Examples", second example (substitution templates).
const DYNAMODB_V2_TEMPLATES: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'",
        "ruleDisabled": false,
        "awsIotSqlVersion": "2015-10-08",
        "actions": [
            {
                "dynamoDBv2": {
                    "putItem": {
                        "tableName": "${topic()}"
                    },
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_dynamoDBv2"
                }
            }
        ]
    }
}"#;

// https://docs.aws.amazon.com/iot/latest/developerguide/s3-rule-action.html, "Examples", the example (with its `cannedacl` spelling).
const S3: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'", 
        "ruleDisabled": false, 
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "s3": {
                    "bucketName": "my-bucket", 
                    "cannedacl": "public-read",
                    "key": "${topic()}/${timestamp()}",
                    "roleArn": "arn:aws:iam::123456789012:role/aws_iot_s3"
                }
            }
        ]
    }
}"#;

// https://docs.aws.amazon.com/iot/latest/developerguide/https-rule-action.html, "Examples", the example.
const HTTP: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'", 
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23", 
        "actions": [
            { 
                "http": { 
                    "url": "https://www.example.com/subpath",
                    "confirmationUrl": "https://www.example.com", 
                    "headers": [
                        { 
                            "key": "static_header_key", 
                            "value": "static_header_value" 
                        },
                        { 
                            "key": "substitutable_header_key", 
                            "value": "${value_from_payload}" 
                        }
                    ] 
                } 
            }
        ]
    }
}"#;

// https://docs.aws.amazon.com/iot/latest/developerguide/lambda-rule-action.html, "Examples", first example.
const LAMBDA: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'", 
        "ruleDisabled": false, 
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "lambda": {
                    "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myLambdaFunction"
                 }
            }
        ]
    }
}"#;

// https://docs.aws.amazon.com/iot/latest/developerguide/lambda-rule-action.html, "Examples", second example (substitution templates).
const LAMBDA_TEMPLATES: &str = r#"{
    "topicRulePayload": {
        "sql": "SELECT * FROM 'some/topic'",
        "ruleDisabled": false,
        "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {
                "lambda": {
                    "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:${topic()}"
                }
            }
        ]
    }
}"#;

fn ok(text: &str) -> ConvertedRule {
    import_topic_rule(text, Some("example"), None).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The converted rule's only action, after its TOML went through the file's loader again.
fn action_of(text: &str) -> ActionKind {
    let r = ok(text);
    let mut config =
        Config::parse(r.toml(), "weir.toml").unwrap_or_else(|e| panic!("{e}\n{}", r.toml()));
    let rule = config.rules.remove("example").expect("the rule");
    assert_eq!(rule.actions.len(), 1, "{}", r.toml());
    // The same rule both ways: the converter's and the reloaded file's.
    assert_eq!(
        r.config.actions[0].kind.destination().identity(),
        rule.actions[0].kind.destination().identity()
    );
    rule.actions
        .into_iter()
        .next()
        .map(|a| a.kind)
        .expect("one action")
}

#[test]
fn sqs_examples_become_sqs_actions() {
    match action_of(SQS) {
        ActionKind::Sqs(a) => {
            assert_eq!(
                a.queue_url.source(),
                "https://sqs.us-east-2.amazonaws.com/123456789012/my_sqs_queue"
            );
            assert!(!a.use_base64);
        }
        other => panic!("{other:?}"),
    }
    match action_of(SQS_TEMPLATES) {
        ActionKind::Sqs(a) => {
            assert_eq!(
                a.queue_url.source(),
                "https://sqs.us-east-2.amazonaws.com/123456789012/${topic()}"
            );
            assert!(a.use_base64);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sns_examples_become_sns_actions() {
    match action_of(SNS) {
        ActionKind::Sns(a) => {
            assert_eq!(
                a.target_arn.source(),
                "arn:aws:sns:us-east-2:123456789012:my_sns_topic"
            );
            assert_eq!(a.message_format, SnsMessageFormat::Raw);
        }
        other => panic!("{other:?}"),
    }
    match action_of(SNS_TEMPLATES) {
        ActionKind::Sns(a) => {
            assert_eq!(
                a.target_arn.source(),
                "arn:aws:sns:us-east-1:123456789012:${topic()}"
            );
            assert_eq!(a.message_format, SnsMessageFormat::Json);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn dynamodb_v2_examples_become_dynamodbv2_actions() {
    // The first example is not strict JSON (a comma before `}`): it is read as meant. Its
    // SQL, `SELECT * AS message`, puts the whole payload under `message`.
    assert!(serde_json::from_str::<serde_json::Value>(DYNAMODB_V2).is_err());
    let rule = ok(DYNAMODB_V2).config.rule;
    assert_eq!(rule.sql(), "SELECT * AS message FROM 'some/topic'");
    let payload = serde_json::json!({"temperature": 50});
    let out = rule
        .evaluate_json(&weir_rules::EvalContext::new(
            "some/topic",
            br#"{"temperature":50}"#,
            Some(&payload),
        ))
        .expect("evaluates");
    assert_eq!(
        out,
        Some(serde_json::json!({"message": {"temperature": 50}}))
    );
    match action_of(DYNAMODB_V2) {
        ActionKind::DynamoDbV2(a) => assert_eq!(a.table_name.source(), "my_ddb_table"),
        other => panic!("{other:?}"),
    }
    let r = ok(DYNAMODB_V2_TEMPLATES);
    assert_eq!(r.sql_version, SqlVersion::V2015_10_08);
    match action_of(DYNAMODB_V2_TEMPLATES) {
        ActionKind::DynamoDbV2(a) => assert_eq!(a.table_name.source(), "${topic()}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn s3_example_becomes_an_s3_action() {
    match action_of(S3) {
        ActionKind::S3(a) => {
            assert_eq!(a.bucket.source(), "my-bucket");
            assert_eq!(a.key.source(), "${topic()}/${timestamp()}");
            assert_eq!(a.canned_acl.as_deref(), Some("public-read"));
        }
        other => panic!("{other:?}"),
    }
    // GetTopicRule echoes it with the API's own spelling.
    let t = ok(S3).topic_rule(None);
    let json = serde_json::to_value(&t).expect("serializes");
    assert_eq!(json["actions"][0]["s3"]["cannedAcl"], "public-read");
}

#[test]
fn http_example_becomes_an_http_action() {
    match action_of(HTTP) {
        ActionKind::Http(a) => {
            assert_eq!(a.url.source(), "https://www.example.com/subpath");
            assert_eq!(
                a.confirmation_url.as_deref(),
                Some("https://www.example.com")
            );
            let headers: Vec<(&str, &str)> = a
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.source()))
                .collect();
            assert_eq!(
                headers,
                [
                    ("static_header_key", "static_header_value"),
                    ("substitutable_header_key", "${value_from_payload}"),
                ]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn lambda_examples_become_lambda_actions() {
    match action_of(LAMBDA) {
        ActionKind::Lambda(a) => {
            assert_eq!(
                crate::lambda_function_name(a.function_arn.source()),
                Some("myLambdaFunction")
            );
        }
        other => panic!("{other:?}"),
    }
    match action_of(LAMBDA_TEMPLATES) {
        ActionKind::Lambda(a) => assert_eq!(
            a.function_arn.source(),
            "arn:aws:lambda:us-east-1:123456789012:function:${topic()}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn file_rules_of_these_kinds_print_as_aws_actions_and_convert_back() {
    let text = r#"
[rules.all]
sql = "SELECT * FROM 'a/b'"
[[rules.all.actions]]
kind = "sqs"
queue_url = "http://127.0.0.1:5000/123456789012/q"
use_base64 = true
[[rules.all.actions]]
kind = "sns"
target_arn = "arn:aws:sns:us-east-1:123456789012:t"
message_format = "JSON"
[[rules.all.actions]]
kind = "dynamodbv2"
table_name = "cars"
[[rules.all.actions]]
kind = "s3"
bucket = "archive"
object_key = "${topic()}/${newuuid()}"
canned_acl = "private"
[[rules.all.actions]]
kind = "http"
url = "https://example.com/in"
headers = { "x-car" = "${car}" }
[[rules.all.actions]]
kind = "lambda"
function_arn = "speed_limit"
"#;
    let config = Config::parse(text, "weir.toml").expect("valid");
    let t = topic_rule("all", &config.rules["all"]);
    let json = serde_json::to_value(&t).expect("serializes");
    assert_eq!(
        json["actions"],
        serde_json::json!([
            {"sqs": {"queueUrl": "http://127.0.0.1:5000/123456789012/q", "useBase64": true}},
            {"sns": {"targetArn": "arn:aws:sns:us-east-1:123456789012:t", "messageFormat": "JSON"}},
            {"dynamoDBv2": {"putItem": {"tableName": "cars"}}},
            {"s3": {"bucketName": "archive", "key": "${topic()}/${newuuid()}", "cannedAcl": "private"}},
            {"http": {"url": "https://example.com/in", "headers": [{"key": "x-car", "value": "${car}"}]}},
            {"lambda": {"functionArn": "speed_limit"}}
        ])
    );
    let p: TopicRulePayload = serde_json::from_value(serde_json::json!({
        "sql": "SELECT * FROM 'a/b'", "actions": json["actions"]
    }))
    .expect("payload");
    let back = convert_topic_rule("all", &p).expect("converts back");
    let ids = |r: &crate::RuleConfig| -> Vec<String> {
        r.actions
            .iter()
            .map(|a| a.kind.destination().identity())
            .collect()
    };
    assert_eq!(ids(&back.config), ids(&config.rules["all"]));
}

#[test]
fn what_weir_does_not_honour_is_refused_at_its_path() {
    let convert = |action: serde_json::Value| {
        let p: TopicRulePayload = serde_json::from_value(serde_json::json!({
            "sql": "SELECT * FROM 'a'", "actions": [action]
        }))
        .expect("payload");
        convert_topic_rule("r", &p).expect_err("refused")
    };
    let e = convert(
        serde_json::json!({"http": {"url": "https://h/x", "auth": {"sigv4": {
        "signingRegion": "us-east-1", "serviceName": "execute-api", "roleArn": "arn:r"}}}}),
    );
    assert_eq!(e.path, "actions[0].http.auth");
    let e = convert(serde_json::json!({"http": {"url": "https://h/x", "enableBatching": true}}));
    assert_eq!(e.path, "actions[0].http.enableBatching");
    let e = convert(serde_json::json!({"http": {"url": "https://h/x",
        "headers": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]}}));
    assert_eq!(e.path, "actions[0].http.headers[1].key");
    // The file's own checks, reported at the payload's paths.
    let e = convert(
        serde_json::json!({"http": {"url": "https://h/x", "confirmationUrl": "https://other/"}}),
    );
    assert_eq!(e.path, "actions[0].http.confirmationUrl");
    assert!(e.message.contains("is not a prefix of the url"), "{e}");
    let e = convert(
        serde_json::json!({"sns": {"targetArn": "arn:aws:sns:us-east-1:1:t", "messageFormat": "XML"}}),
    );
    assert_eq!(e.path, "actions[0].sns.messageFormat");
    let e = convert(
        serde_json::json!({"s3": {"bucketName": "bkt", "key": "k", "cannedAcl": "everyone"}}),
    );
    assert_eq!(e.path, "actions[0].s3.cannedAcl");
    let e = convert(serde_json::json!({"dynamoDBv2": {"putItem": {"tableName": "a b"}}}));
    assert_eq!(e.path, "actions[0].dynamoDBv2.putItem.tableName");
    let e = convert(serde_json::json!({"lambda": {"functionArn": "arn:aws:s3:::bucket"}}));
    assert_eq!(e.path, "actions[0].lambda.functionArn");
    let e = convert(serde_json::json!({"sqs": {"queueUrl": "my_queue"}}));
    assert_eq!(e.path, "actions[0].sqs.queueUrl");
    assert_eq!(
        e.message,
        "\"my_queue\" is not an http:// or https:// queue URL (expected a queue URL such as \"https://sqs.us-east-1.amazonaws.com/123456789012/queue\")"
    );
}
