//! The plugin runtime: WebAssembly components run in wasmtime, sandboxed and bounded.
//!
//! This is the only crate that depends on wasmtime (the crate map in ARCHITECTURE.md, checked
//! by `cargo xtask deps`). Its shape:
//!
//! - [`PluginEngine`]: one wasmtime `Engine` per host (component model, epoch interruption)
//!   plus the ticker thread that drives call deadlines.
//! - [`LoadedPlugin`]: a compiled component, checked against its grants, its kind (filter,
//!   transformer, emitter) detected from its exports, pre-linked and health-checked.
//!   Immutable and shared (`Arc`): hot reload swaps one `LoadedPlugin` for another.
//! - [`PluginInstance`]: one instance in its own `Store`, reused across batches. Any fault
//!   poisons it.
//! - [`PluginSlot`] (in `registry.rs`): a named plugin's current version plus a pool of idle
//!   instances. Calls check an instance out and back in; a poisoned instance or one of a
//!   replaced version is dropped on check-in. Hot reload swaps the current version between
//!   batches; [`PluginRegistry`] holds the slots and watches their files.
//!
//! Invariant: a plugin call never panics or blocks the host beyond its time limit; every
//! failure comes back as a [`PluginError`] naming the plugin, its version and the reason.

mod bindings;
mod cache;
mod error;
mod grants;
pub mod harness;
mod host_state;
mod metrics;
mod packed;
mod record;
mod registry;
pub mod retire;
mod stdio;
pub mod tables;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store, Strategy};

pub use error::{FaultKind, PluginError};
pub use grants::{check_imports, Grant, ImportRefusal};
pub use host_state::{OutboxRequest, Params};
pub use metrics::{CounterSnapshot, PluginCounters};
pub use record::{EmitFailure, FilterResult, Record, RecordError, TransformResult};
pub use registry::{
    PluginRegistry, PluginSlot, PluginWatcher, ReloadOutcome, SlotStatus, VersionRecord,
    MAX_VERSIONS_KEPT,
};

use bindings::{emitter, filter, legacy_emitter, legacy_filter, legacy_transformer, transformer};
use cache::CompileCache;
use host_state::HostState;

use crate::tables::LookupTables;

/// How often the epoch ticker advances; call deadlines are measured in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Resource limits of one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory the guest may grow to.
    pub memory_bytes: usize,
    /// Longest a single batch call may run.
    pub call_timeout: Duration,
    /// Most outbox requests one emitter call may make.
    pub max_outbox_requests: usize,
    /// Most bytes one emitter call may put in the outbox.
    pub max_outbox_bytes: usize,
    /// Most records one transformer call may return in total.
    pub max_output_records: usize,
}

impl Default for Limits {
    /// Generous for real plugins, small enough that a hostile one cannot hurt the host.
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(2),
            max_outbox_requests: 100_000,
            max_outbox_bytes: 32 << 20,
            max_output_records: 1_000_000,
        }
    }
}

/// Everything the host needs to know to load and run one plugin.
#[derive(Debug, Clone, Default)]
pub struct PluginSpec {
    /// The name rules refer to it by.
    pub name: String,
    /// What it may import.
    pub grants: Vec<Grant>,
    /// Its `config` values.
    pub params: Params,
    /// Its limits.
    pub limits: Limits,
    /// Lookup tables it may read; `None` means all.
    pub tables: Option<Vec<String>>,
    /// Notification channels it may use; `None` means all.
    pub channels: Option<Vec<String>>,
}

impl PluginSpec {
    /// A spec with the given name and grants, default limits and no parameters.
    pub fn new(name: impl Into<String>, grants: &[Grant]) -> Self {
        PluginSpec {
            name: name.into(),
            grants: grants.to_vec(),
            ..PluginSpec::default()
        }
    }

    /// Adds a parameter (builder style).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.insert(key.into(), value.into());
        self
    }
}

/// Which connector stage a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// Exports `weir:plugin/filter-batch` (or 0.1.0's `filter-stage`).
    Filter,
    /// Exports `weir:plugin/transform-batch` (or 0.1.0's `transform-stage`).
    Transformer,
    /// Exports `weir:plugin/emit-batch` (or 0.1.0's `emit-stage`).
    Emitter,
}

/// How a plugin's batches cross the boundary: which WIT revision it was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Abi {
    /// WIT 0.1.1's packed stages: a batch is four flat lists (`weir-abi`).
    Packed,
    /// WIT 0.1.0's stages: a batch is a list of records, a string per field.
    RecordList,
}

impl Abi {
    /// The WIT revision that introduced it.
    pub fn wit_version(self) -> &'static str {
        match self {
            Abi::Packed => "0.1.1",
            Abi::RecordList => "0.1.0",
        }
    }
}

/// Which compiler made a loaded version's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Cranelift, optimising: what every version runs on once it is compiled.
    Optimized,
    /// Winch, wasmtime's single-pass baseline compiler: several times quicker to compile, its
    /// code slower. A hot reload's new version serves from it while Cranelift compiles the
    /// same component off the message path; then the optimised code takes its place.
    Quick,
}

impl Tier {
    /// Human name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Optimized => "optimized",
            Tier::Quick => "quick",
        }
    }
}

