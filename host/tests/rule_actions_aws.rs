//! The rule actions that call other services, through `weir run` over real MQTT: `sqs`,
//! `sns`, `dynamodbv2` and `s3` deliver to moto's server, `http` to a real HTTP server in
//! this test, `lambda` to an emitter plugin; then their failures (an unreachable endpoint,
//! HTTP 500 after AWS's three tries, a missing table, queue, topic, bucket or function)
//! reach the rule's error action with AWS's error payload and `failedAction` names. The
//! `http` actions reach loopback because `[firehose] allowed_endpoints` lets them
//! (`rule_actions_egress.rs` shows what the policy refuses).

mod common;

use std::process::Command;

use base64::Engine as _;
use serde_json::{json, Value};

use common::{files, free_port, publish_all, Weir};

/// Runs `tests/py/rule_actions_moto.py MODE ENDPOINT [ARG]` and parses what it prints.
fn moto_script(mode: &str, endpoint: &str, arg: Option<&str>) -> Value {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/rule_actions_moto.py");
    let out = Command::new("python3")
        .arg(script)
        .args([mode, endpoint])
        .args(arg)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script's JSON")
}

/// Every JSON line of the files under `root`.
fn json_lines(root: &std::path::Path) -> Vec<Value> {
    files(root)
        .into_values()
        .flat_map(|bytes| {
            String::from_utf8(bytes)
                .expect("utf8")
                .lines()
                .map(|l| serde_json::from_str(l).expect("a JSON line"))
                .collect::<Vec<Value>>()
        })
        .collect()
}

/// A car message with the fields the `sms-alert` emitter writes into its text.
fn car(plate: &str, speed: u32) -> Vec<u8> {
    json!({
        "plate": plate, "licensePlate": plate, "speed": speed, "ok": true, "gone": null,
        "first_name": "Ada", "last_name": "Lovelace", "myphone": "5550100",
        "city": "Seattle", "state": "WA", "longitude": "-122.3", "latitude": "47.6",
        "iottimestamp": "2026-12-06 12:00:00", "pos": {"lap": 3}
    })
    .to_string()
    .into_bytes()
}

