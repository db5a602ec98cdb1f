//! HTTP endpoint destinations go only where the operator allows (issue 27, item 7): a
//! loopback endpoint is refused at create (and UpdateDestination) and never connected to;
//! allow-listed, it is delivered to; a name that turns into a loopback address after create
//! (DNS rebinding, via a test resolver) and an IP-literal URL accepted under an earlier, open
//! policy are refused at connect time, and their records go to the backup bucket with the
//! reason.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weir_firehose::*;
use weir_support::egress::EgressPolicy;
// A real HTTP endpoint on 127.0.0.1 that counts every TCP connection it accepts and keeps the
// records it was sent.
use weir_testkit::FirehoseEndpoint as Endpoint;

mod common;
use common::WAIT;

/// Names mapped to addresses by the test; changed between create and delivery.
#[derive(Default)]
struct MapLookup(Mutex<HashMap<String, Vec<IpAddr>>>);

impl MapLookup {
    fn set(&self, host: &str, ip: &str) {
        let ip = ip.parse().expect("test address");
        weir_support::lock(&self.0).insert(host.to_owned(), vec![ip]);
    }
}

impl Lookup for MapLookup {
    fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        weir_support::lock(&self.0)
            .get(host)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"))
    }
}

fn config(dir: &Path, egress: Egress) -> FirehoseConfig {
    let mut c = common::config(dir);
    c.egress = egress;
    c
}

/// An HTTP endpoint stream to `url`, one attempt per request (a refusal goes to the backup
/// bucket at once).
fn request(name: &str, url: &str) -> CreateRequest {
    let mut req = common::request(name, common::s3(None, Some("errors/")));
    req.destination = DeliveryDestination::HttpEndpoint {
        backup: common::s3(None, Some("errors/")),
        endpoint: HttpDestination {
            url: url.into(),
            name: None,
            access_key: None,
            gzip: false,
            common_attributes: BTreeMap::new(),
            retry_s: 0,
            buffering: Buffering {
                size_mib: 1,
                interval_s: 0,
            },
            backup_all: false,
        },
    };
    req
}

fn put(fh: &Firehose, name: &str, recs: &[&[u8]]) {
    let recs: Vec<Vec<u8>> = recs.iter().map(|r| r.to_vec()).collect();
    let (out, _) = fh.put(name, &recs).expect("put");
    assert!(out.iter().all(|o| matches!(o, RecordPutOutcome::Ok { .. })));
}

