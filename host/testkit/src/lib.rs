//! What every Weir test suite needs to find and bind, in one place: the repository root, the
//! seed data, the plugin components `cargo xtask plugins` built, a free loopback port, the
//! seed rows as the device's JSON, the files under a folder, and the small HTTP servers tests
//! talk to (one request; a Firehose HTTP endpoint). Tests only (a dev-dependency everywhere).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The repository root (this crate lives in `host/testkit`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The seed data folder shipped in the repository.
pub fn data_dir() -> PathBuf {
    repo_root().join("examples/speeding/data")
}

/// Where `cargo xtask plugins` put the components (`WEIR_PLUGIN_DIR` overrides).
pub fn plugin_dir() -> PathBuf {
    std::env::var_os("WEIR_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/plugins"))
}

/// The path of a built plugin component. Panics with the command to run when it is missing, so
/// a test never passes by skipping its plugin.
pub fn plugin_path(name: &str) -> PathBuf {
    let path = plugin_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask plugins` (or `cargo xtask test`) first",
        path.display()
    );
    path
}

/// A loopback port nothing listens on right now (bound, read, released: another process could
/// take it in between, which a test's readiness wait then reports).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free loopback port")
}

/// Every file below `root` (folders walked, not listed), sorted. A folder that cannot be read
/// (gone meanwhile, or `root` missing) adds nothing: tests poll folders a host is writing.
pub fn file_paths(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every file below `root` with its bytes, by path relative to `root`. A file gone before it
/// was read (a store's staging file renamed meanwhile) is left out.
pub fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    file_paths(root)
        .into_iter()
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            let rel = p.strip_prefix(root).expect("under root");
            Some((rel.display().to_string(), bytes))
        })
        .collect()
}

/// A test's one-request HTTP server: accepts one connection on `listener`, reads one request,
/// writes `response` (status line, headers and body, as sent) and returns the request line, the
/// headers (names lower-case) and the body.
pub fn serve_one_request(
    listener: std::net::TcpListener,
    response: &str,
) -> (String, Vec<(String, String)>, Vec<u8>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let (stream, _) = listener.accept().expect("accept");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("request line");
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).expect("header");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').expect("a header");
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().expect("length"))
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).expect("body");
    let mut out = stream;
    out.write_all(response.as_bytes()).expect("answer");
    (line.trim_end().to_owned(), headers, body)
}

/// A Firehose HTTP endpoint destination on 127.0.0.1: counts every TCP connection it accepts
/// (a refused destination must make none), keeps the records it is sent and answers Firehose's
/// success response, one request per connection.
pub struct FirehoseEndpoint {
    /// The port it listens on, for URLs through other names of this host.
    pub port: u16,
    connections: Arc<AtomicUsize>,
    records: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl FirehoseEndpoint {
    pub fn start() -> FirehoseEndpoint {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let records = Arc::new(Mutex::new(Vec::new()));
        let (c, r) = (connections.clone(), records.clone());
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                c.fetch_add(1, Ordering::SeqCst);
                let r = r.clone();
                std::thread::spawn(move || serve_firehose_request(s, &r));
            }
        });
        FirehoseEndpoint {
            port,
            connections,
            records,
        }
    }

    /// `http://127.0.0.1:PORT/ingest`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/ingest", self.port)
    }

    /// The connections accepted so far.
    pub fn hits(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The records received so far, in order.
    pub fn records(&self) -> Vec<Vec<u8>> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// One request: read it, keep its records, answer with its requestId.
fn serve_firehose_request(s: std::net::TcpStream, records: &Mutex<Vec<Vec<u8>>>) {
    use base64::Engine as _;
    let mut r = BufReader::new(s);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    if r.read_exact(&mut body).is_err() {
        return;
    }
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    for rec in doc["records"].as_array().into_iter().flatten() {
        let data = base64::engine::general_purpose::STANDARD
            .decode(rec["data"].as_str().unwrap_or_default())
            .unwrap_or_default();
        records.lock().unwrap_or_else(|p| p.into_inner()).push(data);
    }
    let reply = serde_json::json!({"requestId": doc["requestId"], "timestamp": 1}).to_string();
    let mut s = r.into_inner();
    let _ = write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
}

/// The fixed `iottimestamp` of [`seed_payloads`], so runs compare.
pub const SEED_TIMESTAMP: &str = "2026-11-24 06:00:12.123456";

/// Every row of the seed's `speeding_data.csv` as the device's JSON payload: `iottimestamp`
/// first, then every column, all values strings.
pub fn seed_payloads() -> Vec<serde_json::Value> {
    let path = data_dir().join("speeding_data.csv");
    let mut reader = csv::Reader::from_path(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let headers = reader.headers().expect("speeding_data.csv header").clone();
    reader
        .records()
        .map(|row| {
            let row = row.expect("speeding_data.csv row");
            let mut m = serde_json::Map::new();
            m.insert("iottimestamp".into(), SEED_TIMESTAMP.into());
            for (h, v) in headers.iter().zip(row.iter()) {
                m.insert(h.to_string(), v.into());
            }
            serde_json::Value::Object(m)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locators_point_into_this_repository() {
        assert!(repo_root().join("Cargo.toml").is_file());
        assert!(data_dir().join("driver_data.csv").is_file());
        let rows = seed_payloads();
        assert_eq!(rows.len(), 1000, "speeding_data.csv rows");
        assert_eq!(rows[0]["iottimestamp"], SEED_TIMESTAMP);
        assert!(rows.iter().all(|r| r["speed"].is_string()));
        assert_ne!(free_port(), 0);
    }
}
