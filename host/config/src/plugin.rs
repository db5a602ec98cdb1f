//! `[plugins.NAME]` as plain values: what a plugin may import, its parameters and its limits.
//!
//! These are the configuration's own types. The plugin runtime (`weir-plugins`, the crate that
//! links wasmtime) has its own spec; the host converts one into the other, so this crate stays
//! free of the runtime and a change there does not ripple into the file format.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The linear memory a plugin may grow to unless `memory_bytes` says otherwise.
pub const DEFAULT_MEMORY_BYTES: usize = 64 << 20;
/// How long one batch call may run unless `timeout_ms` says otherwise.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// One entry of `grants`: an interface the plugin may import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grant {
    /// `log`: `weir:plugin/log`.
    Log,
    /// `config`: `weir:plugin/config`.
    Config,
    /// `lookup`: `weir:plugin/lookup`.
    Lookup,
    /// `outbox`: `weir:plugin/outbox` (emitters only).
    Outbox,
    /// `wasi:clocks`: wall and monotonic time.
    WasiClocks,
    /// `wasi:filesystem` (no directories are pre-opened).
    WasiFilesystem,
    /// `wasi:sockets`.
    WasiSockets,
}

impl Grant {
    /// Every grant, in the order error messages list them.
    pub const ALL: [Grant; 7] = [
        Grant::Log,
        Grant::Config,
        Grant::Lookup,
        Grant::Outbox,
        Grant::WasiClocks,
        Grant::WasiFilesystem,
        Grant::WasiSockets,
    ];

    /// The name used in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            Grant::Log => "log",
            Grant::Config => "config",
            Grant::Lookup => "lookup",
            Grant::Outbox => "outbox",
            Grant::WasiClocks => "wasi:clocks",
            Grant::WasiFilesystem => "wasi:filesystem",
            Grant::WasiSockets => "wasi:sockets",
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`Grant::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown grant {0:?}")]
pub struct UnknownGrant(pub String);

impl FromStr for Grant {
    type Err = UnknownGrant;
    fn from_str(s: &str) -> Result<Self, UnknownGrant> {
        Grant::ALL
            .into_iter()
            .find(|g| g.name() == s)
            .ok_or_else(|| UnknownGrant(s.to_owned()))
    }
}

/// Name, grants, parameters, limits, tables and channels of one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpec {
    /// The name rules refer to it by.
    pub name: String,
    /// What it may import.
    pub grants: Vec<Grant>,
    /// Its `config` values (numbers and booleans already turned into strings).
    pub params: BTreeMap<String, String>,
    /// Largest linear memory it may grow to.
    pub memory_bytes: usize,
    /// Longest a single batch call may run.
    pub call_timeout: Duration,
    /// Lookup tables it may read; `None` means all.
    pub tables: Option<Vec<String>>,
    /// Notification channels it may use; `None` means all.
    pub channels: Option<Vec<String>>,
}

/// `[plugins.NAME]`.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// The component file (not checked: plugins are build outputs, the host reports a
    /// missing one when it loads it).
    pub path: PathBuf,
    /// Name, grants, parameters, limits, tables and channels.
    pub spec: PluginSpec,
}
