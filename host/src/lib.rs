//! Weir: an IoT rules engine and WebAssembly plugin host.
//!
//! See `ARCHITECTURE.md` at the repository root for the map of modules and how a message flows
//! through them.

pub mod runtime;
