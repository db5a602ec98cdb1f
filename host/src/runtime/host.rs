//! `weir run`: a whole host. Starts the pieces in dependency order (storage, tables, plugins,
//! broker, pipelines, API), applies configuration changes while traffic flows, and stops in
//! the order that loses nothing: stop taking messages in, drain every pipeline, sync storage,
//! then close the broker connection and the API.
//!
//! One dispatcher thread owns the running [`Plan`]. A configuration reload builds the new plan
//! next to the old one and sends it down the same queue as the messages; the dispatcher then
//! drains the old plan completely before dispatching the next message to the new one, so a
//! rule update neither drops nor reorders messages in flight.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

mod api;
mod rule_test_api;

use super::ingress::{Ingress, IngressError, Input};
use super::liveness::Liveness;
use super::metrics::Metrics;
use super::plan::{Plan, PlanError};
use super::resources::Resources;
use weir_config::{Broker, Config, ConfigErrors};
use weir_plugins::tables::{LookupTables, Table, TableError};
use weir_plugins::{PluginEngine, PluginError, PluginRegistry, PluginSlot, PluginWatcher};
use weir_streams::{Streams, StreamsConfig};
use weir_support::Cause;

/// Why a host could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The configuration file is wrong (every mistake is listed).
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    /// Storage could not be opened, written or synced.
    #[error("storage {}: {what}", path.display())]
    Storage {
        path: PathBuf,
        what: String,
        #[source]
        source: Cause,
    },
    /// A lookup table could not be loaded.
    #[error("table {name:?}")]
    Table {
        name: String,
        #[source]
        source: TableError,
    },
    /// A plugin could not be loaded.
    #[error("plugin {name:?}: {source}")]
    Plugin {
        name: String,
        #[source]
        source: PluginError,
    },
    /// The pipelines could not be built.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The broker side did not start.
    #[error(transparent)]
    Ingress(#[from] IngressError),
    /// The host is stopping: its dispatcher no longer takes a new plan.
    #[error("the dispatcher has stopped")]
    Stopped,
    /// A reload that is valid but not applied (it would stop every rule).
    #[error("{0}")]
    Refused(String),
    /// The Firehose service could not open its catalog or buffers.
    #[error("the Firehose service")]
    Firehose(#[source] weir_firehose::FirehoseError),
    /// The NATS cluster of `[cluster]` could not be reached or set up.
    #[error("the NATS cluster of [cluster]")]
    Cluster(#[source] weir_cluster::ClusterError),
    /// The Device Shadow store could not open its folder.
    #[error("the Device Shadow store")]
    Shadows(#[source] weir_shadow::ShadowError),
    /// The API could not listen.
    #[error("api {addr}: {what}")]
    Api {
        addr: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl HostError {
    /// A storage step that failed, with the folder and the cause.
    pub(super) fn storage(
        path: &Path,
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> HostError {
        HostError::Storage {
            path: path.to_path_buf(),
            what: what.into(),
            source: Box::new(source),
        }
    }
}

/// Plugins loaded for a reload but not yet registered, by name.
type PreparedPlugins = BTreeMap<String, Arc<PluginSlot>>;

/// A running host.
pub struct RunningHost {
    config_path: PathBuf,
    resources: Arc<Resources>,
    input: SyncSender<Input>,
    dispatcher: Mutex<Option<JoinHandle<Receiver<Input>>>>,
    ingress: Arc<Mutex<Option<Ingress>>>,
    plugin_specs: Mutex<BTreeMap<String, String>>,
    reload_lock: Mutex<()>,
    api_addr: SocketAddr,
    api_stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    api_thread: Mutex<Option<JoinHandle<()>>>,
    _plugin_watcher: Option<PluginWatcher>,
    config_watcher: Mutex<Option<notify::RecommendedWatcher>>,
    broker: Broker,
    /// Where the embedded broker listens, as bound (`None` for an external broker).
    listening: Option<super::ingress::Listening>,
    /// Enabled rules of the running configuration.
    running_rules: std::sync::atomic::AtomicUsize,
    /// The text of the configuration last applied, so a save that changes nothing is no reload.
    applied_text: Mutex<Option<String>>,
    /// The rules API's rules, merged into every plan (`api_rules.rs`).
    api_rules: Arc<super::api_rules::ApiRules>,
    /// The Kinesis Data Analytics applications running (`analytics/`).
    analytics: Arc<super::analytics::Runner>,
}

use weir_support::lock;

impl RunningHost {
    /// Loads `config_path` and starts everything it names, in dependency order: storage,
    /// tables and plugins, the broker side, the Firehose service, the rules, then the API.
    pub fn start(config_path: &Path) -> Result<Arc<RunningHost>, HostError> {
        let mut config = Config::load(config_path)?;
        let storage = &config.storage.dir.clone();
        super::descriptors::prepare(config.storage.max_shards, config.api.max_connections);
        warn_if_secrets_readable(&config);
        let Opened {
            streams,
            lookup,
            registry,
            plugin_specs,
            cluster,
        } = open(&config)?;
        let plugin_watcher = watch_plugins(&registry);
        let (iot_docs, shared): (Arc<dyn weir_support::docstore::DocStore>, bool) = match &cluster {
            Some(c) => (c.iot_docs.clone(), true),
            None => (
                Arc::new(weir_support::docstore::FolderDocStore::new(
                    storage.join("iot"),
                )),
                false,
            ),
        };
        let api_rules = Arc::new(super::api_rules::ApiRules::open(
            &config,
            streams.clone(),
            iot_docs,
            shared,
        )?);
        api_rules.merge(&mut config);

        let metrics = Arc::new(Metrics::default());
        let (input, rx) = sync_channel::<Input>(4096);
        let shadows = open_shadows(storage, cluster.as_ref())?;
        let (ingress, publisher) = match &config.broker {
            Broker::Embedded(b) => {
                Ingress::embedded(b, input.clone(), metrics.clone(), Some(shadows.clone()))?
            }
            Broker::External(b) => {
                // One host of the share group at a time serves the `$` topics on a cluster.
                let dollar_lease = cluster.as_ref().map(|c| {
                    c.spools.host_lease(&format!(
                        "mqtt-dollar/{}",
                        super::spool::shared::token(&b.share_group)
                    ))
                });
                Ingress::external(
                    b,
                    &Default::default(),
                    input.clone(),
                    Some(shadows.clone()),
                    metrics.clone(),
                    dollar_lease,
                )?
            }
        };
        // The service opens before the rules so `delivery_stream` actions can put into it.
        let rt = api::runtime(&config)?;
        let firehose = super::firehose::open(
            &config,
            rt.handle().clone(),
            &registry,
            &streams,
            cluster.as_ref(),
        )
        .map_err(HostError::Firehose)?;
        super::firehose::declare(&config, &firehose).map_err(HostError::Firehose)?;
        let mut resources = Resources::new(
            streams.clone(),
            lookup,
            registry.clone(),
            metrics.clone(),
            publisher,
            storage,
            config.storage.fsync,
        )
        .with_firehose(firehose.clone())
        .with_shadows(shadows);
        if let Some(c) = &cluster {
            // Every host's dead letters in one replicated stream: none dies with its host.
            resources = resources.with_shared_dead_letters(c.dead_letters.clone());
            // And every action's spool: a dead host's acknowledged records are delivered by
            // another host.
            resources = resources.with_shared_spools(c.spools.clone());
        }
        let resources = Arc::new(resources);
        let listening = ingress.listening();
        let dispatcher = start_rules(&config, &resources, &ingress, rx)?;
        let state = api::with_iot_data(
            api::state(&config, streams).with_firehose(firehose),
            &resources,
        );
        let (analytics, analytics_runner) = super::analytics::open(
            &config,
            &resources.streams,
            resources.firehose.as_ref(),
            rt.handle().clone(),
        )?;
        let state = state
            .with_rules(api_rules.clone())
            .with_analytics(analytics);
        let api = api::start(&config, rt, state, &metrics, registry, listening)?;

        let host = Arc::new(RunningHost {
            config_path: config_path.to_path_buf(),
            resources,
            input,
            dispatcher: Mutex::new(Some(dispatcher)),
            ingress: Arc::new(Mutex::new(Some(ingress))),
            plugin_specs: Mutex::new(plugin_specs),
            reload_lock: Mutex::new(()),
            api_addr: api.addr,
            api_stop: Mutex::new(Some(api.stop)),
            api_thread: Mutex::new(Some(api.thread)),
            _plugin_watcher: plugin_watcher,
            config_watcher: Mutex::new(None),
            broker: config.broker.clone(),
            listening,
            running_rules: std::sync::atomic::AtomicUsize::new(enabled_rules(&config)),
            applied_text: Mutex::new(std::fs::read_to_string(config_path).ok()),
            api_rules: api_rules.clone(),
            analytics: analytics_runner,
        });
        api_rules.attach(&host);
        if let Err(e) = api_rules.watch() {
            // The host runs; only other hosts' rule changes wait for a restart or reload.
            tracing::error!(error = %e, "cannot start the thread that applies rules API changes made on other hosts");
        }
        Ok(host)
    }

    /// Where the API listens.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The broker side, as configured.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Where the embedded broker listens, as bound (a configured port 0 is a real port
    /// here); `None` with an external broker.
    pub fn listening(&self) -> Option<super::ingress::Listening> {
        self.listening
    }

    /// Whether the host does its job (see [`probe_host`]): what `/health` and `weir run`'s
    /// watchdog ask.
    pub fn probe(&self) -> Result<(), String> {
        probe_host(
            &self.broker,
            self.listening,
            &self.resources.metrics.liveness,
        )
    }

    /// The host's counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.resources.metrics
    }

    /// The local streams.
    pub fn streams(&self) -> &Streams {
        &self.resources.streams
    }

    /// Re-reads the configuration file and applies it: changed plugins are loaded, the rules
    /// and their pipelines are rebuilt and swapped in without dropping a message. A file with
    /// mistakes is refused and the running configuration stays.
    pub fn reload(&self) -> Result<(), HostError> {
        self.reload_from(None, false)
    }

    /// Applies a change of the rules API's rules (`api_rules.rs`): the file as last applied,
    /// with the API's rules merged, built and swapped in as a reload is. Unlike a file
    /// reload, it may leave no rule enabled: deleting or disabling the last rule is asked for.
    pub(super) fn apply_api_rules(&self) -> Result<(), HostError> {
        let text = lock(&self.applied_text).clone();
        self.reload_from(text, true)
    }

    /// [`RunningHost::reload`] from `text` already read from the file (`None`: read it now);
    /// `for_api`: a rules API change ([`RunningHost::apply_api_rules`]).
    fn reload_from(&self, text: Option<String>, for_api: bool) -> Result<(), HostError> {
        let _one_at_a_time = lock(&self.reload_lock);
        let result = self.reload_inner(text, for_api);
        let m = &self.resources.metrics;
        match &result {
            Ok(()) if for_api => {
                tracing::info!(file = %self.config_path.display(), "rules API change applied");
            }
            Ok(()) => {
                m.config_reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(file = %self.config_path.display(), "configuration reloaded");
            }
            Err(e) => {
                m.config_reload_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(file = %self.config_path.display(), error = %weir_support::error_chain(e), "configuration refused; the previous one keeps running");
            }
        }
        result
    }

    /// Validates the file, loads changed plugins and builds the whole new plan before it
    /// touches anything that runs; only then creates new streams, registers the plugins and
    /// hands the plan to the dispatcher. Any failure before that leaves the running
    /// configuration exactly as it was.
    fn reload_inner(&self, text: Option<String>, for_api: bool) -> Result<(), HostError> {
        let text = match text {
            Some(t) => t,
            None => std::fs::read_to_string(&self.config_path).map_err(|e| {
                HostError::storage(&self.config_path, "reading the configuration", e)
            })?,
        };
        let mut config = Config::parse(&text, &self.config_path)?;
        self.api_rules.merge(&mut config);
        let enabled = enabled_rules(&config);
        let running = self.running_rules.load(Ordering::Acquire);
        if enabled == 0 && running > 0 && !for_api {
            return Err(HostError::Refused(format!(
                "{}: the new configuration has no enabled rule; applying it would stop all {running} running rules, so it is refused (to stop every rule, stop the host)",
                self.config_path.display()
            )));
        }
        if config.broker != self.broker {
            tracing::warn!("[broker] changed: that needs a restart; the other changes apply now");
        }
        // 1. Changed plugins, loaded but not registered.
        let (prepared, fingerprints) = self.prepare_changed_plugins(&config)?;
        // 2. The whole plan, over those plugins. If this fails, the plan's pipelines end when
        // it is dropped and nothing that runs has changed.
        let plan = Plan::build_with(&config, &self.resources, prepared.clone())?;
        // 3. Now what runs: new streams (creating one is idempotent and additive), plugins,
        // notification channels, the dispatcher.
        for (name, s) in &config.streams {
            self.resources
                .streams
                .ensure_stream(name, s.shards, s.retention_hours)
                .map_err(|e| HostError::Storage {
                    path: config.storage.dir.clone(),
                    what: format!("stream {name:?}"),
                    source: Box::new(e),
                })?;
        }
        for slot in prepared.into_values() {
            self.resources.registry.install(slot);
        }
        lock(&self.plugin_specs).extend(fingerprints);
        self.resources.notifiers.configure(&config.notify);
        let filters = plan.filters().clone();
        if self.input.send(Input::Swap(Box::new(plan))).is_err() {
            return Err(HostError::Stopped);
        }
        if let Some(ingress) = lock(&self.ingress).as_ref() {
            ingress.subscribe(&filters);
        }
        self.running_rules.store(enabled, Ordering::Release);
        *lock(&self.applied_text) = Some(text);
        Ok(())
    }

    /// The plugins of `config` whose spec changed (by fingerprint), loaded but not yet
    /// registered, with their new fingerprints: a reload that fails later leaves the running
    /// plugins untouched.
    fn prepare_changed_plugins(
        &self,
        config: &Config,
    ) -> Result<(PreparedPlugins, Vec<(String, String)>), HostError> {
        let mut prepared = BTreeMap::new();
        let mut fingerprints = Vec::new();
        let mut changed = Vec::new();
        {
            let specs = lock(&self.plugin_specs);
            for (name, p) in &config.plugins {
                let fp = spec_fingerprint(p);
                if specs.get(name) != Some(&fp) {
                    changed.push((name.clone(), p));
                    fingerprints.push((name.clone(), fp));
                }
            }
        }
        let loads = self.resources.registry.prepare_all(
            changed
                .iter()
                .map(|(_, p)| (super::plugin_spec::plugin_spec(&p.spec), p.path.clone()))
                .collect(),
        );
        for ((name, _), loaded) in changed.into_iter().zip(loads) {
            let slot = loaded.map_err(|source| HostError::Plugin {
                name: name.clone(),
                source,
            })?;
            prepared.insert(name, slot);
        }
        Ok((prepared, fingerprints))
    }

    /// Watches the configuration file and reloads it when it changes.
    pub fn watch_config(self: &Arc<Self>) -> Result<(), notify::Error> {
        use notify::{RecursiveMode, Watcher};
        let (tx, rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(tx)?;
        let file = std::fs::canonicalize(&self.config_path).unwrap_or(self.config_path.clone());
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        let weak = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("weir-config-watch".into())
            .spawn(move || {
                while let Ok(ev) = rx.recv() {
                    let touches = ev.is_ok_and(|e| {
                        e.paths.iter().any(|p| {
                            p.file_name() == file.file_name()
                                && std::fs::canonicalize(p).map_or(true, |c| c == file)
                        }) && !e.kind.is_access()
                    });
                    if !touches {
                        continue;
                    }
                    // A file is written in several steps (an editor's save, a copy over a slow
                    // link): wait until the folder has been quiet for a while, then apply the
                    // file only once two reads a moment apart agree.
                    loop {
                        match rx.recv_timeout(QUIET_BEFORE_RELOAD) {
                            Ok(_) => continue,
                            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    let Some(text) = read_stable(&file) else {
                        tracing::warn!(file = %file.display(), "the configuration file is changing or unreadable; applying it once it settles");
                        continue;
                    };
                    let Some(host) = weak.upgrade() else { return };
                    if lock(&host.applied_text).as_deref() == Some(text.as_str()) {
                        continue; // saved without a change
                    }
                    let _ = host.reload_from(Some(text), false);
                }
            })
            .map_err(|e| notify::Error::generic(&e.to_string()))?;
        *lock(&self.config_watcher) = Some(watcher);
        Ok(())
    }

    /// Stops in the order that loses nothing (see the module docs).
    pub fn shutdown(&self) -> Result<(), HostError> {
        // The poller applies other hosts' rule changes through the reload lock taken below.
        self.api_rules.stop_watching();
        // No reload may start a plan while the host drains.
        let _no_reloads = lock(&self.reload_lock);
        drop(lock(&self.config_watcher).take());
        let mut ingress = lock(&self.ingress).take();
        if let Some(i) = ingress.as_mut() {
            i.stop_reading();
        }
        let _ = self.input.send(Input::Stop);
        let rest = match lock(&self.dispatcher).take().map(JoinHandle::join) {
            Some(Ok(rx)) => Some(rx),
            Some(Err(_)) => {
                tracing::error!("the dispatcher panicked");
                None
            }
            None => None,
        };
        // Dead letters queued by the last messages: written, so their acknowledgements go out
        // before the ingress closes.
        self.resources.dead_letters.flush();
        // The folder-mode firehose actions' buffers, delivered now rather than at their next
        // interval; what does not make it stays in the durable buffer for the next start.
        if let Some(firehose) = &self.resources.firehose {
            let late = firehose.flush_implicit(std::time::Duration::from_secs(10));
            if !late.is_empty() {
                tracing::warn!(streams = ?late, "firehose actions not delivered at the stop; their buffers are delivered after the next start");
            }
        }
        if let Some(i) = ingress {
            i.close();
        }
        // Each application writes what it computed and saves its checkpoint.
        self.analytics.stop_all();
        // The ingress is closed: whatever it queued behind the stop was never dispatched, and
        // dropping it must not acknowledge it (an external broker redelivers it).
        if let Some(rx) = rest {
            fail_undispatched(&rx);
        }
        self.resources.streams.sync_all().map_err(|e| {
            HostError::storage(&self.resources.streams.config().dir, "syncing streams", e)
        })?;
        self.resources.sync_tables().map_err(|e| {
            HostError::storage(&self.resources.streams.config().dir, "syncing tables", e)
        })?;
        if let Some(stop) = lock(&self.api_stop).take() {
            let _ = stop.send(());
        }
        if let Some(t) = lock(&self.api_thread).take() {
            let _ = t.join();
        }
        Ok(())
    }
}

/// Watches the plugin files so a rebuilt plugin reloads by itself. Not fatal: without a
/// watcher (inotify limits, say) plugins still reload through `POST /plugins/NAME/reload`.
fn watch_plugins(registry: &Arc<PluginRegistry>) -> Option<PluginWatcher> {
    match registry.watch() {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch plugin files; reload them through POST /plugins/NAME/reload");
            None
        }
    }
}

/// Builds the first plan, subscribes the broker side to its filters and starts the one
/// dispatcher thread that owns it (see the module docs for why there is only one).
fn start_rules(
    config: &Config,
    resources: &Arc<Resources>,
    ingress: &Ingress,
    rx: Receiver<Input>,
) -> Result<JoinHandle<Receiver<Input>>, HostError> {
    resources.notifiers.configure(&config.notify);
    let plan = Plan::build(config, resources)?;
    ingress.subscribe(plan.filters());
    tracing::info!(rules = plan.rule_count(), "rules running");
    let liveness = resources.metrics.liveness.clone();
    std::thread::Builder::new()
        .name("weir-dispatch".into())
        .spawn(move || {
            let alive = liveness.worker("weir-dispatch");
            let rx = dispatch_loop(plan, rx);
            alive.finish();
            rx
        })
        .map_err(|e| HostError::storage(&config.storage.dir, "starting the dispatcher", e))
}

/// The file holds secrets (keys, a token, broker passwords): say so when other users can
/// read it.
fn warn_if_secrets_readable(config: &Config) {
    let broker_secrets = match &config.broker {
        Broker::Embedded(b) => !b.users.is_empty(),
        Broker::External(b) => b.password.is_some(),
    };
    let has_secrets =
        !config.api.verify_keys.is_empty() || config.api.admin_token.is_some() || broker_secrets;
    #[cfg(unix)]
    if has_secrets {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(&config.file) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(file = %config.file.display(), mode = format!("{mode:o}"), "the configuration holds secrets and other users can read it; chmod 600 it");
            }
        }
    }
}

/// What a host opens before any message can flow: storage, lookup tables, plugins.
pub(super) struct Opened {
    pub(super) streams: Streams,
    pub(super) lookup: Arc<LookupTables>,
    pub(super) registry: Arc<PluginRegistry>,
    /// Each plugin's fingerprint, so a reload loads only what changed.
    pub(super) plugin_specs: BTreeMap<String, String>,
    /// `[cluster]`'s stores: the streams above are on them, and the Firehose service opens
    /// its buffers and catalogs there.
    pub(super) cluster: Option<super::cluster::ClusterStores>,
}

/// Opens the storage folder, creates the configured streams, loads the lookup tables and the
/// plugins. `weir run` and `weir demo` (through [`super::replay`]) share it, so the demo
/// starts exactly what the server starts, short of the broker and the API.
pub(super) fn open(config: &Config) -> Result<Opened, HostError> {
    let storage = &config.storage.dir;
    weir_support::create_dir_all_synced(storage)
        .map_err(|e| HostError::storage(storage, "creating the folder", e))?;
    let mut sc = StreamsConfig::new(storage.join("streams"));
    sc.fsync = config.storage.fsync;
    sc.max_streams = config.storage.max_streams;
    sc.max_total_shards = config.storage.max_shards;
    sc.transition_delay = config.storage.transition;
    let cluster = match &config.cluster {
        Some(section) => Some(super::cluster::connect(section).map_err(HostError::Cluster)?),
        None => None,
    };
    let streams = match &cluster {
        Some(c) => Streams::open_with_stores(sc, c.streams.clone())
            .map_err(|e| HostError::storage(storage, "opening the streams on the cluster", e))?,
        None => {
            Streams::open(sc).map_err(|e| HostError::storage(storage, "opening the streams", e))?
        }
    };
    for (name, s) in &config.streams {
        let ensured = match streams.ensure_stream(name, s.shards, s.retention_hours) {
            // Another host on the cluster created or changed it at the same moment: look
            // again at the shared catalog, where it is now.
            Err(weir_streams::StreamsError::InUse(_)) if cluster.is_some() => streams
                .refresh()
                .and_then(|()| streams.ensure_stream(name, s.shards, s.retention_hours)),
            other => other,
        };
        ensured.map_err(|e| HostError::storage(storage, format!("stream {name:?}"), e))?;
    }

    let mut lookup = LookupTables::new();
    for (name, t) in &config.tables {
        if let Some(file) = &t.file {
            let table =
                Table::from_csv_file(name, file, &t.key).map_err(|source| HostError::Table {
                    name: name.clone(),
                    source,
                })?;
            lookup.insert(name.clone(), table);
        }
    }
    let lookup = Arc::new(lookup);
    let engine =
        PluginEngine::new(Some(storage.join("plugin-cache"))).map_err(|e| HostError::Plugin {
            name: "(engine)".into(),
            source: e,
        })?;
    let registry = Arc::new(PluginRegistry::new(engine, lookup.clone()));
    let mut plugin_specs = BTreeMap::new();
    let loads = registry.prepare_all(
        config
            .plugins
            .values()
            .map(|p| (super::plugin_spec::plugin_spec(&p.spec), p.path.clone()))
            .collect(),
    );
    for ((name, p), loaded) in config.plugins.iter().zip(loads) {
        let slot = loaded.map_err(|source| HostError::Plugin {
            name: name.clone(),
            source,
        })?;
        registry.install(slot);
        plugin_specs.insert(name.clone(), spec_fingerprint(p));
    }
    Ok(Opened {
        streams,
        lookup,
        registry,
        plugin_specs,
        cluster,
    })
}

/// Whether the host does its job: every worker thread alive (the ingress reader, the
/// dispatcher, every pipeline; see `liveness.rs`) and the embedded broker serving a client end
/// to end. An external broker is its operator's to watch (the client reconnects by itself).
fn probe_host(
    broker: &Broker,
    listening: Option<super::ingress::Listening>,
    liveness: &Liveness,
) -> Result<(), String> {
    liveness.check()?;
    match (broker, listening) {
        (Broker::Embedded(b), Some(at)) => {
            super::ingress::probe_embedded(b, at.v4, Duration::from_secs(2))
        }
        _ => Ok(()),
    }
}

/// Enough of a plugin's configuration to tell whether a reload changed it.
fn spec_fingerprint(p: &weir_config::PluginConfig) -> String {
    format!("{}|{:?}", p.path.display(), p.spec)
}

fn dispatch_loop(mut plan: Plan, rx: Receiver<Input>) -> Receiver<Input> {
    while let Ok(input) = rx.recv() {
        match input {
            Input::Message(msg, only) => plan.dispatch(msg, only.as_deref()),
            Input::Swap(next) => {
                let old = std::mem::replace(&mut plan, *next);
                // Everything dispatched to the old plan is delivered before the new one sees
                // a message: no drop, no reordering.
                old.retire();
            }
            Input::Stop => break,
        }
    }
    plan.retire();
    fail_undispatched(&rx);
    rx
}

/// Marks messages queued behind the stop as not handled, so dropping them does not
/// acknowledge them (an external broker redelivers them to the next session).
fn fail_undispatched(rx: &Receiver<Input>) {
    while let Ok(input) = rx.try_recv() {
        if let Input::Message(msg, _) = input {
            msg.ack.fail();
        }
    }
}

/// The Device Shadow store (`STORAGE/shadows`, or with `[cluster]` the documents under
/// `shadows/` of the cluster's `IOT` bucket, shared by every host), shared by the broker's
/// shadow topics and the iot-data API. A damaged shadow file is reported here and fails only
/// its own shadow.
fn open_shadows(
    storage: &Path,
    cluster: Option<&super::cluster::ClusterStores>,
) -> Result<Arc<weir_shadow::ShadowService>, HostError> {
    let shadows = match cluster {
        Some(c) => weir_shadow::ShadowService::on_docs(
            c.iot_docs.clone(),
            "shadows",
            weir_shadow::ShadowLimits::default(),
        ),
        None => weir_shadow::ShadowService::open(&storage.join("shadows")),
    }
    .map_err(HostError::Shadows)?;
    for problem in shadows.check() {
        tracing::error!(error = %problem, detail = ?problem.detail(), "a damaged shadow file");
    }
    Ok(Arc::new(shadows))
}

/// Enabled rules in `config`.
fn enabled_rules(config: &Config) -> usize {
    config.rules.values().filter(|r| r.enabled).count()
}

/// How long the configuration's folder must be quiet before a change is read.
const QUIET_BEFORE_RELOAD: Duration = Duration::from_millis(500);

/// The file's text once two reads 200 ms apart agree (at most 2 s); `None` if it kept
/// changing or cannot be read.
fn read_stable(path: &Path) -> Option<String> {
    let mut last = std::fs::read_to_string(path).ok()?;
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(200));
        let now = std::fs::read_to_string(path).ok()?;
        if now == last {
            return Some(now);
        }
        last = now;
    }
    None
}
