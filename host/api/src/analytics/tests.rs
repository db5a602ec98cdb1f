//! The analytics API on a real catalog in a temporary folder and a real (memory-backed)
//! streams engine: model errors in AWS's words, versions, ids, states, tags, persistence.

use std::process::Command;
use std::sync::Arc;

use super::*;
use crate::{ApiConfig, ApiState};

fn setup() -> (tempfile::TempDir, ApiState) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = weir_streams::StreamsConfig::new("/weir");
    config.transition_delay = std::time::Duration::ZERO;
    let streams =
        weir_streams::Streams::open_with_backend(config, Arc::new(weir_streams::MemBackend::new()))
            .expect("engine");
    streams
        .create_stream("in", 1, false, Default::default())
        .expect("stream in");
    streams
        .create_stream("out", 1, false, Default::default())
        .expect("stream out");
    let an = Analytics::open(&dir.path().join("analytics")).expect("catalog");
    let state = ApiState::new(streams, ApiConfig::default()).with_analytics(an);
    (dir, state)
}

fn call(
    state: &ApiState,
    op: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    let op = AnalyticsOperation::from_target(&format!("KinesisAnalytics_20150814.{op}"))
        .expect("an operation");
    let body: Val = serde_json::from_value(body).expect("body");
    let an = state.analytics.as_ref().expect("analytics");
    dispatch(state, an, op, &body).map(|v| to_json(&v))
}

fn err(r: Result<serde_json::Value, ApiError>) -> ApiError {
    r.expect_err("an error")
}

const ARN_IN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/in";
const ARN_OUT: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/out";
const ROLE: &str = "arn:aws:iam::000000000000:role/kda";

fn input() -> serde_json::Value {
    serde_json::json!({
        "NamePrefix": "SOURCE_SQL_STREAM",
        "KinesisStreamsInput": {"ResourceARN": ARN_IN, "RoleARN": ROLE},
        "InputSchema": {
            "RecordFormat": {"RecordFormatType": "JSON",
                "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
            "RecordEncoding": "UTF-8",
            "RecordColumns": [
                {"Name": "TICKER", "Mapping": "$.ticker", "SqlType": "VARCHAR(8)"},
                {"Name": "PRICE", "Mapping": "$.price", "SqlType": "REAL"}
            ]
        }
    })
}

fn output(name: &str) -> serde_json::Value {
    serde_json::json!({
        "Name": name,
        "KinesisStreamsOutput": {"ResourceARN": ARN_OUT, "RoleARN": ROLE},
        "DestinationSchema": {"RecordFormatType": "JSON"}
    })
}

fn describe(state: &ApiState, name: &str) -> serde_json::Value {
    call(
        state,
        "DescribeApplication",
        serde_json::json!({"ApplicationName": name}),
    )
    .expect("describe")["ApplicationDetail"]
        .clone()
}

#[test]
fn every_operation_has_its_input_in_the_table() {
    let ops = MODEL.operations();
    for op in AnalyticsOperation::ALL {
        assert!(ops.iter().any(|o| o == op.name()), "{op:?}");
        assert_eq!(
            AnalyticsOperation::from_target(&format!("KinesisAnalytics_20150814.{}", op.name())),
            Some(op)
        );
    }
    assert_eq!(
        AnalyticsOperation::from_target("KinesisAnalytics_20150814.Nope"),
        None
    );
    assert_eq!(
        AnalyticsOperation::from_target("Kinesis_20131202.CreateApplication"),
        None
    );
}

#[test]
fn create_describe_and_ids() {
    let (_dir, state) = setup();
    let r = call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "app", "ApplicationCode": "CREATE STREAM x (a INT);",
            "Inputs": [input()], "Outputs": [output("DEST"), output("DEST2")],
            "Tags": [{"Key": "team", "Value": "a"}]}),
    )
    .expect("create");
    assert_eq!(
        r["ApplicationSummary"],
        serde_json::json!({"ApplicationName": "app",
            "ApplicationARN": "arn:aws:kinesisanalytics:us-east-1:000000000000:application/app",
            "ApplicationStatus": "READY"})
    );
    let d = describe(&state, "app");
    assert_eq!(d["ApplicationVersionId"], 1);
    assert_eq!(d["InputDescriptions"][0]["InputId"], "1.1");
    assert_eq!(
        d["InputDescriptions"][0]["InAppStreamNames"],
        serde_json::json!(["SOURCE_SQL_STREAM_001"])
    );
    assert_eq!(d["InputDescriptions"][0]["InputParallelism"]["Count"], 1);
    assert_eq!(
        d["InputDescriptions"][0]["KinesisStreamsInputDescription"]["ResourceARN"],
        ARN_IN
    );
    assert_eq!(d["OutputDescriptions"][1]["OutputId"], "1.2");
    assert_eq!(d["ApplicationCode"], "CREATE STREAM x (a INT);");
    assert!(d["CreateTimestamp"].as_f64().is_some());
    // The same name again is in use.
    let e = err(call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "app"}),
    ));
    assert_eq!(e.kind, ErrorKind::ResourceInUse, "{e}");
}

