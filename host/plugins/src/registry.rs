//! Named plugins, their instance pools, and hot reload.
//!
//! A [`PluginSlot`] is what a pipeline stage holds: the plugin's *current* version behind a
//! lock that is only written by a reload, plus a pool of idle instances. A batch checks out one
//! instance, runs on it from start to end, and checks it back in. A reload builds and
//! health-checks the new version off the hot path, then swaps `current`; batches already
//! running finish on the old version's instance, which is dropped at check-in because its
//! version is no longer current. Every batch is processed whole by exactly one version, so a
//! swap neither loses nor repeats a record.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use super::{
    CounterSnapshot, EmitOutcome, FilterResult, LoadedPlugin, PluginCounters, PluginEngine,
    PluginError, PluginInstance, PluginSpec, Record, Tier, TransformResult,
};
use crate::retire::retire;
use crate::tables::LookupTables;

/// Idle instances kept per plugin; more concurrent batches than this simply instantiate.
const MAX_IDLE: usize = 8;

/// Versions a slot remembers for its listing, the serving one included. Each costs a few
/// hundred bytes (counters, version, times), never the compiled code; beyond this the oldest
/// retired version is forgotten, so a plugin reloaded forever does not grow without bound. Large
/// enough that a day of frequent deploys stays visible in `GET /plugins` and `/metrics`.
pub const MAX_VERSIONS_KEPT: usize = 64;

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
        /// Which compiler's code serves it: [`Tier::Quick`] when its optimised code was not
        /// compiled yet, which then replaces it (counted in [`SlotStatus::upgrades`]).
        tier: Tier,
    },
}

/// Reload history of a slot, for status reporting.
#[derive(Debug, Clone, Default)]
pub struct SlotStatus {
    /// Successful swaps since the slot was created.
    pub swaps: u64,
    /// Quick builds replaced by the optimised build of the same version.
    pub upgrades: u64,
    /// The last failed reload's error, or the failed optimised compile of the quick build
    /// that serves; cleared by a successful reload.
    pub last_error: Option<String>,
    /// When the last reload attempt finished.
    pub last_attempt: Option<SystemTime>,
}

/// What a slot keeps of a version for its listing: its counters and when it served, but not the
/// [`LoadedPlugin`] (compiled code, pre-linked instance), which is freed as soon as no batch runs
/// on it any more.
#[derive(Debug, Clone)]
pub struct VersionRecord {
    /// The version: the first 12 hex digits of the component's SHA-256.
    pub version: String,
    /// Its counters. Shared with the version itself, so a batch that started before a swap and
    /// finishes after it is still counted here.
    pub counters: Arc<PluginCounters>,
    /// When it finished loading.
    pub loaded_at: SystemTime,
    /// When another version replaced it; `None` while it serves.
    pub retired_at: Option<SystemTime>,
}

impl VersionRecord {
    fn of(plugin: &LoadedPlugin) -> Self {
        VersionRecord {
            version: plugin.version().to_string(),
            counters: plugin.counters().clone(),
            loaded_at: plugin.loaded_at(),
            retired_at: None,
        }
    }
}

/// The versions a slot remembers, oldest first, the serving one last; at most `cap`.
#[derive(Debug)]
struct VersionHistory {
    records: VecDeque<VersionRecord>,
    cap: usize,
}

impl VersionHistory {
    fn new(first: VersionRecord, cap: usize) -> Self {
        VersionHistory {
            records: VecDeque::from([first]),
            cap: cap.max(1),
        }
    }

    /// Marks the serving version retired and appends `next`, forgetting the oldest beyond the
    /// cap.
    fn swap(&mut self, next: VersionRecord, at: SystemTime) {
        if let Some(serving) = self.records.back_mut() {
            serving.retired_at = Some(at);
        }
        self.records.push_back(next);
        while self.records.len() > self.cap {
            self.records.pop_front();
        }
    }
}

