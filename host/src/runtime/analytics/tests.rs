//! The runner on real streams (memory-backed) with a small engine of the tests' own: each
//! row of `SOURCE_SQL_STREAM_001` comes out of `DESTINATION_SQL_STREAM` with `N`, a running
//! count kept in the engine's state, so a lost or restored state shows in the output.

use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_analytics::input::InputSchema;
use weir_analytics::{CompileError, SqlType, StreamColumn, StreamRow, StreamSchema, Value};
use weir_api::analytics_runner::{
    AnalyticsRunner, OutputDestination, RunError, RunInput, RunOutput, RunSpec, Source, StartFrom,
};
use weir_streams::{PutEntry, StartPosition, Streams, StreamsConfig};

use super::engine::{Emitted, Engine, Table};
use super::{Runner, Sinks};

struct Counting {
    n: i64,
    columns: StreamSchema,
}

impl Engine for Counting {
    fn push(&mut self, input: &str, row: StreamRow) -> Vec<Emitted> {
        assert_eq!(input, "SOURCE_SQL_STREAM_001");
        self.n += 1;
        let mut values = row.values;
        // The record's APPROXIMATE_ARRIVAL_TIME follows the columns.
        assert!(matches!(values.pop(), Some(Value::Timestamp(_))));
        values.push(Value::BigInt(self.n));
        vec![Emitted {
            stream: "DESTINATION_SQL_STREAM".into(),
            row: StreamRow::new(row.rowtime, values),
            columns: self.columns.clone(),
        }]
    }
    fn push_error(&mut self, row: StreamRow) -> Vec<Emitted> {
        vec![Emitted {
            stream: "error_stream".into(),
            row,
            columns: weir_analytics::input::error_stream_schema(),
        }]
    }
    fn advance(&mut self, _time_ms: i64) -> Vec<Emitted> {
        Vec::new()
    }
    fn checkpoint(&self) -> serde_json::Value {
        serde_json::json!({ "n": self.n })
    }
    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        self.n = state["n"].as_i64().ok_or("no n")?;
        Ok(())
    }
}

fn compiler() -> super::engine::Compiler {
    Arc::new(
        |code: &str,
         inputs: &[(String, StreamSchema)],
         _refs: &[Table]|
         -> Result<Box<dyn Engine>, CompileError> {
            if code.contains("BROKEN") {
                return Err(CompileError::new("unexpected BROKEN", 1, 1));
            }
            let mut columns: Vec<StreamColumn> = inputs[0].1.to_vec();
            columns.push(StreamColumn::new("N", SqlType::BigInt));
            Ok(Box::new(Counting {
                n: 0,
                columns: Arc::from(columns),
            }))
        },
    )
}

fn streams() -> Streams {
    let mut c = StreamsConfig::new("/weir");
    c.transition_delay = Duration::ZERO;
    let s =
        Streams::open_with_backend(c, Arc::new(weir_streams::MemBackend::new())).expect("streams");
    for name in ["in", "out"] {
        s.create_stream(name, 1, false, Default::default())
            .expect("stream");
    }
    s
}

fn put(s: &Streams, stream: &str, records: &[&str]) {
    let entries: Vec<PutEntry> = records
        .iter()
        .map(|r| PutEntry {
            partition_key: "k".into(),
            explicit_hash_key: None,
            data: r.as_bytes().to_vec(),
        })
        .collect();
    s.put_records(stream, &entries).expect("put");
}

/// Every record of `stream` (one shard), as text.
fn read_all(s: &Streams, stream: &str) -> Vec<String> {
    let Ok(it) = s.get_shard_iterator(stream, "shardId-000000000000", &StartPosition::TrimHorizon)
    else {
        return Vec::new();
    };
    let page = s.get_records(&it, 10_000).expect("read");
    page.records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.data).into_owned())
        .collect()
}

