//! Hostile plugins are contained: each fault fails only the batch in flight, names the plugin,
//! its version and the reason, is counted, and the next batch runs on a fresh instance, while
//! other plugins keep serving during and after.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weir_plugins::tables::LookupTables;
use weir_plugins::{
    FaultKind, FilterResult, Grant, Limits, PluginEngine, PluginError, PluginSlot, PluginSpec,
    Record, Tier,
};
use weir_tests::plugin_path;

fn record(payload: &str) -> Record {
    Record {
        payload: payload.as_bytes().to_vec(),
        partition_key: "k".into(),
        source_topic: "t".into(),
        client_id: String::new(),
        rule_name: "r".into(),
        arrival_timestamp_ms: 0,
        attributes: Vec::new(),
    }
}

fn batch(payloads: &[&str]) -> Vec<Record> {
    payloads.iter().map(|p| record(p)).collect()
}

fn hostile(engine: &PluginEngine, mode: &str, timeout: Duration) -> Arc<PluginSlot> {
    let spec = PluginSpec {
        limits: Limits {
            memory_bytes: 32 << 20,
            call_timeout: timeout,
            ..Limits::default()
        },
        ..PluginSpec::new(format!("hostile-{mode}"), &[Grant::Config, Grant::Log])
            .param("mode", mode)
    };
    PluginSlot::load(
        engine,
        spec,
        &plugin_path("hostile-behaviour"),
        Arc::new(LookupTables::new()),
    )
    .expect("hostile plugin loads")
}

fn speed_limit(engine: &PluginEngine) -> Arc<PluginSlot> {
    PluginSlot::load(
        engine,
        PluginSpec::new("speed-limit", &[Grant::Config]),
        &plugin_path("speed-limit"),
        Arc::new(LookupTables::new()),
    )
    .expect("speed-limit loads")
}

