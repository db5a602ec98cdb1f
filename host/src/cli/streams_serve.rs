//! `weir streams serve`: the durable streams and their Kinesis-compatible API on their own,
//! without broker or rules (the same API `weir run` will serve next to them).
//!
//! `weir streams serve --listen 127.0.0.1:PORT --dir DIR [--fsync always|interval|never]`
//! prints `listening on ADDR` once bound, and syncs every shard on SIGINT/SIGTERM.
//! `weir streams serve --config weir.toml` takes the address, the storage folder and the
//! declared streams from a Weir configuration file instead.
//! `weir streams serve --nats nats://HOST:PORT [--nats ...]` keeps the streams on a NATS
//! JetStream cluster instead of a folder (weir-cluster): several servers on one cluster serve
//! the same streams, and an answer to a put waits for the cluster's quorum acknowledgement.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use weir_api::{router, ApiConfig, ApiState};
use weir_config::Config;
use weir_streams::{FsyncPolicy, Streams, StreamsConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Take `[api]`, `[storage]` and the `[streams.NAME]` declarations from a Weir config file;
    /// declared streams are created if they do not exist yet.
    #[arg(long, conflicts_with_all = ["listen", "dir", "fsync", "verify_keys", "verify_keys_file"])]
    config: Option<PathBuf>,
    /// Address to bind, e.g. 127.0.0.1:4567 (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:4567")]
    listen: String,
    /// Data directory.
    #[arg(long, required_unless_present_any = ["config", "nats"])]
    dir: Option<PathBuf>,
    /// Keep the streams on this NATS JetStream cluster (a seed server URL; repeatable)
    /// instead of in `--dir`.
    #[arg(long, conflicts_with = "config")]
    nats: Vec<String>,
    /// Replicas of every shard's JetStream stream (3 survives one server's loss).
    #[arg(long, default_value_t = 3, requires = "nats")]
    nats_replicas: usize,
    /// Keeps this deployment's streams apart from others on the same cluster: subjects start
    /// with it, stream and bucket names with its upper-case form.
    #[arg(long, default_value = "weir", requires = "nats")]
    nats_prefix: String,
    /// always (the default: fdatasync before each answer, shared by concurrent writers) |
    /// interval[:MS] (answers before the sync) | never
    #[arg(long, default_value = "always")]
    fsync: FsyncPolicy,
    /// How long CREATING, UPDATING and DELETING stay visible, in milliseconds (the config
    /// file's `[storage] transition_ms`).
    #[arg(long, default_value_t = weir_streams::DEFAULT_TRANSITION_MS)]
    transition_ms: u64,
    /// Emulate AWS's per-shard write limits.
    #[arg(long)]
    throughput_limits: bool,
    /// Verify SigV4 signatures against ACCESS_KEY:SECRET (repeatable). Visible to other users
    /// in `ps`: prefer --verify-keys-file or WEIR_VERIFY_KEYS (comma-separated pairs).
    #[arg(long = "verify-key")]
    verify_keys: Vec<String>,
    /// A file of ACCESS_KEY:SECRET lines (blank lines and `#` comments ignored).
    #[arg(long)]
    verify_keys_file: Option<PathBuf>,
    /// Segment size in bytes before rolling.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    segment_bytes: u64,
    /// Connections served at once.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Longest a client may take to send a request's headers, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Longest a client may take to send a request's body, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    body_timeout_ms: u64,
    /// Bytes of request bodies held at once across all connections (503 beyond).
    #[arg(long, default_value_t = 256 << 20)]
    body_budget_bytes: u64,
    /// Streams on this host.
    #[arg(long, default_value_t = weir_streams::DEFAULT_MAX_STREAMS)]
    max_streams: u32,
    /// Open shards across all streams of this host.
    #[arg(long, default_value_t = weir_streams::DEFAULT_MAX_TOTAL_SHARDS)]
    max_shards: u32,
}

/// Runs `weir streams serve` until SIGINT or SIGTERM: keys, then the config file if any, the
/// streams, then the API.
pub fn run(mut args: Args) -> anyhow::Result<std::process::ExitCode> {
    let mut keys = verify_keys(&args)?;
    let mut declared = Vec::new();
    let dir = match args.config.clone() {
        Some(path) => take_config(&path, &mut args, &mut keys, &mut declared)?,
        // A cluster keeps everything in its buckets and streams: no folder is written.
        None if !args.nats.is_empty() => args.dir.clone().unwrap_or_default(),
        // clap requires `--dir` when `--config` and `--nats` are absent.
        None => args
            .dir
            .clone()
            .context("--dir, --config or --nats is required")?,
    };
    weir_host::runtime::prepare_descriptors(args.max_shards, args.max_connections);
    let streams = open_streams(&args, &dir, &declared)?;
    let state = ApiState::new(
        streams.clone(),
        ApiConfig {
            keys,
            body_timeout: Duration::from_millis(args.body_timeout_ms),
            body_budget_bytes: usize::try_from(args.body_budget_bytes).unwrap_or(usize::MAX),
            ..ApiConfig::default()
        },
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve(args, state, streams))
}

