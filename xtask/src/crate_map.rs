//! The architecture's crate map, checked against what Cargo actually resolves.
//!
//! ARCHITECTURE.md says which Weir crate may depend on which, and which heavy or IO-bound
//! crates stay out of the pure ones. This reads `cargo metadata` and fails on any edge the map
//! does not allow, so a new `use` that crosses a boundary cannot land quietly: the compiler
//! stops the code, and this stops the Cargo.toml line that would let it compile.
//! `cargo xtask deps` prints the check; a unit test runs it under `cargo test`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Each library crate of the host and the workspace crates it may depend on (normal
/// dependencies; dev-dependencies are free, they never ship).
pub const ALLOWED: &[(&str, &[&str])] = &[
    ("weir-rules", &[]),
    ("weir-sigv4", &[]),
    ("weir-support", &[]),
    ("weir-firehose-model", &["weir-support"]),
    ("weir-streams", &["weir-support"]),
    ("weir-plugins", &["weir-abi", "weir-support"]),
    (
        "weir-api",
        &[
            "weir-streams",
            "weir-firehose",
            "weir-firehose-model",
            "weir-sigv4",
            "weir-shadow",
            "weir-analytics",
            "weir-support",
        ],
    ),
    (
        "weir-firehose",
        &[
            "weir-firehose-model",
            "weir-streams",
            "weir-rules",
            "weir-aws-client",
            "weir-support",
        ],
    ),
    // The AWS client: SigV4 signing, the egress policy, Kinesis's record types.
    (
        "weir-aws-client",
        &["weir-sigv4", "weir-streams", "weir-support"],
    ),
    ("weir-table", &["weir-support"]),
    // The Device Shadow service: documents and their store; the broker and the REST API call it.
    ("weir-shadow", &["weir-support"]),
    // Kinesis Data Analytics SQL: the engine is pure; the host feeds it streams and time.
    ("weir-analytics", &[]),
    (
        "weir-config",
        &[
            "weir-rules",
            "weir-streams",
            "weir-firehose-model",
            "weir-support",
        ],
    ),
    (
        "weir-host",
        &[
            "weir-rules",
            "weir-streams",
            "weir-api",
            "weir-table",
            "weir-firehose",
            "weir-aws-client",
            "weir-config",
            "weir-plugins",
            "weir-shadow",
            "weir-analytics",
            "weir-cluster",
            "weir-support",
        ],
    ),
    // Streams and state on a NATS JetStream cluster: the stores behind weir-streams' traits.
    ("weir-cluster", &["weir-streams", "weir-support"]),
    ("weir-device", &[]),
    ("weir-sdk", &["weir-abi"]),
    ("weir-abi", &[]),
];

/// Crates that must not appear anywhere in a crate's normal dependency tree.
pub const FORBIDDEN: &[(&str, &[&str])] = &[
    // Firehose's rules as data: shared by the config, the API and the service, so it reaches
    // nothing that does IO.
    (
        "weir-firehose-model",
        &[
            "wasmtime",
            "tokio",
            "rumqttd",
            "rumqttc",
            "axum",
            "hyper",
            "ureq",
            "reqwest",
            "object_store",
        ],
    ),
    (
        "weir-rules",
        &[
            "wasmtime", "tokio", "rumqttd", "rumqttc", "axum", "hyper", "ureq",
        ],
    ),
    (
        "weir-sigv4",
        &[
            "wasmtime", "tokio", "rumqttd", "rumqttc", "axum", "hyper", "ureq",
        ],
    ),
    (
        "weir-support",
        &[
            "wasmtime", "tokio", "rumqttd", "rumqttc", "axum", "hyper", "ureq",
        ],
    ),
    (
        "weir-streams",
        &["wasmtime", "rumqttd", "rumqttc", "axum", "hyper", "ureq"],
    ),
    (
        "weir-config",
        &["wasmtime", "rumqttd", "rumqttc", "axum", "hyper", "ureq"],
    ),
    // Through weir-firehose the API reaches reqwest (object_store's HTTP client, and
    // weir-aws-client's): Firehose writes to S3 from the API's process.
    ("weir-api", &["wasmtime", "rumqttd", "rumqttc", "ureq"]),
    (
        "weir-firehose",
        &["wasmtime", "rumqttd", "rumqttc", "axum", "ureq"],
    ),
    // One HTTP stack: reqwest and the hyper under it; rustls with ring (aws-lc-rs needs cmake).
    (
        "weir-aws-client",
        &[
            "wasmtime",
            "rumqttd",
            "rumqttc",
            "axum",
            "ureq",
            "aws-lc-rs",
            "aws-lc-sys",
        ],
    ),
    // Shadow documents and their files: no protocol, no network, no async runtime.
    (
        "weir-shadow",
        &[
            "wasmtime", "tokio", "rumqttd", "rumqttc", "axum", "hyper", "reqwest", "ureq",
        ],
    ),
    // KDA SQL applications: a pure engine the host feeds (no IO, no async runtime).
    (
        "weir-analytics",
        &[
            "wasmtime", "tokio", "rumqttd", "rumqttc", "axum", "hyper", "reqwest", "ureq",
        ],
    ),
    // The NATS client with rustls on ring (aws-lc-rs needs cmake); no HTTP server, MQTT or
    // plugins in the storage layer.
    (
        "weir-cluster",
        &[
            "wasmtime",
            "rumqttd",
            "rumqttc",
            "axum",
            "ureq",
            "aws-lc-rs",
            "aws-lc-sys",
        ],
    ),
    // Storage on this machine: no network, no async runtime.
    (
        "weir-table",
        &[
            "wasmtime", "rumqttd", "rumqttc", "axum", "hyper", "reqwest", "ureq", "tokio",
        ],
    ),
];

