//! Host bindings generated from `wit/` — the only place the plugin ABI enters the host.
//!
//! The six worlds share their imported interfaces (`types`, `log`, `config`, `lookup`,
//! `outbox`): every world but `filter` reuses the filter world's modules (and the emitter's
//! `outbox`) through `with`, so one set of host trait implementations serves every plugin kind
//! and both ABIs: the packed stages of WIT 0.1.1 (`filter`, `transformer`, `emitter`) and
//! 0.1.0's record-list stages (`legacy-*`), which plugins built before 0.1.1 export.

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

pub mod legacy_filter {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "weir:plugin/legacy-filter",
        with: {
            "weir:plugin/types": super::filter::weir::plugin::types,
            "weir:plugin/log": super::filter::weir::plugin::log,
            "weir:plugin/config": super::filter::weir::plugin::config,
            "weir:plugin/lookup": super::filter::weir::plugin::lookup,
        },
    });
}

pub mod legacy_transformer {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "weir:plugin/legacy-transformer",
        with: {
            "weir:plugin/types": super::filter::weir::plugin::types,
            "weir:plugin/log": super::filter::weir::plugin::log,
            "weir:plugin/config": super::filter::weir::plugin::config,
            "weir:plugin/lookup": super::filter::weir::plugin::lookup,
        },
    });
}

pub mod legacy_emitter {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "weir:plugin/legacy-emitter",
        with: {
            "weir:plugin/types": super::filter::weir::plugin::types,
            "weir:plugin/log": super::filter::weir::plugin::log,
            "weir:plugin/config": super::filter::weir::plugin::config,
            "weir:plugin/lookup": super::filter::weir::plugin::lookup,
            "weir:plugin/outbox": super::emitter::weir::plugin::outbox,
        },
    });
}

pub use emitter::weir::plugin::outbox;
pub use filter::weir::plugin::{config, log, lookup, types};
