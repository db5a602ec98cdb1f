//! The Kinesis Data Analytics application API (`KinesisAnalytics_20150814.*`) on a real
//! `weir run`: an application made over HTTP against the host's own streams, its versions and
//! states, and the catalog kept across a stop and start of the host (SIGTERM) and a SIGKILL.

mod common;

use serde_json::{json, Value};

fn kda(addr: &str, op: &str, body: Value) -> (u16, Value) {
    common::call_target(addr, &format!("KinesisAnalytics_20150814.{op}"), &body)
        .expect("analytics call")
}

fn ok(addr: &str, op: &str, body: Value) -> Value {
    let (status, v) = kda(addr, op, body);
    assert_eq!(status, 200, "{op}: {v}");
    v
}

fn error(addr: &str, op: &str, body: Value) -> (String, String) {
    let (status, v) = kda(addr, op, body);
    assert_eq!(status, 400, "{op}: {v}");
    (
        v["__type"].as_str().unwrap_or_default().to_owned(),
        v["message"].as_str().unwrap_or_default().to_owned(),
    )
}

const ROLE: &str = "arn:aws:iam::000000000000:role/kda";

fn input(stream: &str) -> Value {
    json!({
        "NamePrefix": "SOURCE_SQL_STREAM",
        "KinesisStreamsInput": {
            "ResourceARN": format!("arn:aws:kinesis:us-east-1:000000000000:stream/{stream}"),
            "RoleARN": ROLE},
        "InputSchema": {
            "RecordFormat": {"RecordFormatType": "JSON",
                "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
            "RecordEncoding": "UTF-8",
            "RecordColumns": [{"Name": "SPEED", "Mapping": "$.speed", "SqlType": "INTEGER"}]
        }
    })
}

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let text = common::base_config("")
        + "\n[streams.cars]\nshards = 1\n\n[streams.speeding]\nshards = 1\n";
    common::write_config(dir, &text)
}

#[test]
fn applications_over_http_survive_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path());
    let weir = common::Weir::start(&config);
    let api = weir.api.clone();

    let created = ok(
        &api,
        "CreateApplication",
        json!({"ApplicationName": "speeds", "ApplicationDescription": "speeding cars",
            "ApplicationCode": "CREATE OR REPLACE STREAM \"DEST\" (SPEED INTEGER);",
            "Inputs": [input("cars")],
            "Outputs": [{"Name": "DEST", "DestinationSchema": {"RecordFormatType": "CSV"},
                "KinesisStreamsOutput": {
                    "ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/speeding",
                    "RoleARN": ROLE}}]}),
    );
    assert_eq!(
        created["ApplicationSummary"]["ApplicationARN"],
        "arn:aws:kinesisanalytics:us-east-1:000000000000:application/speeds"
    );
    // An input on a stream the host does not have.
    let (kind, message) = error(
        &api,
        "CreateApplication",
        json!({"ApplicationName": "other", "Inputs": [input("trucks")]}),
    );
    assert_eq!(kind, "InvalidArgumentException");
    assert!(message.contains("stream trucks"), "{message}");
    // A stale version, then the right one.
    let update = |version: i64| {
        json!({"ApplicationName": "speeds", "CurrentApplicationVersionId": version,
            "ApplicationUpdate": {"ApplicationCodeUpdate": "-- v2"}})
    };
    let (kind, _) = error(&api, "UpdateApplication", update(7));
    assert_eq!(kind, "ConcurrentModificationException");
    ok(&api, "UpdateApplication", update(1));
    ok(
        &api,
        "StartApplication",
        json!({"ApplicationName": "speeds", "InputConfigurations": [{"Id": "1.1",
            "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"}}]}),
    );
    let (status, _) = weir.terminate();
    assert!(status.success(), "weir run exited with {status}");
    assert!(
        dir.path()
            .join("data/analytics/applications.json")
            .is_file(),
        "the catalog is in STORAGE/analytics/applications.json"
    );

    // After a clean stop, and after a SIGKILL, the application is as it was.
    let mut weir = common::Weir::start(&config);
    let d = ok(
        &weir.api,
        "DescribeApplication",
        json!({"ApplicationName": "speeds"}),
    )["ApplicationDetail"]
        .clone();
    assert_eq!(d["ApplicationVersionId"], 2);
    assert_eq!(d["ApplicationStatus"], "RUNNING");
    assert_eq!(d["ApplicationCode"], "-- v2");
    assert_eq!(d["ApplicationDescription"], "speeding cars");
    assert_eq!(
        d["OutputDescriptions"][0]["DestinationSchema"]["RecordFormatType"],
        "CSV"
    );
    ok(
        &weir.api,
        "StopApplication",
        json!({"ApplicationName": "speeds"}),
    );
    weir.child.kill().expect("SIGKILL");
    weir.child.wait().expect("wait");
    drop(weir);

    let weir = common::Weir::start(&config);
    let d2 = ok(
        &weir.api,
        "DescribeApplication",
        json!({"ApplicationName": "speeds"}),
    )["ApplicationDetail"]
        .clone();
    assert_eq!(d2["ApplicationStatus"], "READY");
    assert_eq!(d2["CreateTimestamp"], d["CreateTimestamp"]);
    ok(
        &weir.api,
        "DeleteApplication",
        json!({"ApplicationName": "speeds", "CreateTimestamp": d2["CreateTimestamp"]}),
    );
    let (kind, message) = error(
        &weir.api,
        "DescribeApplication",
        json!({"ApplicationName": "speeds"}),
    );
    assert_eq!(kind, "ResourceNotFoundException");
    assert_eq!(message, "Application speeds is not found.");
    let l = ok(&weir.api, "ListApplications", json!({}));
    assert_eq!(
        l,
        json!({"ApplicationSummaries": [], "HasMoreApplications": false})
    );
}
