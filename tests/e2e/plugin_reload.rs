//! Hot reload: a plugin swapped 20 times while 10,000+ records flow through loses none and
//! duplicates none; a broken new version leaves the old one serving; the file watcher picks up a
//! changed file by itself.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_plugins::tables::LookupTables;
use weir_plugins::{
    Grant, PluginEngine, PluginError, PluginRegistry, PluginSlot, PluginSpec, Record,
    ReloadOutcome, Tier, TransformResult,
};
use weir_tests::plugin_path;

/// The same component with a custom section appended: identical behaviour, a new content hash,
/// hence a new version.
fn variant(original: &[u8], n: u32) -> Vec<u8> {
    let name = b"weir-test-variant";
    let data = n.to_le_bytes();
    let mut out = original.to_vec();
    out.push(0); // custom section id
    out.push(u8::try_from(1 + name.len() + data.len()).expect("small section"));
    out.push(u8::try_from(name.len()).expect("short name"));
    out.extend_from_slice(name);
    out.extend_from_slice(&data);
    out
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weir-reload-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir
}

/// Writes via a temporary file and a rename, as deploy tools do.
fn install(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn line(id: usize) -> Record {
    Record {
        payload: format!("Oct 11 22:14:15 host app[1]: id-{id}").into_bytes(),
        partition_key: format!("k{}", id % 7),
        source_topic: "logs".into(),
        client_id: String::new(),
        rule_name: "r".into(),
        arrival_timestamp_ms: 0,
        attributes: Vec::new(),
    }
}

fn ids_of(results: Vec<TransformResult>) -> Vec<usize> {
    results
        .into_iter()
        .flat_map(|r| match r {
            TransformResult::Records(rs) => rs,
            TransformResult::Failed(e) => panic!("record failed: {}", e.message),
        })
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.payload).expect("json");
            let msg = v["message"].as_str().expect("message").to_string();
            msg.trim_start_matches("id-").parse().expect("id")
        })
        .collect()
}

/// The syslog transformer loaded from `path`, on an engine with a compile cache in `dir`.
fn cached_syslog_slot(dir: &Path, path: &Path) -> Arc<PluginSlot> {
    let engine = PluginEngine::new(Some(dir.join("cache"))).expect("engine");
    assert!(engine.has_quick_tier(), "Winch runs on this target");
    PluginSlot::load(
        &engine,
        PluginSpec::new("syslog", &[]),
        path,
        Arc::new(LookupTables::new()),
    )
    .expect("first version")
}

#[test]
fn twenty_swaps_under_load_lose_and_duplicate_nothing() {
    swaps_under_load_lose_and_duplicate_nothing("syslog-to-json", 20);
}

/// The same for the Python build of the blueprint (issue 32): its component carries the
/// interpreter (about 18 MB), so fewer swaps, each a full load of that.
#[test]
fn swaps_of_a_python_plugin_under_load_lose_and_duplicate_nothing() {
    swaps_under_load_lose_and_duplicate_nothing("syslog-to-json-python", 4);
}

/// And of the JavaScript build.
#[test]
fn swaps_of_a_javascript_plugin_under_load_lose_and_duplicate_nothing() {
    swaps_under_load_lose_and_duplicate_nothing("syslog-to-json-js", 4);
}

