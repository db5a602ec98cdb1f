//! `weir rule import FILE.json [--name NAME]` as a user runs it: the built binary on a file,
//! its TOML on stdout loaded by the configuration loader, and its errors naming the file and
//! the JSON path.

use std::path::Path;
use std::process::Command;

use weir_config::{ActionKind, Config};

fn import(file: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["rule", "import"])
        .arg(file)
        .args(extra)
        .output()
        .expect("weir rule import runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the rule file");
    path
}

// https://docs.aws.amazon.com/iot/latest/developerguide/kinesis-rule-action.html, "Examples".
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

#[test]
fn prints_an_entry_the_configuration_loader_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "speeding.json", KINESIS);
    let (code, out, err) = import(&file, &["--name", "to_stream"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    assert!(out.contains("[rules.to_stream]\n"), "{out}");
    assert!(
        out.contains("# Needs in the file: [streams.my_kinesis_stream]."),
        "{out}"
    );

    // Pasted into a file beside the stream it names, it loads as that rule.
    let config_text = format!("[streams.my_kinesis_stream]\n\n{out}");
    let config_file = write(dir.path(), "weir.toml", &config_text);
    let config = Config::load(&config_file).unwrap_or_else(|e| panic!("{e}\n{config_text}"));
    let rule = &config.rules["to_stream"];
    assert_eq!(rule.rule.sql(), "SELECT * FROM 'some/topic'");
    assert!(rule.enabled);
    let ActionKind::Kinesis(k) = &rule.actions[0].kind else {
        panic!("a kinesis action")
    };
    assert_eq!(k.stream, "my_kinesis_stream");
    assert_eq!(k.partition_key.source(), "${topic()}");
}

#[test]
fn get_topic_rule_output_keeps_its_name_and_a_payload_takes_the_file_stem() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The AWS IoT Developer Guide's `aws iot get-topic-rule` output (republish action,
    // substitution templates).
    let got = write(
        dir.path(),
        "got.json",
        r#"{
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
}"#,
    );
    let (code, out, err) = import(&got, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("[rules.RepublishSubstitutionExample]\n"),
        "{out}"
    );
    assert!(
        out.contains("kind = \"republish\"\ntopic = \"${topic()}/republish\"\n"),
        "{out}"
    );
    Config::parse(&out, dir.path().join("weir.toml")).unwrap_or_else(|e| panic!("{e}\n{out}"));

    let bare = write(
        dir.path(),
        "alerts_out.json",
        r#"{"sql": "SELECT * FROM 'a/b'", "actions": [], "ruleDisabled": true}"#,
    );
    let (code, out, err) = import(&bare, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("[rules.alerts_out]\n"), "{out}");
    assert!(out.contains("enabled = false\n"), "{out}");
    assert!(out.contains("(awsIotSqlVersion 2015-10-08;"), "{out}");
}

#[test]
fn refusals_name_the_file_the_json_path_and_aws_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "templated.json",
        &KINESIS.replace("my_kinesis_stream", "${topic()}"),
    );
    let (code, out, err) = import(&file, &[]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert_eq!(
        err,
        format!(
            "error: {}: topicRulePayload.actions[0].kinesis.streamName: substitution templates in streamName are not supported by Weir: an action writes to one named target (\"${{topic()}}\") (InvalidRequestException)\n",
            file.display()
        )
    );

    let file = write(
        dir.path(),
        "bad_sql.json",
        r#"{"sql": "SELECT * FORM 'a'", "actions": []}"#,
    );
    let (code, _, err) = import(&file, &["--name", "r"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with(&format!("error: {}: sql: ", file.display())),
        "{err}"
    );
    assert!(err.trim_end().ends_with("(SqlParseException)"), "{err}");

    // A stem that is no rule name, and no --name: the error says what to do.
    let file = write(
        dir.path(),
        "my-rule.json",
        r#"{"sql": "SELECT * FROM 'a'", "actions": []}"#,
    );
    let (code, _, err) = import(&file, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("give one with --name"), "{err}");
    let (code, _, err) = import(&file, &["--name", "bad-name"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("at 'ruleName' failed to satisfy constraint"),
        "{err}"
    );

    let (code, _, err) = import(&dir.path().join("missing.json"), &[]);
    assert_eq!(code, 1);
    assert!(err.contains("missing.json: cannot read the file"), "{err}");
}
