//! Runs the boto3 / paho-mqtt / AWS CLI suites of the AWS IoT data-plane API
//! (`tests/py/test_iot_data.py`) and of the Device Shadow service over MQTT
//! (`tests/py/test_shadow_mqtt.py`, paho clients on the MQTT 3.1.1 and the MQTT 5 listener)
//! against `weir run` on loopback ports (port 0, read back from weir's ready line), with
//! `[api] verify_keys` so every signature is checked: the shadow lifecycle over REST and over
//! MQTT (AWS's walkthrough documents, refusals, named shadows, REST and MQTT interleaved),
//! HTTP Publish reaching an MQTT subscriber and a rule's kinesis action, the AWS CLI; then
//! shadows written before a SIGKILL are read back from a new `weir run` on the same storage.
//! Installs `tests/py/requirements.txt` with pip when boto3, paho-mqtt or the AWS CLI is
//! missing.

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

/// The rules the suites use: `test_publish_reaches_a_rule` reads back HTTP publishes under
/// `http/rule/` from stream `httpout`, with their topic; `test_shadow_mqtt`'s
/// `test_a_rule_republishes_into_a_shadow` publishes `report/THING`, which AWS's `$$` escape
/// republishes as a request to THING's classic shadow.
const RULE: &str = r#"
[streams.httpout]

[rules.http_in]
sql = "SELECT *, topic() AS topic FROM 'http/rule/#'"

[[rules.http_in.actions]]
kind = "kinesis"
stream = "httpout"
partition_key = "k"

[rules.to_shadow]
sql = "SELECT state FROM 'report/+'"

[[rules.to_shadow.actions]]
kind = "republish"
topic = "$$aws/things/${topic(2)}/shadow/update"
qos = 1
"#;

#[test]
fn boto3_paho_and_aws_cli_iot_data_suite() {
    common::python::install_requirements_unless(python_deps_present());
    let dir = tempfile::tempdir().expect("tempdir");
    // The credentials `run_unittest` gives the suite: every signature is verified.
    // An MQTT 5 listener beside the 3.1.1 one, for the shadow suite's MQTT 5 clients.
    let text = common::base_config("")
        .replace(
            "[api]\n",
            "[api]\nverify_keys = { AKIDTEST = \"secret\" }\n",
        )
        .replacen(
            "listen = \"127.0.0.1:0\"\n",
            "listen = \"127.0.0.1:0\"\nlisten_v5 = \"127.0.0.1:0\"\n",
            1,
        )
        + RULE;
    let config = common::write_config(dir.path(), &text);
    // Secrets in the file: readable by the owner only, as weir asks.
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600");
    let weir = common::Weir::start(&config);
    let env = |w: &common::Weir| {
        let v5 = w
            .mqtt5
            .expect("the MQTT 5 listener's port on the ready line");
        [
            ("MQTT_PORT", w.mqtt.to_string()),
            ("MQTT5_PORT", v5.to_string()),
        ]
    };
    common::python::run_unittest(
        "iot-data suite",
        &[
            "test_iot_data.IotData",
            "test_iot_data.BeforeRestart",
            "test_shadow_mqtt.ShadowOverMqtt311",
            "test_shadow_mqtt.ShadowOverMqtt5",
            "test_shadow_mqtt.BeforeRestart",
        ],
        &weir.api,
        &env(&weir),
    );
    // SIGKILL: what was acknowledged must be on disk, not flushed by a clean stop.
    drop(weir);
    let weir = common::Weir::start(&config);
    common::python::run_unittest(
        "iot-data suite after a restart",
        &[
            "test_iot_data.AfterRestart",
            "test_shadow_mqtt.AfterRestart",
        ],
        &weir.api,
        &env(&weir),
    );
}