/// Crates whose every dependency outside the workspace is listed here (normal dependencies):
/// `weir-support` is the standard library plus `crc32c` (the framed log's checksum), so any
/// crate may depend on it without pulling anything else in.
pub const EXTERNAL_ONLY: &[(&str, &[&str])] = &[
    ("weir-support", &["crc32c"]),
    // The packed layout is linked into every plugin: it stays small.
    ("weir-abi", &["thiserror"]),
];

/// The only workspace crate that may name wasmtime as a direct dependency.
pub const WASMTIME_OWNER: &str = "weir-plugins";

/// `cargo metadata` for the workspace at `root`.
pub fn metadata(root: &Path) -> Result<Value> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root)
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("cargo metadata printed no JSON")
}

/// The package ids of the workspace's members in `cargo metadata`'s output `meta`.
pub fn workspace_members(meta: &Value) -> BTreeSet<&str> {
    meta["workspace_members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Every way `meta` breaks the map, one line each; empty when it holds.
pub fn violations(meta: &Value) -> Vec<String> {
    let empty = Vec::new();
    let packages = meta["packages"].as_array().unwrap_or(&empty);
    let members = workspace_members(meta);
    let name_of: BTreeMap<&str, &str> = packages
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let mut problems = Vec::new();

    // Direct edges, from the manifests.
    for p in packages
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(id)))
    {
        let name = p["name"].as_str().unwrap_or_default();
        let normal: Vec<&str> = p["dependencies"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .collect();
        if name != WASMTIME_OWNER && normal.iter().any(|d| d.starts_with("wasmtime")) {
            problems.push(format!(
                "{name} depends on wasmtime directly; only {WASMTIME_OWNER} may"
            ));
        }
        if let Some((_, only)) = EXTERNAL_ONLY.iter().find(|(n, _)| *n == name) {
            for d in normal
                .iter()
                .filter(|d| !d.starts_with("weir-") && !only.contains(d))
            {
                problems.push(format!(
                    "{name} depends on {d}; outside the workspace it may use only {}",
                    only.join(", ")
                ));
            }
        }
        if let Some((_, allowed)) = ALLOWED.iter().find(|(n, _)| *n == name) {
            for d in normal.iter().filter(|d| d.starts_with("weir-")) {
                if !allowed.contains(d) {
                    problems.push(format!(
                        "{name} depends on {d}, which the crate map does not allow"
                    ));
                }
            }
        }
    }

    // Transitive normal dependencies, from the resolved graph.
    let nodes: BTreeMap<&str, Vec<&str>> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter_map(|n| {
            let deps = n["deps"]
                .as_array()?
                .iter()
                .filter(|d| {
                    d["dep_kinds"].as_array().is_some_and(|ks| {
                        ks.iter()
                            .any(|k| k["kind"].is_null() || k["kind"] == "build")
                    })
                })
                .filter_map(|d| d["pkg"].as_str())
                .collect();
            Some((n["id"].as_str()?, deps))
        })
        .collect();
    for (krate, forbidden) in FORBIDDEN {
        let Some(start) = name_of
            .iter()
            .find(|(id, n)| *n == krate && members.contains(*id))
            .map(|(id, _)| *id)
        else {
            problems.push(format!("{krate} is not a workspace member"));
            continue;
        };
        // Depth-first, remembering a parent per node so a violation shows its path.
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut stack = vec![start];
        let mut seen = BTreeSet::from([start]);
        while let Some(id) = stack.pop() {
            for dep in nodes.get(id).into_iter().flatten() {
                if seen.insert(dep) {
                    parent.insert(dep, id);
                    stack.push(dep);
                }
            }
        }
        for id in seen.iter().filter(|id| **id != start) {
            let name = name_of.get(id).copied().unwrap_or(id);
            if forbidden.contains(&name) {
                let mut path = vec![name];
                let mut at = *id;
                while let Some(p) = parent.get(at) {
                    path.push(name_of.get(p).copied().unwrap_or(p));
                    at = p;
                }
                path.reverse();
                problems.push(format!(
                    "{krate} must not reach {name}: {}",
                    path.join(" -> ")
                ));
            }
        }
    }
    problems
}

/// `cargo xtask deps`.
pub fn check(root: &Path) -> Result<()> {
    let problems = violations(&metadata(root)?);
    if !problems.is_empty() {
        bail!(
            "the crate map in ARCHITECTURE.md is broken:\n  {}",
            problems.join("\n  ")
        );
    }
    println!(
        "crate map holds: {} crates checked for workspace edges, {} for forbidden dependencies",
        ALLOWED.len(),
        FORBIDDEN.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_workspace_follows_the_crate_map() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let problems = violations(&metadata(&root).expect("cargo metadata"));
        assert!(problems.is_empty(), "{problems:#?}");
    }

    /// The check itself can fail: a made-up graph with a forbidden path and a bad edge.
    #[test]
    fn a_forbidden_edge_is_reported_with_its_path() {
        let dep = |pkg: &str| json!({"pkg": pkg, "dep_kinds": [{"kind": null}]});
        let meta = json!({
            "workspace_members": ["r", "c", "s", "sig", "api", "del", "p", "sup"],
            "packages": [
                {"id": "r", "name": "weir-rules", "dependencies": [{"name": "weir-config", "kind": null}]},
                {"id": "c", "name": "weir-config", "dependencies": [{"name": "wasmtime", "kind": null}]},
                {"id": "s", "name": "weir-streams", "dependencies": []},
                {"id": "sig", "name": "weir-sigv4", "dependencies": []},
                {"id": "api", "name": "weir-api", "dependencies": []},
                {"id": "del", "name": "weir-table", "dependencies": []},
                {"id": "p", "name": "weir-plugins", "dependencies": [{"name": "wasmtime", "kind": null}]},
                {"id": "sup", "name": "weir-support", "dependencies": [{"name": "crc32c", "kind": null}, {"name": "serde", "kind": null}]},
                {"id": "w", "name": "wasmtime", "dependencies": []},
                {"id": "t", "name": "tokio", "dependencies": []}
            ],
            "resolve": {"nodes": [
                {"id": "r", "deps": [dep("c")]},
                {"id": "c", "deps": [dep("w")]},
                {"id": "w", "deps": [dep("t")]},
                {"id": "s", "deps": []}, {"id": "sig", "deps": []}, {"id": "api", "deps": []},
                {"id": "del", "deps": []}, {"id": "p", "deps": [dep("w")]}, {"id": "t", "deps": []}
            ]}
        });
        let problems = violations(&meta);
        let has = |s: &str| problems.iter().any(|p| p.contains(s));
        assert!(has("weir-rules depends on weir-config"), "{problems:#?}");
        assert!(
            has("weir-config depends on wasmtime directly"),
            "{problems:#?}"
        );
        assert!(
            has("weir-rules must not reach tokio: weir-rules -> weir-config -> wasmtime -> tokio"),
            "{problems:#?}"
        );
        assert!(!has("weir-plugins depends on wasmtime"), "{problems:#?}");
        assert!(has("weir-support depends on serde"), "{problems:#?}");
        assert!(!has("depends on crc32c"), "{problems:#?}");
    }
}
