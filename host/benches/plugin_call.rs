//! Plugin call cost: the `speed-limit` filter as a WebAssembly component against the same logic
//! compiled natively, over the seed payloads, at batch sizes 1, 16 and 256; then cold (Cranelift),
//! quick-tier (Winch) and cached load times and hot-reload latency (file written -> new version
//! serving), idle and under load.
//!
//! Run: `cargo bench -p weir-host --bench plugin_call` after `cargo xtask plugins`.
//! Native and WASM are measured alternately in the same process, and figures are medians of
//! several rounds, so a noisy shared machine shifts both sides alike; compare the ratios.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_plugins::tables::LookupTables;
use weir_plugins::{Grant, PluginEngine, PluginRegistry, PluginSlot, PluginSpec, Record};
use weir_sdk::stage::{filter_batch, StageCell};
use weir_sdk::testing::MockHost;

const ROUNDS: usize = 9;
const ROUND_TIME: Duration = Duration::from_millis(300);

fn plugin(name: &str) -> PathBuf {
    weir_testkit::plugin_path(name)
}

/// The seed rows as the device's JSON, all values strings.
fn seed_payloads() -> Vec<Vec<u8>> {
    weir_testkit::seed_payloads()
        .into_iter()
        .map(|v| v.to_string().into_bytes())
        .collect()
}

/// Runs `native` and `wasm` alternately, one fixed-time round each, and returns the medians of
/// (native ns/record, wasm ns/record, per-round wasm/native ratio). Alternating means a change
/// in machine load between rounds hits both sides, and the ratio is taken within a round.
fn alternate(
    batches: usize,
    batch: usize,
    mut native: impl FnMut(usize),
    mut wasm: impl FnMut(usize),
) -> (f64, f64, f64) {
    let round = |f: &mut dyn FnMut(usize)| {
        let start = Instant::now();
        let (mut records, mut i) = (0usize, 0usize);
        while start.elapsed() < ROUND_TIME {
            f(i % batches);
            i += 1;
            records += batch;
        }
        start.elapsed().as_nanos() as f64 / records as f64
    };
    let (mut n, mut w, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let a = round(&mut native);
        let b = round(&mut wasm);
        n.push(a);
        w.push(b);
        r.push(b / a);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut n), median(&mut w), median(&mut r))
}