impl PluginKind {
    /// Human name.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Filter => "filter",
            PluginKind::Transformer => "transformer",
            PluginKind::Emitter => "emitter",
        }
    }
}

struct EngineInner {
    engine: Engine,
    /// The same configuration compiled by Winch, for [`Tier::Quick`]; `None` where Winch
    /// cannot run (a target it does not support), and hot reloads then compile with Cranelift.
    quick: Option<Engine>,
    /// The main engine's configuration without parallel compilation: it compiles an upgrade
    /// on the low-priority thread that asked for it, and runs nothing.
    background: Engine,
    stop: Arc<AtomicBool>,
    cache_dir: Option<PathBuf>,
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The host's one wasmtime engine. Cheap to clone.
#[derive(Clone)]
pub struct PluginEngine(Arc<EngineInner>);

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("cache_dir", &self.0.cache_dir)
            .finish()
    }
}

impl PluginEngine {
    /// Creates the engine and its epoch ticker. With `cache_dir`, compiled components are
    /// kept there keyed by content hash and engine build, so a restart does not recompile.
    /// Entries are authenticated with a key kept in the folder (see `cache.rs` for the format);
    /// a folder others could write, or a key others could read, is not used.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Self, PluginError> {
        let engine_error = |e: wasmtime::Error| PluginError::Instantiate {
            plugin: "(engine)".into(),
            version: String::new(),
            reason: e.to_string(),
        };
        let engine = Engine::new(&engine_config(Strategy::Cranelift)).map_err(engine_error)?;
        let mut background = engine_config(Strategy::Cranelift);
        background.parallel_compilation(false);
        let background = Engine::new(&background).map_err(engine_error)?;
        let quick = match Engine::new(&engine_config(Strategy::Winch)) {
            Ok(quick) => Some(quick),
            Err(e) => {
                tracing::warn!(
                    "no quick compile tier (Winch): {e:#}; hot reloads compile with Cranelift"
                );
                None
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let ticked: Vec<Engine> = std::iter::once(engine.clone())
            .chain(quick.clone())
            .collect();
        let ticker_stop = stop.clone();
        std::thread::Builder::new()
            .name("weir-epoch".into())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    for engine in &ticked {
                        engine.increment_epoch();
                    }
                }
            })
            .map_err(|e| PluginError::Instantiate {
                plugin: "(engine)".into(),
                version: String::new(),
                reason: format!("cannot start the epoch ticker: {e}"),
            })?;
        Ok(PluginEngine(Arc::new(EngineInner {
            engine,
            quick,
            background,
            stop,
            cache_dir,
        })))
    }

    /// The wasmtime engine (Cranelift, the optimised tier).
    pub fn engine(&self) -> &Engine {
        &self.0.engine
    }

    /// The engine whose code a version of `tier` runs.
    fn engine_for(&self, tier: Tier) -> &Engine {
        match (tier, &self.0.quick) {
            (Tier::Quick, Some(quick)) => quick,
            _ => &self.0.engine,
        }
    }

    /// Whether hot reloads can serve a new version from Winch's code first.
    pub fn has_quick_tier(&self) -> bool {
        self.0.quick.is_some()
    }

    /// Whether the optimised code of the component with SHA-256 `digest` (hex) is in the
    /// compile cache, so loading it takes milliseconds rather than a compile.
    pub fn is_compiled(&self, digest: &str) -> bool {
        let Some(dir) = &self.0.cache_dir else {
            return false;
        };
        CompileCache::open(dir)
            .map(|cache| cache.entry_path(&self.cache_entry_name(digest)).is_file())
            .unwrap_or(false)
    }

    /// Loads a component file for `spec`; see [`PluginEngine::load_bytes`].
    pub fn load_file(
        &self,
        spec: PluginSpec,
        path: &Path,
        tables: Arc<LookupTables>,
    ) -> Result<Arc<LoadedPlugin>, PluginError> {
        let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
            plugin: spec.name.clone(),
            path: path.to_path_buf(),
            source,
        })?;
        self.load_bytes(spec, path, &bytes, tables)
    }

    /// Compiles (or fetches from the cache), checks imports against grants, detects the stage
    /// kind, pre-links, and runs a health check (an instance handling an empty batch). Nothing
    /// is returned unless all of that succeeded.
    pub fn load_bytes(
        &self,
        spec: PluginSpec,
        path: &Path,
        bytes: &[u8],
        tables: Arc<LookupTables>,
    ) -> Result<Arc<LoadedPlugin>, PluginError> {
        let digest = digest_of(bytes);
        let source = Source {
            path,
            bytes,
            digest: &digest,
        };
        self.load(spec, source, tables, Tier::Optimized, None)
    }

    /// As [`PluginEngine::load_bytes`] for a caller that has the SHA-256 `digest` of `bytes`
    /// already (a reload compares it with the serving version's): hashing a Python
    /// component's 18 MB again would be a tenth of a cached swap.
    pub(crate) fn load_digested(
        &self,
        spec: PluginSpec,
        path: &Path,
        bytes: &[u8],
        digest: &str,
        tables: Arc<LookupTables>,
    ) -> Result<Arc<LoadedPlugin>, PluginError> {
        let source = Source {
            path,
            bytes,
            digest,
        };
        self.load(spec, source, tables, Tier::Optimized, None)
    }

    /// As [`PluginEngine::load_bytes`], compiled by Winch ([`Tier::Quick`]) when the engine
    /// has it: a new version serving in a fraction of Cranelift's compile time, for hot
    /// reload, which later exchanges it for the optimised build of the same version. Never
    /// cached.
    pub fn load_quick(
        &self,
        spec: PluginSpec,
        path: &Path,
        bytes: &[u8],
        tables: Arc<LookupTables>,
    ) -> Result<Arc<LoadedPlugin>, PluginError> {
        let tier = if self.has_quick_tier() {
            Tier::Quick
        } else {
            Tier::Optimized
        };
        let digest = digest_of(bytes);
        let source = Source {
            path,
            bytes,
            digest: &digest,
        };
        self.load(spec, source, tables, tier, None)
    }

    /// The optimised build of a quick version loaded from `bytes` with `spec` and `tables`:
    /// the same version, taking over its `counters` once its health check has passed (which
    /// is not counted), so what the quick build counted stays counted under one history entry.
    pub(crate) fn upgrade(
        &self,
        spec: PluginSpec,
        tables: Arc<LookupTables>,
        counters: Arc<PluginCounters>,
        path: &Path,
        bytes: &[u8],
    ) -> Result<Arc<LoadedPlugin>, PluginError> {
        let digest = digest_of(bytes);
        let source = Source {
            path,
            bytes,
            digest: &digest,
        };
        self.load(spec, source, tables, Tier::Optimized, Some(counters))
    }

    fn load(
        &self,
        spec: PluginSpec,
        source: Source<'_>,
        tables: Arc<LookupTables>,
        tier: Tier,
        counters: Option<Arc<PluginCounters>>,
    ) -> Result<Arc<LoadedPlugin>, PluginError> {
        let Source {
            path,
            bytes,
            digest,
        } = source;
        // Only an upgrade carries its quick version's counters, and nobody waits for it.
        let background = counters.is_some();
        let started = Instant::now();
        let version: Arc<str> = Arc::from(digest.get(..12).unwrap_or(digest));
        let (component, from_cache) = match tier {
            Tier::Optimized => self.compile(&spec.name, path, bytes, digest, background)?,
            Tier::Quick => (
                compile_fresh(self.engine_for(tier), &spec.name, path, bytes)?,
                false,
            ),
        };
        let imports = granted_imports(&component, &spec)?;
        let (kind, abi) = stage_kind(&component, &spec.name)?;
        let pre = pre(kind, abi, &component).map_err(|e| PluginError::Instantiate {
            plugin: spec.name.clone(),
            version: version.to_string(),
            reason: format!("{e:#}"),
        })?;
        let plugin = Arc::new(LoadedPlugin {
            spec: Arc::new(spec),
            kind,
            abi,
            tier,
            version,
            pre,
            engine: self.clone(),
            tables,
            imports,
            loaded_at: SystemTime::now(),
            load_time: Duration::ZERO,
            from_cache,
            counters: Arc::default(),
        });
        // Health check: a fresh instance must handle an empty batch.
        let mut instance = match plugin.instantiate() {
            Ok(instance) => instance,
            // The first instance makes each module's memory image: a memfd that wasmtime
            // seals, which the kernel refuses (EBUSY) while it briefly holds a page of it
            // (seen once in a few hundred swaps of a Python plugin). A failed image is not
            // kept, so a second try makes it afresh; a real fault fails the same way twice.
            Err(PluginError::Instantiate { reason, .. }) => {
                tracing::debug!(plugin = %plugin.spec.name, %reason, "instantiating again");
                plugin.instantiate()?
            }
            Err(e) => return Err(e),
        };
        instance.health_check()?;
        drop(instance);
        // The health-check instance is gone, so this is the only reference left.
        let plugin = match Arc::try_unwrap(plugin) {
            Ok(mut p) => {
                p.load_time = started.elapsed();
                if let Some(counters) = counters {
                    p.counters = counters;
                }
                Arc::new(p)
            }
            Err(shared) => shared,
        };
        let load_time = plugin.load_time;
        tracing::info!(
            plugin = %plugin.spec.name,
            version = %plugin.version,
            kind = plugin.kind.as_str(),
            wit = abi.wit_version(),
            tier = tier.as_str(),
            cached = from_cache,
            load_ms = load_time.as_secs_f64() * 1e3,
            "plugin loaded"
        );
        Ok(plugin)
    }

    /// The component for `bytes` and whether it came from the compile cache. The cache is an
    /// optimisation: a cache that cannot be trusted or written is logged and bypassed, never
    /// an error, and never a reason to run code the engine did not compile.
    ///
    /// `background`: compiled on the calling thread alone by the background engine (same
    /// code as the main engine's, no parallel compile), for a compile nobody waits for, so a
    /// low-priority thread's compile never takes the other cores from the message path.
    fn compile(
        &self,
        name: &str,
        path: &Path,
        bytes: &[u8],
        digest: &str,
        background: bool,
    ) -> Result<(Component, bool), PluginError> {
        let cache = self.0.cache_dir.as_ref().and_then(|dir| match CompileCache::open(dir) {
            Ok(cache) => Some(cache),
            Err(e) => {
                tracing::warn!(plugin = name, dir = %dir.display(), "{e}; compiling without the cache");
                None
            }
        });
        let entry = self.cache_entry_name(digest);
        if let Some(component) = cache
            .as_ref()
            .and_then(|cache| self.load_cached(name, cache, &entry))
        {
            return Ok((component, true));
        }
        let compile_error = |e: wasmtime::Error| PluginError::Compile {
            plugin: name.to_string(),
            path: path.to_path_buf(),
            reason: format!("{e:#}"),
        };
        let component = if background {
            let artifact = self
                .0
                .background
                .precompile_component(bytes)
                .map_err(compile_error)?;
            if let Some(cache) = &cache {
                if let Err(e) = cache.store(&entry, &artifact) {
                    tracing::warn!(plugin = name, "{e}");
                }
            }
            // SAFETY: `deserialize` trusts its input to be an artifact of this wasmtime build
            // with a compatible configuration. This one was made just now, in memory, by the
            // background engine, whose configuration is the main engine's but for parallel
            // compilation, which is not part of the compiled code; wasmtime itself refuses an
            // artifact whose settings differ.
            unsafe { Component::deserialize(self.engine(), &artifact) }.map_err(compile_error)?
        } else {
            let component = compile_fresh(self.engine(), name, path, bytes)?;
            if let Some(cache) = &cache {
                store_cached(name, cache, &entry, &component);
            }
            component
        };
        Ok((component, false))
    }

    /// The cache entry of the component with SHA-256 `digest` compiled by this engine build:
    /// `<digest>-<engine hash>.cwasm`, so another wasmtime version or configuration never
    /// finds it.
    fn cache_entry_name(&self, digest: &str) -> String {
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(
            &self.engine().precompile_compatibility_hash(),
            &mut engine_hash,
        );
        format!(
            "{digest}-{:016x}.cwasm",
            std::hash::Hasher::finish(&engine_hash)
        )
    }

    /// The cached component of `entry`, if there is an authentic, usable one. A refused entry
    /// (tampered, foreign, older format) or one wasmtime rejects is deleted, so the caller's
    /// fresh compile rewrites it.
    fn load_cached(&self, plugin: &str, cache: &CompileCache, entry: &str) -> Option<Component> {
        let verified = match cache.load(entry) {
            Ok(Some(verified)) => verified,
            Ok(None) => return None,
            Err(e @ cache::EntryError::Rejected { .. }) => {
                tracing::warn!(plugin, "cached component {e}; deleting it and recompiling");
                discard_entry(plugin, cache, entry);
                return None;
            }
            Err(e) => {
                tracing::warn!(plugin, "cached component unreadable: {e}; recompiling");
                return None;
            }
        };
        // SAFETY: `deserialize_file` trusts the file to hold an artifact this wasmtime build
        // produced. This one does: its bytes passed a BLAKE3 keyed-hash check under the cache
        // key, which only this user can read (`cache.key`, 0600, owned by the current user,
        // in a folder owned by the current user that group and others cannot write; all
        // checked by `CompileCache::open`), and only `compile` above ever computes that MAC,
        // over `Component::serialize` output of an engine whose compatibility hash is part of
        // the authenticated entry name. wasmtime maps the very file that was checked (through
        // the open descriptor, so a file renamed over the entry meanwhile is not it); only a
        // process of this same user could change its bytes in place, and such a process can
        // read the key and forge a tag anyway (see `cache.rs`).
        let mapped = unsafe { Component::deserialize_file(self.engine(), verified.path()) };
        let result = mapped.or_else(|mapping_error| {
            // A folder on a `noexec` mount refuses executable mappings of its files: the
            // checked bytes are copied into memory instead.
            tracing::debug!(plugin, error = %format!("{mapping_error:#}"), "cannot map the cached component; reading it");
            let bytes = verified.read_artifact().map_err(wasmtime::Error::from)?;
            // SAFETY: as above; the bytes are read from the same checked file.
            unsafe { Component::deserialize(self.engine(), &bytes) }
        });
        match result {
            Ok(component) => Some(component),
            Err(e) => {
                let file = cache.entry_path(entry);
                tracing::warn!(plugin, "cached component {} is authentic but unusable: {e:#}; deleting it and recompiling", file.display());
                discard_entry(plugin, cache, entry);
                None
            }
        }
    }
}

