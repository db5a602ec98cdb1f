//! `cargo xtask demo`: the speeding-car scenario, for real, on embedded defaults.
//!
//! 1. Builds `weir` and `weir-device` (the plugins are already built) and takes the paths of
//!    the executables from that build's own report (cargo's JSON messages), never from what an
//!    earlier build left in `target/`: a build line that leaves out a binary the demo starts
//!    fails right there, naming it.
//! 2. Copies `examples/speeding/` (the shipped `weir.toml` and the seed CSVs) into a fresh
//!    `target/demo/speeding/` (removed first: running the demo twice starts from the same
//!    clean state; nothing outside `target/` is touched), pointing its plugin paths at the
//!    built components.
//! 3. Starts `weir run` on it, replays `speeding_data.csv` with `weir-device` over MQTT, then
//!    two speeding cars whose plates are not in the driver table (to show the error action).
//! 4. Waits until every action has settled, then makes the scenario's Kinesis Data Analytics
//!    SQL application (`examples/speeding/analytics/`) through the application API, over
//!    stream `speeding-alerts`, starts it from TRIM_HORIZON and reads its output streams until
//!    its one-minute windows have closed (`demo/analytics.rs`).
//! 5. Stops Weir with SIGTERM (which flushes the archive) and reports what happened from the
//!    metrics, the files on disk and the application's output.
//!
//! `cargo xtask test` runs this same function (on free ports instead of the shipped ones, so a
//! broker already listening on 1883 cannot get in the way) and then [`check`]s the outcome
//! against an independent count from the two CSV files, the application's per-city and
//! per-state figures included.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{cargo, describe, run as run_cmd};

mod analytics;

/// The binaries the demo starts, as (package, binary). The build step is derived from this
/// list, and [`resolve`] insists that the build reported every one of them.
pub const BINARIES: &[(&str, &str)] = &[("weir-host", "weir"), ("weir-device", "weir-device")];

/// The addresses in the shipped `weir.toml`: MQTT 3.1.1, MQTT 5, and the HTTP API.
const SHIPPED_ADDRS: [&str; 3] = ["127.0.0.1:1883", "127.0.0.1:1884", "127.0.0.1:4567"];

/// Which addresses the demo's Weir listens on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ports {
    /// The shipped ones (1883, 1884, 4567): what `cargo xtask demo` uses, so the commands it
    /// prints at the end work against a Weir started on the same file.
    Shipped,
    /// Free ports picked at start: what the test command uses.
    Free,
}

struct Child2(Child);

impl Drop for Child2 {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the demo saw, for [`print_report`] and [`check`].
pub struct Report {
    /// The demo's storage folder (`target/demo/speeding/weir-data`).
    pub data: PathBuf,
    /// `GET /metrics` once every action had settled, as series -> value.
    pub metrics: BTreeMap<String, f64>,
    /// From the replay's start until every action had settled.
    pub elapsed: Duration,
    /// What the analytics application wrote to its output streams.
    pub analytics: analytics::AnalyticsOutcome,
}

impl Report {
    fn metric(&self, key: &str) -> f64 {
        self.metrics.get(key).copied().unwrap_or(0.0)
    }

