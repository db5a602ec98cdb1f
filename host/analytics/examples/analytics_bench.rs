//! The KDA SQL engine's throughput and memory, against the input mapping of the same rows.
//!
//! `cargo run --release -p weir-analytics --example analytics_bench [-- --rows N]`
//!
//! One thread (the engine is single-threaded: one application runs on one thread), the same
//! generated JSON records for every query: 1,000 cities, one row per millisecond of ROWTIME.
//! Each figure is the median of three runs taken in alternation, so a noisy neighbour hits
//! every query alike; the ratio that matters is a query's rows/s over the mapping's alone.
//! Peak memory is what a counting allocator saw above the baseline while the query ran.
//! The last line is a tumbling window holding 1,000,000 distinct keys at once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::Instant;

use weir_analytics::app::Application;
use weir_analytics::input::{InputSchema, Mapper};
use weir_analytics::row::{StreamRow, StreamSchema};

/// Counts live heap bytes and their peak, for the memory column.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
/// Counting costs two atomic operations per allocation: the throughput runs go without it,
/// and one more run per query measures memory.
static COUNTING: AtomicBool = AtomicBool::new(false);

// SAFETY: every call is forwarded to the system allocator unchanged; the counters only
// observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            let size = layout.size() as isize;
            let now = LIVE.fetch_add(size, Ordering::Relaxed) + size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            let grow = new_size as isize - layout.size() as isize;
            let now = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SCHEMA: &str = r#"{
  "RecordFormat": {"RecordFormatType": "JSON",
                   "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
  "RecordEncoding": "UTF-8",
  "RecordColumns": [
    {"Name": "CITY", "Mapping": "$.city", "SqlType": "VARCHAR(32)"},
    {"Name": "SPEED", "Mapping": "$.speed", "SqlType": "INTEGER"},
    {"Name": "PLATE", "Mapping": "$.licensePlate", "SqlType": "VARCHAR(16)"}
  ]
}"#;

const TUMBLING: &str = r#"
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (CITY VARCHAR(32), CARS BIGINT, AVG_SPEED INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM CITY, COUNT(*), AVG(SPEED)
  FROM "SOURCE_SQL_STREAM_001"
  GROUP BY CITY, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE);
"#;

const SLIDING: &str = r#"
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (CITY VARCHAR(32), AVG_SPEED INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM CITY, AVG(SPEED) OVER (PARTITION BY CITY RANGE INTERVAL '1' MINUTE PRECEDING)
  FROM "SOURCE_SQL_STREAM_001";
"#;

const FILTER: &str = r#"
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (CITY VARCHAR(32), SPEED INTEGER);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM CITY, SPEED FROM "SOURCE_SQL_STREAM_001" WHERE SPEED > 75;
"#;

/// 2019-01-01T10:00:00Z, the docs' favourite morning.
const START_MS: i64 = 1_546_336_800_000;

fn records(n: usize, keys: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let city = i % keys;
            let speed = 40 + (i * 7919) % 80;
            format!(r#"{{"licensePlate":"P{i:07}","city":"city-{city}","state":"Iowa","speed":{speed}}}"#)
                .into_bytes()
        })
        .collect()
}

/// One measured run: rows per second and peak bytes above the baseline.
struct Run {
    rows_per_s: f64,
    peak_bytes: usize,
    emitted: usize,
}

