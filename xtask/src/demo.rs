//! `cargo xtask demo`: the speeding-car scenario, for real, on embedded defaults.
//!
//! 1. Builds `weir` and `weir-device` (the plugins are already built).
//! 2. Copies `examples/speeding/` (the shipped `weir.toml` and the seed CSVs) into a fresh
//!    `target/demo/speeding/` (removed first: running the demo twice starts from the same
//!    clean state; nothing outside `target/` is touched), pointing its plugin paths at the
//!    built components.
//! 3. Starts `weir run` on it, replays `speeding_data.csv` with `weir-device` over MQTT, then
//!    two speeding cars whose plates are not in the driver table (to show the error action).
//! 4. Waits until every action has settled, stops Weir with SIGTERM (which flushes the
//!    archive) and reports what happened from the metrics and the files on disk.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{cargo, run as run_cmd};

struct Child2(Child);

impl Drop for Child2 {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(root: &Path, target: &Path) -> Result<()> {
    run_cmd(cargo().args([
        "build",
        "--quiet",
        "-p",
        "weir-host",
        "--bin",
        "weir",
        "-p",
        "weir-device",
    ]))?;
    let bin = target.join("debug");
    let example = root.join("examples/speeding");
    let work = target.join("demo/speeding");
    if work.exists() {
        eprintln!("cleaning the previous demo run: {}", work.display());
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("cannot remove {}", work.display()))?;
    }
    std::fs::create_dir_all(work.join("data"))?;
    // The shipped file, verbatim but for where the plugins are (the target folder may be
    // elsewhere, CARGO_TARGET_DIR).
    let config = std::fs::read_to_string(example.join("weir.toml"))?.replace(
        "../../target/plugins",
        &target.join("plugins").display().to_string(),
    );
    std::fs::write(work.join("weir.toml"), config)?;
    for f in ["speeding_data.csv", "driver_data.csv"] {
        std::fs::copy(example.join("data").join(f), work.join("data").join(f))?;
    }
    let strangers = work.join("strangers.csv");
    std::fs::write(
        &strangers,
        "licensePlate,longitude,latitude,city,state,speed\n\
         NOPE-001,101.76,79.69,Springfield,Iowa,97\n\
         NOPE-002,-73.98,40.75,New York,New York,88\n",
    )?;

