//! Runs the boto3 / paho-mqtt / AWS CLI suite of the AWS IoT data-plane API
//! (`tests/py/test_iot_data.py`) against `weir run` on loopback ports (port 0, read back from
//! weir's ready line), with `[api] verify_keys` so every signature is checked: the shadow
//! lifecycle, HTTP Publish reaching an MQTT subscriber and a rule's kinesis action, the AWS
//! CLI; then shadows written before a SIGKILL are read back from a new `weir run` on the same
//! storage. Installs `tests/py/requirements.txt` with pip
//! when boto3, paho-mqtt or the AWS CLI is missing.

mod common;

use std::process::Command;

fn python_deps_present() -> bool {
    let py = Command::new("python3")
        .args([
            "-c",
            "import boto3, paho.mqtt.client, botocore.session, sys; \
             ops = botocore.session.get_session().get_service_model('iot-data').operation_names; \
             sys.exit(0 if 'ListNamedShadowsForThing' in ops else 1)",
        ])
        .status();
    let cli = Command::new("aws").arg("--version").output();
    matches!(py, Ok(s) if s.success()) && matches!(cli, Ok(o) if o.status.success())
}

/// The rule the suite's `test_publish_reaches_a_rule` reads back: HTTP publishes under
/// `http/rule/` into stream `httpout`, with their topic.
const RULE: &str = r#"
[streams.httpout]

[rules.http_in]
sql = "SELECT *, topic() AS topic FROM 'http/rule/#'"

[[rules.http_in.actions]]
kind = "kinesis"
stream = "httpout"
partition_key = "k"
"#;

#[test]
fn boto3_paho_and_aws_cli_iot_data_suite() {
    common::python::install_requirements_unless(python_deps_present());
    let dir = tempfile::tempdir().expect("tempdir");
    // The credentials `run_unittest` gives the suite: every signature is verified.
    let text = common::base_config("").replace(
        "[api]\n",
        "[api]\nverify_keys = { AKIDTEST = \"secret\" }\n",
    ) + RULE;
    let config = common::write_config(dir.path(), &text);
    // Secrets in the file: readable by the owner only, as weir asks.
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600");
    let weir = common::Weir::start(&config);
    let env = |w: &common::Weir| [("MQTT_PORT", w.mqtt.to_string())];
    common::python::run_unittest(
        "iot-data suite",
        &["test_iot_data.IotData", "test_iot_data.BeforeRestart"],
        &weir.api,
        &env(&weir),
    );
    // SIGKILL: what was acknowledged must be on disk, not flushed by a clean stop.
    drop(weir);
    let weir = common::Weir::start(&config);
    common::python::run_unittest(
        "iot-data suite after a restart",
        &["test_iot_data.AfterRestart"],
        &weir.api,
        &env(&weir),
    );
}