/// `swaps` swaps of `plugin` (a syslog-to-json build) while two workers keep batches flowing:
/// every record comes out exactly once.
fn swaps_under_load_lose_and_duplicate_nothing(plugin: &str, swaps: u32) {
    let original = std::fs::read(plugin_path(plugin)).expect("component");
    let dir = temp_dir(&format!("swaps-{plugin}"));
    let path = dir.join("syslog.wasm");
    install(&path, &variant(&original, 0));
    let slot = cached_syslog_slot(&dir, &path);

    // Workers keep records flowing until all 20 swaps are done and at least 10,000 records
    // went through; ids come from one counter so every id is handed out exactly once.
    const WORKERS: usize = 2;
    const MIN_RECORDS: usize = 10_000;
    const BATCH: usize = 50;
    let next_id = Arc::new(AtomicUsize::new(0));
    let swapping = Arc::new(AtomicBool::new(true));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (slot, next_id, swapping) = (slot.clone(), next_id.clone(), swapping.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while swapping.load(Ordering::SeqCst)
                    || next_id.load(Ordering::SeqCst) < MIN_RECORDS
                {
                    let first = next_id.fetch_add(BATCH, Ordering::SeqCst);
                    let batch: Vec<Record> = (first..first + BATCH).map(line).collect();
                    // Every batch must succeed: a swap never fails a batch in flight.
                    seen.extend(ids_of(slot.transform(&batch).expect("batch during swaps")));
                }
                seen
            })
        })
        .collect();

    let mut versions = BTreeSet::new();
    versions.insert(slot.current().version().to_string());
    for n in 1..=swaps {
        install(&path, &variant(&original, n));
        match slot.reload().expect("reload") {
            ReloadOutcome::Swapped { to, .. } => {
                assert!(versions.insert(to), "versions are distinct")
            }
            other => panic!("expected a swap, got {other:?}"),
        }
    }
    let handed_out_during_swaps = next_id.load(Ordering::SeqCst);
    swapping.store(false, Ordering::SeqCst);

    let mut all: Vec<usize> = Vec::new();
    for w in workers {
        all.extend(w.join().expect("worker"));
    }
    let total = next_id.load(Ordering::SeqCst);
    assert!(
        total >= MIN_RECORDS && handed_out_during_swaps > 0,
        "{total} records, {handed_out_during_swaps} during swaps"
    );
    assert_eq!(all.len(), total, "nothing lost or duplicated by count");
    let distinct: BTreeSet<usize> = all.iter().copied().collect();
    assert_eq!(distinct.len(), total, "no id twice");
    assert_eq!(distinct, (0..total).collect(), "every id once");

    let versions_seen = swaps as usize + 1;
    assert_eq!(versions.len(), versions_seen);
    assert_eq!(slot.status().swaps, u64::from(swaps));
    let per_version = slot.version_counters();
    assert_eq!(per_version.len(), versions_seen);
    // Health checks count as calls with no records; real records were counted once each.
    let records_in: u64 = per_version.iter().map(|(_, c)| c.records_in).sum();
    assert_eq!(records_in, total as u64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_or_different_new_version_leaves_the_old_one_serving() {
    let dir = temp_dir("broken");
    let path = dir.join("syslog.wasm");
    install(
        &path,
        &std::fs::read(plugin_path("syslog-to-json")).expect("component"),
    );
    let engine = PluginEngine::new(None).expect("engine");
    // `config` is granted so that the wrong-kind replacement below gets past the import check.
    let slot = PluginSlot::load(
        &engine,
        PluginSpec::new("syslog", &[Grant::Config]),
        &path,
        Arc::new(LookupTables::new()),
    )
    .expect("first version");
    let serving = slot.current().version().to_string();

    install(&path, b"\0asm\x0d\0\x01\0 this is not a component");
    let err = slot.reload().expect_err("garbage must not load");
    assert!(matches!(err, PluginError::Compile { .. }), "{err}");
    assert_eq!(slot.current().version(), serving);
    assert!(slot
        .status()
        .last_error
        .expect("error kept")
        .contains("syslog.wasm"));
    assert_eq!(
        ids_of(slot.transform(&[line(7)]).expect("old version serves")),
        vec![7]
    );

    // A valid component of another kind is refused too.
    install(
        &path,
        &std::fs::read(plugin_path("speed-limit")).expect("component"),
    );
    let err = slot
        .reload()
        .expect_err("a filter cannot replace a transformer");
    assert!(matches!(err, PluginError::WrongKind { .. }), "{err}");
    assert_eq!(slot.current().version(), serving);

    // Unchanged content is not a swap.
    install(
        &path,
        &std::fs::read(plugin_path("syslog-to-json")).expect("component"),
    );
    assert!(matches!(
        slot.reload().expect("same bytes"),
        ReloadOutcome::Unchanged { .. }
    ));
    assert_eq!(slot.status().swaps, 0);
    assert!(slot.status().last_error.is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_file_watcher_reloads_a_changed_component() {
    let original = std::fs::read(plugin_path("syslog-to-json")).expect("component");
    let dir = temp_dir("watch");
    let path = dir.join("syslog.wasm");
    install(&path, &original);
    let registry = Arc::new(PluginRegistry::new(
        PluginEngine::new(None).expect("engine"),
        Arc::new(LookupTables::new()),
    ));
    let slot = registry
        .add(PluginSpec::new("syslog", &[]), &path)
        .expect("load");
    let before = slot.current().version().to_string();
    let _watcher = registry.watch().expect("watch");

    install(&path, &variant(&original, 99));
    // Wait for the watcher; the deadline only guards against a hang.
    let deadline = Instant::now() + Duration::from_secs(20);
    while slot.current().version() == before {
        assert!(
            Instant::now() < deadline,
            "the watcher did not reload within 20 s"
        );
        std::thread::yield_now();
    }
    assert_eq!(
        ids_of(slot.transform(&[line(1)]).expect("new version serves")),
        vec![1]
    );
    assert!(slot.status().swaps >= 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_swap_serves_quick_code_until_the_optimised_build_of_the_same_version_replaces_it() {
    let dir = temp_dir("tiers");
    let path = dir.join("syslog.wasm");
    let original = std::fs::read(plugin_path("syslog-to-json")).expect("component");
    install(&path, &original);
    let slot = cached_syslog_slot(&dir, &path);
    assert_eq!(slot.current().tier(), Tier::Optimized, "a first load waits");

    // A version whose optimised code was never compiled serves from Winch's first.
    install(&path, &variant(&original, 1));
    let ReloadOutcome::Swapped { to, tier, .. } = slot.reload().expect("reload") else {
        panic!("expected a swap");
    };
    assert_eq!(tier, Tier::Quick);
    let during: Vec<usize> = (0..20)
        .flat_map(|i| ids_of(slot.transform(&[line(i)]).expect("quick build serves")))
        .collect();
    assert_eq!(during, (0..20).collect::<Vec<_>>());

    // Then its optimised build takes over: the same version, history and counters.
    let deadline = Instant::now() + Duration::from_secs(60);
    while slot.status().upgrades == 0 {
        assert!(Instant::now() < deadline, "no optimised build within 60 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    let current = slot.current();
    assert_eq!(
        (current.version(), current.tier()),
        (to.as_str(), Tier::Optimized)
    );
    assert_eq!(
        ids_of(slot.transform(&[line(20)]).expect("optimised build serves")),
        vec![20]
    );
    let status = slot.status();
    assert_eq!((status.swaps, status.upgrades), (1, 1));
    let versions = slot.version_counters();
    assert_eq!(
        versions.len(),
        2,
        "an upgrade is not a new version: {versions:?}"
    );
    assert_eq!(versions[1].0, to);
    assert_eq!(
        versions[1].1.records_in, 21,
        "quick and optimised calls count as one version's"
    );

    // Back to a version whose optimised code is in the compile cache: no quick step.
    install(&path, &original);
    let ReloadOutcome::Swapped { tier, .. } = slot.reload().expect("reload") else {
        panic!("expected a swap");
    };
    assert_eq!(tier, Tier::Optimized);
    let _ = std::fs::remove_dir_all(&dir);
}