/// A component to load: where it came from, its bytes and their digest ([`digest_of`]).
struct Source<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    digest: &'a str,
}

/// A component's identity: the SHA-256 of its bytes, in hex (its version is the first 12).
pub(crate) fn digest_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The component's imports, each of which its grants must allow: a plugin is refused at
/// load time for what it could call, not at the first call.
fn granted_imports(component: &Component, spec: &PluginSpec) -> Result<Vec<String>, PluginError> {
    let imports: Vec<String> = component
        .component_type()
        .imports(component.engine())
        .map(|(name, _)| name.to_string())
        .collect();
    check_imports(imports.iter().map(String::as_str), &spec.grants).map_err(|refusals| {
        PluginError::Refused {
            plugin: spec.name.clone(),
            refusals,
        }
    })?;
    Ok(imports)
}

/// Which stage the component is and which ABI it speaks, by the interface it exports (any
/// 0.1.x version: the packed `*-batch` stages of 0.1.1, else 0.1.0's `*-stage`).
fn stage_kind(component: &Component, plugin: &str) -> Result<(PluginKind, Abi), PluginError> {
    let exports: Vec<String> = component
        .component_type()
        .exports(component.engine())
        .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentInstance(_)))
        .map(|(name, _)| name.to_string())
        .collect();
    let has = |iface: &str| exports.iter().any(|e| e.split('@').next() == Some(iface));
    let stages = [
        ("weir:plugin/filter-batch", PluginKind::Filter, Abi::Packed),
        (
            "weir:plugin/transform-batch",
            PluginKind::Transformer,
            Abi::Packed,
        ),
        ("weir:plugin/emit-batch", PluginKind::Emitter, Abi::Packed),
        (
            "weir:plugin/filter-stage",
            PluginKind::Filter,
            Abi::RecordList,
        ),
        (
            "weir:plugin/transform-stage",
            PluginKind::Transformer,
            Abi::RecordList,
        ),
        (
            "weir:plugin/emit-stage",
            PluginKind::Emitter,
            Abi::RecordList,
        ),
    ];
    if let Some((_, kind, abi)) = stages.iter().find(|(iface, _, _)| has(iface)) {
        Ok((*kind, *abi))
    } else {
        Err(PluginError::NotAStage {
            plugin: plugin.to_owned(),
            exports: if exports.is_empty() {
                "nothing".into()
            } else {
                exports.join(", ")
            },
        })
    }
}