    /// The SMS outbox, one JSON object per alert.
    fn alerts(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.data.join("sms.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Records in the archive's objects, by key under the archive folder.
    fn archive(&self) -> Vec<(String, usize)> {
        let archive = self.data.join("archive");
        files(&archive)
            .iter()
            .map(|p| {
                let lines = std::fs::read(p)
                    .map(|b| b.split(|c| *c == b'\n').filter(|l| !l.is_empty()).count())
                    .unwrap_or(0);
                let key = p.strip_prefix(&archive).unwrap_or(p);
                (key.display().to_string(), lines)
            })
            .collect()
    }

    /// The error action's records as "rule action: reason" -> count.
    fn errors(&self) -> BTreeMap<String, usize> {
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for p in files(&self.data.join("errors")) {
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
        reasons
    }
}

/// The `cargo build` arguments that build every binary in [`BINARIES`], and nothing else.
pub fn build_args() -> Vec<String> {
    let mut args: Vec<String> = vec![
        "build".into(),
        // Artifacts as JSON on stdout (read by `resolve`); diagnostics and cargo's progress
        // still go to the terminal, so a first build is never silent.
        "--message-format=json-render-diagnostics".into(),
    ];
    for (package, _) in BINARIES {
        args.extend(["-p".into(), (*package).into()]);
    }
    for (_, bin) in BINARIES {
        args.extend(["--bin".into(), (*bin).into()]);
    }
    args
}

/// The executables that cargo's JSON messages report, by binary name.
pub fn executables(messages: &str) -> BTreeMap<String, PathBuf> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| {
            let exe = m["executable"].as_str()?;
            let name = m["target"]["name"].as_str()?;
            Some((name.to_owned(), PathBuf::from(exe)))
        })
        .collect()
}

/// Every binary the demo starts, from what the build reported; an error names the first one
/// the build did not produce.
pub fn resolve(built: &BTreeMap<String, PathBuf>, build_line: &str) -> Result<Binaries> {
    let find = |bin: &str| -> Result<PathBuf> {
        built.get(bin).cloned().with_context(|| {
            format!(
                "the demo's build (`{build_line}`) did not produce `{bin}`, which the demo \
                 starts; it produced: {}. Fix `build_args` in xtask/src/demo.rs",
                if built.is_empty() {
                    "nothing".to_owned()
                } else {
                    built.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            )
        })
    };
    for (_, bin) in BINARIES {
        find(bin)?;
    }
    Ok(Binaries {
        weir: find("weir")?,
        device: find("weir-device")?,
    })
}

/// The executables the demo runs, as this run's build reported them.
pub struct Binaries {
    pub weir: PathBuf,
    pub device: PathBuf,
}

/// Whether `target` holds no dev-profile build of wasmtime yet (xtask itself lives in
/// target/debug, so that folder alone says nothing).
pub fn first_build(target: &Path) -> bool {
    !std::fs::read_dir(target.join("debug/.fingerprint")).is_ok_and(|mut d| {
        d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("wasmtime-")))
    })
}

/// Said before anything is built on an empty target folder, so a newcomer knows what the
/// silence-free but long first build costs. The figures are this project's 2-core machine's,
/// from a fresh clone (README, "What the first run costs").
pub fn first_build_notice() {
    println!(
        "== first build: about 390 crates (wasmtime and cranelift are most of it), with cargo's \
         progress below. On 2 cores it takes about 24 minutes and ends with \
         about 2 GiB under target/ (5 GiB once the tests are built too); later runs reuse it \
         and start in seconds."
    );
}

/// Builds the binaries in the dev profile (the one the tests use, so the test command builds
/// wasmtime once for both) and returns where cargo put them.
fn build() -> Result<Binaries> {
    println!("\n== building weir and weir-device (dev profile)");
    let mut cmd = cargo();
    cmd.args(build_args()).stdout(Stdio::piped());
    let line = describe(&cmd);
    eprintln!("$ {line}");
    let out = cmd
        .spawn()
        .with_context(|| format!("cannot start {line}"))?
        .wait_with_output()
        .with_context(|| format!("waiting for {line}"))?;
    if !out.status.success() {
        bail!("`{line}` failed with {}", out.status);
    }
    resolve(&executables(&String::from_utf8_lossy(&out.stdout)), &line)
}

/// Puts a fresh copy of the example under `work`: the shipped config (with the plugin paths,
/// and for [`Ports::Free`] the listen addresses, rewritten), the seed CSVs and two strangers.
fn stage(example: &Path, work: &Path, target: &Path, ports: Ports) -> Result<()> {
    if work.exists() {
        println!("   cleaning the previous demo run: {}", work.display());
        std::fs::remove_dir_all(work)
            .with_context(|| format!("cannot remove {}", work.display()))?;
    }
    std::fs::create_dir_all(work.join("data"))
        .with_context(|| format!("cannot create {}", work.join("data").display()))?;
    let shipped = example.join("weir.toml");
    // The shipped file, verbatim but for where the plugins are (the target folder may be
    // elsewhere, CARGO_TARGET_DIR).
    let mut config = std::fs::read_to_string(&shipped)
        .with_context(|| format!("cannot read {}", shipped.display()))?
        .replace(
            "../../target/plugins",
            &target.join("plugins").display().to_string(),
        );
    if ports == Ports::Free {
        for addr in SHIPPED_ADDRS {
            if !config.contains(&format!("\"{addr}\"")) {
                bail!(
                    "{} no longer listens on {addr}: update SHIPPED_ADDRS in xtask/src/demo.rs",
                    shipped.display()
                );
            }
            config = config.replace(&format!("\"{addr}\""), &format!("\"{}\"", free_addr()?));
        }
    }
    std::fs::write(work.join("weir.toml"), config)
        .with_context(|| format!("cannot write {}", work.join("weir.toml").display()))?;
    for f in ["speeding_data.csv", "driver_data.csv"] {
        let (from, to) = (example.join("data").join(f), work.join("data").join(f));
        std::fs::copy(&from, &to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    std::fs::write(
        work.join("strangers.csv"),
        "licensePlate,longitude,latitude,city,state,speed\n\
         NOPE-001,101.76,79.69,Springfield,Iowa,97\n\
         NOPE-002,-73.98,40.75,New York,New York,88\n",
    )
    .context("cannot write strangers.csv")?;
    std::fs::create_dir_all(work.join("analytics"))
        .with_context(|| format!("cannot create {}", work.join("analytics").display()))?;
    for f in ["speeding.sql", "schema.json"] {
        let (from, to) = (
            example.join("analytics").join(f),
            work.join("analytics").join(f),
        );
        std::fs::copy(&from, &to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

fn free_addr() -> Result<String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("no free port on 127.0.0.1")?;
    Ok(l.local_addr()?.to_string())
}

/// Refuses to start when another program holds one of the shipped ports, naming it, instead of
/// letting Weir fail with a bind error half-way through.
fn ports_free() -> Result<()> {
    for addr in SHIPPED_ADDRS {
        if let Err(e) = std::net::TcpListener::bind(addr) {
            bail!(
                "{addr} is taken ({e}): the demo's Weir listens there (examples/speeding/weir.toml). \
                 Stop what holds it (a mosquitto service, an earlier `weir run`) and try again"
            );
        }
    }
    Ok(())
}

/// The broker address (MQTT 3.1.1) and API address of a staged config.
fn addresses(config: &Path) -> Result<(String, String)> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let value = |section: &str| -> Result<String> {
        let mut in_section = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_section = line == format!("[{section}]");
            } else if in_section {
                if let Some(v) = line.strip_prefix("listen") {
                    if let Some(v) = v.trim_start().strip_prefix('=') {
                        return Ok(v.trim().trim_matches('"').to_owned());
                    }
                }
            }
        }
        bail!("{}: no `listen` under [{section}]", config.display())
    };
    Ok((value("broker")?, value("api")?))
}

/// Runs the whole demo and returns what it saw. `target` is the cargo target folder.
pub fn run(root: &Path, target: &Path, ports: Ports) -> Result<Report> {
    let bins = build()?;
    if ports == Ports::Shipped {
        ports_free()?;
    }
    let example = root.join("examples/speeding");
    let work = target.join("demo/speeding");
    println!("\n== staging the example in {}", work.display());
    stage(&example, &work, target, ports)?;
    let config = work.join("weir.toml");
    let (broker, _) = addresses(&config)?;

    println!("\n== starting weir run --config {}", config.display());
    let mut weir = Child2(
        Command::new(&bins.weir)
            .args(["run", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", bins.weir.display()))?,
    );
    let stdout = weir.0.stdout.take().context("weir stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines
        .next()
        .context("weir exited before it was ready (see its error above)")?
        .context("reading weir's ready line")?;
    println!("   {ready}");
    let api = ready
        .rsplit_once("api http://")
        .map(|(_, a)| a.trim().to_owned())
        .context("no API address in the ready line")?;

    println!(
        "\n== replaying examples/speeding/data/speeding_data.csv with weir-device (MQTT, QoS 1, \
         to mqtt://{broker})"
    );
    let t0 = Instant::now();
    run_cmd(
        Command::new(&bins.device)
            .args(["replay", "--broker", &format!("mqtt://{broker}"), "--csv"])
            .arg(work.join("data/speeding_data.csv")),
    )?;
    println!("\n== two speeding cars whose owners are unknown (they go to the error action)");
    run_cmd(
        Command::new(&bins.device)
            .args([
                "replay",
                "-q",
                "--broker",
                &format!("mqtt://{broker}"),
                "--client-id",
                "weir-device-strangers",
                "--csv",
            ])
            .arg(work.join("strangers.csv")),
    )?;

    println!("\n== waiting until every action has delivered or handed off each message");
    let metrics = settle(&api)?;
    let elapsed = t0.elapsed();

    println!(
        "\n== the analytics application (examples/speeding/analytics/speeding.sql) over stream \
         {}, through the KinesisAnalytics_20150814 API on http://{api}",
        analytics::INPUT
    );
    // What the rule's kinesis action put in the input stream: the application must count
    // all of it (`check` compares that with the seed CSV).
    let input = format!("stream=\"{}\"", analytics::INPUT);
    let in_stream: f64 = metrics
        .iter()
        .filter(|(k, _)| k.starts_with("weir_shard_records_in_total{") && k.contains(&input))
        .map(|(_, v)| v)
        .sum();
    let analytics = analytics::run(&api, &work.join("analytics"), in_stream as u64)?;

    println!("\n== stopping weir (SIGTERM: drain, flush the archive, sync)");
    let pid = weir.0.id().to_string();
    run_cmd(Command::new("kill").args(["-TERM", &pid]))?;
    let status = weir.0.wait().context("waiting for weir to stop")?;
    for l in lines.map_while(Result::ok) {
        println!("   {l}");
    }
    if !status.success() {
        bail!("weir run exited with {status}");
    }
    Ok(Report {
        data: work.join("weir-data"),
        metrics,
        elapsed,
        analytics,
    })
}

/// Settled: every traffic message taken in, and every speeding output either delivered or handed to the
/// error action by each of the rule's actions. Returns the metrics at that moment.
fn settle(api: &str) -> Result<BTreeMap<String, f64>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let m = metrics(api)?;
        let matched = m.get("weir_rule_matched_total{rule=\"speeding\"}").copied();
        // Every traffic message taken in and matched by `archive` (messages in counts the
        // broker's lifecycle events of the devices' connections too).
        let settled = m.get("weir_rule_matched_total{rule=\"archive\"}").copied() == Some(1002.0)
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
            return Ok(m);
        }
        if Instant::now() > deadline {
            bail!(
                "the pipelines did not settle within 60 s; last metrics:\n{}",
                m.iter()
                    .map(|(k, v)| format!("  {k} {v}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The closing hints of `cargo xtask demo`: how to keep Weir running and poke at it.
pub fn print_next_steps() {
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
   Edit examples/speeding/weir.toml while it runs: rules and plugins reload without a restart.
   cargo run -p weir-host --bin weir -- analytics test --code examples/speeding/analytics/speeding.sql \\
       --schema examples/speeding/analytics/schema.json --input examples/speeding/analytics/input.jsonl
   (the analytics application on recorded rows; the demo made it with CreateApplication, see demo/analytics.rs)"
    );
}

fn http_get(api: &str, path: &str) -> Result<String> {
    let mut s = TcpStream::connect(api).with_context(|| format!("connecting to {api}"))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = String::new();
    s.read_to_string(&mut body)
        .with_context(|| format!("reading GET {path} from {api}"))?;
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

pub fn print_report(r: &Report) {
    println!("\n== what happened");
    let messages = r.metric("weir_rule_matched_total{rule=\"archive\"}");
    println!(
        "   messages taken in: {} ({messages} traffic messages, the rest the devices' lifecycle \
         events); rule `speeding` fired {} times, rule `archive` {messages}",
        r.metric("weir_messages_in_total"),
        r.metric("weir_rule_matched_total{rule=\"speeding\"}"),
    );
    println!(
        "   {messages} messages through the kinesis, plugin and table actions {:.0} ms after the \
         replay started (two weir-device runs included; see its own msg/s above)",
        r.elapsed.as_secs_f64() * 1e3,
    );
    println!(
        "\n   actions when the replay had settled (delivered / failed, i.e. handed to the error \
         action); the archive buffers for 60 s and was written at the stop:"
    );
    for (k, v) in r
        .metrics
        .iter()
        .filter(|(k, _)| k.starts_with("weir_action_delivered_total{"))
    {
        let failed = r.metric(&k.replace("delivered", "failed"));
        let labels = k.trim_start_matches("weir_action_delivered_total");
        println!("     {labels:<58} {v:>5} / {failed}");
    }

    let alerts = r.alerts();
    println!(
        "\n   alerts sent: {} (one per speeding car whose owner is known), in {}",
        alerts.len(),
        r.data.join("sms.jsonl").display()
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
    for (k, v) in r
        .metrics
        .iter()
        .filter(|(k, _)| k.starts_with("weir_shard_records_in_total{"))
    {
        let bytes = r.metric(&k.replace("records_in", "bytes_in"));
        println!(
            "     {} {v} records, {bytes} bytes",
            k.trim_start_matches("weir_shard_records_in_total")
        );
    }

    println!(
        "\n   archive objects (Firehose keys under {}):",
        r.data.join("archive").display()
    );
    for (key, lines) in r.archive() {
        println!("     {key} ({lines} records)");
    }

    println!(
        "\n   errors (the error action's files under {}):",
        r.data.join("errors").display()
    );
    let errors = r.errors();
    if errors.is_empty() {
        println!("     none");
    }
    for (reason, n) in errors {
        println!("     {n} x {reason}");
    }

    analytics::print(&r.analytics);
}

/// The demo's outcome against an independent count from the seed CSVs: one alert per speeding
/// car (speed > 75) whose owner is in the driver table, each such record once in the stream,
/// every speeding message in the table, every message archived, and both strangers in the
/// error action from both actions that join the owner.
pub fn check(root: &Path, r: &Report) -> Result<()> {
    let data = root.join("examples/speeding/data");
    let plates = |file: &str, keep: &dyn Fn(&csv::StringRecord, &csv::StringRecord) -> bool| {
        let path = data.join(file);
        let mut reader = csv::Reader::from_path(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let header = reader.headers()?.clone();
        let col = header
            .iter()
            .position(|h| h == "licensePlate")
            .with_context(|| format!("{}: no licensePlate column", path.display()))?;
        let mut out = BTreeSet::new();
        for (i, row) in reader.records().enumerate() {
            let row = row.with_context(|| format!("{} row {}", path.display(), i + 2))?;
            if keep(&header, &row) {
                out.insert(row.get(col).unwrap_or_default().to_owned());
            }
        }
        anyhow::Ok(out)
    };
    let owners = plates("driver_data.csv", &|_, _| true)?;
    let speeding = plates("speeding_data.csv", &|h, row| {
        h.iter()
            .position(|c| c == "speed")
            .and_then(|i| row.get(i))
            .and_then(|s| s.trim().parse::<f64>().ok())
            .is_some_and(|s| s > 75.0)
    })?;
    let alerted: BTreeSet<&String> = speeding.iter().filter(|p| owners.contains(*p)).collect();
    let strangers = 2.0;
    let matched = speeding.len() as f64 + strangers;

    let mut problems = Vec::new();
    let mut expect = |what: &str, got: f64, want: f64| {
        if got != want {
            problems.push(format!("{what}: {got}, expected {want}"));
        }
    };
    let alerts: BTreeSet<String> = r
        .alerts()
        .iter()
        .filter_map(|a| a["message"].as_str())
        .filter_map(|m| m.split("licenseplate ").nth(1))
        .filter_map(|rest| rest.split(" was clocked").next())
        .map(str::to_owned)
        .collect();
    expect("alerts sent", r.alerts().len() as f64, alerted.len() as f64);
    expect(
        "cars alerted as expected",
        alerts.iter().filter(|p| alerted.contains(p)).count() as f64,
        alerted.len() as f64,
    );
    expect(
        "rule speeding fired",
        r.metric("weir_rule_matched_total{rule=\"speeding\"}"),
        matched,
    );
    expect(
        "rule archive fired",
        r.metric("weir_rule_matched_total{rule=\"archive\"}"),
        1000.0 + strangers,
    );
    let action = |kind: &str, name: &str| {
        format!("weir_action_delivered_total{{rule=\"speeding\",action=\"{kind}:{name}\"}}")
    };
    expect(
        "kinesis action delivered",
        r.metric(&action("0", "kinesis:speeding-alerts")),
        alerted.len() as f64,
    );
    expect(
        "sms-alert action delivered",
        r.metric(&action("1", "plugin:sms-alert")),
        alerted.len() as f64,
    );
    expect(
        "table action delivered",
        r.metric(&action("2", "table:speeding-cars")),
        matched,
    );
    let in_stream: f64 = r
        .metrics
        .iter()
        .filter(|(k, _)| k.starts_with("weir_shard_records_in_total{"))
        .map(|(_, v)| v)
        .sum();
    expect(
        "records in stream speeding-alerts",
        in_stream,
        alerted.len() as f64,
    );
    expect(
        "records archived",
        r.archive().iter().map(|(_, n)| *n as f64).sum(),
        1000.0 + strangers,
    );
    expect(
        "error action records",
        r.errors().values().sum::<usize>() as f64,
        2.0 * strangers,
    );
    let seed = analytics::seed_counts(
        &data.join("speeding_data.csv"),
        &speeding
            .iter()
            .filter(|p| owners.contains(*p))
            .cloned()
            .collect(),
    )?;
    problems.extend(analytics::problems(&r.analytics, &seed));
    if !problems.is_empty() {
        bail!(
            "the demo's outcome differs from the seed data:\n  {}",
            problems.join("\n  ")
        );
    }
    println!(
        "\n== checked against the seed CSVs: {} alerts, {} records in the stream, {} archived, \
         {} errors; analytics: speeding cars of all {} cities and the average speed of all {} \
         states",
        alerted.len(),
        in_stream,
        1000.0 + strangers,
        2.0 * strangers,
        seed.cities.len(),
        seed.states.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two lines as `cargo build --message-format=json` prints them (trimmed to what is read).
    const MESSAGES: &str = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"weir_host"},"executable":null}
{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"weir"},"executable":"/t/debug/weir"}
{"reason":"build-finished","success":true}"#;

    #[test]
    fn a_build_that_leaves_out_a_binary_the_demo_starts_is_an_error_naming_it() {
        let built = executables(MESSAGES);
        assert_eq!(built.len(), 1);
        let err = resolve(&built, "cargo build --bin weir")
            .err()
            .expect("weir-device is missing");
        let msg = format!("{err:#}");
        assert!(msg.contains("did not produce `weir-device`"), "{msg}");
        assert!(msg.contains("cargo build --bin weir"), "{msg}");
    }

    #[test]
    fn the_build_line_selects_every_package_and_binary_the_demo_starts() {
        let args = build_args();
        for (package, bin) in BINARIES {
            assert!(
                args.windows(2).any(|w| w[0] == "-p" && w[1] == *package),
                "{args:?}"
            );
            assert!(
                args.windows(2).any(|w| w[0] == "--bin" && w[1] == *bin),
                "{args:?}"
            );
        }
        let built: BTreeMap<String, PathBuf> = BINARIES
            .iter()
            .map(|(_, b)| (b.to_string(), PathBuf::from(b)))
            .collect();
        let bins = resolve(&built, "").expect("all there");
        assert_eq!(bins.weir, PathBuf::from("weir"));
        assert_eq!(bins.device, PathBuf::from("weir-device"));
    }

    #[test]
    fn listen_addresses_come_from_their_sections() {
        let dir = std::env::temp_dir().join(format!("xtask-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        let cfg = dir.join("weir.toml");
        std::fs::write(
            &cfg,
            "[broker]\nlisten = \"127.0.0.1:1\"\nlisten_v5 = \"127.0.0.1:2\"\n\n[api]\nlisten = \"127.0.0.1:3\"\n",
        )
        .expect("write");
        let (broker, api) = addresses(&cfg).expect("both");
        assert_eq!(
            (broker.as_str(), api.as_str()),
            ("127.0.0.1:1", "127.0.0.1:3")
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