/// One named plugin: its current version and its idle instances.
pub struct PluginSlot {
    spec: PluginSpec,
    path: PathBuf,
    engine: PluginEngine,
    tables: Arc<LookupTables>,
    /// The serving version: the only `Arc<LoadedPlugin>` the slot holds. Written only by
    /// [`PluginSlot::swap`], with `idle` locked.
    current: RwLock<Arc<LoadedPlugin>>,
    /// Idle instances, all of the current version: checked in and cleared with this lock held
    /// and `current` compared or replaced under it (lock order: `idle`, then `current`).
    idle: Mutex<Vec<PluginInstance>>,
    /// The versions that served, so counters survive a swap without keeping old code alive.
    versions: Mutex<VersionHistory>,
    status: Mutex<SlotStatus>,
    /// Serialises reloads of this slot (file watcher and API may race), and the exchange of
    /// a quick version's code for its optimised build.
    reloading: Mutex<()>,
    /// The quick build waiting for its optimised compile, and whether the slot's one
    /// `weir-plugin-tier` thread runs: reloads in quick succession never start more than one
    /// compile thread, and a quick build replaced before its turn is never compiled.
    upgrades: Mutex<Upgrades>,
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

use weir_support::{lock, read, write};

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
            versions: Mutex::new(VersionHistory::new(
                VersionRecord::of(&plugin),
                MAX_VERSIONS_KEPT,
            )),
            current: RwLock::new(plugin),
            idle: Mutex::new(Vec::new()),
            status: Mutex::new(SlotStatus::default()),
            reloading: Mutex::new(()),
            upgrades: Mutex::new(Upgrades::default()),
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
        read(&self.current).clone()
    }

    /// Reload history.
    pub fn status(&self) -> SlotStatus {
        lock(&self.status).clone()
    }

    /// Counters of the versions that served (the last [`MAX_VERSIONS_KEPT`]), oldest first.
    pub fn version_counters(&self) -> Vec<(String, CounterSnapshot)> {
        lock(&self.versions)
            .records
            .iter()
            .map(|r| (r.version.clone(), r.counters.snapshot()))
            .collect()
    }

    /// The versions that served (the last [`MAX_VERSIONS_KEPT`]), oldest first, the serving one
    /// last.
    pub fn versions(&self) -> Vec<VersionRecord> {
        lock(&self.versions).records.iter().cloned().collect()
    }

    /// An instance of the current version: an idle one, or a new one.
    fn checkout(&self) -> Result<PluginInstance, PluginError> {
        let current = {
            let mut idle = lock(&self.idle);
            // The pool only ever holds instances of the current version (see `checkin` and
            // `swap`), so any idle one will do.
            if let Some(instance) = idle.pop() {
                return Ok(instance);
            }
            self.current()
        };
        current.instantiate()
    }

    /// Returns an instance to the pool, unless it is poisoned, of a replaced version, or the
    /// pool is full; then it is retired (dropping a store unmaps its memory, and with the last
    /// instance of a replaced version goes that version's code: not on the caller's thread,
    /// which is a pipeline's).
    fn checkin(&self, instance: PluginInstance) {
        if instance.is_poisoned() {
            return retire(instance);
        }
        let mut idle = lock(&self.idle);
        // Compared with `idle` locked: a swap replaces `current` under the same lock, so an
        // instance of the old version cannot slip into the pool after the swap emptied it.
        let is_current = Arc::ptr_eq(instance.plugin(), &read(&self.current));
        if is_current && idle.len() < MAX_IDLE {
            idle.push(instance);
            return;
        }
        drop(idle);
        retire(instance);
    }

    /// Makes `new` the current version: records it in the history and empties the pool, whose
    /// instances all run the old version. After this the slot holds no reference to the old
    /// version; batches still running on it hold the last ones and drop them at check-in.
    fn swap(&self, new: Arc<LoadedPlugin>) {
        lock(&self.versions).swap(VersionRecord::of(&new), SystemTime::now());
        // Counted before the new version is visible, so whoever sees it serving also sees
        // the swap in the status.
        lock(&self.status).swaps += 1;
        self.replace_current(new);
    }

    /// Puts `new` in `current`'s place and empties the pool: the pointer exchange of a swap.
    fn replace_current(&self, new: Arc<LoadedPlugin>) {
        let stale = {
            let mut idle = lock(&self.idle);
            *write(&self.current) = new;
            std::mem::take(&mut *idle)
        };
        retire(stale);
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
    ///
    /// A version whose optimised code is not in the compile cache serves first from Winch's
    /// code ([`Tier::Quick`], compiled several times faster), and a thread of its own then
    /// compiles it with Cranelift and exchanges the code, the version unchanged. So a swap
    /// waits for the quick compile only, and no batch ever waits for a compile.
    pub fn reload(self: &Arc<Self>) -> Result<ReloadOutcome, PluginError> {
        let _one_at_a_time = lock(&self.reloading);
        let result = self.reload_inner();
        let mut status = lock(&self.status);
        status.last_attempt = Some(SystemTime::now());
        match &result {
            Ok(ReloadOutcome::Swapped {
                from,
                to,
                load_time,
                tier,
            }) => {
                status.last_error = None;
                tracing::info!(plugin = %self.spec.name, from = %from, to = %to, load_ms = load_time.as_secs_f64() * 1e3, tier = tier.as_str(), "plugin reloaded");
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

    fn reload_inner(self: &Arc<Self>) -> Result<ReloadOutcome, PluginError> {
        let bytes = std::fs::read(&self.path).map_err(|source| PluginError::Read {
            plugin: self.spec.name.clone(),
            path: self.path.clone(),
            source,
        })?;
        let old = self.current();
        let digest = crate::digest_of(&bytes);
        if digest.starts_with(old.version()) {
            if old.tier() == Tier::Quick {
                // Still on its quick build (its optimised compile pending, or failed): a
                // reload asks for that compile again; one already under way makes this a no-op.
                self.upgrade_later(old.clone(), bytes);
            }
            return Ok(ReloadOutcome::Unchanged {
                version: old.version().to_string(),
            });
        }
        let started = Instant::now();
        let new = if self.engine.is_compiled(&digest) {
            self.engine.load_digested(
                self.spec.clone(),
                &self.path,
                &bytes,
                &digest,
                self.tables.clone(),
            )?
        } else {
            match self
                .engine
                .load_quick(self.spec.clone(), &self.path, &bytes, self.tables.clone())
            {
                Ok(quick) => quick,
                // Winch refuses some proposals Cranelift compiles (tail calls, relaxed SIMD,
                // exceptions, GC): such a component swaps in on Cranelift's code directly, as
                // it would load at start. A component neither compiles is refused by both.
                Err(PluginError::Compile { .. }) => self.engine.load_bytes(
                    self.spec.clone(),
                    &self.path,
                    &bytes,
                    self.tables.clone(),
                )?,
                Err(e) => return Err(e),
            }
        };
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
            tier: new.tier(),
        };
        self.swap(new.clone());
        // The replaced version goes with its last instance; not inside the swap.
        retire(old);
        if new.tier() == Tier::Quick {
            self.upgrade_later(new, bytes);
        }
        Ok(outcome)
    }

    /// Compiles `quick`'s optimised code on a thread of its own and exchanges it for
    /// `quick`'s, unless another version has replaced `quick` by then. Failing to (no thread,
    /// a compile error) leaves `quick` serving, which is correct, only slower; it is logged.
    fn upgrade_later(self: &Arc<Self>, quick: Arc<LoadedPlugin>, bytes: Vec<u8>) {
        let mut upgrades = lock(&self.upgrades);
        // A newer quick build supersedes one still waiting: only the latest is compiled.
        upgrades.pending = Some(PendingUpgrade {
            quick: Arc::downgrade(&quick),
            bytes,
        });
        if upgrades.worker {
            return;
        }
        let slot = self.clone();
        let spawned = std::thread::Builder::new()
            .name("weir-plugin-tier".into())
            .spawn(move || {
                lower_this_threads_priority();
                loop {
                    let next = {
                        let mut upgrades = lock(&slot.upgrades);
                        let next = upgrades.pending.take();
                        upgrades.worker = next.is_some();
                        next
                    };
                    match next {
                        Some(job) => slot.upgrade(job),
                        None => return,
                    }
                }
            });
        match spawned {
            Ok(_) => upgrades.worker = true,
            Err(e) => {
                upgrades.pending = None;
                tracing::warn!(plugin = %self.spec.name, error = %e, "cannot start the optimised compile; the quick build keeps serving");
            }
        }
    }

    /// Compiles `job`'s optimised build and exchanges it for the quick one, if that still
    /// serves: before the compile and again, under the reload lock, before the exchange.
    fn upgrade(&self, job: PendingUpgrade) {
        let is_current =
            |slot: &PluginSlot| Weak::as_ptr(&job.quick) == Arc::as_ptr(&slot.current());
        // Gone: a newer version replaced it and it was freed.
        let Some(quick) = job.quick.upgrade() else {
            return;
        };
        if !is_current(self) {
            return;
        }
        let (spec, tables, counters) = (
            (*quick.spec).clone(),
            quick.tables.clone(),
            quick.counters.clone(),
        );
        let version = quick.version.clone();
        // Not held through the compile, so a version replaced meanwhile is freed as usual.
        drop(quick);
        let upgraded = self
            .engine
            .upgrade(spec, tables, counters, &self.path, &job.bytes);
        let optimized = match upgraded {
            Ok(optimized) => optimized,
            Err(e) => {
                tracing::warn!(plugin = %self.spec.name, version = %version, error = %e, "optimised compile failed; the quick build keeps serving");
                // Shown with the slot (`GET /plugins`) until the next successful reload.
                if is_current(self) {
                    lock(&self.status).last_error = Some(format!(
                        "version {} serves from its quick build: its optimised compile failed: {e}",
                        version
                    ));
                }
                return;
            }
        };
        let _no_reload = lock(&self.reloading);
        if is_current(self) {
            self.replace_current(optimized);
            lock(&self.status).upgrades += 1;
            tracing::info!(plugin = %self.spec.name, version = %version, "optimised code now serving");
        }
    }
}

/// A slot's optimised compiles: the one waiting, and whether its thread runs.
#[derive(Default)]
struct Upgrades {
    pending: Option<PendingUpgrade>,
    worker: bool,
}

/// A quick build waiting for its optimised compile, and the component's bytes. Holds the quick
/// build only weakly: a version that a newer one replaces is freed as usual, not kept alive by
/// a pending compile.
struct PendingUpgrade {
    quick: Weak<LoadedPlugin>,
    bytes: Vec<u8>,
}

/// Nice 10 for the calling thread (Linux gives each thread its own nice value): the
/// optimised compile of a version already serving from its quick build yields the cores to
/// the message path, and takes what they leave.
pub(crate) fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority only reads its integer arguments; `who = 0` is the calling thread.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
        if rc != 0 {
            tracing::debug!(
                "cannot lower the optimised compile's priority: {}",
                std::io::Error::last_os_error()
            );
        }
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
        let slot = self.prepare(spec, path)?;
        self.install(slot.clone());
        Ok(slot)
    }

    /// Loads a plugin without registering it: a configuration reload loads every changed
    /// plugin first and installs them only once the whole new plan could be built.
    pub fn prepare(&self, spec: PluginSpec, path: &Path) -> Result<Arc<PluginSlot>, PluginError> {
        PluginSlot::load(&self.engine, spec, path, self.tables.clone())
    }

    /// Loads several plugins at once, without registering them: one thread per plugin, at
    /// most as many at a time as the machine has cores. Cranelift already compiles one
    /// component's functions in parallel, but reading, validating, linking and the health
    /// check of each are sequential, and large components (a Python or JavaScript plugin
    /// carries its interpreter) take seconds each: loaded one after another, three of them
    /// held a host's start for the sum. Outcomes come back in input order.
    pub fn prepare_all(
        &self,
        plugins: Vec<(PluginSpec, PathBuf)>,
    ) -> Vec<Result<Arc<PluginSlot>, PluginError>> {
        let width = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .max(1);
        let mut outcomes = Vec::with_capacity(plugins.len());
        let mut rest = plugins.into_iter().peekable();
        while rest.peek().is_some() {
            let wave: Vec<(PluginSpec, PathBuf)> = rest.by_ref().take(width).collect();
            if wave.len() == 1 {
                outcomes.extend(
                    wave.into_iter()
                        .map(|(spec, path)| self.prepare(spec, &path)),
                );
                continue;
            }
            std::thread::scope(|scope| {
                let handles: Vec<_> = wave
                    .into_iter()
                    .map(|(spec, path)| {
                        let id = (spec.name.clone(), path.clone());
                        let spawned = std::thread::Builder::new()
                            .name("weir-plugin-load".into())
                            .spawn_scoped(scope, move || self.prepare(spec, &path));
                        (id, spawned)
                    })
                    .collect();
                for ((plugin, path), handle) in handles {
                    let outcome = match handle {
                        Ok(h) => h.join().unwrap_or_else(|_| {
                            Err(PluginError::Compile {
                                plugin,
                                path,
                                reason: "loading it panicked".into(),
                            })
                        }),
                        Err(e) => Err(PluginError::Compile {
                            plugin,
                            path,
                            reason: format!("cannot start a thread to load it: {e}"),
                        }),
                    };
                    outcomes.push(outcome);
                }
            });
        }
        outcomes
    }

    /// Registers a prepared plugin under its name, replacing any earlier one.
    pub fn install(&self, slot: Arc<PluginSlot>) {
        self.slots
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(slot.name().to_string(), slot);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PluginSpec;

    /// The same component with a custom section appended: identical behaviour, a new content
    /// hash, hence a new version.
    fn variant(original: &[u8], n: u32) -> Vec<u8> {
        let name = b"weir-test-variant";
        let mut out = original.to_vec();
        out.push(0); // custom section id
        out.push(u8::try_from(1 + name.len() + 4).expect("small section"));
        out.push(u8::try_from(name.len()).expect("short name"));
        out.extend_from_slice(name);
        out.extend_from_slice(&n.to_le_bytes());
        out
    }

    fn line(id: usize) -> Record {
        Record {
            payload: format!("Oct 11 22:14:15 host app[1]: id-{id}").into_bytes(),
            partition_key: "k".into(),
            source_topic: "logs".into(),
            client_id: String::new(),
            rule_name: "r".into(),
            arrival_timestamp_ms: 0,
            attributes: Vec::new(),
        }
    }

    /// A slot of the syslog transformer loaded from a copy in `dir`, and the original bytes.
    fn syslog_slot(dir: &Path) -> (Arc<PluginSlot>, PathBuf, Vec<u8>) {
        let original = std::fs::read(weir_testkit::plugin_path("syslog-to-json")).expect("wasm");
        let path = dir.join("syslog.wasm");
        std::fs::write(&path, &original).expect("install");
        let engine = PluginEngine::new(None).expect("engine");
        let slot = PluginSlot::load(
            &engine,
            PluginSpec::new("syslog", &[]),
            &path,
            Arc::new(LookupTables::new()),
        )
        .expect("first version");
        (slot, path, original)
    }

    fn reload_to(slot: &Arc<PluginSlot>, path: &Path, bytes: &[u8]) {
        std::fs::write(path, bytes).expect("install");
        let outcome = slot.reload().expect("reload");
        assert!(
            matches!(outcome, ReloadOutcome::Swapped { .. }),
            "{outcome:?}"
        );
    }

    #[test]
    fn replaced_versions_are_freed_but_still_listed_with_their_counters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (slot, path, original) = syslog_slot(dir.path());
        let mut old: Vec<Weak<LoadedPlugin>> = Vec::new();
        for n in 1..=3 {
            // A batch leaves an idle instance of the serving version in the pool.
            slot.transform(&[line(n)]).expect("batch");
            assert_eq!(lock(&slot.idle).len(), 1);
            old.push(Arc::downgrade(&slot.current()));
            reload_to(&slot, &path, &variant(&original, n as u32));
            assert!(
                lock(&slot.idle).is_empty(),
                "the old version's idle instance is gone"
            );
        }
        slot.transform(&[line(4)])
            .expect("batch on the last version");
        crate::retire::flush();
        for (i, weak) in old.iter().enumerate() {
            assert!(weak.upgrade().is_none(), "version {i} is still in memory");
        }

        let listed = slot.version_counters();
        assert_eq!(listed.len(), 4);
        for (version, counters) in &listed {
            // The health check (no records) and one batch of one record.
            assert_eq!((counters.calls, counters.records_in), (2, 1), "{version}");
        }
        assert_eq!(listed[3].0, slot.current().version());
        let history = slot.versions();
        assert!(history[..3].iter().all(|r| r.retired_at.is_some()));
        assert!(history[3].retired_at.is_none());
    }

    #[test]
    fn rapid_reloads_end_on_the_optimised_build_of_the_last_version_and_free_the_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (slot, path, original) = syslog_slot(dir.path());
        let mut quick: Vec<Weak<LoadedPlugin>> = Vec::new();
        for n in 1..=5 {
            reload_to(&slot, &path, &variant(&original, n));
            let current = slot.current();
            assert_eq!(current.tier(), Tier::Quick, "version {n}");
            quick.push(Arc::downgrade(&current));
            let upgrades = lock(&slot.upgrades);
            assert!(upgrades.worker, "one compile thread serves the slot");
        }
        let last = slot.current().version().to_string();
        let deadline = Instant::now() + Duration::from_secs(60);
        while slot.current().tier() != Tier::Optimized {
            assert!(Instant::now() < deadline, "no optimised build within 60 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(slot.current().version(), last);
        let status = slot.status();
        assert_eq!(status.swaps, 5);
        assert!((1..=5).contains(&status.upgrades), "{status:?}");
        crate::retire::flush();
        for (i, weak) in quick.iter().enumerate() {
            assert!(
                weak.upgrade().is_none(),
                "quick build {} is still in memory",
                i + 1
            );
        }
        // The compile thread ends once nothing waits.
        let deadline = Instant::now() + Duration::from_secs(10);
        while lock(&slot.upgrades).worker {
            assert!(Instant::now() < deadline, "the compile thread did not end");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn an_instance_checked_out_before_a_swap_is_dropped_at_checkin_and_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (slot, path, original) = syslog_slot(dir.path());
        let mut in_flight = slot.checkout().expect("checkout");
        let weak = Arc::downgrade(in_flight.plugin());
        reload_to(&slot, &path, &variant(&original, 1));
        assert!(
            weak.upgrade().is_some(),
            "the running batch keeps its version"
        );

        in_flight
            .transform(&[line(1)])
            .expect("batch finishes on the old version");
        slot.checkin(in_flight);
        assert!(lock(&slot.idle).is_empty(), "not pooled");
        crate::retire::flush();
        assert!(weak.upgrade().is_none(), "freed with its last instance");

        let listed = slot.version_counters();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].1.records_in, 1, "counted on the old version");
        assert_eq!(listed[1].1.records_in, 0);
    }

    fn record(version: &str) -> VersionRecord {
        VersionRecord {
            version: version.into(),
            counters: Arc::default(),
            loaded_at: SystemTime::UNIX_EPOCH,
            retired_at: None,
        }
    }

    #[test]
    fn history_keeps_the_last_versions_up_to_its_cap() {
        let mut history = VersionHistory::new(record("v0"), 3);
        for n in 1..=4 {
            history.swap(record(&format!("v{n}")), SystemTime::UNIX_EPOCH);
        }
        let versions: Vec<&str> = history.records.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["v2", "v3", "v4"]);
        assert!(history.records[1].retired_at.is_some());
        assert!(history.records[2].retired_at.is_none());
    }
}
