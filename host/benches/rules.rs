//! Rule evaluation and topic matching benchmarks.
//!
//! `cargo bench -p weir-host --bench rules`; the ratio that matters is
//! `parse_json_and_eval_select_star` over `parse_json_only` (figures in README.md).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use weir_rules::{EvalContext, Rule};

#[path = "common.rs"]
mod common;

const SPEEDING: &str = "SELECT * FROM 'rtr/iot/trafficdata' WHERE speed > 75";

fn eval_benches(c: &mut Criterion) {
    let payloads = common::seed_payloads();
    let bytes: u64 = payloads.iter().map(|p| p.len() as u64).sum();
    let rule = Rule::compile(SPEEDING).expect("speeding rule compiles");
    let projection = Rule::compile(
        "SELECT licensePlate, cast(speed AS Int) AS speed, concat(city, ',', state) AS where \
         FROM 'rtr/iot/trafficdata' WHERE speed > 75",
    )
    .expect("projection rule compiles");

    let mut g = c.benchmark_group("speeding");
    g.throughput(Throughput::Elements(payloads.len() as u64));
    g.bench_function("parse_json_only", |b| {
        b.iter(|| {
            for p in &payloads {
                black_box(serde_json::from_slice::<serde_json::Value>(p).ok());
            }
        })
    });
    g.bench_function("parse_json_and_eval_select_star", |b| {
        b.iter(|| {
            let mut fired = 0usize;
            for p in &payloads {
                let json = serde_json::from_slice::<serde_json::Value>(p).ok();
                let cx = EvalContext::new("rtr/iot/trafficdata", p, json.as_ref());
                if let Ok(Some(out)) = rule.evaluate(&cx) {
                    black_box(&out);
                    fired += 1;
                }
            }
            fired
        })
    });
    g.bench_function("parse_json_and_eval_projection", |b| {
        b.iter(|| {
            for p in &payloads {
                let json = serde_json::from_slice::<serde_json::Value>(p).ok();
                let cx = EvalContext::new("rtr/iot/trafficdata", p, json.as_ref());
                black_box(projection.evaluate(&cx).ok());
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("speeding_bytes");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("compile_rule", |b| {
        b.iter(|| Rule::compile(black_box(SPEEDING)).is_ok())
    });
    g.finish();
}

fn match_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("topic_match");
    for n in [1usize, 100, 10_000] {
        let idx = common::index_of(n);
        g.bench_function(format!("{n}_rules_hit"), |b| {
            b.iter(|| idx.matches(black_box("rtr/iot/trafficdata")))
        });
        g.bench_function(format!("{n}_rules_miss"), |b| {
            b.iter(|| idx.matches(black_box("nothing/listens/here")))
        });
    }
    g.finish();
}

criterion_group!(benches, eval_benches, match_benches);
criterion_main!(benches);
