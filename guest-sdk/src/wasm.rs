//! The WebAssembly side: generated WIT bindings, the host imports behind [`Host`], and the glue
//! that the `export_*!` macros plug a plugin type into.
//!
//! Bindings for all three worlds are generated here with public export macros: wit-bindgen then
//! embeds a world's *exports* only where its export macro is invoked, and `wit-component` drops
//! imports nobody calls, so a plugin's component imports just what its code uses. Everything
//! here also compiles natively (imports become stubs that are never called), which keeps
//! `cargo test --workspace` and clippy simple.

use std::any::Any;
use std::cell::RefCell;

#[allow(unused_imports)]
use crate::host::{Host, Level, Outbox, Row};
#[allow(unused_imports)]
use crate::record::Record;
#[allow(unused_imports)]
use crate::stage::index_u32;

thread_local! {
    /// The plugin instance of this component (one plugin per component), built on first use.
    static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `f` with this component's stage cell for plugin type `C`.
#[allow(dead_code)]
fn with_cell<C: Default + 'static, R>(f: impl FnOnce(&mut C) -> R) -> R {
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        let fresh = !matches!(state.as_ref(), Some(b) if b.is::<C>());
        if fresh {
            *state = Some(Box::new(C::default()));
        }
        match state.as_mut().and_then(|b| b.downcast_mut::<C>()) {
            Some(cell) => f(cell),
            // Unreachable: the slot was just filled with a `C`.
            None => f(&mut C::default()),
        }
    })
}

/// Generates bindings for one world plus a `WasmHost` implementing [`Host`] over its imports.
macro_rules! world {
    ($module:ident, $world:literal, $macro_name:literal) => {
        #[allow(missing_docs, clippy::all, unsafe_op_in_unsafe_fn)]
        #[doc(hidden)]
        pub mod $module {
            wit_bindgen::generate!({
                path: "../wit",
                world: $world,
                pub_export_macro: true,
                export_macro_name: $macro_name,
                runtime_path: "weir_sdk::__private::wit_bindgen::rt",
            });

            use self::weir::plugin::{config, log, lookup, types};

            /// The real host, reached through this world's imports.
            pub struct WasmHost;

            impl $crate::host::Host for WasmHost {
                fn log(&self, level: $crate::host::Level, message: &str) {
                    use $crate::host::Level as L;
                    let level = match level {
                        L::Trace => log::Level::Trace,
                        L::Debug => log::Level::Debug,
                        L::Info => log::Level::Info,
                        L::Warn => log::Level::Warn,
                        L::Error => log::Level::Error,
                    };
                    log::log(level, message);
                }
                fn config(&self, key: &str) -> Option<String> {
                    config::get(key)
                }
                fn config_keys(&self) -> Vec<String> {
                    config::keys()
                }
                fn lookup(&self, table: &str, key: &str) -> Result<Option<$crate::host::Row>, String> {
                    lookup::lookup(table, key).map(|row| row.map($crate::host::Row))
                }
            }

            /// The host's packed batch as `weir-abi`'s type (the vectors move, nothing is copied).
            pub(crate) fn batch_in(b: types::PackedBatch) -> weir_abi::PackedBatch {
                weir_abi::PackedBatch {
                    data: b.data,
                    lengths: b.lengths,
                    attribute_lengths: b.attribute_lengths,
                    arrival_timestamps_ms: b.arrival_timestamps_ms,
                }
            }

            #[allow(dead_code)]
            pub(crate) fn batch_out(b: weir_abi::PackedBatch) -> types::PackedBatch {
                types::PackedBatch {
                    data: b.data,
                    lengths: b.lengths,
                    attribute_lengths: b.attribute_lengths,
                    arrival_timestamps_ms: b.arrival_timestamps_ms,
                }
            }

            #[allow(dead_code)]
            pub(crate) fn failure_out(index: usize, e: $crate::error::RecordError) -> types::RecordFailure {
                types::RecordFailure {
                    index: $crate::stage::index_u32(index),
                    error: error_out(e),
                }
            }

            pub(crate) fn error_out(e: $crate::error::RecordError) -> types::RecordError {
                types::RecordError {
                    code: e.code,
                    message: e.message,
                }
            }
        }
    };
}

world!(
    filter,
    "weir:plugin/filter@0.1.1",
    "__weir_export_filter_world"
);
world!(
    transformer,
    "weir:plugin/transformer@0.1.1",
    "__weir_export_transformer_world"
);
world!(
    emitter,
    "weir:plugin/emitter@0.1.1",
    "__weir_export_emitter_world"
);

