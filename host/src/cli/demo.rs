//! `weir demo`: the speeding-car scenario in-process, through the server's own code.
//!
//! It loads the same configuration file `weir run` uses (by default the shipped
//! `examples/speeding/weir.toml`), points its storage at a fresh folder, and replays each row
//! of the seed's `speeding_data.csv` as the JSON message the Raspberry Pi publishes (every
//! value a string) through [`weir_host::runtime::replay`]: the same plan, rules, plugin
//! pipelines, sinks and error actions as `weir run`, only without a broker. It prints every
//! alert the `sms` channel received, then what each rule and action did.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use bytes::Bytes;
use serde_json::{Map, Value};
use weir_config::{ActionKind, Config, NotifyChannel};
use weir_host::runtime::{replay, Message, ReplayReport};

pub struct Options {
    /// The configuration file.
    pub config: PathBuf,
    /// Where the plugin components are, when not where the file says.
    pub plugin_dir: Option<PathBuf>,
    /// Folder with `speeding_data.csv`.
    pub data_dir: PathBuf,
    /// Storage folder to keep; `None` means a temporary one, removed afterwards.
    pub storage: Option<PathBuf>,
    pub quiet: bool,
}

const TOPIC: &str = "rtr/iot/trafficdata";

/// The device's payload for one CSV row, keys in the order the seed's script writes them.
fn device_payload(row: &csv::StringRecord, headers: &csv::StringRecord, now: &str) -> Value {
    let mut m = Map::new();
    m.insert("iottimestamp".into(), Value::String(now.to_string()));
    for (h, v) in headers.iter().zip(row.iter()) {
        m.insert(h.to_string(), Value::String(v.to_string()));
    }
    Value::Object(m)
}

fn messages(csv_path: &Path) -> anyhow::Result<Vec<Message>> {
    let mut reader = csv::Reader::from_path(csv_path)
        .with_context(|| format!("cannot read {}", csv_path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("{}: header", csv_path.display()))?
        .clone();
    let now = chrono::Utc::now()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string();
    let topic: Arc<str> = Arc::from(TOPIC);
    let client: Arc<str> = Arc::from("weir-demo");
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("{}: row {}", csv_path.display(), i + 2))?;
        out.push(Message {
            topic: topic.clone(),
            payload: Bytes::from(device_payload(&row, &headers, &now).to_string()),
            client_id: Some(client.clone()),
        });
    }
    Ok(out)
}

/// `path` moved from under `from` to under `to`; paths elsewhere stay.
fn rebase(path: &Path, from: &Path, to: &Path) -> PathBuf {
    match path.strip_prefix(from) {
        Ok(rest) => to.join(rest),
        Err(_) => path.to_path_buf(),
    }
}

/// Points everything the file keeps under its storage folder (streams, tables, notification
/// files, Firehose folders) at `storage`, and the plugins at `plugin_dir` when given.
fn relocate(config: &mut Config, storage: &Path, plugin_dir: Option<&Path>) {
    let old = config.storage.dir.clone();
    config.storage.dir = storage.to_path_buf();
    for channel in config.notify.values_mut() {
        if let NotifyChannel::File { path } = channel {
            *path = rebase(path, &old, storage);
        }
    }
    for rule in config.rules.values_mut() {
        for action in rule.actions.iter_mut().chain(rule.error_action.as_mut()) {
            if let ActionKind::Firehose(f) = &mut action.kind {
                f.root = rebase(&f.root, &old, storage);
            }
        }
    }
    if let Some(dir) = plugin_dir {
        for p in config.plugins.values_mut() {
            if let Some(name) = p.path.file_name() {
                p.path = dir.join(name);
            }
        }
    }
}

/// A fresh, empty storage folder: the report counts one run only.
fn storage_folder(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match given {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!(
            "weir-demo-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_micros()
        )),
    };
    if let Ok(mut entries) = std::fs::read_dir(&dir) {
        if entries.next().is_some() {
            bail!(
                "--storage {} is not empty; give an empty or new folder (the report counts one run)",
                dir.display()
            );
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Every notification a file channel received, as `CHANNEL TARGET: MESSAGE` lines.
fn notifications(config: &Config) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    for channel in config.notify.values() {
        let NotifyChannel::File { path } = channel else {
            continue;
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            let v: Value = serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: not JSON", path.display(), i + 1))?;
            let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
            lines.push(format!(
                "{} {}: {}",
                field("channel"),
                field("target"),
                field("message").replace("\n ", " | ")
            ));
        }
    }
    Ok(lines)
}

pub fn run(opts: &Options) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(&opts.config).map_err(|e| {
        let hint = if e
            .0
            .iter()
            .any(|c| c.path.to_string().starts_with("plugins"))
        {
            "\nthe plugin components are built by `cargo xtask plugins`"
        } else {
            ""
        };
        anyhow::anyhow!("{e}{hint}")
    })?;
    let storage = storage_folder(opts.storage.as_deref())?;
    relocate(&mut config, &storage, opts.plugin_dir.as_deref());
    let missing: Vec<String> = config
        .plugins
        .iter()
        .filter(|(_, p)| !p.path.is_file())
        .map(|(name, p)| format!("plugin {name:?}: {} not found", p.path.display()))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{}\nbuild the plugins first with `cargo xtask plugins`",
            missing.join("\n")
        );
    }
    let csv_path = opts.data_dir.join("speeding_data.csv");
    let msgs = messages(&csv_path)?;
    let count = msgs.len();
    let report = replay(&config, msgs).context("replaying the scenario")?;
    let alerts = notifications(&config)?;

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if !opts.quiet {
        for a in &alerts {
            writeln!(out, "{a}")?;
        }
        writeln!(out)?;
    }
    print_report(&mut out, opts, &csv_path, count, &report, alerts.len())?;
    if opts.storage.is_none() {
        let _ = std::fs::remove_dir_all(&storage);
    } else {
        writeln!(out, "  storage kept in {}", storage.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(
    out: &mut impl Write,
    opts: &Options,
    csv_path: &Path,
    count: usize,
    r: &ReplayReport,
    alerts: usize,
) -> anyhow::Result<()> {
    let c = &r.counters;
    writeln!(
        out,
        "speeding-car demo: {count} messages from {} through {}",
        csv_path.display(),
        opts.config.display()
    )?;
    for rule in &c.rules {
        writeln!(
            out,
            "  rule {:<10} fired {:>5}, errors {}",
            rule.rule, rule.matched, rule.errors
        )?;
    }
    for a in &c.actions {
        writeln!(
            out,
            "  action {}/{}: delivered {}, failed {}, dropped {}",
            a.rule, a.action, a.delivered, a.failed, a.dropped
        )?;
    }
    for s in &c.shards {
        writeln!(
            out,
            "  stream {} {}: {} records",
            s.stream, s.shard, s.records
        )?;
    }
    let errors: u64 = c.rules.iter().map(|r| r.errors).sum();
    writeln!(out, "  alerts sent:         {alerts}")?;
    writeln!(out, "  errors:              {errors}")?;
    writeln!(
        out,
        "  acknowledged:        {} of {count} ({} not)",
        r.acknowledged, r.not_acknowledged
    )?;
    writeln!(
        out,
        "  time: opening {:.0} ms, replay {:.1} ms ({:.0} messages/s)",
        r.open_time.as_secs_f64() * 1e3,
        r.run_time.as_secs_f64() * 1e3,
        count as f64 / r.run_time.as_secs_f64().max(1e-9),
    )?;
    Ok(())
}