/// Waits (polling, 10 s at most) until `stream` holds `n` records, and returns them.
fn wait_for(s: &Streams, stream: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = read_all(s, stream);
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{stream}: {got:?}, want {n} records"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn spec(start: StartFrom, out: &str, code: &str) -> RunSpec {
    let schema = InputSchema::from_json(
        r#"{"RecordFormat": {"RecordFormatType": "JSON",
            "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
            "RecordColumns": [{"Name": "CITY", "Mapping": "$.city", "SqlType": "VARCHAR(8)"}]}"#,
    )
    .expect("schema");
    RunSpec {
        name: "app".into(),
        arn: "arn:aws:kinesisanalytics:us-east-1:000000000000:application/app".into(),
        version: 1,
        created_ms: 1,
        code: code.into(),
        inputs: vec![RunInput {
            id: "1.1".into(),
            stream: "SOURCE_SQL_STREAM_001".into(),
            source: Source::Stream("in".into()),
            schema,
            start,
            processor: None,
        }],
        outputs: vec![
            RunOutput {
                id: "1.1".into(),
                stream: "DESTINATION_SQL_STREAM".into(),
                destination: OutputDestination::Stream(out.into()),
                format: weir_analytics::input::RecordFormatType::Json,
            },
            RunOutput {
                id: "1.2".into(),
                stream: "error_stream".into(),
                destination: OutputDestination::Stream(out.into()),
                format: weir_analytics::input::RecordFormatType::Csv,
            },
        ],
        references: Vec::new(),
    }
}

fn runner(s: &Streams, dir: &std::path::Path) -> Runner {
    Runner::new(
        compiler(),
        Sinks {
            streams: s.clone(),
            firehose: None,
            functions: None,
        },
        dir.join("checkpoints"),
    )
    .expect("runner")
}

