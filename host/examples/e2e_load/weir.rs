//! Weir's side of a run: its config, its counters and one measured run through it.

use super::*;

pub(super) fn write_weir_config(
    dir: &Path,
    port: u16,
    plugin: &Path,
    fsync: &str,
    buffer_age_ms: u64,
    nats: &[String],
) -> AnyResult<PathBuf> {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    // The cluster variant: the streams on the NATS cluster (R3, quorum acks), the rest of the
    // host's state under [storage] with its default policy.
    let (fsync, cluster) = if fsync == CLUSTER {
        let urls: Vec<String> = nats.iter().map(|u| quote(u)).collect();
        (
            "always",
            format!(
                "\n[cluster]\nnats = [{}]\nreplicas = 3\nprefix = \"bench\"\n",
                urls.join(", ")
            ),
        )
    } else {
        (fsync, String::new())
    };
    let data = quote(&dir.join("weir-data").display().to_string());
    let plugin = quote(&plugin.display().to_string());
    let text = format!(
        r#"# Written by the e2e_load example.
[broker]
listen = "127.0.0.1:{port}"

[api]
listen = "127.0.0.1:0"

[storage]
dir = {data}
fsync = "{fsync}"

[streams.{STREAM}]
shards = {SHARDS}

[plugins.speed-limit]
path = {plugin}
grants = ["config"]
params = {{ limit = 75 }}

[rules.{RULE}]
sql = "SELECT * FROM '{TOPIC}' WHERE speed > 75"

[[rules.{RULE}.actions]]
kind = "kinesis"
stream = "{STREAM}"
partition_key = "${{licensePlate}}"
filters = ["speed-limit"]
buffer = {{ max_records = 500, max_age_ms = {buffer_age_ms} }}
{cluster}"#
    );
    let path = dir.join("weir.toml");
    std::fs::File::create(&path)?.write_all(text.as_bytes())?;
    Ok(path)
}

/// Weir's counters, for the before/after difference of a run.
pub(super) fn weir_counters(host: &RunningHost) -> BTreeMap<&'static str, u64> {
    let m = host.metrics();
    let sync = weir_streams::GroupCommit::global().stats();
    let c = |v: &AtomicU64| v.load(Ordering::Relaxed);
    let rule = m.rule(RULE);
    let action = m.action(RULE, ACTION);
    let shards: u64 = (0..SHARDS)
        .map(|i| c(&m.shard(STREAM, &shard_id(i)).records))
        .sum();
    BTreeMap::from([
        ("messages_in", c(&m.messages_in)),
        ("rule_matched", c(&rule.matched)),
        ("rule_errors", c(&rule.errors)),
        ("action_delivered", c(&action.delivered)),
        ("action_dropped", c(&action.dropped)),
        ("action_failed", c(&action.failed)),
        ("action_retries", c(&action.retries)),
        ("shard_records", shards),
        // The process-wide group commit: the other host of the run is idle meanwhile, so
        // the difference belongs to this run. `slow_fsyncs` counts the disk's stalls over
        // 5 ms, which every answer waiting on them sits out: read p99 against it.
        ("fsyncs", sync.syncs),
        ("fsync_us", sync.sync_us),
        ("slow_fsyncs", sync.slow_syncs),
    ])
}

/// Writes back every dirty page of the machine before a run, so a run does not pay for the
/// writeback of the one before it (an `interval` run leaves up to its sync interval of data
/// dirty; an `always` run next to it would wait for that in its first fdatasyncs).
pub(super) fn settle_disk() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

pub(super) type Profile = Vec<(String, usize, f64)>;