#[test]
fn model_violations_are_validation_errors_in_aws_words() {
    let (_dir, state) = setup();
    let e = err(call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "a b"}),
    ));
    assert_eq!(e.kind, ErrorKind::Validation);
    assert_eq!(
        e.message,
        "1 validation error detected: Value 'a b' at 'applicationName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );
    let e = err(call(
        &state,
        "ListApplications",
        serde_json::json!({"Limit": 51}),
    ));
    assert!(
        e.message
            .contains("Member must have value less than or equal to 50"),
        "{e}"
    );
    let e = err(call(
        &state,
        "StartApplication",
        serde_json::json!({"ApplicationName": "x", "InputConfigurations": [
            {"Id": "1.1", "InputStartingPositionConfiguration": {"InputStartingPosition": "LATEST"}}]}),
    ));
    assert!(
        e.message.contains(
            "at 'inputConfigurations.1.member.inputStartingPositionConfiguration.inputStartingPosition' \
             failed to satisfy constraint: Member must satisfy enum value set: [NOW, TRIM_HORIZON, LAST_STOPPED_POINT]"
        ),
        "{e}"
    );
    // The possessive quantifiers of the ARN pattern compile and match.
    let e = err(call(
        &state,
        "ListTagsForResource",
        serde_json::json!({"ResourceARN": "arn:aws:kinesis:x"}),
    ));
    assert_eq!(e.kind, ErrorKind::Validation, "{e}");
    let e = err(call(
        &state,
        "ListTagsForResource",
        serde_json::json!({"ResourceARN": "arn:aws:kinesisanalytics:us-east-1:000000000000:application/none"}),
    ));
    assert_eq!(e.kind, ErrorKind::ResourceNotFound, "{e}");
}

#[test]
fn semantic_checks_are_invalid_argument() {
    let (_dir, state) = setup();
    let mut bad = input();
    bad["KinesisStreamsInput"]["ResourceARN"] =
        "arn:aws:kinesis:us-east-1:000000000000:stream/missing".into();
    let e = err(call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "a", "Inputs": [bad]}),
    ));
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(e.message.contains("stream missing"), "{e}");
    let mut bad = input();
    bad["InputSchema"]["RecordColumns"][1]["SqlType"] = "FLOATY".into();
    let e = err(call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "a", "Inputs": [bad]}),
    ));
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(
        e.message
            .starts_with("inputs.1.member.inputSchema.recordColumns.2.member.sqlType: "),
        "{e}"
    );
    let mut bad = input();
    bad["InputSchema"]["RecordFormat"]["MappingParameters"] = serde_json::json!({
        "CSVMappingParameters": {"RecordRowDelimiter": "\n", "RecordColumnDelimiter": ","}});
    let e = err(call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "a", "Inputs": [bad]}),
    ));
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(
        e.message
            .contains("CSVMappingParameters cannot be used with RecordFormatType JSON"),
        "{e}"
    );
    let mut bad = input();
    bad["InputSchema"]["RecordColumns"][0]["Name"] = "A B".into();
    let e = err(call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "a", "Inputs": [bad]}),
    ));
    assert_eq!(e.kind, ErrorKind::Validation, "{e}");
    assert!(
        e.message
            .contains("at 'inputs.1.member.inputSchema.recordColumns.1.member.name'"),
        "{e}"
    );
    let e = err(call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "a", "Inputs": [input(), input()]}),
    ));
    assert!(e.message.contains("at most 1 inputs"), "{e}");
    let mut two = output("D");
    two["LambdaOutput"] = serde_json::json!({"ResourceARN": "arn:aws:lambda:us-east-1:000000000000:function:f", "RoleARN": ROLE});
    let e = err(call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "a", "Outputs": [two]}),
    ));
    assert!(e.message.contains("exactly one of"), "{e}");
    // Nothing was created by the refusals.
    let l = call(&state, "ListApplications", serde_json::json!({})).expect("list");
    assert_eq!(l["ApplicationSummaries"], serde_json::json!([]));
}

