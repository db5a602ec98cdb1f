//! Weir: an IoT rules engine and WebAssembly plugin host.
//!
//! See `ARCHITECTURE.md` at the repository root for the map of modules and how a message flows
//! through them.

pub mod api;
pub mod config;
pub mod delivery;
pub mod plugins;
pub mod rules;
pub mod runtime;
pub mod streams;
pub mod tables;