fn main() {
    let payloads = seed_payloads();
    let engine = PluginEngine::new(None).expect("engine");
    let spec = PluginSpec::new("speed-limit", &[Grant::Config]).param("limit", "75");
    let slot = PluginSlot::load(
        &engine,
        spec,
        &plugin("speed-limit"),
        Arc::new(LookupTables::new()),
    )
    .expect("load speed-limit");

    println!(
        "speed-limit filter over {} seed payloads; native and wasm alternate, medians of {ROUNDS} rounds",
        payloads.len()
    );
    println!(
        "{:>6} {:>14} {:>14} {:>8} {:>18}",
        "batch", "native ns/rec", "wasm ns/rec", "ratio", "wasm extra ns/call"
    );
    if std::env::var("PLUGIN_CALL_PROFILE").as_deref() == Ok("quick-load") {
        let bytes = std::fs::read(plugin("speed-limit")).expect("component");
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed() < Duration::from_secs(10) {
            let spec = PluginSpec::new("speed-limit", &[Grant::Config]);
            let p = engine.load_quick(
                spec,
                &plugin("speed-limit"),
                &bytes,
                Arc::new(LookupTables::new()),
            );
            std::hint::black_box(p.expect("quick"));
            n += 1;
        }
        println!("quick-load: {n} loads in 10 s");
        return;
    }
    if let Ok(what) = std::env::var("PLUGIN_CALL_PROFILE") {
        profile_only(&slot, &payloads, &what);
        return;
    }
    for batch in [1usize, 16, 256] {
        call_cost(&slot, &payloads, batch);
    }
    empty_call_cost(&slot);

    let cache = std::env::temp_dir().join(format!("weir-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    load_times(&cache);
    hot_reload(&cache);
    hot_reload_under_load(&cache, &payloads);
    let _ = std::fs::remove_dir_all(&cache);
}

/// The seed payloads cut into full batches of `batch` records, once as the host hands them to
/// a component and once as the SDK hands them to the native build of the same filter, so
/// both sides filter the same records.
fn record_batches(
    payloads: &[Vec<u8>],
    batch: usize,
) -> (Vec<Vec<Record>>, Vec<Vec<weir_sdk::Record>>) {
    let host_batches: Vec<Vec<Record>> = payloads
        .chunks(batch)
        .filter(|c| c.len() == batch)
        .map(|c| {
            c.iter()
                .map(|p| Record {
                    payload: p.clone(),
                    partition_key: "k".into(),
                    source_topic: "rtr/iot/trafficdata".into(),
                    client_id: "bench".into(),
                    rule_name: "speeding".into(),
                    arrival_timestamp_ms: 0,
                    attributes: Vec::new(),
                })
                .collect()
        })
        .collect();
    let sdk_batches: Vec<Vec<weir_sdk::Record>> = host_batches
        .iter()
        .map(|b| {
            b.iter()
                .map(|r| weir_sdk::Record {
                    payload: r.payload.clone(),
                    partition_key: r.partition_key.clone(),
                    source_topic: r.source_topic.clone(),
                    client_id: r.client_id.clone(),
                    rule_name: r.rule_name.clone(),
                    arrival_timestamp_ms: 0,
                    attributes: Vec::new(),
                })
                .collect()
        })
        .collect();
    (host_batches, sdk_batches)
}

/// One row of the call-cost table: native and wasm filtering batches of `batch` records,
/// both warmed up first so neither pays for a first call (compilation, allocation).
fn call_cost(slot: &PluginSlot, payloads: &[Vec<u8>], batch: usize) {
    let (host_batches, sdk_batches) = record_batches(payloads, batch);
    let n = host_batches.len();
    let host = MockHost::new().with_config("limit", "75");
    let mut cell = StageCell::<speed_limit::SpeedLimit>::default();
    // Warm up both.
    for i in 0..n {
        std::hint::black_box(filter_batch(&mut cell, sdk_batches[i].as_slice(), &host));
        std::hint::black_box(slot.filter(&host_batches[i]).expect("filter"));
    }
    let (native, wasm, ratio) = alternate(
        n,
        batch,
        |i| {
            std::hint::black_box(filter_batch(&mut cell, sdk_batches[i].as_slice(), &host));
        },
        |i| {
            std::hint::black_box(slot.filter(&host_batches[i]).expect("filter"));
        },
    );
    println!(
        "{batch:>6} {native:>14.0} {wasm:>14.0} {ratio:>7.2}x {:>18.0}",
        (wasm - native) * batch as f64
    );
}

/// The cost of a call itself: an empty batch through the whole path (instance checkout,
/// the component call, the results, the counters), with nothing to lower or parse.
fn empty_call_cost(slot: &PluginSlot) {
    for _ in 0..1000 {
        std::hint::black_box(slot.filter(&[]).expect("filter"));
    }
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut calls = 0u64;
        while start.elapsed() < ROUND_TIME {
            std::hint::black_box(slot.filter(&[]).expect("filter"));
            calls += 1;
        }
        rounds.push(start.elapsed().as_nanos() as f64 / calls as f64);
    }
    rounds.sort_by(f64::total_cmp);
    println!(
        "empty batch: {:.0} ns per wasm call (median of {ROUNDS} rounds)",
        rounds[ROUNDS / 2]
    );
}

/// `PLUGIN_CALL_PROFILE=wasm-1|wasm-256|empty` (or `quick-load`, handled in `main`): only that, for 10 s, for `perf record` (with
/// `WEIR_WASM_PERFMAP=1` for the guest's function names).
fn profile_only(slot: &PluginSlot, payloads: &[Vec<u8>], what: &str) {
    let batch = match what {
        "wasm-1" => 1,
        "wasm-256" => 256,
        _ => 0,
    };
    let (host_batches, _) = record_batches(payloads, batch.max(1));
    let start = Instant::now();
    let mut i = 0usize;
    while start.elapsed() < Duration::from_secs(10) {
        let b = if batch == 0 {
            &[][..]
        } else {
            &host_batches[i % host_batches.len()][..]
        };
        std::hint::black_box(slot.filter(b).expect("filter"));
        i += 1;
    }
    println!("{what}: {i} calls in 10 s");
}

/// Cold (compile) vs cached (deserialise) load, each including link + health check: what a
/// restart costs with and without the compilation cache in `cache`.
fn load_times(cache: &std::path::Path) {
    let mut cold = Vec::new();
    let mut cached = Vec::new();
    let mut quick = Vec::new();
    let bytes = std::fs::read(plugin("speed-limit")).expect("component");
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(cache);
        let e = PluginEngine::new(Some(cache.to_path_buf())).expect("engine");
        let spec = PluginSpec::new("speed-limit", &[Grant::Config]);
        let t = Instant::now();
        e.load_file(
            spec.clone(),
            &plugin("speed-limit"),
            Arc::new(LookupTables::new()),
        )
        .expect("cold");
        cold.push(t.elapsed());
        let e2 = PluginEngine::new(Some(cache.to_path_buf())).expect("engine");
        let t = Instant::now();
        let p = e2
            .load_file(spec, &plugin("speed-limit"), Arc::new(LookupTables::new()))
            .expect("cached");
        cached.push(t.elapsed());
        assert!(p.from_cache());
        let spec = PluginSpec::new("speed-limit", &[Grant::Config]);
        let t = Instant::now();
        let p = e2
            .load_quick(
                spec,
                &plugin("speed-limit"),
                &bytes,
                Arc::new(LookupTables::new()),
            )
            .expect("quick");
        quick.push(t.elapsed());
        assert_eq!(p.tier(), weir_plugins::Tier::Quick);
    }
    cold.sort();
    cached.sort();
    quick.sort();
    println!(
        "load speed-limit: cold {:.1} ms, quick tier {:.1} ms, cached {:.2} ms (median of 3; compile+link+health check)",
        cold[1].as_secs_f64() * 1e3,
        quick[1].as_secs_f64() * 1e3,
        cached[1].as_secs_f64() * 1e3
    );
}

