//! Firehose on the cluster: two services ("hosts") share their delivery streams through a KV
//! bucket (catalog, checkpoints, leases) and JetStream buffers, and deliver to one folder.
//! One host at a time delivers a stream; when it dies another takes over within the lease's
//! time to live, and nothing put is lost.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{eventually, NatsCluster};
use weir_cluster::JetStreamStores;
use weir_firehose::{
    Buffering, Compression, CreateRequest, DeliveryDestination, Firehose, FirehoseConfig,
    FirehoseError, RecordPutOutcome, S3Destination, SourceKind, Storage,
};
use weir_support::docstore::DocStore;

/// The lease time to live of the tests' hosts: a takeover after a crash waits this long.
const TTL: Duration = Duration::from_secs(2);

/// A Firehose "host" on the cluster under `prefix`: its own connections, its own local
/// folder, the shared destination folder `dest`.
fn host(prefix: &str, dir: &Path, dest: &Path, ttl: Duration) -> (Firehose, Arc<dyn DocStore>) {
    host_reading(prefix, dir, dest, ttl, None)
}

/// [`host`] whose `KinesisStreamAsSource` delivery streams read `source`.
fn host_reading(
    prefix: &str,
    dir: &Path,
    dest: &Path,
    ttl: Duration,
    source: Option<weir_streams::Streams>,
) -> (Firehose, Arc<dyn DocStore>) {
    let cluster = NatsCluster::shared();
    let docs = JetStreamStores::open(cluster.connect(prefix))
        .expect("stores")
        .docs("FIREHOSE")
        .expect("docs");
    let buffers = JetStreamStores::open(cluster.connect(&format!("{prefix}.fh"))).expect("buffers");
    let mut c = FirehoseConfig::new(dir, Storage::Folder(dest.to_path_buf()));
    c.docs = Some(docs.clone());
    c.buffer_stores = Some(buffers);
    c.transition_delay = Duration::ZERO;
    c.poll_interval = Duration::from_millis(20);
    c.lease_ttl = ttl;
    c.source_streams = source;
    let fh = Firehose::open(c, runtime().handle().clone()).expect("open the firehose");
    (fh, docs)
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Runtime::new().expect("runtime"))
}

fn request(name: &str) -> CreateRequest {
    CreateRequest {
        name: name.into(),
        source: SourceKind::DirectPut,
        kinesis_stream_arn: None,
        destination: DeliveryDestination::ExtendedS3(S3Destination {
            role_arn: "arn:aws:iam::000000000000:role/firehose".into(),
            bucket_arn: "arn:aws:s3:::bkt".into(),
            prefix: Some(format!("{name}/")),
            error_output_prefix: Some(format!("errors-{name}/")),
            // Every record is due at once: the tests see each delivery without waiting.
            buffering: Buffering {
                size_mib: 1,
                interval_s: 0,
            },
            compression: Compression::Uncompressed,
            file_extension: None,
        }),
        tags: BTreeMap::new(),
        encryption: None,
        processing: None,
        partitioning: None,
        conversion: None,
    }
}

/// Every file under `root`, recursively.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if !e.file_name().to_string_lossy().starts_with('.') {
                out.push(p);
            }
        }
    }
    out
}

/// How many times each line was delivered under `dest/bkt/<name>/`.
fn delivered(dest: &Path, name: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for f in files(&dest.join("bkt").join(name)) {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for line in text.lines() {
            *counts.entry(line.to_owned()).or_default() += 1;
        }
    }
    counts
}

fn records(batch: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{batch}-{i:04}\n").into_bytes())
        .collect()
}

fn put_all(fh: &Firehose, name: &str, recs: &[Vec<u8>]) {
    for chunk in recs.chunks(100) {
        let (out, _) = fh.put(name, chunk).expect("put");
        for o in out {
            assert!(matches!(o, RecordPutOutcome::Ok { .. }), "{o:?}");
        }
    }
}

