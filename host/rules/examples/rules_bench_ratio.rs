//! Prints the speeding-rule figures and the eval/parse ratio without criterion:
//! `cargo run --release -p weir-rules --example rules_bench_ratio` (no host build needed).

use std::time::Instant;

use weir_rules::{EvalContext, Rule};

#[path = "../../benches/common.rs"]
mod common;

fn per_msg_ns(rounds: usize, n: usize, f: &mut dyn FnMut()) -> f64 {
    // Warm up, then take the best of 5 runs to dampen noise from other jobs.
    f();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..rounds {
            f();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / (rounds * n) as f64);
    }
    best
}

fn main() {
    let payloads = common::seed_payloads();
    let n = payloads.len();
    let Ok(rule) = Rule::compile("SELECT * FROM 'rtr/iot/trafficdata' WHERE speed > 75") else {
        eprintln!("speeding rule does not compile");
        std::process::exit(1);
    };
    let rounds = 50;
    let parse = per_msg_ns(rounds, n, &mut || {
        for p in &payloads {
            std::hint::black_box(serde_json::from_slice::<serde_json::Value>(p).ok());
        }
    });
    let mut fired = 0;
    let both = per_msg_ns(rounds, n, &mut || {
        fired = 0;
        for p in &payloads {
            let json = serde_json::from_slice::<serde_json::Value>(p).ok();
            let cx = EvalContext::new("rtr/iot/trafficdata", p, json.as_ref());
            if let Ok(Some(o)) = rule.evaluate(&cx) {
                std::hint::black_box(&o);
                fired += 1;
            }
        }
    });
    let parsed: Vec<_> = payloads
        .iter()
        .map(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
        .collect();
    let eval_only = per_msg_ns(rounds, n, &mut || {
        for (p, json) in payloads.iter().zip(&parsed) {
            let cx = EvalContext::new("rtr/iot/trafficdata", p, json.as_ref());
            std::hint::black_box(rule.evaluate(&cx).ok());
        }
    });
    println!("payloads: {n} (fired {fired})");
    println!("evaluate only (pre-parsed): {eval_only:6.1} ns/msg");
    println!(
        "parse JSON only:          {parse:8.1} ns/msg  ({:.0} msg/s)",
        1e9 / parse
    );
    println!(
        "parse JSON + evaluate:    {both:8.1} ns/msg  ({:.0} msg/s)",
        1e9 / both
    );
    println!("ratio (target <= 1.3):    {:8.3}", both / parse);
    for size in [1usize, 100, 10_000] {
        let idx = common::index_of(size);
        let hit = per_msg_ns(20_000, 1, &mut || {
            std::hint::black_box(idx.matches("rtr/iot/trafficdata"));
        });
        let miss = per_msg_ns(20_000, 1, &mut || {
            std::hint::black_box(idx.matches("nothing/listens/here"));
        });
        println!("match with {size:>6} rules: hit {hit:7.1} ns, miss {miss:7.1} ns");
    }
}
