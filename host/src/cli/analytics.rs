//! `weir analytics test --code APP.sql --schema SCHEMA.json --input ROWS.jsonl [--reference REF.json]`.
//!
//! Runs a Kinesis Data Analytics SQL application on recorded input, offline, with the engine
//! the server runs (`weir_analytics::harness::run_test`). The contract outside tests rely on
//! (docs/analytics.md): every row each in-application stream emits, `error_stream` included,
//! one JSON object per line on stdout in emission order, exit 0. SQL that does not compile:
//! `error: MESSAGE (line L, column C)` on stderr, exit 2. A file that is missing or not what it
//! should be: `error: FILE...` naming the file (and the line, for JSON lines), exit 1.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use weir_analytics::harness::{run_test, HarnessError};

/// The files of one run.
pub struct Options {
    pub code: PathBuf,
    pub schema: PathBuf,
    pub input: PathBuf,
    pub reference: Option<PathBuf>,
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A JSON document that does not parse, reported against its file with serde's line and
/// column, before the engine sees it: the engine's messages cannot name the file.
fn check_json(path: &Path, text: &str) -> anyhow::Result<()> {
    serde_json::from_str::<serde_json::Value>(text)
        .map(|_| ())
        .map_err(|e| {
            anyhow::anyhow!(
                "{}:{}:{}: not JSON: {e}",
                path.display(),
                e.line(),
                e.column()
            )
        })
}

/// Each non-blank line of ROWS.jsonl must be a JSON object; the first that is not is named
/// with its line number.
fn check_json_lines(path: &Path, text: &str) -> anyhow::Result<()> {
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => anyhow::bail!(
                "{}:{}: expected an object {{\"rowtime\": ..., \"data\": ...}}",
                path.display(),
                i + 1
            ),
            Err(e) => anyhow::bail!("{}:{}:{}: not JSON: {e}", path.display(), i + 1, e.column()),
        }
    }
    Ok(())
}

pub fn run(opts: &Options) -> anyhow::Result<ExitCode> {
    let loaded = (|| -> anyhow::Result<_> {
        let code = read(&opts.code)?;
        let schema = read(&opts.schema)?;
        check_json(&opts.schema, &schema)?;
        let input = read(&opts.input)?;
        check_json_lines(&opts.input, &input)?;
        let reference = match &opts.reference {
            Some(p) => {
                let text = read(p)?;
                check_json(p, &text)?;
                Some(text)
            }
            None => None,
        };
        Ok((code, schema, input, reference))
    })();
    let (code, schema, input, reference) = match loaded {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::FAILURE);
        }
    };
    match run_test(&code, &schema, &input, reference.as_deref()) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(out.as_bytes())?;
            if !out.is_empty() && !out.ends_with('\n') {
                stdout.write_all(b"\n")?;
            }
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(HarnessError::Compile(e)) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
        Err(HarnessError::Input(msg)) => {
            eprintln!("error: {}: {msg}", blamed_file(opts, &msg).display());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The file a harness input error is about: the harness names the part ("schema: ...",
/// "input line N: ...", otherwise the reference table), not the file it came from.
fn blamed_file<'a>(opts: &'a Options, msg: &str) -> &'a Path {
    if msg.starts_with("input line") {
        &opts.input
    } else if msg.starts_with("schema") {
        &opts.schema
    } else {
        opts.reference.as_deref().unwrap_or(&opts.schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_json_line_is_named_with_its_file_and_line() {
        let p = Path::new("rows.jsonl");
        let err =
            check_json_lines(p, "{\"rowtime\": \"x\", \"data\": {}}\n\n{oops}\n").unwrap_err();
        assert!(err.to_string().starts_with("rows.jsonl:3:"), "{err}");
        let err = check_json_lines(p, "[1]\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("rows.jsonl:1: expected an object"),
            "{err}"
        );
        assert!(check_json_lines(p, "{}\n\n{}\n").is_ok());
    }

    #[test]
    fn a_harness_input_error_names_its_file() {
        let opts = Options {
            code: "app.sql".into(),
            schema: "schema.json".into(),
            input: "rows.jsonl".into(),
            reference: Some("ref.json".into()),
        };
        assert_eq!(
            blamed_file(&opts, "input line 3: bad rowtime"),
            Path::new("rows.jsonl")
        );
        assert_eq!(
            blamed_file(&opts, "schema: no RecordColumns"),
            Path::new("schema.json")
        );
        assert_eq!(
            blamed_file(&opts, "TableName is missing"),
            Path::new("ref.json")
        );
    }

    #[test]
    fn a_bad_json_document_is_named_with_its_line_and_column() {
        let err =
            check_json(Path::new("schema.json"), "{\n  \"RecordColumns\": [,]\n}").unwrap_err();
        assert!(err.to_string().starts_with("schema.json:2:"), "{err}");
    }
}
