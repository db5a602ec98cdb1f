#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

// Lets generated bindings name this crate as `weir_sdk` from inside it and from plugin crates.
extern crate self as weir_sdk;

mod error;
mod host;
pub mod json;
mod record;
pub mod stage;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
mod wasm;

pub use error::{InitError, RecordError};
pub use host::{ConfigExt, Host, Level, Outbox, Row};
pub use record::Record;
pub use serde_json;
pub use stage::{
    EmitError, EmitFailure, Emitter, Filter, FilterResult, TransformResult, Transformer,
};

/// Version of the `weir:plugin` WIT package this SDK implements.
pub const WIT_VERSION: &str = "0.1.1";

/// Used by the `export_*!` macros; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::wasm::*;
    pub use wit_bindgen;
}
