//! Shared helpers for the end-to-end tests: where things are, and the seed data as the device
//! sends it.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// The seed data folder shipped in the repository.
pub fn data_dir() -> PathBuf {
    repo_root().join("examples/speeding/data")
}

/// Where `cargo xtask plugins` put the components (`WEIR_PLUGIN_DIR` overrides).
pub fn plugin_dir() -> PathBuf {
    std::env::var_os("WEIR_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/plugins"))
}

/// The path of a built plugin component. Panics with the command to run when it is missing, so
/// a test never passes by skipping its plugin.
pub fn plugin_path(name: &str) -> PathBuf {
    let path = plugin_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask plugins` (or `cargo xtask test`) first",
        path.display()
    );
    path
}

/// Every row of the seed's `speeding_data.csv` as the device's JSON payload (all values
/// strings, `iottimestamp` first), with a fixed timestamp so runs compare.
pub fn seed_payloads() -> Vec<serde_json::Value> {
    let path = data_dir().join("speeding_data.csv");
    let mut reader = csv::Reader::from_path(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let headers = reader.headers().expect("speeding_data.csv header").clone();
    reader
        .records()
        .map(|row| {
            let row = row.expect("speeding_data.csv row");
            let mut m = serde_json::Map::new();
            m.insert("iottimestamp".into(), "2026-11-24 06:00:12.123456".into());
            for (h, v) in headers.iter().zip(row.iter()) {
                m.insert(h.to_string(), v.into());
            }
            serde_json::Value::Object(m)
        })
        .collect()
}