/// Waits until every line of `recs` is delivered; answers the counts.
fn await_all(dest: &Path, name: &str, recs: &[Vec<u8>], limit: Duration) -> HashMap<String, usize> {
    let want: Vec<String> = recs
        .iter()
        .map(|r| String::from_utf8_lossy(r).trim_end().to_owned())
        .collect();
    let started = Instant::now();
    loop {
        let got = delivered(dest, name);
        let missing = want.iter().filter(|w| !got.contains_key(*w)).count();
        if missing == 0 {
            return got;
        }
        assert!(
            started.elapsed() < limit,
            "{missing} of {} records not delivered after {limit:?}",
            want.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The counts of `name`'s lines once they have stopped changing for a second: a duplicate
/// (the thing checked for) can only be seen by waiting for it, and a second covers two
/// catalog polls and fifty delivery polls.
fn settled(dest: &Path, name: &str) -> HashMap<String, usize> {
    let mut last = delivered(dest, name);
    let mut since = Instant::now();
    let started = Instant::now();
    while since.elapsed() < Duration::from_secs(1) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "deliveries never settled"
        );
        std::thread::sleep(Duration::from_millis(50));
        let now = delivered(dest, name);
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
    last
}

/// The holder named in the delivery lease of `uid`.
fn lease_holder(docs: &dyn DocStore, uid: &str) -> Option<String> {
    let (bytes, _) = docs.get(&format!("leases/delivery/{uid}")).ok()??;
    String::from_utf8_lossy(&bytes)
        .lines()
        .next()
        .map(str::to_owned)
}

#[test]
fn one_host_delivers_a_stream_and_another_takes_over_when_it_dies() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join("dest");
    let prefix = "weir.fhc1";
    let (a, docs) = host(prefix, &tmp.path().join("a"), &dest, TTL);
    let (b, _) = host(prefix, &tmp.path().join("b"), &dest, TTL);
    // Created on A after B opened: B finds it in the shared catalog on its first put.
    a.create(request("orders")).expect("create on a");
    let uid = a.describe("orders").expect("describe").spec.uid;
    assert_eq!(b.describe("orders").expect("describe on b").spec.uid, uid);
    let first = records("one", 300);
    put_all(&b, "orders", &first);
    await_all(&dest, "orders", &first, Duration::from_secs(30));
    let got = settled(&dest, "orders");
    // Both hosts run a delivery thread for the stream, but only the lease holder delivers:
    // without a takeover no record is delivered twice.
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    let holder = lease_holder(&*docs, &uid).expect("a delivery lease");
    let (holder_fh, other) = if holder == a.lease_holder() {
        (a, b)
    } else {
        assert_eq!(holder, b.lease_holder(), "the lease names neither host");
        (b, a)
    };
    // The holder dies without a word (no release, no checkpoint); records keep coming in
    // through the other host, which takes over once the lease expires.
    holder_fh.halt_as_if_crashed();
    let died = Instant::now();
    let second = records("two", 200);
    put_all(&other, "orders", &second);
    await_all(&dest, "orders", &second, TTL + Duration::from_secs(10));
    let took = died.elapsed();
    eprintln!("takeover: all records delivered {took:?} after the holder died");
    assert!(
        took >= TTL / 2,
        "delivered before the lease could expire: {took:?}"
    );
    assert_eq!(
        lease_holder(&*docs, &uid).as_deref(),
        Some(other.lease_holder())
    );
    // Nothing lost: every record of both batches is in an object.
    let all: Vec<Vec<u8>> = first.iter().chain(&second).cloned().collect();
    await_all(&dest, "orders", &all, Duration::from_secs(1));
    drop(holder_fh);
}

#[test]
fn a_clean_stop_hands_the_stream_over_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join("dest");
    let prefix = "weir.fhc2";
    // A lease that would take a minute to expire: only a release can hand over quickly.
    let long = Duration::from_secs(60);
    let (a, docs) = host(prefix, &tmp.path().join("a"), &dest, long);
    a.create(request("logs")).expect("create");
    let uid = a.describe("logs").expect("describe").spec.uid;
    // A holds the lease before B exists.
    eventually(Duration::from_secs(20), Duration::from_millis(20), || {
        (lease_holder(&*docs, &uid).as_deref() == Some(a.lease_holder())).then_some(())
    });
    let (b, _) = host(prefix, &tmp.path().join("b"), &dest, long);
    let first = records("before", 50);
    put_all(&b, "logs", &first);
    await_all(&dest, "logs", &first, Duration::from_secs(20));
    drop(a);
    let stopped = Instant::now();
    let second = records("after", 50);
    put_all(&b, "logs", &second);
    await_all(&dest, "logs", &second, Duration::from_secs(20));
    let took = stopped.elapsed();
    eprintln!("handover after a clean stop: {took:?}");
    assert!(took < long / 4, "the lease was not released: {took:?}");
    assert_eq!(
        lease_holder(&*docs, &uid).as_deref(),
        Some(b.lease_holder())
    );
    let got = delivered(&dest, "logs");
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "a clean handover delivers nothing twice: {twice:?}"
    );
}