/// The component linked and pre-instantiated for its stage, so each instance after this
/// one is cheap.
fn pre(kind: PluginKind, abi: Abi, component: &Component) -> wasmtime::Result<Pre> {
    let instance_pre = linker(component.engine(), kind)?.instantiate_pre(component)?;
    Ok(match (kind, abi) {
        (PluginKind::Filter, Abi::Packed) => Pre::Filter(filter::FilterPre::new(instance_pre)?),
        (PluginKind::Transformer, Abi::Packed) => {
            Pre::Transformer(transformer::TransformerPre::new(instance_pre)?)
        }
        (PluginKind::Emitter, Abi::Packed) => Pre::Emitter(emitter::EmitterPre::new(instance_pre)?),
        (PluginKind::Filter, Abi::RecordList) => {
            Pre::LegacyFilter(legacy_filter::LegacyFilterPre::new(instance_pre)?)
        }
        (PluginKind::Transformer, Abi::RecordList) => {
            Pre::LegacyTransformer(legacy_transformer::LegacyTransformerPre::new(instance_pre)?)
        }
        (PluginKind::Emitter, Abi::RecordList) => {
            Pre::LegacyEmitter(legacy_emitter::LegacyEmitterPre::new(instance_pre)?)
        }
    })
}

/// Every host interface, linked for `engine`.
fn linker(engine: &Engine, kind: PluginKind) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::<HostState>::new(engine);
    // Everything is linked; what a given plugin may actually import was already decided by
    // `check_imports` against its grants.
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    bindings::types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    bindings::log::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    bindings::config::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    bindings::lookup::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    if kind == PluginKind::Emitter {
        bindings::outbox::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    }
    Ok(linker)
}

