//! The conformance cases under `tests/conformance/` and how their expected output is compared
//! with what the engine prints. Shared by the case-file checks (`case_files.rs`) and the runner
//! (`conformance.rs`); a directory of its own so Cargo does not build it as a test on its own.
//!
//! A case is a directory with `app.sql`, `schema.json`, `input.jsonl`, `expected.jsonl` (or,
//! for code the docs say is refused, `expected_error.json`), `SOURCE.md` and, for a reference
//! table, `reference.json` (docs/analytics.md describes them).

#![allow(dead_code)] // each test target uses part of this module

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where the cases live.
pub fn cases_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// One conformance case, read from its directory.
#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub code: String,
    pub schema: String,
    pub input: String,
    pub reference: Option<String>,
    pub expected: Vec<Value>,
    /// `expected_error.json`'s `{"line": L}`: the code must not compile, and the error must
    /// point at line L (the column and message are the engine's).
    pub expected_error_line: Option<u64>,
    /// The first documentation address in SOURCE.md, printed with a mismatch.
    pub url: String,
}

fn read(dir: &Path, file: &str) -> Result<String, String> {
    std::fs::read_to_string(dir.join(file))
        .map_err(|e| format!("{}: {e}", dir.join(file).display()))
}

/// Every case directory under [`cases_root`], by name. A case that cannot be read is an error
/// naming the file (and the line, for a JSON line that does not parse).
pub fn load_cases() -> Result<Vec<Case>, String> {
    let root = cases_root();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(|e| format!("{}: {e}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| load_case(d)).collect()
}

/// Reads one case directory.
pub fn load_case(dir: &Path) -> Result<Case, String> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source = read(dir, "SOURCE.md")?;
    let url = source
        .split_whitespace()
        .find(|w| w.starts_with("https://docs.aws.amazon.com/kinesisanalytics/"))
        .map(|w| w.trim_end_matches([',', '.', ')']).to_string())
        .ok_or_else(|| {
            format!(
                "{}: no docs.aws.amazon.com/kinesisanalytics address",
                dir.join("SOURCE.md").display()
            )
        })?;
    let (expected, expected_error_line) = if dir.join("expected_error.json").exists() {
        let text = read(dir, "expected_error.json")?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}: {e}", dir.join("expected_error.json").display()))?;
        let line = v["line"].as_u64().ok_or_else(|| {
            format!(
                "{}: expected {{\"line\": L}}",
                dir.join("expected_error.json").display()
            )
        })?;
        (Vec::new(), Some(line))
    } else {
        let text = read(dir, "expected.jsonl")?;
        let rows = parse_lines(&text)
            .map_err(|(line, e)| format!("{}:{line}: {e}", dir.join("expected.jsonl").display()))?;
        (rows, None)
    };
    let reference = if dir.join("reference.json").exists() {
        Some(read(dir, "reference.json")?)
    } else {
        None
    };
    Ok(Case {
        name,
        dir: dir.to_path_buf(),
        code: read(dir, "app.sql")?,
        schema: read(dir, "schema.json")?,
        input: read(dir, "input.jsonl")?,
        reference,
        expected,
        expected_error_line,
        url,
    })
}

/// Parses JSON lines (blank lines skipped); an error carries the 1-based line number.
pub fn parse_lines(text: &str) -> Result<Vec<Value>, (usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| (i + 1, e.to_string())))
        .collect()
}

/// KNOWN_DIFFERENCES.md: the cases that cannot match, each on a line of its own as
/// `` - `case-name`: why ``. Returns name -> reason.
pub fn known_differences() -> Result<BTreeMap<String, String>, String> {
    let path = cases_root().join("KNOWN_DIFFERENCES.md");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("- `") else {
            continue;
        };
        let Some((name, reason)) = rest.split_once('`') else {
            return Err(format!(
                "{}:{}: expected - `case-name`: reason",
                path.display(),
                i + 1
            ));
        };
        let reason = reason.trim_start_matches(':').trim();
        if reason.is_empty() {
            return Err(format!(
                "{}:{}: `{name}` has no reason",
                path.display(),
                i + 1
            ));
        }
        out.insert(name.to_string(), reason.to_string());
    }
    Ok(out)
}

