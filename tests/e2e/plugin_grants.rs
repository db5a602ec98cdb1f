//! Components import only what their code uses, and the host refuses a component that imports
//! more than its configuration grants, naming the import.

use std::sync::Arc;

use weir_plugins::tables::LookupTables;
use weir_plugins::{Grant, PluginEngine, PluginError, PluginKind, PluginSpec};
use weir_tests::plugin_path;

fn load(name: &str, grants: &[Grant]) -> Result<Arc<weir_plugins::LoadedPlugin>, PluginError> {
    let engine = PluginEngine::new(None).expect("engine");
    engine.load_file(
        PluginSpec::new(name, grants),
        &plugin_path(name),
        Arc::new(LookupTables::new()),
    )
}

#[test]
fn components_import_only_what_they_use() {
    let filter = load("speed-limit", &[Grant::Config]).expect("speed-limit loads with config only");
    assert_eq!(filter.kind(), PluginKind::Filter);
    let weir_imports: Vec<&String> = filter
        .imports()
        .iter()
        .filter(|i| i.starts_with("weir:"))
        .collect();
    assert!(
        weir_imports
            .iter()
            .all(|i| !i.contains("lookup") && !i.contains("outbox")),
        "{weir_imports:?}"
    );

    let plain =
        load("syslog-to-json", &[]).expect("a plugin that uses no host import needs no grant");
    assert_eq!(plain.kind(), PluginKind::Transformer);
    assert!(
        plain
            .imports()
            .iter()
            .all(|i| !i.starts_with("weir:plugin/config")),
        "{:?}",
        plain.imports()
    );
    assert_eq!(plain.version().len(), 12);
}

#[test]
fn an_ungranted_import_is_refused_by_name() {
    let err = load("owner-enrich", &[Grant::Config]).expect_err("lookup is not granted");
    let text = err.to_string();
    assert!(matches!(err, PluginError::Refused { .. }), "{text}");
    assert!(
        text.contains("owner-enrich")
            && text.contains("`weir:plugin/lookup@0.1.1`")
            && text.contains("\"lookup\""),
        "{text}"
    );

    let err = load("sms-alert", &[Grant::Config, Grant::Log]).expect_err("outbox is not granted");
    assert!(err.to_string().contains("weir:plugin/outbox"), "{err}");
}

#[test]
fn a_file_that_is_not_a_component_is_refused_with_its_path() {
    let dir = std::env::temp_dir().join(format!("weir-grants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let bogus = dir.join("bogus.wasm");
    std::fs::write(&bogus, b"\0asm\x01\0\0\0garbage").expect("write");
    let engine = PluginEngine::new(None).expect("engine");
    let err = engine
        .load_file(
            PluginSpec::new("bogus", &[]),
            &bogus,
            Arc::new(LookupTables::new()),
        )
        .expect_err("not a component");
    assert!(matches!(err, PluginError::Compile { .. }), "{err}");
    assert!(err.to_string().contains("bogus.wasm"), "{err}");
    let missing = engine
        .load_file(
            PluginSpec::new("gone", &[]),
            &dir.join("nope.wasm"),
            Arc::new(LookupTables::new()),
        )
        .expect_err("missing file");
    assert!(matches!(missing, PluginError::Read { .. }), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);
}
