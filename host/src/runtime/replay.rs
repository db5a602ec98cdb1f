//! A configuration run on a fixed list of messages, in-process and without a broker: what
//! `weir demo` runs. It opens what `weir run` opens (storage, streams, tables, plugins, through
//! [`super::host`]'s `open`), builds the same [`Plan`], dispatches every message as the
//! dispatcher thread would, then drains, flushes the Firehose service's implicit delivery
//! streams and syncs as a clean stop does. So the demo exercises the server's own rules,
//! pipelines, sinks, Firehose service and error actions, not a second hand-wired path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::ack::AckToken;
use super::host::{open, HostError, Opened};
use super::ingress::PublishError;
use super::metrics::{Metrics, Snapshot};
use super::plan::{Inbound, Plan};
use super::resources::{Publisher, Resources};
use weir_config::Config;
use weir_firehose::Firehose;
use weir_streams::Streams;

/// How long the end of a replay waits for the Firehose actions' objects.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// One message to replay.
#[derive(Debug, Clone)]
pub struct Message {
    /// The topic it is published on.
    pub topic: Arc<str>,
    /// Its payload.
    pub payload: Bytes,
    /// The publisher's client id.
    pub client_id: Option<Arc<str>>,
}

/// What a replay did.
#[derive(Debug, Clone)]
pub struct ReplayReport {
    /// Every counter of the run, as `/metrics` would show it.
    pub counters: Snapshot,
    /// Messages every action made durable or handed to its error action: the ones a broker
    /// would have acknowledged.
    pub acknowledged: u64,
    /// Messages that would not have been acknowledged (a failure with nowhere to go).
    pub not_acknowledged: u64,
    /// Opening storage and loading the plugins.
    pub open_time: Duration,
    /// From the first dispatch until every pipeline drained and storage was synced.
    pub run_time: Duration,
}

/// Without a broker there is nowhere to publish: a `republish` action fails (and goes to its
/// error action) rather than pretending to deliver.
struct NoBroker;

#[derive(Debug, thiserror::Error)]
#[error("a replay has no MQTT broker to publish to")]
struct NoBrokerError;

impl Publisher for NoBroker {
    fn publish(&self, topic: &str, _payload: Bytes, _qos: u8) -> Result<(), PublishError> {
        Err(PublishError {
            topic: topic.to_owned(),
            source: Box::new(NoBrokerError),
        })
    }
}

/// Runs `messages` through `config`'s rules and actions and reports the counters.
pub fn replay(
    config: &Config,
    messages: impl IntoIterator<Item = Message>,
) -> Result<ReplayReport, HostError> {
    let started = Instant::now();
    let host = ReplayHost::open(config)?;
    let mut plan = Plan::build(config, &host.resources)?;
    let open_time = started.elapsed();

    let run_started = Instant::now();
    let acked = Arc::new(AtomicU64::new(0));
    let sent = dispatch_all(&mut plan, messages, &acked);
    plan.retire();
    host.stop(config)?;
    let acknowledged = acked.load(Ordering::Relaxed);
    Ok(ReplayReport {
        counters: host.metrics.snapshot(),
        acknowledged,
        not_acknowledged: sent.saturating_sub(acknowledged),
        open_time,
        run_time: run_started.elapsed(),
    })
}

/// Dispatches every message as the dispatcher thread would, each with an ack that counts
/// it once every action settled it; returns how many were dispatched.
fn dispatch_all(
    plan: &mut Plan,
    messages: impl IntoIterator<Item = Message>,
    acked: &Arc<AtomicU64>,
) -> u64 {
    let mut sent = 0u64;
    for m in messages {
        let counter = acked.clone();
        let ack = AckToken::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        plan.dispatch(
            Inbound {
                topic: m.topic,
                payload: m.payload,
                client_id: m.client_id,
                ack,
            },
            None,
        );
        sent += 1;
    }
    sent
}

/// What `weir run` opens, short of the broker and the API: storage, streams, tables,
/// plugins and the Firehose service.
///
/// The fields are in drop order: what uses the Firehose runtime goes before the runtime, the
/// streams last.
struct ReplayHost {
    resources: Arc<Resources>,
    metrics: Arc<Metrics>,
    firehose: Firehose,
    /// Runs the Firehose service's object-store requests.
    _runtime: tokio::runtime::Runtime,
    streams: Streams,
}

impl ReplayHost {
    fn open(config: &Config) -> Result<ReplayHost, HostError> {
        let Opened {
            streams,
            lookup,
            registry,
            cluster,
            ..
        } = open(config)?;
        // The Firehose service runs in-process, as in `weir run` (without its API): folder-mode
        // `firehose` actions are its implicit delivery streams, `delivery_stream` ones put into
        // the declared streams. Its object-store requests run on this runtime.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("weir-replay-firehose")
            .enable_all()
            .build()
            .map_err(|e| {
                HostError::storage(&config.storage.dir, "starting the Firehose runtime", e)
            })?;
        let firehose = super::firehose::open(
            config,
            runtime.handle().clone(),
            &registry,
            &streams,
            cluster.as_ref(),
        )
        .map_err(HostError::Firehose)?;
        super::firehose::declare(config, &firehose).map_err(HostError::Firehose)?;
        let metrics = Arc::new(Metrics::default());
        let resources = Arc::new(
            Resources::new(
                streams.clone(),
                lookup,
                registry,
                metrics.clone(),
                Arc::new(NoBroker),
                &config.storage.dir,
                config.storage.fsync,
            )
            .with_firehose(firehose.clone()),
        );
        resources.notifiers.configure(&config.notify);
        Ok(ReplayHost {
            resources,
            metrics,
            firehose,
            _runtime: runtime,
            streams,
        })
    }

    /// Ends the replay as a clean stop does, once the plan is retired: the implicit
    /// delivery streams' buffers stored (so the archive is complete when the replay
    /// returns), dead letters settled, streams and tables synced.
    fn stop(&self, config: &Config) -> Result<(), HostError> {
        let late = self.firehose.flush_implicit(FLUSH_TIMEOUT);
        if !late.is_empty() {
            return Err(HostError::storage(
                &config.storage.dir,
                "delivering the firehose actions' buffers",
                std::io::Error::other(format!(
                    "not stored within {FLUSH_TIMEOUT:?}: {}",
                    late.join(", ")
                )),
            ));
        }
        // Dead letters are written off the dispatcher: count their messages once they settle.
        self.resources.dead_letters.flush();
        self.streams
            .sync_all()
            .map_err(|e| HostError::storage(&config.storage.dir, "syncing streams", e))?;
        self.resources
            .sync_tables()
            .map_err(|e| HostError::storage(&config.storage.dir, "syncing tables", e))?;
        Ok(())
    }
}