thread_local! {
    /// The record each packed batch's records are written into in turn, kept across batches
    /// so its buffers grow once.
    static SCRATCH: RefCell<Record> = RefCell::new(Record::default());
}

/// A packed batch from the host as the stage drivers walk it.
struct Packed<'a>(weir_abi::Views<'a>);

/// Writes `view` into `record`, reusing its buffers.
fn fill(record: &mut Record, view: weir_abi::RecordView<'_>) {
    record.payload.clear();
    record.payload.extend_from_slice(view.payload);
    for (to, from) in [
        (&mut record.partition_key, view.partition_key),
        (&mut record.source_topic, view.source_topic),
        (&mut record.client_id, view.client_id),
        (&mut record.rule_name, view.rule_name),
    ] {
        to.clear();
        to.push_str(from);
    }
    record.arrival_timestamp_ms = view.arrival_timestamp_ms;
    record.attributes.clear();
    record.attributes.extend(
        view.attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
}

impl crate::stage::Records for Packed<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn for_each(&mut self, f: &mut dyn FnMut(&Record)) {
        SCRATCH.with(|scratch| {
            // A plugin's `keep` or `emit` cannot reach SCRATCH, so the borrow is never taken
            // twice; should it be, a fresh record serves instead of a panic.
            let mut fresh = Record::default();
            let mut held = scratch.try_borrow_mut();
            let record = match held.as_deref_mut() {
                Ok(r) => r,
                Err(_) => &mut fresh,
            };
            for view in self.0.iter() {
                fill(record, view);
                f(record);
            }
        })
    }

    fn into_records(self) -> Vec<Record> {
        self.0
            .iter()
            .map(|view| {
                let mut r = Record::default();
                fill(&mut r, view);
                r
            })
            .collect()
    }
}

/// The error every record of a batch gets when the batch itself does not add up (a host
/// bug: the host checks what it packs).
fn bad_batch(e: &weir_abi::LayoutError) -> crate::RecordError {
    crate::RecordError::new("bad-batch", format!("the host sent a malformed batch: {e}"))
}

/// Entry point behind `export_filter!`.
pub fn run_filter<T: crate::Filter>(
    batch: filter::weir::plugin::types::PackedBatch,
) -> filter::weir::plugin::types::FilterOutput {
    use crate::stage::{filter_batch, FilterResult, StageCell};
    use weir_abi::verdict;
    let batch = filter::batch_in(batch);
    let results = match batch.views() {
        Ok(views) => with_cell(|cell: &mut StageCell<T>| {
            filter_batch(cell, Packed(views), &filter::WasmHost)
        }),
        Err(e) => vec![FilterResult::Failed(bad_batch(&e)); batch.len()],
    };
    let mut verdicts = Vec::with_capacity(results.len());
    let mut failures = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        verdicts.push(match r {
            FilterResult::Keep => verdict::KEEP,
            FilterResult::Drop => verdict::DROP,
            FilterResult::Failed(e) => {
                failures.push(filter::failure_out(i, e));
                verdict::FAILED
            }
        });
    }
    filter::weir::plugin::types::FilterOutput { verdicts, failures }
}

/// Entry point behind `export_transformer!`.
pub fn run_transformer<T: crate::Transformer>(
    batch: transformer::weir::plugin::types::PackedBatch,
) -> transformer::weir::plugin::types::TransformOutput {
    use crate::stage::{transform_batch, StageCell, TransformResult};
    let batch = transformer::batch_in(batch);
    let results = match batch.views() {
        Ok(views) => with_cell(|cell: &mut StageCell<T>| {
            transform_batch(cell, Packed(views), &transformer::WasmHost)
        }),
        Err(e) => vec![TransformResult::Failed(bad_batch(&e)); batch.len()],
    };
    // The input's buffers become the output's: the records out are usually about as large.
    let mut out = batch;
    out.clear();
    let mut counts = Vec::with_capacity(results.len());
    let mut failures = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        let records = match r {
            TransformResult::Records(records) => records,
            TransformResult::Failed(e) => {
                counts.push(0);
                failures.push(transformer::failure_out(i, e));
                continue;
            }
        };
        let mark = out.mark();
        let pushed = records.iter().try_for_each(|r| out.push(fields(r)));
        match pushed {
            Ok(()) => counts.push(index_u32(records.len())),
            Err(e) => {
                out.truncate(mark);
                counts.push(0);
                let e = crate::RecordError::new("too-large", e.to_string());
                failures.push(transformer::failure_out(i, e));
            }
        }
    }
    transformer::weir::plugin::types::TransformOutput {
        records: transformer::batch_out(out),
        counts,
        failures,
    }
}