#[test]
fn catalog_changes_on_one_host_are_seen_on_the_other() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join("dest");
    let prefix = "weir.fhc3";
    let (a, _) = host(prefix, &tmp.path().join("a"), &dest, TTL);
    let (b, _) = host(prefix, &tmp.path().join("b"), &dest, TTL);
    // Two creates at once, one on each host: both kept.
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| a.create(request("x")));
        let tb = s.spawn(|| b.create(request("y")));
        (ta.join().expect("a"), tb.join().expect("b"))
    });
    ra.expect("create x on a");
    rb.expect("create y on b");
    let both = || vec!["x".to_string(), "y".to_string()];
    for fh in [&a, &b] {
        eventually(Duration::from_secs(10), Duration::from_millis(20), || {
            (fh.list(10, None, None).0 == both()).then_some(())
        });
    }
    // A name taken on the other host is refused here too.
    assert!(matches!(
        b.create(request("x")),
        Err(FirehoseError::InUse(_))
    ));
    // An update on B is seen on A.
    let mut tags = BTreeMap::new();
    tags.insert("team".to_string(), "fleet".to_string());
    b.tag("x", tags).expect("tag on b");
    eventually(Duration::from_secs(10), Duration::from_millis(20), || {
        let d = a.describe("x").ok()?;
        (d.spec.tags.get("team").map(String::as_str) == Some("fleet")).then_some(())
    });
    // Two updates of one stream on two hosts at once: neither is lost. B changes it before
    // its poll has shown it A's change: refused (InUse), and applied once B has seen it.
    let one = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
    a.tag("x", one("owner", "ops")).expect("tag on a");
    let mut refused = 0;
    loop {
        match b.tag("x", one("site", "lyon")) {
            Ok(()) => break,
            Err(FirehoseError::InUse(_)) if refused < 100 => {
                refused += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("tag on b: {e}"),
        }
    }
    eprintln!("b's stale update was refused {refused} times");
    eventually(Duration::from_secs(10), Duration::from_millis(20), || {
        let tags = a.describe("x").ok()?.spec.tags;
        let want = ["team", "owner", "site"];
        want.iter().all(|k| tags.contains_key(*k)).then_some(())
    });
    // A stream just created on A can be deleted through B at once (B looks the name up).
    a.create(request("z")).expect("create z on a");
    b.delete("z").expect("delete z on b");
    eventually(Duration::from_secs(10), Duration::from_millis(20), || {
        matches!(a.describe("z"), Err(FirehoseError::NotFound(_))).then_some(())
    });
    // A delete on A is seen on B.
    a.delete("y").expect("delete on a");
    eventually(Duration::from_secs(10), Duration::from_millis(20), || {
        matches!(b.describe("y"), Err(FirehoseError::NotFound(_))).then_some(())
    });
    assert_eq!(b.list(10, None, None).0, vec!["x".to_string()]);
    // The stream B learned of delivers records put through B.
    let recs = records("x", 20);
    put_all(&b, "x", &recs);
    await_all(&dest, "x", &recs, Duration::from_secs(20));
}

#[test]
fn a_rule_actions_stream_is_one_stream_on_every_host_and_survives_its_hosts_death() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join("dest");
    let prefix = "weir.fhc4";
    let (a, docs) = host(prefix, &tmp.path().join("a"), &dest, TTL);
    let (b, _) = host(prefix, &tmp.path().join("b"), &dest, TTL);
    let want = weir_firehose::ImplicitStreamSpec {
        key: "rule/archive-1".into(),
        name: "rule-0-firehose".into(),
        root: tmp.path().join("archive"),
        prefix: Some("t/".into()),
        error_prefix: Some("e/".into()),
        buffer_bytes: 1 << 20,
        // Nothing is due by time during the test: only a flush delivers.
        buffer_interval: Duration::from_secs(600),
    };
    let on_a = a.implicit_stream(&want).expect("implicit on a");
    let recs = records("kept", 30);
    for o in on_a.put(&recs).expect("put on a") {
        assert!(matches!(o, RecordPutOutcome::Ok { .. }), "{o:?}");
    }
    // A dies holding the records (and the lease). The same action on B is the same stream:
    // once the lease expires, B delivers what A buffered.
    a.halt_as_if_crashed();
    let on_b = b.implicit_stream(&want).expect("implicit on b");
    let stored: serde_json::Value =
        serde_json::from_slice(&docs.get("implicit.json").expect("get").expect("catalog").0)
            .expect("json");
    assert_eq!(stored.as_array().map(Vec::len), Some(1), "{stored}");
    let more = records("more", 10);
    for o in on_b.put(&more).expect("put on b") {
        assert!(matches!(o, RecordPutOutcome::Ok { .. }), "{o:?}");
    }
    let all: Vec<Vec<u8>> = recs.iter().chain(&more).cloned().collect();
    let want_lines: Vec<String> = all
        .iter()
        .map(|r| String::from_utf8_lossy(r).trim_end().to_owned())
        .collect();
    eventually(Duration::from_secs(20), Duration::from_millis(50), || {
        assert!(b.flush_implicit(Duration::from_secs(5)).is_empty());
        let mut got = HashMap::new();
        for f in files(&tmp.path().join("archive")) {
            for line in std::fs::read_to_string(&f).unwrap_or_default().lines() {
                *got.entry(line.to_owned()).or_insert(0usize) += 1;
            }
        }
        want_lines.iter().all(|w| got.contains_key(w)).then_some(())
    });
    drop(a);
}

