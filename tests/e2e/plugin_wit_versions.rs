//! Plugins built against WIT 0.1.0 (the record-list stages) still load and give the same
//! results as the same plugins built against 0.1.1 (the packed stages). The 0.1.0 components
//! under `tests/fixtures/wit-0.1.0/` were built by `cargo xtask plugins` at the last commit
//! before 0.1.1 (6c2f48d) and are kept as they were: rebuilding them would need that SDK.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use weir_plugins::tables::LookupTables;
use weir_plugins::{self as host, Abi, Grant, PluginSlot, PluginSpec};
use weir_tests::plugin_path;

use crate::plugin_agreement::{driver_tables, engine, speeding_inputs, to_host};

fn legacy_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/wit-0.1.0")
        .join(format!("{name}.wasm"))
}

/// The plugin `name` loaded from the current build and from its 0.1.0 build.
fn both(spec: &PluginSpec, tables: &Arc<LookupTables>) -> (Arc<PluginSlot>, Arc<PluginSlot>) {
    let engine = engine();
    let load = |path: PathBuf| {
        PluginSlot::load(&engine, spec.clone(), &path, tables.clone())
            .unwrap_or_else(|e| panic!("load {}: {e}", path.display()))
    };
    let current = load(plugin_path(&spec.name));
    let legacy = load(legacy_path(&spec.name));
    assert_eq!(current.current().abi(), Abi::Packed);
    assert_eq!(legacy.current().abi(), Abi::RecordList);
    (current, legacy)
}

fn inputs() -> Vec<host::Record> {
    let mut records: Vec<host::Record> = speeding_inputs().iter().map(to_host).collect();
    // Metadata with multi-byte text and several attributes must come through either way.
    let mut odd = to_host(&weir_sdk::Record::from_json(
        &json!({"licensePlate": "ÄÖÜ-1", "speed": "99"}),
    ));
    odd.client_id = "clïent".into();
    odd.attributes = vec![("a".into(), "1".into()), ("ñ".into(), String::new())];
    odd.arrival_timestamp_ms = u64::MAX;
    records.push(odd);
    records
}

#[test]
fn a_filter_built_against_0_1_0_gives_the_same_verdicts() {
    let spec = PluginSpec::new("speed-limit", &[Grant::Config]).param("limit", "80");
    let (current, legacy) = both(&spec, &Arc::new(LookupTables::new()));
    for batch in inputs().chunks(61) {
        let want = current.filter(batch).expect("current");
        assert_eq!(legacy.filter(batch).expect("0.1.0"), want);
    }
    assert_eq!(current.filter(&[]).expect("empty"), []);
}

#[test]
fn a_transformer_built_against_0_1_0_gives_the_same_records() {
    let spec = PluginSpec::new("owner-enrich", &[Grant::Config, Grant::Lookup]);
    let (current, legacy) = both(&spec, &driver_tables());
    let mut made = 0;
    for batch in inputs().chunks(50) {
        let want = current.transform(batch).expect("current");
        made += want
            .iter()
            .filter(|r| matches!(r, host::TransformResult::Records(rs) if !rs.is_empty()))
            .count();
        assert_eq!(legacy.transform(batch).expect("0.1.0"), want);
    }
    assert_eq!(made, 1000, "every seed plate is joined");
}

#[test]
fn an_emitter_built_against_0_1_0_sends_the_same_messages() {
    let spec = PluginSpec {
        channels: Some(vec!["sms".into()]),
        ..PluginSpec::new("sms-alert", &[Grant::Config, Grant::Outbox, Grant::Log])
    };
    let enrich = PluginSlot::load(
        &engine(),
        PluginSpec::new("owner-enrich", &[Grant::Config, Grant::Lookup]),
        &plugin_path("owner-enrich"),
        driver_tables(),
    )
    .expect("owner-enrich");
    let mut joined = Vec::new();
    for r in enrich.transform(&inputs()).expect("enrich") {
        if let host::TransformResult::Records(rs) = r {
            joined.extend(rs);
        }
    }
    let (current, legacy) = both(&spec, &Arc::new(LookupTables::new()));
    let mut sent = 0;
    for batch in joined.chunks(64) {
        let want = current.emit(batch).expect("current");
        assert_eq!(legacy.emit(batch).expect("0.1.0"), want);
        sent += want.outbox.len();
    }
    assert!(sent >= 1000, "sent {sent}");
}