/// Hot reload through the file watcher: write a new version, wait until it serves. Each
/// version differs by an appended custom section, so it is never in the compilation cache.
fn hot_reload(cache: &std::path::Path) {
    let (registry, slot, path, original) = watched_slot(cache, "watched");
    let _watch = registry.watch().expect("watch");
    let mut latencies = Vec::new();
    for n in 0u8..5 {
        let mut bytes = original.clone();
        // An appended custom section: same code, new content hash.
        bytes.extend_from_slice(&[0, 3, 1, b'v', n]);
        latencies.push(swap_to(&slot, &path, &bytes));
    }
    latencies.sort();
    println!(
        "hot reload (file renamed into place -> new version serving): median {:.1} ms, max {:.1} ms over 5 (uncached compile each time)",
        latencies[2].as_secs_f64() * 1e3,
        latencies[4].as_secs_f64() * 1e3
    );
}

/// Hot reload while two threads call the plugin back to back (batches of 16): ten swaps
/// through the file watcher, each a new (uncached) version. Quotes the swap latency (file
/// renamed into place -> new version serving) and the callers' call latency before the
/// swaps and while they happen: a compile or an instantiation on the message path shows as
/// a slow call.
fn hot_reload_under_load(cache: &std::path::Path, payloads: &[Vec<u8>]) {
    use std::sync::atomic::{AtomicU8, Ordering};
    const SWAPS: u8 = 10;
    let (registry, slot, path, original) = watched_slot(cache, "under-load");
    let _watch = registry.watch().expect("watch");
    let (batches, _) = record_batches(payloads, 16);
    let batches = Arc::new(batches);
    // 0: warming up, 1: steady (before the swaps), 2: swapping, 3: stop.
    let phase = Arc::new(AtomicU8::new(0));
    let callers: Vec<_> = (0..2)
        .map(|t| {
            let (slot, batches, phase) = (slot.clone(), batches.clone(), phase.clone());
            std::thread::spawn(move || {
                let (mut steady, mut swapping) = (Vec::new(), Vec::new());
                let mut i = t;
                loop {
                    let p = phase.load(Ordering::Acquire);
                    if p == 3 {
                        return (steady, swapping);
                    }
                    let started = Instant::now();
                    std::hint::black_box(
                        slot.filter(&batches[i % batches.len()])
                            .expect("a batch during swaps"),
                    );
                    let took = started.elapsed();
                    match p {
                        1 => steady.push(took),
                        2 => swapping.push(took),
                        _ => {}
                    }
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    phase.store(1, Ordering::Release);
    std::thread::sleep(Duration::from_secs(1));
    phase.store(2, Ordering::Release);
    let mut swaps = Vec::new();
    let mut loads = Vec::new();
    let mut last_swap = Instant::now();
    for n in 0..SWAPS {
        let mut bytes = original.clone();
        bytes.extend_from_slice(&[0, 4, 1, b'w', n, 0]);
        swaps.push(swap_to(&slot, &path, &bytes));
        last_swap = Instant::now();
        loads.push(slot.current().load_time());
        std::thread::sleep(Duration::from_millis(100));
    }
    // How long the last version served from its quick build before its optimised build
    // replaced it, with the callers still running.
    let upgraded_after = loop {
        if slot.current().tier() == weir_plugins::Tier::Optimized {
            break Some(last_swap.elapsed());
        }
        if last_swap.elapsed() > Duration::from_secs(60) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    phase.store(3, Ordering::Release);
    let (mut steady, mut swapping) = (Vec::new(), Vec::new());
    for c in callers {
        let (a, b) = c.join().expect("caller");
        steady.extend(a);
        swapping.extend(b);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pct = |v: &mut Vec<Duration>, q: f64| {
        v.sort();
        v[((v.len() - 1) as f64 * q) as usize]
    };
    swaps.sort();
    println!(
        "hot reload under load ({SWAPS} swaps, 2 callers of 16-record batches): swap median {:.1} ms, max {:.1} ms",
        ms(swaps[swaps.len() / 2]),
        ms(swaps[swaps.len() - 1])
    );
    loads.sort();
    println!(
        "  of which loading (compile, link, health check): median {:.1} ms, max {:.1} ms; the last version's optimised build served {} after its swap ({} upgrades in all)",
        ms(loads[loads.len() / 2]),
        ms(loads[loads.len() - 1]),
        upgraded_after.map_or("not within 60 s".into(), |d| format!("{:.0} ms", ms(d))),
        slot.status().upgrades
    );
    println!(
        "  call latency steady: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} calls",
        ms(pct(&mut steady, 0.5)),
        ms(pct(&mut steady, 0.99)),
        ms(pct(&mut steady, 1.0)),
        steady.len()
    );
    println!(
        "  call latency during the swaps: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} calls",
        ms(pct(&mut swapping, 0.5)),
        ms(pct(&mut swapping, 0.99)),
        ms(pct(&mut swapping, 1.0)),
        swapping.len()
    );
}

/// A registry watching its own copy of the speed-limit component under `cache/sub`, with
/// the plugin loaded (limit 75): the registry (keep it: it owns the watcher's slots), the
/// slot, the watched file and the original bytes.
fn watched_slot(
    cache: &std::path::Path,
    sub: &str,
) -> (Arc<PluginRegistry>, Arc<PluginSlot>, PathBuf, Vec<u8>) {
    let dir = cache.join(sub);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("speed-limit.wasm");
    let original = std::fs::read(plugin("speed-limit")).expect("component");
    std::fs::write(&path, &original).expect("write");
    let registry = Arc::new(PluginRegistry::new(
        PluginEngine::new(Some(cache.join(format!("{sub}-cache")))).expect("engine"),
        Arc::new(LookupTables::new()),
    ));
    let slot = registry
        .add(
            PluginSpec::new("speed-limit", &[Grant::Config]).param("limit", "75"),
            &path,
        )
        .expect("add");
    (registry, slot, path, original)
}

/// Renames `bytes` into place over `path` and waits until the slot serves a new version;
/// answers how long that took.
fn swap_to(slot: &PluginSlot, path: &std::path::Path, bytes: &[u8]) -> Duration {
    let before = slot.current().version().to_string();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("write");
    let t = Instant::now();
    std::fs::rename(&tmp, path).expect("rename");
    while slot.current().version() == before {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "reload did not happen"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    t.elapsed()
}
