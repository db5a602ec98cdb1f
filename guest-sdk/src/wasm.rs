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

            pub(crate) fn record_in(r: types::Record) -> $crate::record::Record {
                $crate::record::Record {
                    payload: r.payload,
                    partition_key: r.partition_key,
                    source_topic: r.source_topic,
                    client_id: r.client_id,
                    rule_name: r.rule_name,
                    arrival_timestamp_ms: r.arrival_timestamp_ms,
                    attributes: r.attributes,
                }
            }

            #[allow(dead_code)]
            pub(crate) fn record_out(r: $crate::record::Record) -> types::Record {
                types::Record {
                    payload: r.payload,
                    partition_key: r.partition_key,
                    source_topic: r.source_topic,
                    client_id: r.client_id,
                    rule_name: r.rule_name,
                    arrival_timestamp_ms: r.arrival_timestamp_ms,
                    attributes: r.attributes,
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
    "weir:plugin/filter@0.1.0",
    "__weir_export_filter_world"
);
world!(
    transformer,
    "weir:plugin/transformer@0.1.0",
    "__weir_export_transformer_world"
);
world!(
    emitter,
    "weir:plugin/emitter@0.1.0",
    "__weir_export_emitter_world"
);

/// Entry point behind `export_filter!`.
pub fn run_filter<T: crate::Filter>(
    batch: Vec<filter::weir::plugin::types::Record>,
) -> Vec<filter::weir::plugin::types::FilterResult> {
    use crate::stage::{filter_batch, FilterResult, StageCell};
    use filter::weir::plugin::types::FilterResult as Out;
    let batch: Vec<Record> = batch.into_iter().map(filter::record_in).collect();
    with_cell(|cell: &mut StageCell<T>| filter_batch(cell, &batch, &filter::WasmHost))
        .into_iter()
        .map(|r| match r {
            FilterResult::Keep => Out::Keep,
            FilterResult::Drop => Out::Drop,
            FilterResult::Failed(e) => Out::Failed(filter::error_out(e)),
        })
        .collect()
}

/// Entry point behind `export_transformer!`.
pub fn run_transformer<T: crate::Transformer>(
    batch: Vec<transformer::weir::plugin::types::Record>,
) -> Vec<transformer::weir::plugin::types::TransformResult> {
    use crate::stage::{transform_batch, StageCell, TransformResult};
    use transformer::weir::plugin::types::TransformResult as Out;
    let batch: Vec<Record> = batch.into_iter().map(transformer::record_in).collect();
    with_cell(|cell: &mut StageCell<T>| transform_batch(cell, batch, &transformer::WasmHost))
        .into_iter()
        .map(|r| match r {
            TransformResult::Records(rs) => {
                Out::Records(rs.into_iter().map(transformer::record_out).collect())
            }
            TransformResult::Failed(e) => Out::Failed(transformer::error_out(e)),
        })
        .collect()
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
    batch: Vec<emitter::weir::plugin::types::Record>,
) -> Vec<emitter::weir::plugin::types::EmitFailure> {
    use crate::stage::{emit_batch, StageCell};
    let batch: Vec<Record> = batch.into_iter().map(emitter::record_in).collect();
    with_cell(|cell: &mut StageCell<T>| emit_batch(cell, &batch, &emitter::WasmHost))
        .into_iter()
        .map(|f| emitter::weir::plugin::types::EmitFailure {
            index: f.index,
            error: emitter::error_out(f.error),
            retryable: f.retryable,
        })
        .collect()
}

/// Exports a [`Filter`](crate::Filter) type as this component's `filter-stage`.
///
/// Expands to nothing on native targets, so several plugins can be
/// linked into one native test binary.
#[macro_export]
macro_rules! export_filter {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WeirFilterExport;
            impl $crate::__private::filter::exports::weir::plugin::filter_stage::Guest
                for WeirFilterExport
            {
                fn filter(
                    batch: ::std::vec::Vec<$crate::__private::filter::weir::plugin::types::Record>,
                ) -> ::std::vec::Vec<$crate::__private::filter::weir::plugin::types::FilterResult>
                {
                    $crate::__private::run_filter::<$plugin>(batch)
                }
            }
    $crate::__export_filter_impl!(WeirFilterExport with_types_in $crate::__private::filter);
        };
    };
}

/// Exports a [`Transformer`](crate::Transformer) type as this component's `transform-stage`.
///
/// Expands to nothing on native targets.
#[macro_export]
macro_rules! export_transformer {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WeirTransformerExport;
            impl $crate::__private::transformer::exports::weir::plugin::transform_stage::Guest
                for WeirTransformerExport
            {
                fn transform(
                    batch: ::std::vec::Vec<$crate::__private::transformer::weir::plugin::types::Record>,
                ) -> ::std::vec::Vec<
                    $crate::__private::transformer::weir::plugin::types::TransformResult,
                > {
                    $crate::__private::run_transformer::<$plugin>(batch)
                }
            }
            $crate::__export_transformer_impl!(WeirTransformerExport with_types_in $crate::__private::transformer);
        };
    };
}

/// Exports an [`Emitter`](crate::Emitter) type as this component's `emit-stage`.
///
/// Expands to nothing on native targets.
#[macro_export]
macro_rules! export_emitter {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WeirEmitterExport;
            impl $crate::__private::emitter::exports::weir::plugin::emit_stage::Guest
                for WeirEmitterExport
            {
                fn emit(
                    batch: ::std::vec::Vec<$crate::__private::emitter::weir::plugin::types::Record>,
                ) -> ::std::vec::Vec<$crate::__private::emitter::weir::plugin::types::EmitFailure>
                {
                    $crate::__private::run_emitter::<$plugin>(batch)
                }
            }
            $crate::__export_emitter_impl!(WeirEmitterExport with_types_in $crate::__private::emitter);
        };
    };
}
