//! End-to-end check of the `weir analytics test` contract (docs/analytics.md) with the real
//! binary: a conformance case's rows on stdout, exit 2 with the line and column for SQL that
//! does not compile, exit 1 naming the file (and line) for a missing or malformed input.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn case_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("analytics/tests/conformance")
        .join(name)
}

fn weir(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["analytics", "test"])
        .args(args)
        .output()
        .expect("weir analytics test runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_files(code: &Path, schema: &Path, input: &Path) -> (i32, String, String) {
    weir(&[
        "--code".as_ref(),
        code.as_os_str(),
        "--schema".as_ref(),
        schema.as_os_str(),
        "--input".as_ref(),
        input.as_os_str(),
    ])
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// Numbers by value (a DOUBLE may print as 120 or 120.0); everything else exactly.
fn same(e: &Value, a: &Value) -> bool {
    match (e, a) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => e == a,
    }
}

#[test]
fn prints_a_conformance_case_rows_in_emission_order() {
    let dir = case_dir("continuous-filter");
    let (code, out, err) = run_files(
        &dir.join("app.sql"),
        &dir.join("schema.json"),
        &dir.join("input.jsonl"),
    );
    assert_eq!(code, 0, "stderr: {err}");
    let expected =
        lines(&std::fs::read_to_string(dir.join("expected.jsonl")).expect("expected.jsonl"));
    let printed = lines(&out);
    assert_eq!(printed.len(), expected.len(), "printed:\n{out}");
    for (e, a) in expected.iter().zip(&printed) {
        assert!(same(e, a), "expected {e}\nprinted  {a}");
    }
    // Keys in order: stream, ROWTIME, then the columns as the stream stores them.
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("{\"stream\": \"DESTINATION_SQL_STREAM\", \"ROWTIME\": \"2019-01-01T10:00:01.000Z\", \"TICKER_SYMBOL\": "),
        "{first}"
    );
}

#[test]
fn invalid_sql_exits_2_with_line_and_column() {
    let dir = case_dir("continuous-filter");
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = tmp.path().join("app.sql");
    std::fs::write(
        &app,
        "CREATE OR REPLACE STREAM \"DESTINATION_SQL_STREAM\" (a INTEGER);\n\
         CREATE OR REPLACE PUMP \"STREAM_PUMP\" AS INSERT INTO \"DESTINATION_SQL_STREAM\"\n\
         \x20   SELECT STREAM no_such_column FROM \"SOURCE_SQL_STREAM_001\";\n",
    )
    .expect("write app.sql");
    let (code, out, err) = run_files(&app, &dir.join("schema.json"), &dir.join("input.jsonl"));
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    assert!(out.is_empty(), "{out}");
    let line = err.lines().next().unwrap_or_default();
    assert!(line.starts_with("error: "), "{err}");
    assert!(line.contains("(line 3, column "), "{err}");
    assert!(line.ends_with(')'), "{err}");
}

#[test]
fn a_missing_file_is_named() {
    let dir = case_dir("continuous-filter");
    let missing = dir.join("no-such-rows.jsonl");
    let (code, out, err) = run_files(&dir.join("app.sql"), &dir.join("schema.json"), &missing);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(
        err.starts_with("error: ") && err.contains("no-such-rows.jsonl"),
        "{err}"
    );
}

#[test]
fn a_malformed_input_line_is_named_with_its_line() {
    let dir = case_dir("continuous-filter");
    let tmp = tempfile::tempdir().expect("tempdir");
    let rows = tmp.path().join("rows.jsonl");
    std::fs::write(
        &rows,
        "{\"rowtime\": \"2019-01-01T10:00:00.000Z\", \"data\": {\"TICKER_SYMBOL\": \"A\"}}\n{\"rowtime\": \n",
    )
    .expect("write rows");
    let (code, _, err) = run_files(&dir.join("app.sql"), &dir.join("schema.json"), &rows);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("rows.jsonl:2:"), "{err}");
}

#[test]
fn a_row_without_a_usable_rowtime_is_named_with_its_file_and_line() {
    let dir = case_dir("continuous-filter");
    let tmp = tempfile::tempdir().expect("tempdir");
    let rows = tmp.path().join("rows.jsonl");
    std::fs::write(
        &rows,
        "{\"rowtime\": \"2019-01-01T10:00:00.000Z\", \"data\": {\"TICKER_SYMBOL\": \"A\"}}\n{\"rowtime\": \"yesterday\", \"data\": {}}\n",
    )
    .expect("write rows");
    let (code, _, err) = run_files(&dir.join("app.sql"), &dir.join("schema.json"), &rows);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("rows.jsonl") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn a_reference_table_is_joined() {
    let dir = case_dir("reference-left-join");
    let (code, out, err) = weir(&[
        "--code".as_ref(),
        dir.join("app.sql").as_os_str(),
        "--schema".as_ref(),
        dir.join("schema.json").as_os_str(),
        "--input".as_ref(),
        dir.join("input.jsonl").as_os_str(),
        "--reference".as_ref(),
        dir.join("reference.json").as_os_str(),
    ]);
    assert_eq!(code, 0, "stderr: {err}");
    let expected =
        lines(&std::fs::read_to_string(dir.join("expected.jsonl")).expect("expected.jsonl"));
    let printed = lines(&out);
    assert_eq!(printed.len(), expected.len(), "printed:\n{out}");
    for (e, a) in expected.iter().zip(&printed) {
        assert!(same(e, a), "expected {e}\nprinted  {a}");
    }
    // Without the table the code does not compile: "CompanyName" is unknown.
    let (code, _, err) = run_files(
        &dir.join("app.sql"),
        &dir.join("schema.json"),
        &dir.join("input.jsonl"),
    );
    assert_eq!(code, 2, "{err}");
}
