//! Criterion benchmarks of the hot paths below HTTP: appending a PutRecords-sized batch
//! (500 x 100 bytes) to the log, and reading a 500-record page back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use weir_streams::{FsyncPolicy, MemBackend, PutEntry, StartPosition, Streams, StreamsConfig};

fn batch() -> Vec<PutEntry> {
    (0..500)
        .map(|i| PutEntry {
            partition_key: format!("95B•{i}"),
            explicit_hash_key: None,
            data: vec![b'x'; 100],
        })
        .collect()
}

fn config(dir: &std::path::Path) -> StreamsConfig {
    let mut c = StreamsConfig::new(dir);
    c.fsync = FsyncPolicy::Never;
    c.transition_delay = Duration::ZERO;
    c
}

fn append(c: &mut Criterion) {
    let entries = batch();
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(500));
    let mem = Streams::open_with_backend(config("/bench".as_ref()), Arc::new(MemBackend::new()))
        .expect("open");
    mem.create_stream("b", 4, false, BTreeMap::new())
        .expect("create");
    g.bench_function("mem_500x100B_4_shards", |b| {
        b.iter(|| mem.put_records("b", &entries).expect("put"))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let file = Streams::open(config(dir.path())).expect("open");
    file.create_stream("b", 1, false, BTreeMap::new())
        .expect("create");
    g.bench_function("file_never_500x100B_1_shard", |b| {
        b.iter(|| file.put_records("b", &entries).expect("put"))
    });
    g.finish();

    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Elements(500));
    let it = file
        .get_shard_iterator("b", "shardId-000000000000", &StartPosition::TrimHorizon)
        .expect("iterator");
    g.bench_function("get_records_500", |b| {
        b.iter(|| file.get_records(&it, 500).expect("get"))
    });
    g.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