/// Compiles `bytes` with `engine`.
fn compile_fresh(
    engine: &Engine,
    name: &str,
    path: &Path,
    bytes: &[u8],
) -> Result<Component, PluginError> {
    Component::new(engine, bytes).map_err(|e| PluginError::Compile {
        plugin: name.to_string(),
        path: path.to_path_buf(),
        reason: format!("{e:#}"),
    })
}

/// One engine's configuration; the two tiers differ only in `strategy`.
fn engine_config(strategy: Strategy) -> Config {
    let mut config = Config::new();
    config.strategy(strategy);
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // Deep recursion traps as a stack overflow long before it could hurt the host thread.
    config.max_wasm_stack(1 << 20);
    // `WEIR_WASM_PERFMAP=1` names the guests' compiled functions for `perf report`
    // (/tmp/perf-PID.map): how the plugin call costs in benches/README.md were taken apart.
    if std::env::var_os("WEIR_WASM_PERFMAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// Writes `component` to the cache as `entry`; failing to is logged, not fatal.
fn store_cached(plugin: &str, cache: &CompileCache, entry: &str, component: &Component) {
    match component.serialize() {
        Ok(artifact) => {
            if let Err(e) = cache.store(entry, &artifact) {
                tracing::warn!(plugin, "{e}");
            }
        }
        Err(e) => tracing::warn!(
            plugin,
            "cannot serialize the component for the compile cache: {e:#}"
        ),
    }
}

/// Deletes a refused cache entry; failing to is logged (the next load refuses it again).
fn discard_entry(plugin: &str, cache: &CompileCache, entry: &str) {
    if let Err(e) = cache.discard(entry) {
        let file = cache.entry_path(entry);
        tracing::warn!(
            plugin,
            "cannot delete the refused cache entry {}: {e}",
            file.display()
        );
    }
}

#[derive(Clone)]
enum Pre {
    Filter(filter::FilterPre<HostState>),
    Transformer(transformer::TransformerPre<HostState>),
    Emitter(emitter::EmitterPre<HostState>),
    LegacyFilter(legacy_filter::LegacyFilterPre<HostState>),
    LegacyTransformer(legacy_transformer::LegacyTransformerPre<HostState>),
    LegacyEmitter(legacy_emitter::LegacyEmitterPre<HostState>),
}

/// A compiled, checked and health-checked plugin version. Immutable.
pub struct LoadedPlugin {
    spec: Arc<PluginSpec>,
    kind: PluginKind,
    abi: Abi,
    tier: Tier,
    version: Arc<str>,
    pre: Pre,
    engine: PluginEngine,
    tables: Arc<LookupTables>,
    imports: Vec<String>,
    loaded_at: SystemTime,
    load_time: Duration,
    from_cache: bool,
    counters: Arc<PluginCounters>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.spec.name)
            .field("kind", &self.kind)
            .field("version", &self.version)
            .finish()
    }
}