fn assert_contained(mode: &str, kind: FaultKind, detail_has: &str) {
    let engine = PluginEngine::new(None).expect("engine");
    let slot = hostile(&engine, mode, Duration::from_millis(300));
    let neighbour = speed_limit(&engine);
    let fast = batch(&[r#"{"speed":"90"}"#, r#"{"speed":"60"}"#]);

    assert_eq!(
        slot.filter(&batch(&["a", "b"])).expect("healthy batch"),
        vec![FilterResult::Keep; 2]
    );
    let err = slot
        .filter(&batch(&["x", "boom", "y"]))
        .expect_err("the batch with boom fails");
    let text = err.to_string();
    assert_eq!(err.fault_kind(), Some(kind), "{mode}: {text}");
    let version = slot.current().version().to_string();
    assert!(
        text.contains(&format!("hostile-{mode}")) && text.contains(&version),
        "{text}"
    );
    assert!(text.contains(detail_has), "{mode}: {text}");

    // The neighbour never noticed, and the hostile plugin serves again on a fresh instance.
    assert_eq!(
        neighbour.filter(&fast).expect("neighbour"),
        vec![FilterResult::Keep, FilterResult::Drop]
    );
    assert_eq!(
        slot.filter(&batch(&["c"])).expect("after the fault"),
        vec![FilterResult::Keep]
    );
    let counters = slot.current().counters().snapshot();
    assert_eq!(counters.faults_of(kind), 1, "{counters:?}");
    assert_eq!(
        counters.calls,
        3 + 1,
        "three batches plus the load-time health check: {counters:?}"
    );
}

#[test]
fn a_panic_fails_only_its_batch_and_reports_the_panic_message() {
    assert_contained("panic", FaultKind::Panic, "hostile plugin asked to panic");
}

#[test]
fn a_runaway_loop_is_stopped_at_the_deadline() {
    assert_contained("loop", FaultKind::Timeout, "time limit of 300 ms");
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    assert_contained(
        "memory",
        FaultKind::MemoryLimit,
        "the limit is 33554432 bytes",
    );
}

#[test]
fn runaway_recursion_is_a_stack_overflow() {
    assert_contained("stack", FaultKind::StackOverflow, "call stack exhausted");
}

#[test]
fn floods_of_logs_and_stderr_are_bounded_not_fatal() {
    let engine = PluginEngine::new(None).expect("engine");
    for mode in ["log-flood", "stderr-flood"] {
        let slot = hostile(&engine, mode, Duration::from_secs(5));
        assert_eq!(
            slot.filter(&batch(&["boom", "ok"])).expect(mode),
            vec![FilterResult::Keep; 2]
        );
    }
}

#[test]
fn other_plugins_keep_serving_while_one_spins() {
    let engine = PluginEngine::new(None).expect("engine");
    let spinner = hostile(&engine, "loop", Duration::from_millis(1500));
    let neighbour = speed_limit(&engine);
    let done = Arc::new(AtomicBool::new(false));
    let served_meanwhile = Arc::new(AtomicUsize::new(0));
    let spin = {
        let done = done.clone();
        std::thread::spawn(move || {
            let r = spinner.filter(&batch(&["boom"]));
            done.store(true, Ordering::SeqCst);
            r
        })
    };
    let fast = batch(&[r#"{"speed":"90"}"#]);
    while !done.load(Ordering::SeqCst) {
        assert_eq!(
            neighbour.filter(&fast).expect("neighbour"),
            vec![FilterResult::Keep]
        );
        if !done.load(Ordering::SeqCst) {
            served_meanwhile.fetch_add(1, Ordering::SeqCst);
        }
    }
    let err = spin.join().expect("spinner thread").expect_err("timeout");
    assert_eq!(err.fault_kind(), Some(FaultKind::Timeout));
    assert!(
        served_meanwhile.load(Ordering::SeqCst) >= 10,
        "neighbour served {} batches",
        served_meanwhile.load(Ordering::SeqCst)
    );
}

#[test]
fn malformed_and_oversized_output_is_rejected() {
    let engine = PluginEngine::new(None).expect("engine");
    let short = PluginSlot::load(
        &engine,
        PluginSpec::new("malformed", &[Grant::Config]),
        &plugin_path("hostile-malformed"),
        Arc::new(LookupTables::new()),
    );
    // Its health check passes (an empty batch gets an empty answer); real batches do not.
    let short = short.expect("loads");
    let err = short
        .transform(&batch(&["a", "b"]))
        .expect_err("one result short");
    assert_eq!(err.fault_kind(), Some(FaultKind::MalformedOutput), "{err}");
    assert!(
        err.to_string().contains("1 output counts for 2 records"),
        "{err}"
    );

    for (mode, says) in [
        (
            "miscount",
            "the output counts add up to 2, but 1 records came back",
        ),
        (
            "not-utf8",
            "output records: record 0: its partition-key is not UTF-8",
        ),
    ] {
        let slot = PluginSlot::load(
            &engine,
            PluginSpec::new(mode, &[Grant::Config]).param("mode", mode),
            &plugin_path("hostile-malformed"),
            Arc::new(LookupTables::new()),
        )
        .expect("loads");
        let mut one = batch(&["a"]);
        one[0].partition_key = "key".into();
        let err = slot.transform(&one).expect_err(mode);
        assert_eq!(err.fault_kind(), Some(FaultKind::MalformedOutput), "{err}");
        assert!(err.to_string().contains(says), "{mode}: {err}");
    }

    let spec = PluginSpec {
        limits: Limits {
            max_output_records: 1000,
            ..Limits::default()
        },
        ..PluginSpec::new("huge", &[Grant::Config]).param("mode", "huge")
    };
    let huge = PluginSlot::load(
        &engine,
        spec,
        &plugin_path("hostile-malformed"),
        Arc::new(LookupTables::new()),
    )
    .expect("loads");
    let err = huge.transform(&batch(&["a"])).expect_err("too much output");
    assert_eq!(err.fault_kind(), Some(FaultKind::MalformedOutput), "{err}");
    assert!(err.to_string().contains("100000 output records"), "{err}");
}

#[test]
fn filesystem_access_is_refused_unless_granted_and_even_then_sees_nothing() {
    let engine = PluginEngine::new(None).expect("engine");
    let tables = Arc::new(LookupTables::new());
    let err = PluginSlot::load(
        &engine,
        PluginSpec::new("snoop", &[]),
        &plugin_path("hostile-fs"),
        tables.clone(),
    )
    .expect_err("wasi:filesystem not granted");
    assert!(matches!(err, PluginError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("wasi:filesystem"), "{err}");

    let granted = PluginSlot::load(
        &engine,
        PluginSpec::new("snoop", &[Grant::WasiFilesystem, Grant::WasiClocks]),
        &plugin_path("hostile-fs"),
        tables,
    )
    .expect("loads when granted");
    match granted.filter(&batch(&["x"])).expect("call").remove(0) {
        FilterResult::Failed(e) => assert_eq!(e.code, "sandboxed", "{}", e.message),
        other => panic!("expected the read to fail inside the sandbox, got {other:?}"),
    }
}

/// Winch's code (the quick tier a hot reload serves first) is held to the same limits as
/// Cranelift's: the call deadline (epoch checks), the memory limit, the stack limit, a panic.
#[test]
fn the_quick_tier_contains_every_fault_too() {
    let engine = PluginEngine::new(None).expect("engine");
    assert!(engine.has_quick_tier(), "Winch runs on this target");
    let bytes = std::fs::read(plugin_path("hostile-behaviour")).expect("component");
    for (mode, kind) in [
        ("panic", FaultKind::Panic),
        ("loop", FaultKind::Timeout),
        ("memory", FaultKind::MemoryLimit),
        ("stack", FaultKind::StackOverflow),
    ] {
        let spec = PluginSpec {
            limits: Limits {
                memory_bytes: 32 << 20,
                call_timeout: Duration::from_millis(300),
                ..Limits::default()
            },
            ..PluginSpec::new(format!("hostile-{mode}"), &[Grant::Config, Grant::Log])
                .param("mode", mode)
        };
        let plugin = engine
            .load_quick(
                spec,
                &plugin_path("hostile-behaviour"),
                &bytes,
                Arc::new(LookupTables::new()),
            )
            .expect("loads on the quick tier");
        assert_eq!(plugin.tier(), Tier::Quick);
        let mut instance = plugin.instantiate().expect("instance");
        assert_eq!(
            instance.filter(&batch(&["a", "b"])).expect(mode),
            vec![FilterResult::Keep; 2]
        );
        let err = instance
            .filter(&batch(&["x", "boom"]))
            .expect_err("the batch with boom fails");
        assert_eq!(err.fault_kind(), Some(kind), "{mode}: {err}");
        assert!(instance.is_poisoned());
    }
}
