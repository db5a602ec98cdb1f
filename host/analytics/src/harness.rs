//! The test command's engine (`weir analytics test`): an application run on recorded input,
//! every emitted row printed as one JSON object per line, in emission order.
//!
//! Input lines are `{"rowtime": "2019-01-01T10:00:00.000Z", "data": RECORD}`; a record
//! given as a JSON string is the record's raw text (a CSV line), any other JSON value is
//! a JSON record. Stream time ends at the last input ROWTIME: windows it has not passed are
//! not flushed.

use crate::app::{Application, Emitted};
use crate::error::{CompileError, SqlError};
use crate::input::{error_row, InputSchema, Mapper};
use crate::reference::ReferenceFile;
use crate::row::{StreamRow, StreamSchema};
use crate::value::{format_timestamp, parse_timestamp};

/// The input stream the test command feeds.
pub const INPUT_STREAM: &str = "SOURCE_SQL_STREAM_001";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HarnessError {
    /// The application code does not compile.
    #[error("{0}")]
    Compile(CompileError),
    /// The schema, the reference file or an input line is not usable.
    #[error("{0}")]
    Input(String),
}

/// Runs `code` on the rows of `rows_jsonl` mapped by the `InputSchema` in `schema_json`,
/// with the reference table of `reference_json` if any; gives the output lines.
pub fn run_test(
    code: &str,
    schema_json: &str,
    rows_jsonl: &str,
    reference_json: Option<&str>,
) -> Result<String, HarnessError> {
    let schema = InputSchema::from_json(schema_json)
        .map_err(|e| HarnessError::Input(format!("schema: {}", e.0)))?;
    schema
        .validate()
        .map_err(|e| HarnessError::Input(format!("schema: {e}")))?;
    let mapper =
        Mapper::new(&schema).map_err(|e| HarnessError::Input(format!("schema: {}", e.0)))?;
    let mut references = Vec::new();
    if let Some(text) = reference_json {
        let file =
            ReferenceFile::from_json(text).map_err(|e| HarnessError::Input(e.to_string()))?;
        let (columns, rows) = file
            .load()
            .map_err(|e| HarnessError::Input(e.to_string()))?;
        let schema: StreamSchema = columns.into();
        references.push((file.table_name.clone(), schema, rows));
    }
    let input_schema: StreamSchema = mapper.columns().to_vec().into();
    let mut app = Application::compile(
        code,
        &[(INPUT_STREAM.to_string(), input_schema)],
        &references,
    )
    .map_err(HarnessError::Compile)?;
    let mut out = String::new();
    for (n, line) in rows_jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (rowtime, record) = input_line(line)
            .map_err(|e| HarnessError::Input(format!("input line {}: {e}", n + 1)))?;
        match mapper.map(&record) {
            Ok(rows) => {
                for values in rows {
                    print(
                        &app.push(INPUT_STREAM, StreamRow::new(rowtime, values)),
                        &mut out,
                    );
                }
            }
            Err(e) => {
                let error: SqlError = e.into();
                let row = error_row(&error, rowtime, rowtime, &record, None);
                print(&app.push_error(row), &mut out);
            }
        }
    }
    Ok(out)
}

/// One input line: its ROWTIME and the record's bytes.
fn input_line(line: &str) -> Result<(i64, Vec<u8>), String> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let rowtime = v
        .get("rowtime")
        .and_then(|r| r.as_str())
        .ok_or("no \"rowtime\" string")?;
    let rowtime = parse_timestamp(rowtime).ok_or_else(|| format!("bad rowtime {rowtime:?}"))?;
    let record = match v.get("data") {
        Some(serde_json::Value::String(s)) => s.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
        None => return Err("no \"data\"".into()),
    };
    Ok((rowtime, record))
}

/// The emitted rows as output lines: `{"stream": ..., "ROWTIME": ..., columns...}`.
fn print(rows: &[Emitted], out: &mut String) {
    for e in rows {
        out.push_str(&line(e));
        out.push('\n');
    }
}

/// One output line, members in column order.
pub fn line(e: &Emitted) -> String {
    let js = |v: &serde_json::Value| serde_json::to_string(v).unwrap_or_else(|_| "null".into());
    let mut s = format!(
        "{{\"stream\": {}, \"ROWTIME\": {}",
        js(&serde_json::Value::String(e.stream.clone())),
        js(&serde_json::Value::String(format_timestamp(
            e.row.rowtime,
            true
        )))
    );
    for (c, v) in e.columns.iter().zip(&e.row.values) {
        s.push_str(&format!(
            ", {}: {}",
            js(&serde_json::Value::String(c.name.clone())),
            js(&v.to_json())
        ));
    }
    s.push('}');
    s
}

#[cfg(test)]
#[path = "harness_tests.rs"]
mod tests;