#[allow(clippy::too_many_arguments)]
pub(super) fn measure_weir(
    rt: &tokio::runtime::Runtime,
    host: &RunningHost,
    others: &[u32],
    port: u16,
    name: &'static str,
    client_prefix: &str,
    rate: f64,
    args: &Args,
    rows: &Arc<Vec<SpeedingRow>>,
) -> AnyResult<(Measured, Profile)> {
    let opts = load_options(port, client_prefix, rate, args, rows);
    settle_disk();
    let before = weir_counters(host);
    let progress = Arc::new(Progress::default());
    let mut readers = Vec::new();
    for i in 0..SHARDS {
        let mut sub = host
            .streams()
            .subscribe(STREAM, &shard_id(i), StartPosition::Latest)?;
        let p = progress.clone();
        let reader = std::thread::Builder::new()
            .name(format!("bench-shard-{i}"))
            .spawn(move || -> Result<Receiver, String> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(async {
                    let mut r = Receiver::new(p.clone());
                    while !p.stop.load(Ordering::Relaxed) {
                        match tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
                            Ok(Ok(SubscriptionEvent::Records(records))) => {
                                let now = now_us();
                                for rec in &records {
                                    r.record(&rec.data, now);
                                }
                            }
                            Ok(Ok(SubscriptionEvent::ShardEnd { .. })) => break,
                            Ok(Err(e)) => return Err(format!("shard {i}: {e}")),
                            Err(_) => {}
                        }
                    }
                    Ok(r)
                })
            })?;
        readers.push(reader);
    }

    let machine = CpuSnap::take(others);
    let ticks0 = thread_ticks();
    let t0 = Instant::now();
    let outcome = run_and_drain(rt, &opts, &progress);
    let wall = t0.elapsed();
    let foreign = machine.foreign_pct(others);
    let ticks1 = thread_ticks();
    progress.stop.store(true, Ordering::Relaxed);
    let mut recv = Receiver::new(progress.clone());
    for r in readers {
        match r.join() {
            Ok(Ok(one)) => recv.merge(one),
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err("a shard reader panicked".into()),
        }
    }
    let (report, drained) = outcome?;
    // CPU ticks of this process's threads whose name `keep` accepts, over the run.
    let ticks_of = |keep: &dyn Fn(&str) -> bool| -> u64 {
        ticks1
            .iter()
            .filter(|(_, (name, _))| keep(name))
            .map(|(tid, (_, t))| t - ticks0.get(tid).map_or(0, |(_, t0)| *t0).min(*t))
            .sum()
    };
    let total = ticks_of(&|_| true);
    let cpu = total as f64 / CLK_TCK / wall.as_secs_f64() * 100.0;
    let mut m = Measured::finish(name, rate, report, recv, drained, cpu);
    m.foreign_pct = foreign;
    m.service_us_per_msg = per_message_us(ticks_of(&|name| !is_bench_thread(name)), m.delivered);
    let after = weir_counters(host);
    m.counters = Some(json!(after
        .iter()
        .map(|(k, v)| (*k, v - before.get(k).copied().unwrap_or(0)))
        .collect::<BTreeMap<_, _>>()));
    Ok((m, busy_threads(&ticks0, &ticks1, wall)))
}

/// Per policy the full-speed run and the half-rate run, each with its thread profile; the
/// half rate.
pub(super) type PolicyRuns = (Vec<(Measured, Profile)>, Vec<(Measured, Profile)>, f64);

/// Weir once per fsync policy of `--fsync`, each host in its own folder: every policy at full
/// speed, then every policy at half of the best full rate, so the half-rate latencies compare
/// at the same load. Returns the full-speed runs, the half-rate runs and that rate.
pub(super) fn measure_policies(
    rt: &tokio::runtime::Runtime,
    tmp: &Path,
    plugin: &Path,
    mosq_pid: &[u32],
    args: &Args,
    rows: &Arc<Vec<SpeedingRow>>,
    nats: &[String],
) -> AnyResult<PolicyRuns> {
    // Weir once per fsync policy, each host in its own folder; the half-rate runs of the
    // local policies all use half of their best full rate, so their latencies compare at the
    // same load.
    let mut hosts = Vec::new();
    let mut fulls = Vec::new();
    for (i, policy) in args.fsync.iter().enumerate() {
        eprintln!("[4/7] Weir end to end, fsync {policy}, full speed...");
        let weir_dir = tmp.join(format!("weir-{policy}"));
        std::fs::create_dir_all(&weir_dir)?;
        // Port 0: the broker binds a port the system gives, read back from the host.
        let config = write_weir_config(&weir_dir, 0, plugin, policy, args.buffer_age_ms, nats)?;
        let host = RunningHost::start(&config)?;
        let weir_port = host
            .listening()
            .map(|l| l.v4.port())
            .ok_or_else(|| anyhow::anyhow!("the embedded broker reports no listener"))?;
        let name: &'static str = Box::leak(format!("weir {policy}, full").into_boxed_str());
        let prefix = format!("weir-full-{i}");
        fulls.push(measure_weir(
            rt, &host, mosq_pid, weir_port, name, &prefix, 0.0, args, rows,
        )?);
        hosts.push((host, weir_port));
    }
    // The cluster variant is far slower than the local policies: half of their rate would
    // overload it, so it runs at half of its own full rate (its p99 at a load it sustains).
    let half_of = |m: &Measured| (m.rate / 2.0).max(1.0);
    let half = fulls
        .iter()
        .zip(&args.fsync)
        .filter(|(_, p)| p.as_str() != CLUSTER)
        .map(|((m, _), _)| half_of(m))
        .fold(1.0, f64::max);
    let mut halves = Vec::new();
    for (i, ((host, weir_port), policy)) in hosts.iter().zip(&args.fsync).enumerate() {
        let rate = if policy == CLUSTER {
            half_of(&fulls[i].0)
        } else {
            half
        };
        eprintln!(
            "[5/7] Weir end to end, fsync {policy}, at {} msg/s...",
            fmt_rate(rate)
        );
        let name: &'static str = Box::leak(format!("weir {policy}, half rate").into_boxed_str());
        let prefix = format!("weir-half-{i}");
        halves.push(measure_weir(
            rt, host, mosq_pid, *weir_port, name, &prefix, rate, args, rows,
        )?);
    }
    for (host, _) in hosts {
        if let Err(e) = host.shutdown() {
            eprintln!("warning: Weir shutdown: {e}");
        }
    }
    Ok((fulls, halves, half))
}