#[test]
fn aws_service_actions_deliver_and_their_failures_reach_the_error_action() {
    let server = common::moto::start();
    let moto = server.endpoint.clone();
    let urls = moto_script("setup", &moto, None);
    let (http, seen) = common::http_server::start("127.0.0.1");
    let closed = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let services = format!(
        "\n[sqs]\nendpoint_url = \"{moto}\"\nregion = \"us-east-1\"\n\
         [sns]\nendpoint_url = \"{moto}\"\n\
         [dynamodb]\nendpoint_url = \"{moto}\"\n\
         [s3]\nendpoint_url = \"{moto}\"\nregion = \"us-east-1\"\naccess_key_id = \"AKIDTEST\"\nsecret_access_key = \"secret\"\n\
         [firehose]\nallowed_endpoints = [\"127.0.0.1\"]\n\
         \n[notify.sms]\nkind = \"file\"\npath = \"data/sms.jsonl\"\n\
         [plugins.sms-alert]\npath = {:?}\ngrants = [\"config\", \"outbox\", \"log\"]\nchannels = [\"sms\"]\n",
        common::component("sms-alert")
    );
    let deliver = format!(
        "\n[rules.deliver]\nsql = \"SELECT * FROM 'cars/+'\"\n\
         [[rules.deliver.actions]]\nkind = \"sqs\"\nqueue_url = \"{alerts}\"\n\
         [[rules.deliver.actions]]\nkind = \"sns\"\ntarget_arn = \"{topic}\"\n\
         [[rules.deliver.actions]]\nkind = \"dynamodbv2\"\ntable_name = \"cars\"\n\
         [[rules.deliver.actions]]\nkind = \"s3\"\nbucket = \"archive\"\nobject_key = \"${{topic()}}/${{plate}}.json\"\ncanned_acl = \"private\"\n\
         [[rules.deliver.actions]]\nkind = \"http\"\nurl = \"http://127.0.0.1:{http}/ok/${{plate}}\"\n\
         headers = {{ \"x-plate\" = \"${{plate}}\", \"x-static\" = \"v\" }}\n\
         [[rules.deliver.actions]]\nkind = \"lambda\"\nfunction_arn = \"arn:aws:lambda:us-east-1:123456789012:function:sms-alert\"\n\
         [[rules.deliver.actions]]\nkind = \"sqs\"\nqueue_url = \"{encoded}\"\nuse_base64 = true\n\
         [rules.deliver.error_action]\nkind = \"firehose\"\nroot = \"data/deliver-errors\"\nbuffer_interval_ms = 0\n",
        alerts = urls["alerts"].as_str().expect("queue url"),
        topic = urls["topic"].as_str().expect("topic arn"),
        encoded = urls["encoded"].as_str().expect("queue url"),
    );
    let fail = format!(
        "\n[rules.fail]\nsql = \"SELECT * FROM 'bad/+'\"\n\
         [[rules.fail.actions]]\nkind = \"http\"\nurl = \"http://127.0.0.1:{http}/fail\"\n\
         [[rules.fail.actions]]\nkind = \"http\"\nurl = \"http://127.0.0.1:{closed}/nobody\"\n\
         [[rules.fail.actions]]\nkind = \"dynamodbv2\"\ntable_name = \"missing\"\n\
         [[rules.fail.actions]]\nkind = \"sqs\"\nqueue_url = \"{moto}/123456789012/missing-${{plate}}\"\n\
         [[rules.fail.actions]]\nkind = \"lambda\"\nfunction_arn = \"arn:aws:lambda:us-east-1:123456789012:function:nosuch\"\n\
         [[rules.fail.actions]]\nkind = \"sns\"\ntarget_arn = \"arn:aws:sns:us-east-1:123456789012:missing\"\n\
         [[rules.fail.actions]]\nkind = \"s3\"\nbucket = \"no-such-${{topic(1)}}\"\nobject_key = \"${{topic()}}\"\n\
         [rules.fail.error_action]\nkind = \"firehose\"\nroot = \"data/fail-errors\"\nbuffer_interval_ms = 0\n"
    );
    let config = common::write_config(
        dir.path(),
        &(common::base_config("") + &services + &deliver + &fail),
    );
    let weir = Weir::start(&config);
    publish_all(
        weir.mqtt,
        &[
            ("cars/1".to_owned(), car("ABC123", 81)),
            ("cars/2".to_owned(), car("XYZ789", 90)),
            ("bad/1".to_owned(), br#"{"plate":"BAD1"}"#.to_vec()),
        ],
    );
    for action in [
        "0:sqs",
        "1:sns",
        "2:dynamodbv2",
        "3:s3",
        "4:http",
        "5:lambda",
        "6:sqs",
    ] {
        weir.wait_metric(
            &format!(r#"weir_action_delivered_total{{rule="deliver",action="{action}"}}"#),
            2,
        );
    }
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="fail",action="error:firehose"}"#,
        7,
    );
    let (status, _) = weir.terminate();
    assert!(status.success());

    // What moto holds.
    let got = moto_script("collect", &moto, Some(&urls.to_string()));
    let bodies: Vec<Value> = got["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|b| serde_json::from_str(b.as_str().expect("body")).expect("JSON body"))
        .collect();
    assert_eq!(bodies.len(), 2, "{got}");
    assert_eq!(bodies[0]["plate"], "ABC123");
    assert_eq!(bodies[1]["plate"], "XYZ789");
    assert_eq!(got["inbox"].as_array().map(Vec::len), Some(2), "{got}");
    // `use_base64`: the same bodies, base64-encoded.
    let mut decoded: Vec<String> = got["encoded"]
        .as_array()
        .expect("encoded")
        .iter()
        .map(|b| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b.as_str().expect("body"))
                .expect("base64");
            String::from_utf8(bytes).expect("utf8")
        })
        .collect();
    let mut plain: Vec<String> = got["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|b| b.as_str().expect("body").to_owned())
        .collect();
    decoded.sort();
    plain.sort();
    assert_eq!(decoded, plain);
    assert_eq!(
        got["inbox"][0], got["alerts"][0],
        "SNS carries the output as it is"
    );
    assert_eq!(
        got["items"][0],
        json!({
            "plate": {"S": "ABC123"}, "licensePlate": {"S": "ABC123"}, "speed": {"N": "81"},
            "ok": {"BOOL": true}, "gone": {"NULL": true}, "first_name": {"S": "Ada"},
            "last_name": {"S": "Lovelace"}, "myphone": {"S": "5550100"}, "city": {"S": "Seattle"},
            "state": {"S": "WA"}, "longitude": {"S": "-122.3"}, "latitude": {"S": "47.6"},
            "iottimestamp": {"S": "2026-12-06 12:00:00"}, "pos": {"M": {"lap": {"N": "3"}}}
        })
    );
    assert_eq!(got["items"].as_array().map(Vec::len), Some(2));
    let objects = got["objects"].as_object().expect("objects");
    assert_eq!(
        objects.keys().collect::<Vec<_>>(),
        ["cars/1/ABC123.json", "cars/2/XYZ789.json"]
    );
    let object: Value =
        serde_json::from_str(objects["cars/1/ABC123.json"].as_str().expect("text")).expect("JSON");
    assert_eq!(object["speed"], 81);

    // What the HTTP server got: one POST per car, its headers rendered per message; and
    // three tries of the failing URL (AWS retries a 500 twice).
    let seen = seen.lock().expect("lock").clone();
    let mut ok: Vec<&common::http_server::Seen> =
        seen.iter().filter(|s| s.0.starts_with("/ok")).collect();
    ok.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(ok.len(), 2, "{seen:?}");
    assert_eq!(ok[0].0, "/ok/ABC123");
    assert_eq!(ok[0].1["x-plate"], "ABC123");
    assert_eq!(ok[0].1["x-static"], "v");
    assert_eq!(ok[0].1["content-type"], "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(&ok[1].2).expect("JSON")["plate"],
        "XYZ789"
    );
    assert_eq!(
        seen.iter().filter(|s| s.0 == "/fail").count(),
        3,
        "{seen:?}"
    );

    // The lambda action's plugin sent its SMS through the outbox.
    let sms = std::fs::read_to_string(dir.path().join("data/sms.jsonl")).expect("sms");
    assert_eq!(sms.lines().count(), 2, "{sms}");
    assert!(sms.contains("+15550100"), "{sms}");

    // Nothing of the delivering rule failed; every action of the failing one did.
    assert!(json_lines(&dir.path().join("data/deliver-errors")).is_empty());
    let errors = json_lines(&dir.path().join("data/fail-errors"));
    let mut failed: Vec<(String, String)> = errors
        .iter()
        .map(|e| {
            assert_eq!(e["ruleName"], "fail");
            assert_eq!(e["topic"], "bad/1");
            let f = &e["failures"][0];
            (
                f["failedAction"].as_str().expect("action").to_owned(),
                f["failedResource"].as_str().expect("resource").to_owned(),
            )
        })
        .collect();
    failed.sort();
    let mut want = vec![
        ("DynamoDBv2Action".to_owned(), "missing".to_owned()),
        (
            "HttpAction".to_owned(),
            format!("http://127.0.0.1:{closed}/nobody"),
        ),
        (
            "HttpAction".to_owned(),
            format!("http://127.0.0.1:{http}/fail"),
        ),
        (
            "LambdaAction".to_owned(),
            "arn:aws:lambda:us-east-1:123456789012:function:nosuch".to_owned(),
        ),
        // The rendered bucket (AWS's failedResource for s3), not its template.
        ("S3Action".to_owned(), "no-such-bad".to_owned()),
        (
            "SnsAction".to_owned(),
            "arn:aws:sns:us-east-1:123456789012:missing".to_owned(),
        ),
        (
            "SqsAction".to_owned(),
            // The rendered queue URL, not the template.
            format!("{moto}/123456789012/missing-BAD1"),
        ),
    ];
    want.sort();
    assert_eq!(failed, want);
    let message = |action: &str, resource: &str| {
        errors
            .iter()
            .map(|e| &e["failures"][0])
            .find(|f| {
                f["failedAction"] == action
                    && f["failedResource"]
                        .as_str()
                        .is_some_and(|r| r.ends_with(resource))
            })
            .and_then(|f| f["errorMessage"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    for (action, resource, text) in [
        ("HttpAction", "/fail", "returned HTTP 500"),
        ("HttpAction", "/nobody", "failed to make a request"),
        ("SnsAction", ":missing", "NotFound"),
        ("SqsAction", "/missing-BAD1", "QueueDoesNotExist"),
        ("DynamoDBv2Action", "missing", "ResourceNotFoundException"),
        ("LambdaAction", ":nosuch", "Function not found"),
        ("S3Action", "no-such-bad", "NoSuchBucket"),
    ] {
        let m = message(action, resource);
        assert!(m.contains(text), "{action} {resource}: {m:?}");
    }
}