/// The Kinesis streams of a host on the cluster under `prefix`.
fn kinesis(prefix: &str, dir: &Path) -> weir_streams::Streams {
    let stores = JetStreamStores::open(NatsCluster::shared().connect(prefix)).expect("stores");
    let mut c = weir_streams::StreamsConfig::new(dir);
    c.transition_delay = Duration::ZERO;
    weir_streams::Streams::open_with_stores(c, stores).expect("open the streams")
}

fn put_source(streams: &weir_streams::Streams, recs: &[Vec<u8>]) {
    let entries: Vec<weir_streams::PutEntry> = recs
        .iter()
        .map(|d| weir_streams::PutEntry {
            partition_key: "k".into(),
            explicit_hash_key: None,
            data: d.clone(),
        })
        .collect();
    for o in streams
        .put_records("src", &entries)
        .expect("put to the source")
    {
        assert!(matches!(o, weir_streams::PutOutcome::Ok { .. }), "{o:?}");
    }
}

#[test]
fn a_kinesis_source_is_read_by_one_host_and_taken_over_when_it_dies() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join("dest");
    let prefix = "weir.fhc5";
    let src_a = kinesis("weir.fhc5.src", &tmp.path().join("a-src"));
    src_a.ensure_stream("src", 1, 24).expect("source stream");
    let src_b = kinesis("weir.fhc5.src", &tmp.path().join("b-src"));
    let (a, docs) = host_reading(prefix, &tmp.path().join("a"), &dest, TTL, Some(src_a));
    let (b, _) = host_reading(
        prefix,
        &tmp.path().join("b"),
        &dest,
        TTL,
        Some(src_b.clone()),
    );
    let mut req = request("ks");
    req.source = SourceKind::KinesisStreamAsSource;
    req.kinesis_stream_arn = Some("arn:aws:kinesis:us-east-1:000000000000:stream/src".into());
    a.create(req).expect("create on a");
    let uid = a.describe("ks").expect("describe").spec.uid;
    // B starts its reader and delivery once its catalog poll finds the stream.
    eventually(Duration::from_secs(10), Duration::from_millis(20), || {
        b.describe("ks").ok().map(|_| ())
    });
    let first = records("src-one", 100);
    put_source(&src_b, &first);
    await_all(&dest, "ks", &first, Duration::from_secs(30));
    let got = settled(&dest, "ks");
    // Both hosts run a reader, but only the source lease's holder copies the records into
    // the buffer: without a takeover none comes twice.
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "read twice: {twice:?}");
    let source_lease = docs
        .get(&format!("leases/source/{uid}"))
        .expect("get")
        .map(|(b, _)| {
            String::from_utf8_lossy(&b)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .expect("a source lease");
    let (dead, alive) = if source_lease == a.lease_holder() {
        (a, b)
    } else {
        (b, a)
    };
    dead.halt_as_if_crashed();
    let second = records("src-two", 100);
    put_source(&src_b, &second);
    await_all(&dest, "ks", &second, TTL + Duration::from_secs(10));
    let all: Vec<Vec<u8>> = first.iter().chain(&second).cloned().collect();
    await_all(&dest, "ks", &all, Duration::from_secs(1));
    let holder = docs
        .get(&format!("leases/source/{uid}"))
        .expect("get")
        .map(|(b, _)| {
            String::from_utf8_lossy(&b)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        });
    assert_eq!(holder.as_deref(), Some(alive.lease_holder()));
    drop(dead);
}
