//! `weir demo`: the speeding-car scenario in-process.
//!
//! Each row of the seed's `speeding_data.csv` becomes the JSON message the Raspberry Pi
//! publishes (every value a string), then runs through the three real plugin components:
//! `speed-limit` (filter) -> `owner-enrich` (transformer, joined with `driver_data.csv`) ->
//! `sms-alert` (emitter). Every alert the emitter asks for is printed, then a summary.
//! Records that fail a stage are reported with the plugin's reason, as an error action would.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use serde_json::{Map, Value};
use weir_plugins::tables::{LookupTables, Table};
use weir_plugins::{
    FilterResult, Grant, OutboxRequest, PluginEngine, PluginSlot, PluginSpec, Record,
    TransformResult,
};

pub struct Options {
    pub plugin_dir: PathBuf,
    pub data_dir: PathBuf,
    pub batch: usize,
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

fn load(
    engine: &PluginEngine,
    dir: &Path,
    file: &str,
    spec: PluginSpec,
    tables: &Arc<LookupTables>,
) -> anyhow::Result<Arc<PluginSlot>> {
    let path = dir.join(file);
    if !path.is_file() {
        bail!(
            "{} not found: build the plugins first with `cargo xtask plugins`",
            path.display()
        );
    }
    Ok(PluginSlot::load(engine, spec, &path, tables.clone())?)
}

pub fn run(opts: &Options) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let drivers_csv = opts.data_dir.join("driver_data.csv");
    let speeding_csv = opts.data_dir.join("speeding_data.csv");
    let drivers = Table::from_csv_file("drivers", &drivers_csv, "licensePlate")?;
    let mut tables = LookupTables::new();
    let driver_count = drivers.len();
    tables.insert("drivers", drivers);
    let tables = Arc::new(tables);

    let engine = PluginEngine::new(Some(PathBuf::from("target/weir-cache")))?;
    let speed_limit = load(
        &engine,
        &opts.plugin_dir,
        "speed-limit.wasm",
        PluginSpec::new("speed-limit", &[Grant::Config]).param("limit", "75"),
        &tables,
    )?;
    let enrich = load(
        &engine,
        &opts.plugin_dir,
        "owner-enrich.wasm",
        PluginSpec::new("owner-enrich", &[Grant::Config, Grant::Lookup]).param("table", "drivers"),
        &tables,
    )?;
    let alert = load(
        &engine,
        &opts.plugin_dir,
        "sms-alert.wasm",
        PluginSpec {
            channels: Some(vec!["sms".into()]),
            ..PluginSpec::new("sms-alert", &[Grant::Config, Grant::Outbox, Grant::Log])
        },
        &tables,
    )?;
    let load_elapsed = started.elapsed();

    let mut reader = csv::Reader::from_path(&speeding_csv)
        .with_context(|| format!("cannot read {}", speeding_csv.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("{}: header", speeding_csv.display()))?
        .clone();
    let mut records = Vec::new();
    let mut errors: Vec<(String, String)> = Vec::new();
    let now = chrono::Utc::now();
    for (i, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("{}: row {}", speeding_csv.display(), i + 2))?;
        let payload = device_payload(
            &row,
            &headers,
            &now.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        );
        let plate = row.get(0).unwrap_or_default().to_string();
        records.push(Record {
            payload: payload.to_string().into_bytes(),
            partition_key: plate,
            source_topic: TOPIC.into(),
            client_id: "weir-demo".into(),
            rule_name: "speeding".into(),
            arrival_timestamp_ms: u64::try_from(now.timestamp_millis()).unwrap_or(0),
            attributes: Vec::new(),
        });
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let pipeline_started = Instant::now();
    let (mut kept, mut enriched, mut alerts) = (0usize, 0usize, 0usize);
    let mut failures_by_stage: BTreeMap<&str, usize> = BTreeMap::new();
    for batch in records.chunks(opts.batch) {
        let verdicts = speed_limit.filter(batch)?;
        let mut passed = Vec::new();
        for (record, verdict) in batch.iter().zip(verdicts) {
            match verdict {
                FilterResult::Keep => passed.push(record.clone()),
                FilterResult::Drop => {}
                FilterResult::Failed(e) => {
                    *failures_by_stage.entry("speed-limit").or_default() += 1;
                    errors.push((
                        record.partition_key.clone(),
                        format!("speed-limit: {}: {}", e.code, e.message),
                    ));
                }
            }
        }
        kept += passed.len();
        let results = enrich.transform(&passed)?;
        let mut joined = Vec::new();
        for (record, result) in passed.iter().zip(results) {
            match result {
                TransformResult::Records(rs) => joined.extend(rs),
                TransformResult::Failed(e) => {
                    *failures_by_stage.entry("owner-enrich").or_default() += 1;
                    errors.push((
                        record.partition_key.clone(),
                        format!("owner-enrich: {}: {}", e.code, e.message),
                    ));
                }
            }
        }
        enriched += joined.len();
        let outcome = alert.emit(&joined)?;
        for f in &outcome.failures {
            *failures_by_stage.entry("sms-alert").or_default() += 1;
            let key = joined
                .get(f.index as usize)
                .map(|r| r.partition_key.clone())
                .unwrap_or_default();
            errors.push((
                key,
                format!("sms-alert: {}: {}", f.error.code, f.error.message),
            ));
        }
        for request in outcome.outbox {
            if let OutboxRequest::Notify {
                channel,
                target,
                message,
            } = request
            {
                alerts += 1;
                if !opts.quiet {
                    writeln!(out, "{channel} {target}: {}", message.replace("\n ", " | "))?;
                }
            }
        }
    }
    let pipeline_elapsed = pipeline_started.elapsed();

    writeln!(out)?;
    writeln!(
        out,
        "speeding-car demo: {} rows from {}",
        records.len(),
        speeding_csv.display()
    )?;
    writeln!(
        out,
        "  driver table:        {driver_count} owners from {}",
        drivers_csv.display()
    )?;
    writeln!(out, "  above the limit:     {kept} (speed-limit, limit 75)")?;
    writeln!(out, "  joined with owner:   {enriched} (owner-enrich)")?;
    writeln!(
        out,
        "  alerts sent:         {alerts} (sms-alert, channel sms)"
    )?;
    writeln!(out, "  errors:              {}", errors.len())?;
    for (key, why) in errors.iter().take(20) {
        writeln!(out, "    {key}: {why}")?;
    }
    for (p, n) in [
        (&speed_limit, "speed-limit"),
        (&enrich, "owner-enrich"),
        (&alert, "sms-alert"),
    ] {
        let plugin = p.current();
        writeln!(
            out,
            "  plugin {n:<13} version {} loaded in {:.1} ms{}",
            plugin.version(),
            plugin.load_time().as_secs_f64() * 1e3,
            if plugin.from_cache() { " (cached)" } else { "" }
        )?;
    }
    writeln!(
        out,
        "  time: loading {:.0} ms, pipeline {:.1} ms ({:.0} records/s, batches of {})",
        load_elapsed.as_secs_f64() * 1e3,
        pipeline_elapsed.as_secs_f64() * 1e3,
        records.len() as f64 / pipeline_elapsed.as_secs_f64().max(1e-9),
        opts.batch
    )?;
    Ok(ExitCode::SUCCESS)
}
