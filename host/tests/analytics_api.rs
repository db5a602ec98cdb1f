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

/// A reference data source read from the folder store (`STORAGE/s3/BUCKET/KEY`, no `[s3]`)
/// when the application starts, joined with the stream; records go in and out through the
/// Kinesis API.
#[test]
fn a_reference_table_from_the_folder_store_joins_the_stream() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path());
    let weir = common::Weir::start(&config);
    let api = weir.api.clone();
    let code = r#"CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (CITY VARCHAR(16), DEPT INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "SOURCE_SQL_STREAM_001".CITY, "r".DEPT
    FROM "SOURCE_SQL_STREAM_001" JOIN "CITIES" AS "r"
    ON "SOURCE_SQL_STREAM_001".CITY = "r".CITY;"#;
    let mut inp = input("cars");
    inp["InputSchema"]["RecordColumns"] =
        json!([{"Name": "CITY", "Mapping": "$.city", "SqlType": "VARCHAR(16)"}]);
    ok(
        &api,
        "CreateApplication",
        json!({"ApplicationName": "join", "ApplicationCode": code, "Inputs": [inp],
            "Outputs": [{"Name": "DESTINATION_SQL_STREAM",
                "DestinationSchema": {"RecordFormatType": "JSON"},
                "KinesisStreamsOutput": {
                    "ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/speeding",
                    "RoleARN": ROLE}}]}),
    );
    ok(
        &api,
        "AddApplicationReferenceDataSource",
        json!({"ApplicationName": "join", "CurrentApplicationVersionId": 1,
            "ReferenceDataSource": {"TableName": "CITIES",
                "S3ReferenceDataSource": {"BucketARN": "arn:aws:s3:::ref",
                    "FileKey": "data/cities.csv", "ReferenceRoleARN": ROLE},
                "ReferenceSchema": {"RecordFormat": {"RecordFormatType": "CSV",
                    "MappingParameters": {"CSVMappingParameters":
                        {"RecordRowDelimiter": "\n", "RecordColumnDelimiter": ","}}},
                    "RecordColumns": [{"Name": "CITY", "SqlType": "VARCHAR(16)"},
                        {"Name": "DEPT", "SqlType": "INTEGER"}]}}}),
    );
    let start = json!({"ApplicationName": "join", "InputConfigurations": [{"Id": "1.1",
        "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"}}]});
    // The object is not there yet: the start is refused and the application stays READY.
    let (kind, message) = error(&api, "StartApplication", start.clone());
    assert_eq!(kind, "InvalidApplicationConfigurationException");
    assert!(message.contains("s3://ref/data/cities.csv"), "{message}");
    let object = dir.path().join("data/s3/ref/data/cities.csv");
    std::fs::create_dir_all(object.parent().expect("folder")).expect("mkdir");
    std::fs::write(&object, "paris,75\nlyon,69\n").expect("object");
    ok(&api, "StartApplication", start);
    let records: Vec<Value> = ["paris", "nice", "lyon"]
        .iter()
        .map(|c| {
            json!({"Data": base64::engine::general_purpose::STANDARD
                .encode(json!({"city": c}).to_string()), "PartitionKey": c})
        })
        .collect();
    let (status, v) = common::call(
        &api,
        "PutRecords",
        &json!({"StreamName": "cars", "Records": records}),
    )
    .expect("put");
    assert_eq!(status, 200, "{v}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let rows = loop {
        let (_, it) = common::call(
            &api,
            "GetShardIterator",
            &json!({"StreamName": "speeding", "ShardId": "shardId-000000000000",
                "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .expect("iterator");
        let (_, page) = common::call(
            &api,
            "GetRecords",
            &json!({"ShardIterator": it["ShardIterator"]}),
        )
        .expect("records");
        let rows: Vec<Value> = page["Records"]
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
            .collect();
        if rows.len() >= 2 || std::time::Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(
        rows,
        [
            json!({"CITY": "paris", "DEPT": 75}),
            json!({"CITY": "lyon", "DEPT": 69})
        ]
    );
}

/// An output to a delivery stream (`KinesisFirehoseOutput`): the application's CSV records
/// reach the delivery stream's bucket (the folder store under `STORAGE/s3`).
#[test]
fn an_output_to_a_delivery_stream_reaches_its_bucket() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path());
    let weir = common::Weir::start(&config);
    let api = weir.api.clone();
    let (status, v) = common::call_target(
        &api,
        "Firehose_20150804.CreateDeliveryStream",
        &json!({"DeliveryStreamName": "fast",
            "ExtendedS3DestinationConfiguration": {
                "RoleARN": "arn:aws:iam::000000000000:role/firehose",
                "BucketARN": "arn:aws:s3:::archive",
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}}}),
    )
    .expect("create delivery stream");
    assert_eq!(status, 200, "{v}");
    let code = r#"CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (SPEED INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM SPEED FROM "SOURCE_SQL_STREAM_001" WHERE SPEED > 100;"#;
    let out = json!({"Name": "DESTINATION_SQL_STREAM",
        "DestinationSchema": {"RecordFormatType": "CSV"},
        "KinesisFirehoseOutput": {
            "ResourceARN": "arn:aws:firehose:us-east-1:000000000000:deliverystream/fast",
            "RoleARN": ROLE}});
    // A delivery stream the host does not have is refused.
    let mut missing = out.clone();
    missing["KinesisFirehoseOutput"]["ResourceARN"] =
        "arn:aws:firehose:us-east-1:000000000000:deliverystream/slow".into();
    let (kind, message) = error(
        &api,
        "CreateApplication",
        json!({"ApplicationName": "fh", "Outputs": [missing]}),
    );
    assert_eq!(kind, "InvalidArgumentException");
    assert!(message.contains("delivery stream slow"), "{message}");
    ok(
        &api,
        "CreateApplication",
        json!({"ApplicationName": "fh", "ApplicationCode": code,
            "Inputs": [input("cars")], "Outputs": [out]}),
    );
    ok(
        &api,
        "StartApplication",
        json!({"ApplicationName": "fh", "InputConfigurations": [{"Id": "1.1",
            "InputStartingPositionConfiguration": {"InputStartingPosition": "NOW"}}]}),
    );
    let records: Vec<Value> = [130, 90, 150]
        .iter()
        .map(|s| {
            json!({"Data": base64::engine::general_purpose::STANDARD
                .encode(json!({"speed": s}).to_string()), "PartitionKey": "k"})
        })
        .collect();
    // NOW: records put once the start is saved are read (the start is synchronous).
    let (status, v) = common::call(
        &api,
        "PutRecords",
        &json!({"StreamName": "cars", "Records": records}),
    )
    .expect("put");
    assert_eq!(status, 200, "{v}");
    let bucket = dir.path().join("data/s3/archive");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let text: String = common::files(&bucket)
            .values()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        if text.lines().count() >= 2 {
            let mut lines: Vec<&str> = text.lines().collect();
            lines.sort_unstable();
            assert_eq!(lines, ["130", "150"]);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the bucket holds {text:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A delivery stream as input (`KinesisFirehoseInput`): the application reads what
/// PutRecordBatch put into it, from TRIM_HORIZON, while the delivery stream delivers too.
#[test]
fn a_delivery_stream_as_input() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path());
    let weir = common::Weir::start(&config);
    let api = weir.api.clone();
    let (status, v) = common::call_target(
        &api,
        "Firehose_20150804.CreateDeliveryStream",
        &json!({"DeliveryStreamName": "incoming",
            "ExtendedS3DestinationConfiguration": {
                "RoleARN": "arn:aws:iam::000000000000:role/firehose",
                "BucketARN": "arn:aws:s3:::raw",
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}}}),
    )
    .expect("create delivery stream");
    assert_eq!(status, 200, "{v}");
    // The delivery stream becomes ACTIVE after its transition.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let records: Vec<Value> = [130, 90, 150]
            .iter()
            .map(|s| {
                json!({"Data": base64::engine::general_purpose::STANDARD
                    .encode(json!({"speed": s}).to_string())})
            })
            .collect();
        let (status, v) = common::call_target(
            &api,
            "Firehose_20150804.PutRecordBatch",
            &json!({"DeliveryStreamName": "incoming", "Records": records}),
        )
        .expect("put");
        if status == 200 {
            assert_eq!(v["FailedPutCount"], 0, "{v}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{v}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut inp = input("cars");
    inp.as_object_mut()
        .expect("input")
        .remove("KinesisStreamsInput");
    inp["KinesisFirehoseInput"] = json!({
        "ResourceARN": "arn:aws:firehose:us-east-1:000000000000:deliverystream/incoming",
        "RoleARN": ROLE});
    let code = r#"CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (SPEED INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM SPEED FROM "SOURCE_SQL_STREAM_001" WHERE SPEED > 100;"#;
    ok(
        &api,
        "CreateApplication",
        json!({"ApplicationName": "fromfh", "ApplicationCode": code, "Inputs": [inp],
            "Outputs": [{"Name": "DESTINATION_SQL_STREAM",
                "DestinationSchema": {"RecordFormatType": "JSON"},
                "KinesisStreamsOutput": {
                    "ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/speeding",
                    "RoleARN": ROLE}}]}),
    );
    ok(
        &api,
        "StartApplication",
        json!({"ApplicationName": "fromfh", "InputConfigurations": [{"Id": "1.1",
            "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"}}]}),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (_, it) = common::call(
            &api,
            "GetShardIterator",
            &json!({"StreamName": "speeding", "ShardId": "shardId-000000000000",
                "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .expect("iterator");
        let (_, page) = common::call(
            &api,
            "GetRecords",
            &json!({"ShardIterator": it["ShardIterator"]}),
        )
        .expect("records");
        let rows: Vec<Value> = page["Records"]
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
            .collect();
        if rows.len() >= 2 {
            assert_eq!(rows, [json!({"SPEED": 130}), json!({"SPEED": 150})]);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{rows:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