impl LoadedPlugin {
    /// Configured name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The stage it implements.
    pub fn kind(&self) -> PluginKind {
        self.kind
    }

    /// How its batches cross the boundary (the WIT revision it was built against).
    pub fn abi(&self) -> Abi {
        self.abi
    }

    /// Which compiler made its code.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// Its version: the first 12 hex digits of the component's SHA-256.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The component's imports, as checked against its grants.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// When it finished loading.
    pub fn loaded_at(&self) -> SystemTime {
        self.loaded_at
    }

    /// How long compiling (or reading the cache), linking and the health check took.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// Whether the compiled code came from the on-disk cache.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// The spec it was loaded with.
    pub fn spec(&self) -> &PluginSpec {
        &self.spec
    }

    /// This version's call counters.
    pub fn counters(&self) -> &Arc<PluginCounters> {
        &self.counters
    }

    /// A fresh instance in its own store.
    pub fn instantiate(self: &Arc<Self>) -> Result<PluginInstance, PluginError> {
        let state = HostState::new(self.spec.clone(), self.version.clone(), self.tables.clone());
        let mut store = Store::new(self.engine.engine_for(self.tier), state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.deadline_ticks());
        let err = |e: wasmtime::Error| PluginError::Instantiate {
            plugin: self.spec.name.clone(),
            version: self.version.to_string(),
            reason: format!("{e:#}"),
        };
        let bound = match &self.pre {
            Pre::Filter(p) => Bound::Filter(p.instantiate(&mut store).map_err(err)?),
            Pre::Transformer(p) => Bound::Transformer(p.instantiate(&mut store).map_err(err)?),
            Pre::Emitter(p) => Bound::Emitter(p.instantiate(&mut store).map_err(err)?),
            Pre::LegacyFilter(p) => Bound::LegacyFilter(p.instantiate(&mut store).map_err(err)?),
            Pre::LegacyTransformer(p) => {
                Bound::LegacyTransformer(p.instantiate(&mut store).map_err(err)?)
            }
            Pre::LegacyEmitter(p) => Bound::LegacyEmitter(p.instantiate(&mut store).map_err(err)?),
        };
        Ok(PluginInstance {
            plugin: self.clone(),
            store,
            bound,
            scratch: weir_abi::PackedBatch::default(),
            poisoned: false,
            call: (Instant::now(), 0),
        })
    }

    fn deadline_ticks(&self) -> u64 {
        let ticks = self.spec.limits.call_timeout.as_nanos() / EPOCH_TICK.as_nanos();
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1) + 1
    }
}

enum Bound {
    Filter(filter::Filter),
    Transformer(transformer::Transformer),
    Emitter(emitter::Emitter),
    LegacyFilter(legacy_filter::LegacyFilter),
    LegacyTransformer(legacy_transformer::LegacyTransformer),
    LegacyEmitter(legacy_emitter::LegacyEmitter),
}

/// What an emitter call produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmitOutcome {
    /// Records that were not delivered, by index, each at most once.
    pub failures: Vec<EmitFailure>,
    /// Side effects requested during the call, in call order, for the caller to perform.
    pub outbox: Vec<OutboxRequest>,
}

/// One live instance of a plugin, reused across batches until it faults.
pub struct PluginInstance {
    plugin: Arc<LoadedPlugin>,
    store: Store<HostState>,
    bound: Bound,
    /// The packed input's buffers, kept between calls so packing a batch allocates nothing
    /// once they have grown to the batches' size.
    scratch: weir_abi::PackedBatch,
    poisoned: bool,
    /// Start and batch size of the call in progress, for the counters.
    call: (Instant, usize),
}

impl PluginInstance {
    /// The plugin version this instance runs.
    pub fn plugin(&self) -> &Arc<LoadedPlugin> {
        &self.plugin
    }