fn measure(
    code: Option<&str>,
    mapper: &Mapper,
    source: &StreamSchema,
    recs: &[Vec<u8>],
    ms_per_row: f64,
) -> Run {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let mut app = code.map(|c| {
        Application::compile(
            c,
            &[("SOURCE_SQL_STREAM_001".to_string(), source.clone())],
            &[],
        )
        .unwrap_or_else(|e| panic!("benchmark SQL does not compile: {e}"))
    });
    let started = Instant::now();
    let mut emitted = 0usize;
    for (i, rec) in recs.iter().enumerate() {
        let rowtime = START_MS + (i as f64 * ms_per_row) as i64;
        let rows = match mapper.map(rec) {
            Ok(rows) => rows,
            Err(e) => panic!("benchmark record does not map: {e}"),
        };
        for values in rows {
            match app.as_mut() {
                Some(app) => {
                    emitted += app
                        .push("SOURCE_SQL_STREAM_001", StreamRow::new(rowtime, values))
                        .len()
                }
                None => {
                    black_box(values);
                }
            }
        }
    }
    let took = started.elapsed().as_secs_f64();
    let peak = usize::try_from(PEAK.load(Ordering::Relaxed) - base).unwrap_or(0);
    black_box(&app);
    Run {
        rows_per_s: recs.len() as f64 / took,
        peak_bytes: peak,
        emitted,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let mut rows = 300_000usize;
    let mut distinct = 1_000_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--rows", Some(n)) => rows = n,
            ("--distinct-keys", Some(n)) => distinct = n,
            _ => {
                eprintln!(
                    "usage: analytics_bench [--rows N (300000)] [--distinct-keys N (1000000)]"
                );
                std::process::exit(2);
            }
        }
    }
    let schema = InputSchema::from_json(SCHEMA).unwrap_or_else(|e| panic!("bench schema: {e}"));
    let mapper = Mapper::new(&schema).unwrap_or_else(|e| panic!("bench schema: {e}"));
    let source: StreamSchema = schema.schema();
    let recs = records(rows, 1_000);

    let queries: [(&str, Option<&str>); 4] = [
        ("JSON parse + map (baseline)", None),
        ("filter WHERE SPEED > 75", Some(FILTER)),
        (
            "tumbling STEP 1 min, COUNT/AVG by 1,000 keys",
            Some(TUMBLING),
        ),
        ("sliding RANGE 1 min AVG by 1,000 keys", Some(SLIDING)),
    ];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); queries.len()];
    let mut peaks = vec![0usize; queries.len()];
    let mut emitted = vec![0usize; queries.len()];
    for _round in 0..3 {
        for (q, (_, code)) in queries.iter().enumerate() {
            let run = measure(*code, &mapper, &source, &recs, 1.0);
            rates[q].push(run.rows_per_s);
            emitted[q] = run.emitted;
        }
    }
    // Memory: one more run each, counting. LIVE is only relative once counting is on (blocks
    // allocated before count when freed), so each peak is read against the level at the start
    // of its own run.
    COUNTING.store(true, Ordering::Relaxed);
    for (q, (_, code)) in queries.iter().enumerate() {
        peaks[q] = measure(*code, &mapper, &source, &recs, 1.0).peak_bytes;
    }
    let base = median(rates[0].clone());
    println!(
        "analytics_bench: {rows} JSON records, 1,000 keys, 1 row per ms of ROWTIME, one thread, median of 3"
    );
    println!("| query | rows/s | ratio to mapping alone | peak memory | rows emitted |");
    println!("|---|---|---|---|---|");
    for (q, (name, _)) in queries.iter().enumerate() {
        let r = median(rates[q].clone());
        println!(
            "| {name} | {:.0} | {:.2} | {:.1} MiB | {} |",
            r,
            r / base,
            peaks[q] as f64 / 1048576.0,
            emitted[q]
        );
    }

    // Memory for many distinct keys: every row in one one-minute window, each its own key.
    let many = records(distinct, distinct);
    let run = measure(
        Some(TUMBLING),
        &mapper,
        &source,
        &many,
        50_000.0 / distinct as f64,
    );
    println!(
        "tumbling window holding {distinct} distinct keys: peak {:.1} MiB ({:.0} bytes per key), {:.0} rows/s",
        run.peak_bytes as f64 / 1048576.0,
        run.peak_bytes as f64 / distinct as f64,
        run.rows_per_s
    );
}