/// Whether an actual value satisfies an expected one. Numbers compare by value (the engine
/// may print 2 or 2.0 for a DOUBLE column), and a REAL column's float32 value matches the
/// decimal the case writes (33.11 read as float32 and printed wider is still 33.11). An
/// expected `{"$any": "why"}` matches anything: a column the docs do not fix (error names,
/// APPROXIMATE_ARRIVAL_TIME), which must still be present.
pub fn values_match(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), _) if e.len() == 1 && e.contains_key("$any") => true,
        (Value::Number(e), Value::Number(a)) => match (e.as_i64(), a.as_i64()) {
            // Two integers: exactly (a BIGINT past 2^53 must keep its last digit).
            (Some(e), Some(a)) => e == a,
            _ => match (e.as_f64(), a.as_f64()) {
                (Some(e), Some(a)) => e == a || (e as f32) == (a as f32),
                _ => e == a,
            },
        },
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, ev)| a.get(k).is_some_and(|av| values_match(ev, av)))
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| values_match(e, a))
        }
        _ => expected == actual,
    }
}

/// The key that groups rows emitted together: rows with the same ROWTIME (the groups of one
/// tumbling window, or the rows one input row makes in several in-application streams) may
/// come out in any order, which the docs do not fix; rows of different ROWTIMEs are compared
/// in emission order.
fn group_key(v: &Value) -> Value {
    v.get("ROWTIME").cloned().unwrap_or(Value::Null)
}

fn groups(rows: &[Value]) -> Vec<&[Value]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=rows.len() {
        if i == rows.len() || group_key(&rows[i]) != group_key(&rows[start]) {
            if start < i {
                out.push(&rows[start..i]);
            }
            start = i;
        }
    }
    out
}

/// Compares the engine's rows with the expected ones: in order, except that consecutive
/// rows with the same ROWTIME are compared as a set. `Err` holds a readable diff.
pub fn compare(expected: &[Value], actual: &[Value]) -> Result<(), String> {
    let eg = groups(expected);
    let ag = groups(actual);
    let mut ok = eg.len() == ag.len();
    if ok {
        for (e, a) in eg.iter().zip(&ag) {
            if !same_set(e, a) {
                ok = false;
                break;
            }
        }
    }
    if ok {
        return Ok(());
    }
    Err(diff(expected, actual))
}

fn same_set(expected: &[Value], actual: &[Value]) -> bool {
    if expected.len() != actual.len() {
        return false;
    }
    let mut used = vec![false; actual.len()];
    expected.iter().all(|e| {
        let found = actual
            .iter()
            .enumerate()
            .find(|(i, a)| !used[*i] && values_match(e, a))
            .map(|(i, _)| i);
        match found {
            Some(i) => {
                used[i] = true;
                true
            }
            None => false,
        }
    })
}

/// A line-by-line listing: `  ` for a row that matches its position, `- ` expected only,
/// `+ ` printed only.
pub fn diff(expected: &[Value], actual: &[Value]) -> String {
    let mut out = String::new();
    let n = expected.len().max(actual.len());
    for i in 0..n {
        match (expected.get(i), actual.get(i)) {
            (Some(e), Some(a)) if values_match(e, a) => out.push_str(&format!("  {a}\n")),
            (e, a) => {
                if let Some(e) = e {
                    out.push_str(&format!("- {e}\n"));
                }
                if let Some(a) = a {
                    out.push_str(&format!("+ {a}\n"));
                }
            }
        }
    }
    out
}

/// What the runner makes of one case: its summary word and, if the suite must fail, why.
/// A mismatch fails unless KNOWN_DIFFERENCES.md lists the case; a listed case that matches
/// fails too, so the list cannot outlive the difference it explains.
pub fn verdict(
    name: &str,
    url: &str,
    outcome: &Result<(), String>,
    listed: Option<&String>,
) -> (&'static str, Option<String>) {
    match (outcome, listed) {
        (Ok(()), None) => ("pass", None),
        (Err(_), Some(_)) => ("known", None),
        (Ok(()), Some(reason)) => (
            "FAIL",
            Some(format!(
                "{name} ({url}) now matches: remove it from KNOWN_DIFFERENCES.md (listed because: {reason})"
            )),
        ),
        (Err(diff), None) => (
            "FAIL",
            Some(format!("{name} ({url})\n  expected (-) vs printed (+):\n{diff}")),
        ),
    }
}
