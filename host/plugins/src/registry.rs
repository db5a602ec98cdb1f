//! Named plugins, their instance pools, and hot reload.
//!
//! A [`PluginSlot`] is what a pipeline stage holds: the plugin's *current* version behind a
//! lock that is only written by a reload, plus a pool of idle instances. A batch checks out one
//! instance, runs on it from start to end, and checks it back in. A reload builds and
//! health-checks the new version off the hot path, then swaps `current`; batches already
//! running finish on the old version's instance, which is dropped at check-in because its
//! version is no longer current. Every batch is processed whole by exactly one version, so a
//! swap neither loses nor repeats a record.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::{
    CounterSnapshot, EmitOutcome, FilterResult, LoadedPlugin, PluginEngine, PluginError,
    PluginInstance, PluginSpec, Record, TransformResult,
};
use crate::tables::LookupTables;

/// Idle instances kept per plugin; more concurrent batches than this simply instantiate.
const MAX_IDLE: usize = 8;

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The file's content hash equals the current version's: nothing to do.
    Unchanged {
        /// The version that keeps serving.
        version: String,
    },
    /// The new version passed its health check and now serves new batches.
    Swapped {
        /// Version replaced.
        from: String,
        /// Version now serving.
        to: String,
        /// Time to compile (or fetch from cache), link and health-check it.
        load_time: Duration,
    },
}

/// Reload history of a slot, for status reporting.
#[derive(Debug, Clone, Default)]
pub struct SlotStatus {
    /// Successful swaps since the slot was created.
    pub swaps: u64,
    /// The last failed reload's error; cleared by a successful one.
    pub last_error: Option<String>,
    /// When the last reload attempt finished.
    pub last_attempt: Option<SystemTime>,
}

/// One named plugin: its current version and its idle instances.
pub struct PluginSlot {
    spec: PluginSpec,
    path: PathBuf,
    engine: PluginEngine,
    tables: Arc<LookupTables>,
    current: RwLock<Arc<LoadedPlugin>>,
    idle: Mutex<Vec<PluginInstance>>,
    /// Every version that served, oldest first, so counters survive a swap.
    versions: Mutex<Vec<Arc<LoadedPlugin>>>,
    status: Mutex<SlotStatus>,
    /// Serialises reloads of this slot (file watcher and API may race).
    reloading: Mutex<()>,
}

impl std::fmt::Debug for PluginSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginSlot")
            .field("name", &self.spec.name)
            .field("path", &self.path)
            .field("version", &self.current().version())
            .finish()
    }
}

use weir_support::lock;

impl PluginSlot {
    /// Loads `path` for `spec`; fails if the first version does not load.
    pub fn load(
        engine: &PluginEngine,
        spec: PluginSpec,
        path: &Path,
        tables: Arc<LookupTables>,
    ) -> Result<Arc<PluginSlot>, PluginError> {
        let plugin = engine.load_file(spec.clone(), path, tables.clone())?;
        Ok(Arc::new(PluginSlot {
            spec,
            path: path.to_path_buf(),
            engine: engine.clone(),
            tables,
            versions: Mutex::new(vec![plugin.clone()]),
            current: RwLock::new(plugin),
            idle: Mutex::new(Vec::new()),
            status: Mutex::new(SlotStatus::default()),
            reloading: Mutex::new(()),
        }))
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The component file it is loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The version serving new batches.
    pub fn current(&self) -> Arc<LoadedPlugin> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reload history.
    pub fn status(&self) -> SlotStatus {
        lock(&self.status).clone()
    }

    /// Counters of every version that served, oldest first.
    pub fn version_counters(&self) -> Vec<(String, CounterSnapshot)> {
        lock(&self.versions)
            .iter()
            .map(|p| (p.version().to_string(), p.counters().snapshot()))
            .collect()
    }

    fn checkout(&self) -> Result<PluginInstance, PluginError> {
        let current = self.current();
        let mut idle = lock(&self.idle);
        while let Some(instance) = idle.pop() {
            if Arc::ptr_eq(instance.plugin(), &current) {
                return Ok(instance);
            }
        }
        drop(idle);
        current.instantiate()
    }

    fn checkin(&self, instance: PluginInstance) {
        if instance.is_poisoned() || !Arc::ptr_eq(instance.plugin(), &self.current()) {
            return;
        }
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE {
            idle.push(instance);
        }
    }

    fn call<R>(
        &self,
        f: impl FnOnce(&mut PluginInstance) -> Result<R, PluginError>,
    ) -> Result<R, PluginError> {
        let mut instance = self.checkout()?;
        let result = f(&mut instance);
        self.checkin(instance);
        result
    }

    /// Runs a filter batch on one instance of the current version.
    pub fn filter(&self, batch: &[Record]) -> Result<Vec<FilterResult>, PluginError> {
        self.call(|i| i.filter(batch))
    }

    /// Runs a transformer batch on one instance of the current version.
    pub fn transform(&self, batch: &[Record]) -> Result<Vec<TransformResult>, PluginError> {
        self.call(|i| i.transform(batch))
    }

    /// Runs an emitter batch on one instance of the current version.
    pub fn emit(&self, batch: &[Record]) -> Result<EmitOutcome, PluginError> {
        self.call(|i| i.emit(batch))
    }

    /// Re-reads the component file; if its content changed, loads and health-checks the new
    /// version and makes it current. On any failure the old version keeps serving and the error
    /// is both returned and kept in [`SlotStatus::last_error`].
    pub fn reload(&self) -> Result<ReloadOutcome, PluginError> {
        let _one_at_a_time = lock(&self.reloading);
        let result = self.reload_inner();
        let mut status = lock(&self.status);
        status.last_attempt = Some(SystemTime::now());
        match &result {
            Ok(ReloadOutcome::Swapped {
                from,
                to,
                load_time,
            }) => {
                status.swaps += 1;
                status.last_error = None;
                tracing::info!(plugin = %self.spec.name, from = %from, to = %to, load_ms = load_time.as_secs_f64() * 1e3, "plugin reloaded");
            }
            // The file holds the serving version again: nothing is pending.
            Ok(ReloadOutcome::Unchanged { .. }) => status.last_error = None,
            Err(e) => {
                status.last_error = Some(e.to_string());
                tracing::error!(plugin = %self.spec.name, error = %e, "reload failed; the previous version keeps serving");
            }
        }
        result
    }

    fn reload_inner(&self) -> Result<ReloadOutcome, PluginError> {
        let bytes = std::fs::read(&self.path).map_err(|source| PluginError::Read {
            plugin: self.spec.name.clone(),
            path: self.path.clone(),
            source,
        })?;
        let old = self.current();
        let digest = hex::encode(Sha256::digest(&bytes));
        if digest.starts_with(old.version()) {
            return Ok(ReloadOutcome::Unchanged {
                version: old.version().to_string(),
            });
        }
        let started = Instant::now();
        let new =
            self.engine
                .load_bytes(self.spec.clone(), &self.path, &bytes, self.tables.clone())?;
        if new.kind() != old.kind() {
            // Pipelines were built around the old kind; a filter cannot become an emitter.
            return Err(PluginError::WrongKind {
                plugin: self.spec.name.clone(),
                expected: old.kind().as_str(),
                actual: new.kind().as_str(),
            });
        }
        let outcome = ReloadOutcome::Swapped {
            from: old.version().to_string(),
            to: new.version().to_string(),
            load_time: started.elapsed(),
        };
        lock(&self.versions).push(new.clone());
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = new;
        // Idle instances of the old version are useless now.
        lock(&self.idle).clear();
        Ok(outcome)
    }
}

/// Every plugin of a host, by name.
#[derive(Debug)]
pub struct PluginRegistry {
    engine: PluginEngine,
    tables: Arc<LookupTables>,
    slots: RwLock<BTreeMap<String, Arc<PluginSlot>>>,
}

impl PluginRegistry {
    /// An empty registry over `engine`, giving plugins `tables`.
    pub fn new(engine: PluginEngine, tables: Arc<LookupTables>) -> Self {
        PluginRegistry {
            engine,
            tables,
            slots: RwLock::new(BTreeMap::new()),
        }
    }

