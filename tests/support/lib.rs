//! Shared helpers for the end-to-end tests: where things are, and the seed data as the device
//! sends it.

pub use weir_testkit::{data_dir, plugin_dir, plugin_path, repo_root, seed_payloads};
