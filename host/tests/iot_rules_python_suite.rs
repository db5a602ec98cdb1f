//! Runs the boto3 / AWS CLI rules API suite (`tests/py/test_iot_rules.py`) against `weir run`
//! (API and embedded broker on ports the system gives): the class `RulesApi`, then weir
//! stopped and started again on the same storage and configuration, then `AfterRestart`,
//! which finds the rules the first phase created through the API and fires one. Installs
//! `tests/py/requirements.txt` with pip when boto3, paho-mqtt or the AWS CLI is missing.

mod common;

use std::process::Command;

fn python_deps_present() -> bool {
    let py = Command::new("python3")
        .args([
            "-c",
            "import boto3, paho.mqtt.client, awscli, botocore.session, sys; \
             ops = botocore.session.get_session().get_service_model('iot').operation_names; \
             sys.exit(0 if 'CreateTopicRule' in ops else 1)",
        ])
        .status();
    let cli = Command::new("aws").arg("--version").output();
    matches!(py, Ok(s) if s.success()) && matches!(cli, Ok(o) if o.status.success())
}

#[test]
fn boto3_and_aws_cli_rules_api_suite() {
    common::python::install_requirements_unless(python_deps_present());
    let dir = tempfile::tempdir().expect("tempdir");
    let text = common::base_config("transition_ms = 100\n")
        + "\n[streams.file_stream]\nshards = 1\n\
           \n[rules.file_rule]\nsql = \"SELECT * FROM 'file/in'\"\n\
           \n[[rules.file_rule.actions]]\nkind = \"kinesis\"\nstream = \"file_stream\"\n\
           partition_key = \"${topic()}\"\n";
    let config = common::write_config(dir.path(), &text);
    let env = |weir: &common::Weir| {
        vec![
            ("WEIR_MQTT_PORT", weir.mqtt.to_string()),
            ("WEIR_CONFIG", config.display().to_string()),
        ]
    };

    let weir = common::Weir::start(&config);
    common::python::run_unittest(
        "rules API suite",
        &["test_iot_rules.RulesApi"],
        &weir.api,
        &env(&weir),
    );
    let (status, _) = weir.terminate();
    assert!(status.success(), "weir run exited with {status}");
    assert!(
        dir.path().join("data/iot/rules.json").is_file(),
        "the API's rules are stored in STORAGE/iot/rules.json"
    );

    let weir = common::Weir::start(&config);
    common::python::run_unittest(
        "rules API suite after a restart",
        &["test_iot_rules.AfterRestart"],
        &weir.api,
        &env(&weir),
    );
}
