//! The three plugin kinds and the batch drivers that run them.
//!
//! The drivers here are the *only* code between a batch arriving and the plugin's per-record
//! methods, and they are shared by the WebAssembly export glue and the native test harness. What
//! a plugin's `cargo test` exercises is therefore exactly what runs inside the host.

use crate::error::{InitError, RecordError};
use crate::host::{Host, Outbox};
use crate::record::Record;

/// Keeps or drops records (the connector library's `IFilter`).
pub trait Filter: Sized + 'static {
    /// Builds the plugin instance before its first batch; read configuration here.
    fn new(host: &impl Host) -> Result<Self, InitError>;

    /// `Ok(true)` keeps the record, `Ok(false)` drops it, `Err` fails it (it goes to the
    /// rule's error action).
    fn keep(&mut self, record: &Record, host: &impl Host) -> Result<bool, RecordError>;
}

/// Turns a record into zero, one or many records (`ITransformer` / `ICollectionTransformer`).
pub trait Transformer: Sized + 'static {
    /// Builds the plugin instance before its first batch; read configuration here.
    fn new(host: &impl Host) -> Result<Self, InitError>;

    /// The records made from `record` (empty consumes it), or why it cannot be transformed.
    fn transform(&mut self, record: Record, host: &impl Host) -> Result<Vec<Record>, RecordError>;
}

/// Delivers buffered records (`IEmitter`).
pub trait Emitter: Sized + 'static {
    /// Builds the plugin instance before its first batch; read configuration here.
    fn new(host: &impl Host) -> Result<Self, InitError>;

    /// Delivers one record of a batch. An `Err` marks just this record as failed.
    fn emit(&mut self, record: &Record, host: &impl Outbox) -> Result<(), EmitError>;
}

/// Why an emitter could not deliver one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitError {
    /// What went wrong.
    pub error: RecordError,
    /// Whether the host should try again later before giving up on the record.
    pub retryable: bool,
}

impl EmitError {
    /// A failure that will not go away by retrying (bad record): straight to the error action.
    pub fn permanent(error: RecordError) -> Self {
        EmitError {
            error,
            retryable: false,
        }
    }

    /// A failure that may succeed later (a refused or unavailable destination).
    pub fn retryable(error: RecordError) -> Self {
        EmitError {
            error,
            retryable: true,
        }
    }
}

impl From<RecordError> for EmitError {
    fn from(error: RecordError) -> Self {
        EmitError::permanent(error)
    }
}

/// A filter's verdict on one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterResult {
    /// Pass it on.
    Keep,
    /// Drop it (not an error).
    Drop,
    /// It could not be judged.
    Failed(RecordError),
}

/// What a transformer made of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformResult {
    /// The output records.
    Records(Vec<Record>),
    /// It could not be transformed.
    Failed(RecordError),
}

/// One record of an emitted batch that was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitFailure {
    /// Position in the batch.
    pub index: u32,
    /// What went wrong.
    pub error: RecordError,
    /// Whether a retry may succeed.
    pub retryable: bool,
}

/// Holds a plugin instance between batches, built lazily on the first batch.
///
/// A failed `new` is not cached: the batch fails with the init error and the next batch tries
/// again, so a plugin whose lookup table or config becomes available later recovers by itself.
#[derive(Debug)]
pub struct StageCell<T>(Option<T>);

impl<T> Default for StageCell<T> {
    fn default() -> Self {
        StageCell(None)
    }
}

impl<T> StageCell<T> {
    fn get_or_init(
        &mut self,
        init: impl FnOnce() -> Result<T, InitError>,
    ) -> Result<&mut T, InitError> {
        if self.0.is_none() {
            self.0 = Some(init()?);
        }
        // Just filled above when it was empty.
        self.0
            .as_mut()
            .ok_or_else(|| InitError("plugin instance vanished".into()))
    }
}

/// A batch as the drivers walk it: a slice of records natively; in a component, the packed
/// batch the host sent, each record written in turn into one reused [`Record`], so reading a
/// batch allocates nothing per record once that record's buffers have grown.
pub trait Records {
    /// Records in the batch.
    fn len(&self) -> usize;

    /// True when the batch holds no record.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with each record, in order.
    fn for_each(&mut self, f: &mut dyn FnMut(&Record));

    /// The records, owned (what a transformer consumes).
    fn into_records(self) -> Vec<Record>;
}

impl Records for &[Record] {
    fn len(&self) -> usize {
        <[Record]>::len(self)
    }

    fn for_each(&mut self, f: &mut dyn FnMut(&Record)) {
        self.iter().for_each(f)
    }

    fn into_records(self) -> Vec<Record> {
        self.to_vec()
    }
}

impl Records for Vec<Record> {
    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn for_each(&mut self, f: &mut dyn FnMut(&Record)) {
        self.iter().for_each(f)
    }

    fn into_records(self) -> Vec<Record> {
        self
    }
}

/// Runs a filter over a batch: one result per input record, in order.
pub fn filter_batch<T: Filter, H: Host>(
    cell: &mut StageCell<T>,
    mut batch: impl Records,
    host: &H,
) -> Vec<FilterResult> {
    let plugin = match cell.get_or_init(|| T::new(host)) {
        Ok(p) => p,
        Err(e) => return fail_all(batch.len(), e, FilterResult::Failed),
    };
    let mut out = Vec::with_capacity(batch.len());
    batch.for_each(&mut |record| {
        out.push(match plugin.keep(record, host) {
            Ok(true) => FilterResult::Keep,
            Ok(false) => FilterResult::Drop,
            Err(e) => FilterResult::Failed(e),
        })
    });
    out
}

/// Runs a transformer over a batch: one result per input record, in order.
pub fn transform_batch<T: Transformer, H: Host>(
    cell: &mut StageCell<T>,
    batch: impl Records,
    host: &H,
) -> Vec<TransformResult> {
    let plugin = match cell.get_or_init(|| T::new(host)) {
        Ok(p) => p,
        Err(e) => return fail_all(batch.len(), e, TransformResult::Failed),
    };
    batch
        .into_records()
        .into_iter()
        .map(|record| match plugin.transform(record, host) {
            Ok(records) => TransformResult::Records(records),
            Err(e) => TransformResult::Failed(e),
        })
        .collect()
}

/// Runs an emitter over a batch: the failed records only.
pub fn emit_batch<T: Emitter, H: Outbox>(
    cell: &mut StageCell<T>,
    mut batch: impl Records,
    host: &H,
) -> Vec<EmitFailure> {
    let plugin = match cell.get_or_init(|| T::new(host)) {
        Ok(p) => p,
        Err(e) => {
            let error = RecordError::from(e);
            return (0..batch.len())
                .map(|i| EmitFailure {
                    index: index_u32(i),
                    error: error.clone(),
                    retryable: true,
                })
                .collect();
        }
    };
    let mut failures = Vec::new();
    let mut i = 0usize;
    batch.for_each(&mut |record| {
        if let Err(e) = plugin.emit(record, host) {
            failures.push(EmitFailure {
                index: index_u32(i),
                error: e.error,
                retryable: e.retryable,
            });
        }
        i += 1;
    });
    failures
}

fn fail_all<R>(n: usize, e: InitError, wrap: impl Fn(RecordError) -> R) -> Vec<R> {
    let error = RecordError::from(e);
    (0..n).map(|_| wrap(error.clone())).collect()
}

/// Batches are limited by the host far below `u32::MAX` records.
pub(crate) fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}
