//! End-to-end tests, one binary with a module per area.

mod plugin_agreement;
mod plugin_grants;