/// The keys requests are verified with, from `--verify-key`, `WEIR_VERIFY_KEYS` and
/// `--verify-keys-file` (one `ACCESS_KEY:SECRET` per line, `#` comments), each named in its
/// error.
fn verify_keys(args: &Args) -> anyhow::Result<HashMap<String, String>> {
    let mut keys = HashMap::new();
    let mut add = |pair: &str, from: &str| -> anyhow::Result<()> {
        let (id, secret) = pair
            .split_once(':')
            .filter(|(id, secret)| !id.is_empty() && !secret.is_empty())
            .with_context(|| format!("{from}: wants ACCESS_KEY:SECRET"))?;
        keys.insert(id.to_owned(), secret.to_owned());
        Ok(())
    };
    if !args.verify_keys.is_empty() {
        tracing::warn!("--verify-key is visible to other users (ps); prefer --verify-keys-file or WEIR_VERIFY_KEYS");
    }
    for k in &args.verify_keys {
        add(k, "--verify-key")?;
    }
    if let Ok(env) = std::env::var("WEIR_VERIFY_KEYS") {
        for k in env.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            add(k, "WEIR_VERIFY_KEYS")?;
        }
    }
    if let Some(path) = &args.verify_keys_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--verify-keys-file {}", path.display()))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            add(line, &format!("{}:{}", path.display(), i + 1))?;
        }
    }
    Ok(keys)
}

/// `--config`: the file's `[api]` and `[storage]` settings replace the flags, its verify
/// keys join the others and its declared streams are created at start. Returns the streams'
/// folder. Every mistake in the file is printed at once, each with its line and key path.
fn take_config(
    path: &std::path::Path,
    args: &mut Args,
    keys: &mut HashMap<String, String>,
    declared: &mut Vec<(String, weir_config::StreamConfig)>,
) -> anyhow::Result<PathBuf> {
    let config = Config::load(path).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    args.listen = config.api.listen.clone();
    args.fsync = config.storage.fsync;
    args.max_streams = config.storage.max_streams;
    args.max_shards = config.storage.max_shards;
    args.transition_ms = config.storage.transition.as_millis() as u64;
    args.max_connections = config.api.max_connections;
    args.header_timeout_ms = config.api.header_timeout.as_millis() as u64;
    args.body_timeout_ms = config.api.body_timeout.as_millis() as u64;
    args.body_budget_bytes = config.api.body_budget_bytes;
    keys.extend(config.api.verify_keys.clone());
    declared.extend(config.streams.iter().map(|(n, s)| (n.clone(), *s)));
    Ok(config.storage.dir.join("streams"))
}

/// Opens the streams in `dir` with the flags' settings and creates the declared ones that
/// do not exist yet.
fn open_streams(
    args: &Args,
    dir: &std::path::Path,
    declared: &[(String, weir_config::StreamConfig)],
) -> anyhow::Result<Streams> {
    let mut cfg = StreamsConfig::new(dir);
    cfg.fsync = args.fsync;
    cfg.transition_delay = Duration::from_millis(args.transition_ms);
    cfg.throughput_limits = args.throughput_limits;
    cfg.log.segment_bytes = args.segment_bytes;
    cfg.max_streams = args.max_streams;
    cfg.max_total_shards = args.max_shards;
    let streams = if args.nats.is_empty() {
        Streams::open(cfg).with_context(|| format!("opening {}", dir.display()))?
    } else {
        let cluster = weir_cluster::ClusterConfig {
            replicas: args.nats_replicas,
            prefix: args.nats_prefix.clone(),
            ..weir_cluster::ClusterConfig::new(args.nats.clone())
        };
        cluster.validate().context("--nats")?;
        if let Some(reason) = weir_support::nats_names::deployment_prefix_problem(&cluster.prefix) {
            anyhow::bail!("--nats-prefix: {reason}");
        }
        let stores = weir_cluster::JetStreamStores::connect(&cluster).with_context(|| {
            format!(
                "connecting to NATS at {}",
                weir_support::nats_names::redacted_list(&args.nats)
            )
        })?;
        stores.bridge().report_sync_setting();
        Streams::open_with_stores(cfg, stores).with_context(|| {
            format!(
                "opening the streams on NATS at {}",
                weir_support::nats_names::redacted_list(&args.nats)
            )
        })?
    };
    for (name, s) in declared {
        streams
            .ensure_stream(name, s.shards, s.retention_hours)
            .with_context(|| format!("creating declared stream {name:?}"))?;
    }
    Ok(streams)
}

/// Binds, prints `listening on ADDR` (what scripts wait for), serves until SIGINT/SIGTERM,
/// then syncs every shard.
async fn serve(
    args: Args,
    state: ApiState,
    streams: Streams,
) -> anyhow::Result<std::process::ExitCode> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("listening on {addr}");
    if state.config.keys.is_empty() {
        tracing::warn!(%addr, "no verify keys: anyone who can reach this address can call the Kinesis API");
    }
    use std::io::Write as _;
    std::io::stdout().flush()?;
    let limits = weir_api::ServerLimits {
        max_connections: args.max_connections,
        header_timeout: Duration::from_millis(args.header_timeout_ms),
        ..weir_api::ServerLimits::default()
    };
    weir_api::serve(listener, router(state), limits, shutdown()).await;
    streams.sync_all().context("final sync")?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
