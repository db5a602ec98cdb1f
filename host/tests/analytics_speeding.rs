//! The speeding scenario's analytics application (`examples/speeding/analytics/`) run by the
//! real `weir analytics test` binary on its recorded input: the rows it prints must be the
//! ones in `expected.jsonl` (computed by `recorded.py` from the documented window semantics,
//! not by the engine), stream by stream in emission order, and the demo's application is
//! the same file, so a change to the SQL that breaks the demo's report fails here first.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/speeding/analytics")
}

fn lines(text: &str, what: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: not JSON: {l}: {e}")))
        .collect()
}

/// Numbers by value within a rounding error (a sliding average is a running sum that rows
/// leave, so its last bit may differ from a fresh sum); everything else exactly, key order
/// included (columns print in the stream's order).
fn same(e: &Value, a: &Value) -> bool {
    match (e, a) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
            _ => false,
        },
        (Value::Object(x), Value::Object(y)) => {
            x.keys().eq(y.keys()) && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => e == a,
    }
}

fn of_stream<'a>(rows: &'a [Value], stream: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["stream"] == stream).collect()
}

#[test]
fn the_speeding_application_reproduces_its_recorded_output() {
    let dir = example();
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["analytics", "test", "--code"])
        .arg(dir.join("speeding.sql"))
        .arg("--schema")
        .arg(dir.join("schema.json"))
        .arg("--input")
        .arg(dir.join("input.jsonl"))
        .output()
        .expect("weir analytics test runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "weir analytics test exited with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = lines(&stdout, "printed");
    let expected = lines(
        &std::fs::read_to_string(dir.join("expected.jsonl")).expect("expected.jsonl"),
        "expected.jsonl",
    );
    // The interleaving of two in-application streams is not documented: each stream's rows
    // are compared in order, and nothing else may be printed (no error_stream row).
    let streams = ["DESTINATION_SQL_STREAM", "AVERAGE_SPEED_STREAM"];
    for stream in streams {
        let (e, a) = (of_stream(&expected, stream), of_stream(&printed, stream));
        assert!(!e.is_empty(), "expected.jsonl has no {stream} row");
        for (i, (e, a)) in e.iter().zip(&a).enumerate() {
            assert!(same(e, a), "{stream} row {i}:\nexpected {e}\nprinted  {a}");
        }
        assert_eq!(a.len(), e.len(), "{stream} rows; printed:\n{stdout}");
    }
    let others: Vec<&Value> = printed
        .iter()
        .filter(|r| !streams.iter().any(|s| r["stream"] == *s))
        .collect();
    assert!(others.is_empty(), "unexpected rows: {others:?}");
    // Two minutes passed: both closed windows are there, the open third one is not.
    let ends: std::collections::BTreeSet<&str> = of_stream(&printed, streams[0])
        .iter()
        .filter_map(|r| r["ROWTIME"].as_str())
        .collect();
    assert_eq!(
        ends.into_iter().collect::<Vec<_>>(),
        ["2019-01-01T10:01:00.000Z", "2019-01-01T10:02:00.000Z"]
    );
}
