//! The `http` rule action obeys the operator's egress policy (`[firehose] allowed_endpoints`,
//! the policy Firehose's HTTP endpoints obey), through `weir run` over real MQTT: with
//! `127.0.0.1` allowed, a file rule and a rule created through the rules API deliver there;
//! the cloud metadata address and another loopback address (`127.0.0.2`, where a server
//! listens and must see nothing), filled into the URL of a file rule or an API rule from the
//! payload, are refused before any connection and reach the rule's error action, whose
//! message names the URL and the address range that refused it. A static URL the policy
//! refuses is refused by CreateTopicRule itself.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::{json, Value};

use common::{publish_all, read_stream, Weir};

/// `POST path` with a JSON body to the API (signed in form only: the test's API verifies no
/// keys); the status and body of the answer.
fn post_json(api: &str, path: &str, body: &Value) -> (u16, String) {
    let body = body.to_string();
    let mut s = TcpStream::connect(api).expect("connect api");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         X-Amz-Date: 20260101T000000Z\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn refused_http_destinations_reach_the_error_action_and_allowed_ones_deliver() {
    let (allowed, delivered) = common::http_server::start("127.0.0.1");
    let (blocked, must_stay_empty) = common::http_server::start("127.0.0.2");
    let dir = tempfile::tempdir().expect("tempdir");
    let text = common::base_config("")
        + &format!(
            "\n[firehose]\nallowed_endpoints = [\"127.0.0.1\"]\n\n\
             [streams.errs]\nshards = 1\n\n\
             [rules.file]\nsql = \"SELECT * FROM 'cars/+'\"\n\
             [[rules.file.actions]]\nkind = \"http\"\nurl = \"http://127.0.0.1:{allowed}/ok/${{plate}}\"\n\
             [[rules.file.actions]]\nkind = \"http\"\nurl = \"http://${{host}}/from-payload\"\n\
             [rules.file.error_action]\nkind = \"kinesis\"\nstream = \"errs\"\npartition_key = \"${{topic()}}\"\n"
        );
    let config = common::write_config(dir.path(), &text);
    let weir = Weir::start(&config);

    // CreateTopicRule refuses a static URL the policy refuses, naming where and why.
    for (actions, error_action, at, why) in [
        (
            json!([{"http": {"url": "http://169.254.169.254/latest/meta-data/"}}]),
            json!({"kinesis": {"streamName": "errs", "partitionKey": "k"}}),
            "actions[0].http.url",
            "169.254.169.254 is a cloud metadata service address",
        ),
        (
            json!([{"http": {"url": format!("http://127.0.0.1:{allowed}/ok/never")}}]),
            json!({"http": {"url": "http://10.0.0.1/errors"}}),
            "errorAction.http.url",
            "10.0.0.1 is a private address (RFC 1918)",
        ),
    ] {
        let (status, answer) = post_json(
            &weir.api,
            "/rules/refused",
            &json!({"sql": "SELECT * FROM 'x'", "actions": actions, "errorAction": error_action}),
        );
        assert_eq!(status, 400, "{answer}");
        assert!(answer.contains(at) && answer.contains(why), "{answer}");
        assert!(answer.contains("allowed_endpoints"), "{answer}");
    }

    // A rule an API caller creates whose URLs the payload fills in: the metadata service and
    // another loopback address, refused when the request would connect.
    let metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/";
    let api_blocked = format!("http://127.0.0.2:{blocked}/api");
    let (status, answer) = post_json(
        &weir.api,
        "/rules/from_api",
        &json!({
            "sql": "SELECT * FROM 'api/+'",
            "actions": [
                {"http": {"url": format!("http://127.0.0.1:{allowed}/ok/api")}},
                {"http": {"url": "http://${meta}/latest/meta-data/iam/security-credentials/"}},
                {"http": {"url": "http://${target}/api"}},
            ],
            "errorAction": {"kinesis": {"streamName": "errs", "partitionKey": "${topic()}"}},
        }),
    );
    assert_eq!(status, 200, "CreateTopicRule: {answer}");

    let payload_blocked = format!("127.0.0.2:{blocked}");
    publish_all(
        weir.mqtt,
        &[
            (
                "cars/1".to_owned(),
                json!({"plate": "ABC123", "host": payload_blocked})
                    .to_string()
                    .into_bytes(),
            ),
            (
                "api/1".to_owned(),
                json!({"meta": "169.254.169.254", "target": format!("127.0.0.2:{blocked}")})
                    .to_string()
                    .into_bytes(),
            ),
        ],
    );
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="file",action="0:http"}"#,
        1,
    );
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="from_api",action="0:http"}"#,
        1,
    );
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="file",action="error:kinesis:errs"}"#,
        1,
    );
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="from_api",action="error:kinesis:errs"}"#,
        2,
    );
    let (status, _) = weir.terminate();
    assert!(status.success());

    let mut paths: Vec<String> = delivered
        .lock()
        .expect("lock")
        .iter()
        .map(|(path, _, _)| path.clone())
        .collect();
    paths.sort();
    assert_eq!(paths, ["/ok/ABC123", "/ok/api"]);
    assert!(
        must_stay_empty.lock().expect("lock").is_empty(),
        "a refused destination was connected to"
    );

    let errors = read_stream(&dir.path().join("data/streams"), "errs");
    let mut failures: Vec<(String, String, String)> = errors
        .iter()
        .map(|(_, e)| {
            let f = &e["failures"][0];
            assert_eq!(f["failedAction"], "HttpAction", "{e}");
            (
                e["ruleName"].as_str().expect("rule").to_owned(),
                f["failedResource"].as_str().expect("resource").to_owned(),
                f["errorMessage"].as_str().expect("message").to_owned(),
            )
        })
        .collect();
    failures.sort();
    assert_eq!(failures.len(), 3, "{failures:?}");
    let from_payload = format!("http://{payload_blocked}/from-payload");
    for ((rule, resource, message), (want_rule, want_url, why)) in failures.iter().zip([
        (
            "file",
            from_payload.as_str(),
            "127.0.0.2 is a loopback address in 127.0.0.0/8",
        ),
        (
            "from_api",
            api_blocked.as_str(),
            "127.0.0.2 is a loopback address in 127.0.0.0/8",
        ),
        (
            "from_api",
            metadata,
            "169.254.169.254 is a cloud metadata service address",
        ),
    ]) {
        assert_eq!(rule, want_rule);
        assert_eq!(resource, want_url, "failedResource is the rendered URL");
        assert!(
            message.contains(&format!(
                "HttpAction request to {want_url} refused by the egress policy: {why}"
            )),
            "{message}"
        );
        assert!(message.contains("allowed_endpoints"), "{message}");
    }
}