/// `record`'s fields for the packed layout.
fn fields(r: &Record) -> weir_abi::Fields<'_, String> {
    weir_abi::Fields {
        payload: &r.payload,
        partition_key: &r.partition_key,
        source_topic: &r.source_topic,
        client_id: &r.client_id,
        rule_name: &r.rule_name,
        arrival_timestamp_ms: r.arrival_timestamp_ms,
        attributes: &r.attributes,
    }
}

impl Outbox for emitter::WasmHost {
    fn publish(&self, topic: &str, payload: &[u8], qos: u8) -> Result<(), String> {
        emitter::weir::plugin::outbox::publish(topic, payload, qos)
    }
    fn put_record(&self, stream: &str, partition_key: &str, data: &[u8]) -> Result<(), String> {
        emitter::weir::plugin::outbox::put_record(stream, partition_key, data)
    }
    fn notify(&self, channel: &str, target: &str, message: &str) -> Result<(), String> {
        emitter::weir::plugin::outbox::notify(channel, target, message)
    }
}

/// Entry point behind `export_emitter!`.
pub fn run_emitter<T: crate::Emitter>(
    batch: emitter::weir::plugin::types::PackedBatch,
) -> Vec<emitter::weir::plugin::types::EmitFailure> {
    use crate::stage::{emit_batch, EmitFailure, StageCell};
    let batch = emitter::batch_in(batch);
    let failures = match batch.views() {
        Ok(views) => {
            with_cell(|cell: &mut StageCell<T>| emit_batch(cell, Packed(views), &emitter::WasmHost))
        }
        Err(e) => (0..batch.len())
            .map(|i| EmitFailure {
                index: index_u32(i),
                error: bad_batch(&e),
                retryable: false,
            })
            .collect(),
    };
    failures
        .into_iter()
        .map(|f| emitter::weir::plugin::types::EmitFailure {
            index: f.index,
            error: emitter::error_out(f.error),
            retryable: f.retryable,
        })
        .collect()
}

/// Exports a [`Filter`](crate::Filter) type as this component's `filter-batch`.
///
/// Expands to nothing on native targets, so several plugins can be
/// linked into one native test binary.
#[macro_export]
macro_rules! export_filter {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WeirFilterExport;
            impl $crate::__private::filter::exports::weir::plugin::filter_batch::Guest
                for WeirFilterExport
            {
                fn filter(
                    batch: $crate::__private::filter::weir::plugin::types::PackedBatch,
                ) -> $crate::__private::filter::weir::plugin::types::FilterOutput {
                    $crate::__private::run_filter::<$plugin>(batch)
                }
            }
    $crate::__export_filter_impl!(WeirFilterExport with_types_in $crate::__private::filter);
        };
    };
}

/// Exports a [`Transformer`](crate::Transformer) type as this component's `transform-batch`.
///
/// Expands to nothing on native targets.
#[macro_export]
macro_rules! export_transformer {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WeirTransformerExport;
            impl $crate::__private::transformer::exports::weir::plugin::transform_batch::Guest
                for WeirTransformerExport
            {
                fn transform(
                    batch: $crate::__private::transformer::weir::plugin::types::PackedBatch,
                ) -> $crate::__private::transformer::weir::plugin::types::TransformOutput {
                    $crate::__private::run_transformer::<$plugin>(batch)
                }
            }
            $crate::__export_transformer_impl!(WeirTransformerExport with_types_in $crate::__private::transformer);
        };
    };
}

/// Exports an [`Emitter`](crate::Emitter) type as this component's `emit-batch`.
///
/// Expands to nothing on native targets.
#[macro_export]
macro_rules! export_emitter {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WeirEmitterExport;
            impl $crate::__private::emitter::exports::weir::plugin::emit_batch::Guest
                for WeirEmitterExport
            {
                fn emit(
                    batch: $crate::__private::emitter::weir::plugin::types::PackedBatch,
                ) -> ::std::vec::Vec<$crate::__private::emitter::weir::plugin::types::EmitFailure>
                {
                    $crate::__private::run_emitter::<$plugin>(batch)
                }
            }
            $crate::__export_emitter_impl!(WeirEmitterExport with_types_in $crate::__private::emitter);
        };
    };
}