    /// Loads a plugin and registers it under its spec's name, replacing any earlier one.
    pub fn add(&self, spec: PluginSpec, path: &Path) -> Result<Arc<PluginSlot>, PluginError> {
        let slot = PluginSlot::load(&self.engine, spec, path, self.tables.clone())?;
        self.slots
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(slot.name().to_string(), slot.clone());
        Ok(slot)
    }

    /// The plugin called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<PluginSlot>> {
        self.slots
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// All plugins, by name.
    pub fn slots(&self) -> Vec<Arc<PluginSlot>> {
        self.slots
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Reloads the plugin called `name` (the API's explicit reload).
    pub fn reload(&self, name: &str) -> Option<Result<ReloadOutcome, PluginError>> {
        self.get(name).map(|slot| slot.reload())
    }

    /// Watches every registered plugin's file and reloads it when it changes. Reloads run on
    /// the watcher's own thread, never on a pipeline's. Dropping the watcher stops it.
    pub fn watch(self: &Arc<Self>) -> Result<PluginWatcher, notify::Error> {
        use notify::{RecursiveMode, Watcher};
        let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(tx)?;
        // Watch folders, not files: editors and `cp` often replace a file, which ends a watch
        // on the file itself.
        let mut dirs: Vec<PathBuf> = self
            .slots()
            .iter()
            .filter_map(|s| s.path().parent().map(Path::to_path_buf))
            .collect();
        dirs.sort();
        dirs.dedup();
        for dir in &dirs {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
        let registry = Arc::downgrade(self);
        let thread = std::thread::Builder::new()
            .name("weir-plugin-watch".into())
            .spawn(move || {
                while let Ok(event) = rx.recv() {
                    let Some(registry) = registry.upgrade() else {
                        break;
                    };
                    let Ok(event) = event else { continue };
                    if !(event.kind.is_modify() || event.kind.is_create()) {
                        continue;
                    }
                    for slot in registry.slots() {
                        let hit = event.paths.iter().any(|p| same_file_name(p, slot.path()));
                        if hit {
                            // Errors are recorded in the slot's status and logged.
                            let _ = slot.reload();
                        }
                    }
                }
            })
            .map_err(notify::Error::io)?;
        Ok(PluginWatcher {
            _watcher: watcher,
            _thread: thread,
        })
    }
}

/// True when `event_path` names the same file as `slot_path` (same folder and name).
fn same_file_name(event_path: &Path, slot_path: &Path) -> bool {
    if event_path.file_name() != slot_path.file_name() {
        return false;
    }
    let canon = |p: &Path| {
        p.parent().and_then(|d| {
            std::fs::canonicalize(if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            })
            .ok()
        })
    };
    canon(event_path) == canon(slot_path)
}

/// Keeps the file watch alive.
pub struct PluginWatcher {
    _watcher: notify::RecommendedWatcher,
    _thread: std::thread::JoinHandle<()>,
}

impl std::fmt::Debug for PluginWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PluginWatcher")
    }
}
