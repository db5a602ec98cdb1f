//! A tumbling-window application (COUNT per car per 1-second STEP of ROWTIME) running in
//! `weir run`, SIGKILLed while records flow and windows are open, then started again on the
//! same storage: the application resumes by itself (it is RUNNING in the catalog) from its
//! checkpoint, and every record is counted in some emitted window, at least once.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

const CODE: &str = r#"CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (CAR VARCHAR(8), N INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM CAR, COUNT(*)
        FROM "SOURCE_SQL_STREAM_001"
        GROUP BY CAR, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND);"#;

fn kda(addr: &str, op: &str, body: Value) -> Value {
    let (status, v) = common::call_target(addr, &format!("KinesisAnalytics_20150814.{op}"), &body)
        .expect("analytics call");
    assert_eq!(status, 200, "{op}: {v}");
    v
}

fn put(addr: &str, from: usize, to: usize) {
    let records: Vec<Value> = (from..to)
        .map(|i| {
            let data = json!({"car": format!("c{}", i % 5), "id": i}).to_string();
            json!({
                "Data": base64::engine::general_purpose::STANDARD.encode(data),
                "PartitionKey": format!("k{i}"),
            })
        })
        .collect();
    let (status, v) = common::call(
        addr,
        "PutRecords",
        &json!({"StreamName": "cars", "Records": records}),
    )
    .expect("put");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["FailedRecordCount"], 0, "{v}");
}

/// Every row the application wrote to `counts`.
fn output(addr: &str) -> Vec<Value> {
    let (_, it) = common::call(
        addr,
        "GetShardIterator",
        &json!({"StreamName": "counts", "ShardId": "shardId-000000000000",
            "ShardIteratorType": "TRIM_HORIZON"}),
    )
    .expect("iterator");
    let (_, page) = common::call(
        addr,
        "GetRecords",
        &json!({"ShardIterator": it["ShardIterator"], "Limit": 10000}),
    )
    .expect("records");
    page["Records"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let data = base64::engine::general_purpose::STANDARD
                .decode(r["Data"].as_str()?)
                .ok()?;
            serde_json::from_slice(&data).ok()
        })
        .collect()
}

/// COUNT summed over the emitted windows, by car.
fn counted(rows: &[Value]) -> BTreeMap<String, u64> {
    let mut by_car = BTreeMap::new();
    for r in rows {
        *by_car
            .entry(r["CAR"].as_str().unwrap_or_default().to_owned())
            .or_default() += r["N"].as_u64().unwrap_or_default();
    }
    by_car
}

#[test]
fn a_sigkill_loses_no_window_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text =
        common::base_config("") + "\n[streams.cars]\nshards = 1\n\n[streams.counts]\nshards = 1\n";
    let config = common::write_config(dir.path(), &text);
    let mut weir = common::Weir::start(&config);
    let api = weir.api.clone();
    kda(
        &api,
        "CreateApplication",
        json!({"ApplicationName": "tumbling", "ApplicationCode": CODE,
            "Inputs": [{"NamePrefix": "SOURCE_SQL_STREAM",
                "KinesisStreamsInput": {
                    "ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/cars",
                    "RoleARN": "arn:aws:iam::000000000000:role/kda"},
                "InputSchema": {"RecordFormat": {"RecordFormatType": "JSON",
                    "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
                    "RecordColumns": [{"Name": "CAR", "Mapping": "$.car", "SqlType": "VARCHAR(8)"}]}}],
            "Outputs": [{"Name": "DESTINATION_SQL_STREAM",
                "KinesisStreamsOutput": {
                    "ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/counts",
                    "RoleARN": "arn:aws:iam::000000000000:role/kda"},
                "DestinationSchema": {"RecordFormatType": "JSON"}}]}),
    );
    kda(
        &api,
        "StartApplication",
        json!({"ApplicationName": "tumbling", "InputConfigurations": [{"Id": "1.1",
            "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"}}]}),
    );
    put(&api, 0, 100);
    // A first window emitted (so a checkpoint holds positions and state), then more records
    // into open windows, then the kill.
    let deadline = Instant::now() + Duration::from_secs(20);
    while output(&api).is_empty() {
        assert!(Instant::now() < deadline, "no window was emitted");
        std::thread::sleep(Duration::from_millis(20));
    }
    put(&api, 100, 200);
    weir.child.kill().expect("SIGKILL");
    weir.child.wait().expect("wait");
    drop(weir);

    let weir = common::Weir::start(&config);
    put(&weir.api, 200, 250);
    let want: BTreeMap<String, u64> = (0..5).map(|c| (format!("c{c}"), 50)).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = counted(&output(&weir.api));
        if want
            .iter()
            .all(|(car, n)| got.get(car).is_some_and(|g| g >= n))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "records not counted after the restart: {got:?}, want at least {want:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let d = kda(
        &weir.api,
        "DescribeApplication",
        json!({"ApplicationName": "tumbling"}),
    );
    assert_eq!(d["ApplicationDetail"]["ApplicationStatus"], "RUNNING");
    assert!(
        dir.path()
            .join("data/analytics/checkpoints/tumbling.json")
            .is_file(),
        "the checkpoint is in STORAGE/analytics/checkpoints"
    );
}