#[test]
fn rows_flow_out_and_resume_from_the_last_stopped_point_with_their_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = streams();
    put(
        &s,
        "in",
        &[r#"{"city": "a"}"#, r#"{"city": "b"}"#, "not json"],
    );
    let r = runner(&s, dir.path());
    let e = r
        .run(&spec(StartFrom::TrimHorizon, "out", "BROKEN"))
        .expect_err("bad code");
    assert_eq!(
        e,
        RunError::Code("unexpected BROKEN (line 1, column 1)".into())
    );
    r.run(&spec(StartFrom::TrimHorizon, "out", "ok"))
        .expect("run");
    let got = wait_for(&s, "out", 3);
    assert_eq!(got[..2], [r#"{"CITY":"a","N":1}"#, r#"{"CITY":"b","N":2}"#]);
    // The record that does not map is an error_stream row, written as CSV.
    assert!(got[2].contains(",ERROR,"), "{}", got[2]);
    assert!(got[2].contains(&hex("not json")), "{}", got[2]);
    r.stop("app");
    put(&s, "in", &[r#"{"city": "c"}"#]);
    r.run(&spec(StartFrom::LastStoppedPoint, "out", "ok"))
        .expect("run again");
    let got = wait_for(&s, "out", 4);
    assert_eq!(got[3], r#"{"CITY":"c","N":3}"#);
    // An update while running keeps its place (the stored position says TRIM_HORIZON).
    r.run(&spec(StartFrom::TrimHorizon, "out", "ok"))
        .expect("update");
    put(&s, "in", &[r#"{"city": "d"}"#]);
    let got = wait_for(&s, "out", 5);
    assert_eq!(got[4], r#"{"CITY":"d","N":4}"#);
    r.stop_all();
    assert_eq!(read_all(&s, "out").len(), 5, "nothing is written twice");
    // NOW skips what is there; forgetting drops the state.
    r.forget("app");
    r.run(&spec(StartFrom::Now, "out", "ok")).expect("now");
    put(&s, "in", &[r#"{"city": "e"}"#]);
    let got = wait_for(&s, "out", 6);
    assert_eq!(got[5], r#"{"CITY":"e","N":1}"#);
    r.stop_all();
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_failing_output_is_retried_and_nothing_is_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = streams();
    let r = runner(&s, dir.path());
    r.run(&spec(StartFrom::TrimHorizon, "late", "ok"))
        .expect("run");
    put(&s, "in", &[r#"{"city": "a"}"#, r#"{"city": "b"}"#]);
    // The destination does not exist yet: the application (rounds of 20 ms) fails to write
    // and waits on it meanwhile.
    std::thread::sleep(Duration::from_millis(300));
    assert!(read_all(&s, "late").is_empty());
    put(&s, "in", &[r#"{"city": "c"}"#]);
    s.create_stream("late", 1, false, Default::default())
        .expect("late");
    let got = wait_for(&s, "late", 3);
    assert_eq!(
        got,
        [
            r#"{"CITY":"a","N":1}"#,
            r#"{"CITY":"b","N":2}"#,
            r#"{"CITY":"c","N":3}"#
        ]
    );
    r.stop_all();
}

#[test]
fn a_stop_while_an_output_fails_resumes_from_the_last_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = streams();
    let r = runner(&s, dir.path());
    put(&s, "in", &[r#"{"city": "a"}"#]);
    r.run(&spec(StartFrom::TrimHorizon, "out", "ok"))
        .expect("run");
    wait_for(&s, "out", 1);
    r.stop("app");
    // Stopped while "gone" refuses: nothing after the checkpoint counts as delivered.
    put(&s, "in", &[r#"{"city": "b"}"#]);
    r.run(&spec(StartFrom::LastStoppedPoint, "gone", "ok"))
        .expect("run");
    r.stop("app");
    r.run(&spec(StartFrom::LastStoppedPoint, "out", "ok"))
        .expect("run");
    let got = wait_for(&s, "out", 2);
    assert_eq!(got[1], r#"{"CITY":"b","N":2}"#);
    r.stop_all();
}

#[test]
fn a_run_stopped_before_its_first_delivery_resumes_from_its_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = streams();
    let r = runner(&s, dir.path());
    put(&s, "in", &[r#"{"city": "a"}"#, r#"{"city": "b"}"#]);
    // Nothing can be delivered ("gone" does not exist), so nothing after the start is
    // saved; the stop comes while the output fails, as a crash would.
    r.run(&spec(StartFrom::TrimHorizon, "gone", "ok"))
        .expect("run");
    std::thread::sleep(Duration::from_millis(100));
    r.stop("app");
    r.run(&spec(StartFrom::LastStoppedPoint, "out", "ok"))
        .expect("resume");
    let got = wait_for(&s, "out", 2);
    assert_eq!(got, [r#"{"CITY":"a","N":1}"#, r#"{"CITY":"b","N":2}"#]);
    r.stop_all();
}

/// Transformer plugins as Firehose's `Processor` gives them: `pre` rewrites `a` to `A`,
/// drops records holding `drop` and fails those holding `fail`; `sink` keeps what it is
/// handed, failing its first call (DeliveryFailed, to be handed again).
#[derive(Default)]
struct Functions {
    delivered: std::sync::Mutex<Vec<String>>,
    calls: std::sync::atomic::AtomicUsize,
}

impl weir_firehose::Processor for Functions {
    fn process(
        &self,
        function: &str,
        records: &[weir_firehose::ProcessIn<'_>],
    ) -> Result<Vec<weir_firehose::Processed>, weir_firehose::InvokeError> {
        use weir_firehose::Processed;
        let text = |r: &weir_firehose::ProcessIn<'_>| String::from_utf8_lossy(r.data).into_owned();
        match function {
            "pre" => Ok(records
                .iter()
                .map(|r| match text(r) {
                    t if t.contains("drop") => Processed::Dropped,
                    t if t.contains("fail") => Processed::Failed("refused".into()),
                    t => Processed::Ok(t.replace('a', "A").into_bytes()),
                })
                .collect()),
            "sink" => {
                if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    return Ok(records
                        .iter()
                        .map(|_| Processed::Failed("not yet".into()))
                        .collect());
                }
                weir_support::lock(&self.delivered).extend(records.iter().map(text));
                Ok(records
                    .iter()
                    .map(|r| Processed::Ok(r.data.to_vec()))
                    .collect())
            }
            other => Err(weir_firehose::InvokeError {
                code: "Lambda.FunctionNotFound".into(),
                message: other.into(),
            }),
        }
    }

    fn knows(&self, function: &str) -> bool {
        matches!(function, "pre" | "sink")
    }
}

#[test]
fn preprocessing_and_lambda_output_run_through_plugins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = streams();
    let functions = Arc::new(Functions::default());
    let r = Runner::new(
        compiler(),
        Sinks {
            streams: s.clone(),
            firehose: None,
            functions: Some(functions.clone()),
        },
        dir.path().join("checkpoints"),
    )
    .expect("runner");
    let mut sp = spec(StartFrom::TrimHorizon, "out", "ok");
    sp.inputs[0].processor = Some("missing".into());
    let e = r.run(&sp).expect_err("an unknown preprocessing plugin");
    assert!(
        matches!(e, RunError::Configuration(ref m) if m.contains("missing")),
        "{e}"
    );
    sp.inputs[0].processor = Some("pre".into());
    sp.outputs[0].destination = OutputDestination::Plugin("sink".into());
    put(
        &s,
        "in",
        &[
            r#"{"city": "paris"}"#,
            r#"{"city": "drop"}"#,
            r#"{"city": "fail"}"#,
            r#"{"city": "lyon"}"#,
        ],
    );
    r.run(&sp).expect("run");
    let deadline = Instant::now() + Duration::from_secs(10);
    while weir_support::lock(&functions.delivered).len() < 2 {
        assert!(Instant::now() < deadline, "nothing delivered to the plugin");
        std::thread::sleep(Duration::from_millis(10));
    }
    r.stop_all();
    assert_eq!(
        *weir_support::lock(&functions.delivered),
        [r#"{"CITY":"pAris","N":1}"#, r#"{"CITY":"lyon","N":2}"#]
    );
    // The refused record is an error_stream row (CSV to "out").
    let errors = read_all(&s, "out");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("ProcessingFailed,refused"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_refused_update_leaves_the_running_configuration_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = streams();
    let r = runner(&s, dir.path());
    r.run(&spec(StartFrom::TrimHorizon, "out", "ok"))
        .expect("run");
    put(&s, "in", &[r#"{"city": "a"}"#]);
    wait_for(&s, "out", 1);
    let mut bad = spec(StartFrom::TrimHorizon, "out", "ok");
    bad.inputs[0].processor = Some("missing".into());
    assert!(matches!(r.run(&bad), Err(RunError::Configuration(_))));
    let e = r.run(&spec(StartFrom::TrimHorizon, "out", "BROKEN"));
    assert!(matches!(e, Err(RunError::Code(_))), "{e:?}");
    put(&s, "in", &[r#"{"city": "b"}"#]);
    assert_eq!(wait_for(&s, "out", 2)[1], r#"{"CITY":"b","N":2}"#);
    r.stop_all();
}

#[test]
fn windows_are_kept_only_for_the_same_code_and_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = streams();
    let r = runner(&s, dir.path());
    r.run(&spec(StartFrom::TrimHorizon, "out", "ok"))
        .expect("run");
    put(&s, "in", &[r#"{"city": "a"}"#]);
    wait_for(&s, "out", 1);
    // An update that adds a column: positions are kept, the state is not.
    let mut wider = spec(StartFrom::TrimHorizon, "out", "ok");
    wider.inputs[0].schema = InputSchema::from_json(
        r#"{"RecordFormat": {"RecordFormatType": "JSON",
            "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
            "RecordColumns": [{"Name": "CITY", "Mapping": "$.city", "SqlType": "VARCHAR(8)"},
                {"Name": "X", "Mapping": "$.x", "SqlType": "INTEGER"}]}"#,
    )
    .expect("schema");
    r.run(&wider).expect("update");
    put(&s, "in", &[r#"{"city": "b", "x": 7}"#]);
    assert_eq!(wait_for(&s, "out", 2)[1], r#"{"CITY":"b","X":7,"N":1}"#);
    // The same configuration again keeps them.
    r.run(&wider).expect("same again");
    put(&s, "in", &[r#"{"city": "c", "x": 8}"#]);
    assert_eq!(wait_for(&s, "out", 3)[2], r#"{"CITY":"c","X":8,"N":2}"#);
    r.stop_all();
}