#[test]
fn versions_states_and_parts() {
    let (dir, state) = setup();
    call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "app"}),
    )
    .expect("create");
    let stale = err(call(
        &state,
        "AddApplicationInput",
        serde_json::json!({"ApplicationName": "app", "CurrentApplicationVersionId": 2, "Input": input()}),
    ));
    assert_eq!(stale.kind, ErrorKind::ConcurrentModification, "{stale}");
    // No input: cannot start.
    let e = err(call(
        &state,
        "StartApplication",
        serde_json::json!({"ApplicationName": "app", "InputConfigurations": []}),
    ));
    assert_eq!(e.kind, ErrorKind::InvalidApplicationConfiguration, "{e}");
    call(
        &state,
        "AddApplicationInput",
        serde_json::json!({"ApplicationName": "app", "CurrentApplicationVersionId": 1, "Input": input()}),
    )
    .expect("add input");
    let d = describe(&state, "app");
    assert_eq!(d["ApplicationVersionId"], 2);
    assert_eq!(d["InputDescriptions"][0]["InputId"], "2.1");
    call(
        &state,
        "AddApplicationOutput",
        serde_json::json!({"ApplicationName": "app", "CurrentApplicationVersionId": 2, "Output": output("DEST")}),
    )
    .expect("add output");
    let e = err(call(
        &state,
        "AddApplicationOutput",
        serde_json::json!({"ApplicationName": "app", "CurrentApplicationVersionId": 3, "Output": output("DEST")}),
    ));
    assert!(e.message.contains("already writes"), "{e}");
    call(
        &state,
        "AddApplicationReferenceDataSource",
        serde_json::json!({"ApplicationName": "app", "CurrentApplicationVersionId": 3, "ReferenceDataSource": {
            "TableName": "COMPANY",
            "S3ReferenceDataSource": {"BucketARN": "arn:aws:s3:::ref", "FileKey": "c.csv", "ReferenceRoleARN": ROLE},
            "ReferenceSchema": {"RecordFormat": {"RecordFormatType": "CSV", "MappingParameters":
                {"CSVMappingParameters": {"RecordRowDelimiter": "\n", "RecordColumnDelimiter": ","}}},
                "RecordColumns": [{"Name": "TICKER", "SqlType": "VARCHAR(8)"}]}}}),
    )
    .expect("add reference");
    call(
        &state,
        "AddApplicationInputProcessingConfiguration",
        serde_json::json!({"ApplicationName": "app", "CurrentApplicationVersionId": 4, "InputId": "2.1",
            "InputProcessingConfiguration": {"InputLambdaProcessor": {
                "ResourceARN": "arn:aws:lambda:us-east-1:000000000000:function:pre", "RoleARN": ROLE}}}),
    )
    .expect("add processing");
    call(
        &state,
        "UpdateApplication",
        serde_json::json!({"ApplicationName": "app", "CurrentApplicationVersionId": 5, "ApplicationUpdate": {
            "ApplicationCodeUpdate": "-- v6",
            "InputUpdates": [{"InputId": "2.1", "NamePrefixUpdate": "SRC"}]}}),
    )
    .expect("update");
    let d = describe(&state, "app");
    assert_eq!(d["ApplicationVersionId"], 6);
    assert_eq!(d["ApplicationCode"], "-- v6");
    assert_eq!(
        d["InputDescriptions"][0]["InAppStreamNames"],
        serde_json::json!(["SRC_001"])
    );
    assert_eq!(
        d["InputDescriptions"][0]["InputProcessingConfigurationDescription"]
            ["InputLambdaProcessorDescription"]["ResourceARN"],
        "arn:aws:lambda:us-east-1:000000000000:function:pre"
    );
    assert_eq!(
        d["ReferenceDataSourceDescriptions"][0]["ReferenceId"],
        "4.1"
    );
    // Start from TRIM_HORIZON: the version stays, the position is shown.
    let e = err(call(
        &state,
        "StopApplication",
        serde_json::json!({"ApplicationName": "app"}),
    ));
    assert_eq!(e.kind, ErrorKind::ResourceInUse, "{e}");
    let e = err(call(
        &state,
        "StartApplication",
        serde_json::json!({"ApplicationName": "app", "InputConfigurations": [
            {"Id": "9.9", "InputStartingPositionConfiguration": {"InputStartingPosition": "NOW"}}]}),
    ));
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
    call(
        &state,
        "StartApplication",
        serde_json::json!({"ApplicationName": "app", "InputConfigurations": [
            {"Id": "2.1", "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"}}]}),
    )
    .expect("start");
    let d = describe(&state, "app");
    assert_eq!(d["ApplicationStatus"], "RUNNING");
    assert_eq!(d["ApplicationVersionId"], 6);
    assert_eq!(
        d["InputDescriptions"][0]["InputStartingPositionConfiguration"]["InputStartingPosition"],
        "TRIM_HORIZON"
    );
    let e = err(call(
        &state,
        "StartApplication",
        serde_json::json!({"ApplicationName": "app", "InputConfigurations": []}),
    ));
    assert_eq!(e.kind, ErrorKind::ResourceInUse, "{e}");
    // A running application takes updates.
    call(
        &state,
        "DeleteApplicationOutput",
        serde_json::json!({"ApplicationName": "app", "CurrentApplicationVersionId": 6, "OutputId": "3.1"}),
    )
    .expect("delete output");
    let e = err(call(
        &state,
        "DeleteApplicationOutput",
        serde_json::json!({"ApplicationName": "app", "CurrentApplicationVersionId": 7, "OutputId": "3.1"}),
    ));
    assert_eq!(e.kind, ErrorKind::ResourceNotFound, "{e}");
    call(
        &state,
        "StopApplication",
        serde_json::json!({"ApplicationName": "app"}),
    )
    .expect("stop");

    // A restart (a new catalog over the same folder) keeps it all.
    let again = Analytics::open(&dir.path().join("analytics")).expect("reopen");
    let state2 = ApiState::new(state.streams.clone(), ApiConfig::default()).with_analytics(again);
    let d2 = describe(&state2, "app");
    assert_eq!(d2["ApplicationVersionId"], 7);
    assert_eq!(d2["ApplicationStatus"], "READY");
    assert_eq!(d2, describe(&state, "app"));

    // Delete needs the creation time.
    let e = err(call(
        &state2,
        "DeleteApplication",
        serde_json::json!({"ApplicationName": "app", "CreateTimestamp": 1}),
    ));
    assert_eq!(e.kind, ErrorKind::ConcurrentModification, "{e}");
    call(
        &state2,
        "DeleteApplication",
        serde_json::json!({"ApplicationName": "app", "CreateTimestamp": d2["CreateTimestamp"]}),
    )
    .expect("delete");
    let e = err(call(
        &state2,
        "DescribeApplication",
        serde_json::json!({"ApplicationName": "app"}),
    ));
    assert_eq!(e.kind, ErrorKind::ResourceNotFound);
    assert_eq!(e.message, "Application app is not found.");
}

