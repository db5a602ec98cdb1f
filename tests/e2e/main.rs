//! End-to-end tests, one binary with a module per area.

mod plugin_agreement;
mod plugin_faults;
mod plugin_grants;
mod plugin_reload;
mod plugin_wit_versions;
