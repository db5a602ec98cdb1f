//! `weir plugin test PLUGIN.wasm --input records.jsonl`: run a built component on sample input
//! and print each record's outcome.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use weir_plugins::harness::{self, Outcome};
use weir_plugins::tables::{LookupTables, Table};
use weir_plugins::{OutboxRequest, PluginEngine, PluginSpec, Record};

pub struct Options {
    pub plugin: PathBuf,
    pub input: PathBuf,
    pub raw: bool,
    pub config: Vec<String>,
    pub tables: Vec<String>,
    pub batch: usize,
    /// `None`: every grant.
    pub grants: Option<Vec<String>>,
    /// Compile every time instead of through `~/.cache/weir/plugin-cache`.
    pub no_cache: bool,
}

/// Each input line is one record: its JSON text as payload (or the line as-is with `--raw`).
/// Returns the records with their 1-based line numbers (blank lines are skipped).
fn read_records(path: &Path, raw: bool) -> anyhow::Result<(Vec<Record>, Vec<usize>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut records = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if !raw {
            serde_json::from_str::<serde_json::Value>(line).with_context(|| {
                format!(
                    "{}:{}: not JSON (use --raw for text lines)",
                    path.display(),
                    i + 1
                )
            })?;
        }
        records.push(Record {
            payload: line.as_bytes().to_vec(),
            partition_key: format!("line-{}", i + 1),
            source_topic: "weir/plugin-test".into(),
            client_id: "weir-plugin-test".into(),
            rule_name: "plugin-test".into(),
            arrival_timestamp_ms: u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0),
            attributes: Vec::new(),
        });
        lines.push(i + 1);
    }
    Ok((records, lines))
}

/// `name=file.csv` or `name=file.csv:keycolumn` (the key column defaults to the first column).
fn load_tables(specs: &[String]) -> anyhow::Result<LookupTables> {
    let mut tables = LookupTables::new();
    for spec in specs {
        let (name, rest) = spec
            .split_once('=')
            .with_context(|| format!("--table {spec:?}: expected NAME=FILE.csv[:KEY]"))?;
        let (file, key) = match rest.rsplit_once(':') {
            Some((f, k)) if !k.contains('/') => (f, Some(k)),
            _ => (rest, None),
        };
        let key = match key {
            Some(k) => k.to_string(),
            None => {
                let mut r = csv::Reader::from_path(file)
                    .with_context(|| format!("--table {name}: cannot read {file}"))?;
                r.headers()?
                    .get(0)
                    .map(str::to_string)
                    .with_context(|| format!("--table {name}: {file} has no header"))?
            }
        };
        tables.insert(name, Table::from_csv_file(name, Path::new(file), &key)?);
    }
    Ok(tables)
}

fn show(payload: &[u8]) -> String {
    String::from_utf8_lossy(payload).into_owned()
}

/// `weir plugin test`: runs a plugin on records from a file, outside any server, and prints
/// what happened to each (with its input line number) and what it asked the host to do.
pub fn run(opts: &Options) -> anyhow::Result<ExitCode> {
    let spec = plugin_spec(opts)?;
    let tables = Arc::new(load_tables(&opts.tables)?);
    let (records, lines) = read_records(&opts.input, opts.raw)?;
    // Through a compile cache, as `weir run`: a large component (a Python or JavaScript
    // plugin carries its interpreter) compiles once, then loads in milliseconds.
    let cache = if opts.no_cache {
        None
    } else {
        super::toolchain::user_cache()
            .ok()
            .map(|c| Some(c.join("plugin-cache")))
    };
    let engine = match cache.map(PluginEngine::new) {
        Some(Ok(engine)) => engine,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "the compile cache is unusable; compiling without it");
            PluginEngine::new(None)?
        }
        None => PluginEngine::new(None)?,
    };
    let report = harness::run(&engine, spec, &opts.plugin, tables, &records, opts.batch)?;

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let p = &report.plugin;
    writeln!(
        out,
        "# {} {} version {} ({:.1} ms to load)",
        p.kind().as_str(),
        p.name(),
        p.version(),
        p.load_time().as_secs_f64() * 1e3
    )?;
    writeln!(out, "# imports: {}", p.imports().join(", "))?;
    let failed = print_outcomes(&mut out, &report.outcomes, lines)?;
    print_outbox(&mut out, &report.outbox)?;
    writeln!(
        out,
        "# {} records, {} failed",
        report.outcomes.len(),
        failed
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The plugin's spec: named after its file, with the `--config KEY=VALUE` parameters and the
/// `--grants` (not given: every grant).
fn plugin_spec(opts: &Options) -> anyhow::Result<PluginSpec> {
    let mut grants = Vec::new();
    if opts.grants.is_none() {
        grants = weir_plugins::Grant::ALL.to_vec();
    }
    for g in opts.grants.iter().flatten() {
        let g = g.trim();
        if g.is_empty() {
            continue;
        }
        grants.push(
            g.parse::<weir_plugins::Grant>()
                .map_err(|e| anyhow::anyhow!("--grants: {e}"))?,
        );
    }
    let mut spec = PluginSpec::new(
        opts.plugin
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin".into()),
        &grants,
    );
    for kv in &opts.config {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--config {kv:?}: expected KEY=VALUE")
        };
        spec.params.insert(k.to_string(), v.to_string());
    }
    Ok(spec)
}

/// One line per record outcome, tab-separated after the input line number; returns how
/// many records failed.
fn print_outcomes(
    out: &mut impl Write,
    outcomes: &[Outcome],
    lines: Vec<usize>,
) -> std::io::Result<usize> {
    let mut failed = 0;
    for (outcome, n) in outcomes.iter().zip(lines) {
        match outcome {
            Outcome::Kept => writeln!(out, "{n}\tkept")?,
            Outcome::Dropped => writeln!(out, "{n}\tdropped")?,
            Outcome::Delivered => writeln!(out, "{n}\tdelivered")?,
            Outcome::Transformed(rs) if rs.is_empty() => {
                writeln!(out, "{n}\tconsumed (no output)")?
            }
            Outcome::Transformed(rs) => {
                for r in rs {
                    writeln!(out, "{n}\t-> {}", show(&r.payload))?;
                }
            }
            Outcome::Failed { error, retryable } => {
                failed += 1;
                let retry = if *retryable { " (retryable)" } else { "" };
                writeln!(out, "{n}\tfailed{retry}: {}: {}", error.code, error.message)?;
            }
            Outcome::BatchFault(why) => {
                failed += 1;
                writeln!(out, "{n}\tbatch failed: {why}")?;
            }
        }
    }
    Ok(failed)
}

/// What the plugin asked the host to do (notify, publish, put a record), one line each:
/// the test runs nothing of it.
fn print_outbox(out: &mut impl Write, outbox: &[OutboxRequest]) -> std::io::Result<()> {
    for request in outbox {
        match request {
            OutboxRequest::Notify {
                channel,
                target,
                message,
            } => writeln!(out, "outbox\tnotify {channel} {target}: {message:?}")?,
            OutboxRequest::Publish {
                topic,
                payload,
                qos,
            } => writeln!(out, "outbox\tpublish {topic} qos{qos}: {}", show(payload))?,
            OutboxRequest::PutRecord {
                stream,
                partition_key,
                data,
            } => writeln!(
                out,
                "outbox\tput-record {stream} [{partition_key}]: {}",
                show(data)
            )?,
        }
    }
    Ok(())
}