#[test]
fn code_that_does_not_parse_is_refused_at_create_and_update() {
    let (_dir, state) = setup();
    let e = err(call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "c", "ApplicationCode": "CREATE STREAM oops oops;"}),
    ));
    assert_eq!(e.kind, ErrorKind::CodeValidation, "{e}");
    assert!(
        e.message.ends_with(')') && e.message.contains("(line 1, column "),
        "{e}"
    );
    call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "c", "ApplicationCode": ""}),
    )
    .expect("no code yet");
    let e = err(call(
        &state,
        "UpdateApplication",
        serde_json::json!({"ApplicationName": "c", "CurrentApplicationVersionId": 1,
            "ApplicationUpdate": {"ApplicationCodeUpdate": "SELECT"}}),
    ));
    assert_eq!(e.kind, ErrorKind::CodeValidation, "{e}");
    assert_eq!(describe(&state, "c")["ApplicationVersionId"], 1);
}

#[test]
fn list_pages_by_name() {
    let (_dir, state) = setup();
    for n in ["c", "a", "b"] {
        call(
            &state,
            "CreateApplication",
            serde_json::json!({"ApplicationName": n}),
        )
        .expect("create");
    }
    let l = call(&state, "ListApplications", serde_json::json!({"Limit": 2})).expect("list");
    let names: Vec<&str> = l["ApplicationSummaries"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["ApplicationName"].as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(l["HasMoreApplications"], true);
    let l = call(
        &state,
        "ListApplications",
        serde_json::json!({"Limit": 2, "ExclusiveStartApplicationName": "b"}),
    )
    .expect("list");
    assert_eq!(l["ApplicationSummaries"][0]["ApplicationName"], "c");
    assert_eq!(l["HasMoreApplications"], false);
}

#[test]
fn tags() {
    let (_dir, state) = setup();
    let arn = call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "t"}),
    )
    .expect("create")["ApplicationSummary"]["ApplicationARN"]
        .clone();
    call(
        &state,
        "TagResource",
        serde_json::json!({"ResourceARN": arn, "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b"}]}),
    )
    .expect("tag");
    call(
        &state,
        "UntagResource",
        serde_json::json!({"ResourceARN": arn, "TagKeys": ["a"]}),
    )
    .expect("untag");
    let l = call(
        &state,
        "ListTagsForResource",
        serde_json::json!({"ResourceARN": arn}),
    )
    .expect("list");
    assert_eq!(l["Tags"], serde_json::json!([{"Key": "b", "Value": ""}]));
    let many: Vec<serde_json::Value> = (0..50)
        .map(|i| serde_json::json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    let e = err(call(
        &state,
        "TagResource",
        serde_json::json!({"ResourceARN": arn, "Tags": many}),
    ));
    assert_eq!(e.kind, ErrorKind::TooManyTags, "{e}");
    let e = err(call(
        &state,
        "TagResource",
        serde_json::json!({"ResourceARN": arn, "Tags": [{"Key": "aws:x", "Value": "1"}]}),
    ));
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
    // Tags make no new version.
    assert_eq!(describe(&state, "t")["ApplicationVersionId"], 1);
}

