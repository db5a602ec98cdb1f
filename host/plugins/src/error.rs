//! What can go wrong loading or running a plugin.

use std::fmt;
use std::path::PathBuf;

use super::grants::ImportRefusal;

/// How a plugin call failed. Every kind fails only the batch in flight; the instance that
/// failed is discarded and the next batch gets a fresh one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// The call ran past its time limit (a runaway loop).
    Timeout,
    /// The guest tried to grow its memory past its limit (a memory bomb).
    MemoryLimit,
    /// The guest overflowed its stack (runaway recursion).
    StackOverflow,
    /// The guest panicked (Rust) or reached `unreachable`.
    Panic,
    /// Any other trap: out-of-bounds access, bad call, division by zero...
    Trap,
    /// The call returned, but its result breaks the contract (wrong length, bad index, too
    /// much output).
    MalformedOutput,
}

impl FaultKind {
    /// Every kind, for exhaustive reporting.
    pub const ALL: [FaultKind; 6] = [
        FaultKind::Timeout,
        FaultKind::MemoryLimit,
        FaultKind::StackOverflow,
        FaultKind::Panic,
        FaultKind::Trap,
        FaultKind::MalformedOutput,
    ];

    /// A stable name for metrics labels and error payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Timeout => "timeout",
            FaultKind::MemoryLimit => "memory-limit",
            FaultKind::StackOverflow => "stack-overflow",
            FaultKind::Panic => "panic",
            FaultKind::Trap => "trap",
            FaultKind::MalformedOutput => "malformed-output",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plugin could not be loaded, or a call into it failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The component file cannot be read.
    #[error("plugin {plugin}: cannot read {}: {source}", path.display())]
    Read {
        /// Plugin name.
        plugin: String,
        /// Component path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The bytes are not a valid component for this engine.
    #[error("plugin {plugin}: {} is not a loadable WebAssembly component: {reason}", path.display())]
    Compile {
        /// Plugin name.
        plugin: String,
        /// Component path.
        path: PathBuf,
        /// The compiler's message.
        reason: String,
    },
    /// The component imports something its configuration does not grant.
    #[error("plugin {plugin}: {}", join(refusals))]
    Refused {
        /// Plugin name.
        plugin: String,
        /// Every refused import.
        refusals: Vec<ImportRefusal>,
    },
    /// The component exports none of the stage interfaces.
    #[error("plugin {plugin}: exports none of weir:plugin/filter-batch, transform-batch or emit-batch (nor 0.1.0's filter-stage, transform-stage or emit-stage; it exports: {exports})")]
    NotAStage {
        /// Plugin name.
        plugin: String,
        /// What it does export.
        exports: String,
    },
    /// The plugin is of another kind than the caller needs.
    #[error("plugin {plugin} is a {actual}, used where a {expected} is needed")]
    WrongKind {
        /// Plugin name.
        plugin: String,
        /// What the pipeline needs.
        expected: &'static str,
        /// What the plugin is.
        actual: &'static str,
    },
    /// Linking or instantiation failed (including the health check after loading).
    #[error("plugin {plugin} {version}: cannot instantiate: {reason}")]
    Instantiate {
        /// Plugin name.
        plugin: String,
        /// Content hash.
        version: String,
        /// Why.
        reason: String,
    },
    /// A batch the packed layout cannot carry (a field or attribute count above 4 GiB); the
    /// plugin was not called and its instance stays usable.
    #[error("plugin {plugin} {version}: cannot pass the batch: {source}")]
    Batch {
        /// Plugin name.
        plugin: String,
        /// Content hash.
        version: String,
        /// What the layout refused.
        source: weir_abi::LayoutError,
    },
    /// A call failed; the batch's records go to the error action with this reason.
    #[error("plugin {plugin} {version}: {kind}: {detail}")]
    Fault {
        /// Plugin name.
        plugin: String,
        /// Content hash.
        version: String,
        /// What kind of failure.
        kind: FaultKind,
        /// The trap message, with the guest's last stderr output when it had any.
        detail: String,
    },
}

fn join(refusals: &[ImportRefusal]) -> String {
    refusals
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl PluginError {
    /// The fault kind, for a failed call.
    pub fn fault_kind(&self) -> Option<FaultKind> {
        match self {
            PluginError::Fault { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}