/// The error records in the backup bucket, once there are `n`.
fn backup_errors(dir: &Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut lines = Vec::new();
        let mut stack: Vec<PathBuf> = vec![dir.join("s3/bkt")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                if p.is_dir() {
                    stack.push(p);
                } else if !name.contains('#') && !name.contains(".tmp") {
                    let body = std::fs::read(&p).unwrap_or_default();
                    for l in body.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
                        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(l) {
                            lines.push(v);
                        }
                    }
                }
            }
        }
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} error records",
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn invalid_argument(r: Result<String, FirehoseError>) -> String {
    match r {
        Err(FirehoseError::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgumentException, got {other:?}"),
    }
}

#[test]
fn a_loopback_endpoint_is_refused_at_create_and_never_reached() {
    let ep = Endpoint::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let fh =
        Firehose::open(config(dir.path(), Egress::default()), rt.handle().clone()).expect("open");
    let url = format!("http://127.0.0.1:{}/", ep.port);
    let m = invalid_argument(fh.create(request("lo", &url)));
    assert!(
        m.contains(&url)
            && m.contains("127.0.0.1 is a loopback address in 127.0.0.0/8")
            && m.contains("[firehose] allow_private_endpoints = true"),
        "{m}"
    );
    for url in [
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        format!("http://[::ffff:127.0.0.1]:{}/", ep.port),
        format!("http://2130706433:{}/", ep.port),
        "http://10.0.0.1/".to_owned(),
        "http://[fd00:ec2::254]/".to_owned(),
    ] {
        let m = invalid_argument(fh.create(request("lo", &url)));
        assert!(m.contains("allow_private_endpoints"), "{url}: {m}");
    }
    assert!(matches!(fh.describe("lo"), Err(FirehoseError::NotFound(_))));
    assert_eq!(ep.hits(), 0, "the refused endpoint was connected to");
}

#[test]
fn an_allow_listed_loopback_endpoint_is_delivered_to() {
    let ep = Endpoint::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let policy = EgressPolicy::new(false, vec!["127.0.0.1/32".parse().expect("entry")]);
    let fh =
        Firehose::open(config(dir.path(), Egress::new(policy)), rt.handle().clone()).expect("open");
    fh.create(request("lo", &format!("http://127.0.0.1:{}/", ep.port)))
        .expect("an allow-listed endpoint is accepted");
    // The allow-list names 127.0.0.1 only.
    invalid_argument(fh.create(request("lo2", &format!("http://127.0.0.2:{}/", ep.port))));
    put(&fh, "lo", &[b"one", b"two"]);
    let deadline = Instant::now() + WAIT;
    while ep.records().len() < 2 {
        assert!(Instant::now() < deadline, "nothing delivered");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(ep.records(), vec![b"one".to_vec(), b"two".to_vec()]);
}

#[test]
fn a_name_rebound_to_loopback_after_create_is_refused_at_connect() {
    let ep = Endpoint::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dns = Arc::new(MapLookup::default());
    dns.set("rebind.test", "8.8.8.8");
    let egress = Egress::default().with_lookup(dns.clone());
    let fh = Firehose::open(config(dir.path(), egress), rt.handle().clone()).expect("open");
    let url = format!("http://rebind.test:{}/", ep.port);
    fh.create(request("rb", &url)).expect("public when created");
    // A name that resolves to loopback now is refused at create...
    dns.set("now-inside.test", "127.0.0.1");
    let m = invalid_argument(fh.create(request(
        "in",
        &format!("http://now-inside.test:{}/", ep.port),
    )));
    assert!(
        m.contains(
            "now-inside.test resolves only to refused addresses: 127.0.0.1 is a loopback address"
        ),
        "{m}"
    );
    // UpdateDestination checks the merged URL as create does, and keeps the old one.
    let err = fh
        .update_destination("rb", "1", DESTINATION_ID, |spec| {
            if let DeliveryDestination::HttpEndpoint { endpoint, .. } = &mut spec.destination {
                endpoint.url = "http://169.254.169.254/latest/meta-data/".into();
            }
            Ok(())
        })
        .expect_err("the metadata service");
    assert!(
        matches!(&err, FirehoseError::InvalidArgument(m) if m.contains("cloud metadata service")),
        "{err}"
    );
    let d = fh.describe("rb").expect("describe");
    let DeliveryDestination::HttpEndpoint { endpoint, .. } = d.spec.destination else {
        panic!("an HTTP endpoint stream: {:?}", d.spec.destination);
    };
    assert_eq!(endpoint.url, url);
    // ...and one that turns into loopback afterwards is refused when delivery connects.
    dns.set("rebind.test", "127.0.0.1");
    put(&fh, "rb", &[b"secret"]);
    let errors = backup_errors(dir.path(), 1);
    let e = &errors[0];
    assert_eq!(e["errorCode"], "HttpEndpoint.ConnectionFailed", "{e}");
    let msg = e["errorMessage"].as_str().unwrap_or_default();
    assert!(
        msg.contains(&url)
            && msg.contains("refused by the egress policy")
            && msg.contains("rebind.test resolves only to refused addresses: 127.0.0.1 is a loopback address in 127.0.0.0/8")
            && msg.contains("allowed_endpoints"),
        "{msg}"
    );
    assert_eq!(ep.hits(), 0, "the rebound name reached loopback");
}

#[test]
fn an_ip_literal_accepted_under_an_open_policy_is_refused_once_it_closes() {
    let ep = Endpoint::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let url = format!("http://127.0.0.1:{}/", ep.port);
    {
        let open = Egress::new(EgressPolicy::allow_all());
        let fh = Firehose::open(config(dir.path(), open), rt.handle().clone()).expect("open");
        fh.create(request("lo", &url)).expect("allowed then");
    }
    let fh =
        Firehose::open(config(dir.path(), Egress::default()), rt.handle().clone()).expect("reopen");
    put(&fh, "lo", &[b"a", b"b"]);
    let errors = backup_errors(dir.path(), 2);
    for e in &errors {
        let msg = e["errorMessage"].as_str().unwrap_or_default();
        assert!(
            msg.contains("refused by the egress policy: 127.0.0.1 is a loopback address"),
            "{msg}"
        );
    }
    assert_eq!(ep.hits(), 0, "the closed policy let a connection through");
}
