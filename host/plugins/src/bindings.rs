//! Host bindings generated from `wit/` — the only place the plugin ABI enters the host.
//!
//! The three worlds share their imported interfaces (`types`, `log`, `config`, `lookup`): the
//! transformer and emitter bindings reuse the filter world's modules through `with`, so one set of
//! host trait implementations serves every plugin kind.

#![allow(missing_docs, clippy::all)]

pub mod filter {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "weir:plugin/filter",
        additional_derives: [PartialEq, Eq],
    });
}

pub mod transformer {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "weir:plugin/transformer",
        with: {
            "weir:plugin/types": super::filter::weir::plugin::types,
            "weir:plugin/log": super::filter::weir::plugin::log,
            "weir:plugin/config": super::filter::weir::plugin::config,
            "weir:plugin/lookup": super::filter::weir::plugin::lookup,
        },
    });
}

pub mod emitter {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "weir:plugin/emitter",
        with: {
            "weir:plugin/types": super::filter::weir::plugin::types,
            "weir:plugin/log": super::filter::weir::plugin::log,
            "weir:plugin/config": super::filter::weir::plugin::config,
            "weir:plugin/lookup": super::filter::weir::plugin::lookup,
        },
    });
}

pub use emitter::weir::plugin::outbox;
pub use filter::weir::plugin::{config, log, lookup, types};