    /// True once a call has faulted: the instance must not be used again.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    fn health_check(&mut self) -> Result<(), PluginError> {
        let result = match self.plugin.kind {
            PluginKind::Filter => self.filter(&[]).map(|r| r.len()),
            PluginKind::Transformer => self.transform(&[]).map(|r| r.len()),
            PluginKind::Emitter => self.emit(&[]).map(|r| r.failures.len()),
        };
        match result {
            Ok(0) => Ok(()),
            Ok(n) => {
                Err(self.instantiate_error(format!("health check: {n} results for an empty batch")))
            }
            Err(e) => Err(self.instantiate_error(format!("health check failed: {e}"))),
        }
    }

    fn instantiate_error(&self, reason: String) -> PluginError {
        PluginError::Instantiate {
            plugin: self.plugin.spec.name.clone(),
            version: self.plugin.version.to_string(),
            reason,
        }
    }

    fn wrong_kind(&self, expected: PluginKind) -> PluginError {
        PluginError::WrongKind {
            plugin: self.plugin.spec.name.clone(),
            expected: expected.as_str(),
            actual: self.plugin.kind.as_str(),
        }
    }

    fn begin(&mut self, batch_len: usize) -> Result<(), PluginError> {
        self.call = (Instant::now(), batch_len);
        if self.poisoned {
            return Err(self.fault(
                FaultKind::Trap,
                "instance was discarded after an earlier fault".into(),
            ));
        }
        self.store.data_mut().begin_call();
        self.store.set_epoch_deadline(self.plugin.deadline_ticks());
        Ok(())
    }

    fn succeeded(&self, out: usize, failed: usize) {
        let (started, records_in) = self.call;
        self.plugin
            .counters
            .call(records_in, out, failed, started.elapsed());
    }

    /// Forwards what the guest printed during a successful call to the host's logs.
    fn forward_stdio(&mut self) {
        let text = self.store.data().stderr.take();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            tracing::info!(plugin = %self.plugin.spec.name, version = %self.plugin.version, stdio = true, "{line}");
        }
    }

    fn fault(&self, kind: FaultKind, detail: String) -> PluginError {
        self.plugin
            .counters
            .fault(kind, self.call.1, self.call.0.elapsed());
        tracing::warn!(plugin = %self.plugin.spec.name, version = %self.plugin.version, kind = kind.as_str(), "{detail}");
        PluginError::Fault {
            plugin: self.plugin.spec.name.clone(),
            version: self.plugin.version.to_string(),
            kind,
            detail,
        }
    }

    /// Turns a failed call into a fault, poisoning the instance.
    fn trap(&mut self, error: wasmtime::Error) -> PluginError {
        self.poisoned = true;
        let stderr = self.store.data().stderr.take();
        let stderr = stderr.trim();
        let trap = error.downcast_ref::<wasmtime::Trap>().copied();
        let kind = if let Some(wanted) = self.store.data().limiter.refused {
            let limit = self.plugin.spec.limits.memory_bytes;
            return self.fault(
                FaultKind::MemoryLimit,
                format!("tried to grow memory to {wanted} bytes; the limit is {limit} bytes"),
            );
        } else {
            match trap {
                Some(wasmtime::Trap::Interrupt) => {
                    let t = self.plugin.spec.limits.call_timeout;
                    return self.fault(
                        FaultKind::Timeout,
                        format!("call exceeded its time limit of {} ms", t.as_millis()),
                    );
                }
                Some(wasmtime::Trap::StackOverflow) => FaultKind::StackOverflow,
                Some(wasmtime::Trap::UnreachableCodeReached) => FaultKind::Panic,
                _ => FaultKind::Trap,
            }
        };
        // The trap's own message ("wasm trap: call stack exhausted") and the innermost guest
        // function, not the whole backtrace, which can be thousands of frames deep.
        let mut what = match trap {
            Some(t) => t.to_string(),
            None => truncate(&error.to_string(), 512),
        };
        let frame = error
            .downcast_ref::<wasmtime::WasmBacktrace>()
            .and_then(|bt| {
                bt.frames()
                    .first()
                    .and_then(|f| f.func_name().map(str::to_string))
            });
        if let Some(func) = frame {
            what.push_str(&format!(" in {func}"));
        }
        // A Rust panic prints "panicked at FILE:LINE:COL:\nMESSAGE" just before trapping.
        let detail = match stderr.rfind("panicked at") {
            Some(at) => format!(
                "{} ({what})",
                truncate(&stderr[at..].replace('\n', " "), 1024)
            ),
            None if !stderr.is_empty() => format!("{what}; stderr: {}", truncate(stderr, 1024)),
            None => what,
        };
        self.fault(kind, detail)
    }

    fn malformed(&mut self, detail: String) -> PluginError {
        self.poisoned = true;
        self.fault(FaultKind::MalformedOutput, detail)
    }

    /// Runs a filter batch: one verdict per record, in order.
    pub fn filter(&mut self, batch: &[Record]) -> Result<Vec<FilterResult>, PluginError> {
        self.begin(batch.len())?;
        let out = match &self.bound {
            Bound::Filter(f) => {
                let packed = pack(&self.plugin, &mut self.scratch, batch)?;
                let out = f
                    .weir_plugin_filter_batch()
                    .call_filter(&mut self.store, &packed);
                packed::reclaim(packed, &mut self.scratch);
                let out = out.map_err(|e| self.trap(e))?;
                packed::filter_results(out, batch.len()).map_err(|e| self.malformed(e))?
            }
            Bound::LegacyFilter(f) => {
                let out = f
                    .weir_plugin_filter_stage()
                    .call_filter(&mut self.store, &record::to_wit(batch));
                let out = out.map_err(|e| self.trap(e))?;
                if out.len() != batch.len() {
                    return Err(self.malformed(format!(
                        "{} verdicts for {} records",
                        out.len(),
                        batch.len()
                    )));
                }
                out.into_iter().map(FilterResult::from).collect()
            }
            _ => return Err(self.wrong_kind(PluginKind::Filter)),
        };
        self.forward_stdio();
        let kept = out
            .iter()
            .filter(|r| matches!(r, FilterResult::Keep))
            .count();
        let failed = out
            .iter()
            .filter(|r| matches!(r, FilterResult::Failed(_)))
            .count();
        self.succeeded(kept, failed);
        Ok(out)
    }

    /// Runs a transformer batch: one result per record, in order.
    pub fn transform(&mut self, batch: &[Record]) -> Result<Vec<TransformResult>, PluginError> {
        self.begin(batch.len())?;
        let max = self.plugin.spec.limits.max_output_records;
        let out: Vec<TransformResult> = match &self.bound {
            Bound::Transformer(t) => {
                let packed = pack(&self.plugin, &mut self.scratch, batch)?;
                let out = t
                    .weir_plugin_transform_batch()
                    .call_transform(&mut self.store, &packed);
                packed::reclaim(packed, &mut self.scratch);
                let out = out.map_err(|e| self.trap(e))?;
                packed::transform_results(out, batch.len(), max).map_err(|e| self.malformed(e))?
            }
            Bound::LegacyTransformer(t) => {
                let out = t
                    .weir_plugin_transform_stage()
                    .call_transform(&mut self.store, &record::to_wit(batch));
                let out = out.map_err(|e| self.trap(e))?;
                out.into_iter().map(TransformResult::from).collect()
            }
            _ => return Err(self.wrong_kind(PluginKind::Transformer)),
        };
        if out.len() != batch.len() {
            return Err(self.malformed(format!(
                "{} results for {} records",
                out.len(),
                batch.len()
            )));
        }
        let produced: usize = out
            .iter()
            .map(|r| match r {
                TransformResult::Records(rs) => rs.len(),
                TransformResult::Failed(_) => 0,
            })
            .sum();
        if produced > max {
            return Err(self.malformed(format!(
                "{produced} output records; the limit is {max} per call"
            )));
        }
        self.forward_stdio();
        let failed = out
            .iter()
            .filter(|r| matches!(r, TransformResult::Failed(_)))
            .count();
        self.succeeded(produced, failed);
        Ok(out)
    }

    /// Runs an emitter batch: the failed records and the requested side effects.
    pub fn emit(&mut self, batch: &[Record]) -> Result<EmitOutcome, PluginError> {
        self.begin(batch.len())?;
        let out = match &self.bound {
            Bound::Emitter(e) => {
                let packed = pack(&self.plugin, &mut self.scratch, batch)?;
                let out = e
                    .weir_plugin_emit_batch()
                    .call_emit(&mut self.store, &packed);
                packed::reclaim(packed, &mut self.scratch);
                out
            }
            Bound::LegacyEmitter(e) => e
                .weir_plugin_emit_stage()
                .call_emit(&mut self.store, &record::to_wit(batch)),
            _ => return Err(self.wrong_kind(PluginKind::Emitter)),
        };
        let failures: Vec<EmitFailure> = out
            .map_err(|e| self.trap(e))?
            .into_iter()
            .map(EmitFailure::from)
            .collect();
        let mut seen = vec![false; batch.len()];
        for f in &failures {
            let slot = usize::try_from(f.index).ok().and_then(|i| seen.get_mut(i));
            match slot {
                Some(s) if !*s => *s = true,
                Some(_) => {
                    return Err(self.malformed(format!("record {} reported failed twice", f.index)))
                }
                None => {
                    return Err(self.malformed(format!(
                        "failure index {} is outside a batch of {}",
                        f.index,
                        batch.len()
                    )))
                }
            }
        }
        self.forward_stdio();
        self.succeeded(batch.len() - failures.len(), failures.len());
        let outbox = std::mem::take(&mut self.store.data_mut().outbox);
        Ok(EmitOutcome { failures, outbox })
    }
}

/// `batch` packed into an instance's buffers. Fails only for a field above the layout's 4 GiB
/// limit, which no record of the host's can reach (the broker and the API refuse far smaller
/// ones); the plugin is not called and the instance stays usable.
fn pack(
    plugin: &LoadedPlugin,
    scratch: &mut weir_abi::PackedBatch,
    batch: &[Record],
) -> Result<bindings::types::PackedBatch, PluginError> {
    packed::pack(batch, scratch).map_err(|source| PluginError::Batch {
        plugin: plugin.spec.name.clone(),
        version: plugin.version.to_string(),
        source,
    })
}

/// At most `max` bytes of `text`, cut at a character boundary, with an ellipsis when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

impl PartialOrd for FaultKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FaultKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}
