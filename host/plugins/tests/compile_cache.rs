//! The compile cache only ever loads code this user's engine compiled: a tampered or foreign
//! entry is refused, deleted and rewritten, a folder others can write is not used at all, the
//! key is private, and a good entry is still a cache hit.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use weir_plugins::tables::LookupTables;
use weir_plugins::{LoadedPlugin, PluginEngine, PluginSpec, Record, TransformResult};
use weir_testkit::plugin_path;

fn load(cache: &Path, plugin: &str) -> Arc<LoadedPlugin> {
    let engine = PluginEngine::new(Some(cache.to_path_buf())).expect("engine");
    engine
        .load_file(
            PluginSpec::new(plugin, &[]),
            &plugin_path(plugin),
            Arc::new(LookupTables::new()),
        )
        .expect("the plugin loads, cache or not")
}

/// The plugin still does its job: one syslog line in, one JSON record out.
fn assert_works(plugin: &Arc<LoadedPlugin>) {
    let record = Record {
        payload: b"Oct 11 22:14:15 host app[1]: hello".to_vec(),
        partition_key: "k".into(),
        source_topic: "logs".into(),
        client_id: String::new(),
        rule_name: "r".into(),
        arrival_timestamp_ms: 0,
        attributes: Vec::new(),
    };
    let mut instance = plugin.instantiate().expect("instance");
    let out = instance.transform(&[record]).expect("transform");
    assert!(
        matches!(out.as_slice(), [TransformResult::Records(rs)] if rs.len() == 1),
        "{out:?}"
    );
}

/// The cache entry of `plugin`'s component: the one named after its SHA-256.
fn entry_of(cache: &Path, plugin: &str) -> PathBuf {
    let bytes = std::fs::read(plugin_path(plugin)).expect("component");
    let digest = hex::encode(Sha256::digest(&bytes));
    let found: Vec<PathBuf> = std::fs::read_dir(cache)
        .expect("cache folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&digest) && n.ends_with(".cwasm"))
        })
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().expect("one entry")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_good_cache_entry_is_used_on_the_next_load() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("plugin-cache");
    assert!(!load(&cache, "syslog-to-json").from_cache());
    let again = load(&cache, "syslog-to-json");
    assert!(again.from_cache());
    assert_works(&again);
    // Served by mapping the checked file (no copy of the artifact into memory): the entry is
    // one of this process's mappings while the plugin is loaded.
    let entry = entry_of(&cache, "syslog-to-json");
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    assert!(
        maps.lines()
            .any(|l| l.ends_with(entry.to_str().expect("utf-8 path"))),
        "{} is not mapped",
        entry.display()
    );
}

#[test]
fn the_cache_folder_is_created_0700_and_its_key_0600() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("plugin-cache");
    load(&cache, "syslog-to-json");
    assert_eq!(mode(&cache), 0o700);
    let key = cache.join("cache.key");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(std::fs::metadata(&key).expect("key").len(), 32);
}

#[test]
fn a_tampered_cache_entry_is_refused_deleted_and_rewritten() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("plugin-cache");
    load(&cache, "syslog-to-json");
    let entry = entry_of(&cache, "syslog-to-json");
    let mut bytes = std::fs::read(&entry).expect("entry");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&entry, &bytes).expect("tamper");

    let recompiled = load(&cache, "syslog-to-json");
    assert!(!recompiled.from_cache(), "a tampered entry must not load");
    assert_works(&recompiled);
    assert_ne!(
        std::fs::read(&entry).expect("rewritten"),
        bytes,
        "the tampered entry was replaced"
    );
    assert!(
        load(&cache, "syslog-to-json").from_cache(),
        "the rewrite is good"
    );
}

#[test]
fn a_valid_artifact_without_this_entrys_mac_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("plugin-cache");
    load(&cache, "syslog-to-json");
    load(&cache, "apache-log-to-json");
    let syslog = entry_of(&cache, "syslog-to-json");
    let apache = entry_of(&cache, "apache-log-to-json");

    // Another component's authentic entry: its MAC covers its own name, not this one.
    std::fs::copy(&apache, &syslog).expect("swap entries");
    let loaded = load(&cache, "syslog-to-json");
    assert!(!loaded.from_cache(), "another entry passed off as this one");
    assert_works(&loaded);

    // A bare artifact wasmtime would accept (older format, or planted): no MAC at all.
    let engine = PluginEngine::new(None).expect("engine");
    let component = std::fs::read(plugin_path("syslog-to-json")).expect("component");
    let bare = engine
        .engine()
        .precompile_component(&component)
        .expect("precompile");
    std::fs::write(&syslog, &bare).expect("plant");
    let loaded = load(&cache, "syslog-to-json");
    assert!(!loaded.from_cache(), "an unauthenticated artifact");
    assert_works(&loaded);
    assert!(load(&cache, "syslog-to-json").from_cache());
}

#[test]
fn a_cache_folder_writable_by_others_is_not_used() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("plugin-cache");
    std::fs::create_dir(&cache).expect("folder");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    for _ in 0..2 {
        let loaded = load(&cache, "syslog-to-json");
        assert!(!loaded.from_cache());
        assert_works(&loaded);
    }
    let written = std::fs::read_dir(&cache).expect("folder").count();
    assert_eq!(written, 0, "nothing written to an untrusted folder");
}

#[test]
fn a_key_readable_by_others_disables_the_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("plugin-cache");
    load(&cache, "syslog-to-json");
    let key = cache.join("cache.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let loaded = load(&cache, "syslog-to-json");
    assert!(!loaded.from_cache(), "an exposed key authenticates nothing");
    assert_works(&loaded);
}