    println!(
        "\n== starting weir run --config {}",
        work.join("weir.toml").display()
    );
    let mut weir = Child2(
        Command::new(bin.join("weir"))
            .args(["run", "--config"])
            .arg(work.join("weir.toml"))
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start weir")?,
    );
    let stdout = weir.0.stdout.take().context("weir stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines
        .next()
        .context("weir exited before it was ready (see its error above)")??;
    println!("   {ready}");
    let api = ready
        .rsplit_once("api http://")
        .map(|(_, a)| a.trim().to_owned())
        .context("no API address in the ready line")?;

    println!(
        "\n== replaying examples/speeding/data/speeding_data.csv with weir-device (MQTT, QoS 1)"
    );
    let t0 = Instant::now();
    run_cmd(
        Command::new(bin.join("weir-device"))
            .args(["replay", "--csv"])
            .arg(work.join("data/speeding_data.csv")),
    )?;
    println!("\n== two speeding cars whose owners are unknown (they go to the error action)");
    run_cmd(
        Command::new(bin.join("weir-device"))
            .args([
                "replay",
                "-q",
                "--client-id",
                "weir-device-strangers",
                "--csv",
            ])
            .arg(&strangers),
    )?;

    // Settled: every message taken in, and every speeding output either delivered or handed
    // to the error action by each of the rule's actions.
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        let m = metrics(&api)?;
        let matched = m.get("weir_rule_matched_total{rule=\"speeding\"}").copied();
        let settled = m.get("weir_messages_in_total").copied() == Some(1002.0)
            && matched.is_some_and(|n| {
                (0..3).all(|i| {
                    let sum: f64 = m
                        .iter()
                        .filter(|(k, _)| {
                            (k.starts_with("weir_action_delivered_total{")
                                || k.starts_with("weir_action_failed_total{"))
                                && k.contains("rule=\"speeding\"")
                                && k.contains(&format!("action=\"{i}:"))
                        })
                        .map(|(_, v)| v)
                        .sum();
                    sum >= n
                })
            });
        if settled {
            break m;
        }
        if Instant::now() > deadline {
            bail!("the pipelines did not settle within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = t0.elapsed();

    println!("\n== stopping weir (SIGTERM: drain, flush the archive, sync)");
    let pid = weir.0.id().to_string();
    run_cmd(Command::new("kill").args(["-TERM", &pid]))?;
    let status = weir.0.wait()?;
    for l in lines.map_while(Result::ok) {
        println!("   {l}");
    }
    if !status.success() {
        bail!("weir run exited with {status}");
    }

    report(&work.join("weir-data"), &metrics, elapsed)?;
    println!(
        "
== keep it running and poke at it
   cargo run -p weir-host --bin weir -- run --config examples/speeding/weir.toml
   mosquitto_pub -t rtr/iot/trafficdata -q 1 -m '{{\"licensePlate\":\"855TOP\",\"speed\":\"99\",\"city\":\"Ames\",\"state\":\"Iowa\"}}'
   mosquitto_sub -t '#' -v                       # everything on the embedded broker
   curl -s http://127.0.0.1:4567/metrics | grep weir_action
   aws kinesis list-shards --stream-name speeding-alerts --endpoint-url http://127.0.0.1:4567
   aws kinesis get-shard-iterator --stream-name speeding-alerts --shard-id shardId-000000000000 \\
       --shard-iterator-type TRIM_HORIZON --endpoint-url http://127.0.0.1:4567
   aws kinesis get-records --shard-iterator ITERATOR --endpoint-url http://127.0.0.1:4567
   python3 -c \"import boto3; k = boto3.client('kinesis', endpoint_url='http://127.0.0.1:4567', region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x'); print(k.describe_stream_summary(StreamName='speeding-alerts'))\"
   (the AWS CLI and boto3 need some credentials set; any values work unless [api] verify_keys is set)
   Edit examples/speeding/weir.toml while it runs: rules and plugins reload without a restart."
    );
    Ok(())
}

fn http_get(api: &str, path: &str) -> Result<String> {
    let mut s = TcpStream::connect(api).with_context(|| format!("connecting to {api}"))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

/// `GET /metrics` as series -> value.
fn metrics(api: &str) -> Result<BTreeMap<String, f64>> {
    Ok(http_get(api, "/metrics")?
        .lines()
        .filter(|l| l.starts_with("weir_"))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect())
}

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn report(data: &Path, m: &BTreeMap<String, f64>, elapsed: Duration) -> Result<()> {
    let get = |k: &str| m.get(k).copied().unwrap_or(0.0);
    println!("\n== what happened");
    let messages = get("weir_messages_in_total");
    println!(
        "   messages taken in: {messages}; rule `speeding` fired {} times, rule `archive` {}",
        get("weir_rule_matched_total{rule=\"speeding\"}"),
        get("weir_rule_matched_total{rule=\"archive\"}")
    );
    println!(
        "   {messages} messages through the kinesis, plugin and table actions {:.0} ms after the \
         replay started (two weir-device runs included; see its own msg/s above)",
        elapsed.as_secs_f64() * 1e3,
    );
    println!(
        "\n   actions when the replay had settled (delivered / failed, i.e. handed to the error \
         action); the archive buffers for 60 s and was written at the stop:"
    );
    for (k, v) in m
        .iter()
        .filter(|(k, _)| k.starts_with("weir_action_delivered_total{"))
    {
        let failed = get(&k.replace("delivered", "failed"));
        let labels = k.trim_start_matches("weir_action_delivered_total");
        println!("     {labels:<58} {v:>5} / {failed}");
    }

    let sms = std::fs::read_to_string(data.join("sms.jsonl")).unwrap_or_default();
    let alerts: Vec<serde_json::Value> = sms
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    println!(
        "\n   alerts sent: {} (one per speeding car whose owner is known), in {}",
        alerts.len(),
        data.join("sms.jsonl").display()
    );
    for a in alerts.iter().take(2) {
        println!(
            "     to {}: {}",
            a["target"].as_str().unwrap_or_default(),
            a["message"]
                .as_str()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        );
    }

    println!("\n   stream speeding-alerts, records per shard:");
    for (k, v) in m
        .iter()
        .filter(|(k, _)| k.starts_with("weir_shard_records_in_total{"))
    {
        let bytes = get(&k.replace("records_in", "bytes_in"));
        println!(
            "     {} {v} records, {bytes} bytes",
            k.trim_start_matches("weir_shard_records_in_total")
        );
    }

    let archive = data.join("archive");
    let objects = files(&archive);
    println!(
        "\n   archive objects (Firehose keys under {}):",
        archive.display()
    );
    for p in &objects {
        let lines = std::fs::read(p)
            .map(|b| b.split(|c| *c == b'\n').filter(|l| !l.is_empty()).count())
            .unwrap_or(0);
        let key = p.strip_prefix(&archive).unwrap_or(p);
        println!("     {} ({lines} records)", key.display());
    }

    let errors = data.join("errors");
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for p in files(&errors) {
        for line in std::fs::read_to_string(&p).unwrap_or_default().lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let f = &v["failures"][0];
            let reason = format!(
                "{} {}: {}",
                v["ruleName"].as_str().unwrap_or_default(),
                f["failedAction"].as_str().unwrap_or_default(),
                f["errorMessage"].as_str().unwrap_or_default()
            );
            *reasons.entry(reason).or_default() += 1;
        }
    }
    println!(
        "\n   errors (the error action's files under {}):",
        errors.display()
    );
    if reasons.is_empty() {
        println!("     none");
    }
    for (r, n) in reasons {
        println!("     {n} x {r}");
    }
    Ok(())
}