/// The checked-in table is botocore's model (see `actions::model::tests::table_matches_botocore`).
#[test]
fn table_matches_botocore() {
    let python = std::env::var("WEIR_BOTOCORE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/model/gen_kinesisanalytics.py");
    let out = match Command::new(&python).arg(script).output() {
        Ok(o) if o.status.success() => o,
        _ => {
            eprintln!("table_matches_botocore: no botocore for {python}; not compared");
            return;
        }
    };
    let fresh: serde_json::Value = serde_json::from_slice(&out.stdout).expect("generator JSON");
    let ours: serde_json::Value = serde_json::from_str(TABLE).expect("table JSON");
    if fresh["source"] != ours["source"] {
        eprintln!(
            "table_matches_botocore: {} against the table's {}",
            fresh["source"], ours["source"]
        );
    }
    for (op, input) in ours["operations"].as_object().expect("operations") {
        if let Some(theirs) = fresh["operations"][op].as_str() {
            assert_eq!(input.as_str(), Some(theirs), "{op}");
            assert_eq!(
                ours["shapes"][theirs], fresh["shapes"][theirs],
                "{op}: regenerate host/api/model/kinesisanalytics.json"
            );
        }
    }
}

/// A host that records what it is asked and refuses code containing `BROKEN`.
#[derive(Debug, Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
}

impl AnalyticsRunner for Recorder {
    fn run(&self, spec: &runner::RunSpec) -> Result<(), RunError> {
        if spec.code.contains("BROKEN") {
            return Err(RunError::Code(
                "syntax error at BROKEN (line 1, column 1)".into(),
            ));
        }
        let starts: Vec<String> = spec
            .inputs
            .iter()
            .map(|i| format!("{:?}", i.start))
            .collect();
        lock(&self.calls).push(format!(
            "run {} v{} {} {:?}",
            spec.name,
            spec.version,
            starts.join(","),
            spec.outputs
                .iter()
                .map(|o| &o.destination)
                .collect::<Vec<_>>()
        ));
        Ok(())
    }
    fn stop(&self, name: &str) {
        lock(&self.calls).push(format!("stop {name}"));
    }
    fn forget(&self, name: &str) {
        lock(&self.calls).push(format!("forget {name}"));
    }
}

