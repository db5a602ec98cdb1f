//! Run a built component on sample input: the engine behind `weir plugin test`.
//!
//! The SDK's native harness tests a plugin's Rust logic; this runs the *artifact*, in the same
//! runtime and sandbox the host uses, so an author sees exactly what the host will do with each
//! record: kept, dropped, transformed into what, delivered, or failed and why.

use std::path::Path;
use std::sync::Arc;

use super::{
    EmitFailure, FilterResult, LoadedPlugin, OutboxRequest, PluginEngine, PluginError, PluginKind,
    PluginSpec, Record, RecordError, TransformResult,
};
use crate::tables::LookupTables;

/// What happened to one input record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A filter kept it.
    Kept,
    /// A filter dropped it.
    Dropped,
    /// A transformer turned it into these records.
    Transformed(Vec<Record>),
    /// An emitter delivered it.
    Delivered,
    /// The plugin reported it as failed.
    Failed {
        /// The plugin's reason.
        error: RecordError,
        /// For emitters: whether the host would retry it.
        retryable: bool,
    },
    /// Its whole batch failed (trap, timeout, memory limit...).
    BatchFault(String),
}

/// The result of a harness run.
#[derive(Debug)]
pub struct Report {
    /// The loaded plugin (name, version, kind, imports, load time).
    pub plugin: Arc<LoadedPlugin>,
    /// One outcome per input record, in input order.
    pub outcomes: Vec<Outcome>,
    /// Every outbox request an emitter made, in order.
    pub outbox: Vec<OutboxRequest>,
}

/// Loads `path` with `spec`'s grants, parameters and limits (`weir plugin test` gives every
/// grant unless told otherwise: it is the author's own plugin under test), and runs
/// `records` through it in batches of `batch_size`.
pub fn run(
    engine: &PluginEngine,
    spec: PluginSpec,
    path: &Path,
    tables: Arc<LookupTables>,
    records: &[Record],
    batch_size: usize,
) -> Result<Report, PluginError> {
    let plugin = engine.load_file(spec, path, tables)?;
    let mut instance = plugin.instantiate()?;
    let mut outcomes = Vec::with_capacity(records.len());
    let mut outbox = Vec::new();
    for batch in records.chunks(batch_size.max(1)) {
        if instance.is_poisoned() {
            instance = plugin.instantiate()?;
        }
        let result: Result<Vec<Outcome>, PluginError> = match plugin.kind() {
            PluginKind::Filter => instance.filter(batch).map(|rs| {
                rs.into_iter()
                    .map(|r| match r {
                        FilterResult::Keep => Outcome::Kept,
                        FilterResult::Drop => Outcome::Dropped,
                        FilterResult::Failed(error) => Outcome::Failed {
                            error,
                            retryable: false,
                        },
                    })
                    .collect()
            }),
            PluginKind::Transformer => instance.transform(batch).map(|rs| {
                rs.into_iter()
                    .map(|r| match r {
                        TransformResult::Records(out) => Outcome::Transformed(out),
                        TransformResult::Failed(error) => Outcome::Failed {
                            error,
                            retryable: false,
                        },
                    })
                    .collect()
            }),
            PluginKind::Emitter => instance.emit(batch).map(|out| {
                outbox.extend(out.outbox);
                let mut per_record = vec![Outcome::Delivered; batch.len()];
                for EmitFailure {
                    index,
                    error,
                    retryable,
                } in out.failures
                {
                    if let Some(slot) = per_record.get_mut(index as usize) {
                        *slot = Outcome::Failed { error, retryable };
                    }
                }
                per_record
            }),
        };
        match result {
            Ok(o) => outcomes.extend(o),
            Err(e) => outcomes.extend(batch.iter().map(|_| Outcome::BatchFault(e.to_string()))),
        }
    }
    Ok(Report {
        plugin,
        outcomes,
        outbox,
    })
}