#[test]
fn the_runner_runs_what_the_catalog_says() {
    let (dir, state) = setup();
    let rec = Arc::new(Recorder::default());
    state
        .analytics
        .as_ref()
        .expect("analytics")
        .attach(rec.clone());
    call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "r", "ApplicationCode": "-- BROKEN",
            "Inputs": [input()], "Outputs": [output("DEST")]}),
    )
    .expect("create");
    let start = serde_json::json!({"ApplicationName": "r", "InputConfigurations": [
        {"Id": "1.1", "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"}}]});
    let e = err(call(&state, "StartApplication", start.clone()));
    assert_eq!(e.kind, ErrorKind::CodeValidation, "{e}");
    assert!(e.message.contains("(line 1, column 1)"), "{e}");
    assert_eq!(describe(&state, "r")["ApplicationStatus"], "READY");
    let fix = |v: i64, code: &str| {
        serde_json::json!({"ApplicationName": "r", "CurrentApplicationVersionId": v,
            "ApplicationUpdate": {"ApplicationCodeUpdate": code}})
    };
    call(&state, "UpdateApplication", fix(1, "-- fine")).expect("update");
    assert!(
        lock(&rec.calls).is_empty(),
        "a READY application is not run"
    );
    call(&state, "StartApplication", start).expect("start");
    // A running application's bad update is refused and changes nothing.
    let e = err(call(&state, "UpdateApplication", fix(2, "-- BROKEN again")));
    assert_eq!(e.kind, ErrorKind::CodeValidation, "{e}");
    assert_eq!(describe(&state, "r")["ApplicationVersionId"], 2);
    call(&state, "UpdateApplication", fix(2, "-- v3")).expect("update");
    call(
        &state,
        "StopApplication",
        serde_json::json!({"ApplicationName": "r"}),
    )
    .expect("stop");
    call(
        &state,
        "StartApplication",
        serde_json::json!({"ApplicationName": "r", "InputConfigurations": [
            {"Id": "1.1", "InputStartingPositionConfiguration": {"InputStartingPosition": "LAST_STOPPED_POINT"}}]}),
    )
    .expect("start again");
    // A restart: a new catalog over the folder resumes the RUNNING application.
    let again = Analytics::open(&dir.path().join("analytics")).expect("reopen");
    let rec2 = Arc::new(Recorder::default());
    again.attach(rec2.clone());
    let d = describe(&state, "r");
    call(
        &state,
        "DeleteApplication",
        serde_json::json!({"ApplicationName": "r", "CreateTimestamp": d["CreateTimestamp"]}),
    )
    .expect("delete");
    let out = "[Stream(\"out\")]";
    assert_eq!(
        *lock(&rec.calls),
        [
            format!("run r v2 TrimHorizon {out}"),
            format!("run r v3 TrimHorizon {out}"),
            "stop r".to_owned(),
            format!("run r v3 LastStoppedPoint {out}"),
            "stop r".to_owned(),
            "forget r".to_owned(),
        ]
    );
    assert_eq!(
        *lock(&rec2.calls),
        [format!("run r v3 LastStoppedPoint {out}")]
    );
}

#[test]
fn discover_input_schema_reads_the_stream() {
    let (_dir, state) = setup();
    let trim = serde_json::json!({"ResourceARN": ARN_IN, "RoleARN": ROLE,
        "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"}});
    let e = err(call(&state, "DiscoverInputSchema", trim.clone()));
    assert_eq!(e.kind, ErrorKind::UnableToDetectSchema, "{e}");
    let entries: Vec<weir_streams::PutEntry> = [
        r#"{"ticker": "AAA", "price": 10.5, "volume": 3}"#,
        r#"{"ticker": "BBBB", "price": 11.25, "volume": 70}"#,
    ]
    .iter()
    .map(|d| weir_streams::PutEntry {
        partition_key: "k".into(),
        explicit_hash_key: None,
        data: d.as_bytes().to_vec(),
    })
    .collect();
    state.streams.put_records("in", &entries).expect("put");
    let d = call(&state, "DiscoverInputSchema", trim).expect("discover");
    assert_eq!(d["InputSchema"]["RecordFormat"]["RecordFormatType"], "JSON");
    let cols: Vec<(String, String)> = d["InputSchema"]["RecordColumns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            (
                c["Name"].as_str().unwrap_or_default().to_owned(),
                c["SqlType"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(cols[0].0, "ticker");
    assert_eq!(cols[1], ("price".to_owned(), "REAL".to_owned()));
    assert_eq!(d["RawInputRecords"].as_array().map(Vec::len), Some(2));
    assert_eq!(d["ParsedInputRecords"][1][0], "BBBB");
    // What it found is a schema CreateApplication takes.
    let mut inp = input();
    inp["InputSchema"] = d["InputSchema"].clone();
    call(
        &state,
        "CreateApplication",
        serde_json::json!({"ApplicationName": "found", "Inputs": [inp]}),
    )
    .expect("create with the discovered schema");
    let e = err(call(
        &state,
        "DiscoverInputSchema",
        serde_json::json!({"ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/none",
            "RoleARN": ROLE}),
    ));
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
}
